package protocol

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/png"
	"io"
)

// Screen message kinds: the first byte of every binary message on the
// "screen" data channel. All integers are big-endian.
const (
	// ScreenInfo: [1][u16 width][u16 height]. Sent first and whenever the
	// shared screen's size changes; the receiver resets its picture to black
	// at that size.
	ScreenInfo byte = 1
	// ScreenRects: [2][u16 count] then count rectangles, each
	// [u16 x][u16 y][u16 w][u16 h][u8 encoding][u32 length][length bytes].
	ScreenRects byte = 2
	// ScreenFrameEnd: [3][u32 seq] or [3][u32 seq][u8 flags]. Every
	// rectangle of frame seq has been sent: the receiver's picture now
	// equals the captured frame, exactly except for areas sent lossy. Flags
	// bit 0 (FrameRefining): some of those areas will be refined once they
	// stop changing; without it the picture is settled.
	ScreenFrameEnd byte = 3
	// ScreenRectsEnd: [8][u32 seq][u8 flags] then a whole ScreenRects
	// message: those rectangles, then the ScreenFrameEnd of frame seq
	// (flags as there). Sent instead of the last ScreenRects message and
	// the ScreenFrameEnd of a frame to a peer whose hello lists
	// FeatureFrameInRects: the frame end is no longer a chunk of its own,
	// and a small frame (below SCTP's ~1.1 KB fragment) is one chunk,
	// where two would have the sender probe for a lost tail (pion's RACK
	// sends the last chunk again after 2 x RTT + 2 ms while the receiver
	// delays its acknowledgement up to 200 ms).
	ScreenRectsEnd byte = 8
)

// FeatureFrameInRects, in a rep's hello Features, says it understands
// ScreenRectsEnd.
const FeatureFrameInRects = "frame_in_rects"

// Rectangle encodings.
const (
	// EncSolid: 3 bytes R, G, B filling the whole rectangle.
	EncSolid byte = 1
	// EncPNG: a PNG image exactly w x h pixels (lossless).
	EncPNG byte = 2
	// EncRaw: w*h*3 bytes R, G, B, row by row.
	EncRaw byte = 3
	// EncJPEG: a baseline JPEG image exactly w x h pixels (lossy; the agent
	// refines the area later). See screenext.go.
	EncJPEG byte = 4
	// EncCopy: [u16 srcX][u16 srcY]: copy the w x h pixels at (srcX, srcY)
	// of the picture, as it is before this rectangle, to (x, y). Scrolled
	// and moved content; the two areas may overlap.
	EncCopy byte = 5
)

// MaxDimension bounds a screen's width or height in pixels.
const MaxDimension = 16384

// MaxPixels bounds a screen's area: what a receiver allocates for the
// picture (256 MiB of RGBA) must not be the sender's choice up to 1 GiB.
// Two 8K monitors side by side (15360x4320) fit.
const MaxPixels = 1 << 26

const rectHeader = 2*4 + 1 + 4

// Rect is one encoded rectangle of a ScreenRects message.
type Rect struct {
	X, Y, W, H int
	Enc        byte
	Data       []byte
}

// ScreenMsg is one decoded screen message. Which fields are set depends on Kind.
type ScreenMsg struct {
	Kind          byte
	Width, Height int    // ScreenInfo
	Rects         []Rect // ScreenRects, ScreenRectsEnd; Data aliases the decoded buffer
	Seq           uint32 // ScreenFrameEnd, ScreenRectsEnd
	Serial        uint32 // ScreenResync
	Refining      bool   // ScreenFrameEnd, ScreenRectsEnd: FrameRefining was set
	Cursor        Cursor // ScreenCursor, ScreenCursorShape
	Quality       Quality
}

// AppendScreenInfo appends a ScreenInfo message to dst.
func AppendScreenInfo(dst []byte, width, height int) []byte {
	dst = append(dst, ScreenInfo)
	dst = binary.BigEndian.AppendUint16(dst, uint16(width))
	return binary.BigEndian.AppendUint16(dst, uint16(height))
}

// AppendFrameEnd appends a ScreenFrameEnd message to dst.
func AppendFrameEnd(dst []byte, seq uint32) []byte {
	dst = append(dst, ScreenFrameEnd)
	return binary.BigEndian.AppendUint32(dst, seq)
}

