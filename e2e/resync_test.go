package e2e

import (
	"image"
	"image/color"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"assist/protocol"
	"assist/rep"
)

// stripes paints r with a two-colour pattern: text-like content, which the
// agent sends on the rep's deflate stream (EncZlib).
func (f *fakeScreen) stripes(r image.Rectangle, a, b color.RGBA) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := a
			if (x/3+y/2)%2 == 0 {
				c = b
			}
			f.img.SetRGBA(x, y, c)
		}
	}
}

// truncateMsg cuts the last byte off a message: it no longer decodes, as a
// corrupted one would not.
func truncateMsg(msg []byte) []byte { return msg[:len(msg)-1] }

// halveZlib cuts the deflate segment of the first zlib rect in half: the
// message decodes, the segment does not inflate, and the rep's stream is
// broken from there on.
func halveZlib(msg []byte) []byte {
	m, err := protocol.DecodeScreen(msg)
	if err != nil {
		return nil
	}
	for i, r := range m.Rects {
		if r.Enc == protocol.EncZlib {
			m.Rects[i].Data = r.Data[:4+(len(r.Data)-4)/2]
			if m.Kind == protocol.ScreenRectsEnd {
				return protocol.AppendRectsEnd(nil, m.Seq, m.Refining, m.Rects)
			}
			return protocol.AppendRects(nil, m.Rects)
		}
	}
	return nil
}

// TestScreenResyncHeals corrupts one screen message on its way into the
// rep, after which the rep's picture (or its deflate stream) is no longer
// what the agent believes: the rep asks for a resync, and its picture
// equals the agent's screen again. Without the resync the lost change would
// never come again (the agent thinks the rep has it).
func TestScreenResyncHeals(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*fakeScreen)
		corrupt func([]byte) []byte // nil: not this message
		errText string
	}{
		{
			name:    "malformed rects",
			change:  func(f *fakeScreen) { f.fill(image.Rect(70, 70, 90, 80), color.RGBA{255, 0, 0, 255}) },
			corrupt: truncateMsg,
			errText: "screen message",
		},
		{
			name: "broken deflate stream",
			change: func(f *fakeScreen) {
				f.stripes(image.Rect(0, 64, 192, 128), color.RGBA{0, 0, 0, 255}, color.RGBA{250, 250, 250, 255})
			},
			corrupt: halveZlib,
			errText: "zlib",
		},
	}
	for _, tt := range tests {
		for _, separate := range []bool{false, true} {
			name := tt.name
			if separate {
				name += ", frame ends apart"
			}
			t.Run(name, func(t *testing.T) { resyncHeals(t, tt.change, tt.corrupt, tt.errText, separate) })
		}
	}
}

// resyncHeals is one case of TestScreenResyncHeals; separate makes the rep
// ask for frame ends in messages of their own (as an older console).
func resyncHeals(t *testing.T, change func(*fakeScreen), corrupt func([]byte) []byte, errText string, separate bool) {
	p := startInProcess(t)
	ctx := deadline(t, 40*time.Second)
	code := p.sharing(t, ctx)

	var armed, corrupted atomic.Bool
	var rectsEnds, frameEnds atomic.Int32
	cfg := p.cfg
	cfg.SeparateFrameEnds = separate
	cfg.ScreenTap = func(msg []byte) []byte {
		switch msg[0] {
		case protocol.ScreenRectsEnd:
			rectsEnds.Add(1)
		case protocol.ScreenFrameEnd:
			frameEnds.Add(1)
		}
		if msg[0] != protocol.ScreenRects && msg[0] != protocol.ScreenRectsEnd || !armed.Load() || corrupted.Load() {
			return msg
		}
		bad := corrupt(msg)
		if bad == nil {
			return msg
		}
		corrupted.Store(true)
		return bad
	}
	c, err := rep.Attach(ctx, cfg, code)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitPicture(t, ctx, c, p.screen.snapshot())
	if st := c.Stats(); st.ResyncRequests != 0 || st.Resyncs != 0 {
		t.Fatalf("resyncs before any corruption: %+v", st)
	}
	// The agent ends its frames the way the rep's hello asked for.
	if n, m := rectsEnds.Load(), frameEnds.Load(); separate && (n != 0 || m == 0) || !separate && n == 0 {
		t.Fatalf("%d ScreenRectsEnd and %d ScreenFrameEnd messages with frame ends apart %v", n, m, separate)
	}

	armed.Store(true)
	change(p.screen)
	waitPicture(t, ctx, c, p.screen.snapshot())
	if !corrupted.Load() {
		t.Fatal("no message was corrupted: the test tested nothing")
	}
	st := c.Stats()
	if st.ResyncRequests < 1 || st.Resyncs < 1 {
		t.Fatalf("the picture healed with %d requests and %d answers", st.ResyncRequests, st.Resyncs)
	}
	asked, answered := c.ResyncSerials()
	if answered == 0 || answered > asked {
		t.Fatalf("resync serials: asked %d, answered %d", asked, answered)
	}
	found := false
	for _, e := range c.Errors() {
		found = found || strings.Contains(e, errText)
	}
	if !found {
		t.Fatalf("the failure is not in the rep's errors %q", c.Errors())
	}

	// The fresh state keeps working: a later change arrives too.
	p.screen.fill(image.Rect(200, 10, 260, 50), color.RGBA{0, 0, 255, 255})
	waitPicture(t, ctx, c, p.screen.snapshot())
}

// TestScreenResyncFlood: a rep asking for a resync every 5 ms for 2.5 s
// gets at most one whole picture per protocol.ResyncInterval, the requests
// in between coalesced; the last request is answered, and the picture is
// still the screen.
func TestScreenResyncFlood(t *testing.T) {
	p := startInProcess(t)
	ctx := deadline(t, 40*time.Second)
	code := p.sharing(t, ctx)
	c, err := rep.Attach(ctx, p.cfg, code)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitPicture(t, ctx, c, p.screen.snapshot())

	c.ResetStats()
	start := time.Now()
	tick := time.NewTicker(5 * time.Millisecond) // paces the flood; nothing waits on it
	defer tick.Stop()
	requests := 0
	for time.Since(start) < 2500*time.Millisecond {
		if err := c.RequestResync("flood"); err != nil {
			t.Fatal(err)
		}
		requests++
		<-tick.C
	}
	asked, _ := c.ResyncSerials()
	if err := c.WaitScreenState(ctx, func() bool { _, a := c.ResyncSerials(); return a == asked }); err != nil {
		t.Fatalf("the last request (%d) was never answered: %v", asked, err)
	}
	elapsed := time.Since(start)
	st := c.Stats()
	most := int64(elapsed/protocol.ResyncInterval) + 1
	t.Logf("%d requests in %v: %d whole pictures (at most %d)", requests, elapsed, st.Resyncs, most)
	if st.Resyncs > most {
		t.Fatalf("%d requests in %v gave %d whole pictures, want at most %d", requests, elapsed, st.Resyncs, most)
	}
	if st.Resyncs < 2 {
		t.Fatalf("%d requests over %v gave %d answers, want one now and the rest coalesced later", requests, elapsed, st.Resyncs)
	}
	waitPicture(t, ctx, c, p.screen.snapshot())
}
