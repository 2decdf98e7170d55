// Package clocktest provides a manually advanced clock.Clock for tests.
package clocktest

import (
	"sort"
	"sync"
	"time"

	"assist/internal/clock"
)

// Fake is a clock that moves only when Advance is called. Functions that
// come due run synchronously inside Advance, in deadline order.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*timer
	changed chan struct{} // closed and replaced whenever a timer is added
}

// New returns a fake clock reading start.
func New(start time.Time) *Fake { return &Fake{now: start, changed: make(chan struct{})} }

type timer struct {
	f    *Fake
	when time.Time
	fn   func()
	done bool
}

func (t *timer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	was := !t.done
	t.done = true
	return was
}

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// AfterFunc schedules fn at Now()+d.
func (f *Fake) AfterFunc(d time.Duration, fn func()) clock.Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &timer{f: f, when: f.now.Add(d), fn: fn}
	f.timers = append(f.timers, t)
	if f.changed != nil {
		close(f.changed)
	}
	f.changed = make(chan struct{})
	return t
}

// Pending returns the number of timers that have neither fired nor been
// stopped.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pendingLocked()
}

func (f *Fake) pendingLocked() int {
	n := 0
	for _, t := range f.timers {
		if !t.done {
			n++
		}
	}
	return n
}

// BlockUntil waits until at least n timers are pending: a test calls it to
// know that the code under test is waiting on the clock before it calls
// Advance. It returns false if done is closed first.
func (f *Fake) BlockUntil(n int, done <-chan struct{}) bool {
	for {
		f.mu.Lock()
		if f.changed == nil {
			f.changed = make(chan struct{})
		}
		have, ch := f.pendingLocked(), f.changed
		f.mu.Unlock()
		if have >= n {
			return true
		}
		select {
		case <-ch:
		case <-done:
			return false
		}
	}
}

// Advance moves the clock forward by d and runs every function that came due.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	target := f.now.Add(d)
	for {
		sort.SliceStable(f.timers, func(i, j int) bool { return f.timers[i].when.Before(f.timers[j].when) })
		var due *timer
		for _, t := range f.timers {
			if !t.done && !t.when.After(target) {
				due = t
				break
			}
		}
		if due == nil {
			break
		}
		due.done = true
		if due.when.After(f.now) {
			f.now = due.when
		}
		f.mu.Unlock()
		due.fn()
		f.mu.Lock()
	}
	f.now = target
	live := f.timers[:0]
	for _, t := range f.timers {
		if !t.done {
			live = append(live, t)
		}
	}
	f.timers = live
	f.mu.Unlock()
}
