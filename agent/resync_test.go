package agent

import (
	"testing"
	"time"
)

// TestResyncLimiter: requests are answered at once when none was lately,
// then at most one per interval, the ones in between coalesced into it with
// the latest serial.
func TestResyncLimiter(t *testing.T) {
	t0 := time.Unix(1000, 0)
	type step struct {
		at      time.Duration // since t0
		request uint32        // a request with this serial first (0: none)
		serial  uint32        // the answer take gives (0: none)
		wait    time.Duration // take's wait when there is no answer
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"nothing pending", []step{{at: 0}, {at: 5 * time.Second}}},
		{"first answered at once", []step{{at: 0, request: 1, serial: 1}, {at: time.Millisecond}}},
		{"second within the interval waits", []step{
			{at: 0, request: 1, serial: 1},
			{at: 300 * time.Millisecond, request: 2, wait: 700 * time.Millisecond},
			{at: 999 * time.Millisecond, wait: time.Millisecond},
			{at: time.Second, serial: 2},
		}},
		{"a flood is coalesced", []step{
			{at: 0, request: 1, serial: 1},
			{at: 10 * time.Millisecond, request: 2, wait: 990 * time.Millisecond},
			{at: 20 * time.Millisecond, request: 3, wait: 980 * time.Millisecond},
			{at: 30 * time.Millisecond, request: 4, wait: 970 * time.Millisecond},
			{at: 1500 * time.Millisecond, serial: 4},
			{at: 1600 * time.Millisecond, request: 5, wait: 900 * time.Millisecond},
			{at: 2500 * time.Millisecond, serial: 5},
			{at: 2600 * time.Millisecond},
		}},
		{"late request answered at once", []step{
			{at: 0, request: 1, serial: 1},
			{at: 3 * time.Second, request: 9, serial: 9},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &resyncLimiter{every: time.Second}
			for i, st := range tt.steps {
				if st.request != 0 {
					l.request(st.request, "test")
				}
				serial, _, _, wait, ok := l.take(t0.Add(st.at))
				if ok != (st.serial != 0) || serial != st.serial || wait != st.wait {
					t.Fatalf("step %d at %v: take = serial %d, wait %v, ok %v; want serial %d, wait %v", i, st.at, serial, wait, ok, st.serial, st.wait)
				}
			}
		})
	}
}
