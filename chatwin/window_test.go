package chatwin

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"assist/internal/clock/clocktest"
	"assist/protocol"
)

func newWindow(t *testing.T) (*Window, *clocktest.Fake) {
	t.Helper()
	return newWindowWith(t, Config{})
}

// newWindowWith starts a window with cfg on a fake clock.
func newWindowWith(t *testing.T, cfg Config) (*Window, *clocktest.Fake) {
	t.Helper()
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	cfg.Clock, cfg.Grace, cfg.Logger = clk, 5*time.Second, slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w, clk
}

type page struct {
	t *testing.T
	c *websocket.Conn
}

func openPage(t *testing.T, ctx context.Context, w *Window) *page {
	t.Helper()
	u := strings.Replace(w.URL(), "http://", "ws://", 1) + "ws"
	c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {strings.TrimSuffix(w.URL(), "/")}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() }) // before the window's Close, which would wait for the page's goodbye
	return &page{t: t, c: c}
}

func (p *page) read(ctx context.Context, typ string) message {
	p.t.Helper()
	for {
		_, b, err := p.c.Read(ctx)
		if err != nil {
			p.t.Fatalf("waiting for %s: %v", typ, err)
		}
		var m message
		if err := json.Unmarshal(b, &m); err != nil {
			p.t.Fatal(err)
		}
		if m.Type == typ {
			return m
		}
	}
}

func (p *page) send(ctx context.Context, m any) {
	b, _ := json.Marshal(m)
	if err := p.c.Write(ctx, websocket.MessageText, b); err != nil {
		p.t.Fatal(err)
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestPageIsLoopbackAndSecret(t *testing.T) {
	w, _ := newWindow(t)
	if !strings.HasPrefix(w.URL(), "http://127.0.0.1:") || len(w.URL()) < 60 {
		t.Fatalf("URL %q: want 127.0.0.1 with a long token", w.URL())
	}
	get := func(url, host string) int {
		req, _ := http.NewRequest("GET", url, nil)
		if host != "" {
			req.Host = host
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	base := strings.TrimSuffix(w.URL(), "/")
	i := strings.LastIndex(base, "/")
	for _, tc := range []struct {
		name, url, host string
		want            int
	}{
		{"the page", w.URL(), "", 200},
		{"its script", w.URL() + "chat.js", "", 200},
		{"no token", base[:i] + "/", "", 404},
		{"wrong token", base[:i] + "/" + strings.Repeat("0", 48) + "/", "", 404},
		{"another host name (DNS rebinding)", w.URL(), "evil.example:80", http.StatusMisdirectedRequest},
		{"a path outside", w.URL() + "../../etc/passwd", "", 404},
	} {
		if got := get(tc.url, tc.host); got != tc.want {
			t.Errorf("%s: HTTP %d, want %d", tc.name, got, tc.want)
		}
	}
	// A WebSocket from another origin is refused.
	u := strings.Replace(w.URL(), "http://", "ws://", 1) + "ws"
	if _, _, err := websocket.Dial(testCtx(t), u, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"http://evil.example"}}}); err == nil {
		t.Error("a cross-origin WebSocket was accepted")
	}
}

func TestChatPromptsAndActions(t *testing.T) {
	w, _ := newWindow(t)
	ctx := testCtx(t)
	w.AddChat(protocol.ChatLine{ID: "1", From: protocol.FromRep, Text: "hello"})
	w.SetState(State{Session: StateActive, Reps: []Rep{{ID: "r1", Name: "Support technician", Viewing: true}}})
	p := openPage(t, ctx, w)
	hello := p.read(ctx, "hello")
	if len(hello.History) != 1 || hello.State.Session != StateActive || !hello.State.Reps[0].Viewing {
		t.Fatalf("hello %+v", hello)
	}

	answered := make(chan bool, 1)
	go func() {
		ok, err := w.Ask(ctx, Prompt{Kind: KindReboot, Question: "Restart?"})
		if err != nil {
			t.Error(err)
		}
		answered <- ok
	}()
	pr := p.read(ctx, "prompt")
	if pr.Prompt.Kind != KindReboot || pr.Prompt.Text != "Restart?" {
		t.Fatalf("prompt %+v", pr.Prompt)
	}
	p.send(ctx, map[string]any{"type": "answer", "id": pr.Prompt.ID, "allow": true})
	if !<-answered {
		t.Fatal("Allow answered false")
	}

	p.send(ctx, map[string]any{"type": "chat", "text": "  hi there  "})
	p.send(ctx, map[string]any{"type": "chat", "text": strings.Repeat("x", protocol.MaxChatText+1)}) // dropped
	p.send(ctx, map[string]any{"type": "pause"})
	p.send(ctx, map[string]any{"type": "revoke"})
	p.send(ctx, map[string]any{"type": "end"})
	for _, want := range []Action{{ActChat, "hi there"}, {ActPause, ""}, {ActRevoke, ""}, {ActEnd, ""}} {
		select {
		case a := <-w.Actions():
			if a != want {
				t.Fatalf("action %+v, want %+v", a, want)
			}
		case <-ctx.Done():
			t.Fatal("no action")
		}
	}

	// A prompt withdrawn by its context disappears from the page.
	actx, cancel := context.WithCancel(ctx)
	go func() {
		p.read(ctx, "prompt")
		cancel()
	}()
	if _, err := w.Ask(actx, Prompt{Kind: KindFile, Question: "Accept a file?"}); err == nil {
		t.Fatal("withdrawn prompt returned no error")
	}
	w.End("the support technician ended the session")
	if m := p.read(ctx, "ended"); m.Reason == "" {
		t.Fatal("no reason on ended")
	}
	// Then the window closes the page's connection.
	if _, _, err := p.c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("after ended: %v, want a normal closure", err)
	}
}

// TestCloseNeedsTheGrace: a page that goes away and comes back within the
// grace (a reload) is not a close; a page gone for the whole grace is.
func TestCloseNeedsTheGrace(t *testing.T) {
	w, clk := newWindow(t)
	ctx := testCtx(t)
	p := openPage(t, ctx, w)
	p.read(ctx, "hello")
	p.c.Close(websocket.StatusGoingAway, "reload")
	clk.BlockUntil(1, ctx.Done()) // the grace timer
	clk.Advance(4 * time.Second)
	p2 := openPage(t, ctx, w) // the reloaded page
	p2.read(ctx, "hello")
	clk.Advance(10 * time.Second)
	select {
	case a := <-w.Actions():
		t.Fatalf("a reload counted as %+v", a)
	default:
	}
	p2.c.Close(websocket.StatusGoingAway, "tab closed")
	clk.BlockUntil(1, ctx.Done())
	clk.Advance(5 * time.Second)
	select {
	case a := <-w.Actions():
		if a.Kind != ActClosed {
			t.Fatalf("action %+v, want closed", a)
		}
	case <-ctx.Done():
		t.Fatal("closing the page was not reported")
	}
}
