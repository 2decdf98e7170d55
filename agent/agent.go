package agent

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"assist/internal/peerconn"
	"assist/internal/sigclient"
	"assist/protocol"
)

// Screen is what the agent needs of a screen source (capture.Source).
type Screen interface {
	// Capture grabs the screen; the image stays valid until the next call.
	Capture(ctx context.Context) (*image.RGBA, error)
}

// Config configures a session.
type Config struct {
	// Server is the support server's base URL (http://host:8200).
	Server string
	// Code is the nine-digit session code the rep gave the customer.
	Code string
	// Screen is the screen to share (required).
	Screen Screen
	// Ask puts a yes/no question to the customer (required): consent to
	// share the screen is asked after the code is accepted and before
	// anything is shared.
	Ask func(ctx context.Context, question string) (bool, error)
	// Info describes this machine to the rep.
	Info protocol.AgentInfo
	// Loopback restricts WebRTC to 127.0.0.1 (tests and the local demo).
	Loopback bool
	// MaxFPS caps the frame rate (default 20).
	MaxFPS int
	// OnState receives a human-readable line whenever the session state
	// changes (joined, rep connected, reconnecting, ended...).
	OnState func(string)
	Logger  *slog.Logger

	// Display is the X display input is injected into (default $DISPLAY).
	Display string
	// RevokeControl takes remote control back from every rep: each value
	// received (or its close) returns them to view-only and releases the
	// keys they held. Control is asked for with Ask, per rep.
	RevokeControl <-chan struct{}
	// ClipboardPoll is how often the clipboard is read while a rep has
	// control (default 500 ms).
	ClipboardPoll time.Duration
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

	mu      sync.Mutex
	link    *link
	session string
	secret  string
	window  time.Duration
	peers   map[string]*peer

	wakeCh chan struct{}
	events chan event
	hands  *hands // remote control: keyboard, pointer, clipboard (input.go)
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

// event is something a pion callback reports to the session loop.
type event struct {
	rep    string
	failed bool
}

// Run joins the session of cfg.Code and runs it until the session ends
// (an *EndedError), the customer declines (ErrDeclined), the server refuses
// the code (a *RefusedError), or ctx is cancelled: then it ends the session
// for the rep too and returns nil.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Screen == nil || cfg.Ask == nil {
		return errors.New("agent: Screen and Ask are required")
	}
	if !protocol.IsCode(cfg.Code) {
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
	a := &agent{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "agent"),
		interval: time.Second / time.Duration(cfg.MaxFPS),
		peers:    map[string]*peer{},
		wakeCh:   make(chan struct{}, 1),
		events:   make(chan event, 16),
	}
	api, err := peerconn.NewAPI(peerconn.Options{Loopback: cfg.Loopback, Logger: cfg.Logger})
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	defer api.Close()
	a.api = api
	a.startHands(ctx)
	defer a.hands.close() // after the peers have released their keys

	a.cfg.OnState("Connecting to " + cfg.Server + "...")
	conn, err := sigclient.Dial(ctx, cfg.Server, "/ws/agent")
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	l := startLink(conn, a.log)
	joined, err := a.handshake(ctx, l, protocol.Signal{
		Type: protocol.SigJoin, Version: protocol.Version, Code: cfg.Code, Agent: &cfg.Info,
	})
	if err != nil {
		l.close()
		return err
	}
	a.setLink(l, joined)
	a.ice = joined.ICEServers
	defer a.dropLink()

	a.cfg.OnState("Joined the session. Asking for your consent...")
	ok, err := cfg.Ask(ctx, "A support technician wants to see your screen. Allow?")
	if err != nil || !ok {
		reason := "the customer declined to share the screen"
		if err != nil {
			reason = "the customer could not be asked for consent"
		}
		a.sendSignal(protocol.Signal{Type: protocol.SigEnd, Reason: reason})
		conn.Close()
		a.dropLink()
		if err != nil {
			return fmt.Errorf("agent: asking for consent: %w", err)
		}
		return ErrDeclined
	}
	a.cfg.OnState("Sharing your screen. Waiting for the support technician to connect... (Ctrl+C ends the session)")

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
		a.closePeers("the session ended")
	}()
	return a.loop(ctx, l)
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

