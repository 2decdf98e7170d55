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
		name  string
		since time.Duration
		want  time.Duration
	}{
		{"a warp just now", 0, pointerInterval},
		{"warps a while ago", pointerIdleAfter - time.Millisecond, pointerInterval},
		{"warps long ago", pointerIdleAfter, pointerWatchedInterval},
		{"never (zero time)", time.Since(time.Time{}), pointerWatchedInterval},
	} {
		if got := watchedPoll(tt.since); got != tt.want {
			t.Errorf("%s: poll after %v, want %v", tt.name, got, tt.want)
		}
	}
}
