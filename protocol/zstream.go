package protocol

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
)

// EncZlib: [u32 rawLen] then the next segment of the screen channel's one
// deflate stream (raw deflate, RFC 1951; each segment ends with a sync
// flush), which inflates to exactly rawLen bytes: [u8 n-1] [n x R G B]
// [indexes into that palette, packed 1, 2, 4 or 8 bits per pixel for n up
// to 2, 4, 16 or 256, most significant bits first, each row starting on a
// byte]. The stream spans the whole channel, so text seen before (the same
// glyphs on another line, a line scrolled back) costs a back-reference:
// what ZRLE's one zlib stream does for VNC. A ScreenInfo message restarts
// the stream on both sides.
const EncZlib byte = 6

// maxPalettePayload bounds a palette payload of w*h pixels.
func maxPalettePayload(w, h int) int { return 1 + 3*256 + w*h }

// PaletteBits is the bits per index for a palette of n colours.
func PaletteBits(n int) int {
	switch {
	case n <= 2:
		return 1
	case n <= 4:
		return 2
	case n <= 16:
		return 4
	default:
		return 8
	}
}

// AppendPalettePayload appends the payload of an EncZlib rectangle: the
// palette (1 to 256 RGB colours) and w*h indexes (one byte each in idx,
// row by row), packed.
func AppendPalettePayload(dst []byte, palette [][3]byte, idx []uint8, w, h int) []byte {
	dst = append(dst, byte(len(palette)-1))
	for _, c := range palette {
		dst = append(dst, c[0], c[1], c[2])
	}
	bits := PaletteBits(len(palette))
	if bits == 8 {
		return append(dst, idx[:w*h]...)
	}
	per := 8 / bits
	for y := 0; y < h; y++ {
		row := idx[y*w : (y+1)*w]
		for x := 0; x < w; x += per {
			var b byte
			for k := 0; k < per; k++ {
				b <<= bits
				if x+k < w {
					b |= row[x+k]
				}
			}
			dst = append(dst, b)
		}
	}
	return dst
}

// ZEncoder is the sending end of a screen channel's deflate stream. Not
// safe for concurrent use.
type ZEncoder struct {
	w   *flate.Writer
	out bytes.Buffer
}

// NewZEncoder returns an encoder at the given flate level.
func NewZEncoder(level int) (*ZEncoder, error) {
	z := &ZEncoder{}
	w, err := flate.NewWriter(&z.out, level)
	if err != nil {
		return nil, fmt.Errorf("protocol: deflate: %w", err)
	}
	z.w = w
	return z, nil
}

// Reset restarts the stream (send a ScreenInfo first: it tells the
// receiver to restart too).
func (z *ZEncoder) Reset() {
	z.out.Reset()
	z.w.Reset(&z.out)
}

// Rect compresses payload (from AppendPalettePayload) onto the stream as an
// EncZlib rectangle at r. Once Rect returned, the rectangle must be sent:
// the stream has moved on.
func (z *ZEncoder) Rect(r image.Rectangle, payload []byte) (Rect, error) {
	z.out.Reset()
	z.out.Write(binary.BigEndian.AppendUint32(nil, uint32(len(payload))))
	if _, err := z.w.Write(payload); err != nil {
		return Rect{}, fmt.Errorf("protocol: deflate: %w", err)
	}
	if err := z.w.Flush(); err != nil {
		return Rect{}, fmt.Errorf("protocol: deflate: %w", err)
	}
	return Rect{X: r.Min.X, Y: r.Min.Y, W: r.Dx(), H: r.Dy(), Enc: EncZlib, Data: bytes.Clone(z.out.Bytes())}, nil
}

// Decoder applies rectangles of every encoding, keeping the state that
// EncZlib needs across messages: one Decoder per screen channel, Reset at
// every ScreenInfo. Not safe for concurrent use.
type Decoder struct {
	in    chunks
	fr    io.ReadCloser
	err   error // the stream broke: every EncZlib rect fails until Reset
	buf   []byte
	cache tileCache
}

// chunks is the compressed bytes received and not yet inflated.
type chunks struct{ b []byte }

func (c *chunks) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, errStreamShort
	}
	n := copy(p, c.b)
	c.b = c.b[n:]
	return n, nil
}

func (c *chunks) ReadByte() (byte, error) {
	if len(c.b) == 0 {
		return 0, errStreamShort
	}
	b := c.b[0]
	c.b = c.b[1:]
	return b, nil
}

var errStreamShort = errors.New("deflate segment shorter than its length says")

