package capture

import (
	"context"
	"image"
	"runtime"
	"testing"
	"time"

	"github.com/jezek/xgb/xproto"

	"assist/internal/xtest"
)

// TestDamageWakesCapture: after a capture, a change on screen delivers on
// Damage.
func TestDamageWakesCapture(t *testing.T) {
	s := xtest.Start(t, xtest.Size(640, 480))
	src := openX(t, s, true)
	if !src.damageOK {
		t.Fatal("Xvfb has DAMAGE, the source does not use it")
	}
	pattern := xtest.Pattern(640, 480)
	win := s.Show(t, pattern)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, r := range []image.Rectangle{image.Rect(10, 10, 20, 20), image.Rect(600, 400, 640, 480)} {
		capture(t, src)
		select { // drop a notification from before this capture
		case <-src.Damage():
		default:
		}
		capture(t, src)
		other := clone(pattern)
		for k := range other.Pix {
			other.Pix[k] ^= byte(0x55 * (i + 1))
		}
		win.Update(t, r, other)
		select {
		case <-src.Damage():
		case <-ctx.Done():
			t.Fatalf("change %d at %v: no damage notification", i, r)
		}
	}
}

// TestPointerApartFromPixels: the pointer's position and shape come from
// Pointer, and the captured pixels under it are the window's own.
func TestPointerApartFromPixels(t *testing.T) {
	s := xtest.Start(t, xtest.Size(640, 480))
	src := openX(t, s, true)
	pattern := xtest.Pattern(640, 480)
	s.Show(t, pattern)
	c := s.Conn(t)
	root := xproto.Setup(c).DefaultScreen(c).Root
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, at := range []image.Point{{100, 50}, {333, 222}} {
		if err := xproto.WarpPointerChecked(c, 0, root, 0, 0, 0, 0, int16(at.X), int16(at.Y)).Check(); err != nil {
			t.Fatal(err)
		}
		p, err := src.Pointer(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Visible || p.X != at.X || p.Y != at.Y {
			t.Fatalf("pointer %+v, want visible at %v", p, at)
		}
		if i == 0 && (p.Shape == nil || !p.Hot.In(p.Shape.Bounds()) || opaque(p.Shape) == 0) {
			t.Fatalf("first Pointer has no usable shape: %+v", p)
		}
		if i > 0 && p.Shape != nil {
			t.Fatal("an unchanged shape was sent again")
		}
		samePixels(t, "capture under the pointer vs pattern", capture(t, src), pattern)
	}
}

// TestPointerChangedOnMotion: with XInput 2 (Xvfb has it) the source
// tells when the pointer moved, as a mouse moves it (XTest), and Pointer
// then reads where it went; after Close it no longer claims to watch.
func TestPointerChangedOnMotion(t *testing.T) {
	s := xtest.Start(t, xtest.Size(640, 480))
	src := openX(t, s, true)
	if !src.PointerWatched() {
		t.Fatal("Xvfb has XInput 2, the source does not watch the pointer")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, at := range []image.Point{{100, 50}, {333, 222}} {
		select { // drop a report from before this move
		case <-src.PointerChanged():
		default:
		}
		s.MovePointer(t, at)
		select {
		case <-src.PointerChanged():
		case <-ctx.Done():
			t.Fatalf("moving the pointer to %v was never reported", at)
		}
		p, err := src.Pointer(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if p.X != at.X || p.Y != at.Y {
			t.Fatalf("pointer at %d,%d after the report, want %v", p.X, p.Y, at)
		}
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if src.PointerWatched() {
		t.Error("a closed source still watches the pointer")
	}
}

func opaque(img *image.NRGBA) int {
	n := 0
	for i := 3; i < len(img.Pix); i += 4 {
		if img.Pix[i] != 0 {
			n++
		}
	}
	return n
}

func TestMonitors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := xtest.Start(t, xtest.Size(640, 400), xtest.SecondMonitor(320, 200))
	src := openX(t, s, true)
	ms, err := src.Monitors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Rect != s.Monitors[0] || ms[1].Rect != s.Monitors[1] || !ms[0].Primary || ms[1].Primary {
		t.Fatalf("monitors %+v, want %v with the first primary", ms, s.Monitors)
	}
	one := xtest.Start(t, xtest.Size(320, 240))
	ms, err = openX(t, one, true).Monitors(ctx)
	if err != nil || len(ms) != 1 || ms[0].Rect != image.Rect(0, 0, 320, 240) {
		t.Fatalf("one monitor: %+v %v", ms, err)
	}
}

// TestWindowsFollowTheServer: the window list is read again after a window
// moves or goes away (the server's SubstructureNotify events), and the
// same list is given back while nothing changes.
func TestWindowsFollowTheServer(t *testing.T) {
	s := xtest.Start(t, xtest.Size(640, 480))
	src := openX(t, s, true)
	if !src.windowsWatched {
		t.Fatal("the source does not watch the root's children")
	}
	win := s.Show(t, xtest.Pattern(200, 100))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// until polls Windows until want holds for the window's rectangle
	// (the server's event reaches the source on its own goroutine).
	until := func(what string, want func(r image.Rectangle, found bool) bool) {
		t.Helper()
		for {
			ws, err := src.Windows(ctx)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			var r image.Rectangle
			found := false
			for _, w := range ws {
				if w.ID == uint32(win.ID) {
					r, found = w.Rect, true
				}
			}
			if want(r, found) {
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("%s: windows %v", what, ws)
			}
			runtime.Gosched()
		}
	}
	until("shown", func(r image.Rectangle, found bool) bool { return found && r.Dx() == 200 && r.Dy() == 100 })
	first, _ := src.Windows(ctx)
	again, _ := src.Windows(ctx)
	if &first[0] != &again[0] {
		t.Error("an unchanged window list was read again")
	}
	c := s.Conn(t)
	if err := xproto.ConfigureWindowChecked(c, win.ID, xproto.ConfigWindowX|xproto.ConfigWindowY, []uint32{300, 200}).Check(); err != nil {
		t.Fatal(err)
	}
	until("moved", func(r image.Rectangle, found bool) bool { return found && r.Min == image.Pt(300, 200) })
	if err := xproto.UnmapWindowChecked(c, win.ID).Check(); err != nil {
		t.Fatal(err)
	}
	until("unmapped", func(_ image.Rectangle, found bool) bool { return !found })
}
