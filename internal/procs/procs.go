// Package procs sizes the Go scheduler to the agent's load: one processor
// (GOMAXPROCS=1) while the agent is lightly loaded, all of them while heavy
// work runs (a large screen update to encode, a file transfer), and for a
// moment after.
//
// Why: a sharing agent spends most of its life on small, bursty work (a
// keystroke's glyph, a pointer poll, a scrolled line), each burst a chain
// of goroutine hand-offs (X replies, pion's read and write loops). With
// several processors the runtime wakes an idle thread for nearly every
// hand-off and lets it spin looking for work; measured on the workload of
// `make bench`, the agent's CPU while typing fell from 0.10 to 0.07 s and
// its context switches from 3,600 to 2,400 on one processor. Heavy work
// still gets every core: Busy widens the scheduler before it starts.
package procs

import (
	"runtime"
	"sync"
	"time"

	"assist/internal/clock"
)

// DefaultHold is how long the scheduler stays wide after the last heavy
// work ends: a photo or a video comes as a run of large frames, and each
// change of GOMAXPROCS stops the world briefly.
const DefaultHold = time.Second

// Options configures a Governor; zero values take the defaults.
type Options struct {
	// Light is the processor count while nothing heavy runs (default 1).
	Light int
	// Heavy is the count while heavy work runs (default: GOMAXPROCS at
	// New, which follows the machine's cores and CPU quota).
	Heavy int
	// Hold is how long Heavy outlasts the last heavy work (DefaultHold).
	Hold time.Duration
	// Clock runs the hold timer (default: the wall clock).
	Clock clock.Clock
	// Set applies a processor count and returns the previous one
	// (default runtime.GOMAXPROCS).
	Set func(int) int
	// Restore hands the count back to the runtime at Close (default
	// runtime.SetDefaultGOMAXPROCS, which follows CPU quota changes
	// again; with a custom Set, Close sets Heavy instead).
	Restore func()
}

// Governor switches between the light and the heavy processor count. A nil
// *Governor governs nothing: Busy returns a no-op.
type Governor struct {
	mu    sync.Mutex
	o     Options
	busy  int         // heavy work running now
	cur   int         // the count last set
	timer clock.Timer // pending return to Light
	gen   uint64      // invalidates a timer that fired after Busy
	done  bool
}

// New returns a Governor and sets the light count at once. When Heavy is
// not above Light there is nothing to govern and New returns nil.
func New(o Options) *Governor {
	if o.Set == nil {
		o.Set = runtime.GOMAXPROCS
		if o.Restore == nil {
			o.Restore = runtime.SetDefaultGOMAXPROCS
		}
	}
	if o.Heavy <= 0 {
		o.Heavy = o.Set(0)
	}
	if o.Light <= 0 {
		o.Light = 1
	}
	if o.Heavy <= o.Light {
		return nil
	}
	if o.Hold <= 0 {
		o.Hold = DefaultHold
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	g := &Governor{o: o, cur: o.Light}
	o.Set(o.Light)
	return g
}

// Busy widens the scheduler for heavy work; call done when the work ends
// (done is safe to call more than once). Busy calls may overlap.
func (g *Governor) Busy() (done func()) {
	if g == nil {
		return func() {}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.busy++
	g.gen++
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	g.setLocked(g.o.Heavy)
	var once sync.Once
	return func() { once.Do(g.idle) }
}

func (g *Governor) idle() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.busy--
	if g.busy > 0 || g.done {
		return
	}
	gen := g.gen
	g.timer = g.o.Clock.AfterFunc(g.o.Hold, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.gen == gen && g.busy == 0 && !g.done {
			g.timer = nil
			g.setLocked(g.o.Light)
		}
	})
}

func (g *Governor) setLocked(n int) {
	if g.cur != n {
		g.o.Set(n)
		g.cur = n
	}
}

// Procs returns the processor count the Governor set last.
func (g *Governor) Procs() int {
	if g == nil {
		return 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cur
}

// Close gives the process all its processors back for good.
func (g *Governor) Close() {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done {
		return
	}
	g.done = true
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	if g.o.Restore != nil {
		g.o.Restore()
		g.cur = g.o.Heavy
		return
	}
	g.setLocked(g.o.Heavy)
}
