package protocol

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"testing"
)

func jpegOf(t testing.TB, img image.Image, q int) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// smooth is a photo-like image: JPEG's home ground.
func smooth(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetRGBA(x, y, color.RGBA{uint8(128 + 100*math.Sin(float64(x)/7)), uint8(2 * y), uint8(x + y), 255})
		}
	}
	return img
}

func TestCopyRectOverlapping(t *testing.T) {
	for _, tt := range []struct {
		name string
		dst  image.Rectangle
		src  image.Point
	}{
		{"scroll up", image.Rect(2, 2, 30, 20), image.Pt(2, 5)},
		{"scroll down", image.Rect(2, 5, 30, 23), image.Pt(2, 2)},
		{"move right", image.Rect(6, 3, 26, 13), image.Pt(3, 3)},
		{"move left and down", image.Rect(1, 9, 21, 19), image.Pt(4, 3)},
		{"disjoint", image.Rect(0, 0, 8, 8), image.Pt(20, 20)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pic := testImage(32, 32)
			want := image.NewRGBA(pic.Rect)
			copy(want.Pix, pic.Pix)
			for y := 0; y < tt.dst.Dy(); y++ { // through a temporary
				for x := 0; x < tt.dst.Dx(); x++ {
					want.SetRGBA(tt.dst.Min.X+x, tt.dst.Min.Y+y, pic.RGBAAt(tt.src.X+x, tt.src.Y+y))
				}
			}
			msg, err := DecodeScreen(AppendRects(nil, []Rect{CopyRect(tt.dst, tt.src)}))
			if err != nil {
				t.Fatal(err)
			}
			if err := msg.Rects[0].Draw(pic); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pic.Pix, want.Pix) {
				t.Fatal("copied pixels differ from a copy through a temporary")
			}
		})
	}
}

func psnr(a, b *image.RGBA, r image.Rectangle) float64 {
	var se float64
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			pa, pb := a.Pix[a.PixOffset(x, y):], b.Pix[b.PixOffset(x-r.Min.X, y-r.Min.Y):]
			for c := 0; c < 3; c++ {
				d := float64(pa[c]) - float64(pb[c])
				se += d * d
				n++
			}
		}
	}
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(se/float64(n)))
}

func TestJPEGRectWithinBound(t *testing.T) {
	src := smooth(48, 40)
	pic := image.NewRGBA(image.Rect(0, 0, 64, 64))
	r := Rect{X: 10, Y: 20, W: 48, H: 40, Enc: EncJPEG, Data: jpegOf(t, src, 85)}
	msg, err := DecodeScreen(AppendRects(nil, []Rect{r}))
	if err != nil {
		t.Fatal(err)
	}
	if err := msg.Rects[0].Draw(pic); err != nil {
		t.Fatal(err)
	}
	if p := psnr(pic, src, image.Rect(10, 20, 58, 60)); p < 35 {
		t.Fatalf("PSNR %.1f dB, want >= 35", p)
	}
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			c := pic.RGBAAt(x, y)
			in := image.Pt(x, y).In(image.Rect(10, 20, 58, 60))
			if c.A != 255 && in || !in && c != (color.RGBA{}) {
				t.Fatalf("pixel %d,%d = %v (inside %v)", x, y, c, in)
			}
		}
	}
}

func TestCursorAndQualityMessages(t *testing.T) {
	m, err := DecodeScreen(AppendCursor(nil, true, 1919, 5))
	if err != nil || m.Kind != ScreenCursor || !m.Cursor.Visible || m.Cursor.X != 1919 || m.Cursor.Y != 5 {
		t.Fatalf("cursor: %+v %v", m, err)
	}
	m, err = DecodeScreen(AppendCursor(nil, false, -3, 70000))
	if err != nil || m.Cursor.Visible || m.Cursor.X != 0 || m.Cursor.Y != 0xffff {
		t.Fatalf("hidden cursor: %+v %v", m, err)
	}
	shape := image.NewNRGBA(image.Rect(0, 0, 12, 20))
	shape.SetNRGBA(3, 4, color.NRGBA{200, 10, 10, 128})
	m, err = DecodeScreen(AppendCursorShape(nil, 3, 4, pngOf(t, shape)))
	if err != nil || m.Cursor.HotX != 3 || m.Cursor.HotY != 4 {
		t.Fatalf("shape: %+v %v", m, err)
	}
	img, err := m.Cursor.CursorImage()
	if err != nil || !bytes.Equal(img.Pix, shape.Pix) {
		t.Fatalf("shape image differs (%v)", err)
	}
	for _, refining := range []bool{false, true} {
		m, err := DecodeScreen(AppendFrameEndFlags(nil, 9, refining))
		if err != nil || m.Seq != 9 || m.Refining != refining {
			t.Fatalf("frame end refining=%v: %+v %v", refining, m, err)
		}
	}
	if _, err := DecodeScreen(append(AppendFrameEnd(nil, 1), 2)); err == nil {
		t.Fatal("unknown frame end flag accepted")
	}
	q := Quality{Quality: 72, FPS: 15, BytesPerSec: 1 << 20, RTTms: 33}
	m, err = DecodeScreen(AppendQuality(nil, q))
	if err != nil || m.Quality != q {
		t.Fatalf("quality: %+v %v", m, err)
	}
}

func TestScreenExtRejects(t *testing.T) {
	shape := pngOf(t, image.NewNRGBA(image.Rect(0, 0, 8, 8)))
	big := pngOf(t, image.NewNRGBA(image.Rect(0, 0, MaxCursorSize+1, 1)))
	for _, tt := range []struct {
		name string
		msg  []byte
	}{
		{"cursor short", []byte{ScreenCursor, 1, 0, 0}},
		{"cursor bad flags", []byte{ScreenCursor, 2, 0, 0, 0, 0}},
		{"shape without png", []byte{ScreenCursorShape, 0, 0, 0, 0}},
		{"shape garbage", append([]byte{ScreenCursorShape, 0, 0, 0, 0}, "not a png"...)},
		{"shape hotspot outside", AppendCursorShape(nil, 8, 0, shape)},
		{"shape too large", AppendCursorShape(nil, 0, 0, big)},
		{"quality zero", []byte{ScreenQuality, 0, 10, 0, 0, 0, 0, 0, 0}},
		{"quality short", []byte{ScreenQuality, 50, 10}},
		{"copy short", AppendRects(nil, []Rect{{W: 1, H: 1, Enc: EncCopy, Data: []byte{1, 2, 3}}})},
		{"empty jpeg", AppendRects(nil, []Rect{{W: 1, H: 1, Enc: EncJPEG}})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeScreen(tt.msg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	dst := testImage(32, 32)
	tile := smooth(8, 8)
	for _, tt := range []struct {
		name string
		r    Rect
	}{
		{"copy source outside", CopyRect(image.Rect(0, 0, 8, 8), image.Pt(28, 0))},
		{"copy dest outside", CopyRect(image.Rect(28, 28, 36, 36), image.Pt(0, 0))},
		{"jpeg size mismatch", Rect{W: 4, H: 8, Enc: EncJPEG, Data: jpegOf(t, tile, 80)}},
		{"jpeg garbage", Rect{W: 8, H: 8, Enc: EncJPEG, Data: []byte("not a jpeg")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := bytes.Clone(dst.Pix)
			if err := tt.r.Draw(dst); err == nil {
				t.Fatal("drawn")
			}
			if !bytes.Equal(before, dst.Pix) {
				t.Fatal("a refused rect changed the picture")
			}
		})
	}
}
