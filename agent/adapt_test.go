package agent

import (
	"testing"
	"time"
)

// TestAdapterFollowsTheLink drives the adapter with frames on a fake clock:
// a congested link costs quality, then frame rate; a calm one gives them
// back; the buffer goal follows throughput x RTT.
func TestAdapterFollowsTheLink(t *testing.T) {
	t0 := time.Unix(0, 0)
	ad := newAdapter(20, t0)
	now := t0
	var sent uint64
	window := func(blocked bool, bytesPerSec uint64) {
		for i := 0; i < 20; i++ {
			now = now.Add(50 * time.Millisecond)
			sent += bytesPerSec / 20
			buffered := uint64(0)
			if blocked {
				buffered = 100 << 10
			}
			ad.frameDue(now, blocked && i%2 == 0, sent+buffered, buffered)
		}
	}
	if q, iv := ad.settings(); q != maxQuality || iv != 50*time.Millisecond {
		t.Fatalf("start: quality %d interval %v", q, iv)
	}
	for i := 0; i < 5; i++ {
		window(true, 1<<20)
	}
	q, iv := ad.settings()
	if q != minQuality || iv != 50*time.Millisecond {
		t.Fatalf("after 5 congested windows: quality %d interval %v, want quality %d first", q, iv, minQuality)
	}
	for i := 0; i < 3; i++ {
		window(true, 1<<20)
	}
	if _, iv := ad.settings(); iv <= 50*time.Millisecond {
		t.Fatalf("at minimum quality the frame rate did not drop: interval %v", iv)
	}
	ad.observeRTT(200 * time.Millisecond)
	if g := ad.bufferGoal(); g <= lowWater {
		t.Fatalf("buffer goal %d with %d B/s and 200 ms RTT", g, int(ad.rate))
	}
	for i := 0; i < 40; i++ {
		window(false, 0)
	}
	if q, iv := ad.settings(); q != maxQuality || iv != 50*time.Millisecond {
		t.Fatalf("after calm: quality %d interval %v", q, iv)
	}
	if q, fps, _, rtt, ok := ad.report(now); !ok || q != maxQuality || fps != 20 || rtt != 200 {
		t.Fatalf("report %d %d %d %v", q, fps, rtt, ok)
	}
	if _, _, _, _, ok := ad.report(now.Add(time.Second)); ok {
		t.Fatal("an unchanged report repeated within 2 s")
	}
}
