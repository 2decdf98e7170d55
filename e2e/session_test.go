package e2e

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"log/slog"
	"math"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"assist/agent"
	"assist/protocol"
	"assist/rep"
	"assist/server"
)

// fakeScreen is a screen whose pixels the test sets.
type fakeScreen struct {
	mu  sync.Mutex
	img *image.RGBA
}

func newFakeScreen(w, h int) *fakeScreen {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetRGBA(x, y, color.RGBA{uint8(x * 7), uint8(y * 3), uint8((x ^ y) * 5), 255})
		}
	}
	return &fakeScreen{img: img}
}

func (f *fakeScreen) Capture(ctx context.Context) (*image.RGBA, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cp := image.NewRGBA(f.img.Rect)
	copy(cp.Pix, f.img.Pix)
	return cp, nil
}

func (f *fakeScreen) fill(r image.Rectangle, c color.RGBA) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			f.img.SetRGBA(x, y, c)
		}
	}
}

func (f *fakeScreen) snapshot() *image.RGBA {
	img, _ := f.Capture(context.Background())
	return img
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type inProcess struct {
	url    string
	cfg    rep.Config
	srv    *server.Server
	screen *fakeScreen
}

func startInProcess(t testing.TB) *inProcess {
	t.Helper()
	srv, err := server.New(server.Config{RepToken: "tok", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.CloseClientConnections()
		srv.Close()
		hs.Close()
	})
	return &inProcess{
		url: hs.URL, srv: srv, screen: newFakeScreen(333, 201),
		cfg: rep.Config{Server: hs.URL, Token: "tok", Loopback: true, Logger: quietLogger()},
	}
}

// runAgent starts agent.Run in the background; the returned channel gets its result.
// sharing creates a session on p and runs an agent that joins it with the
// customer's consent until the test ends; it returns the session's code.
func (p *inProcess) sharing(t *testing.T, ctx context.Context) string {
	t.Helper()
	in, err := rep.NewSession(ctx, p.cfg)
	if err != nil {
		t.Fatal(err)
	}
	agentCtx, stopAgent := context.WithCancel(ctx)
	t.Cleanup(stopAgent)
	p.runAgent(t, agentCtx, in.Code, true)
	return in.Code
}

// runFilesAgent runs an agent that joins code with the customer's consent,
// saves incoming files in a temporary folder and offers the customer's
// files through files, until the test ends or stop (which waits for the
// agent to return) is called.
func (p *inProcess) runFilesAgent(t *testing.T, ctx context.Context, code string, files *agent.Files) (stop func()) {
	t.Helper()
	agentCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- agent.Run(agentCtx, agent.Config{
			Server: p.url, Code: code, Screen: p.screen, Loopback: true, Logger: quietLogger(),
			Ask: func(context.Context, string) (bool, error) { return true, nil }, Files: files,
			Downloads: t.TempDir(), TransferJournal: "-",
		})
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	t.Cleanup(stop)
	return stop
}

func (p *inProcess) runAgent(t *testing.T, ctx context.Context, code string, consent bool) <-chan error {
	done := make(chan error, 1)
	go func() {
		done <- agent.Run(ctx, agent.Config{
			Server: p.url, Code: code, Screen: p.screen, Loopback: true, Logger: quietLogger(),
			Ask: func(context.Context, string) (bool, error) { return consent, nil },
		})
	}()
	return done
}

func equalImages(a, b *image.RGBA) (bool, image.Point) {
	if a.Rect != b.Rect {
		return false, image.Point{-1, -1}
	}
	for y := a.Rect.Min.Y; y < a.Rect.Max.Y; y++ {
		for x := a.Rect.Min.X; x < a.Rect.Max.X; x++ {
			o := a.PixOffset(x, y)
			if a.Pix[o] != b.Pix[o] || a.Pix[o+1] != b.Pix[o+1] || a.Pix[o+2] != b.Pix[o+2] {
				return false, image.Point{x, y}
			}
		}
	}
	return true, image.Point{}
}

// waitPicture waits until the rep's picture equals want exactly: the
// screen has settled (lossy areas refined) and every tile arrived.
func waitPicture(t *testing.T, ctx context.Context, c *rep.Client, want *image.RGBA) {
	t.Helper()
	if _, err := c.WaitPicture(ctx, func(got *image.RGBA) bool { ok, _ := equalImages(got, want); return ok }); err != nil {
		at := image.Pt(-1, -1)
		if pic := c.Picture(); pic != nil {
			_, at = equalImages(pic, want)
		}
		t.Fatalf("the rep's picture never became the screen (first difference at %v): %v", at, err)
	}
}

func deadline(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestSessionInProcess(t *testing.T) {
	p := startInProcess(t)
	ctx := deadline(t, 30*time.Second)
	in, err := rep.NewSession(ctx, p.cfg)
	if err != nil {
		t.Fatal(err)
	}
	agentCtx, stopAgent := context.WithCancel(ctx)
	defer stopAgent()
	agentDone := p.runAgent(t, agentCtx, in.Code, true)

	c, err := rep.Attach(ctx, p.cfg, in.Code)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Photo-like content goes out lossy first, then exact once it is quiet.
	waitPicture(t, ctx, c, p.screen.snapshot())

	// A change reaches the rep as a later frame, with only the touched tiles.
	c.ResetStats()
	p.screen.fill(image.Rect(70, 70, 90, 80), color.RGBA{255, 0, 0, 255})
	want := p.screen.snapshot()
	waitPicture(t, ctx, c, want)
	if st := c.Stats(); st.Tiles < 1 || st.Tiles > 2 {
		t.Errorf("a change inside one tile sent %d rectangles, want the tile (and its refinement)", st.Tiles)
	}

	// A second rep connection attaches to the running session and gets the
	// whole picture; the first keeps working.
	c2, err := rep.Attach(ctx, p.cfg, in.Code)
	if err != nil {
		t.Fatal(err)
	}
	waitPicture(t, ctx, c2, want)
	c2.Close()

	// Ctrl+C at the agent ends the session on the rep's side.
	stopAgent()
	if err := <-agentDone; err != nil {
		t.Fatalf("agent.Run after cancel = %v, want nil", err)
	}
	select {
	case <-c.Ended():
	case <-ctx.Done():
		t.Fatal("the rep never saw the session end")
	}
	if st, reason := c.State(); st != protocol.StateEnded || reason == "" {
		t.Fatalf("rep state %q %q", st, reason)
	}
}

func TestSessionEndedByRep(t *testing.T) {
	p := startInProcess(t)
	ctx := deadline(t, 30*time.Second)
	in, _ := rep.NewSession(ctx, p.cfg)
	agentDone := p.runAgent(t, ctx, in.Code, true)
	c, err := rep.Attach(ctx, p.cfg, in.Code)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WaitFrame(ctx, false); err != nil {
		t.Fatal(err)
	}
	if err := c.End(ctx, "done"); err != nil {
		t.Fatal(err)
	}
	err = <-agentDone
	var ended *agent.EndedError
	if !errors.As(err, &ended) || ended.Reason != "done" {
		t.Fatalf("agent.Run = %v, want ended with the rep's reason", err)
	}
}

func TestAgentRefusals(t *testing.T) {
	p := startInProcess(t)
	ctx := deadline(t, 30*time.Second)
	in, _ := rep.NewSession(ctx, p.cfg)
	wrong := "123456789"
	if in.Code == wrong {
		wrong = "987654321"
	}
	err := <-p.runAgent(t, ctx, wrong, true)
	var refused *agent.RefusedError
	if !errors.As(err, &refused) || refused.Code != protocol.CodeBadCode {
		t.Fatalf("wrong code: %v", err)
	}

	// Declining consent ends the session for the rep with a clear reason.
	c, err := rep.Attach(ctx, p.cfg, in.Code)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := <-p.runAgent(t, ctx, in.Code, false); !errors.Is(err, agent.ErrDeclined) {
		t.Fatalf("declined: %v", err)
	}
	select {
	case <-c.Ended():
	case <-ctx.Done():
		t.Fatal("rep never saw the end")
	}
	if _, reason := c.State(); reason != "the customer declined to share the screen" {
		t.Fatalf("reason %q", reason)
	}
}

// settledMatch compares a settled picture with the screen: exact except in
// the 64-px tiles that touch photo (photo-like content stays lossy when an
// exact copy costs more than the link budget allows), where it needs a PSNR
// of at least minPSNR. It returns "" when they match, else what differs.
func settledMatch(got, want *image.RGBA, photo image.Rectangle, minPSNR float64) string {
	if got.Rect != want.Rect {
		return fmt.Sprintf("picture of %v, screen of %v", got.Rect, want.Rect)
	}
	const t = 64
	lossy := image.Rect(photo.Min.X/t*t, photo.Min.Y/t*t, (photo.Max.X+t-1)/t*t, (photo.Max.Y+t-1)/t*t).Intersect(want.Rect)
	var se float64
	for y := want.Rect.Min.Y; y < want.Rect.Max.Y; y++ {
		for x := want.Rect.Min.X; x < want.Rect.Max.X; x++ {
			o := want.PixOffset(x, y)
			in := image.Pt(x, y).In(lossy)
			for c := 0; c < 3; c++ {
				d := float64(got.Pix[o+c]) - float64(want.Pix[o+c])
				if d != 0 && !in {
					return fmt.Sprintf("pixel %d,%d differs outside the photo", x, y)
				}
				se += d * d
			}
		}
	}
	if n := float64(3 * lossy.Dx() * lossy.Dy()); n > 0 && se > 0 {
		if p := 10 * math.Log10(255*255*n/se); p < minPSNR {
			return fmt.Sprintf("photo PSNR %.1f dB, want >= %.0f", p, minPSNR)
		}
	}
	return ""
}
