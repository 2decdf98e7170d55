package agent

import (
	"testing"
	"time"
)

func TestPointerPoll(t *testing.T) {
	tests := []struct {
		name   string
		moved  bool
		rested time.Duration
		want   time.Duration
	}{
		{"moving", true, 0, pointerInterval},
		{"moved long ago but now again", true, time.Hour, pointerInterval},
		{"just stopped", false, time.Second, pointerInterval},
		{"resting", false, pointerIdleAfter, pointerIdleInterval},
		{"resting a while", false, pointerRestAfter - time.Millisecond, pointerIdleInterval},
		{"at rest", false, pointerRestAfter, pointerRestInterval},
		{"at rest for an hour", false, time.Hour, pointerRestInterval},
	}
	for _, tt := range tests {
		if got := pointerPoll(tt.moved, tt.rested); got != tt.want {
			t.Errorf("%s: poll after %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestWatchedPoll(t *testing.T) {
	for _, tt := range []struct {
		name        string
		last        time.Duration
		unannounced bool
		want        time.Duration
	}{
		{"a warp after a long rest", pointerWatchedInterval, true, pointerInterval},
		{"a warp while following", pointerInterval, true, pointerInterval},
		{"nothing after a warp", pointerInterval, false, 2 * pointerInterval},
		{"nothing again", 4 * pointerInterval, false, 8 * pointerInterval},
		{"nothing for long", 30 * pointerInterval, false, pointerWatchedInterval},
		{"at rest", pointerWatchedInterval, false, pointerWatchedInterval},
		{"no wait yet", 0, false, pointerInterval},
	} {
		if got := watchedPoll(tt.last, tt.unannounced); got != tt.want {
			t.Errorf("%s: poll after %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestWatchedPollAfterOneWarp: a lone warp is followed by a handful of
// polls before the pointer is back to one poll a second; a program that
// warps on every poll keeps the full rate.
func TestWatchedPollAfterOneWarp(t *testing.T) {
	wait, polls, elapsed := watchedPoll(pointerWatchedInterval, true), 0, time.Duration(0)
	for wait < pointerWatchedInterval {
		elapsed += wait
		polls++
		wait = watchedPoll(wait, false)
	}
	if polls > 7 || elapsed > 2*time.Second {
		t.Errorf("a lone warp cost %d polls over %v before polls slowed to %v", polls, elapsed, pointerWatchedInterval)
	}
	wait = pointerWatchedInterval
	for range 10 {
		if wait = watchedPoll(wait, true); wait != pointerInterval {
			t.Fatalf("a pointer warped at every poll is polled every %v, want %v", wait, pointerInterval)
		}
	}
}
