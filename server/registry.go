package server

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"sync"
	"time"

	"assist/internal/clock"
	"assist/protocol"
)

// Registry errors. Each maps to a protocol error code for clients.
var (
	errBadCode      = errors.New("no session has this code: check the nine digits with your support technician")
	errExpired      = errors.New("this code has expired: ask your support technician for a new one")
	errUsed         = errors.New("this code has already been used: ask your support technician for a new one")
	errEnded        = errors.New("this session has ended")
	errBadSecret    = errors.New("the resume secret is wrong or was already used")
	errUnknownSess  = errors.New("no such session")
	errTooManyCodes = errors.New("server: too many live sessions")
)

func errorCode(err error) string {
	switch {
	case errors.Is(err, errBadCode), errors.Is(err, errUnknownSess):
		return protocol.CodeBadCode
	case errors.Is(err, errExpired):
		return protocol.CodeExpired
	case errors.Is(err, errUsed):
		return protocol.CodeUsed
	case errors.Is(err, errEnded):
		return protocol.CodeEnded
	case errors.Is(err, errBadSecret):
		return protocol.CodeUnauthorized
	default:
		return protocol.CodeInternal
	}
}

// peer is one connected WebSocket (an agent or a rep connection) as the
// registry sees it: something to send signals to and to close.
type peer interface {
	send(s protocol.Signal)
	close(reason string)
}

// session is one support session. Its fields are guarded by Registry.mu.
type session struct {
	id, code string
	created  time.Time
	expires  time.Time // when a waiting code stops being joinable
	state    string
	reason   string
	agent    peer
	info     protocol.AgentInfo
	joined   bool      // an agent joined with the code: it cannot be used again
	secret   string    // current one-time resume secret
	deadline time.Time // when a suspended session ends
	reps     map[string]peer
	timer    clock.Timer // expiry of a waiting code or of a suspension
	endedAt  time.Time
}

// Registry holds the sessions in memory.
type Registry struct {
	clock     clock.Clock
	codeTTL   time.Duration                             // a code's life before an agent joins
	window    time.Duration                             // how long a suspended session waits for its agent
	keepEnded time.Duration                             // how long an ended session is remembered (for clear errors)
	ice       func(session string) []protocol.ICEServer // STUN/TURN for a session's peers

	mu       sync.Mutex
	byCode   map[string]*session
	byID     map[string]*session
	maxLive  int
	liveSess int
	persist  *persister // nil: sessions live in memory only (persist.go)
}

// NewRegistry returns an empty registry.
func NewRegistry(c clock.Clock, codeTTL, window time.Duration, ice func(session string) []protocol.ICEServer) *Registry {
	if ice == nil {
		ice = func(string) []protocol.ICEServer { return nil }
	}
	return &Registry{
		clock: c, codeTTL: codeTTL, window: window, keepEnded: time.Hour, ice: ice,
		byCode: map[string]*session{}, byID: map[string]*session{}, maxLive: 10000,
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand.Read never fails on supported platforms (Go 1.24+).
		return ""
	}
	return hex.EncodeToString(b)
}

func randomCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000_000))
	if err != nil {
		return "", fmt.Errorf("server: session code: %w", err)
	}
	return fmt.Sprintf("%09d", n.Int64()), nil
}

// Create makes a new waiting session with a fresh code.
func (r *Registry) Create() (protocol.SessionInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.liveSess >= r.maxLive {
		return protocol.SessionInfo{}, errTooManyCodes
	}
	var code string
	for {
		c, err := randomCode()
		if err != nil {
			return protocol.SessionInfo{}, err
		}
		if _, taken := r.byCode[c]; !taken {
			code = c
			break
		}
	}
	now := r.clock.Now()
	s := &session{
		id: randomHex(16), code: code, created: now, expires: now.Add(r.codeTTL),
		state: protocol.StateWaiting, reps: map[string]peer{},
	}
	r.byCode[code] = s
	r.byID[s.id] = s
	r.liveSess++
	s.timer = r.clock.AfterFunc(r.codeTTL, func() { r.expire(s) })
	r.persistLocked()
	return r.infoLocked(s), nil
}

func (r *Registry) expire(s *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.state == protocol.StateWaiting {
		r.endLocked(s, "the code expired before the customer joined")
	}
}

