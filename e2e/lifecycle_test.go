package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"assist/installer"
	"assist/internal/xtest"
	"assist/protocol"
	"assist/rep"
)

// customerPage is the customer's chat window as a test drives it: the
// page's own WebSocket protocol, spoken by the test instead of a browser
// (the browser test drives the real page).
type customerPage struct {
	t    *testing.T
	c    *websocket.Conn
	mu   sync.Mutex
	msgs []map[string]any
	more chan struct{}
	done chan struct{}
}

var chatURLRe = regexp.MustCompile(`Chat window: (http://127\.0\.0\.1:\d+/s/[0-9a-f]+/)`)

// openCustomerPage reads the chat window's address from the agent's output
// and connects to it as the page does.
func openCustomerPage(t *testing.T, ctx context.Context, agent *proc) *customerPage {
	t.Helper()
	m, err := agent.waitLine(ctx, chatURLRe)
	if err != nil {
		t.Fatal(err)
	}
	return dialPage(t, ctx, m[1])
}

func dialPage(t *testing.T, ctx context.Context, url string) *customerPage {
	t.Helper()
	origin := strings.TrimSuffix(url[:strings.Index(url, "/s/")], "/")
	c, _, err := websocket.Dial(ctx, strings.Replace(url, "http://", "ws://", 1)+"ws",
		&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {origin}}})
	if err != nil {
		t.Fatalf("chat page: %v", err)
	}
	p := &customerPage{t: t, c: c, more: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				return
			}
			var m map[string]any
			if json.Unmarshal(b, &m) == nil {
				p.mu.Lock()
				p.msgs = append(p.msgs, m)
				close(p.more)
				p.more = make(chan struct{})
				p.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { c.CloseNow(); <-p.done })
	return p
}

// wait returns the first message (from the start) for which match is true.
func (p *customerPage) wait(ctx context.Context, what string, match func(map[string]any) bool) map[string]any {
	p.t.Helper()
	seen := 0
	for {
		p.mu.Lock()
		msgs, ch := p.msgs, p.more
		p.mu.Unlock()
		for ; seen < len(msgs); seen++ {
			if match(msgs[seen]) {
				return msgs[seen]
			}
		}
		select {
		case <-ctx.Done():
			p.t.Fatalf("chat page: no %s: %v", what, ctx.Err())
		case <-p.done:
			p.t.Fatalf("chat page closed before %s; it got %v", what, p.msgs)
		case <-ch:
		}
	}
}

func (p *customerPage) send(ctx context.Context, m map[string]any) {
	p.t.Helper()
	b, _ := json.Marshal(m)
	if err := p.c.Write(ctx, websocket.MessageText, b); err != nil {
		p.t.Fatal(err)
	}
}

// historyTexts lists the chat texts of a hello message.
func historyTexts(m map[string]any) []string {
	var out []string
	h, _ := m["history"].([]any)
	for _, l := range h {
		if lm, ok := l.(map[string]any); ok {
			out = append(out, lm["text"].(string))
		}
	}
	return out
}

func chatTexts(lines []protocol.ChatLine) []string {
	var out []string
	for _, l := range lines {
		out = append(out, l.From+": "+l.Text)
	}
	return out
}

// lifecycleAgent starts `assist join` with a state directory of its own and
// the chat window's address printed (--no-browser).
func (s *stack) lifecycleAgent(t testing.TB, code, stateDir string, extra ...string) *proc {
	env := append(append([]string(nil), s.env...), "ASSIST_STATE_DIR="+stateDir)
	args := append([]string{"join", code, "--server", s.url, "--yes", "--no-browser"}, extra...)
	return startProc(t, env, filepath.Join(s.bin, "assist"), args...)
}

func (s *stack) resumeAgent(t testing.TB, stateDir string, extra ...string) *proc {
	env := append(append([]string(nil), s.env...), "ASSIST_STATE_DIR="+stateDir)
	return startProc(t, env, filepath.Join(s.bin, "assist"), append([]string{"resume"}, extra...)...)
}

