package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"assist/internal/sigclient"
	"assist/protocol"
	"assist/server"
)

const token = "test-token"

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv, err := server.New(server.Config{
		RepToken: token, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.CloseClientConnections()
		srv.Close()
		hs.Close()
	})
	return hs
}

func api(t *testing.T, hs *httptest.Server, method, path, tok string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, hs.URL+path, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

func newCode(t *testing.T, hs *httptest.Server) string {
	t.Helper()
	resp, out := api(t, hs, "POST", "/api/sessions", token)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create session: %s", resp.Status)
	}
	return out["code"].(string)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, hs *httptest.Server, path string) *sigclient.Conn {
	t.Helper()
	c, err := sigclient.Dial(ctxT(t), hs.URL, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// recvType reads until a message of type typ arrives.
func recvType(t *testing.T, c *sigclient.Conn, typ string) protocol.Signal {
	t.Helper()
	for {
		s, err := c.Recv(ctxT(t))
		if err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		if s.Type == typ {
			return s
		}
	}
}

func TestRepAPIAuth(t *testing.T) {
	hs := newServer(t)
	for _, tok := range []string{"", "wrong"} {
		resp, out := api(t, hs, "POST", "/api/sessions", tok)
		if resp.StatusCode != http.StatusUnauthorized || out["error"] != protocol.CodeUnauthorized {
			t.Fatalf("token %q: %s %v, want 401 unauthorized", tok, resp.Status, out)
		}
	}
	code := newCode(t, hs)
	if !protocol.IsCode(code) {
		t.Fatalf("code %q", code)
	}
	resp, _ := api(t, hs, "DELETE", "/api/sessions/"+code, token)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("end: %s", resp.Status)
	}
}

func TestPagesServed(t *testing.T) {
	hs := newServer(t)
	for _, path := range []string{"/", "/console", "/healthz", "/api/info"} {
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s", path, resp.Status)
		}
	}
}

func TestAgentWrongCodeThenRight(t *testing.T) {
	hs := newServer(t)
	code := newCode(t, hs)
	a := dial(t, hs, "/ws/agent")
	wrong := "111111111"
	if code == wrong {
		wrong = "222222222"
	}
	a.Send(ctxT(t), protocol.Signal{Type: protocol.SigJoin, Version: protocol.Version, Code: wrong})
	e := recvType(t, a, protocol.SigError)
	if e.Error != protocol.CodeBadCode || !strings.Contains(e.Message, "code") {
		t.Fatalf("wrong code answered %+v", e)
	}
	// The same connection may try again with the right code.
	a.Send(ctxT(t), protocol.Signal{Type: protocol.SigJoin, Version: protocol.Version, Code: code})
	if j := recvType(t, a, protocol.SigJoined); j.Session == "" || j.Secret == "" {
		t.Fatalf("joined %+v", j)
	}
	// A second agent with the same code is refused: codes are single use.
	b := dial(t, hs, "/ws/agent")
	b.Send(ctxT(t), protocol.Signal{Type: protocol.SigJoin, Version: protocol.Version, Code: code})
	if e := recvType(t, b, protocol.SigError); e.Error != protocol.CodeUsed {
		t.Fatalf("second join answered %+v", e)
	}
}

func TestMalformedMessagesGetErrors(t *testing.T) {
	hs := newServer(t)
	code := newCode(t, hs)
	ctx := ctxT(t)
	c, _, err := websocket.Dial(ctx, strings.Replace(hs.URL, "http", "ws", 1)+"/ws/agent", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	for _, msg := range []string{`{`, `[]`, `{"type":"join","code":"12"}`, `{"type":"bogus"}`, `{"type":"offer","sdp":"x"}`} {
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("after %q the server dropped the connection: %v", msg, err)
		}
		s, err := protocol.DecodeSignal(b)
		if err != nil || s.Type != protocol.SigError || s.Message == "" {
			t.Fatalf("after %q got %s (%v), want an error message", msg, b, err)
		}
	}
	// Still usable afterwards.
	c.Write(ctx, websocket.MessageText, []byte(`{"type":"join","version":1,"code":"`+code+`"}`))
	_, b, err := c.Read(ctx)
	if err != nil || !strings.Contains(string(b), `"joined"`) {
		t.Fatalf("join after garbage: %s %v", b, err)
	}
}

func TestRepAttachAndAgentDrop(t *testing.T) {
	hs := newServer(t)
	code := newCode(t, hs)
	r := dial(t, hs, "/ws/rep")
	r.Send(ctxT(t), protocol.Signal{Type: protocol.SigAttach, Token: "nope", Code: code})
	if e := recvType(t, r, protocol.SigError); e.Error != protocol.CodeUnauthorized {
		t.Fatalf("bad token answered %+v", e)
	}
	r.Send(ctxT(t), protocol.Signal{Type: protocol.SigAttach, Token: token, Code: code})
	att := recvType(t, r, protocol.SigAttached)
	if att.State != protocol.StateWaiting {
		t.Fatalf("attached %+v", att)
	}
	a := dial(t, hs, "/ws/agent")
	a.Send(ctxT(t), protocol.Signal{Type: protocol.SigJoin, Version: protocol.Version, Code: code})
	recvType(t, a, protocol.SigJoined)
	if ra := recvType(t, a, protocol.SigRepAttached); ra.Rep != att.Rep {
		t.Fatalf("rep_attached %+v", ra)
	}
	if st := recvType(t, r, protocol.SigState); st.State != protocol.StateActive {
		t.Fatalf("rep saw %+v", st)
	}
	// Offer relayed agent -> rep, answer rep -> agent.
	a.Send(ctxT(t), protocol.Signal{Type: protocol.SigOffer, Rep: att.Rep, SDP: "v=0 offer"})
	if o := recvType(t, r, protocol.SigOffer); o.SDP != "v=0 offer" {
		t.Fatalf("offer %+v", o)
	}
	r.Send(ctxT(t), protocol.Signal{Type: protocol.SigAnswer, SDP: "v=0 answer"})
	if an := recvType(t, a, protocol.SigAnswer); an.SDP != "v=0 answer" || an.Rep != att.Rep {
		t.Fatalf("answer %+v", an)
	}
	// The agent vanishes without a word (like kill -9): the rep sees the
	// session suspended with a deadline, not ended.
	a.CloseNow()
	st := recvType(t, r, protocol.SigState)
	if st.State != protocol.StateSuspended || st.Deadline == 0 {
		t.Fatalf("after the agent dropped the rep saw %+v", st)
	}
	// The rep ends it.
	r.Send(ctxT(t), protocol.Signal{Type: protocol.SigEnd})
	if st := recvType(t, r, protocol.SigState); st.State != protocol.StateEnded {
		t.Fatalf("after end the rep saw %+v", st)
	}
}
