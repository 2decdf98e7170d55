package protocol

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
)

// Screen message kinds beyond the pixels: the cursor travels apart from
// them, so a moving mouse costs a few bytes and no tiles.
const (
	// ScreenCursor: [4][u8 flags][u16 x][u16 y]. Where the pointer's hotspot
	// is on the picture; flags bit 0 set means the pointer is on the shared
	// picture and visible.
	ScreenCursor byte = 4
	// ScreenCursorShape: [5][u16 hotX][u16 hotY] then an RGBA PNG (straight
	// alpha) of at most MaxCursorSize pixels a side: the pointer's new
	// shape. The hotspot lies inside the image.
	ScreenCursorShape byte = 5
	// ScreenQuality: [6][u8 quality][u8 fps][u32 bytes/s][u16 rtt ms]. The
	// agent's current choices for this rep: the JPEG quality of photo-like
	// areas (1-100), the highest frame rate, and what it measured of the
	// link (throughput and round-trip time; 0 when unknown).
	ScreenQuality byte = 6
)

// FrameRefining is the ScreenFrameEnd flag saying that lossy areas of the
// picture will be refined.
const FrameRefining byte = 1

// AppendFrameEndFlags appends a ScreenFrameEnd message with flags to dst.
func AppendFrameEndFlags(dst []byte, seq uint32, refining bool) []byte {
	dst = AppendFrameEnd(dst, seq)
	if refining {
		return append(dst, FrameRefining)
	}
	return append(dst, 0)
}

// MaxCursorSize bounds a cursor image's width and height.
const MaxCursorSize = 256

// Cursor is a decoded ScreenCursor or ScreenCursorShape message.
type Cursor struct {
	Visible    bool   // ScreenCursor
	X, Y       int    // ScreenCursor: the hotspot on the picture
	HotX, HotY int    // ScreenCursorShape
	PNG        []byte // ScreenCursorShape; aliases the decoded buffer
}

// Quality is a decoded ScreenQuality message.
type Quality struct {
	Quality     int // JPEG quality 1-100
	FPS         int // frame-rate cap
	BytesPerSec int // measured throughput, 0 when unknown
	RTTms       int // measured round trip, 0 when unknown
}

// AppendCursor appends a ScreenCursor message to dst.
func AppendCursor(dst []byte, visible bool, x, y int) []byte {
	var flags byte
	if visible {
		flags = 1
	}
	dst = append(dst, ScreenCursor, flags)
	dst = binary.BigEndian.AppendUint16(dst, uint16(clampU16(x)))
	return binary.BigEndian.AppendUint16(dst, uint16(clampU16(y)))
}

// AppendCursorShape appends a ScreenCursorShape message to dst; pngData is
// the cursor image encoded as PNG.
func AppendCursorShape(dst []byte, hotX, hotY int, pngData []byte) []byte {
	dst = append(dst, ScreenCursorShape)
	dst = binary.BigEndian.AppendUint16(dst, uint16(clampU16(hotX)))
	dst = binary.BigEndian.AppendUint16(dst, uint16(clampU16(hotY)))
	return append(dst, pngData...)
}

// AppendQuality appends a ScreenQuality message to dst.
func AppendQuality(dst []byte, q Quality) []byte {
	dst = append(dst, ScreenQuality, byte(min(max(q.Quality, 1), 100)), byte(min(max(q.FPS, 0), 255)))
	dst = binary.BigEndian.AppendUint32(dst, uint32(min(max(q.BytesPerSec, 0), 1<<32-1)))
	return binary.BigEndian.AppendUint16(dst, uint16(clampU16(q.RTTms)))
}

func clampU16(v int) int { return min(max(v, 0), 0xffff) }

// CopyRect returns an EncCopy rectangle moving the pixels at src
// to dst.
func CopyRect(dst image.Rectangle, src image.Point) Rect {
	data := binary.BigEndian.AppendUint16(nil, uint16(src.X))
	data = binary.BigEndian.AppendUint16(data, uint16(src.Y))
	return Rect{X: dst.Min.X, Y: dst.Min.Y, W: dst.Dx(), H: dst.Dy(), Enc: EncCopy, Data: data}
}

// CopySource returns where an EncCopy rectangle copies from.
func (r Rect) CopySource() (image.Point, error) {
	if r.Enc != EncCopy || len(r.Data) != 4 {
		return image.Point{}, fmt.Errorf("%w: not a copy rect", ErrMalformed)
	}
	return image.Pt(int(binary.BigEndian.Uint16(r.Data)), int(binary.BigEndian.Uint16(r.Data[2:]))), nil
}

