package agent

import (
	"testing"
	"time"

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
		{"a", transfer.StateRunning, 1}, // the same id offered again after its end: a new run
		{"c", transfer.StateRunning, 2},
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
	if g.calls != 5 {
		t.Fatalf("Busy called %d times, want 5 (once per run)", g.calls)
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

// TestFileHighWaterFollowsTheScreen: a file channel keeps the transfer's
// small default queue while screen messages go out, and may hold more
// once the screen was still for screenQuiet.
func TestFileHighWaterFollowsTheScreen(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name string
		last time.Time // the last screen message (zero: none yet)
		want uint64
	}{
		{"a frame just went out", now, 0},
		{"still for less than screenQuiet", now.Add(-screenQuiet / 2), 0},
		{"still for longer", now.Add(-2 * screenQuiet), idleHighWater},
		{"no screen message yet", time.Time{}, idleHighWater},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &peer{}
			if !tc.last.IsZero() {
				p.screenSeen.Store(tc.last.UnixNano())
			}
			if got := (fileLink{p}).HighWater(); got != tc.want {
				t.Fatalf("HighWater = %d, want %d", got, tc.want)
			}
		})
	}
}
