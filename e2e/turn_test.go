package e2e

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"assist/agent"
	"assist/rep"
	"assist/server"
)

// TestSessionThroughTURNOverTCP: when only the server's TCP port gets
// through (both peers forced to relay, the relay reached over TCP on the
// same port as HTTP), the session still works and the rep gets the exact
// screen.
func TestSessionThroughTURNOverTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	srv, err := server.New(server.Config{
		RepToken: "tok", Logger: quietLogger(),
		TURN: &server.TURNConfig{Host: "127.0.0.1", Port: port, RelayIP: net.IPv4(127, 0, 0, 1)},
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.Listener = srv.SplitListener(ln)
	hs.Config = &http.Server{Handler: srv.Handler()}
	hs.Start()
	t.Cleanup(func() {
		hs.CloseClientConnections()
		srv.Close()
		hs.Close()
	})
	screen := newFakeScreen(300, 200)
	ctx := deadline(t, 30*time.Second)
	cfg := rep.Config{Server: hs.URL, Token: "tok", Loopback: true, RelayOnly: true, Logger: quietLogger()}
	in, err := rep.NewSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	agentCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() {
		done <- agent.Run(agentCtx, agent.Config{
			Server: hs.URL, Code: in.Code, Screen: screen, Loopback: true, RelayOnly: true, Logger: quietLogger(),
			Ask: func(context.Context, string) (bool, error) { return true, nil },
		})
	}()
	c, err := rep.Attach(ctx, cfg, in.Code)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WaitFrame(ctx, false); err != nil {
		t.Fatalf("no frame through the relay: %v (rep errors: %v)", err, c.Errors())
	}
	waitPicture(t, ctx, c, screen.snapshot())
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
