package server

import (
	"errors"
	"sync"
	"testing"
	"time"

	"assist/internal/clock/clocktest"
	"assist/protocol"
)

// fakePeer records what the registry sends it.
type fakePeer struct {
	mu     sync.Mutex
	got    []protocol.Signal
	closed string
}

func (p *fakePeer) send(s protocol.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, s)
}

func (p *fakePeer) close(reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed == "" {
		p.closed = reason
	}
}

func (p *fakePeer) types() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, s := range p.got {
		out = append(out, s.Type)
	}
	return out
}

func (p *fakePeer) last() protocol.Signal {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.got) == 0 {
		return protocol.Signal{}
	}
	return p.got[len(p.got)-1]
}

func newTestRegistry() (*Registry, *clocktest.Fake) {
	clk := clocktest.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	return NewRegistry(clk, 10*time.Minute, 10*time.Minute, nil), clk
}

func TestCodesAreNineDigitsAndUnique(t *testing.T) {
	r, _ := newTestRegistry()
	seen := map[string]bool{}
	for i := 0; i < 500; i++ {
		in, err := r.Create()
		if err != nil {
			t.Fatal(err)
		}
		if !protocol.IsCode(in.Code) {
			t.Fatalf("code %q is not nine digits", in.Code)
		}
		if seen[in.Code] {
			t.Fatalf("code %q handed out twice", in.Code)
		}
		seen[in.Code] = true
	}
}

func TestJoinRefusals(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(r *Registry, clk *clocktest.Fake, code string)
		code    func(code string) string
		want    error
		wire    string
	}{
		{"wrong code", nil, func(c string) string {
			if c == "000000000" {
				return "000000001"
			}
			return "000000000"
		}, errBadCode, protocol.CodeBadCode},
		{"expired", func(r *Registry, clk *clocktest.Fake, code string) { clk.Advance(10*time.Minute + time.Second) }, nil, errExpired, protocol.CodeExpired},
		{"used", func(r *Registry, clk *clocktest.Fake, code string) {
			if _, err := r.Join(code, &fakePeer{}, protocol.AgentInfo{}); err != nil {
				panic(err)
			}
		}, nil, errUsed, protocol.CodeUsed},
		{"used and ended", func(r *Registry, clk *clocktest.Fake, code string) {
			id, _ := r.Join(code, &fakePeer{}, protocol.AgentInfo{})
			r.End("", id, "done")
		}, nil, errUsed, protocol.CodeUsed},
		{"ended by the rep before joining", func(r *Registry, clk *clocktest.Fake, code string) {
			r.End(code, "", "rep changed their mind")
		}, nil, errEnded, protocol.CodeEnded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, clk := newTestRegistry()
			in, err := r.Create()
			if err != nil {
				t.Fatal(err)
			}
			if tt.prepare != nil {
				tt.prepare(r, clk, in.Code)
			}
			code := in.Code
			if tt.code != nil {
				code = tt.code(code)
			}
			a := &fakePeer{}
			_, err = r.Join(code, a, protocol.AgentInfo{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Join = %v, want %v", err, tt.want)
			}
			if got := errorCode(err); got != tt.wire {
				t.Errorf("wire code %q, want %q", got, tt.wire)
			}
			if len(a.types()) != 0 {
				t.Errorf("refused agent was sent %v", a.types())
			}
		})
	}
}

func TestJoinTellsRepsAndAgent(t *testing.T) {
	r, _ := newTestRegistry()
	in, _ := r.Create()
	rp := &fakePeer{}
	att, err := r.Attach(in.Code, "", rp)
	if err != nil {
		t.Fatal(err)
	}
	if att.State != protocol.StateWaiting {
		t.Fatalf("attached state %q, want waiting", att.State)
	}
	a := &fakePeer{}
	id, err := r.Join(in.Code, a, protocol.AgentInfo{Hostname: "pc1"})
	if err != nil {
		t.Fatal(err)
	}
	if id != in.Session {
		t.Fatalf("joined session %q, want %q", id, in.Session)
	}
	if got := a.types(); len(got) != 2 || got[0] != protocol.SigJoined || got[1] != protocol.SigRepAttached {
		t.Fatalf("agent got %v, want [joined rep_attached]", got)
	}
	if a.got[0].Secret == "" {
		t.Error("joined carries no resume secret")
	}
	if a.got[1].Rep != att.Rep {
		t.Errorf("rep_attached for %q, want %q", a.got[1].Rep, att.Rep)
	}
	st := rp.last()
	if st.Type != protocol.SigState || st.State != protocol.StateActive || st.Agent == nil || st.Agent.Hostname != "pc1" {
		t.Fatalf("rep's last message %+v, want active state with the agent's info", st)
	}
}

