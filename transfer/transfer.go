package transfer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"assist/internal/clock"
	"assist/protocol"
)

// Channel is one "file:<id>" data channel (a pion DataChannel or the
// browser's RTCDataChannel behind a small adapter).
type Channel interface {
	Send(b []byte) error
	// BufferedAmount is the number of bytes queued and not yet sent.
	BufferedAmount() uint64
	SetBufferedAmountLowThreshold(n uint64)
	OnBufferedAmountLow(f func())
	// OnMessage installs the receiver of binary messages; each b is the
	// callee's to keep (pion copies every message out of its read buffer,
	// so a second copy here would only cost time).
	OnMessage(f func(b []byte))
	Close() error
}

// Link is one working connection to a peer: its control channel, a way to
// open file channels on the same PeerConnection, and what the rest of the
// session needs.
type Link interface {
	SendControl(c protocol.Control) error
	// OpenChannel opens a data channel with label and returns once it is open.
	OpenChannel(ctx context.Context, label string) (Channel, error)
	// Room reports whether the session's latency-sensitive channels
	// (screen, input) have room: file chunks enter only while they do.
	Room() bool
}

// HighWaterLink is a Link that also says how many bytes a file channel may
// hold queued right now: more while the screen is idle (throughput), the
// Manager's small default while it moves (latency). 0 means the default.
type HighWaterLink interface {
	Link
	HighWater() uint64
}

// Offer describes an incoming file for the consent question.
type Offer struct {
	ID, Peer string
	Name     string // already reduced by SafeName
	Size     int64
	Dir      string // where it will be saved
}

// PullRequest describes a file the other side asks for.
type PullRequest struct {
	ID, Peer string
	Path     string
	Size     int64
}

// Config configures a Manager.
type Config struct {
	// Dir is where received files are saved (the Downloads folder).
	Dir string
	// FS defaults to OSFS.
	FS FS
	// JournalDir, when set, keeps unfinished transfers on disk for a
	// restarted agent (see StateDir); Session scopes the records.
	JournalDir string
	Session    string
	// AskOffer asks whether to accept an incoming file; nil refuses every
	// offer the Manager did not ask for itself (Pull).
	AskOffer func(ctx context.Context, o Offer) (bool, error)
	// AskPull asks whether to send a file the other side asks for; nil
	// refuses every pull.
	AskPull func(ctx context.Context, r PullRequest) (bool, error)
	// OnChange receives a transfer's status at every state change and, at
	// most every 200 ms, on progress. It must not block.
	OnChange func(Status)
	// HighWater is the most bytes a file channel may hold queued (default
	// 64 KiB: a screen message sent meanwhile waits behind at most that
	// much; 128 KiB doubled the screen's p99 latency on loopback).
	HighWater uint64
	// PeerWindow is how long a transfer whose connection went away (Detach,
	// or restored from the journal with no link yet) is kept for its peer to
	// come back: on the same connection (Attach) or, for an incoming file, as
	// its sender on a new one (a reloaded console re-offering the same id with
	// resume). Past it the transfer fails and its partial data is removed.
	// 0 keeps it until the session ends.
	PeerWindow time.Duration
	// Clock runs PeerWindow (default: the wall clock).
	Clock  clock.Clock
	Logger *slog.Logger
	Now    func() time.Time
}

// Transfer states.
const (
	StateAsking    = "asking"    // waiting for the local user's consent
	StateOffered   = "offered"   // waiting for the other side to accept
	StateRunning   = "running"   // bytes are flowing
	StateWaiting   = "waiting"   // the link dropped; resumes when it is back
	StateDone      = "done"      // verified and saved (or confirmed by the receiver)
	StateFailed    = "failed"    // Err says why; no partial file is left
	StateCancelled = "cancelled" // by either side
	StateRefused   = "refused"   // the other side (or the local user) said no
)

