package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Control message types, sent as JSON on the "control" data channel.
const (
	// CtlHello (both ways, first message): Version, Agent (agent side),
	// Screen (the agent's current screen size) and Features (what the
	// sender understands beyond its version) are set.
	CtlHello = "hello"
	// CtlPing / CtlPong measure the round trip: the pong echoes T.
	CtlPing = "ping"
	CtlPong = "pong"
	// CtlError reports a refused or malformed message; Error and Message say why.
	CtlError = "error"
	// CtlBye announces that the sender is closing the connection, with Reason.
	CtlBye = "bye"
	// CtlMonitors (agent to rep) lists the customer's monitors and which
	// one is shared (Monitor: 0 all of them, n the n-th of Monitors).
	CtlMonitors = "monitors"
	// CtlMonitor (rep to agent) picks what to share: Monitor 0 is all the
	// monitors, n the n-th of the agent's list.
	CtlMonitor = "monitor"
	// CtlScreenResync (rep to agent): the rep's screen state broke; see
	// resync.go.
	// Remote control and clipboard: see remote.go.
)

// Control is one control-channel message.
type Control struct {
	Type    string `json:"type"`
	Version int    `json:"version,omitempty"`
	// Features (CtlHello): what the sender understands beyond its version
	// (FeatureFrameInRects).
	Features []string   `json:"features,omitempty"`
	T        float64    `json:"t,omitempty"` // sender's clock, milliseconds
	Agent    *AgentInfo `json:"agent,omitempty"`
	Width    int        `json:"width,omitempty"`
	Height   int        `json:"height,omitempty"`
	Error    string     `json:"error,omitempty"`
	Message  string     `json:"message,omitempty"`
	Reason   string     `json:"reason,omitempty"`
	// Lifecycle fields (lifecycle.go).
	State   string     `json:"state,omitempty"`
	Chat    *ChatLine  `json:"chat,omitempty"`
	History []ChatLine `json:"history,omitempty"`
	// File transfer fields (the file_* types, see transfer.go).
	ID     string `json:"id,omitempty"`
	Name   string `json:"name,omitempty"`
	Path   string `json:"path,omitempty"`
	Size   int64  `json:"size,omitempty"`
	Offset int64  `json:"offset,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Resume bool   `json:"resume,omitempty"`
	// Monitor and Monitors: see CtlMonitor, CtlMonitors (screenctl.go).
	Monitor  int           `json:"monitor,omitempty"`
	Monitors []MonitorInfo `json:"monitors,omitempty"`
	Clip     *Clip         `json:"clip,omitempty"` // CtlClipboard, CtlClipboardAck
	// Serial numbers a rep's CtlScreenResync requests (resync.go).
	Serial uint32 `json:"serial,omitempty"`
}

// EncodeControl marshals c after validating it.
func EncodeControl(c Control) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("protocol: encode control %s: %w", c.Type, err)
	}
	return b, nil
}

// DecodeControl parses and validates one control message.
func DecodeControl(b []byte) (Control, error) {
	var c Control
	if len(b) > MaxControlSize {
		return c, fmt.Errorf("%w: control message of %d bytes", ErrTooLarge, len(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&c); err != nil {
		return Control{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return Control{}, fmt.Errorf("%w: trailing data after message", ErrMalformed)
	}
	if err := c.Validate(); err != nil {
		return Control{}, err
	}
	return c, nil
}

// Validate checks the fields Type needs.
func (c Control) Validate() error {
	bad := func(what string) error { return fmt.Errorf("%w: %s: %s", ErrMalformed, c.Type, what) }
	if len(c.Message) > maxReason || len(c.Reason) > maxReason || len(c.Error) > maxShort ||
		!utf8.ValidString(c.Message) || !utf8.ValidString(c.Reason) {
		return bad("text too long or not UTF-8")
	}
	if c.Width < 0 || c.Height < 0 || c.Width > MaxDimension || c.Height > MaxDimension {
		return bad("screen size out of range")
	}
	if len(c.State) > maxShort {
		return bad("state too long")
	}
	if ok, err := c.validateLifecycle(); ok {
		return err
	}
	switch c.Type {
	case CtlHello:
		if c.Version <= 0 {
			return bad("version is required")
		}
	case CtlPing, CtlPong, CtlBye:
	case CtlMonitor, CtlMonitors:
		if err := c.validateMonitors(); err != nil {
			return bad(err.Error())
		}
	case CtlScreenResync:
		return c.validateResync()
	case CtlError:
		if c.Error == "" && c.Message == "" {
			return bad("error or message is required")
		}
	case CtlRequestControl, CtlReleaseControl, CtlControlGranted, CtlControlRefused, CtlControlRevoked,
		CtlClipboard, CtlClipboardAck:
		return c.validateRemote()
	case "":
		return bad("type is required")
	case CtlFileOffer, CtlFileAccept, CtlFileRefuse, CtlFileProgress, CtlFileDone, CtlFileCancel, CtlFileError, CtlFilePull:
		return c.validateFile()
	default:
		return fmt.Errorf("%w: %q", ErrUnknownType, c.Type)
	}
	return nil
}
