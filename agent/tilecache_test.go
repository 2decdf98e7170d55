package agent

import (
	"image"
	"testing"

	"assist/protocol"
)

func TestTileCacheMirror(t *testing.T) {
	tile := image.Pt(64, 64)
	tests := []struct {
		name     string
		fill     func(c *tileCache)
		hash     uint64
		size     image.Point
		wantOK   bool
		wantSlot int
		wantQ    int
		wantCost float32
	}{
		{"lossy tile keeps its quality and its share of the JPEG", func(c *tileCache) {
			c.store(1, tile, 0, 0)
			c.store(2, tile, 75, 412.5)
		}, 2, tile, true, 1, 75, 412.5},
		{"exact tile", func(c *tileCache) { c.store(7, tile, 0, 0) }, 7, tile, true, 0, 0, 0},
		{"same content, other size: a miss", func(c *tileCache) { c.store(7, tile, 0, 0) }, 7, image.Pt(64, 10), false, 0, 0, 0},
		{"unknown content", func(c *tileCache) { c.store(7, tile, 0, 0) }, 8, tile, false, 0, 0, 0},
		{"a slot reused forgets what it held", func(c *tileCache) {
			for i := range protocol.CacheSlots + 1 {
				c.store(uint64(100+i), tile, 60, 1)
			}
		}, 100, tile, false, 0, 0, 0},
		{"the newest content of a reused slot", func(c *tileCache) {
			for i := range protocol.CacheSlots + 1 {
				c.store(uint64(100+i), tile, 60, float32(i))
			}
		}, uint64(100 + protocol.CacheSlots), tile, true, 0, 60, float32(protocol.CacheSlots)},
		{"after a reset nothing hits", func(c *tileCache) {
			c.store(3, tile, 75, 9)
			c.reset()
		}, 3, tile, false, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newTileCache()
			tc.fill(c)
			slot, q, cost, ok := c.lookup(tc.hash, tc.size)
			if ok != tc.wantOK || ok && (slot != tc.wantSlot || q != tc.wantQ || cost != tc.wantCost) {
				t.Fatalf("lookup = slot %d q %d cost %v ok %v, want slot %d q %d cost %v ok %v",
					slot, q, cost, ok, tc.wantSlot, tc.wantQ, tc.wantCost, tc.wantOK)
			}
		})
	}
}

func TestShareBytes(t *testing.T) {
	for _, tc := range []struct {
		cost float32
		want int
	}{{0, 0}, {-1, 0}, {0.2, 1}, {1.4, 1}, {1.5, 2}, {412.5, 413}} {
		if got := shareBytes(tc.cost); got != tc.want {
			t.Errorf("shareBytes(%v) = %d, want %d", tc.cost, got, tc.want)
		}
	}
}