// RectSize is the number of bytes r takes inside a ScreenRects message.
func RectSize(r Rect) int { return rectHeader + len(r.Data) }

// AppendRects appends one ScreenRects message holding rects to dst. The
// caller keeps the result under MaxScreenMessage (see RectBatcher).
func AppendRects(dst []byte, rects []Rect) []byte {
	dst = append(dst, ScreenRects)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(rects)))
	for _, r := range rects {
		dst = binary.BigEndian.AppendUint16(dst, uint16(r.X))
		dst = binary.BigEndian.AppendUint16(dst, uint16(r.Y))
		dst = binary.BigEndian.AppendUint16(dst, uint16(r.W))
		dst = binary.BigEndian.AppendUint16(dst, uint16(r.H))
		dst = append(dst, r.Enc)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(r.Data)))
		dst = append(dst, r.Data...)
	}
	return dst
}

// DecodeScreen parses one screen message. Rect data aliases b.
func DecodeScreen(b []byte) (ScreenMsg, error) {
	if len(b) == 0 {
		return ScreenMsg{}, fmt.Errorf("%w: empty screen message", ErrMalformed)
	}
	if len(b) > MaxScreenMessage {
		return ScreenMsg{}, fmt.Errorf("%w: screen message of %d bytes", ErrTooLarge, len(b))
	}
	m := ScreenMsg{Kind: b[0]}
	p := b[1:]
	switch m.Kind {
	case ScreenInfo:
		if len(p) != 4 {
			return ScreenMsg{}, fmt.Errorf("%w: screen info of %d bytes", ErrMalformed, len(b))
		}
		m.Width = int(binary.BigEndian.Uint16(p))
		m.Height = int(binary.BigEndian.Uint16(p[2:]))
		if m.Width == 0 || m.Height == 0 || m.Width > MaxDimension || m.Height > MaxDimension || m.Width*m.Height > MaxPixels {
			return ScreenMsg{}, fmt.Errorf("%w: screen size %dx%d", ErrMalformed, m.Width, m.Height)
		}
	case ScreenFrameEnd:
		if len(p) != 4 && (len(p) != 5 || p[4]&^FrameRefining != 0) {
			return ScreenMsg{}, fmt.Errorf("%w: frame end of %d bytes", ErrMalformed, len(b))
		}
		m.Seq = binary.BigEndian.Uint32(p)
		m.Refining = len(p) == 5 && p[4]&FrameRefining != 0
	case ScreenRectsEnd:
		if len(p) < 6 || p[4]&^FrameRefining != 0 || p[5] != ScreenRects {
			return ScreenMsg{}, fmt.Errorf("%w: rects with a frame end of %d bytes", ErrMalformed, len(b))
		}
		in, err := DecodeScreen(p[5:])
		if err != nil {
			return ScreenMsg{}, err
		}
		m.Rects, m.Seq, m.Refining = in.Rects, binary.BigEndian.Uint32(p), p[4]&FrameRefining != 0
	case ScreenRects:
		if len(p) < 2 {
			return ScreenMsg{}, fmt.Errorf("%w: rects without count", ErrMalformed)
		}
		n := int(binary.BigEndian.Uint16(p))
		p = p[2:]
		if n*rectHeader > len(p) {
			return ScreenMsg{}, fmt.Errorf("%w: %d rects in %d bytes", ErrMalformed, n, len(p))
		}
		m.Rects = make([]Rect, 0, n)
		for i := 0; i < n; i++ {
			if len(p) < rectHeader {
				return ScreenMsg{}, fmt.Errorf("%w: rect %d truncated", ErrMalformed, i)
			}
			r := Rect{
				X:   int(binary.BigEndian.Uint16(p)),
				Y:   int(binary.BigEndian.Uint16(p[2:])),
				W:   int(binary.BigEndian.Uint16(p[4:])),
				H:   int(binary.BigEndian.Uint16(p[6:])),
				Enc: p[8],
			}
			size := binary.BigEndian.Uint32(p[9:])
			p = p[rectHeader:]
			if uint64(size) > uint64(len(p)) {
				return ScreenMsg{}, fmt.Errorf("%w: rect %d claims %d bytes, %d left", ErrMalformed, i, size, len(p))
			}
			r.Data = p[:size:size]
			p = p[size:]
			if err := r.check(); err != nil {
				return ScreenMsg{}, fmt.Errorf("rect %d: %w", i, err)
			}
			m.Rects = append(m.Rects, r)
		}
		if len(p) != 0 {
			return ScreenMsg{}, fmt.Errorf("%w: %d trailing bytes after rects", ErrMalformed, len(p))
		}
	case ScreenCursor, ScreenCursorShape, ScreenQuality:
		if err := m.decodeExt(p); err != nil {
			return ScreenMsg{}, err
		}
	case ScreenResync:
		if err := m.decodeResync(p); err != nil {
			return ScreenMsg{}, err
		}
	default:
		return ScreenMsg{}, fmt.Errorf("%w: screen message kind %d", ErrUnknownType, m.Kind)
	}
	return m, nil
}

