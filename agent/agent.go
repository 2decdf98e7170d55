package agent

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"sort"
	"sync"
	"time"

	"assist/chatwin"
	"assist/internal/clock"
	"assist/internal/peerconn"
	"assist/internal/sigclient"
	"assist/protocol"
	"assist/reconnect"
)

// Screen is what the agent needs of a screen source (capture.Source).
type Screen interface {
	// Capture grabs the screen; the image stays valid until the next call.
	Capture(ctx context.Context) (*image.RGBA, error)
}

// Governor widens the Go scheduler for heavy work (internal/procs): the
// agent calls Busy before a large screen update and while a file transfer
// runs, and the returned done when it ends.
type Governor interface {
	Busy() (done func())
}

// Config configures a session.
type Config struct {
	// Server is the support server's base URL (http://host:8200).
	Server string
	// Code is the nine-digit session code the rep gave the customer.
	Code string
	// Screen is the screen to share (required).
	Screen Screen
	// Ask puts a yes/no question to the customer (required unless Consent
	// is set): consent to share the screen is asked after the code is
	// accepted and before anything is shared.
	Ask func(ctx context.Context, question string) (bool, error)
	// Consent, when set, asks consent questions with their kind
	// (chatwin.KindView, KindControl, KindFile, KindReboot), as the chat
	// window shows them; Ask is then not needed.
	Consent func(ctx context.Context, p chatwin.Prompt) (bool, error)
	// Window is the customer's chat window (nil: none).
	Window Window
	// Tickets keeps the resume ticket (nil: none, and a crash ends the
	// session).
	Tickets Tickets
	// Resume, when set, picks up this ticket's session instead of joining
	// with Code (`assist resume`).
	Resume *reconnect.Ticket
	// ReconnectWindow, when set, replaces the server's reconnect window on
	// the agent's side (tests).
	ReconnectWindow time.Duration
	// Restarter installs the resume service and restarts the machine for a
	// rep's reboot request (nil: such requests are refused).
	Restarter Restarter
	// Clock is the agent's time for deadlines and backoff (nil: the wall clock).
	Clock clock.Clock
	// Info describes this machine to the rep.
	Info protocol.AgentInfo
	// Loopback restricts WebRTC to 127.0.0.1 (tests and the local demo).
	Loopback bool
	// RelayOnly makes WebRTC use the server's TURN relay only.
	RelayOnly bool
	// MaxFPS caps the frame rate (default 20).
	MaxFPS int
	// OnState receives a human-readable line whenever the session state
	// changes (joined, rep connected, reconnecting, ended...).
	OnState func(string)
	Logger  *slog.Logger

	// Downloads is where files from the rep are saved (default: the
	// Downloads folder, transfer.DownloadsDir).
	Downloads string
	// TransferJournal keeps unfinished transfers for a restarted agent of
	// the same session (default transfer.StateDir(); "-" keeps none).
	TransferJournal string
	// Files, when set, is bound to the running session: the customer's
	// side (the chat window) offers files and watches transfers through it.
	Files *Files
	// Display is the X display input is injected into (default $DISPLAY).
	Display string
	// RevokeControl takes remote control back from every rep: each value
	// received (or its close) returns them to view-only and releases the
	// keys they held. Control is asked for with Ask, per rep.
	RevokeControl <-chan struct{}
	// ClipboardPoll is how often the clipboard is read while a rep has
	// control (default 500 ms).
	ClipboardPoll time.Duration
	// Procs, when set, is told when heavy work starts and ends (nil: the
	// scheduler is left as it is).
	Procs Governor
}

// RefusedError is the server's refusal of a join or resume.
type RefusedError struct {
	Code    string // a protocol.Code* constant
	Message string
}

func (e *RefusedError) Error() string { return e.Message }

// EndedError reports that the session ended, and why.
type EndedError struct{ Reason string }

func (e *EndedError) Error() string { return "session ended: " + e.Reason }

