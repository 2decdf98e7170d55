package agent

import (
	"image"

	"assist/protocol"
)

// tileCache mirrors one rep's tile cache (protocol/cache.go): which tile
// content each slot holds, by the content hash of its exact pixels, and
// whether the rep got it lossy (then a hit is lossy too, and is refined
// like any lossy tile, knowing what it cost: settling need not encode it
// again to find out).
type tileCache struct {
	hash  [protocol.CacheSlots]uint64
	size  [protocol.CacheSlots]image.Point
	q     [protocol.CacheSlots]uint8   // 0: exact; else the JPEG quality
	cost  [protocol.CacheSlots]float32 // lossy: its share of the JPEG's bytes (0: unknown)
	used  [protocol.CacheSlots]bool
	where map[uint64]int
	next  int
}

func newTileCache() *tileCache { return &tileCache{where: map[uint64]int{}} }

// reset empties the cache, as a ScreenInfo does on the rep's side.
func (c *tileCache) reset() {
	c.used = [protocol.CacheSlots]bool{}
	clear(c.where)
	c.next = 0
}

// lookup finds a slot holding content h of the given size: its quality
// and, when lossy, what it cost as it went out.
func (c *tileCache) lookup(h uint64, size image.Point) (slot, q int, cost float32, ok bool) {
	slot, ok = c.where[h]
	if !ok || !c.used[slot] || c.hash[slot] != h || c.size[slot] != size {
		return 0, 0, 0, false
	}
	return slot, int(c.q[slot]), c.cost[slot], true
}

// store records what the rep stores in its next slot.
func (c *tileCache) store(h uint64, size image.Point, q int, cost float32) {
	s := c.next
	if c.used[s] && c.where[c.hash[s]] == s {
		delete(c.where, c.hash[s])
	}
	c.hash[s], c.size[s], c.q[s], c.cost[s], c.used[s] = h, size, uint8(q), cost, true
	c.where[h] = s
	c.next = (s + 1) % protocol.CacheSlots
}
