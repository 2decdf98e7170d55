package server

import (
	"sync"
	"time"

	"assist/internal/clock"
)

// limiter is a token bucket per source address: each address may make burst
// attempts at once and then one every interval. It bounds guessing of
// session codes, rep tokens and resume secrets.
type limiter struct {
	clock    clock.Clock
	burst    float64
	interval time.Duration

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

const maxBuckets = 100000

func newLimiter(c clock.Clock, burst int, interval time.Duration) *limiter {
	return &limiter{clock: c, burst: float64(burst), interval: interval, buckets: map[string]*bucket{}}
}

// allow takes one token for addr and reports whether there was one.
func (l *limiter) allow(addr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	b := l.buckets[addr]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			l.pruneLocked(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[addr] = b
	}
	b.tokens += float64(now.Sub(b.last)) / float64(l.interval)
	if b.tokens > l.burst {
		b.tokens = l.burst
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// pruneLocked forgets addresses whose buckets have refilled completely.
func (l *limiter) pruneLocked(now time.Time) {
	full := time.Duration(l.burst * float64(l.interval))
	for a, b := range l.buckets {
		if now.Sub(b.last) >= full {
			delete(l.buckets, a)
		}
	}
}
