package transfer

import (
	"context"
	"errors"
	"hash"
	"sync"
	"time"

	"assist/internal/clock"
	"assist/protocol"
)

const (
	evControl = iota
	evAttach
	evDetach
)

type event struct {
	kind int
	c    protocol.Control
}

// item is one message of a file channel; gen tells channels apart.
type item struct {
	gen int
	b   []byte
}

// xfer is one transfer, owned by one goroutine (runOut or runIn); other
// goroutines talk to it through ev, q, wake and stop.
type xfer struct {
	m      *Manager
	id     string
	peer   string
	out    bool
	ctx    context.Context
	cancel context.CancelFunc
	ev     chan event
	wake   chan struct{}
	done   chan struct{}
	err    error // set before done closes

	// away runs the PeerWindow while the peer is gone; awayGen tells its
	// timers apart. Both under m.mu.
	away    clock.Timer
	awayGen int

	stopMu     sync.Mutex
	stopErr    error
	stopNotify bool

	mu      sync.Mutex
	st      Status
	samples []sample
	lastPub time.Time
	trail   *time.Timer // a publish delayed by the rate limit
	chGen   int
	ch      Channel // incoming: the current file channel
	q       chan item

	deliverMu sync.Mutex // one OnChange at a time for this transfer
	finalSent bool       // the final status went out: nothing follows it

	// sending
	path    string
	size    int64
	mtime   time.Time
	offered bool

	// receiving
	dest      Dest
	approved  bool // no consent question: we asked for it (Pull) or it was given before a restart
	restored  bool // from the journal
	offerName string
	tmp       string
	f         File
	blocksF   File
	whole     hash.Hash
}

type sample struct {
	t time.Time
	n int64
}

func (m *Manager) newXfer(id, peer string, out bool) *xfer {
	ctx, cancel := context.WithCancel(m.ctx)
	x := &xfer{
		m: m, id: id, peer: peer, out: out, ctx: ctx, cancel: cancel,
		ev: make(chan event, 64), wake: make(chan struct{}, 1), done: make(chan struct{}),
		q: make(chan item, protocol.FileWindow/protocol.FileChunkSize+protocol.FileWindow/protocol.FileBlockSize+16),
	}
	x.st = Status{ID: id, Peer: peer, Send: out, State: StateOffered, Started: m.cfg.Now()}
	return x
}

// post hands an event to the transfer's goroutine.
func (x *xfer) post(e event) {
	select {
	case x.ev <- e:
	case <-x.done:
	case <-x.ctx.Done():
	}
}

// link is the working link to the transfer's peer, if any.
func (x *xfer) link() Link {
	x.m.mu.Lock()
	defer x.m.mu.Unlock()
	return x.m.links[x.peer]
}

// peerName is the connection the transfer belongs to (it may move to a
// new one when a restarted agent's sender comes back: HandleControl).
func (x *xfer) peerName() string {
	x.m.mu.Lock()
	defer x.m.mu.Unlock()
	return x.peer
}

func (x *xfer) finished() bool {
	select {
	case <-x.done:
		return true
	default:
		return false
	}
}