// ErrDeclined is returned when the customer declines to share the screen.
var ErrDeclined = errors.New("you declined to share your screen; the session has ended")

// agent is one running session.
type agent struct {
	cfg      Config
	log      *slog.Logger
	api      *peerconn.API
	ice      []protocol.ICEServer
	interval time.Duration
	ctx      context.Context // Run's context, for goroutines the agent owns
	bg       sync.WaitGroup  // those goroutines
	policy   reconnect.Policy

	mu       sync.Mutex
	link     *link
	session  string
	secret   string
	window   time.Duration
	peers    map[string]*peer
	attached map[string]int // rep connections the server says are attached -> offers made
	ended    bool
	lc       lifecycle

	wakeCh chan struct{}
	events chan event

	files files  // file transfers (transfer.go)
	hands *hands // remote control: keyboard, pointer, clipboard (input.go)
}

// link is one signalling connection and its reader goroutine.
type link struct {
	conn *sigclient.Conn
	sigs chan protocol.Signal
	errc chan error
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

func startLink(conn *sigclient.Conn, log *slog.Logger) *link {
	l := &link{conn: conn, sigs: make(chan protocol.Signal, 64), errc: make(chan error, 1), done: make(chan struct{})}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			s, err := conn.Recv(context.Background())
			if errors.Is(err, protocol.ErrMalformed) || errors.Is(err, protocol.ErrUnknownType) {
				log.Warn("ignoring a signalling message", "err", err)
				continue
			}
			if err != nil {
				l.errc <- err
				return
			}
			select {
			case l.sigs <- s:
			case <-l.done:
				return
			}
		}
	}()
	return l
}

// close drops the connection and waits for its reader.
func (l *link) close() {
	l.once.Do(func() {
		close(l.done)
		l.conn.CloseNow()
	})
	l.wg.Wait()
}

// event is something a pion callback or a goroutine reports to the
// session loop.
type event struct {
	rep     string
	failed  bool // the PeerConnection to rep failed
	reoffer bool // time to offer rep a new PeerConnection
	reboot  bool // the customer allowed a reboot and the service is installed
}

