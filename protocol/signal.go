package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Signalling message types. The direction is given as A->S (agent to server),
// S->A, R->S (rep to server) and S->R.
const (
	// SigJoin (A->S): join the session of Code. Version and Agent are set.
	SigJoin = "join"
	// SigResume (A->S): re-join Session after a drop, proving Secret.
	SigResume = "resume"
	// SigJoined (S->A): the join or resume succeeded. Session, Secret (the
	// one-time resume secret for the next resume), Deadline (reconnect window
	// in seconds) and ICEServers are set.
	SigJoined = "joined"
	// SigAttach (R->S): attach this rep connection to the session of Code
	// (or Session), authenticating with Token.
	SigAttach = "attach"
	// SigAttached (S->R): the attach succeeded. Session, Code, Rep (this
	// connection's id), State, Agent and ICEServers are set.
	SigAttached = "attached"
	// SigRepAttached (S->A): rep connection Rep attached; the agent answers
	// with an offer to it.
	SigRepAttached = "rep_attached"
	// SigRepDetached (S->A): rep connection Rep went away; the agent closes
	// its PeerConnection.
	SigRepDetached = "rep_detached"
	// SigOffer (A->S->R) and SigAnswer (R->S->A) carry SDP between the agent
	// and rep connection Rep.
	SigOffer  = "offer"
	SigAnswer = "answer"
	// SigCandidate (both ways, relayed) carries one trickled ICE candidate.
	SigCandidate = "candidate"
	// SigState (S->R, S->A): the session's State changed (Reason says why;
	// Deadline is the unix time in milliseconds at which a suspended session
	// ends).
	SigState = "state"
	// SigEnd (A->S, R->S): end the session for everyone, with a Reason.
	SigEnd = "end"
	// SigError (S->A, S->R): a request failed; Error (a Code* constant) and
	// Message say why.
	SigError = "error"
)

// Session states as reported in SigState and SigAttached.
const (
	StateWaiting   = "waiting"   // created; no agent joined yet
	StateActive    = "active"    // the agent is connected to the server
	StateSuspended = "suspended" // the agent dropped; it may resume until Deadline
	StateEnded     = "ended"     // over for good
)

// ICECandidate is one trickled candidate, in the browser's
// RTCIceCandidateInit JSON shape.
type ICECandidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// ICEServer is one STUN or TURN server, in the browser's RTCIceServer shape.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// AgentInfo describes the customer's machine to the rep.
type AgentInfo struct {
	Hostname string `json:"hostname,omitempty"`
	User     string `json:"user,omitempty"`
	OS       string `json:"os,omitempty"`
	Agent    string `json:"agent,omitempty"` // agent name and version
}

// Signal is one signalling message. Which fields are set depends on Type;
// DecodeSignal checks them.
type Signal struct {
	Type       string        `json:"type"`
	Version    int           `json:"version,omitempty"`
	Code       string        `json:"code,omitempty"`
	Token      string        `json:"token,omitempty"`
	Session    string        `json:"session,omitempty"`
	Secret     string        `json:"secret,omitempty"`
	Rep        string        `json:"rep,omitempty"`
	SDP        string        `json:"sdp,omitempty"`
	Candidate  *ICECandidate `json:"candidate,omitempty"`
	State      string        `json:"state,omitempty"`
	Reason     string        `json:"reason,omitempty"`
	Error      string        `json:"error,omitempty"` // an error code, Code* constants
	Message    string        `json:"message,omitempty"`
	Deadline   int64         `json:"deadline,omitempty"`
	Agent      *AgentInfo    `json:"agent,omitempty"`
	ICEServers []ICEServer   `json:"ice_servers,omitempty"`
}

// Limits on individual fields, to keep hostile input small.
const (
	maxSDP    = 48 << 10
	maxShort  = 256
	maxReason = 1024
)

// IsCode reports whether s has the shape of a session code: nine ASCII digits.
func IsCode(s string) bool {
	if len(s) != 9 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// NormalizeCode strips the spaces and dashes people type inside a code
// ("123 456 789", "123-456-789") and returns the bare digits.
func NormalizeCode(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '-', '\t':
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

// EncodeSignal marshals s after checking it with Validate.
func EncodeSignal(s Signal) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("protocol: encode %s: %w", s.Type, err)
	}
	return b, nil
}

// DecodeSignal parses and validates one signalling message. Unknown fields
// are ignored (newer peers may add some); an unknown type is ErrUnknownType.
func DecodeSignal(b []byte) (Signal, error) {
	var s Signal
	if len(b) > MaxSignalSize {
		return s, fmt.Errorf("%w: signal of %d bytes", ErrTooLarge, len(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&s); err != nil {
		return Signal{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return Signal{}, fmt.Errorf("%w: trailing data after message", ErrMalformed)
	}
	if err := s.Validate(); err != nil {
		return Signal{}, err
	}
	return s, nil
}

// Validate checks that the fields Type needs are present and sane.
func (s Signal) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrMalformed, s.Type, fmt.Sprintf(format, a...))
	}
	for name, v := range map[string]string{
		"code": s.Code, "token": s.Token, "session": s.Session, "secret": s.Secret,
		"rep": s.Rep, "state": s.State, "error": s.Error,
	} {
		if len(v) > maxShort || !utf8.ValidString(v) {
			return bad("field %s too long or not UTF-8", name)
		}
	}
	if len(s.Reason) > maxReason || len(s.Message) > maxReason {
		return bad("reason or message too long")
	}
	if len(s.SDP) > maxSDP {
		return bad("sdp too long")
	}
	if s.Candidate != nil && len(s.Candidate.Candidate) > maxShort*4 {
		return bad("candidate too long")
	}
	switch s.Type {
	case SigJoin:
		if !IsCode(s.Code) {
			return bad("code must be nine digits")
		}
	case SigResume:
		if s.Session == "" || s.Secret == "" {
			return bad("session and secret are required")
		}
	case SigJoined:
		if s.Session == "" {
			return bad("session is required")
		}
	case SigAttach:
		if s.Token == "" {
			return bad("token is required")
		}
		if !IsCode(s.Code) && s.Session == "" {
			return bad("a nine-digit code or a session is required")
		}
	case SigAttached:
		if s.Session == "" || s.Rep == "" {
			return bad("session and rep are required")
		}
	case SigRepAttached, SigRepDetached:
		if s.Rep == "" {
			return bad("rep is required")
		}
	case SigOffer, SigAnswer:
		if s.SDP == "" {
			return bad("sdp is required")
		}
	case SigCandidate:
		if s.Candidate == nil {
			return bad("candidate is required")
		}
	case SigState:
		switch s.State {
		case StateWaiting, StateActive, StateSuspended, StateEnded:
		default:
			return bad("unknown state %q", s.State)
		}
	case SigEnd:
	case SigError:
		if s.Error == "" && s.Message == "" {
			return bad("error or message is required")
		}
	case "":
		return bad("type is required")
	default:
		return fmt.Errorf("%w: %q", ErrUnknownType, s.Type)
	}
	return nil
}

// Errorf builds an error signal.
func Errorf(code, format string, a ...any) Signal {
	return Signal{Type: SigError, Error: code, Message: fmt.Sprintf(format, a...)}
}