// Status is a snapshot of one transfer.
type Status struct {
	ID        string        `json:"id"`
	Peer      string        `json:"peer,omitempty"`
	Send      bool          `json:"send"` // we send, or we receive
	Name      string        `json:"name"`
	Path      string        `json:"path,omitempty"` // the local file: the source, or where it was saved
	Size      int64         `json:"size"`
	Bytes     int64         `json:"bytes"` // verified by the receiver
	Rate      float64       `json:"rate"`  // bytes per second, recent
	ETA       time.Duration `json:"eta"`
	State     string        `json:"state"`
	SHA256    string        `json:"sha256,omitempty"`
	Err       string        `json:"error,omitempty"`
	Retries   int           `json:"retries,omitempty"`   // blocks sent again after failing verification
	Resumed   bool          `json:"resumed,omitempty"`   // continued after a dropped link or a restart
	AwayUntil time.Time     `json:"away_until,omitzero"` // the other side's connection is gone: kept for it until then (Config.PeerWindow)
	Started   time.Time     `json:"started"`
	Finished  time.Time     `json:"finished"`
	Duration  time.Duration `json:"duration"`
	AvgRate   float64       `json:"avg_rate"` // bytes moved in this run / time, when finished
	movedFrom int64
}

// Final reports whether the transfer is over.
func (s Status) Final() bool {
	switch s.State {
	case StateDone, StateFailed, StateCancelled, StateRefused:
		return true
	}
	return false
}

// Manager runs the transfers of one session side: outgoing files it was
// asked to send, incoming files it accepted, across dropped links and
// (with a journal) restarts.
type Manager struct {
	cfg Config
	log *slog.Logger
	fs  FS
	jr  *journal

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	links map[string]Link
	xfers map[string]*xfer
	keep  bool // Shutdown: leave partial files and the journal for a restart
}

