package reconnect

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"assist/internal/clock"
)

// DefaultWindow is how long a dropped session waits for its agent.
const DefaultWindow = 10 * time.Minute

// ErrWindowClosed reports that the reconnect window passed without a
// successful reconnect.
var ErrWindowClosed = errors.New("reconnect: the reconnect window closed")

// Backoff is a capped exponential backoff with jitter.
type Backoff struct {
	Min, Max time.Duration // defaults 250 ms and 8 s
	// Jitter returns a value in [0, 1); nil means math/rand/v2.
	Jitter func() float64
}

// Delay is the wait after the attempt-th failure (attempt from 0): Min
// doubled attempt times, capped at Max, then spread over [d/2, 3d/2) so
// that agents dropped together do not come back together.
func (b Backoff) Delay(attempt int) time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = 250 * time.Millisecond
	}
	if hi < lo {
		hi = max(lo, 8*time.Second)
	}
	d := lo
	for i := 0; i < attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	j := b.Jitter
	if j == nil {
		j = rand.Float64
	}
	return d/2 + time.Duration(float64(d)*j())
}

// permanent marks an error that retrying cannot fix.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent wraps err so that Retry gives up at once and returns err.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// Policy retries an operation with backoff until a deadline on its clock.
type Policy struct {
	Backoff Backoff
	Clock   clock.Clock // nil means the wall clock
}

func (p Policy) clock() clock.Clock {
	if p.Clock == nil {
		return clock.Real{}
	}
	return p.Clock
}

// Retry calls try until it succeeds, returns a Permanent error (returned
// unwrapped), ctx ends, or the clock reaches deadline: then it returns an
// error wrapping ErrWindowClosed and the last failure. try's context is
// cancelled at the deadline too, so a slow attempt cannot outlive the window.
// onFail (may be nil) hears about each failed attempt and the wait before
// the next.
func (p Policy) Retry(ctx context.Context, deadline time.Time, try func(ctx context.Context) error, onFail func(attempt int, err error, wait time.Duration)) error {
	c := p.clock()
	wctx, cancel := WithDeadline(ctx, c, deadline)
	defer cancel()
	var last error
	for attempt := 0; ; attempt++ {
		if !c.Now().Before(deadline) || wctx.Err() != nil {
			break
		}
		err := try(wctx)
		if err == nil {
			return nil
		}
		var perm permanent
		if errors.As(err, &perm) {
			return perm.err
		}
		last = err
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := p.Backoff.Delay(attempt)
		if left := deadline.Sub(c.Now()); wait > left {
			wait = max(left, 0)
		}
		if onFail != nil {
			onFail(attempt, err, wait)
		}
		if err := Sleep(wctx, c, wait); err != nil {
			break
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if last != nil {
		return fmt.Errorf("%w (last attempt: %v)", ErrWindowClosed, last)
	}
	return ErrWindowClosed
}

// Sleep waits d on c, or until ctx ends (then it returns ctx.Err()).
func Sleep(ctx context.Context, c clock.Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	done := make(chan struct{})
	t := c.AfterFunc(d, func() { close(done) })
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-done:
		return nil
	}
}

// WithDeadline is context.WithDeadline on clock c (which may be a fake): the
// context is cancelled when c reaches deadline.
func WithDeadline(ctx context.Context, c clock.Clock, deadline time.Time) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	t := c.AfterFunc(deadline.Sub(c.Now()), func() { cancel(ErrWindowClosed) })
	return ctx, func() {
		t.Stop()
		cancel(context.Canceled)
	}
}