// entries lists what is left in dir (nothing when it does not exist).
func entries(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// watch attaches a rep connection to code and waits for the first complete
// frame; the connection is closed when the test ends.
func (s *stack) watch(t testing.TB, ctx context.Context, code string) *rep.Client {
	t.Helper()
	c, err := rep.Attach(ctx, s.repConfig(), code)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.WaitFrame(ctx, false); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestKillAndResume: the agent is killed with -9 mid-session; `assist
// resume`, which finds the ticket by itself, picks up the same session: the
// rep gets the screen again, and the chat history is intact on both sides.
func TestKillAndResume(t *testing.T) {
	x := xtest.Start(t, xtest.Size(640, 480))
	x.Show(t, xtest.Pattern(640, 480))
	ctx := deadline(t, 120*time.Second)
	s := startStack(t, ctx, x)
	code := s.newCode(t, ctx)
	state := filepath.Join(t.TempDir(), "state")
	agent := s.lifecycleAgent(t, code, state)
	page := openCustomerPage(t, ctx, agent)
	page.wait(ctx, "hello", func(m map[string]any) bool { return m["type"] == "hello" })

	c := s.watch(t, ctx, code)
	if _, err := c.SendChat(ctx, "Hola, soy de soporte 👋"); err != nil {
		t.Fatal(err)
	}
	page.wait(ctx, "the rep's line", func(m map[string]any) bool {
		ch, _ := m["chat"].(map[string]any)
		return m["type"] == "chat" && ch["text"] == "Hola, soy de soporte 👋" && ch["from"] == "rep"
	})
	page.send(ctx, map[string]any{"type": "chat", "text": "My printer is broken"})
	if _, err := c.WaitChat(ctx, func(l protocol.ChatLine) bool {
		return l.From == protocol.FromCustomer && l.Text == "My printer is broken"
	}); err != nil {
		t.Fatal(err)
	}
	session := c.Session
	if got := entries(t, state); len(got) == 0 {
		t.Fatal("no resume ticket written at the start of the session")
	}

	agent.cmd.Process.Kill()
	agent.exitCode(ctx)
	if err := c.WaitState(ctx, protocol.StateSuspended); err != nil {
		t.Fatal(err)
	}
	x.Show(t, solid(640, 480, color.RGBA{20, 120, 200, 255})) // something new to see
	started := time.Now()
	again := s.resumeAgent(t, state, "--no-browser", "--yes")
	if _, err := c.WaitPicture(ctx, func(img *image.RGBA) bool { return img.RGBAAt(10, 10) == (color.RGBA{20, 120, 200, 255}) }); err != nil {
		t.Fatalf("no frame after assist resume: %v\n%s", err, again.output())
	}
	t.Logf("agent restart to first frame at the rep: %v (BenchmarkAgentRestartToFirstFrame measures it)", time.Since(started))
	if st, _ := c.State(); st != protocol.StateActive || c.Session != session {
		t.Fatalf("after resume: state %s session %s, want active %s", st, c.Session, session)
	}
	// The chat history: the rep's copy, merged with what the new agent
	// sent, has both lines once; the reopened chat window shows both.
	want := []string{"rep: Hola, soy de soporte 👋", "customer: My printer is broken"}
	if err := c.WaitGreeted(ctx); err != nil {
		t.Fatal(err)
	}
	if got := chatTexts(c.Chat()); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("rep's chat after resume: %q, want %q", got, want)
	}
	page2 := openCustomerPage(t, ctx, again)
	// The history comes in the page's hello, or right after it when the
	// page connected before the agent read the ticket.
	page2.wait(ctx, "the chat history", func(m map[string]any) bool {
		return (m["type"] == "hello" || m["type"] == "history") &&
			strings.Join(historyTexts(m), "|") == "Hola, soy de soporte 👋|My printer is broken"
	})
	// A second resume while this one runs stops at once and harms nothing.
	busy := s.resumeAgent(t, state, "--no-browser")
	if rc, _ := busy.exitCode(ctx); rc != 1 || !strings.Contains(busy.output(), "another assist program") {
		t.Fatalf("a second resume: exit %d\n%s", rc, busy.output())
	}
	if _, err := c.SendChat(ctx, "Still here?"); err != nil {
		t.Fatal(err)
	}

	// The rep ends the session: the agent exits 0 and leaves nothing behind.
	if err := c.End(ctx, "done"); err != nil {
		t.Fatal(err)
	}
	if rc, err := again.exitCode(ctx); rc != 0 || err != nil {
		t.Fatalf("resumed agent after end: exit %d %v\n%s", rc, err, again.output())
	}
	if left := entries(t, state); len(left) != 0 {
		t.Fatalf("the state directory still holds %v", left)
	}
	// A second resume finds nothing: exit 5 with a clear message.
	none := s.resumeAgent(t, state, "--no-browser")
	if rc, _ := none.exitCode(ctx); rc != 5 || !strings.Contains(none.output(), "nothing to resume") {
		t.Fatalf("resume without a ticket: exit %d\n%s", rc, none.output())
	}
}

func solid(w, h int, c color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, 255
	}
	return img
}

// linkCutter is a TCP proxy between the agent and the server whose
// connections the test cuts, as a dropped network would.
type linkCutter struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
	// rotate makes each upstream connection come from another loopback
	// address (127.0.0.2, .3, ...), so that the server's per-address rate
	// limit does not pace a benchmark's many resumes.
	rotate bool
	dials  int
}

