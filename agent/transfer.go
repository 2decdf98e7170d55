package agent

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"assist/chatwin"
	"assist/internal/peerconn"
	"assist/protocol"
	"assist/transfer"
)

// files is the agent's side of file transfers: one transfer.Manager per
// session, a Link per rep connection, consent through Config.Ask.
type files struct {
	mu     sync.Mutex
	m      *transfer.Manager
	states map[string]string // transfer id -> last state announced
	busy   map[string]func() // transfer id -> done, while it runs (Config.Procs)
	askMu  sync.Mutex        // one consent question at a time
}

// Files lets the customer's side of a running session (the chat window)
// offer files to the support technician and watch or cancel transfers.
// Create it with NewFiles, put it in Config.Files, and use it while Run runs.
type Files struct {
	mu sync.Mutex
	a  *agent
}

// NewFiles returns an unbound Files.
func NewFiles() *Files { return &Files{} }

// ErrNotRunning is returned by Files while no session runs.
var ErrNotRunning = errors.New("agent: no session is running")

func (f *Files) agent() (*agent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.a == nil || f.a.files.manager() == nil {
		return nil, ErrNotRunning
	}
	return f.a, nil
}

// Offer offers the file at path to every connected support technician and
// returns the transfer ids. The customer chose the file: no question is asked.
func (f *Files) Offer(path string) ([]string, error) {
	a, err := f.agent()
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	reps := make([]string, 0, len(a.peers))
	for rep := range a.peers {
		reps = append(reps, rep)
	}
	a.mu.Unlock()
	if len(reps) == 0 {
		return nil, errors.New("agent: no support technician is connected")
	}
	var ids []string
	for _, rep := range reps {
		t, err := a.files.manager().Send(rep, path, "")
		if err != nil {
			return ids, fmt.Errorf("agent: offer %s: %w", path, err)
		}
		ids = append(ids, t.ID())
	}
	return ids, nil
}

// List returns every transfer of the session.
func (f *Files) List() []transfer.Status {
	a, err := f.agent()
	if err != nil {
		return nil
	}
	return a.files.manager().List()
}

// Cancel cancels transfer id; false when there is no such transfer.
func (f *Files) Cancel(id string) bool {
	a, err := f.agent()
	if err != nil {
		return false
	}
	_, ok := a.files.manager().Get(id)
	if ok {
		a.cancelFile(id)
	}
	return ok
}

func (fs *files) manager() *transfer.Manager {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.m
}

// startFiles creates the session's transfer manager; unfinished transfers
// of the same session (an agent restarted within the reconnect window)
// come back from the journal.
func (a *agent) startFiles(session string) {
	dir := a.cfg.Downloads
	if dir == "" {
		d, err := transfer.DownloadsDir()
		if err != nil {
			a.log.Warn("no Downloads folder: files cannot be received", "err", err)
		}
		dir = d
	}
	journal := a.cfg.TransferJournal
	if journal == "" {
		if d, err := transfer.StateDir(); err == nil {
			journal = d
		}
	}
	if journal == "-" {
		journal = ""
	}
	// A transfer whose rep connection went away (a reloaded or closed
	// console, a failed PeerConnection) is kept for the reconnect window:
	// the server gives a reloaded console a new rep connection id, and its
	// sender comes back with the transfer's id (only it knows it), as
	// transfer.Manager.HandleControl takes over.
	a.mu.Lock()
	window := a.window
	a.mu.Unlock()
	// The maps first: NewManager restores journalled transfers, whose
	// goroutines report (fileChanged) at once.
	a.files.mu.Lock()
	a.files.states = map[string]string{}
	a.files.busy = map[string]func(){}
	a.files.mu.Unlock()
	m := transfer.NewManager(transfer.Config{
		Dir: dir, JournalDir: journal, Session: session, Logger: a.cfg.Logger,
		AskOffer: a.askOffer, AskPull: a.askPull, OnChange: a.fileChanged,
		PeerWindow: window, Clock: a.cfg.Clock,
	})
	a.files.mu.Lock()
	a.files.m = m
	a.files.mu.Unlock()
	if a.cfg.Files != nil {
		a.cfg.Files.mu.Lock()
		a.cfg.Files.a = a
		a.cfg.Files.mu.Unlock()
	}
}