// Run joins the session of cfg.Code (or resumes cfg.Resume) and runs it
// until the session ends (an *EndedError), the customer declines
// (ErrDeclined), the server refuses the code (a *RefusedError), the machine
// restarts for a reboot the customer allowed (ErrRebooting), or the customer
// ends it (ctx cancelled, End session or closing the chat window: then it
// ends the session for the rep too and returns nil). Unless rebooting, an
// ended session leaves nothing behind: ticket and temporary service are
// removed.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Screen == nil || (cfg.Ask == nil && cfg.Consent == nil) {
		return errors.New("agent: Screen and Ask (or Consent) are required")
	}
	if cfg.Resume == nil && !protocol.IsCode(cfg.Code) {
		return fmt.Errorf("agent: %q is not a session code: it has nine digits", cfg.Code)
	}
	if cfg.MaxFPS <= 0 {
		cfg.MaxFPS = 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.OnState == nil {
		cfg.OnState = func(string) {}
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Ask == nil {
		cfg.Ask = func(ctx context.Context, q string) (bool, error) {
			return cfg.Consent(ctx, chatwin.Prompt{Kind: chatwin.KindOther, Question: q})
		}
	}
	a := &agent{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "agent"),
		interval: time.Second / time.Duration(cfg.MaxFPS),
		peers:    map[string]*peer{},
		attached: map[string]int{},
		wakeCh:   make(chan struct{}, 1),
		events:   make(chan event, 16),
		window:   reconnect.DefaultWindow,
		policy:   reconnect.Policy{Clock: cfg.Clock, Backoff: reconnect.Backoff{Min: 250 * time.Millisecond, Max: 8 * time.Second}},
		lc:       lifecycle{clock: cfg.Clock, idPrefix: newIDPrefix(), code: cfg.Code},
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a.ctx = ctx
	api, err := peerconn.NewAPI(peerconn.Options{Loopback: cfg.Loopback, RelayOnly: cfg.RelayOnly, Logger: cfg.Logger})
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	defer api.Close()
	a.api = api
	a.startHands(ctx)
	defer a.hands.close() // after the peers have released their keys

	err = a.run(ctx)
	// A restart for a reboot keeps unfinished transfers for the resumed
	// agent; any other end removes their partial files.
	a.stopFiles(errors.Is(err, ErrRebooting))
	cancel()
	a.bg.Wait()
	switch {
	case errors.Is(err, ErrRebooting):
		a.dropLink()
	case err == nil:
		a.cleanup("you ended the session")
	default:
		var ended *EndedError
		var refused *RefusedError
		switch {
		case errors.As(err, &ended):
			a.cleanup(ended.Reason)
		case errors.As(err, &refused):
			a.cleanup(refused.Message)
		default:
			a.cleanup(err.Error())
		}
	}
	return err
}

// run connects, asks for consent, streams and handles signalling.
func (a *agent) run(ctx context.Context) error {
	cfg := a.cfg
	var l *link
	var err error
	if cfg.Resume != nil {
		a.restoreTicket(cfg.Resume)
		a.cfg.OnState("Resuming the session with " + cfg.Server + "...")
		l, err = a.resume(ctx, cfg.Resume.Deadline)
		if err != nil {
			return err
		}
		a.cfg.OnState("Resumed the session.")
	} else {
		a.cfg.OnState("Connecting to " + cfg.Server + "...")
		conn, err := sigclient.Dial(ctx, cfg.Server, "/ws/agent")
		if err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		l = startLink(conn, a.log)
		joined, err := a.handshake(ctx, l, protocol.Signal{
			Type: protocol.SigJoin, Version: protocol.Version, Code: cfg.Code, Agent: &cfg.Info,
		})
		if err != nil {
			l.close()
			return err
		}
		a.setLink(l, joined)
		a.cfg.OnState("Joined the session.")
	}
	a.ice = a.currentICE()
	defer a.dropLink()
	a.publish()
	a.startFiles(a.sessionID())

	a.mu.Lock()
	view := a.lc.view
	a.mu.Unlock()
	if !view {
		a.cfg.OnState("Asking for your consent...")
		ok, err := a.consent(ctx, chatwin.KindView, "A support technician wants to see your screen. Allow?")
		if err != nil || !ok {
			reason := "the customer declined to share the screen"
			if err != nil {
				reason = "the customer could not be asked for consent"
			}
			a.sendSignal(protocol.Signal{Type: protocol.SigEnd, Reason: reason})
			l.conn.Close()
			a.dropLink()
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				return fmt.Errorf("agent: asking for consent: %w", err)
			}
			return ErrDeclined
		}
		a.mu.Lock()
		a.lc.view = true
		a.mu.Unlock()
		a.saveTicket()
	}
	a.cfg.OnState("Sharing your screen. Waiting for the support technician to connect... (Ctrl+C ends the session)")
	// Offer to the reps that attached while the customer was asked.
	for _, rep := range a.attachedReps() {
		a.addPeer(ctx, rep)
	}

	streamCtx, stopStream := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.stream(streamCtx)
	}()
	defer func() {
		stopStream()
		wg.Wait()
	}()
	err = a.loop(ctx, l)
	if errors.Is(err, ErrRebooting) {
		a.closePeers("the customer's computer is restarting; the session resumes after it")
	} else {
		a.closePeers("the session ended")
	}
	return err
}

func (a *agent) currentICE() []protocol.ICEServer {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ice
}