func newLinkCutter(t testing.TB, target string) *linkCutter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &linkCutter{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			l.mu.Lock()
			if l.cut {
				l.mu.Unlock()
				c.Close()
				continue
			}
			var d net.Dialer
			if l.rotate {
				l.dials++
				d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, byte(l.dials/250), byte(2+l.dials%250))}
			}
			up, err := d.Dial("tcp", target)
			if err != nil {
				l.mu.Unlock()
				c.Close()
				continue
			}
			l.conns[c], l.conns[up] = struct{}{}, struct{}{}
			l.mu.Unlock()
			l.wg.Add(2)
			go func() { defer l.wg.Done(); io.Copy(up, c); up.Close() }()
			go func() { defer l.wg.Done(); io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		l.setCut(true)
		l.wg.Wait()
	})
	return l
}

func (l *linkCutter) url() string { return "http://" + l.ln.Addr().String() }

// setCut drops every connection and refuses new ones (true), or lets them
// through again (false).
func (l *linkCutter) setCut(cut bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut = cut
	if cut {
		for c := range l.conns {
			c.Close()
		}
		l.conns = map[net.Conn]struct{}{}
	}
}

// TestLinkCutShorterThanWindow: the agent's link to the server is cut and
// comes back within the window: the session resumes, the same one.
func TestLinkCutShorterThanWindow(t *testing.T) {
	x := xtest.Start(t, xtest.Size(320, 240))
	ctx := deadline(t, 90*time.Second)
	s := startStack(t, ctx, x, "--reconnect-window", "60s")
	link := newLinkCutter(t, strings.TrimPrefix(s.url, "http://"))
	code := s.newCode(t, ctx)
	state := filepath.Join(t.TempDir(), "state")
	env := append(append([]string(nil), s.env...), "ASSIST_STATE_DIR="+state)
	agent := startProc(t, env, filepath.Join(s.bin, "assist"), "join", code, "--server", link.url(), "--yes", "--no-browser")
	c := s.watch(t, ctx, code)
	session := c.Session

	link.setCut(true)
	if err := c.WaitState(ctx, protocol.StateSuspended); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.waitLine(ctx, regexp.MustCompile(`Lost the connection`)); err != nil {
		t.Fatal(err)
	}
	// The PeerConnection does not go through the server: the chat still
	// works while the signalling link is down.
	if _, err := c.SendChat(ctx, "are you there?"); err != nil {
		t.Fatal(err)
	}
	link.setCut(false)
	if _, err := agent.waitLine(ctx, regexp.MustCompile(`Reconnected to the support server`)); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitState(ctx, protocol.StateActive); err != nil {
		t.Fatal(err)
	}
	if c.Session != session {
		t.Fatal("a new session after the reconnect")
	}
	x.Show(t, solid(320, 240, color.RGBA{200, 10, 10, 255}))
	if _, err := c.WaitPicture(ctx, func(img *image.RGBA) bool { return img.RGBAAt(5, 5) == (color.RGBA{200, 10, 10, 255}) }); err != nil {
		t.Fatal(err)
	}
	if err := c.End(ctx, "done"); err != nil {
		t.Fatal(err)
	}
	if rc, _ := agent.exitCode(ctx); rc != 0 {
		t.Fatalf("agent exit %d\n%s", rc, agent.output())
	}
}

// TestLinkCutLongerThanWindow: the link stays down past the (shortened)
// window: the server ends the session for the rep, the agent ends it on
// its own clock, and no ticket, service or temporary file remains.
func TestLinkCutLongerThanWindow(t *testing.T) {
	x := xtest.Start(t, xtest.Size(320, 240))
	ctx := deadline(t, 90*time.Second)
	s := startStack(t, ctx, x, "--reconnect-window", "3s")
	link := newLinkCutter(t, strings.TrimPrefix(s.url, "http://"))
	code := s.newCode(t, ctx)
	state := filepath.Join(t.TempDir(), "state")
	tmp := t.TempDir()
	env := append(append([]string(nil), s.env...), "ASSIST_STATE_DIR="+state, "TMPDIR="+tmp)
	service := "assist-e2e-window-" + code[:6]
	agent := startProc(t, env, filepath.Join(s.bin, "assist"), "join", code, "--server", link.url(), "--yes",
		"--no-browser", "--reconnect-window", "3s", "--service", service)
	c := s.watch(t, ctx, code)
	link.setCut(true)
	select {
	case <-c.Ended():
	case <-ctx.Done():
		t.Fatal("the rep never saw the session end")
	}
	if _, reason := c.State(); !strings.Contains(reason, "did not reconnect within 3s") {
		t.Fatalf("rep's reason: %q", reason)
	}
	if rc, err := agent.exitCode(ctx); rc != 0 || err != nil {
		t.Fatalf("agent: exit %d %v\n%s", rc, err, agent.output())
	}
	if !strings.Contains(agent.output(), "Session ended: could not reach the support server within 3s") {
		t.Fatalf("the agent did not say why the session ended:\n%s", agent.output())
	}
	if left := entries(t, state); len(left) != 0 {
		t.Fatalf("ticket files left: %v", left)
	}
	if left := entries(t, tmp); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	if f := installer.Files(installer.Config{Name: service}); len(f) != 0 {
		t.Fatalf("service files left: %v", f)
	}
}