// NewManager returns a Manager and picks up this session's unfinished
// transfers from the journal.
func NewManager(cfg Config) *Manager {
	if cfg.FS == nil {
		cfg.FS = OSFS{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HighWater == 0 {
		cfg.HighWater = 64 << 10
	}
	if cfg.OnChange == nil {
		cfg.OnChange = func(Status) {}
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	m := &Manager{
		cfg: cfg, log: cfg.Logger.With("component", "transfer"), fs: cfg.FS,
		links: map[string]Link{}, xfers: map[string]*xfer{},
	}
	if cfg.JournalDir != "" {
		m.jr = &journal{fs: cfg.FS, dir: cfg.JournalDir, session: cfg.Session}
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	for _, r := range m.jr.load(cfg.Now()) {
		m.restore(r)
	}
	return m
}

// Attach makes l the working link to peer (a PeerConnection's control
// channel opened): transfers waiting for that peer carry on.
//
// Attaching the link that is already attached does nothing, so the wiring
// may call Attach whenever it sees the link work (its first message may
// arrive before the channel's open callback ran).
func (m *Manager) Attach(peer string, l Link) {
	m.mu.Lock()
	if cur, ok := m.links[peer]; ok && cur == l {
		m.mu.Unlock()
		return
	}
	m.links[peer] = l
	xs := m.peerXfers(peer)
	for _, x := range xs {
		m.backLocked(x)
	}
	m.mu.Unlock()
	for _, x := range xs {
		x.post(event{kind: evAttach})
	}
}

// Detach says the link to peer is gone (the PeerConnection closed or
// failed); its transfers wait for a new one.
func (m *Manager) Detach(peer string, l Link) {
	m.mu.Lock()
	if cur, ok := m.links[peer]; !ok || (l != nil && cur != l) {
		m.mu.Unlock()
		return
	}
	delete(m.links, peer)
	xs := m.peerXfers(peer)
	for _, x := range xs {
		m.awayLocked(x)
	}
	m.mu.Unlock()
	for _, x := range xs {
		x.post(event{kind: evDetach})
	}
}

// awayLocked starts the PeerWindow of x, whose connection is gone; m.mu is
// held.
func (m *Manager) awayLocked(x *xfer) {
	if m.cfg.PeerWindow <= 0 || x.away != nil || x.finished() {
		return
	}
	x.awayGen++
	gen := x.awayGen
	x.mu.Lock()
	x.st.AwayUntil = m.cfg.Clock.Now().Add(m.cfg.PeerWindow)
	x.mu.Unlock()
	x.away = m.cfg.Clock.AfterFunc(m.cfg.PeerWindow, func() { m.abandon(x, gen) })
}

// backLocked stops the PeerWindow of x: its peer is back; m.mu is held.
func (m *Manager) backLocked(x *xfer) {
	if x.away == nil {
		return
	}
	x.away.Stop()
	x.away = nil
	x.awayGen++
	x.mu.Lock()
	x.st.AwayUntil = time.Time{}
	x.mu.Unlock()
}

// abandon ends x when its peer did not come back within the PeerWindow
// (gen tells a stale timer apart): the partial data goes.
func (m *Manager) abandon(x *xfer, gen int) {
	m.mu.Lock()
	if x.away == nil || x.awayGen != gen || m.links[x.peer] != nil {
		m.mu.Unlock()
		return
	}
	x.away = nil
	m.mu.Unlock()
	m.log.Info("the other side did not come back for a transfer", "id", x.id, "peer", x.peerName(), "window", m.cfg.PeerWindow)
	x.stop(fmt.Errorf("%w within %s", ErrAbandoned, describe(m.cfg.PeerWindow)), false)
}

// describe formats a window for people: "10 minutes", "90s".
func describe(d time.Duration) string {
	if d >= time.Minute && d%time.Minute == 0 {
		if d == time.Minute {
			return "1 minute"
		}
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
	return d.String()
}

// taken reports whether a transfer with id exists (of any connection).
func (m *Manager) taken(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.xfers[id]
	return ok
}

func (m *Manager) peerXfers(peer string) []*xfer {
	var out []*xfer
	for _, x := range m.xfers {
		if x.peer == peer {
			out = append(out, x)
		}
	}
	return out
}

func (m *Manager) link(peer string) Link {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.links[peer]
}

// Wake tells waiting senders that the session's channels may have room
// again (the screen channel drained).
func (m *Manager) Wake() {
	m.mu.Lock()
	xs := make([]*xfer, 0, len(m.xfers))
	for _, x := range m.xfers {
		xs = append(xs, x)
	}
	m.mu.Unlock()
	for _, x := range xs {
		x.poke()
	}
}

// HandleControl routes a file_* control message from peer. Other types
// are ignored. It never blocks for long.
func (m *Manager) HandleControl(peer string, c protocol.Control) {
	m.mu.Lock()
	x := m.xfers[c.ID]
	if x != nil && x.peer != peer {
		switch {
		case !x.out && !x.finished() && (c.Type == protocol.CtlFileOffer && c.Resume || c.Type == protocol.CtlFileCancel):
			// The sender came back on another connection (a reloaded
			// console, or a restarted agent's journal knew the old one):
			// only it knows the id. It resumes or discards the transfer.
			x.peer = peer
			x.mu.Lock()
			x.st.Peer = peer
			x.mu.Unlock()
			if m.links[peer] != nil {
				m.backLocked(x)
			} else {
				m.awayLocked(x)
			}
		default:
			x = nil // never let one connection touch another's transfer
		}
	}
	m.mu.Unlock()
	if x == nil && m.taken(c.ID) {
		if l := m.link(peer); l != nil {
			l.SendControl(protocol.Control{Type: protocol.CtlFileError, ID: c.ID, Error: protocol.FileProtocol,
				Message: "this transfer id belongs to another connection"})
		}
		return
	}
	switch {
	case x != nil && c.Type == protocol.CtlFileOffer && x.finished():
		// The sender lost our answer (its link dropped at the end): repeat it.
		st := x.status()
		if l := m.link(peer); l != nil {
			if st.State == StateDone {
				l.SendControl(protocol.Control{Type: protocol.CtlFileDone, ID: x.id, Size: st.Size, SHA256: st.SHA256, Name: st.Name})
			} else {
				l.SendControl(protocol.Control{Type: protocol.CtlFileError, ID: x.id, Error: protocol.FileIO, Message: trimMsg(st.Err)})
			}
		}
	case x != nil:
		if c.Type == protocol.CtlFileCancel {
			x.stop(fmt.Errorf("%w by the other side: %s", ErrCancelled, c.Reason), false)
			return
		}
		x.post(event{kind: evControl, c: c})
	case c.Type == protocol.CtlFileOffer:
		m.startIncoming(peer, c)
	case c.Type == protocol.CtlFilePull:
		m.startPull(peer, c)
	case c.Type == protocol.CtlFileCancel, c.Type == protocol.CtlFileError, c.Type == protocol.CtlFileDone,
		c.Type == protocol.CtlFileRefuse:
		// about a transfer that is already over
	default:
		if l := m.link(peer); l != nil {
			l.SendControl(protocol.Control{Type: protocol.CtlFileError, ID: c.ID, Error: protocol.FileProtocol,
				Message: "no such file transfer"})
		}
	}
}

// HandleChannel takes the "file:<id>" data channel the peer opened.
func (m *Manager) HandleChannel(peer, id string, ch Channel) {
	m.mu.Lock()
	x := m.xfers[id]
	ok := x != nil && x.peer == peer && !x.out
	m.mu.Unlock()
	if !ok {
		ch.Close()
		return
	}
	x.adoptChannel(ch)
}

// Send offers the local file at path to peer, as name (the base name of
// path when empty). The transfer starts when the peer accepts.
func (m *Manager) Send(peer, path, name string) (*Transfer, error) {
	return m.send(peer, path, name, newID())
}

// Resume offers the local file at path to peer again under id, the id of
// an unfinished transfer that an earlier connection of this sender started
// (a reloaded console, a sender run again): the offer carries resume, and
// the receiver continues from its last verified block.
func (m *Manager) Resume(peer, path, name, id string) (*Transfer, error) {
	if id == "" {
		return nil, errors.New("transfer: resume needs the transfer's id")
	}
	return m.sendAs(peer, path, name, id, true)
}

func (m *Manager) send(peer, path, name, id string) (*Transfer, error) {
	return m.sendAs(peer, path, name, id, false)
}

func (m *Manager) sendAs(peer, path, name, id string, resume bool) (*Transfer, error) {
	info, err := m.fs.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("transfer: %s is not a regular file", path)
	}
	if name == "" {
		name = filepath.Base(path)
	}
	x := m.newXfer(id, peer, true)
	x.path, x.size, x.mtime, x.offered = path, info.Size(), info.ModTime(), resume
	x.st.Name, x.st.Path, x.st.Size, x.st.Resumed = name, path, info.Size(), resume
	if !m.add(x) {
		return nil, fmt.Errorf("transfer: a transfer with id %s exists", id)
	}
	x.journalOut()
	m.spawn(x.runOut)
	return &Transfer{x}, nil
}

// Dest says where Pull saves a file.
type Dest struct {
	Dir   string // the folder (Config.Dir when empty)
	Name  string // the exact name; empty: the sender's name, made safe and unique
	Exact bool   // with Name: fail rather than pick another name if it exists
}

// Pull asks peer for its file at remotePath and saves it per dest.
func (m *Manager) Pull(peer, remotePath string, dest Dest) (*Transfer, error) {
	l := m.link(peer)
	if l == nil {
		return nil, errors.New("transfer: not connected to the other side")
	}
	if dest.Dir == "" {
		dest.Dir = m.cfg.Dir
	}
	x := m.newXfer(newID(), peer, false)
	x.dest = dest
	x.approved = true
	x.st.Name, x.st.State = filepath.Base(remotePath), StateOffered
	m.add(x)
	if err := l.SendControl(protocol.Control{Type: protocol.CtlFilePull, ID: x.id, Path: remotePath}); err != nil {
		m.remove(x)
		return nil, fmt.Errorf("transfer: ask for %s: %w", remotePath, err)
	}
	m.spawn(x.runIn)
	return &Transfer{x}, nil
}

// List returns the status of every transfer of this session.
func (m *Manager) List() []Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Status, 0, len(m.xfers))
	for _, x := range m.xfers {
		out = append(out, x.status())
	}
	return out
}

// Get returns the transfer with id.
func (m *Manager) Get(id string) (*Transfer, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	x, ok := m.xfers[id]
	if !ok {
		return nil, false
	}
	return &Transfer{x}, true
}

// Close ends every transfer (the session is over): unfinished received
// files and their journal records are removed. It waits for the transfer
// goroutines.
func (m *Manager) Close() {
	m.stopTimers()
	m.cancel()
	m.wg.Wait()
}

// stopTimers stops every PeerWindow: the transfers end with the manager.
func (m *Manager) stopTimers() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, x := range m.xfers {
		m.backLocked(x)
	}
}

// Shutdown stops every transfer but keeps partial files and the journal,
// for a restarted agent to resume.
func (m *Manager) Shutdown() {
	m.mu.Lock()
	m.keep = true
	m.mu.Unlock()
	m.stopTimers()
	m.cancel()
	m.wg.Wait()
}

func (m *Manager) keeping() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.keep
}

