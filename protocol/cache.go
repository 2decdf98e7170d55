package protocol

import (
	"encoding/binary"
	"fmt"
	"image"
)

// The tile cache. Both ends keep the last CacheSlots tiles sent, so content
// that comes back (a window closed and reopened, the desktop revealed again,
// the same photo twice) costs a reference, not pixels.
//
// Which tiles are kept is implicit, so that both ends agree without saying
// it: after the receiver applies a rectangle whose encoding is PNG, raw,
// JPEG or zlib and whose bounds lie on the CacheTile grid of the picture
// (x and y multiples of CacheTile; right and bottom edges on the grid or on
// the picture's edge), it stores each grid tile the rectangle covers, row by
// row, into the next slot (slot numbers count up from 0 and wrap at
// CacheSlots). A ScreenInfo empties the cache and restarts the count.
const (
	CacheSlots = 2048
	CacheTile  = 64
	// EncCached: [u16 slot]: the tile stored in slot, drawn at this
	// rectangle, whose size must be that tile's.
	EncCached byte = 7
)

// CachedRect returns an EncCached rectangle drawing slot at r.
func CachedRect(r image.Rectangle, slot int) Rect {
	return Rect{X: r.Min.X, Y: r.Min.Y, W: r.Dx(), H: r.Dy(), Enc: EncCached, Data: binary.BigEndian.AppendUint16(nil, uint16(slot))}
}

// Cacheable reports whether the receiver stores r's tiles (see the cache
// rule above) on a picture of width x height.
func Cacheable(r Rect, width, height int) bool {
	switch r.Enc {
	case EncPNG, EncRaw, EncJPEG, EncZlib:
	default:
		return false
	}
	return r.X%CacheTile == 0 && r.Y%CacheTile == 0 &&
		(r.W%CacheTile == 0 || r.X+r.W == width) && (r.H%CacheTile == 0 || r.Y+r.H == height)
}

// CacheTiles returns the grid tiles of a cacheable rectangle in the order
// they are stored.
func CacheTiles(r Rect) []image.Rectangle {
	var out []image.Rectangle
	for y := r.Y; y < r.Y+r.H; y += CacheTile {
		for x := r.X; x < r.X+r.W; x += CacheTile {
			out = append(out, image.Rect(x, y, min(x+CacheTile, r.X+r.W), min(y+CacheTile, r.Y+r.H)))
		}
	}
	return out
}

// tileCache is the receiving end's cache (part of Decoder).
type tileCache struct {
	slots [][]byte      // RGBA pixels
	size  []image.Point // each slot's tile size
	next  int
}

func (c *tileCache) reset() {
	c.slots, c.size, c.next = nil, nil, 0
}

// store keeps the tiles of r, just drawn on dst.
func (c *tileCache) store(dst *image.RGBA, r Rect) {
	b := dst.Bounds()
	if !Cacheable(r, b.Dx(), b.Dy()) {
		return
	}
	if c.slots == nil {
		c.slots = make([][]byte, CacheSlots)
		c.size = make([]image.Point, CacheSlots)
	}
	for _, t := range CacheTiles(r) {
		px := c.slots[c.next][:0]
		for y := t.Min.Y; y < t.Max.Y; y++ {
			px = append(px, dst.Pix[dst.PixOffset(t.Min.X, y):dst.PixOffset(t.Max.X, y)]...)
		}
		c.slots[c.next], c.size[c.next] = px, t.Size()
		c.next = (c.next + 1) % CacheSlots
	}
}

// draw applies an EncCached rectangle (bounds checked by the caller).
func (c *tileCache) draw(dst *image.RGBA, r Rect) error {
	slot := int(binary.BigEndian.Uint16(r.Data))
	if slot >= CacheSlots || c.slots == nil || c.size[slot] != image.Pt(r.W, r.H) {
		return fmt.Errorf("%w: cached rect %dx%d from slot %d, which holds no such tile", ErrMalformed, r.W, r.H, slot)
	}
	px := c.slots[slot]
	for y := 0; y < r.H; y++ {
		copy(dst.Pix[dst.PixOffset(r.X, r.Y+y):dst.PixOffset(r.X+r.W, r.Y+y)], px[4*r.W*y:4*r.W*(y+1)])
	}
	return nil
}
