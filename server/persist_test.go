package server

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"assist/protocol"
)

// TestStateFileSurvivesRestart: the sessions of a registry come back in a
// new registry reading the same state file: a waiting code still joins, a
// connected agent's session is suspended and resumes with its secret, an
// ended session still says it ended; the file is private.
func TestStateFileSurvivesRestart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state", "sessions.json")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r1, clk := newTestRegistry()
	if err := r1.UseStateFile(file, log); err != nil {
		t.Fatal(err)
	}
	waiting, _ := r1.Create()
	active, _ := r1.Create()
	ended, _ := r1.Create()
	agent := &fakePeer{}
	if _, err := r1.Join(active.Code, agent, protocol.AgentInfo{Hostname: "pc"}); err != nil {
		t.Fatal(err)
	}
	var secret string
	for _, s := range agent.got {
		if s.Type == protocol.SigJoined {
			secret = s.Secret
		}
	}
	r1.End(ended.Code, "", "done")
	r1.closePersist() // the server stops (or crashes after its last write)
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v %v", err, fi)
	}

	r2 := NewRegistry(clk, 10*time.Minute, 10*time.Minute, nil)
	if err := r2.UseStateFile(file, log); err != nil {
		t.Fatal(err)
	}
	defer r2.closePersist()
	byCode := map[string]protocol.SessionInfo{}
	for _, in := range r2.List() {
		byCode[in.Code] = in
	}
	if byCode[active.Code].State != protocol.StateSuspended || byCode[waiting.Code].State != protocol.StateWaiting ||
		byCode[ended.Code].State != protocol.StateEnded || byCode[active.Code].Agent.Hostname != "pc" {
		t.Fatalf("restored: %+v", byCode)
	}
	again := &fakePeer{}
	if err := r2.Resume(active.Session, "wrong", again); !errors.Is(err, errBadSecret) {
		t.Fatalf("resume with a wrong secret: %v", err)
	}
	if err := r2.Resume(active.Session, secret, again); err != nil {
		t.Fatalf("resume after the restart: %v", err)
	}
	if _, err := r2.Join(waiting.Code, &fakePeer{}, protocol.AgentInfo{}); err != nil {
		t.Fatalf("join a waiting code after the restart: %v", err)
	}
	if _, err := r2.Join(ended.Code, &fakePeer{}, protocol.AgentInfo{}); err == nil {
		t.Fatal("an ended session was joinable after the restart")
	}
	// The suspended session still ends when its window passes.
	r2.AgentGone(active.Session, again)
	clk.Advance(10 * time.Minute)
	for _, in := range r2.List() {
		if in.Code == active.Code && in.State != protocol.StateEnded {
			t.Fatalf("after the window: %s", in.State)
		}
	}
}

func TestDamagedStateFileDoesNotStopTheServer(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sessions.json")
	os.WriteFile(file, []byte("{not json"), 0o600)
	r, _ := newTestRegistry()
	if err := r.UseStateFile(file, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	defer r.closePersist()
	if len(r.List()) != 0 {
		t.Fatal("sessions from a damaged file")
	}
	if _, err := os.Stat(file + ".bad"); err != nil {
		t.Fatalf("the damaged file was not kept aside: %v", err)
	}
}