// Reset restarts the stream, as a ScreenInfo does.
func (d *Decoder) Reset() {
	d.in.b = nil
	d.err = nil
	d.cache.reset()
	if d.fr != nil {
		d.fr.(flate.Resetter).Reset(&d.in, nil)
	}
}

// Apply draws r onto dst (the whole picture): EncZlib through the stream,
// EncCached from the tile cache, every other encoding as Rect.Draw does; and
// stores r's tiles when the cache rule says so. A rectangle outside dst, or
// one that does not decode, is an error and leaves dst unchanged (but a
// broken EncZlib segment breaks the stream until Reset).
func (d *Decoder) Apply(dst *image.RGBA, r Rect) error {
	if err := d.apply(dst, r); err != nil {
		return err
	}
	d.cache.store(dst, r)
	return nil
}

func (d *Decoder) apply(dst *image.RGBA, r Rect) error {
	if r.Enc == EncCached {
		if err := r.check(); err != nil {
			return err
		}
		b := dst.Bounds()
		if r.X < b.Min.X || r.Y < b.Min.Y || r.X+r.W > b.Max.X || r.Y+r.H > b.Max.Y {
			return fmt.Errorf("%w: rect %dx%d+%d+%d outside screen %v", ErrMalformed, r.W, r.H, r.X, r.Y, b)
		}
		return d.cache.draw(dst, r)
	}
	if r.Enc != EncZlib {
		return r.Draw(dst)
	}
	if err := r.check(); err != nil {
		return err
	}
	b := dst.Bounds()
	if r.X < b.Min.X || r.Y < b.Min.Y || r.X+r.W > b.Max.X || r.Y+r.H > b.Max.Y {
		return fmt.Errorf("%w: rect %dx%d+%d+%d outside screen %v", ErrMalformed, r.W, r.H, r.X, r.Y, b)
	}
	if d.err != nil {
		return fmt.Errorf("%w: deflate stream broken earlier (%v)", ErrMalformed, d.err)
	}
	raw := int(binary.BigEndian.Uint32(r.Data))
	if raw < 4 || raw > maxPalettePayload(r.W, r.H) {
		return fmt.Errorf("%w: zlib rect of %dx%d claims %d bytes", ErrMalformed, r.W, r.H, raw)
	}
	d.in.b = r.Data[4:]
	if d.fr == nil {
		d.fr = flate.NewReader(&d.in)
	}
	d.buf = grow(d.buf, raw)
	if _, err := io.ReadFull(d.fr, d.buf); err != nil {
		d.err = err
		return fmt.Errorf("%w: zlib rect: %v", ErrMalformed, err)
	}
	if len(d.in.b) != 0 {
		// Unread input would be lost: what the rest says is unknown.
		d.err = fmt.Errorf("%d bytes after the segment's data", len(d.in.b))
		return fmt.Errorf("%w: zlib rect: %v", ErrMalformed, d.err)
	}
	return drawPalette(dst, r, d.buf)
}

// drawPalette draws a palette payload (checked here) onto dst.
func drawPalette(dst *image.RGBA, r Rect, p []byte) error {
	n := int(p[0]) + 1
	bits := PaletteBits(n)
	rowBytes := (r.W*bits + 7) / 8
	if len(p) != 1+3*n+rowBytes*r.H {
		return fmt.Errorf("%w: palette payload of %d bytes for %d colours in %dx%d", ErrMalformed, len(p), n, r.W, r.H)
	}
	pal := p[1 : 1+3*n]
	idx := p[1+3*n:]
	mask := byte(1<<bits - 1)
	at := func(row []byte, x int) int {
		bit := x * bits
		return int(row[bit/8]>>(8-bits-bit%8)) & int(mask)
	}
	if n < 1<<bits { // an index past the palette is possible: check first
		for y := 0; y < r.H; y++ {
			row := idx[y*rowBytes:]
			for x := 0; x < r.W; x++ {
				if i := at(row, x); i >= n {
					return fmt.Errorf("%w: palette index %d of %d", ErrMalformed, i, n)
				}
			}
		}
	}
	for y := 0; y < r.H; y++ {
		row := idx[y*rowBytes:]
		out := dst.Pix[dst.PixOffset(r.X, r.Y+y):]
		for x := 0; x < r.W; x++ {
			c := pal[3*at(row, x):]
			out[4*x], out[4*x+1], out[4*x+2], out[4*x+3] = c[0], c[1], c[2], 0xff
		}
	}
	return nil
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}
