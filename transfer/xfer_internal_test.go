package transfer

import (
	"slices"
	"testing"
)

// TestNothingAfterTheFinalStatus: once OnChange got a final status, a
// report still on its way (the rate limiter's delayed publish reads the
// status just before the transfer ends) is not delivered after it.
func TestNothingAfterTheFinalStatus(t *testing.T) {
	var got []string
	m := NewManager(Config{OnChange: func(s Status) { got = append(got, s.State) }})
	defer m.Close()
	x := m.newXfer("t1", "b", true)
	for _, state := range []string{StateRunning, StateDone, StateRunning, StateFailed} {
		x.mu.Lock()
		x.st.State = state
		x.mu.Unlock()
		x.deliver()
	}
	if want := []string{StateRunning, StateDone}; !slices.Equal(got, want) {
		t.Fatalf("OnChange got %v, want %v", got, want)
	}
}
