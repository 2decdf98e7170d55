package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"assist/agent"
	"assist/internal/xtest"
	"assist/protocol"
	"assist/rep"
)

const controlQ = "control your mouse"

// controlAgent runs an in-process agent on display x whose answer to the
// control question comes from answers; revoke takes control back. stop
// ends the agent and returns agent.Run's result; it also runs when the test
// ends, before the X server stops.
func (p *inProcess) controlAgent(t testing.TB, code string, x *xtest.Server, answers <-chan bool, revoke <-chan struct{}) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	go func() {
		defer close(done)
		runErr = agent.Run(ctx, agent.Config{
			Server: p.url, Code: code, Screen: p.screen, Loopback: true, Logger: quietLogger(),
			Display: x.Display, RevokeControl: revoke, ClipboardPoll: 20 * time.Millisecond,
			Ask: func(ctx context.Context, q string) (bool, error) {
				if !strings.Contains(q, controlQ) {
					return true, nil // sharing the screen
				}
				select {
				case ok := <-answers:
					return ok, nil
				case <-ctx.Done():
					return false, ctx.Err()
				}
			},
		})
	}()
	stop = func() error {
		cancel()
		<-done
		return runErr
	}
	t.Cleanup(func() { stop() })
	return stop
}

// nextKey returns the next KeyPress xev reports.
func nextKey(t *testing.T, ctx context.Context, v *xtest.Xev) xtest.Event {
	t.Helper()
	evs, err := v.WaitFor(ctx, func(e xtest.Event) bool { return e.Type == "KeyPress" })
	if err != nil {
		t.Fatal(err)
	}
	return evs[len(evs)-1]
}

// expectRefused checks that the agent refused exactly n input messages
// since the last sync (so they were handled, and injected nothing).
func expectRefused(t *testing.T, ctx context.Context, c *rep.Client, n int) {
	t.Helper()
	got, err := c.SyncInput(ctx)
	if err != nil || got != n {
		t.Fatalf("the agent refused %d input messages (%v), want %d", got, err, n)
	}
}

// waitErr waits until the rep has seen an agent error containing want.
func waitErr(t *testing.T, ctx context.Context, c *rep.Client, want string) {
	t.Helper()
	for {
		if strings.Contains(c.LastRemoteError(), want) {
			return
		}
		// The pong of a ping sent after the refused message arrives after
		// the refusal was sent; the error travels on the control channel.
		if _, err := c.SyncInput(ctx); err != nil {
			t.Fatalf("waiting for an error %q: %v (last: %q)", want, err, c.LastRemoteError())
		}
	}
}