// decodeExt decodes the cursor and quality kinds; p follows the kind byte.
func (m *ScreenMsg) decodeExt(p []byte) error {
	switch m.Kind {
	case ScreenCursor:
		if len(p) != 5 || p[0]&^1 != 0 {
			return fmt.Errorf("%w: cursor message of %d bytes", ErrMalformed, len(p)+1)
		}
		m.Cursor = Cursor{Visible: p[0]&1 == 1, X: int(binary.BigEndian.Uint16(p[1:])), Y: int(binary.BigEndian.Uint16(p[3:]))}
	case ScreenCursorShape:
		if len(p) < 5 {
			return fmt.Errorf("%w: cursor shape of %d bytes", ErrMalformed, len(p)+1)
		}
		m.Cursor = Cursor{HotX: int(binary.BigEndian.Uint16(p)), HotY: int(binary.BigEndian.Uint16(p[2:])), PNG: p[4:len(p):len(p)]}
		cfg, err := png.DecodeConfig(bytes.NewReader(m.Cursor.PNG))
		if err != nil {
			return fmt.Errorf("%w: cursor shape: %v", ErrMalformed, err)
		}
		if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxCursorSize || cfg.Height > MaxCursorSize ||
			m.Cursor.HotX >= cfg.Width || m.Cursor.HotY >= cfg.Height {
			return fmt.Errorf("%w: cursor of %dx%d with hotspot %d,%d", ErrMalformed, cfg.Width, cfg.Height, m.Cursor.HotX, m.Cursor.HotY)
		}
	case ScreenQuality:
		if len(p) != 8 {
			return fmt.Errorf("%w: quality message of %d bytes", ErrMalformed, len(p)+1)
		}
		m.Quality = Quality{Quality: int(p[0]), FPS: int(p[1]), BytesPerSec: int(binary.BigEndian.Uint32(p[2:])), RTTms: int(binary.BigEndian.Uint16(p[6:]))}
		if m.Quality.Quality < 1 || m.Quality.Quality > 100 {
			return fmt.Errorf("%w: quality %d", ErrMalformed, m.Quality.Quality)
		}
	}
	return nil
}

// CursorImage decodes a cursor shape's PNG into straight-alpha RGBA.
func (c Cursor) CursorImage() (*image.NRGBA, error) {
	img, err := png.Decode(bytes.NewReader(c.PNG))
	if err != nil {
		return nil, fmt.Errorf("%w: cursor shape: %v", ErrMalformed, err)
	}
	b := img.Bounds()
	if b.Dx() > MaxCursorSize || b.Dy() > MaxCursorSize {
		return nil, fmt.Errorf("%w: cursor of %v", ErrMalformed, b)
	}
	out := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Rect, img, b.Min, draw.Src)
	return out, nil
}

// checkExt validates the JPEG and copy encodings' payload sizes.
func (r Rect) checkExt() error {
	switch r.Enc {
	case EncJPEG:
		if len(r.Data) == 0 {
			return fmt.Errorf("%w: empty jpeg rect", ErrMalformed)
		}
	case EncCopy:
		if len(r.Data) != 4 {
			return fmt.Errorf("%w: copy rect with %d bytes", ErrMalformed, len(r.Data))
		}
	}
	return nil
}

// drawJPEG decodes an EncJPEG rectangle onto dst (bounds already checked).
func (r Rect) drawJPEG(dst *image.RGBA) error {
	img, err := r.decodeSized("jpeg", jpeg.DecodeConfig, jpeg.Decode)
	if err != nil {
		return err
	}
	dr := image.Rect(r.X, r.Y, r.X+r.W, r.Y+r.H)
	draw.Draw(dst, dr, img, img.Bounds().Min, draw.Src)
	for y := dr.Min.Y; y < dr.Max.Y; y++ { // gray JPEGs and the like: keep it opaque
		row := dst.Pix[dst.PixOffset(dr.Min.X, y):dst.PixOffset(dr.Max.X, y)]
		for i := 3; i < len(row); i += 4 {
			row[i] = 0xff
		}
	}
	return nil
}

// drawCopy applies an EncCopy rectangle within dst (destination bounds
// already checked). Overlapping areas copy as if through a temporary.
func (r Rect) drawCopy(dst *image.RGBA) error {
	src, err := r.CopySource()
	if err != nil {
		return err
	}
	b := dst.Bounds()
	if src.X < b.Min.X || src.Y < b.Min.Y || src.X+r.W > b.Max.X || src.Y+r.H > b.Max.Y {
		return fmt.Errorf("%w: copy source %dx%d+%d+%d outside screen %v", ErrMalformed, r.W, r.H, src.X, src.Y, b)
	}
	n := 4 * r.W
	row := func(y int) {
		so := dst.PixOffset(src.X, src.Y+y)
		copy(dst.Pix[dst.PixOffset(r.X, r.Y+y):][:n], dst.Pix[so:so+n]) // copy is memmove
	}
	if src.Y >= r.Y { // moving up (or sideways): top rows first
		for y := 0; y < r.H; y++ {
			row(y)
		}
	} else {
		for y := r.H - 1; y >= 0; y-- {
			row(y)
		}
	}
	return nil
}
