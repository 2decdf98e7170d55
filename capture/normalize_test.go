package capture

import (
	"image"
	"testing"
)

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
