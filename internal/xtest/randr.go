package xtest

import (
	"fmt"
	"image"
	"testing"

	"github.com/jezek/xgb/randr"
	"github.com/jezek/xgb/xproto"
)

// setMonitors defines s.Monitors as RandR 1.5 monitors. The first one claims
// Xvfb's only output, which hides the automatic monitor covering the whole
// screen, so Xinerama reports exactly these heads.
func (s *Server) setMonitors(tb testing.TB) {
	tb.Helper()
	c := s.Conn(tb)
	if err := randr.Init(c); err != nil {
		tb.Fatalf("xtest: RandR: %v", err)
	}
	if _, err := randr.QueryVersion(c, 1, 5).Reply(); err != nil {
		tb.Fatalf("xtest: RandR version: %v", err)
	}
	root := xproto.Setup(c).DefaultScreen(c).Root
	cur, err := randr.GetMonitors(c, root, false).Reply()
	if err != nil || len(cur.Monitors) == 0 {
		tb.Fatalf("xtest: RandR monitors: %v (%d monitors)", err, len(cur.Monitors))
	}
	outputs := cur.Monitors[0].Outputs
	for i, m := range s.Monitors {
		name := fmt.Sprintf("XTEST-%d", i)
		atom, err := xproto.InternAtom(c, false, uint16(len(name)), name).Reply()
		if err != nil {
			tb.Fatalf("xtest: intern %s: %v", name, err)
		}
		info := randr.MonitorInfo{
			Name: atom.Atom, Primary: i == 0,
			X: int16(m.Min.X), Y: int16(m.Min.Y), Width: uint16(m.Dx()), Height: uint16(m.Dy()),
			WidthInMillimeters: mm(m.Dx()), HeightInMillimeters: mm(m.Dy()),
		}
		if i == 0 {
			info.Outputs, info.NOutput = outputs, uint16(len(outputs))
		}
		if err := randr.SetMonitorChecked(c, root, info).Check(); err != nil {
			tb.Fatalf("xtest: RandR set monitor %v: %v", m, err)
		}
	}
}

// mm is the size in millimetres of px pixels at 96 dpi.
func mm(px int) uint32 { return uint32(px * 254 / 960) }

// Resize changes the size of the root window to w x h, as a user changing
// the resolution would, and returns once the server has done it. Xvfb's
// framebuffer is allocated at start, so w and h cannot exceed the size the
// server started with; going back to it is fine. RandR's display (CRTC) is
// switched off for the rest of the server's life, which X clients that
// only read the root window do not notice.
func (s *Server) Resize(tb testing.TB, w, h int) {
	tb.Helper()
	c := s.Conn(tb)
	if err := randr.Init(c); err != nil {
		tb.Fatalf("xtest: RandR: %v", err)
	}
	root := xproto.Setup(c).DefaultScreen(c).Root
	res, err := randr.GetScreenResources(c, root).Reply()
	if err != nil {
		tb.Fatalf("xtest: RandR resources: %v", err)
	}
	// The screen must contain every enabled CRTC, and Xvfb offers no mode
	// but the start size: turn the CRTCs off so any smaller size is allowed.
	for _, crtc := range res.Crtcs {
		rep, err := randr.SetCrtcConfig(c, crtc, 0, res.ConfigTimestamp, 0, 0, 0,
			randr.RotationRotate0, nil).Reply()
		if err != nil || rep.Status != randr.SetConfigSuccess {
			tb.Fatalf("xtest: RandR disable CRTC %d: %v (status %d)", crtc, err, statusOf(rep))
		}
	}
	if err := randr.SetScreenSizeChecked(c, root, uint16(w), uint16(h), mm(w), mm(h)).Check(); err != nil {
		tb.Fatalf("xtest: RandR resize to %dx%d: %v", w, h, err)
	}
	geo, err := xproto.GetGeometry(c, xproto.Drawable(root)).Reply()
	if err != nil {
		tb.Fatalf("xtest: root geometry: %v", err)
	}
	if got := image.Pt(int(geo.Width), int(geo.Height)); got != image.Pt(w, h) {
		tb.Fatalf("xtest: root is %v after resizing to %dx%d", got, w, h)
	}
}

func statusOf(rep *randr.SetCrtcConfigReply) int {
	if rep == nil {
		return -1
	}
	return int(rep.Status)
}
