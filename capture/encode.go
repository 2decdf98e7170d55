package capture

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"

	"assist/protocol"
)

const (
	// rectHeaderSize is what protocol.RectSize adds to a rectangle's data.
	rectHeaderSize = 2*4 + 1 + 4
	// maxRectSize bounds protocol.RectSize of an encoded rectangle, leaving
	// room for a ScreenRects message's own header.
	maxRectSize = protocol.MaxScreenMessage - 16
	// maxPalette is the most colours a rectangle may have to be sent as a
	// paletted PNG.
	maxPalette = 256
)

// Encoder encodes rectangles losslessly; not safe for concurrent use; reuses
// its scratch buffers.
type Encoder struct {
	png  png.Encoder
	pool onePool
	out  bytes.Buffer

	rgba    image.RGBA     // scratch copy of the rectangle, opaque
	pal     image.Paletted // scratch paletted copy
	colours [maxPalette]color.RGBA
	table   colourTable
	// payload: few-colour rectangles come back as protocol.EncZlib with
	// Data holding the uncompressed palette payload, for the sender to
	// compress onto its channel's stream (ZEncoder.Rect).
	payload bool
}

// NewEncoder returns an Encoder.
func NewEncoder() *Encoder {
	e := &Encoder{}
	e.png.CompressionLevel = png.BestSpeed
	e.png.BufferPool = &e.pool
	e.pal.Palette = make(color.Palette, 0, maxPalette)
	return e
}

// Encode encodes the pixels of img inside r as one rectangle: EncSolid when
// they are all one colour; otherwise a PNG (paletted when there are at most
// 256 colours) or EncRaw, whichever is smaller. Colours are taken as opaque
// (alpha is ignored). The rectangle's X and Y are r's, relative to img's
// top-left corner. The returned Data is freshly allocated. An empty r, one
// not inside img, or one whose encoding would not fit in a screen message
// (protocol.RectSize over protocol.MaxScreenMessage-16) is an error.
func (e *Encoder) Encode(img *image.RGBA, r image.Rectangle) (protocol.Rect, error) {
	out, _, err := e.encode(img, r, 0)
	return out, err
}

// encode is Encode, and EncodeAuto when quality > 0.
func (e *Encoder) encode(img *image.RGBA, r image.Rectangle, quality int) (protocol.Rect, bool, error) {
	out, lossy, err := e.encodeRect(img, r, quality)
	if err != nil {
		return protocol.Rect{}, false, err
	}
	if n := protocol.RectSize(out); n > maxRectSize {
		return protocol.Rect{}, false, fmt.Errorf("capture: a %dx%d rect encodes to %d bytes, over the %d a screen message allows: split it",
			r.Dx(), r.Dy(), n, maxRectSize)
	}
	return out, lossy, nil
}

func (e *Encoder) encodeRect(img *image.RGBA, r image.Rectangle, quality int) (protocol.Rect, bool, error) {
	b := img.Bounds()
	if r.Empty() || !r.In(b) {
		return protocol.Rect{}, false, fmt.Errorf("capture: encode %v of an image of %v", r, b)
	}
	w, h := r.Dx(), r.Dy()
	if w > protocol.MaxDimension || h > protocol.MaxDimension {
		return protocol.Rect{}, false, fmt.Errorf("capture: encode a %dx%d rect: larger than %d", w, h, protocol.MaxDimension)
	}
	out := protocol.Rect{X: r.Min.X - b.Min.X, Y: r.Min.Y - b.Min.Y, W: w, H: h}

	first := binary.LittleEndian.Uint32(img.Pix[img.PixOffset(r.Min.X, r.Min.Y):]) | 0xff000000
	if e.solid(img, r, first) {
		out.Enc = protocol.EncSolid
		out.Data = []byte{byte(first), byte(first >> 8), byte(first >> 16)}
		return out, false, nil
	}
	paletted := e.palettize(img, r)
	if !paletted && quality > 0 {
		return e.jpeg(img, r, out, quality)
	}
	if paletted && e.payload {
		pal := make([][3]byte, len(e.pal.Palette))
		for i := range pal {
			c := e.colours[i]
			pal[i] = [3]byte{c.R, c.G, c.B}
		}
		out.Enc = protocol.EncZlib
		out.Data = protocol.AppendPalettePayload(nil, pal, e.pal.Pix, w, h)
		return out, false, nil
	}
	if !paletted {
		e.copyOpaque(img, r)
	}

	e.out.Reset()
	var err error
	if paletted {
		err = e.png.Encode(&e.out, &e.pal)
	} else {
		err = e.png.Encode(&e.out, &e.rgba)
	}
	if err != nil {
		return protocol.Rect{}, false, fmt.Errorf("capture: png of a %dx%d rect: %w", w, h, err)
	}
	if raw := 3 * w * h; raw <= e.out.Len() {
		out.Enc = protocol.EncRaw
		out.Data = make([]byte, 0, raw)
		for y := r.Min.Y; y < r.Max.Y; y++ {
			row := img.Pix[img.PixOffset(r.Min.X, y):][:4*w]
			for i := 0; i < len(row); i += 4 {
				out.Data = append(out.Data, row[i:i+3]...)
			}
		}
	} else {
		out.Enc = protocol.EncPNG
		out.Data = bytes.Clone(e.out.Bytes())
	}
	return out, false, nil
}

