package protocol

import (
	"bytes"
	"compress/flate"
	"fmt"
	"image"
	"image/color"
	"testing"
)

// paletteImage paints w x h pixels from n colours in a text-like pattern.
func paletteImage(w, h, n, seed int) (*image.RGBA, [][3]byte, []uint8) {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	pal := make([][3]byte, n)
	for i := range pal {
		pal[i] = [3]byte{byte(i * 37), byte(i*91 + seed), byte(255 - i*13)}
	}
	idx := make([]uint8, w*h)
	v := uint32(seed)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v = v*1664525 + 1013904223
			i := int(v>>24) % n
			idx[y*w+x] = uint8(i)
			c := pal[i]
			img.SetRGBA(x, y, color.RGBA{c[0], c[1], c[2], 255})
		}
	}
	return img, pal, idx
}

func TestZStreamRoundTrip(t *testing.T) {
	enc, err := NewZEncoder(flate.DefaultCompression)
	if err != nil {
		t.Fatal(err)
	}
	var dec Decoder
	dst := image.NewRGBA(image.Rect(0, 0, 200, 100))
	for round := 0; round < 2; round++ { // again after a reset, as after ScreenInfo
		var firstSize, againSize int
		for i, tc := range []struct{ w, h, n, seed int }{
			{64, 64, 2, 1}, {13, 7, 3, 2}, {64, 64, 4, 3}, {70, 33, 16, 4}, {64, 64, 200, 5}, {1, 1, 1, 6}, {64, 64, 2, 1},
		} {
			img, pal, idx := paletteImage(tc.w, tc.h, tc.n, tc.seed)
			at := image.Rect(i*10, i*5, i*10+tc.w, i*5+tc.h)
			r, err := enc.Rect(at, AppendPalettePayload(nil, pal, idx, tc.w, tc.h))
			if err != nil {
				t.Fatal(err)
			}
			msg, err := DecodeScreen(AppendRects(nil, []Rect{r}))
			if err != nil {
				t.Fatal(err)
			}
			if err := dec.Apply(dst, msg.Rects[0]); err != nil {
				t.Fatalf("round %d rect %d: %v", round, i, err)
			}
			for y := 0; y < tc.h; y++ {
				got := dst.Pix[dst.PixOffset(at.Min.X, at.Min.Y+y):dst.PixOffset(at.Max.X, at.Min.Y+y)]
				want := img.Pix[img.PixOffset(0, y):img.PixOffset(tc.w, y)]
				if !bytes.Equal(got, want) {
					t.Fatalf("round %d rect %d row %d differs", round, i, y)
				}
			}
			if i == 0 {
				firstSize = len(r.Data)
			}
			if i == 6 {
				againSize = len(r.Data)
			}
		}
		// The same tile again is a back-reference on the stream.
		if againSize*4 > firstSize {
			t.Errorf("a repeated tile took %d bytes, the first %d", againSize, firstSize)
		}
		enc.Reset()
		dec.Reset()
	}
}

func TestZStreamRejects(t *testing.T) {
	enc, _ := NewZEncoder(flate.BestSpeed)
	_, pal, idx := paletteImage(8, 8, 3, 1)
	good, _ := enc.Rect(image.Rect(0, 0, 8, 8), AppendPalettePayload(nil, pal, idx, 8, 8))
	dst := image.NewRGBA(image.Rect(0, 0, 16, 16))
	badIndex := AppendPalettePayload(nil, pal, idx, 8, 8)
	badIndex[len(badIndex)-1] = 0xff // index 3 of a 3-colour palette
	e2, _ := NewZEncoder(flate.BestSpeed)
	bi, _ := e2.Rect(image.Rect(0, 0, 8, 8), badIndex)
	for _, tt := range []struct {
		name string
		r    Rect
	}{
		{"outside", Rect{X: 12, Y: 0, W: 8, H: 8, Enc: EncZlib, Data: good.Data}},
		{"claims too much", Rect{W: 8, H: 8, Enc: EncZlib, Data: append([]byte{0, 1, 0, 0}, good.Data[4:]...)}},
		{"garbage", Rect{W: 8, H: 8, Enc: EncZlib, Data: []byte{0, 0, 0, 30, 0xff, 0xff, 0xff, 0xff, 1, 2, 3}}},
		{"index past the palette", bi},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var dec Decoder
			before := bytes.Clone(dst.Pix)
			if err := dec.Apply(dst, tt.r); err == nil {
				t.Fatal("applied")
			}
			if !bytes.Equal(before, dst.Pix) {
				t.Fatal("a refused rect changed the picture")
			}
		})
	}
	if err := good.Draw(dst); err == nil {
		t.Fatal("Rect.Draw applied a zlib rect without the stream")
	}
}

func FuzzZStream(f *testing.F) {
	enc, _ := NewZEncoder(flate.BestSpeed)
	_, pal, idx := paletteImage(8, 8, 3, 1)
	r, _ := enc.Rect(image.Rect(0, 0, 8, 8), AppendPalettePayload(nil, pal, idx, 8, 8))
	f.Add(uint8(8), uint8(8), r.Data)
	f.Add(uint8(1), uint8(1), []byte{0, 0, 0, 5, 1, 2, 3, 4, 5})
	f.Fuzz(func(t *testing.T, w, h uint8, data []byte) {
		var dec Decoder
		dst := image.NewRGBA(image.Rect(0, 0, 32, 32))
		rect := Rect{W: int(w%33) + 1, H: int(h%33) + 1, Enc: EncZlib, Data: data}
		_ = dec.Apply(dst, rect) // must not panic
		_ = dec.Apply(dst, rect)
	})
}

// BenchmarkZStream is the zlib encoding's cost: a 64x64 two-colour text
// tile compressed onto the stream, then the same tile again (history).
func BenchmarkZStream(b *testing.B) {
	_, pal, idx := paletteImage(64, 64, 2, 7)
	payload := AppendPalettePayload(nil, pal, idx, 64, 64)
	for _, level := range []int{flate.BestSpeed, 6, flate.BestCompression} {
		b.Run(fmt.Sprintf("level=%d", level), func(b *testing.B) {
			enc, err := NewZEncoder(level)
			if err != nil {
				b.Fatal(err)
			}
			var dec Decoder
			dst := image.NewRGBA(image.Rect(0, 0, 64, 64))
			b.SetBytes(int64(len(payload)))
			var n int
			for b.Loop() {
				r, err := enc.Rect(image.Rect(0, 0, 64, 64), payload)
				if err != nil {
					b.Fatal(err)
				}
				if err := dec.Apply(dst, r); err != nil {
					b.Fatal(err)
				}
				n = len(r.Data)
			}
			b.ReportMetric(float64(n), "out-bytes")
		})
	}
}
