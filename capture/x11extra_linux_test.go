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

// TestCaptureReadsTheGuessedDamage: a change where the last ones lead (the
// next character of a line, the same box again) is read in the same round
// trip as the damage; anywhere else it takes a second one. Every capture
// equals the server's image.
func TestCaptureReadsTheGuessedDamage(t *testing.T) {
	glyph := image.Rect(100, 100, 106, 113)
	box := image.Rect(1500, 700, 1700, 900)
	steps := []struct {
		name   string
		change image.Rectangle
		trips  int // -1: 2 with shared memory, 1 without
	}{
		{"a first change: nothing to guess from", glyph, 2},
		{"the next character: one box is no direction yet", glyph.Add(image.Pt(6, 0)), 2},
		{"the one after: guessed", glyph.Add(image.Pt(12, 0)), 1},
		{"and the next", glyph.Add(image.Pt(18, 0)), 1},
		{"a change elsewhere", box, 2},
		{"the same box again (a terminal scrolling)", box, 1},
		{"inside it", image.Rect(1510, 710, 1520, 720), 1},
		{"half outside the guess", image.Rect(1525, 725, 1560, 760), 2},
		{"back at the line", glyph.Add(image.Pt(24, 0)), 2},
		{"a quarter of the screen and more", image.Rect(0, 0, 1200, 600), 2},
		{"that again: too large to guess", image.Rect(0, 0, 1200, 600), 2},
		{"a strip the screen wide", image.Rect(0, 500, 1920, 501), 2},
		// With shared memory whole rows land in place, over the frame:
		// never guessed. Plain GetImage returns them packed.
		{"the strip again", image.Rect(0, 500, 1920, 501), -1},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			s, src, pattern, win := showPattern(t, p.shm)
			capture(t, src)
			for i, st := range steps {
				win.Update(t, st.change, recoloured(pattern, i))
				before := src.roundTrips
				img := capture(t, src)
				samePixels(t, st.name, img, s.Screenshot(t))
				sameSegments(t, src, img)
				want := st.trips
				if want < 0 {
					want = map[bool]int{true: 2, false: 1}[p.shm]
				}
				if got := src.roundTrips - before; got != want {
					t.Errorf("%s: %d round trips, want %d", st.name, got, want)
				}
				if ch := src.Changed(); !st.change.In(ch) {
					t.Errorf("%s: changed %v, want it to hold %v", st.name, ch, st.change)
				}
				samePixels(t, st.name+", then nothing", capture(t, src), s.Screenshot(t))
			}
		})
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
	reads := func() int {
		src.winMu.Lock()
		defer src.winMu.Unlock()
		return src.windowReads
	}
	c := s.Conn(t)
	// Moved and resized where it is in the stack: followed from the
	// server's ConfigureNotify, without reading the list again, and
	// without changing a list handed out before.
	before := reads()
	if err := xproto.ConfigureWindowChecked(c, win.ID, xproto.ConfigWindowX|xproto.ConfigWindowY, []uint32{300, 200}).Check(); err != nil {
		t.Fatal(err)
	}
	until("moved", func(r image.Rectangle, found bool) bool { return found && r.Min == image.Pt(300, 200) })
	if err := xproto.ConfigureWindowChecked(c, win.ID, xproto.ConfigWindowWidth, []uint32{150}).Check(); err != nil {
		t.Fatal(err)
	}
	until("narrower", func(r image.Rectangle, found bool) bool { return found && r == image.Rect(300, 200, 450, 300) })
	if n := reads() - before; n != 0 {
		t.Errorf("a window moved in place: the list was read %d times, want 0", n)
	}
	if first[len(first)-1].Rect.Min == image.Pt(300, 200) {
		t.Error("a list handed out before the move changed")
	}
	// Another window over it, then it raised above that one: the stack
	// changed, the list is read again.
	over := s.Show(t, xtest.Pattern(50, 50))
	// onTop holds when w is the topmost window of the list.
	onTop := func(w xproto.Window) func(image.Rectangle, bool) bool {
		return func(_ image.Rectangle, found bool) bool {
			ws, _ := src.Windows(ctx)
			return found && len(ws) > 0 && ws[len(ws)-1].ID == uint32(w)
		}
	}
	until("under another", onTop(over.ID))
	before = reads()
	if err := xproto.ConfigureWindowChecked(c, win.ID, xproto.ConfigWindowStackMode, []uint32{xproto.StackModeAbove}).Check(); err != nil {
		t.Fatal(err)
	}
	until("raised", onTop(win.ID))
	if reads() == before {
		t.Error("a restacked window did not make the list be read again")
	}
	// Above another window, moved and given a border in its place: from
	// the events again (the rectangle holds the border on both sides).
	before = reads()
	if err := xproto.ConfigureWindowChecked(c, win.ID, xproto.ConfigWindowX|xproto.ConfigWindowY|xproto.ConfigWindowBorderWidth,
		[]uint32{100, 50, 3}).Check(); err != nil {
		t.Fatal(err)
	}
	until("moved above another", func(r image.Rectangle, found bool) bool { return found && r == image.Rect(100, 50, 256, 156) })
	if n := reads() - before; n != 0 {
		t.Errorf("a window moved in place above another: the list was read %d times, want 0", n)
	}
	if err := xproto.ConfigureWindowChecked(c, win.ID, xproto.ConfigWindowStackMode, []uint32{xproto.StackModeBelow}).Check(); err != nil {
		t.Fatal(err)
	}
	until("lowered", onTop(over.ID))
	if reads() == before {
		t.Error("a window lowered to the bottom did not make the list be read again")
	}
	if err := xproto.UnmapWindowChecked(c, win.ID).Check(); err != nil {
		t.Fatal(err)
	}
	until("unmapped", func(_ image.Rectangle, found bool) bool { return !found })
}