// check validates what can be known of r without decoding its pixels.
func (r Rect) check() error {
	if r.W == 0 || r.H == 0 {
		return fmt.Errorf("%w: empty rect", ErrMalformed)
	}
	switch r.Enc {
	case EncSolid:
		if len(r.Data) != 3 {
			return fmt.Errorf("%w: solid rect with %d bytes", ErrMalformed, len(r.Data))
		}
	case EncRaw:
		if len(r.Data) != r.W*r.H*3 {
			return fmt.Errorf("%w: raw %dx%d rect with %d bytes", ErrMalformed, r.W, r.H, len(r.Data))
		}
	case EncPNG:
		if len(r.Data) == 0 {
			return fmt.Errorf("%w: empty png rect", ErrMalformed)
		}
	case EncJPEG, EncCopy:
		return r.checkExt()
	case EncZlib:
		if len(r.Data) < 5 {
			return fmt.Errorf("%w: zlib rect with %d bytes", ErrMalformed, len(r.Data))
		}
	case EncCached:
		if len(r.Data) != 2 || r.W > CacheTile || r.H > CacheTile {
			return fmt.Errorf("%w: cached %dx%d rect with %d bytes", ErrMalformed, r.W, r.H, len(r.Data))
		}
	default:
		return fmt.Errorf("%w: encoding %d", ErrUnknownType, r.Enc)
	}
	return nil
}

// Draw decodes r onto dst. A rectangle outside dst's bounds, or whose
// payload does not decode to exactly w x h pixels, is an error and leaves
// dst unchanged.
func (r Rect) Draw(dst *image.RGBA) error {
	if err := r.check(); err != nil {
		return err
	}
	b := dst.Bounds()
	if r.X < b.Min.X || r.Y < b.Min.Y || r.X+r.W > b.Max.X || r.Y+r.H > b.Max.Y {
		return fmt.Errorf("%w: rect %dx%d+%d+%d outside screen %v", ErrMalformed, r.W, r.H, r.X, r.Y, b)
	}
	switch r.Enc {
	case EncSolid:
		c := [4]byte{r.Data[0], r.Data[1], r.Data[2], 0xff}
		for y := r.Y; y < r.Y+r.H; y++ {
			row := dst.Pix[dst.PixOffset(r.X, y):dst.PixOffset(r.X+r.W, y)]
			for i := 0; i < len(row); i += 4 {
				copy(row[i:i+4], c[:])
			}
		}
	case EncRaw:
		src := r.Data
		for y := r.Y; y < r.Y+r.H; y++ {
			row := dst.Pix[dst.PixOffset(r.X, y):dst.PixOffset(r.X+r.W, y)]
			for i := 0; i < len(row); i += 4 {
				row[i], row[i+1], row[i+2], row[i+3] = src[0], src[1], src[2], 0xff
				src = src[3:]
			}
		}
	case EncPNG:
		img, err := r.decodeSized("png", png.DecodeConfig, png.Decode)
		if err != nil {
			return err
		}
		drawOpaque(dst, img, r.X, r.Y)
	case EncJPEG:
		return r.drawJPEG(dst)
	case EncCopy:
		return r.drawCopy(dst)
	case EncZlib, EncCached:
		return fmt.Errorf("%w: zlib and cached rects need the channel's state: use a Decoder", ErrMalformed)
	}
	return nil
}

