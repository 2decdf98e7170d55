// Package transfertest has fakes for testing transfers without WebRTC or a
// full disk: an in-memory link between two transfer.Managers (ordered
// control messages, data channels with a real buffered amount) and ErrorFS,
// a filesystem wrapper that injects failures (after syncthing's errorfs).
// Only tests import it.
package transfertest

import (
	"context"
	"errors"
	"io/fs"
	"sync"
	"syscall"

	"assist/protocol"
	"assist/transfer"
)

// Pair connects two managers, A and B, as peers named "a" and "b".
type Pair struct {
	A, B *transfer.Manager
	// Tamper, when set, may change a file channel message (the n-th sent
	// on that channel, from 0) before it is delivered.
	Tamper func(label string, n int, b []byte)
	// Room answers Link.Room for both sides (default: always room).
	Room func() bool

	mu        sync.Mutex
	la        *link // A's link to B
	lb        *link
	wg        sync.WaitGroup
	ctrlA     chan func() // deliveries into A, in order
	ctrlB     chan func()
	quit      chan struct{}
	maxBuf    uint64
	closeOnce sync.Once
	aName     string
}

// NewPair links a and b and attaches them to each other.
func NewPair(a, b *transfer.Manager) *Pair { return NewPairAs(a, b, "a") }

// NewPairAs is NewPair where b knows a as aName (a connection that came
// back under another name); a always knows b as "b".
func NewPairAs(a, b *transfer.Manager, aName string) *Pair {
	p := &Pair{A: a, B: b, aName: aName, ctrlA: make(chan func(), 1024), ctrlB: make(chan func(), 1024), quit: make(chan struct{})}
	for _, q := range []chan func(){p.ctrlA, p.ctrlB} {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for {
				select {
				case f := <-q:
					f()
				case <-p.quit:
					return
				}
			}
		}()
	}
	p.Connect()
	return p
}

// Connect (re)creates the link and attaches both sides.
func (p *Pair) Connect() {
	p.mu.Lock()
	p.la = &link{p: p, from: p.aName, to: p.B, deliver: p.ctrlB}
	p.lb = &link{p: p, from: "b", to: p.A, deliver: p.ctrlA}
	la, lb := p.la, p.lb
	p.mu.Unlock()
	p.A.Attach("b", la)
	p.B.Attach(p.aName, lb)
}

// Drop breaks the link: both sides are detached and open channels close.
func (p *Pair) Drop() {
	p.mu.Lock()
	la, lb := p.la, p.lb
	p.la, p.lb = nil, nil
	p.mu.Unlock()
	for _, l := range []*link{la, lb} {
		if l != nil {
			l.down()
		}
	}
	p.A.Detach("b", la)
	p.B.Detach(p.aName, lb)
}

// MaxBuffered is the most bytes any file channel of the pair held queued.
func (p *Pair) MaxBuffered() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.maxBuf
}

// Close stops the pair's goroutines (after the managers are closed).
func (p *Pair) Close() {
	p.closeOnce.Do(func() {
		p.Drop()
		close(p.quit)
		p.wg.Wait()
	})
}

type link struct {
	p       *Pair
	from    string
	to      *transfer.Manager
	deliver chan func()

	mu       sync.Mutex
	dead     bool
	channels []*Channel
}

func (l *link) down() {
	l.mu.Lock()
	l.dead = true
	chs := l.channels
	l.mu.Unlock()
	for _, c := range chs {
		c.Close()
	}
}

func (l *link) SendControl(c protocol.Control) error {
	l.mu.Lock()
	dead := l.dead
	l.mu.Unlock()
	if dead {
		return errors.New("transfertest: link down")
	}
	b, err := protocol.EncodeControl(c)
	if err != nil {
		return err
	}
	c2, err := protocol.DecodeControl(b)
	if err != nil {
		return err
	}
	select {
	case l.deliver <- func() { l.to.HandleControl(l.from, c2) }:
	case <-l.p.quit:
	}
	return nil
}

func (l *link) OpenChannel(ctx context.Context, label string) (transfer.Channel, error) {
	id, ok := protocol.ParseFileChannelLabel(label)
	if !ok {
		return nil, errors.New("transfertest: not a file channel label")
	}
	local, remote := NewChannelPair(label)
	local.tamper = l.p.Tamper
	local.pair = l.p
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		return nil, errors.New("transfertest: link down")
	}
	l.channels = append(l.channels, local, remote)
	l.mu.Unlock()
	l.to.HandleChannel(l.from, id, remote)
	return local, nil
}

func (l *link) Room() bool {
	if l.p.Room != nil {
		return l.p.Room()
	}
	return true
}

// Channel is one end of an in-memory data channel: messages are delivered
// in order by a goroutine, and BufferedAmount counts what is not delivered.
type Channel struct {
	label  string
	peer   *Channel
	tamper func(string, int, []byte)
	sent   int
	pair   *Pair

	mu        sync.Mutex
	cond      *sync.Cond
	queue     [][]byte
	buffered  uint64
	threshold uint64
	onLow     func()
	onMsg     func([]byte)
	closed    bool
	done      chan struct{}
}