func (x *xfer) poke() {
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

// stop ends the transfer with err; notify tells the other side.
func (x *xfer) stop(err error, notify bool) {
	x.stopMu.Lock()
	if x.stopErr == nil {
		x.stopErr, x.stopNotify = err, notify
	}
	x.stopMu.Unlock()
	x.cancel()
}

// stopped returns why the transfer was stopped, if it was.
func (x *xfer) stopped() (error, bool) {
	x.stopMu.Lock()
	defer x.stopMu.Unlock()
	return x.stopErr, x.stopNotify
}

func (x *xfer) status() Status {
	x.mu.Lock()
	defer x.mu.Unlock()
	s := x.st
	if len(x.samples) >= 2 && !s.Final() {
		a, b := x.samples[0], x.samples[len(x.samples)-1]
		if dt := b.t.Sub(a.t).Seconds(); dt > 0 {
			s.Rate = float64(b.n-a.n) / dt
		}
		if s.Rate > 0 {
			s.ETA = time.Duration(float64(s.Size-s.Bytes) / s.Rate * float64(time.Second))
		}
	}
	return s
}

// setState changes the state and publishes it.
func (x *xfer) setState(state string) {
	x.mu.Lock()
	x.st.State = state
	x.mu.Unlock()
	x.publish(true)
}

// progress records n verified bytes.
func (x *xfer) progress(n int64) {
	now := x.m.cfg.Now()
	x.mu.Lock()
	x.st.Bytes = n
	x.samples = append(x.samples, sample{now, n})
	// keep about the last 3 seconds
	for len(x.samples) > 2 && now.Sub(x.samples[0].t) > 3*time.Second {
		x.samples = x.samples[1:]
	}
	if len(x.samples) > 64 {
		x.samples = x.samples[len(x.samples)-64:]
	}
	x.mu.Unlock()
	x.publish(false)
}

// startRun marks where this run's bytes start (for the average rate).
func (x *xfer) startRun(from int64) {
	x.mu.Lock()
	x.st.movedFrom = from
	x.st.Bytes = from
	x.samples = x.samples[:0]
	x.st.Started = x.m.cfg.Now()
	x.mu.Unlock()
}

// publish reports the status: at once for state changes, at most every
// 200 ms for progress, the last progress always reported.
func (x *xfer) publish(force bool) {
	const every = 200 * time.Millisecond
	now := x.m.cfg.Now()
	x.mu.Lock()
	if since := now.Sub(x.lastPub); !force && since < every {
		if x.trail == nil {
			x.trail = time.AfterFunc(every-since, func() {
				x.mu.Lock()
				x.trail = nil
				x.mu.Unlock()
				select {
				case <-x.done:
				default:
					x.publish(true)
				}
			})
		}
		x.mu.Unlock()
		return
	}
	x.lastPub = now
	x.mu.Unlock()
	x.deliver()
}

// deliver calls OnChange with the current status. Calls are serialized
// and the status is read inside, so they arrive in order; once a final
// status went out, nothing follows it (a delayed progress report that
// fires as the transfer ends would otherwise announce it running again).
func (x *xfer) deliver() {
	x.deliverMu.Lock()
	defer x.deliverMu.Unlock()
	if x.finalSent {
		return
	}
	st := x.status()
	x.finalSent = st.Final()
	x.m.cfg.OnChange(st)
}

// finish records the outcome, tells the other side when needed, cleans up
// and closes done. It runs once, at the end of the owning goroutine.
func (x *xfer) finish(err error) {
	x.m.mu.Lock()
	x.m.backLocked(x) // nothing to wait for any more
	x.m.mu.Unlock()
	if serr, notify := x.stopped(); serr != nil {
		err = serr
		if notify {
			if l := x.link(); l != nil {
				l.SendControl(protocol.Control{Type: protocol.CtlFileCancel, ID: x.id, Reason: serr.Error()})
			}
		}
	} else if err != nil && x.m.ctx.Err() != nil && !x.m.keeping() {
		err = errors.New("transfer: the session ended before the file was complete")
	}
	x.mu.Lock()
	ch := x.ch
	x.ch = nil
	if x.trail != nil {
		x.trail.Stop()
		x.trail = nil
	}
	x.mu.Unlock()
	if ch != nil {
		ch.Close()
	}
	if err != nil {
		x.removePartial()
	}
	if !x.out && err == nil {
		x.m.jr.remove(x.id)
	}
	if x.out && (err == nil || !x.m.keeping()) {
		x.m.jr.remove(x.id)
	}
	now := x.m.cfg.Now()
	x.mu.Lock()
	x.err = err
	x.st.Finished = now
	x.st.Duration = now.Sub(x.st.Started)
	if d := x.st.Duration.Seconds(); d > 0 {
		x.st.AvgRate = float64(x.st.Bytes-x.st.movedFrom) / d
	}
	switch {
	case err == nil:
		x.st.State = StateDone
	case errors.Is(err, ErrCancelled):
		x.st.State = StateCancelled
	case errors.Is(err, ErrRefused):
		x.st.State = StateRefused
	default:
		x.st.State = StateFailed
	}
	if err != nil {
		x.st.Err = err.Error()
	}
	x.mu.Unlock()
	x.cancel()
	close(x.done)
	x.deliver()
	x.m.log.Info("transfer over", "id", x.id, "send", x.out, "name", x.st.Name, "err", err)
}

// remoteErr turns a file_refuse / file_error into an error.
func remoteErr(c protocol.Control) error {
	e := &RemoteError{Code: c.Error, Message: c.Message}
	if e.Message == "" {
		e.Message = "the other side reported: " + c.Error
	}
	switch {
	case c.Error == protocol.FileNoSpace:
		e.kind = ErrNoSpace
	case c.Error == protocol.FileCorrupt:
		e.kind = ErrCorrupt
	case c.Type == protocol.CtlFileRefuse:
		e.kind = ErrRefused
	}
	return e
}

// errCode maps a local error to the protocol code sent to the other side.
func errCode(err error) string {
	switch {
	case errors.Is(err, ErrNoSpace):
		return protocol.FileNoSpace
	case errors.Is(err, ErrCorrupt):
		return protocol.FileCorrupt
	case errors.Is(err, errChanged):
		return protocol.FileChanged
	case errors.Is(err, errProtocol):
		return protocol.FileProtocol
	}
	return protocol.FileIO
}

var (
	errChanged  = errors.New("transfer: the file changed while it was sent")
	errProtocol = errors.New("transfer: protocol error")
)

// sendErr tells the other side that the transfer failed with err.
func (x *xfer) sendErr(err error) {
	if l := x.link(); l != nil {
		l.SendControl(protocol.Control{Type: protocol.CtlFileError, ID: x.id, Error: errCode(err), Message: trimMsg(err.Error())})
	}
}

func trimMsg(s string) string {
	if len(s) > 1000 {
		return s[:1000]
	}
	return s
}
