package e2e

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"assist/agent"
	"assist/chatwin"
	"assist/internal/clock/clocktest"
	"assist/reconnect"
	"assist/rep"
	"assist/server"
)

// TestAgentWindowOnFakeClock: the agent enforces the ten-minute reconnect
// window on its own clock. The server goes away for good; the agent retries
// with backoff on a fake clock that the test moves through ten minutes in
// no time; then the agent ends the session and removes its ticket.
func TestAgentWindowOnFakeClock(t *testing.T) {
	srv, err := server.New(server.Config{RepToken: "tok", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	ctx := deadline(t, 60*time.Second)
	cfg := rep.Config{Server: hs.URL, Token: "tok", Loopback: true, Logger: quietLogger()}
	in, err := rep.NewSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktest.New(time.Now())
	store := &reconnect.Store{Dir: filepath.Join(t.TempDir(), "state"), Clock: clk}
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		done <- agent.Run(ctx, agent.Config{
			Server: hs.URL, Code: in.Code, Screen: newFakeScreen(64, 48), Loopback: true, Logger: quietLogger(),
			Consent: func(context.Context, chatwin.Prompt) (bool, error) { return true, nil },
			Tickets: store, Clock: clk,
		})
		close(finished)
	}()
	c, err := rep.Attach(ctx, cfg, in.Code)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WaitFrame(ctx, false); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Load(); err != nil {
		t.Fatalf("no ticket during the session: %v", err)
	}

	start := clk.Now()
	srv.Close() // drops every WebSocket
	hs.Close()  // every reconnect attempt is refused from now on
	for {
		// The agent waits on the clock: its window's deadline and the
		// backoff before the next attempt.
		if !clk.BlockUntil(2, finished) {
			break
		}
		clk.Advance(15 * time.Second)
	}
	err = <-done
	var ended *agent.EndedError
	if !errors.As(err, &ended) || !strings.Contains(ended.Reason, "within 10 minutes") {
		t.Fatalf("agent.Run = %v, want the session ended after 10 minutes", err)
	}
	if waited := clk.Now().Sub(start); waited < reconnect.DefaultWindow || waited > reconnect.DefaultWindow+time.Minute {
		t.Fatalf("gave up after %v of fake time", waited)
	}
	if left := entries(t, store.Dir); len(left) != 0 {
		t.Fatalf("ticket files left: %v", left)
	}
}