// decodeSized decodes r's image payload, which must be exactly r's size.
func (r Rect) decodeSized(kind string, config func(io.Reader) (image.Config, error), decode func(io.Reader) (image.Image, error)) (image.Image, error) {
	cfg, err := config(bytes.NewReader(r.Data))
	if err != nil {
		return nil, fmt.Errorf("%w: %s rect: %v", ErrMalformed, kind, err)
	}
	if cfg.Width != r.W || cfg.Height != r.H {
		return nil, fmt.Errorf("%w: %s of %dx%d in a %dx%d rect", ErrMalformed, kind, cfg.Width, cfg.Height, r.W, r.H)
	}
	img, err := decode(bytes.NewReader(r.Data))
	if err != nil {
		return nil, fmt.Errorf("%w: %s rect: %v", ErrMalformed, kind, err)
	}
	return img, nil
}

// drawOpaque copies src onto dst at (x, y), taking colours as opaque.
func drawOpaque(dst *image.RGBA, src image.Image, x, y int) {
	sb := src.Bounds()
	if s, ok := src.(*image.RGBA); ok {
		for row := 0; row < sb.Dy(); row++ {
			so := s.PixOffset(sb.Min.X, sb.Min.Y+row)
			copy(dst.Pix[dst.PixOffset(x, y+row):dst.PixOffset(x+sb.Dx(), y+row)], s.Pix[so:so+4*sb.Dx()])
		}
		return
	}
	for row := 0; row < sb.Dy(); row++ {
		d := dst.Pix[dst.PixOffset(x, y+row):]
		for col := 0; col < sb.Dx(); col++ {
			cr, cg, cb, _ := src.At(sb.Min.X+col, sb.Min.Y+row).RGBA()
			d[4*col], d[4*col+1], d[4*col+2], d[4*col+3] = byte(cr>>8), byte(cg>>8), byte(cb>>8), 0xff
		}
	}
}

// RectBatcher packs rectangles into ScreenRects messages below
// MaxScreenMessage, calling flush with each full message. The slice passed to
// flush is reused after flush returns.
type RectBatcher struct {
	buf   []byte
	rects []Rect
	size  int
	Flush func(msg []byte) error
	// FrameEndApart makes End send the frame end as a ScreenFrameEnd of its
	// own (for a peer without FeatureFrameInRects).
	FrameEndApart bool
}

// Add queues r, flushing the pending batch first when r would not fit. A
// rectangle too large for any message is an error: the encoder must split it.
func (b *RectBatcher) Add(r Rect) error {
	n := RectSize(r)
	if n+3 > MaxScreenMessage {
		return fmt.Errorf("%w: a %dx%d rect encodes to %d bytes", ErrTooLarge, r.W, r.H, n)
	}
	if b.size+n+3 > MaxScreenMessage || len(b.rects) == 0xffff {
		if err := b.Done(); err != nil {
			return err
		}
	}
	b.rects = append(b.rects, r)
	b.size += n
	return nil
}

// End flushes the pending batch with the end of frame seq in the same
// message (ScreenRectsEnd), or, with nothing pending, no room for the frame
// end or FrameEndApart, as a ScreenRects message and a ScreenFrameEnd.
func (b *RectBatcher) End(seq uint32, refining bool) error {
	if b.FrameEndApart || len(b.rects) == 0 || 6+3+b.size > MaxScreenMessage {
		if err := b.Done(); err != nil {
			return err
		}
		return b.Flush(AppendFrameEndFlags(b.buf[:0], seq, refining))
	}
	b.buf = AppendRectsEnd(b.buf[:0], seq, refining, b.rects)
	b.rects = b.rects[:0]
	b.size = 0
	return b.Flush(b.buf)
}

// AppendRectsEnd appends a ScreenRectsEnd message: rects, then the end of
// frame seq.
func AppendRectsEnd(dst []byte, seq uint32, refining bool, rects []Rect) []byte {
	dst = append(dst, ScreenRectsEnd)
	dst = binary.BigEndian.AppendUint32(dst, seq)
	flags := byte(0)
	if refining {
		flags = FrameRefining
	}
	return AppendRects(append(dst, flags), rects)
}

// Done flushes the pending batch, if any.
func (b *RectBatcher) Done() error {
	if len(b.rects) == 0 {
		return nil
	}
	b.buf = AppendRects(b.buf[:0], b.rects)
	b.rects = b.rects[:0]
	b.size = 0
	return b.Flush(b.buf)
}