// NewChannelPair returns two connected ends.
func NewChannelPair(label string) (*Channel, *Channel) {
	a := &Channel{label: label, done: make(chan struct{})}
	b := &Channel{label: label, done: make(chan struct{})}
	a.cond, b.cond = sync.NewCond(&a.mu), sync.NewCond(&b.mu)
	a.peer, b.peer = b, a
	go a.pump()
	go b.pump()
	return a, b
}

// pump delivers this end's queue to the peer's OnMessage.
func (c *Channel) pump() {
	defer close(c.done)
	for {
		c.mu.Lock()
		for len(c.queue) == 0 && !c.closed {
			c.cond.Wait()
		}
		if c.closed {
			c.mu.Unlock()
			return
		}
		b := c.queue[0]
		c.queue = c.queue[1:]
		c.mu.Unlock()

		c.peer.mu.Lock()
		f := c.peer.onMsg
		c.peer.mu.Unlock()
		if f != nil {
			f(b)
		}

		c.mu.Lock()
		before := c.buffered
		c.buffered -= uint64(len(b))
		low := c.onLow
		fire := before > c.threshold && c.buffered <= c.threshold
		c.mu.Unlock()
		if fire && low != nil {
			low()
		}
	}
}

func (c *Channel) Send(b []byte) error {
	cp := append([]byte(nil), b...)
	if c.tamper != nil {
		c.tamper(c.label, c.sent, cp)
	}
	c.sent++
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("transfertest: channel closed")
	}
	c.queue = append(c.queue, cp)
	c.buffered += uint64(len(cp))
	if p := c.pair; p != nil {
		p.mu.Lock()
		p.maxBuf = max(p.maxBuf, c.buffered)
		p.mu.Unlock()
	}
	c.cond.Signal()
	return nil
}

func (c *Channel) BufferedAmount() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buffered
}

func (c *Channel) SetBufferedAmountLowThreshold(n uint64) {
	c.mu.Lock()
	c.threshold = n
	c.mu.Unlock()
}

func (c *Channel) OnBufferedAmountLow(f func()) {
	c.mu.Lock()
	c.onLow = f
	c.mu.Unlock()
}

func (c *Channel) OnMessage(f func([]byte)) {
	c.mu.Lock()
	c.onMsg = f
	c.mu.Unlock()
}

// Close closes both ends.
func (c *Channel) Close() error {
	for _, e := range []*Channel{c, c.peer} {
		e.mu.Lock()
		e.closed = true
		e.cond.Broadcast()
		e.mu.Unlock()
	}
	return nil
}

// DiscardFS writes nothing: received bytes are checked and dropped (the
// temporary and final files exist, empty). Benchmarks use it so that no
// disk fills up.
type DiscardFS struct{ transfer.OSFS }

func (d DiscardFS) OpenFile(name string, flag int, perm fs.FileMode) (transfer.File, error) {
	f, err := d.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return discardFile{f}, nil
}

type discardFile struct{ transfer.File }

func (discardFile) WriteAt(b []byte, off int64) (int, error) { return len(b), nil }
func (discardFile) Truncate(int64) error                     { return nil }

// ErrorFS wraps an FS and injects failures.
type ErrorFS struct {
	transfer.FS
	mu sync.Mutex
	// WriteLimit, when > 0, is how many bytes writes may add in total
	// before they fail with ENOSPC (a disk filling up).
	WriteLimit int64
	written    int64
	// SyncErr fails every Sync.
	SyncErr error
	// LinkErr fails every Link (a filesystem without hard links).
	LinkErr error
	// Free, when >= 0, is what FreeSpace reports.
	Free int64
}

// NewErrorFS wraps inner with no failures (Free -1: ask inner).
func NewErrorFS(inner transfer.FS) *ErrorFS { return &ErrorFS{FS: inner, Free: -1} }

func (e *ErrorFS) OpenFile(name string, flag int, perm fs.FileMode) (transfer.File, error) {
	f, err := e.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &errFile{File: f, fs: e}, nil
}

func (e *ErrorFS) Link(oldname, newname string) error {
	if e.LinkErr != nil {
		return e.LinkErr
	}
	return e.FS.Link(oldname, newname)
}

func (e *ErrorFS) FreeSpace(dir string) (int64, error) {
	if e.Free >= 0 {
		return e.Free, nil
	}
	return e.FS.FreeSpace(dir)
}

type errFile struct {
	transfer.File
	fs *ErrorFS
}

func (f *errFile) WriteAt(b []byte, off int64) (int, error) {
	e := f.fs
	e.mu.Lock()
	if e.WriteLimit > 0 && e.written+int64(len(b)) > e.WriteLimit {
		n := max(e.WriteLimit-e.written, 0)
		e.written += n
		e.mu.Unlock()
		if n > 0 {
			f.File.WriteAt(b[:n], off)
		}
		return int(n), &fs.PathError{Op: "write", Path: "file", Err: syscall.ENOSPC}
	}
	e.written += int64(len(b))
	e.mu.Unlock()
	return f.File.WriteAt(b, off)
}

func (f *errFile) Sync() error {
	if f.fs.SyncErr != nil {
		return f.fs.SyncErr
	}
	return f.File.Sync()
}