func key(t *testing.T, c *rep.Client, names ...string) {
	t.Helper()
	keys, err := rep.ParseKeys(names...)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if err := c.Key(k.Down, k.Code, k.Key, k.Flags); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRemoteControlInProcess walks the grant through its states with a real
// agent, rep and X server: input before the grant, after a refusal, after
// the customer revoked it, and malformed input inject nothing and get an
// error; a granted rep's keys and clipboard reach the customer; revoking
// releases the keys the rep held; the end of the session leaves no
// clipboard helper behind.
func TestRemoteControlInProcess(t *testing.T) {
	x := xtest.Start(t, xtest.Size(640, 480))
	t.Setenv("DISPLAY", x.Display) // the clipboard tools use it
	xev := x.StartXev(t, 0, 0, 640, 480)
	p := startInProcess(t)
	ctx := deadline(t, 60*time.Second)
	in, err := rep.NewSession(ctx, p.cfg)
	if err != nil {
		t.Fatal(err)
	}
	answers := make(chan bool, 1)
	revoke := make(chan struct{})
	stopAgent := p.controlAgent(t, in.Code, x, answers, revoke)
	c, err := rep.Attach(ctx, p.cfg, in.Code)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WaitFrame(ctx, false); err != nil {
		t.Fatal(err)
	}

	// View-only: input is refused and injects nothing.
	if err := c.SendInput(protocol.InputEvent{Kind: protocol.InputMove, X: 320, Y: 240}); err != nil {
		t.Fatal(err)
	}
	key(t, c, "a")
	expectRefused(t, ctx, c, 3)
	waitErr(t, ctx, c, "not been granted")

	// The customer refuses.
	answers <- false
	if err := c.RequestControl(ctx); !errors.Is(err, rep.ErrRefused) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("RequestControl after a refusal = %v", err)
	}
	key(t, c, "w")
	expectRefused(t, ctx, c, 2)

	// The customer grants: keys arrive, the first being the one sent now.
	answers <- true
	if err := c.RequestControl(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.SendInput(protocol.InputEvent{Kind: protocol.InputMove, X: 320, Y: 240}); err != nil {
		t.Fatal(err)
	}
	key(t, c, "b")
	if e := nextKey(t, ctx, xev); e.Name != "b" {
		t.Fatalf("first key on the customer's screen: %s, want b (refused keys leaked)", e)
	}

	// Malformed input is refused, injects nothing; the channel goes on.
	if err := c.SendInputRaw([]byte{protocol.InputKeyDown, 0, 0, 99}); err != nil {
		t.Fatal(err)
	}
	expectRefused(t, ctx, c, 1)
	waitErr(t, ctx, c, "malformed")

	// Clipboard both ways: the agent sends the clipboard at the grant (empty
	// here), then whatever the customer copies; the rep's text lands.
	if err := c.SetClipboard(ctx, "de la consola: ñandú 😀\r\nsegunda línea"); err != nil {
		t.Fatal(err)
	}
	if got := xclip(t, x, "-o"); got != "de la consola: ñandú 😀\r\nsegunda línea" {
		t.Fatalf("the customer's clipboard holds %q", got)
	}
	if len(helpersOn(x)) == 0 {
		t.Fatal("no clipboard helper while the rep's text is in the clipboard")
	}
	xclipSet(t, x, "copiado por el cliente: 中文 €\r\n")
	for {
		got, err := c.Clipboard(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		if got == "copiado por el cliente: 中文 €\r\n" {
			break
		}
		if _, err := c.Clipboard(ctx, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.SetClipboard(ctx, strings.Repeat("x", protocol.MaxClipboard+1)); !errors.Is(err, protocol.ErrTooLarge) {
		t.Fatalf("a clipboard text over 1 MiB: %v", err)
	}

	// A held Shift is released when the customer takes control back.
	key(t, c, "c")
	if e := nextKey(t, ctx, xev); e.Name != "c" {
		t.Fatalf("got %s, want c", e)
	}
	if err := c.Key(true, "ShiftLeft", "Shift", 0); err != nil {
		t.Fatal(err)
	}
	if e := nextKey(t, ctx, xev); e.Name != "Shift_L" {
		t.Fatalf("got %s, want Shift_L", e)
	}
	revoke <- struct{}{}
	if _, err := xev.WaitFor(ctx, func(e xtest.Event) bool { return e.Type == "KeyRelease" && e.Name == "Shift_L" }); err != nil {
		t.Fatalf("the held Shift was not released on revocation: %v", err)
	}
	for c.Controlled() {
		if _, err := c.SyncInput(ctx); err != nil {
			t.Fatal(err)
		}
	}
	key(t, c, "d")
	expectRefused(t, ctx, c, 2)
	answers <- true
	if err := c.RequestControl(ctx); err != nil {
		t.Fatal(err)
	}
	key(t, c, "e")
	if e := nextKey(t, ctx, xev); e.Name != "e" {
		t.Fatalf("after revocation and a new grant: %s, want e (a refused key leaked)", e)
	}

	// A second rep holds Ctrl and goes away: the agent lets go of it.
	c2, err := rep.Attach(ctx, p.cfg, in.Code)
	if err != nil {
		t.Fatal(err)
	}
	answers <- true
	if err := c2.RequestControl(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c2.Key(true, "ControlRight", "Control", 0); err != nil {
		t.Fatal(err)
	}
	if e := nextKey(t, ctx, xev); e.Name != "Control_R" {
		t.Fatalf("got %s, want Control_R", e)
	}
	c2.Close()
	if _, err := xev.WaitFor(ctx, func(e xtest.Event) bool { return e.Type == "KeyRelease" && e.Name == "Control_R" }); err != nil {
		t.Fatalf("the Ctrl of a rep who left stayed down: %v", err)
	}

	// The session ends: no clipboard helper remains.
	if err := stopAgent(); err != nil {
		t.Fatal(err)
	}
	if h := helpersOn(x); len(h) != 0 {
		t.Fatalf("clipboard helpers left after the session: %v", h)
	}
}

// xclip runs xclip on x's display and returns its output.
func xclip(t *testing.T, x *xtest.Server, args ...string) string {
	t.Helper()
	cmd := exec.Command("xclip", append([]string{"-selection", "clipboard"}, args...)...)
	cmd.Env = x.Env()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("xclip %v: %v", args, err)
	}
	return string(out)
}

// xclipSet copies text as a customer's application would. Its helper is
// not ours: the test ends it.
func xclipSet(t *testing.T, x *xtest.Server, text string) {
	t.Helper()
	cmd := exec.Command("xclip", "-selection", "clipboard", "-i")
	cmd.Env = append(x.Env(), "ASSIST_CLIPBOARD_OWNER=test")
	cmd.Stdin = strings.NewReader(text)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
}

// helpersOn lists the xclip/xsel processes on display x other than the
// test's own.
func helpersOn(x *xtest.Server) []string {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []string
	for _, d := range dirs {
		comm, _ := os.ReadFile(d + "/comm")
		name := strings.TrimSpace(string(comm))
		if name != "xclip" && name != "xsel" {
			continue
		}
		if st, _ := os.ReadFile(d + "/stat"); bytes.Contains(st, []byte(") Z")) {
			continue
		}
		env, _ := os.ReadFile(d + "/environ")
		vars := strings.Split(string(env), "\x00")
		sort.Strings(vars)
		if contains(vars, "DISPLAY="+x.Display) && !contains(vars, "ASSIST_CLIPBOARD_OWNER=test") {
			out = append(out, filepath.Base(d)+" "+name)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	i := sort.SearchStrings(list, s)
	return i < len(list) && list[i] == s
}

// TestBinariesRemoteControl drives the customer's Xvfb with the assist-rep
// commands against the real binaries (the agent grants with --yes): keys by
// name (chords, KP_Enter, super), text with accents and an emoji, clicks,
// a double click and the wheel, read back as X events; then the clipboard
// both ways; and no clipboard helper remains once the session ended.
func TestBinariesRemoteControl(t *testing.T) {
	x := xtest.Start(t, xtest.Size(800, 600))
	xev := x.StartXev(t, 0, 0, 800, 600)
	ctx := deadline(t, 40*time.Second)
	s := startStack(t, ctx, x)
	code := s.newCode(t, ctx)
	ag := s.join(t, code)
	if _, err := ag.waitLine(ctx, sharingRe); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		out, errOut, rc := s.rep(t, ctx, args...)
		if rc != 0 {
			t.Fatalf("assist-rep %v: exit %d: %s", args, rc, errOut)
		}
		return out
	}
	run("click", code, "400", "300")
	xev.Skip()
	run("key", code, "ctrl+alt+t", "KP_Enter", "super", "F12", "shift+Tab", "KP_1")
	var got []string
	for len(got) < 10 {
		e := nextKey(t, ctx, xev)
		got = append(got, fmt.Sprintf("%s/%#x", e.Name, e.State))
	}
	want := "Control_L/0x0 Alt_L/0x4 t/0xc KP_Enter/0x0 Super_L/0x0 F12/0x0 Shift_L/0x0 ISO_Left_Tab/0x1 Num_Lock/0x0 KP_1/0x10"
	if strings.Join(got, " ") != want {
		t.Fatalf("keys on the customer's X server:\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
	run("type", code, "¿Añadió €5? 😀")
	var typed strings.Builder
	for typed.String() != "¿Añadió €5? 😀" {
		e := nextKey(t, ctx, xev)
		typed.WriteString(e.Text)
		if len(typed.String()) > 40 {
			t.Fatalf("typed %q", typed.String())
		}
	}
	run("click", code, "100", "200", "right", "--double")
	evs, err := xev.WaitFor(ctx, func(e xtest.Event) bool { return e.Type == "ButtonRelease" })
	if err != nil {
		t.Fatal(err)
	}
	if e := evs[len(evs)-1]; e.Button != 3 || e.X != 100 || e.Y != 200 {
		t.Fatalf("click: %s", e)
	}
	if evs, err = xev.WaitFor(ctx, func(e xtest.Event) bool { return e.Type == "ButtonRelease" }); err != nil || evs[len(evs)-1].Button != 3 {
		t.Fatalf("the double click's second click: %v %v", evs, err)
	}
	run("scroll", code, "0", "-2", "--at", "10,20")
	for i := 0; i < 2; i++ {
		evs, err := xev.WaitFor(ctx, func(e xtest.Event) bool { return e.Type == "ButtonPress" })
		if err != nil {
			t.Fatal(err)
		}
		if e := evs[len(evs)-1]; e.Button != 4 || e.X != 10 || e.Y != 20 {
			t.Fatalf("scroll up at (10,20): %s", e)
		}
	}

	run("clip", "set", code, "línea 1\r\nlínea 2 😀")
	if got := xclip(t, x, "-o"); got != "línea 1\r\nlínea 2 😀" {
		t.Fatalf("the customer's clipboard holds %q", got)
	}
	xclipSet(t, x, "del cliente: 中文\r\n")
	if got := run("clip", "get", code); got != "del cliente: 中文\r\n" {
		t.Fatalf("clip get printed %q", got)
	}
	_, errOut, rc := s.rep(t, ctx, "key", code, "hyperdrive")
	if rc != 1 || !strings.Contains(errOut, "unknown key") {
		t.Fatalf("an unknown key name: exit %d %q", rc, errOut)
	}

	run("end", code)
	if rc, err := ag.exitCode(ctx); rc != 0 || err != nil {
		t.Fatalf("agent: exit %d %v", rc, err)
	}
	if h := helpersOn(x); len(h) != 0 {
		t.Fatalf("clipboard helpers left after the session: %v", h)
	}
	for _, want := range []string{"controls your mouse and keyboard"} {
		if !strings.Contains(ag.output(), want) {
			t.Errorf("the customer was not told %q:\n%s", want, ag.output())
		}
	}
}

// BenchmarkKeyToX measures a rep's key press to the KeyPress event on the
// customer's X server: rep client -> WebRTC input channel on loopback ->
// agent -> XTEST -> X server -> a window's event. Reported as p50 and p99.
func BenchmarkKeyToX(b *testing.B) {
	x := xtest.Start(b, xtest.Size(640, 480))
	x.NoAutoRepeat(b) // a stalled key-up must not add presses
	p := startInProcess(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	in, err := rep.NewSession(ctx, p.cfg)
	if err != nil {
		b.Fatal(err)
	}
	answers := make(chan bool, 1)
	answers <- true
	p.controlAgent(b, in.Code, x, answers, nil)
	c, err := rep.Attach(ctx, p.cfg, in.Code)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.RequestControl(ctx); err != nil {
		b.Fatal(err)
	}
	// A window of our own, focused, receiving the key events.
	conn, err := xgb.NewConnDisplay(x.Display)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	scr := xproto.Setup(conn).DefaultScreen(conn)
	win, _ := xproto.NewWindowId(conn)
	xproto.CreateWindow(conn, scr.RootDepth, win, scr.Root, 0, 0, 640, 480, 0, xproto.WindowClassInputOutput,
		scr.RootVisual, xproto.CwOverrideRedirect|xproto.CwEventMask, []uint32{1, xproto.EventMaskKeyPress | xproto.EventMaskExposure})
	xproto.MapWindow(conn, win)
	for {
		ev, err := conn.WaitForEvent()
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := ev.(xproto.ExposeEvent); ok {
			break
		}
	}
	if err := xproto.SetInputFocusChecked(conn, xproto.InputFocusPointerRoot, win, xproto.TimeCurrentTime).Check(); err != nil {
		b.Fatal(err)
	}
	presses := make(chan time.Time, 16)
	go func() {
		for {
			ev, err := conn.WaitForEvent()
			if ev == nil && err == nil {
				return
			}
			if _, ok := ev.(xproto.KeyPressEvent); ok {
				presses <- time.Now()
			}
		}
	}()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := c.Key(true, "KeyA", "a", 0); err != nil {
			b.Fatal(err)
		}
		select {
		case t := <-presses:
			lat = append(lat, t.Sub(start))
		case <-ctx.Done():
			b.Fatal("no KeyPress")
		}
		if err := c.Key(false, "KeyA", "a", 0); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// Every press was seen once: no stale event stood in for a later one.
	if _, err := c.SyncInput(ctx); err != nil {
		b.Fatal(err)
	}
	xproto.GetInputFocus(conn).Reply()
	if n := len(presses); n != 0 {
		b.Fatalf("%d KeyPress events more than key presses", n)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if lat[0] <= 0 {
		b.Fatalf("a latency of %v", lat[0])
	}
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