func (a *agent) attachedReps() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]string, 0, len(a.attached))
	for r := range a.attached {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// handshake sends the join or resume message on l and waits for joined.
func (a *agent) handshake(ctx context.Context, l *link, first protocol.Signal) (protocol.Signal, error) {
	if err := l.conn.Send(ctx, first); err != nil {
		return protocol.Signal{}, fmt.Errorf("agent: %w", err)
	}
	timeout := time.NewTimer(20 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case <-ctx.Done():
			return protocol.Signal{}, ctx.Err()
		case <-timeout.C:
			return protocol.Signal{}, errors.New("agent: the support server did not answer within 20 s")
		case err := <-l.errc:
			return protocol.Signal{}, fmt.Errorf("agent: the support server closed the connection: %w", err)
		case s := <-l.sigs:
			switch s.Type {
			case protocol.SigJoined:
				return s, nil
			case protocol.SigError:
				return protocol.Signal{}, &RefusedError{Code: s.Error, Message: s.Message}
			case protocol.SigState:
				if s.State == protocol.StateEnded {
					return protocol.Signal{}, &EndedError{Reason: s.Reason}
				}
			}
		}
	}
}

// setLink makes l the signalling connection after a join or resume: the
// new secret replaces the old one, whose ticket is marked used, and a new
// ticket is written.
func (a *agent) setLink(l *link, joined protocol.Signal) {
	a.mu.Lock()
	a.link = l
	a.session = joined.Session
	a.secret = joined.Secret
	if len(joined.ICEServers) > 0 || a.ice == nil {
		a.ice = joined.ICEServers
	}
	a.window = time.Duration(joined.Deadline) * time.Second
	if a.window <= 0 {
		a.window = reconnect.DefaultWindow
	}
	if a.cfg.ReconnectWindow > 0 {
		a.window = a.cfg.ReconnectWindow
	}
	a.lc.linkUp = true
	a.lc.deadline = time.Time{}
	old := a.lc.ticketID
	a.mu.Unlock()
	if a.cfg.Tickets != nil && old != "" {
		if err := a.cfg.Tickets.MarkUsed(old); err != nil {
			a.log.Warn("cannot record the used resume ticket", "err", err)
		}
	}
	a.saveTicket()
}

// dropLink closes the current signalling connection, if any.
func (a *agent) dropLink() {
	a.mu.Lock()
	l := a.link
	a.link = nil
	a.mu.Unlock()
	if l != nil {
		l.close()
	}
}

// sendSignal sends on the current signalling connection; while reconnecting
// the message is dropped (and logged).
func (a *agent) sendSignal(s protocol.Signal) {
	a.mu.Lock()
	l := a.link
	a.mu.Unlock()
	if l == nil {
		a.log.Debug("signalling down, dropping", "type", s.Type)
		return
	}
	if err := l.conn.Send(context.Background(), s); err != nil {
		a.log.Debug("signalling send failed", "type", s.Type, "err", err)
	}
}

func (a *agent) wake() {
	select {
	case a.wakeCh <- struct{}{}:
	default:
	}
}