// List returns every session not yet forgotten, newest first.
func (r *Registry) List() []protocol.SessionInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]protocol.SessionInfo, 0, len(r.byID))
	for _, s := range r.byID {
		out = append(out, r.infoLocked(s))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out
}

func (r *Registry) infoLocked(s *session) protocol.SessionInfo {
	in := protocol.SessionInfo{
		Code: s.code, Session: s.id, State: s.state, Reason: s.reason,
		Created: s.created, Expires: s.expires, Reps: len(s.reps),
	}
	if s.state == protocol.StateSuspended {
		d := s.deadline
		in.Deadline = &d
	}
	if s.state != protocol.StateWaiting {
		info := s.info
		in.Agent = &info
	}
	return in
}

// lookupLocked finds a session by code or id.
func (r *Registry) lookupLocked(code, id string) (*session, error) {
	var s *session
	if id != "" {
		s = r.byID[id]
	} else {
		s = r.byCode[code]
	}
	if s == nil {
		if id != "" {
			return nil, errUnknownSess
		}
		return nil, errBadCode
	}
	return s, nil
}

// Join attaches agent a to the waiting session of code, sending it the
// joined message. It returns the session id.
func (r *Registry) Join(code string, a peer, info protocol.AgentInfo) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := r.lookupLocked(code, "")
	if err != nil {
		return "", err
	}
	now := r.clock.Now()
	switch {
	case s.joined:
		return "", errUsed
	case s.state == protocol.StateEnded && !now.Before(s.expires):
		return "", errExpired
	case s.state == protocol.StateEnded:
		return "", errEnded
	case !now.Before(s.expires):
		r.endLocked(s, "the code expired before the customer joined")
		return "", errExpired
	}
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.info = info
	s.joined = true
	r.activateLocked(s, a)
	return s.id, nil
}

// Resume re-attaches agent a to session id, proving the one-time secret,
// and sends it the joined message with the next secret.
func (r *Registry) Resume(id, secret string, a peer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := r.lookupLocked("", id)
	if err != nil {
		return err
	}
	if s.state == protocol.StateEnded {
		return errEnded
	}
	if s.secret == "" || subtle.ConstantTimeCompare([]byte(s.secret), []byte(secret)) != 1 {
		return errBadSecret
	}
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	if s.agent != nil && s.agent != a {
		s.agent.close("replaced by a resumed connection")
	}
	r.activateLocked(s, a)
	return nil
}

// activateLocked makes a the session's agent, rotates the resume secret,
// sends a the joined message and then one rep_attached per rep connection
// already waiting, and tells the reps the session is active.
func (r *Registry) activateLocked(s *session, a peer) {
	s.agent = a
	s.secret = randomHex(16)
	s.state = protocol.StateActive
	s.reason = ""
	s.deadline = time.Time{}
	a.send(protocol.Signal{
		Type: protocol.SigJoined, Session: s.id, Secret: s.secret, Version: protocol.Version,
		Deadline: int64(r.window / time.Second), ICEServers: r.ice(s.id),
	})
	reps := make([]string, 0, len(s.reps))
	for rep := range s.reps {
		reps = append(reps, rep)
	}
	sort.Strings(reps)
	for _, rep := range reps {
		a.send(protocol.Signal{Type: protocol.SigRepAttached, Rep: rep})
	}
	st := protocol.Signal{Type: protocol.SigState, State: s.state, Agent: &s.info}
	for _, p := range s.reps {
		p.send(st)
	}
	r.persistLocked()
}

// AgentGone records that agent a disconnected. The session is suspended for
// the reconnect window unless it already ended or another connection replaced a.
func (r *Registry) AgentGone(id string, a peer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.byID[id]
	if s == nil || s.agent != a {
		return
	}
	s.agent = nil
	if s.state == protocol.StateEnded {
		return
	}
	s.state = protocol.StateSuspended
	s.reason = "the customer's connection dropped; waiting for it to reconnect"
	r.suspendLocked(s)
	r.broadcastStateLocked(s)
	r.persistLocked()
}

// suspendLocked starts the reconnect window of a suspended session.
func (r *Registry) suspendLocked(s *session) {
	s.deadline = r.clock.Now().Add(r.window)
	if s.timer != nil {
		s.timer.Stop()
	}
	s.timer = r.clock.AfterFunc(r.window, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if s.state == protocol.StateSuspended {
			r.endLocked(s, fmt.Sprintf("the customer did not reconnect within %s", r.window))
		}
	})
}

