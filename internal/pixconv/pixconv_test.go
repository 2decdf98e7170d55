package pixconv

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestConvert checks every conversion, the vector one with its scalar tail
// and the portable one alone, against a pixel-by-pixel reference: lengths
// around the vector sizes (8 and 32 pixels a round) and slices that start
// off any alignment.
func TestConvert(t *testing.T) {
	if fast(make([]byte, 32), make([]byte, 32), bgrxCtl) == 0 {
		t.Log("no vector conversion on this machine: only the portable one is tested")
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name string
		conv func(dst, src []byte)
		ref  func(p []byte) [4]byte // one server pixel to RGBA
	}{
		{"LSBFirst BGRX", BGRXToRGBA, func(p []byte) [4]byte { return [4]byte{p[2], p[1], p[0], 0xff} }},
		{"LSBFirst BGRX portable", bgrxToRGBAGo, func(p []byte) [4]byte { return [4]byte{p[2], p[1], p[0], 0xff} }},
		{"MSBFirst XRGB", XRGBToRGBA, func(p []byte) [4]byte { return [4]byte{p[1], p[2], p[3], 0xff} }},
		{"MSBFirst XRGB portable", xrgbToRGBAGo, func(p []byte) [4]byte { return [4]byte{p[1], p[2], p[3], 0xff} }},
	}
	for _, tt := range tests {
		for _, n := range []int{0, 1, 2, 3, 7, 8, 9, 17, 31, 32, 33, 40, 63, 64, 65, 1920, 1921} {
			for _, off := range []int{0, 4, 12} {
				t.Run(fmt.Sprintf("%s/%d pixels at +%d", tt.name, n, off), func(t *testing.T) {
					src := make([]byte, off+4*n+4)
					for i := range src {
						src[i] = byte(rnd.Uint32())
					}
					src = src[off : off+4*n]
					want := make([]byte, 0, 4*n)
					for i := 0; i < len(src); i += 4 {
						px := tt.ref(src[i : i+4])
						want = append(want, px[:]...)
					}
					// A canary after dst: nothing is written past its end.
					buf := make([]byte, off+4*n+4)
					for i := range buf {
						buf[i] = 0xa5
					}
					got := buf[off : off+4*n]
					tt.conv(got, src)
					if !bytes.Equal(got, want) {
						t.Errorf("got  %v\nwant %v", got, want)
					}
					if tail := buf[off+4*n:]; !bytes.Equal(tail, []byte{0xa5, 0xa5, 0xa5, 0xa5}) {
						t.Errorf("wrote past the end: %v", tail)
					}
					// In place, as capture converts whole rows in the
					// shared memory segment.
					in := append([]byte(nil), src...)
					tt.conv(in, in)
					if !bytes.Equal(in, want) {
						t.Errorf("in place: got  %v\nwant %v", in, want)
					}
				})
			}
		}
	}
}

func BenchmarkConvert1080p(b *testing.B) {
	src := make([]byte, 1920*1080*4)
	dst := make([]byte, len(src))
	for _, bb := range []struct {
		name string
		conv func(dst, src []byte)
	}{
		{"bgrx", BGRXToRGBA}, {"xrgb", XRGBToRGBA},
		{"bgrx-portable", bgrxToRGBAGo}, {"xrgb-portable", xrgbToRGBAGo},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				bb.conv(dst, src)
			}
		})
	}
}