// loop handles signalling, the chat window and the reps' requests until
// the session ends.
func (a *agent) loop(ctx context.Context, l *link) error {
	refresh := time.NewTicker(a.refreshInterval())
	defer refresh.Stop()
	var actions <-chan chatwin.Action
	if a.cfg.Window != nil {
		actions = a.cfg.Window.Actions()
	}
	end := func(reason string) error {
		a.sendSignal(protocol.Signal{Type: protocol.SigEnd, Reason: reason})
		if l != nil {
			l.conn.Close()
		}
		a.cfg.OnState("Session ended.")
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return end("the customer ended the session")
		case act := <-actions:
			switch act.Kind {
			case chatwin.ActChat:
				if _, err := a.addChat(protocol.FromCustomer, act.Text); err != nil {
					a.log.Warn("chat line refused", "err", err)
				}
			case chatwin.ActPause:
				a.setPaused(true)
			case chatwin.ActUnpause:
				a.setPaused(false)
			case chatwin.ActRevoke:
				if n := a.revokeAll("the customer took back control"); n > 0 {
					a.cfg.OnState("You took back control: the support technician can only watch your screen now.")
				}
			case chatwin.ActEnd:
				return end("the customer ended the session")
			case chatwin.ActClosed:
				return end("the customer closed the chat window")
			case chatwin.ActCancelFile:
				a.cancelFile(act.Text)
			}
		case <-refresh.C:
			a.saveTicket() // moves the deadline on while connected
		case ev := <-a.events:
			switch {
			case ev.failed:
				a.dropPeer(ev.rep, "the connection to the support technician failed")
				a.scheduleReoffer(ev.rep)
			case ev.reoffer:
				if a.isAttached(ev.rep) && l != nil {
					a.addPeer(ctx, ev.rep)
				}
			case ev.reboot:
				if err := a.reboot(ctx); err == nil {
					return ErrRebooting
				}
			}
		case err := <-linkErr(l):
			a.cfg.OnState("Lost the connection to the support server; reconnecting...")
			a.log.Info("signalling dropped", "err", err)
			a.dropLink()
			a.mu.Lock()
			a.lc.linkUp = false
			a.lc.deadline = a.lc.clock.Now().Add(a.window)
			deadline := a.lc.deadline
			a.mu.Unlock()
			a.saveTicket() // a crash from here on resumes against this deadline
			a.publish()
			var rerr error
			l, rerr = a.resume(ctx, deadline)
			if rerr != nil {
				if ctx.Err() != nil {
					continue
				}
				var ended *EndedError
				if errors.As(rerr, &ended) {
					a.cfg.OnState("Session ended: " + ended.Reason)
				} else {
					a.cfg.OnState("Session ended: " + rerr.Error())
				}
				return rerr
			}
			a.publish()
			a.cfg.OnState("Reconnected to the support server.")
		case s := <-linkSigs(l):
			if err := a.handle(ctx, s); err != nil {
				return err
			}
		}
	}
}

// refreshInterval is how often the ticket's deadline moves on while the
// link is up: often enough that a crash loses little of the window.
func (a *agent) refreshInterval() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return max(time.Second, min(30*time.Second, a.window/4))
}

func (a *agent) isAttached(rep string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.attached[rep]
	return ok
}

// scheduleReoffer offers rep a new PeerConnection after a backoff, when
// its PeerConnection failed while the rep is still attached.
func (a *agent) scheduleReoffer(rep string) {
	a.mu.Lock()
	n, ok := a.attached[rep]
	a.mu.Unlock()
	if !ok {
		return
	}
	d := a.policy.Backoff.Delay(n)
	a.log.Info("offering the rep a new connection", "rep", rep, "in", d)
	a.lc.clock.AfterFunc(d, func() {
		select {
		case a.events <- event{rep: rep, reoffer: true}:
		case <-a.ctx.Done():
		}
	})
}

func linkErr(l *link) <-chan error {
	if l == nil {
		return nil
	}
	return l.errc
}

func linkSigs(l *link) <-chan protocol.Signal {
	if l == nil {
		return nil
	}
	return l.sigs
}

func (a *agent) handle(ctx context.Context, s protocol.Signal) error {
	switch s.Type {
	case protocol.SigRepAttached:
		a.mu.Lock()
		if _, ok := a.attached[s.Rep]; !ok {
			a.attached[s.Rep] = 0
		}
		a.mu.Unlock()
		a.addPeer(ctx, s.Rep)
	case protocol.SigRepDetached:
		a.mu.Lock()
		delete(a.attached, s.Rep)
		a.mu.Unlock()
		a.dropPeer(s.Rep, "the support technician disconnected")
	case protocol.SigAnswer:
		if p := a.peer(s.Rep); p != nil {
			if err := p.setAnswer(s.SDP); err != nil {
				a.log.Warn("bad answer", "rep", s.Rep, "err", err)
				a.dropPeer(s.Rep, "the support technician's browser sent a bad answer")
			}
		}
	case protocol.SigCandidate:
		if p := a.peer(s.Rep); p != nil {
			p.addCandidate(s.Candidate)
		}
	case protocol.SigState:
		if s.State == protocol.StateEnded {
			a.cfg.OnState("Session ended: " + s.Reason)
			return &EndedError{Reason: s.Reason}
		}
	case protocol.SigError:
		a.log.Warn("server error", "error", s.Error, "message", s.Message)
	case protocol.SigJoined:
		// A duplicate after resume carries a fresh secret.
		a.mu.Lock()
		a.secret = s.Secret
		a.mu.Unlock()
		a.saveTicket()
	}
	return nil
}