func (m *Manager) spawn(f func()) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		f()
	}()
}

func (m *Manager) add(x *xfer) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.xfers[x.id]; dup {
		return false
	}
	m.xfers[x.id] = x
	return true
}

func (m *Manager) remove(x *xfer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.xfers[x.id] == x {
		delete(m.xfers, x.id)
	}
}

// restore picks up a journal record after a restart.
func (m *Manager) restore(r record) {
	if r.Out {
		info, err := m.fs.Stat(r.Path)
		if err != nil || info.Size() != r.Size || !info.ModTime().Equal(r.ModTime) {
			m.log.Info("not resuming a transfer whose source changed", "id", r.ID, "path", r.Path)
			m.jr.remove(r.ID)
			return
		}
		x := m.newXfer(r.ID, r.Peer, true)
		x.path, x.size, x.mtime, x.offered = r.Path, r.Size, r.ModTime, true
		x.st.Name, x.st.Path, x.st.Size, x.st.Resumed = r.Name, r.Path, r.Size, true
		m.add(x)
		m.away(x)
		m.spawn(x.runOut)
		return
	}
	x := m.newXfer(r.ID, r.Peer, false)
	x.size, x.tmp, x.approved, x.restored = r.Size, r.Path, true, true
	x.dest = Dest{Dir: r.Dir, Name: r.Name, Exact: r.Exact}
	x.st.Name, x.st.Size, x.st.State, x.st.Resumed = r.Name, r.Size, StateWaiting, true
	x.offerName = r.Name
	m.add(x)
	m.away(x)
	m.spawn(x.runIn)
}

