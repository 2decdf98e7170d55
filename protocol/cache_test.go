package protocol

import (
	"bytes"
	"image"
	"testing"
)

func TestTileCache(t *testing.T) {
	pic := image.NewRGBA(image.Rect(0, 0, 200, 100)) // edge tiles 8 wide, 36 high
	var dec Decoder
	apply := func(r Rect) error {
		t.Helper()
		m, err := DecodeScreen(AppendRects(nil, []Rect{r}))
		if err != nil {
			return err
		}
		return dec.Apply(pic, m.Rects[0])
	}
	tile := testImage(64, 64)
	edge := testImage(8, 36)
	// Stored: a raw tile (slot 0), a two-tile raw run (slots 1, 2), the
	// bottom-right edge tile (slot 3). Not stored: an unaligned rect, a solid.
	steps := []Rect{
		{X: 0, Y: 0, W: 64, H: 64, Enc: EncRaw, Data: rawOf(tile)},
		{X: 5, Y: 5, W: 8, H: 36, Enc: EncRaw, Data: rawOf(edge)},
		{X: 64, Y: 0, W: 128, H: 64, Enc: EncRaw, Data: append(rawOf(tile), rawOf(tile)...)},
		{X: 0, Y: 64, W: 64, H: 36, Enc: EncSolid, Data: []byte{1, 2, 3}},
		{X: 192, Y: 64, W: 8, H: 36, Enc: EncRaw, Data: rawOf(edge)},
	}
	for i, r := range steps {
		if err := apply(r); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	// Slot 3 (the edge tile) drawn where it fits; slot 0 at another tile.
	if err := apply(CachedRect(image.Rect(192, 0, 200, 36), 3)); err != nil {
		t.Fatal(err)
	}
	if err := apply(CachedRect(image.Rect(128, 0, 192, 64), 0)); err != nil {
		t.Fatal(err)
	}
	for y := 0; y < 64; y++ {
		if !bytes.Equal(pic.Pix[pic.PixOffset(128, y):pic.PixOffset(192, y)], tile.Pix[tile.PixOffset(0, y):tile.PixOffset(64, y)]) {
			t.Fatalf("cached tile row %d differs", y)
		}
	}
	for _, bad := range []Rect{
		CachedRect(image.Rect(0, 0, 64, 64), 3),          // slot 3 holds an 8x36 tile
		CachedRect(image.Rect(0, 0, 64, 64), 4),          // empty
		CachedRect(image.Rect(0, 0, 64, 64), CacheSlots), // out of range
		CachedRect(image.Rect(190, 0, 254, 64), 0),       // outside
	} {
		before := bytes.Clone(pic.Pix)
		if err := dec.Apply(pic, bad); err == nil {
			t.Fatalf("applied %+v", bad)
		}
		if !bytes.Equal(before, pic.Pix) {
			t.Fatal("a refused cached rect changed the picture")
		}
	}
	dec.Reset()
	if err := dec.Apply(pic, CachedRect(image.Rect(0, 0, 64, 64), 0)); err == nil {
		t.Fatal("the cache survived a reset")
	}
	if got := len(CacheTiles(steps[2])); got != 2 || !Cacheable(steps[4], 200, 100) || Cacheable(steps[1], 200, 100) {
		t.Fatal("cache rule")
	}
}