// live reports whether session id exists and has not ended (TURN
// credentials work only for live sessions).
func (r *Registry) live(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.byID[id]
	return s != nil && s.state != protocol.StateEnded
}

// Attach adds rep connection p to the session of code (or id) and sends p
// the attached message, which it also returns.
func (r *Registry) Attach(code, id string, p peer) (protocol.Signal, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := r.lookupLocked(code, id)
	if err != nil {
		return protocol.Signal{}, err
	}
	if s.state == protocol.StateEnded {
		if s.reason != "" {
			return protocol.Signal{}, fmt.Errorf("%w: %s", errEnded, s.reason)
		}
		return protocol.Signal{}, errEnded
	}
	rep := "r" + randomHex(6)
	s.reps[rep] = p
	att := protocol.Signal{
		Type: protocol.SigAttached, Session: s.id, Code: s.code, Rep: rep,
		State: s.state, Reason: s.reason, Version: protocol.Version,
	}
	if s.state != protocol.StateWaiting {
		info := s.info
		att.Agent = &info
	}
	if s.state == protocol.StateSuspended {
		att.Deadline = s.deadline.UnixMilli()
	}
	att.ICEServers = r.ice(s.id)
	p.send(att) // before the agent can answer rep_attached with an offer
	if s.agent != nil {
		s.agent.send(protocol.Signal{Type: protocol.SigRepAttached, Rep: rep})
	}
	return att, nil
}

// Detach removes rep connection rep from session id.
func (r *Registry) Detach(id, rep string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.byID[id]
	if s == nil {
		return
	}
	if _, ok := s.reps[rep]; !ok {
		return
	}
	delete(s.reps, rep)
	if s.agent != nil {
		s.agent.send(protocol.Signal{Type: protocol.SigRepDetached, Rep: rep})
	}
}

// ToRep relays a signal from session id's agent to one rep connection.
func (r *Registry) ToRep(id string, from peer, sig protocol.Signal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.byID[id]
	if s == nil || s.agent != from {
		return errUnknownSess
	}
	p := s.reps[sig.Rep]
	if p == nil {
		return fmt.Errorf("rep connection %q is not attached", sig.Rep)
	}
	p.send(sig)
	return nil
}

// ToAgent relays a signal from rep connection rep to session id's agent.
func (r *Registry) ToAgent(id, rep string, sig protocol.Signal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.byID[id]
	if s == nil || s.reps[rep] == nil {
		return errUnknownSess
	}
	if s.agent == nil {
		return fmt.Errorf("the customer is not connected")
	}
	sig.Rep = rep
	s.agent.send(sig)
	return nil
}

// End ends session id (or the session of code) for everyone.
func (r *Registry) End(code, id, reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := r.lookupLocked(code, id)
	if err != nil {
		return err
	}
	if s.state == protocol.StateEnded {
		return nil
	}
	r.endLocked(s, reason)
	return nil
}

func (r *Registry) endLocked(s *session, reason string) {
	if s.state == protocol.StateEnded {
		return
	}
	s.state = protocol.StateEnded
	s.reason = reason
	s.secret = ""
	r.liveSess--
	if s.timer != nil {
		s.timer.Stop()
	}
	r.broadcastStateLocked(s)
	if s.agent != nil {
		s.agent.close(reason)
		s.agent = nil
	}
	for id, p := range s.reps {
		p.close(reason)
		delete(s.reps, id)
	}
	s.endedAt = r.clock.Now()
	s.timer = r.clock.AfterFunc(r.keepEnded, func() { r.forget(s) })
	r.persistLocked()
}

func (r *Registry) broadcastStateLocked(s *session) {
	st := protocol.Signal{Type: protocol.SigState, State: s.state, Reason: s.reason}
	if s.state == protocol.StateSuspended {
		st.Deadline = s.deadline.UnixMilli()
	}
	if s.state == protocol.StateActive {
		info := s.info
		st.Agent = &info
	}
	for _, p := range s.reps {
		p.send(st)
	}
	if s.agent != nil {
		s.agent.send(st)
	}
}
