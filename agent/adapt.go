package agent

import (
	"sync"
	"time"
)

// Adaptive quality and frame rate, per rep. The agent watches two things:
// how often a frame was due while the rep's screen channel was still full
// (the link, not the screen, set the pace), and how fast the channel drains
// (throughput). Congested windows cost quality first (down to minQuality),
// then frame rate; quiet windows give back frame rate first, then quality.
// The round-trip time sizes the channel's buffer target: enough to keep a
// long link busy (throughput x RTT), never less than lowWater.
const (
	maxQuality     = 75 // JPEG quality on a good link
	minQuality     = 30
	minFPS         = 4
	adaptWindow    = time.Second
	congestedShare = 0.25 // of due frames blocked by a full channel
	maxBufferGoal  = 1 << 20
)

// adapter is one rep's adaptive state. Safe for concurrent use: the
// streamer feeds it frames and bytes, the control channel its RTTs.
type adapter struct {
	mu      sync.Mutex
	maxFPS  int
	quality int
	fps     int

	winStart        time.Time
	due, blocked    int     // frames due in this window, and of those blocked
	calm            int     // consecutive windows without blocking
	drainedAtStart  uint64  // sent-buffered at winStart
	rate            float64 // bytes/s, smoothed; 0 unknown
	rtt             time.Duration
	changed         bool // quality or fps changed since the last report
	lastReport      time.Time
	lastSent, lastB uint64
}

func newAdapter(maxFPS int, now time.Time) *adapter {
	return &adapter{maxFPS: maxFPS, quality: maxQuality, fps: maxFPS, winStart: now, changed: true}
}

// frameDue records that a frame was due for this rep; blocked says its
// channel was too full to take it. sent is the total bytes handed to the
// channel so far and buffered what of it still waits.
func (ad *adapter) frameDue(now time.Time, blocked bool, sent, buffered uint64) {
	ad.mu.Lock()
	defer ad.mu.Unlock()
	ad.due++
	if blocked {
		ad.blocked++
	}
	ad.lastSent, ad.lastB = sent, buffered
	el := now.Sub(ad.winStart)
	if el < adaptWindow {
		return
	}
	drained := sent - min(buffered, sent)
	if blockedShare := float64(ad.blocked) / float64(max(ad.due, 1)); ad.blocked > 0 {
		// Link-limited: what drained is what the link carries.
		r := float64(drained-min(ad.drainedAtStart, drained)) / el.Seconds()
		if ad.rate == 0 {
			ad.rate = r
		} else {
			ad.rate = 0.5*ad.rate + 0.5*r
		}
		if blockedShare >= congestedShare {
			ad.calm = 0
			ad.down()
		}
	} else {
		ad.calm++
		if ad.calm >= 2 {
			ad.up()
		}
	}
	ad.winStart, ad.due, ad.blocked, ad.drainedAtStart = now, 0, 0, drained
}

func (ad *adapter) down() {
	if ad.quality > minQuality {
		ad.quality = max(minQuality, ad.quality-10)
	} else if ad.fps > minFPS {
		ad.fps = max(minFPS, ad.fps*3/4)
	} else {
		return
	}
	ad.changed = true
}

func (ad *adapter) up() {
	if ad.fps < ad.maxFPS {
		ad.fps = min(ad.maxFPS, ad.fps+max(1, ad.fps/4))
	} else if ad.quality < maxQuality {
		ad.quality = min(maxQuality, ad.quality+5)
	} else {
		return
	}
	ad.changed = true
}

// observeRTT records one round-trip measurement (smoothed).
func (ad *adapter) observeRTT(d time.Duration) {
	if d <= 0 {
		return
	}
	ad.mu.Lock()
	defer ad.mu.Unlock()
	if ad.rtt == 0 {
		ad.rtt = d
	} else {
		ad.rtt = (7*ad.rtt + d) / 8
	}
}

// settings returns the current JPEG quality and frame interval.
func (ad *adapter) settings() (quality int, interval time.Duration) {
	ad.mu.Lock()
	defer ad.mu.Unlock()
	return ad.quality, time.Second / time.Duration(max(ad.fps, 1))
}

// bufferGoal is how many bytes may wait in the screen channel before a
// frame is held back: a bandwidth-delay product, at least lowWater.
func (ad *adapter) bufferGoal() uint64 {
	ad.mu.Lock()
	defer ad.mu.Unlock()
	bdp := ad.rate * ad.rtt.Seconds() * 1.5
	return uint64(min(max(bdp, lowWater), maxBufferGoal))
}

// report returns what to tell the rep, and whether it is time to: at once
// after a change, else every few seconds.
func (ad *adapter) report(now time.Time) (q, fps, bytesPerSec, rttMs int, ok bool) {
	ad.mu.Lock()
	defer ad.mu.Unlock()
	if !ad.changed && now.Sub(ad.lastReport) < 2*time.Second {
		return 0, 0, 0, 0, false
	}
	ad.changed = false
	ad.lastReport = now
	return ad.quality, ad.fps, int(ad.rate), int(ad.rtt.Milliseconds()), true
}