func (a *agent) setLink(l *link, joined protocol.Signal) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.link = l
	a.session = joined.Session
	a.secret = joined.Secret
	a.window = time.Duration(joined.Deadline) * time.Second
	if a.window <= 0 {
		a.window = 10 * time.Minute
	}
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

// loop handles signalling until the session ends.
func (a *agent) loop(ctx context.Context, l *link) error {
	for {
		select {
		case <-ctx.Done():
			a.sendSignal(protocol.Signal{Type: protocol.SigEnd, Reason: "the customer ended the session"})
			if l != nil {
				l.conn.Close()
			}
			a.cfg.OnState("Session ended.")
			return nil
		case ev := <-a.events:
			if ev.failed {
				a.dropPeer(ev.rep, "the connection to the support technician failed")
			}
		case err := <-linkErr(l):
			a.cfg.OnState("Lost the connection to the support server; reconnecting...")
			a.log.Info("signalling dropped", "err", err)
			var rerr error
			l, rerr = a.reconnect(ctx)
			if rerr != nil {
				if ctx.Err() != nil {
					continue
				}
				a.cfg.OnState("Session ended: " + rerr.Error())
				return rerr
			}
			a.cfg.OnState("Reconnected to the support server.")
		case s := <-linkSigs(l):
			if err := a.handle(ctx, s); err != nil {
				return err
			}
		}
	}
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
		a.addPeer(ctx, s.Rep)
	case protocol.SigRepDetached:
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
	}
	return nil
}

// reconnect resumes the session on a new signalling connection, with
// jittered backoff, until the reconnect window closes. PeerConnections
// that still work carry on meanwhile.
func (a *agent) reconnect(ctx context.Context) (*link, error) {
	a.dropLink()
	a.mu.Lock()
	session, secret, window := a.session, a.secret, a.window
	a.mu.Unlock()
	deadline := time.Now().Add(window)
	backoff := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		if time.Now().After(deadline) {
			return nil, &EndedError{Reason: fmt.Sprintf("could not reach the support server within %s", window)}
		}
		conn, err := sigclient.Dial(ctx, a.cfg.Server, "/ws/agent")
		if err == nil {
			l := startLink(conn, a.log)
			joined, herr := a.handshake(ctx, l, protocol.Signal{
				Type: protocol.SigResume, Version: protocol.Version, Session: session, Secret: secret,
			})
			if herr == nil {
				a.setLink(l, joined)
				return l, nil
			}
			l.close()
			var refused *RefusedError
			if errors.As(herr, &refused) && refused.Code != protocol.CodeRateLimited && refused.Code != protocol.CodeInternal {
				return nil, &EndedError{Reason: refused.Message}
			}
			var ended *EndedError
			if errors.As(herr, &ended) {
				return nil, herr
			}
			err = herr
		}
		a.log.Info("reconnect failed", "attempt", attempt, "err", err)
		wait := backoff/2 + rand.N(backoff)
		if backoff < 8*time.Second {
			backoff *= 2
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
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
	a.mu.Unlock()
	a.cfg.OnState("A support technician is connecting...")
}

func (a *agent) dropPeer(rep, reason string) {
	a.mu.Lock()
	p := a.peers[rep]
	delete(a.peers, rep)
	a.mu.Unlock()
	if p != nil {
		p.close(reason)
		a.cfg.OnState("The support technician disconnected.")
	}
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

// readyPeers lists the peers whose screen channel is open with room.
func (a *agent) readyPeers() []*peer {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*peer
	for _, p := range a.peers {
		if p.ready() {
			out = append(out, p)
		}
	}
	return out
}
