package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"testing"
	"time"

	"github.com/jezek/xgb/xproto"

	"assist/agent"
	"assist/capture"
	"assist/internal/xtest"
	"assist/protocol"
	"assist/rep"
)

// startXSession runs an in-process agent sharing x's screen through the
// real X11 source, and attaches a rep.
func startXSession(t *testing.T, ctx context.Context, x *xtest.Server) *rep.Client {
	return startXSessionWith(t, ctx, x, nil)
}

// startXSessionWith is startXSession with the agent capturing through
// wrap(source) when wrap is not nil.
func startXSessionWith(t *testing.T, ctx context.Context, x *xtest.Server, wrap func(capture.Source) capture.Source) *rep.Client {
	t.Helper()
	p := startInProcess(t)
	src, err := capture.Open(capture.Options{Display: x.Display, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	if wrap != nil {
		src = wrap(src)
	}
	in, err := rep.NewSession(ctx, p.cfg)
	if err != nil {
		t.Fatal(err)
	}
	actx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- runAgentOn(actx, p, in.Code, src)
	}()
	t.Cleanup(func() {
		stop()
		<-done
	})
	c, err := rep.Attach(ctx, p.cfg, in.Code)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestOnlyChangedTilesAreSent shows a known picture on a real Xvfb, lets
// the rep's picture settle, changes a known region and checks that the rep
// shows exactly the new pixels and got nothing outside the touched tiles.
func TestOnlyChangedTilesAreSent(t *testing.T) {
	x := xtest.Start(t, xtest.Size(800, 600))
	pattern := xtest.Pattern(800, 600)
	win := x.Show(t, pattern)
	ctx := deadline(t, 60*time.Second)
	c := startXSession(t, ctx, x)
	if _, err := c.WaitSettled(ctx); err != nil {
		t.Fatal(err)
	}
	for _, region := range []image.Rectangle{
		image.Rect(70, 70, 90, 80),     // inside one tile of the text area
		image.Rect(120, 200, 140, 210), // across a tile edge
		image.Rect(600, 400, 700, 420), // the 1-px lines
	} {
		c.ResetStats()
		other := xtest.Pattern(800, 600)
		for i := range other.Pix {
			if i%4 != 3 {
				other.Pix[i] = 255 - other.Pix[i]/2
			}
		}
		win.Update(t, region, other)
		want := x.Screenshot(t)
		// Exact but for the pattern's noise "photo", which settles as JPEG.
		photo := xtest.PatternLayout(800, 600).Photo
		if _, err := c.WaitPicture(ctx, func(p *image.RGBA) bool { return settledMatch(p, want, photo, 25) == "" }); err != nil {
			t.Fatalf("change at %v: %s: %v", region, settledMatch(c.Picture(), want, photo, 25), err)
		}
		touched := image.Rect(region.Min.X/64*64, region.Min.Y/64*64, (region.Max.X+63)/64*64, (region.Max.Y+63)/64*64)
		rects := c.Rects()
		if len(rects) == 0 {
			t.Fatalf("change at %v: no rectangles", region)
		}
		for _, r := range rects {
			if !r.Rect.In(touched) {
				t.Errorf("change at %v: got rectangle %v (encoding %d), outside the touched tiles %v", region, r.Rect, r.Enc, touched)
			}
		}
		t.Logf("change at %v: %d rectangles, %d bytes", region, len(rects), c.Stats().Bytes["screen"])
	}
}

// TestCursorTravelsApart moves the pointer on a real Xvfb, as a mouse does
// (XTest motion, which the agent hears of through XInput 2) and as a
// program does (a warp, which only its slower poll sees): the rep learns
// its position and shape, and no pixels are sent for it.
func TestCursorTravelsApart(t *testing.T) {
	x := xtest.Start(t, xtest.Size(640, 480))
	x.Show(t, xtest.Pattern(640, 480))
	ctx := deadline(t, 60*time.Second)
	c := startXSession(t, ctx, x)
	if _, err := c.WaitSettled(ctx); err != nil {
		t.Fatal(err)
	}
	conn := x.Conn(t)
	root := xproto.Setup(conn).DefaultScreen(conn).Root
	c.ResetStats()
	for i, at := range []image.Point{{100, 100}, {300, 200}, {639, 479}} {
		if i < 2 {
			x.MovePointer(t, at)
		} else if err := xproto.WarpPointerChecked(conn, 0, root, 0, 0, 0, 0, int16(at.X), int16(at.Y)).Check(); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitScreenState(ctx, func() bool {
			cur := c.Cursor()
			return cur.Visible && cur.X == at.X && cur.Y == at.Y && cur.Shape != nil
		}); err != nil {
			t.Fatalf("the rep's cursor is %+v, want visible at %v with a shape: %v", c.Cursor(), at, err)
		}
	}
	if n := len(c.Rects()); n != 0 {
		t.Fatalf("moving the pointer sent %d rectangles of pixels", n)
	}
}

// TestMonitorChoice: the rep picks the second monitor of a dual-head Xvfb,
// then all of them; the picture follows.
func TestMonitorChoice(t *testing.T) {
	x := xtest.Start(t, xtest.Size(640, 400), xtest.SecondMonitor(320, 200))
	x.Show(t, xtest.Pattern(960, 400))
	ctx := deadline(t, 60*time.Second)
	c := startXSession(t, ctx, x)
	if _, err := c.WaitSettled(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitScreenState(ctx, func() bool { m, _ := c.Monitors(); return len(m) == 2 }); err != nil {
		t.Fatalf("never heard of two monitors: %v", err)
	}
	mons, _ := c.Monitors()
	if mons[1] != (protocol.MonitorInfo{X: 640, Y: 0, W: 320, H: 200}) || !mons[0].Primary {
		t.Fatalf("monitors %+v", mons)
	}
	full := x.Screenshot(t)
	second := image.NewRGBA(image.Rect(0, 0, 320, 200))
	for y := 0; y < 200; y++ {
		copy(second.Pix[second.PixOffset(0, y):second.PixOffset(320, y)], full.Pix[full.PixOffset(640, y):full.PixOffset(960, y)])
	}
	c.ResetStats()
	if err := c.SelectMonitor(2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitPicture(ctx, func(p *image.RGBA) bool { ok, _ := equalImages(p, second); return ok }); err != nil {
		pic := c.Picture()
		_, at := equalImages(pic, second)
		t.Fatalf("the second monitor never showed alone (picture %v, first difference at %v, %v vs %v; rects %v): %v", pic.Rect, at, pic.RGBAAt(at.X, at.Y), second.RGBAAt(at.X, at.Y), c.Rects(), err)
	}
	if err := c.SelectMonitor(0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitPicture(ctx, func(p *image.RGBA) bool {
		return p.Rect == full.Rect && settledMatch(p, full, xtest.PatternLayout(960, 400).Photo, 25) == ""
	}); err != nil {
		t.Fatalf("all monitors never came back: %v", err)
	}
}

func runAgentOn(ctx context.Context, p *inProcess, code string, src capture.Source) error {
	return agent.Run(ctx, agent.Config{
		Server: p.url, Code: code, Screen: src, Loopback: true, Logger: quietLogger(),
		Ask: func(context.Context, string) (bool, error) { return true, nil },
	})
}

// TestMovesArriveExact drags a window across a real Xvfb by steps off the
// tile grid and scrolls the desktop under it: every step reaches the rep as
// a copy of what it already shows plus the pixels that are new, and its
// picture is then the screen, pixel for pixel (the hashes the agent derives
// for the moved tiles, instead of reading their pixels, must be right).
// It runs with the X11 source keeping the agent's previous frame
// (capture.FrameKeeper) and with a source that cannot, whose frames the
// agent copies (the other systems' sources).
func TestMovesArriveExact(t *testing.T) {
	t.Run("kept frames", func(t *testing.T) { movesArriveExact(t, nil) })
	t.Run("copied frames", func(t *testing.T) {
		movesArriveExact(t, func(src capture.Source) capture.Source {
			if _, ok := src.(capture.FrameKeeper); !ok {
				t.Fatal("the X11 source does not keep frames")
			}
			return noKeeping{src.(keepingSource)}
		})
	})
}

// keepingSource is what the X11 source is to the agent; noKeeping hides
// its FrameKeeper.
type keepingSource interface {
	capture.Source
	capture.Damager
	capture.PointerWatcher
	capture.MonitorSource
	capture.WindowSource
	capture.ChangeReporter
	capture.SegmentSource
}

type noKeeping struct{ keepingSource }

func movesArriveExact(t *testing.T, wrap func(capture.Source) capture.Source) {
	const w, h = 800, 600
	xs := xtest.Start(t, xtest.Size(w, h))
	// A desktop and a window of four colours each (few colours: exact
	// everywhere, no photo to settle lossy). The desktop's rows carry
	// their number in bits, so that no two are alike (repeated rows say
	// nothing about a scroll; it repeats across, every 330 pixels); the
	// window's pixels follow a hash of their place, so that no part of it
	// looks like another (the search over pixels finds it too).
	fill := func(img *image.RGBA, palette [4][3]byte, f func(px, py int) int) {
		b := img.Bounds()
		for py := b.Min.Y; py < b.Max.Y; py++ {
			for px := b.Min.X; px < b.Max.X; px++ {
				c := palette[f(px, py)%4]
				copy(img.Pix[img.PixOffset(px, py):], []byte{c[0], c[1], c[2], 255})
			}
		}
	}
	desk := image.NewRGBA(image.Rect(0, 0, w, h))
	fill(desk, [4][3]byte{{250, 250, 250}, {30, 30, 30}, {40, 90, 200}, {200, 60, 40}}, func(px, py int) int { return (py>>(px/3%10)&1)*2 + (px*7+py*13+px*py%11)%2 })
	bg := xs.Show(t, desk)
	win := image.NewRGBA(image.Rect(0, 0, 203, 157))
	fill(win, [4][3]byte{{255, 255, 200}, {0, 0, 0}, {0, 128, 0}, {128, 0, 128}}, func(px, py int) int {
		return int((uint32(px)*2654435761 ^ uint32(py)*2246822519) >> 30)
	})
	top := xs.Show(t, win)
	ctx := deadline(t, 60*time.Second)
	c := startXSessionWith(t, ctx, xs, wrap)
	if _, err := c.WaitSettled(ctx); err != nil {
		t.Fatal(err)
	}
	conn := xs.Conn(t)
	logRects := func() {
		for _, r := range c.Rects() {
			t.Logf("rect %v encoding %d", r.Rect, r.Enc)
		}
	}
	exact := func(what string) {
		t.Helper()
		want := xs.Screenshot(t)
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if _, err := c.WaitPicture(wctx, func(p *image.RGBA) bool { return bytes.Equal(p.Pix, want.Pix) }); err != nil {
			var bad image.Rectangle // where the picture differs
			if got := c.Picture(); got != nil && got.Rect == want.Rect {
				for py := 0; py < h; py++ {
					for px := 0; px < w; px++ {
						o := want.PixOffset(px, py)
						if !bytes.Equal(got.Pix[o:o+4], want.Pix[o:o+4]) {
							bad = bad.Union(image.Rect(px, py, px+1, py+1))
						}
					}
				}
			}
			logRects()
			t.Fatalf("%s: the picture differs from the screen in %v: %v", what, bad, err)
		}
		copies := 0
		for _, r := range c.Rects() {
			if r.Enc == protocol.EncCopy {
				copies++
			}
		}
		if copies == 0 {
			logRects()
			t.Errorf("%s: no copy among %d rectangles", what, len(c.Rects()))
		}
	}
	at := image.Pt(0, 0)
	// settle waits for the previous step's last frame before counting anew.
	settle := func() {
		t.Helper()
		if _, err := c.WaitSettled(ctx); err != nil {
			t.Fatal(err)
		}
		c.ResetStats()
	}
	for i, step := range []image.Point{{37, 23}, {41, 19}, {-13, 29}, {64, 0}, {5, -17}} {
		settle()
		at = at.Add(step)
		if err := xproto.ConfigureWindowChecked(conn, top.ID, xproto.ConfigWindowX|xproto.ConfigWindowY,
			[]uint32{uint32(at.X), uint32(at.Y)}).Check(); err != nil {
			t.Fatal(err)
		}
		what := fmt.Sprintf("window step %d to %v", i+1, at)
		exact(what)
		// The window's own pixels came by the copy: only what it exposed
		// went out, nothing from the middle of the window.
		inner := image.Rectangle{Min: at, Max: at.Add(win.Rect.Size())}.Inset(64)
		for _, r := range c.Rects() {
			if r.Enc != protocol.EncCopy && r.Rect.Overlaps(inner) {
				t.Errorf("%s: pixels of the moved window went out again: %v (encoding %d)", what, r.Rect, r.Enc)
			}
		}
	}
	// The desktop scrolls up by 13 rows: its rows below the window move.
	settle()
	scrolled := image.NewRGBA(desk.Rect)
	copy(scrolled.Pix, desk.Pix[13*desk.Stride:])
	bg.Update(t, image.Rect(0, 300, w, h), scrolled)
	exact("desktop scrolled")
}
