package agent

import (
	"testing"

	"assist/transfer"
)

// countingGovernor counts heavy work in progress.
type countingGovernor struct{ busy, calls int }

func (g *countingGovernor) Busy() func() {
	g.busy++
	g.calls++
	return func() { g.busy-- }
}

func TestTransfersWidenTheScheduler(t *testing.T) {
	g := &countingGovernor{}
	a := &agent{cfg: Config{Procs: g, OnState: func(string) {}}}
	a.files.states = map[string]string{}
	a.files.busy = map[string]func(){}
	steps := []struct {
		id, state string
		busy      int
	}{
		{"a", transfer.StateAsking, 0},
		{"a", transfer.StateRunning, 1},
		{"a", transfer.StateRunning, 1}, // progress: the same state again
		{"b", transfer.StateOffered, 1},
		{"b", transfer.StateRunning, 2},
		{"a", transfer.StateWaiting, 1}, // the link dropped: nothing flows
		{"a", transfer.StateRunning, 2},
		{"b", transfer.StateDone, 1},
		{"a", transfer.StateFailed, 0},
		{"a", transfer.StateRunning, 0}, // a late progress report after the end
		{"c", transfer.StateRunning, 1},
	}
	for i, s := range steps {
		a.fileChanged(transfer.Status{ID: s.id, State: s.state, Name: s.id})
		if g.busy != s.busy {
			t.Fatalf("step %d (%s %s): %d heavy, want %d", i, s.id, s.state, g.busy, s.busy)
		}
	}
	a.stopFiles(false)
	if g.busy != 0 {
		t.Fatalf("after the session: %d heavy, want 0", g.busy)
	}
	if g.calls != 4 {
		t.Fatalf("Busy called %d times, want 4 (once per run)", g.calls)
	}
}

func TestNoGovernor(t *testing.T) {
	a := &agent{cfg: Config{OnState: func(string) {}}}
	a.files.states = map[string]string{}
	a.files.busy = map[string]func(){}
	a.fileChanged(transfer.Status{ID: "a", State: transfer.StateRunning})
	a.fileChanged(transfer.Status{ID: "a", State: transfer.StateDone})
	a.procsBusy()()
}