// BenchmarkAgentRestartToFirstFrame measures what a customer's crash costs
// the rep: from starting `assist resume` after a kill -9 to the first frame
// of the new agent's screen at the rep (real binaries, Xvfb, WebRTC on
// loopback). Reported as ms/restart.
func BenchmarkAgentRestartToFirstFrame(b *testing.B) {
	x := xtest.Start(b, xtest.Size(1280, 720))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := startStack(b, ctx, x)
	code := s.newCode(b, ctx)
	state := filepath.Join(b.TempDir(), "state")
	link := newLinkCutter(b, strings.TrimPrefix(s.url, "http://"))
	link.rotate = true
	env := append(append([]string(nil), s.env...), "ASSIST_STATE_DIR="+state)
	agent := startProc(b, env, filepath.Join(s.bin, "assist"), "join", code, "--server", link.url(), "--yes", "--no-browser")
	c := s.watch(b, ctx, code)
	var times []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		agent.cmd.Process.Kill()
		agent.exitCode(ctx)
		if err := c.WaitState(ctx, protocol.StateSuspended); err != nil {
			b.Fatal(err)
		}
		want := color.RGBA{uint8(i * 37), uint8(255 - i*11), 128, 255}
		x.Show(b, solid(1280, 720, want))
		b.StartTimer()
		start := time.Now()
		agent = s.resumeAgent(b, state, "--no-browser", "--yes")
		if _, err := c.WaitPicture(ctx, func(img *image.RGBA) bool { return img.RGBAAt(640, 360) == want }); err != nil {
			b.Fatalf("iteration %d: %v\n%s", i, err, agent.output())
		}
		times = append(times, time.Since(start))
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms-median/restart")
	b.ReportMetric(float64(times[len(times)-1].Microseconds())/1000, "ms-max/restart")
}

// TestServerRestartKeepsSession: the support server is killed with -9 and
// started again on the same address and state file: the agent reconnects
// to the same session, and a rep attaching again gets the screen and the
// chat so far.
func TestServerRestartKeepsSession(t *testing.T) {
	x := xtest.Start(t, xtest.Size(320, 240))
	ctx := deadline(t, 90*time.Second)
	file := filepath.Join(t.TempDir(), "server", "sessions.json")
	s := startStack(t, ctx, x, "--state", file)
	code := s.newCode(t, ctx)
	agent := s.lifecycleAgent(t, code, filepath.Join(t.TempDir(), "state"))
	c := s.watch(t, ctx, code)
	if _, err := c.SendChat(ctx, "before the restart"); err != nil {
		t.Fatal(err)
	}
	session := c.Session

	s.server.cmd.Process.Kill()
	s.server.exitCode(ctx)
	<-c.Ended() // the rep's signalling went with the server
	s.server = startProc(t, s.env, filepath.Join(s.bin, "assist-server"), "serve",
		"--listen", strings.TrimPrefix(s.url, "http://"), "--rep-token", s.token, "--state", file)
	if _, err := s.server.waitLine(ctx, servingRe); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.waitLine(ctx, regexp.MustCompile(`Reconnected to the support server`)); err != nil {
		t.Fatal(err)
	}
	c2, err := rep.Attach(ctx, s.repConfig(), code)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if c2.Session != session {
		t.Fatalf("session %s after the restart, want %s", c2.Session, session)
	}
	if err := c2.WaitState(ctx, protocol.StateActive); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.WaitFrame(ctx, false); err != nil {
		t.Fatal(err)
	}
	if err := c2.WaitGreeted(ctx); err != nil {
		t.Fatal(err)
	}
	if got := chatTexts(c2.Chat()); len(got) != 1 || got[0] != "rep: before the restart" {
		t.Fatalf("chat after the server restart: %q", got)
	}
	if err := c2.End(ctx, "done"); err != nil {
		t.Fatal(err)
	}
	if rc, _ := agent.exitCode(ctx); rc != 0 {
		t.Fatalf("agent exit %d\n%s", rc, agent.output())
	}
}