// resume resumes the session on a new signalling connection, with
// jittered backoff, until deadline on the agent's clock: after a drop
// (PeerConnections that still work carry on meanwhile), or at the start of
// `assist resume`. A refusal (session ended, secret wrong or used) or the
// deadline ends the session.
func (a *agent) resume(ctx context.Context, deadline time.Time) (*link, error) {
	var l *link
	err := a.policy.Retry(ctx, deadline, func(ctx context.Context) error {
		a.mu.Lock()
		session, secret := a.session, a.secret
		a.mu.Unlock()
		conn, err := sigclient.Dial(ctx, a.cfg.Server, "/ws/agent")
		if err != nil {
			return err
		}
		nl := startLink(conn, a.log)
		joined, err := a.handshake(ctx, nl, protocol.Signal{
			Type: protocol.SigResume, Version: protocol.Version, Session: session, Secret: secret,
		})
		if err != nil {
			nl.close()
			var refused *RefusedError
			if errors.As(err, &refused) && refused.Code != protocol.CodeRateLimited && refused.Code != protocol.CodeInternal {
				return reconnect.Permanent(&EndedError{Reason: refused.Message})
			}
			var ended *EndedError
			if errors.As(err, &ended) {
				return reconnect.Permanent(err)
			}
			return err
		}
		a.setLink(nl, joined)
		l = nl
		return nil
	}, func(attempt int, err error, wait time.Duration) {
		a.log.Info("reconnect failed", "attempt", attempt+1, "err", err, "retry_in", wait)
	})
	if err == nil {
		return l, nil
	}
	if errors.Is(err, reconnect.ErrWindowClosed) {
		a.mu.Lock()
		w := a.window
		a.mu.Unlock()
		return nil, &EndedError{Reason: "could not reach the support server within " + describeWindow(w)}
	}
	return nil, err
}

func (a *agent) peer(rep string) *peer {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.peers[rep]
}

func (a *agent) addPeer(ctx context.Context, rep string) {
	if p := a.peer(rep); p != nil && !p.dead() {
		return // resumed signalling: this rep's PeerConnection still works
	}
	a.dropPeer(rep, "replaced")
	p, err := a.newPeer(rep)
	if err != nil {
		a.log.Error("cannot connect to the rep", "rep", rep, "err", err)
		return
	}
	a.mu.Lock()
	a.peers[rep] = p
	if n, ok := a.attached[rep]; ok {
		a.attached[rep] = n + 1
	}
	a.mu.Unlock()
	a.cfg.OnState("A support technician is connecting...")
	a.publish()
}

func (a *agent) dropPeer(rep, reason string) {
	a.mu.Lock()
	p := a.peers[rep]
	delete(a.peers, rep)
	a.mu.Unlock()
	if p != nil {
		p.close(reason)
		a.cfg.OnState("The support technician disconnected.")
		a.publish()
	}
}

// sortedPeers returns the peers ordered by rep id; a.mu must be held.
func (a *agent) sortedPeers() []*peer {
	ps := a.peerList()
	sort.Slice(ps, func(i, j int) bool { return ps[i].rep < ps[j].rep })
	return ps
}

func (a *agent) closePeers(reason string) {
	a.mu.Lock()
	ps := a.peers
	a.peers = map[string]*peer{}
	a.mu.Unlock()
	for _, p := range ps {
		p.close(reason)
	}
}

// openPeers lists the peers whose screen channel is open.
func (a *agent) openPeers() []*peer {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*peer
	for _, p := range a.peers {
		if p.open() {
			out = append(out, p)
		}
	}
	return out
}