// TestCaptureKeepsFrames: a frame the caller keeps (FrameKeeper) stays as
// it was while later Captures read changes of every kind (guessed, read
// packed, whole rows landing in place in shared memory), each of which
// still returns the whole screen exactly; a frame not kept is written in
// place, and the one kept before it stays intact.
func TestCaptureKeepsFrames(t *testing.T) {
	glyph := image.Rect(100, 100, 106, 113)
	box := image.Rect(1500, 700, 1700, 900)
	steps := []struct {
		name   string
		change image.Rectangle
		keep   bool // Keep the frame before this change
	}{
		{"a glyph", glyph, true},
		{"the next one (guessed)", glyph.Add(image.Pt(6, 0)), true},
		{"and the next", glyph.Add(image.Pt(12, 0)), true},
		{"a box elsewhere", box, true},
		{"the box again, not kept", box, false},
		{"the box again, kept", box, true},
		{"a strip the screen wide (whole rows)", image.Rect(0, 500, 1920, 501), true},
		{"the strip again", image.Rect(0, 500, 1920, 501), true},
		{"a quarter of the screen and more", image.Rect(0, 0, 1200, 600), true},
		{"a glyph, not kept", glyph, false},
		{"rows in place, not kept", image.Rect(0, 300, 1920, 340), false},
		{"back at the box", box, true},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			s, src, pattern, win := showPattern(t, p.shm)
			img := capture(t, src)
			if src.Kept() != nil {
				t.Fatal("a frame is kept before any Keep")
			}
			var kept, keptWant *image.RGBA // the frame kept and what it must hold
			for i, st := range steps {
				if st.keep {
					if !src.Keep() {
						t.Fatalf("%s: Keep refused the newest frame", st.name)
					}
					kept, keptWant = img, clone(img)
					if i == 0 {
						// The first Keep gives the other buffer the whole
						// frame at once, not the Capture of the next change.
						if o := src.bufs[1-src.cur]; o == nil || src.blank[1-src.cur] || !src.stale[1-src.cur].Empty() {
							t.Fatal("the first Keep left the other buffer without the frame")
						} else {
							samePixels(t, "the other buffer after the first Keep", o, img)
						}
					}
				}
				win.Update(t, st.change, recoloured(pattern, i))
				img = capture(t, src)
				samePixels(t, st.name, img, s.Screenshot(t))
				sameSegments(t, src, img)
				if got := src.Kept(); got != kept {
					t.Fatalf("%s: Kept() is not the frame kept", st.name)
				}
				samePixels(t, st.name+": the kept frame", kept, keptWant)
				if &img.Pix[0] == &kept.Pix[0] {
					t.Fatalf("%s: the Capture after Keep wrote into the kept frame", st.name)
				}
			}
		})
	}
}

// recoloured is pattern with every colour changed, differently for each
// step i: what a step shows where it changes the window.
func recoloured(pattern *image.RGBA, i int) *image.RGBA {
	other := clone(pattern)
	for k := range other.Pix {
		if k%4 != 3 {
			other.Pix[k] ^= byte(0x35 * (i + 1))
		}
	}
	return other
}
