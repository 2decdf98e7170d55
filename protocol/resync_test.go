package protocol

import (
	"compress/flate"
	"errors"
	"image"
	"testing"
)

func TestScreenResyncMessage(t *testing.T) {
	tests := []struct {
		name   string
		msg    []byte
		serial uint32
		err    error
	}{
		{"serial 1", AppendScreenResync(nil, 1), 1, nil},
		{"large serial", AppendScreenResync(nil, 0xfffffffe), 0xfffffffe, nil},
		{"serial 0", AppendScreenResync(nil, 0), 0, ErrMalformed},
		{"short", []byte{ScreenResync, 0, 0, 1}, 0, ErrMalformed},
		{"long", append(AppendScreenResync(nil, 5), 0), 0, ErrMalformed},
		{"kind only", []byte{ScreenResync}, 0, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DecodeScreen(tt.msg)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("DecodeScreen = %+v, %v; want %v", m, err, tt.err)
				}
				return
			}
			if err != nil || m.Kind != ScreenResync || m.Serial != tt.serial {
				t.Fatalf("DecodeScreen = %+v, %v; want serial %d", m, err, tt.serial)
			}
		})
	}
}

func TestControlScreenResync(t *testing.T) {
	tests := []struct {
		name string
		json string
		err  error
	}{
		{"with reason", `{"type":"screen_resync","serial":3,"reason":"zlib rect: unexpected EOF"}`, nil},
		{"without reason", `{"type":"screen_resync","serial":1}`, nil},
		{"no serial", `{"type":"screen_resync","reason":"x"}`, ErrMalformed},
		{"negative serial", `{"type":"screen_resync","serial":-1}`, ErrMalformed},
		{"serial too large", `{"type":"screen_resync","serial":4294967296}`, ErrMalformed},
		{"reason not text", `{"type":"screen_resync","serial":1,"reason":5}`, ErrMalformed},
		{"huge reason", `{"type":"screen_resync","serial":1,"reason":"` + string(make([]byte, 2000)) + `"}`, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := DecodeControl([]byte(tt.json))
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("DecodeControl = %+v, %v; want %v", c, err, tt.err)
				}
				return
			}
			if err != nil || c.Type != CtlScreenResync || c.Serial == 0 {
				t.Fatalf("DecodeControl = %+v, %v", c, err)
			}
			b, err := EncodeControl(c)
			if err != nil {
				t.Fatal(err)
			}
			if again, err := DecodeControl(b); err != nil || again.Serial != c.Serial || again.Reason != c.Reason {
				t.Fatalf("round trip gave %+v, %v", again, err)
			}
		})
	}
	if _, err := EncodeControl(Control{Type: CtlScreenResync}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("EncodeControl without serial = %v, want ErrMalformed", err)
	}
}

// TestDecoderAfterResync is the receiving end of a resync: once a segment
// is corrupt the stream is broken, and a cache reference may name a slot the
// receiver never filled; after both ends restart (Reset on each side, as at
// a ScreenResync) the rectangles decode exactly again.
func TestDecoderAfterResync(t *testing.T) {
	enc, err := NewZEncoder(flate.DefaultCompression)
	if err != nil {
		t.Fatal(err)
	}
	var dec Decoder
	dst := image.NewRGBA(image.Rect(0, 0, 128, 64))
	rect := func(seed int) (Rect, *image.RGBA) {
		img, pal, idx := paletteImage(64, 64, 4, seed)
		r, err := enc.Rect(image.Rect(0, 0, 64, 64), AppendPalettePayload(nil, pal, idx, 64, 64))
		if err != nil {
			t.Fatal(err)
		}
		return r, img
	}
	r1, _ := rect(1)
	if err := dec.Apply(dst, r1); err != nil {
		t.Fatal(err)
	}
	r2, _ := rect(2)
	r2.Data = r2.Data[:len(r2.Data)/2] // corrupted on the way
	if err := dec.Apply(dst, r2); err == nil {
		t.Fatal("half a deflate segment was applied")
	}
	r3, _ := rect(3)
	if err := dec.Apply(dst, r3); err == nil {
		t.Fatal("a segment after a broken one was applied")
	}
	cached := CachedRect(image.Rect(64, 0, 128, 64), 1) // slot 1: the corrupt rect's tile at the agent, never stored here
	if err := dec.Apply(dst, cached); err == nil {
		t.Fatal("a reference to a slot the receiver never filled was applied")
	}

	enc.Reset()
	dec.Reset()
	r5, img := rect(5)
	if err := dec.Apply(dst, r5); err != nil {
		t.Fatalf("after the resync: %v", err)
	}
	if ok, at := sameRGBA(dst.SubImage(image.Rect(0, 0, 64, 64)).(*image.RGBA), img); !ok {
		t.Fatalf("after the resync the tile differs at %v", at)
	}
	if err := dec.Apply(dst, CachedRect(image.Rect(64, 0, 128, 64), 0)); err != nil {
		t.Fatalf("the fresh cache's slot 0: %v", err)
	}
}

// sameRGBA compares two pictures of the same size (origins may differ).
func sameRGBA(a, b *image.RGBA) (bool, image.Point) {
	if a.Rect.Size() != b.Rect.Size() {
		return false, image.Pt(-1, -1)
	}
	for y := 0; y < a.Rect.Dy(); y++ {
		for x := 0; x < a.Rect.Dx(); x++ {
			p, q := a.RGBAAt(a.Rect.Min.X+x, a.Rect.Min.Y+y), b.RGBAAt(b.Rect.Min.X+x, b.Rect.Min.Y+y)
			if p != q {
				return false, image.Pt(x, y)
			}
		}
	}
	return true, image.Point{}
}