// solid reports whether every pixel of img inside r has colour first
// (alpha ignored). It stops at the first other colour.
func (e *Encoder) solid(img *image.RGBA, r image.Rectangle, first uint32) bool {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Pix[img.PixOffset(r.Min.X, y):][:4*r.Dx()]
		for i := 0; i < len(row); i += 4 {
			if binary.LittleEndian.Uint32(row[i:])|0xff000000 != first {
				return false
			}
		}
	}
	return true
}

// palettize fills e.pal with img's pixels inside r and reports whether they
// have at most maxPalette colours; it stops at the first colour too many.
func (e *Encoder) palettize(img *image.RGBA, r image.Rectangle) bool {
	w, h := r.Dx(), r.Dy()
	e.pal.Rect, e.pal.Stride = image.Rect(0, 0, w, h), w
	e.pal.Pix = grow(e.pal.Pix, w*h)
	e.pal.Palette = e.pal.Palette[:0]
	e.table.reset()
	var last uint32 // alpha 0: no pixel value has it (all are ORed with 0xff000000)
	idx := 0
	for y := 0; y < h; y++ {
		src := img.Pix[img.PixOffset(r.Min.X, r.Min.Y+y):][:4*w]
		dst := e.pal.Pix[y*w:][:w]
		for x := range dst {
			// Runs of one colour, common on screens, skip the lookup.
			if v := binary.LittleEndian.Uint32(src[4*x:]) | 0xff000000; v != last {
				if idx = e.index(v); idx < 0 {
					return false
				}
				last = v
			}
			dst[x] = uint8(idx)
		}
	}
	return true
}

// fewColours reports what palettize does, whether img's pixels inside r
// have at most maxPalette colours, without building the palette: telling a
// photo's tiles from text's (allMany, splitByClass) needs only that.
func (e *Encoder) fewColours(img *image.RGBA, r image.Rectangle) bool {
	e.table.reset()
	n := 0
	var last uint32 // alpha 0: no pixel value has it
	for y := r.Min.Y; y < r.Max.Y; y++ {
		src := img.Pix[img.PixOffset(r.Min.X, y):][:4*r.Dx()]
		for i := 0; i < len(src); i += 4 {
			v := binary.LittleEndian.Uint32(src[i:]) | 0xff000000
			if v == last {
				continue
			}
			last = v
			if _, added := e.table.add(v, n); added {
				if n == maxPalette {
					return false
				}
				n++
			}
		}
	}
	return true
}

// copyOpaque copies img's pixels inside r into e.rgba, alpha 255.
func (e *Encoder) copyOpaque(img *image.RGBA, r image.Rectangle) {
	w, h := r.Dx(), r.Dy()
	e.rgba.Rect, e.rgba.Stride = image.Rect(0, 0, w, h), 4*w
	e.rgba.Pix = grow(e.rgba.Pix, 4*w*h)
	for y := 0; y < h; y++ {
		src := img.Pix[img.PixOffset(r.Min.X, r.Min.Y+y):][:4*w]
		dst := e.rgba.Pix[y*4*w:][:4*w]
		for i := 0; i < len(src); i += 4 {
			binary.LittleEndian.PutUint32(dst[i:], binary.LittleEndian.Uint32(src[i:])|0xff000000)
		}
	}
}

// index returns v's palette index, adding it to the palette, or -1 when the
// palette is full.
func (e *Encoder) index(v uint32) int {
	n := len(e.pal.Palette)
	i, added := e.table.add(v, n)
	if !added {
		return i
	}
	if n == maxPalette {
		return -1 // left in the table: it has room, and palettize stops here
	}
	e.colours[n] = color.RGBA{byte(v), byte(v >> 8), byte(v >> 16), 0xff}
	// A pointer, so that storing it in the interface does not allocate.
	e.pal.Palette = append(e.pal.Palette, &e.colours[n])
	return n
}

// colourTable maps colours to palette indexes: open addressing over twice
// maxPalette slots (room for one colour too many), cleared in O(1) by
// bumping a generation counter.
type colourTable struct {
	gen  uint32
	keys [2 * maxPalette]uint32
	gens [2 * maxPalette]uint32
	vals [2 * maxPalette]uint16
}

func (t *colourTable) reset() {
	t.gen++
	if t.gen == 0 { // wrapped: stale entries could look current
		t.gens = [2 * maxPalette]uint32{}
		t.gen = 1
	}
}

func slot(v uint32) int { return int(v * 0x9e3779b1 >> 23) } // 9 bits

// add returns v's value, inserting n for it when it is not there yet
// (added).
func (t *colourTable) add(v uint32, n int) (val int, added bool) {
	i := slot(v)
	for t.gens[i] == t.gen {
		if t.keys[i] == v {
			return int(t.vals[i]), false
		}
		i = (i + 1) % len(t.keys)
	}
	t.keys[i], t.gens[i], t.vals[i] = v, t.gen, uint16(n)
	return n, true
}

// onePool is a png.EncoderBufferPool holding one buffer: an Encoder is used
// by one goroutine at a time, and reusing the buffer reuses the zlib writer,
// by far the largest allocation of png.Encode.
type onePool struct{ b *png.EncoderBuffer }

func (p *onePool) Get() *png.EncoderBuffer {
	b := p.b
	p.b = nil
	return b
}

func (p *onePool) Put(b *png.EncoderBuffer) { p.b = b }
