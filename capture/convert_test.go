package capture

import (
	"bytes"
	"fmt"
	"image"
	"math/rand/v2"
	"testing"
)

func TestConvert(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name string
		conv func(dst, src []byte)
		ref  func(p []byte) [4]byte // one server pixel to RGBA
	}{
		{"LSBFirst BGRX", bgrxToRGBA, func(p []byte) [4]byte { return [4]byte{p[2], p[1], p[0], 0xff} }},
		{"MSBFirst XRGB", xrgbToRGBA, func(p []byte) [4]byte { return [4]byte{p[1], p[2], p[3], 0xff} }},
	}
	for _, tt := range tests {
		for _, n := range []int{0, 1, 2, 3, 7, 8, 9, 17, 1920, 1921} {
			t.Run(fmt.Sprintf("%s/%d pixels", tt.name, n), func(t *testing.T) {
				src := make([]byte, 4*n)
				for i := range src {
					src[i] = byte(rnd.Uint32())
				}
				want := make([]byte, 0, 4*n)
				for i := 0; i < len(src); i += 4 {
					px := tt.ref(src[i : i+4])
					want = append(want, px[:]...)
				}
				got := make([]byte, 4*n)
				tt.conv(got, src)
				if !bytes.Equal(got, want) {
					t.Errorf("got  %v\nwant %v", got, want)
				}
			})
		}
	}
}

func TestNormalize(t *testing.T) {
	img := image.NewRGBA(image.Rect(-30, 20, 10, 25))
	for i := range img.Pix {
		img.Pix[i] = byte(i)
	}
	want := img.RGBAAt(-30+7, 20+3)
	want.A = 0xff
	got := normalize(img)
	if got.Bounds() != image.Rect(0, 0, 40, 5) {
		t.Fatalf("bounds %v", got.Bounds())
	}
	if c := got.RGBAAt(7, 3); c != want {
		t.Errorf("pixel (7,3) is %v, want %v", c, want)
	}
	for i := 3; i < len(got.Pix); i += 4 {
		if got.Pix[i] != 0xff {
			t.Fatalf("alpha %d at byte %d", got.Pix[i], i)
		}
	}
}
