package e2e

import (
	"context"
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
	t.Helper()
	p := startInProcess(t)
	src, err := capture.Open(capture.Options{Display: x.Display, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
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