// stopFiles ends every transfer: the session is over and partial files
// go, or (keep) the agent restarts and a resumed one continues them.
func (a *agent) stopFiles(keep bool) {
	if a.cfg.Files != nil {
		a.cfg.Files.mu.Lock()
		a.cfg.Files.a = nil
		a.cfg.Files.mu.Unlock()
	}
	m := a.files.manager()
	switch {
	case m == nil:
	case keep:
		m.Shutdown()
	default:
		m.Close()
	}
	a.files.mu.Lock()
	for id, done := range a.files.busy {
		done()
		delete(a.files.busy, id)
	}
	a.files.mu.Unlock()
}

// procsBusy widens the scheduler for heavy work (Config.Procs).
func (a *agent) procsBusy() (done func()) {
	if a.cfg.Procs == nil {
		return func() {}
	}
	return a.cfg.Procs.Busy()
}

func (a *agent) sessionID() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.session
}

// ask puts a file question to the customer, one at a time.
func (a *agent) ask(ctx context.Context, q string) (bool, error) {
	a.files.askMu.Lock()
	defer a.files.askMu.Unlock()
	return a.consent(ctx, chatwin.KindFile, q)
}

func (a *agent) askOffer(ctx context.Context, o transfer.Offer) (bool, error) {
	return a.ask(ctx, fmt.Sprintf("The support technician wants to send you the file %q (%s). It will be saved in %s. Accept?",
		o.Name, transfer.Size(o.Size), o.Dir))
}

func (a *agent) askPull(ctx context.Context, r transfer.PullRequest) (bool, error) {
	return a.ask(ctx, fmt.Sprintf("The support technician asks for your file %s (%s). Send it?", r.Path, transfer.Size(r.Size)))
}

// transferWindow is a chat window that shows transfers (chatwin.Window).
type transferWindow interface {
	SetTransfers([]chatwin.Transfer)
}

// showTransfers puts every transfer, with its progress, in the chat window.
func (a *agent) showTransfers() {
	w, ok := a.cfg.Window.(transferWindow)
	m := a.files.manager()
	if !ok || m == nil {
		return
	}
	list := m.List()
	sort.Slice(list, func(i, j int) bool { return list[i].Started.Before(list[j].Started) })
	out := make([]chatwin.Transfer, 0, len(list))
	for _, s := range list {
		out = append(out, chatwin.Transfer{
			ID: s.ID, Name: s.Name, Send: s.Send, Size: s.Size, Bytes: s.Bytes, Rate: s.Rate,
			ETA: s.ETA.Seconds(), State: s.State, Error: s.Err, Path: s.Path, Away: !s.AwayUntil.IsZero(),
		})
	}
	w.SetTransfers(out)
}

// cancelFile: the customer cancelled a transfer in the chat window.
func (a *agent) cancelFile(id string) {
	if m := a.files.manager(); m != nil {
		if t, ok := m.Get(id); ok {
			t.Cancel("the customer cancelled")
		}
	}
}

