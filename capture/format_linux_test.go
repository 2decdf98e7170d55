package capture

import (
	"testing"

	"github.com/jezek/xgb/xproto"
)

func TestCheckFormat(t *testing.T) {
	xrgb := xproto.VisualInfo{VisualId: 33, RedMask: 0xff0000, GreenMask: 0xff00, BlueMask: 0xff}
	bgr := xproto.VisualInfo{VisualId: 33, RedMask: 0xff, GreenMask: 0xff00, BlueMask: 0xff0000}
	rgb565 := xproto.VisualInfo{VisualId: 33, RedMask: 0xf800, GreenMask: 0x7e0, BlueMask: 0x1f}
	tests := []struct {
		name      string
		depth     byte
		bpp       byte
		vis       xproto.VisualInfo
		wantError bool
	}{
		{"depth 24 in 32 bits", 24, 32, xrgb, false},
		{"depth 32", 32, 32, xrgb, false},
		{"depth 24 packed in 24 bits", 24, 24, xrgb, true},
		{"blue in the high byte", 24, 32, bgr, true},
		{"16-bit colour", 16, 16, rgb565, true},
		{"no such visual", 24, 32, xproto.VisualInfo{VisualId: 34}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setup := &xproto.SetupInfo{PixmapFormats: []xproto.Format{{Depth: 1, BitsPerPixel: 1}, {Depth: tt.depth, BitsPerPixel: tt.bpp}}}
			scr := &xproto.ScreenInfo{RootDepth: tt.depth, RootVisual: 33,
				AllowedDepths: []xproto.DepthInfo{{Depth: tt.depth, Visuals: []xproto.VisualInfo{tt.vis}}}}
			if err := checkFormat(setup, scr); (err != nil) != tt.wantError {
				t.Errorf("checkFormat: %v, want error: %v", err, tt.wantError)
			}
		})
	}
}
