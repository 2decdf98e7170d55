package protocol

import (
	"fmt"
	"unicode/utf8"
)

// Control message types of the session lifecycle: chat, pause sharing and
// reboot-and-reconnect.
const (
	// CtlChat (both ways) carries one chat line in Chat. From a rep only
	// Chat.Text counts: the agent stamps the line (ID, From, Time), keeps it
	// in the session's history and echoes it to every rep connection,
	// the sender included (its acknowledgement).
	CtlChat = "chat"
	// CtlChatHistory (agent -> rep, after hello) carries the session's
	// chat so far in History, oldest first; a long history comes in several
	// messages. Receivers merge by ID.
	CtlChatHistory = "chat_history"
	// CtlSharing (agent -> rep) says whether the customer paused sharing:
	// State is SharingPaused or SharingOn. Sent after hello and on change.
	CtlSharing = "sharing"
	// CtlReboot: from a rep (no fields), a request to restart the customer's
	// machine and reconnect; from the agent, the answer in State (one of
	// the Reboot* constants) with Message.
	CtlReboot = "reboot"
)

// Sharing states (CtlSharing).
const (
	SharingOn     = "on"
	SharingPaused = "paused"
)

// Reboot states (CtlReboot from the agent).
const (
	RebootAsking     = "asking"     // the customer is being asked
	RebootDeclined   = "declined"   // the customer said no
	RebootRestarting = "restarting" // the service is installed; the machine restarts now
	RebootFailed     = "failed"     // it could not be done; Message says why
)

// Who wrote a chat line.
const (
	FromCustomer = "customer"
	FromRep      = "rep"
)

// Limits on chat.
const (
	MaxChatText = 4096 // bytes of UTF-8 per line
	MaxHistory  = 200  // lines kept per session
)

// ChatLine is one line of the session's chat.
type ChatLine struct {
	ID   string `json:"id,omitempty"`
	From string `json:"from,omitempty"` // FromCustomer or FromRep
	Text string `json:"text"`
	Time int64  `json:"time,omitempty"` // unix milliseconds, stamped by the agent
}

// Validate checks a chat line's text and fields.
func (l ChatLine) Validate() error {
	switch {
	case l.Text == "" || len(l.Text) > MaxChatText || !utf8.ValidString(l.Text):
		return fmt.Errorf("%w: chat text must be 1 to %d bytes of UTF-8", ErrMalformed, MaxChatText)
	case len(l.ID) > 64 || !utf8.ValidString(l.ID):
		return fmt.Errorf("%w: chat id too long", ErrMalformed)
	case l.From != "" && l.From != FromCustomer && l.From != FromRep:
		return fmt.Errorf("%w: chat from %q", ErrMalformed, l.From)
	case l.Time < 0:
		return fmt.Errorf("%w: chat time is negative", ErrMalformed)
	}
	return nil
}

// validateLifecycle checks the lifecycle messages' fields; ok is false for
// other types.
func (c Control) validateLifecycle() (ok bool, err error) {
	bad := func(what string) error { return fmt.Errorf("%w: %s: %s", ErrMalformed, c.Type, what) }
	switch c.Type {
	case CtlChat:
		if c.Chat == nil {
			return true, bad("chat is required")
		}
		return true, c.Chat.Validate()
	case CtlChatHistory:
		if len(c.History) > MaxHistory {
			return true, bad("too many lines")
		}
		for _, l := range c.History {
			if err := l.Validate(); err != nil {
				return true, err
			}
		}
		return true, nil
	case CtlSharing:
		if c.State != SharingOn && c.State != SharingPaused {
			return true, bad("state must be on or paused")
		}
		return true, nil
	case CtlReboot:
		switch c.State {
		case "", RebootAsking, RebootDeclined, RebootRestarting, RebootFailed:
			return true, nil
		}
		return true, bad("unknown reboot state")
	}
	return false, nil
}

// HistoryChunks splits lines into chat_history messages that each encode
// below MaxControlSize.
func HistoryChunks(lines []ChatLine) []Control {
	var out []Control
	cur := Control{Type: CtlChatHistory}
	size := 64
	for _, l := range lines {
		n := len(l.Text)*6 + len(l.ID) + 96 // worst case JSON escaping
		if len(cur.History) > 0 && size+n > MaxControlSize-1024 {
			out = append(out, cur)
			cur = Control{Type: CtlChatHistory}
			size = 64
		}
		cur.History = append(cur.History, l)
		size += n
	}
	if len(cur.History) > 0 {
		out = append(out, cur)
	}
	return out
}