// fileChanged tells the customer about each transfer: progress in the
// chat window, a line at each state change.
func (a *agent) fileChanged(s transfer.Status) {
	a.showTransfers()
	a.files.mu.Lock()
	// Progress repeats the state. (Nothing of a transfer follows its final
	// status: the transfer package sees to that. A state after one is a new
	// transfer under the same id, such as an offer resumed after the agent
	// gave up on it.)
	if a.files.states[s.ID] == s.State {
		a.files.mu.Unlock()
		return
	}
	a.files.states[s.ID] = s.State
	// Bytes flow (hashed, encrypted, on every core) only while it runs.
	if done, ok := a.files.busy[s.ID]; ok && s.State != transfer.StateRunning {
		done()
		delete(a.files.busy, s.ID)
	} else if !ok && s.State == transfer.StateRunning && a.files.busy != nil {
		a.files.busy[s.ID] = a.procsBusy()
	}
	a.files.mu.Unlock()
	var line string
	switch {
	case s.State == transfer.StateRunning && s.Send:
		line = fmt.Sprintf("Sending %s (%s) to the support technician...", s.Name, transfer.Size(s.Size))
	case s.State == transfer.StateRunning:
		line = fmt.Sprintf("Receiving %s (%s) from the support technician...", s.Name, transfer.Size(s.Size))
	case s.State == transfer.StateWaiting && !s.AwayUntil.IsZero():
		line = fmt.Sprintf("The transfer of %s is waiting for the support technician to come back (until %s).", s.Name, s.AwayUntil.Local().Format("15:04"))
	case s.State == transfer.StateWaiting:
		line = fmt.Sprintf("The transfer of %s is paused until the connection is back.", s.Name)
	case s.State == transfer.StateDone && s.Send:
		line = fmt.Sprintf("Sent %s (%s, SHA-256 %s).", s.Name, transfer.Size(s.Size), s.SHA256)
	case s.State == transfer.StateDone:
		line = fmt.Sprintf("Saved %s (%s, SHA-256 %s).", s.Path, transfer.Size(s.Size), s.SHA256)
	case s.State == transfer.StateCancelled:
		line = fmt.Sprintf("The transfer of %s was cancelled.", s.Name)
	case s.State == transfer.StateRefused && !s.Send:
		line = fmt.Sprintf("Declined %s.", s.Name)
	case s.State == transfer.StateFailed || s.State == transfer.StateRefused:
		verb := "receive"
		if s.Send {
			verb = "send"
		}
		line = fmt.Sprintf("Could not %s %s: %s", verb, s.Name, s.Err)
	default:
		return
	}
	a.cfg.OnState(line)
}

func (a *agent) wakeFiles() {
	if m := a.files.manager(); m != nil {
		m.Wake()
	}
}

// fileLink is a peer as the transfer manager sees it.
type fileLink struct{ p *peer }

func (l fileLink) SendControl(c protocol.Control) error {
	b, err := protocol.EncodeControl(c)
	if err != nil {
		return err
	}
	return l.p.control.SendText(string(b))
}

func (l fileLink) OpenChannel(ctx context.Context, label string) (transfer.Channel, error) {
	dc, err := peerconn.OpenDataChannel(ctx, l.p.pc, label)
	if err != nil {
		return nil, err
	}
	return dc, nil
}

// Room: file chunks wait while the screen channel holds a frame.
func (l fileLink) Room() bool {
	return l.p.screen.BufferedAmount() < lowWater
}

// idleHighWater is how much a file channel may hold while the screen has
// sent nothing for screenQuiet: a larger queue keeps the link busy (the
// first frame after the pause waits behind it once, a few milliseconds).
const (
	idleHighWater = 1 << 20
	screenQuiet   = 300 * time.Millisecond
)

// HighWater: the transfer's default (small) while the screen moves,
// idleHighWater once no screen message went out for screenQuiet. (Looking
// at the screen channel's buffered amount instead missed most frames: one
// drains in well under a millisecond, so a chatty screen looked still and
// its frames queued behind a megabyte of file.)
func (l fileLink) HighWater() uint64 {
	if time.Duration(time.Now().UnixNano()-l.p.screenSeen.Load()) < screenQuiet {
		return 0
	}
	return idleHighWater
}

func (a *agent) attachFiles(p *peer) {
	if m := a.files.manager(); m != nil {
		m.Attach(p.rep, fileLink{p})
	}
}

func (a *agent) detachFiles(p *peer) {
	if m := a.files.manager(); m != nil {
		m.Detach(p.rep, fileLink{p})
	}
}

// fileControl routes the file_* control messages; false for other types.
func (a *agent) fileControl(p *peer, c protocol.Control) bool {
	if !strings.HasPrefix(c.Type, "file_") {
		return false
	}
	if m := a.files.manager(); m != nil {
		m.Attach(p.rep, fileLink{p}) // a message can come before the open callback ran
		m.HandleControl(p.rep, c)
	}
	return true
}

// onDataChannel takes the file channels a rep opens (pushing a file).
func (p *peer) onDataChannel(dc *webrtc.DataChannel) {
	id, ok := protocol.ParseFileChannelLabel(dc.Label())
	m := p.a.files.manager()
	if !ok || m == nil {
		dc.Close()
		return
	}
	m.HandleChannel(p.rep, id, peerconn.DataChannel{DataChannel: dc})
}
