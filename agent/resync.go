package agent

import (
	"sync"
	"time"

	"assist/protocol"
)

// resyncLimiter is one rep's screen_resync requests (protocol/resync.go):
// the control goroutine records them, the streamer takes at most one per
// interval, and requests that come sooner are coalesced into that one
// (the latest serial wins). A looping or hostile rep so costs at most one
// full picture per interval.
type resyncLimiter struct {
	every time.Duration

	mu      sync.Mutex
	pending uint32 // the latest serial asked for and not yet answered; 0 none
	reason  string
	asked   uint64    // requests received (for the log)
	last    time.Time // when the streamer last took one; zero never
}

// request records a request (any goroutine).
func (l *resyncLimiter) request(serial uint32, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending, l.reason = serial, reason
	l.asked++
}

// take returns the request to answer now, if one is pending and the last
// answer is at least the interval old; otherwise how long until one may
// be answered (0: nothing pending).
func (l *resyncLimiter) take(now time.Time) (serial uint32, reason string, coalesced uint64, wait time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending == 0 {
		return 0, "", 0, 0, false
	}
	if !l.last.IsZero() {
		if since := now.Sub(l.last); since < l.every {
			return 0, "", 0, l.every - since, false
		}
	}
	serial, reason, coalesced = l.pending, l.reason, l.asked
	l.pending, l.reason, l.asked, l.last = 0, "", 0, now
	return serial, reason, coalesced, 0, true
}

// resync answers p's pending screen_resync request when it is due: from
// the ScreenResync message on, p's deflate stream restarts, its tile cache
// is empty and its tracker knows nothing, so the next frame is the whole
// picture. It returns how long until a pending request is due (0: none).
func (s *streamer) resync(p *peer, now time.Time) time.Duration {
	serial, reason, n, wait, ok := p.resyncs.take(now)
	if !ok {
		return wait
	}
	v := p.view
	s.a.log.Info("rep asked for the whole picture again", "rep", p.rep, "serial", serial, "reason", reason, "requests", n)
	if v.width == 0 {
		return 0 // a ScreenInfo restarts everything before the next frame anyway
	}
	if err := p.sendScreen(protocol.AppendScreenResync(nil, serial)); err != nil {
		p.screenFailed(err)
		return 0
	}
	v.tracker.Reset()
	p.z.Reset()
	v.cache.reset()
	return 0
}