// away starts the PeerWindow of a transfer restored from the journal
// unless its peer is attached already.
func (m *Manager) away(x *xfer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.links[x.peer] == nil {
		m.awayLocked(x)
	}
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Transfer is the handle of one transfer.
type Transfer struct{ x *xfer }

// ID is the transfer's id (also in its channel label).
func (t *Transfer) ID() string { return t.x.id }

// Status returns a snapshot.
func (t *Transfer) Status() Status { return t.x.status() }

// Done is closed when the transfer is over.
func (t *Transfer) Done() <-chan struct{} { return t.x.done }

// Cancel stops the transfer and tells the other side.
func (t *Transfer) Cancel(reason string) {
	if reason == "" {
		reason = "cancelled"
	}
	t.x.stop(fmt.Errorf("%w: %s", ErrCancelled, reason), true)
}

// Wait waits until the transfer is over and returns its final status and
// error (nil when the file arrived verified).
func (t *Transfer) Wait(ctx context.Context) (Status, error) {
	select {
	case <-ctx.Done():
		return t.Status(), fmt.Errorf("transfer: %w", ctx.Err())
	case <-t.x.done:
	}
	return t.Status(), t.x.err
}

// Remove the transfer's files on a session's end unless the manager keeps
// them; used by both directions.
func (x *xfer) removePartial() {
	if x.out || x.m.keeping() {
		return
	}
	if x.f != nil {
		x.f.Close()
		x.f = nil
	}
	if x.blocksF != nil {
		x.blocksF.Close()
		x.blocksF = nil
	}
	if x.tmp != "" {
		if err := x.m.fs.Remove(x.tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
			x.m.log.Warn("cannot remove a partial file", "path", x.tmp, "err", err)
		}
		x.tmp = ""
	}
	x.m.jr.remove(x.id)
}