func TestSuspendResumeAndWindow(t *testing.T) {
	r, clk := newTestRegistry()
	in, _ := r.Create()
	rp := &fakePeer{}
	r.Attach(in.Code, "", rp)
	a1 := &fakePeer{}
	id, _ := r.Join(in.Code, a1, protocol.AgentInfo{})
	secret1 := a1.got[0].Secret

	r.AgentGone(id, a1)
	if st := rp.last(); st.State != protocol.StateSuspended || st.Deadline != clk.Now().Add(10*time.Minute).UnixMilli() {
		t.Fatalf("after the drop the rep saw %+v, want suspended with a deadline 10 min ahead", st)
	}
	clk.Advance(9 * time.Minute)

	if err := r.Resume(id, "wrong", &fakePeer{}); !errors.Is(err, errBadSecret) {
		t.Fatalf("resume with a wrong secret = %v", err)
	}
	a2 := &fakePeer{}
	if err := r.Resume(id, secret1, a2); err != nil {
		t.Fatal(err)
	}
	if got := a2.types(); len(got) != 2 || got[1] != protocol.SigRepAttached {
		t.Fatalf("resumed agent got %v, want joined then rep_attached", got)
	}
	if a2.got[0].Secret == secret1 {
		t.Fatal("the resume secret was not rotated")
	}
	if err := r.Resume(id, secret1, &fakePeer{}); !errors.Is(err, errBadSecret) {
		t.Fatalf("reusing a resume secret = %v, want refused", err)
	}
	if st := rp.last(); st.State != protocol.StateActive {
		t.Fatalf("rep saw %q after the resume, want active", st.State)
	}
	// The window restarts at the next drop and ends the session when it closes.
	r.AgentGone(id, a2)
	clk.Advance(10*time.Minute - time.Second)
	if st := rp.last(); st.State != protocol.StateSuspended {
		t.Fatalf("ended before the window closed: %+v", st)
	}
	clk.Advance(time.Second)
	st := rp.last()
	if st.State != protocol.StateEnded {
		t.Fatalf("rep saw %+v when the window closed, want ended", st)
	}
	if rp.closed == "" {
		t.Error("the rep's connection was not closed at the end")
	}
	if err := r.Resume(id, a2.got[0].Secret, &fakePeer{}); !errors.Is(err, errEnded) {
		t.Fatalf("resume after the window = %v, want ended", err)
	}
}

func TestStaleAgentDropDoesNotSuspend(t *testing.T) {
	r, _ := newTestRegistry()
	in, _ := r.Create()
	a1 := &fakePeer{}
	id, _ := r.Join(in.Code, a1, protocol.AgentInfo{})
	a2 := &fakePeer{}
	if err := r.Resume(id, a1.got[0].Secret, a2); err != nil {
		t.Fatal(err)
	}
	if a1.closed == "" {
		t.Error("the replaced connection was not closed")
	}
	r.AgentGone(id, a1) // the old connection's handler exits late
	if got := r.List()[0].State; got != protocol.StateActive {
		t.Fatalf("state %q after a stale drop, want active", got)
	}
}

func TestEndClosesEveryone(t *testing.T) {
	r, _ := newTestRegistry()
	in, _ := r.Create()
	a := &fakePeer{}
	r.Join(in.Code, a, protocol.AgentInfo{})
	rp1, rp2 := &fakePeer{}, &fakePeer{}
	r.Attach(in.Code, "", rp1)
	r.Attach(in.Code, "", rp2)
	if err := r.End(in.Code, "", "the support rep ended the session"); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*fakePeer{"agent": a, "rep1": rp1, "rep2": rp2} {
		if st := p.last(); st.State != protocol.StateEnded || st.Reason != "the support rep ended the session" {
			t.Errorf("%s last got %+v, want ended with the reason", name, st)
		}
		if p.closed == "" {
			t.Errorf("%s not closed", name)
		}
	}
	if _, err := r.Attach(in.Code, "", &fakePeer{}); !errors.Is(err, errEnded) {
		t.Fatalf("attach after the end = %v, want ended", err)
	}
}

func TestRelayOnlyBetweenMembers(t *testing.T) {
	r, _ := newTestRegistry()
	in1, _ := r.Create()
	in2, _ := r.Create()
	a1, a2 := &fakePeer{}, &fakePeer{}
	id1, _ := r.Join(in1.Code, a1, protocol.AgentInfo{})
	id2, _ := r.Join(in2.Code, a2, protocol.AgentInfo{})
	rp := &fakePeer{}
	att, _ := r.Attach(in1.Code, "", rp)
	// A rep of session 1 cannot reach session 2's agent.
	if err := r.ToAgent(id2, att.Rep, protocol.Signal{Type: protocol.SigAnswer, SDP: "x"}); err == nil {
		t.Fatal("relayed to another session's agent")
	}
	// Session 2's agent cannot reach session 1's rep.
	if err := r.ToRep(id1, a2, protocol.Signal{Type: protocol.SigOffer, Rep: att.Rep, SDP: "x"}); err == nil {
		t.Fatal("another session's agent reached this rep")
	}
	// The rep field is set by the server, not by the sender.
	if err := r.ToAgent(id1, att.Rep, protocol.Signal{Type: protocol.SigAnswer, Rep: "spoofed", SDP: "x"}); err != nil {
		t.Fatal(err)
	}
	if got := a1.last(); got.Rep != att.Rep {
		t.Fatalf("relayed with rep %q, want %q", got.Rep, att.Rep)
	}
}

func TestLimiter(t *testing.T) {
	clk := clocktest.New(time.Unix(0, 0))
	l := newLimiter(clk, 3, 10*time.Second)
	for i := 0; i < 3; i++ {
		if !l.allow("1.2.3.4") {
			t.Fatalf("attempt %d refused within the burst", i+1)
		}
	}
	if l.allow("1.2.3.4") {
		t.Fatal("fourth attempt allowed")
	}
	if !l.allow("5.6.7.8") {
		t.Fatal("another address was limited too")
	}
	clk.Advance(10 * time.Second)
	if !l.allow("1.2.3.4") {
		t.Fatal("no token after the interval")
	}
	if l.allow("1.2.3.4") {
		t.Fatal("more than one token after one interval")
	}
}
