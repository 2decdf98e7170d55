package rep

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/pion/webrtc/v4"

	"assist/protocol"
)

// lifecycle is the rep's view of the session's chat, pause and reboot
// state; guarded by Client.mu.
type lifecycle struct {
	chat    []protocol.ChatLine
	seen    map[string]bool
	paused  bool
	greeted bool             // the agent's greeting (history, sharing) arrived
	reboot  protocol.Control // the agent's last reboot answer
	changed chan struct{}    // closed and replaced on every change
}

// lcChangedLocked wakes the waiters; c.mu must be held.
func (c *Client) lcChangedLocked() {
	if c.lc.changed != nil {
		close(c.lc.changed)
	}
	c.lc.changed = make(chan struct{})
}

// onLifecycle handles the agent's lifecycle control messages.
func (c *Client) onLifecycle(m protocol.Control) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lc.seen == nil {
		c.lc.seen = map[string]bool{}
	}
	add := func(l protocol.ChatLine) {
		if l.ID != "" && c.lc.seen[l.ID] {
			return
		}
		c.lc.seen[l.ID] = true
		c.lc.chat = append(c.lc.chat, l)
	}
	switch m.Type {
	case protocol.CtlChat:
		add(*m.Chat)
	case protocol.CtlChatHistory:
		for _, l := range m.History {
			add(l)
		}
		sort.SliceStable(c.lc.chat, func(i, j int) bool { return c.lc.chat[i].Time < c.lc.chat[j].Time })
	case protocol.CtlSharing:
		c.lc.paused = m.State == protocol.SharingPaused
		c.lc.greeted = true
	case protocol.CtlReboot:
		c.lc.reboot = m
	default:
		return
	}
	c.lcChangedLocked()
}

// waitLC waits until cond (called with c.mu held) holds.
func (c *Client) waitLC(ctx context.Context, what string, cond func() bool) error {
	for {
		c.mu.Lock()
		if c.lc.changed == nil {
			c.lc.changed = make(chan struct{})
		}
		ok, ch := cond(), c.lc.changed
		c.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("rep: waiting for %s: %w", what, ctx.Err())
		case <-c.endedCh:
			return fmt.Errorf("rep: %w: %s", ErrEnded, c.Reason())
		case <-ch:
		}
	}
}

// WaitControl waits until the control channel to the agent is open.
func (c *Client) WaitControl(ctx context.Context) error {
	return c.waitLC(ctx, "the control channel", func() bool {
		return c.control != nil && c.control.ReadyState() == webrtc.DataChannelStateOpen
	})
}

func (c *Client) sendControl(ctx context.Context, m protocol.Control) error {
	if err := c.WaitControl(ctx); err != nil {
		return err
	}
	b, err := protocol.EncodeControl(m)
	if err != nil {
		return fmt.Errorf("rep: %w", err)
	}
	c.mu.Lock()
	dc := c.control
	c.mu.Unlock()
	if dc == nil {
		return errors.New("rep: the control channel closed")
	}
	if err := dc.SendText(string(b)); err != nil {
		return fmt.Errorf("rep: send %s: %w", m.Type, err)
	}
	return nil
}

// Chat returns the session's chat as received so far, oldest first.
func (c *Client) Chat() []protocol.ChatLine {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]protocol.ChatLine(nil), c.lc.chat...)
}

// SendChat sends a chat line to the customer and waits for the agent's
// echo, which it returns (stamped with ID and time).
func (c *Client) SendChat(ctx context.Context, text string) (protocol.ChatLine, error) {
	l := protocol.ChatLine{Text: text}
	if err := l.Validate(); err != nil {
		return l, err
	}
	c.mu.Lock()
	before := len(c.lc.chat)
	c.mu.Unlock()
	if err := c.sendControl(ctx, protocol.Control{Type: protocol.CtlChat, Chat: &l}); err != nil {
		return l, err
	}
	var got protocol.ChatLine
	err := c.waitLC(ctx, "the chat line's echo", func() bool {
		for _, x := range c.lc.chat[min(before, len(c.lc.chat)):] {
			if x.From == protocol.FromRep && x.Text == text {
				got = x
				return true
			}
		}
		return false
	})
	return got, err
}

// WaitChat waits for a chat line for which match is true and returns it.
func (c *Client) WaitChat(ctx context.Context, match func(protocol.ChatLine) bool) (protocol.ChatLine, error) {
	var got protocol.ChatLine
	err := c.waitLC(ctx, "a chat line", func() bool {
		for _, l := range c.lc.chat {
			if match(l) {
				got = l
				return true
			}
		}
		return false
	})
	return got, err
}

// WaitGreeted waits until the agent sent the chat history and the sharing
// state that follow its hello: Chat is then complete.
func (c *Client) WaitGreeted(ctx context.Context) error {
	return c.waitLC(ctx, "the agent's greeting", func() bool { return c.lc.greeted })
}

// Paused reports whether the customer paused sharing.
func (c *Client) Paused() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lc.paused
}

// WaitPaused waits until sharing is paused (true) or on (false).
func (c *Client) WaitPaused(ctx context.Context, paused bool) error {
	return c.waitLC(ctx, "sharing paused="+fmt.Sprint(paused), func() bool { return c.lc.paused == paused })
}

// Reboot asks the customer to restart the machine and reconnect, and
// waits for the answer: the control message with State
// protocol.RebootRestarting (the machine restarts now; the session is
// suspended and resumes), RebootDeclined or RebootFailed (Message says why).
func (c *Client) Reboot(ctx context.Context) (protocol.Control, error) {
	c.mu.Lock()
	c.lc.reboot = protocol.Control{}
	wasSuspended := c.state == protocol.StateSuspended
	c.mu.Unlock()
	if err := c.sendControl(ctx, protocol.Control{Type: protocol.CtlReboot}); err != nil {
		return protocol.Control{}, err
	}
	var got protocol.Control
	gone := false
	err := c.waitLC(ctx, "the customer's answer to the restart", func() bool {
		switch c.lc.reboot.State {
		case protocol.RebootRestarting, protocol.RebootDeclined, protocol.RebootFailed:
			got = c.lc.reboot
			return true
		}
		gone = !wasSuspended && c.state == protocol.StateSuspended
		return gone
	})
	if err == nil && gone {
		return got, errors.New("rep: the customer's agent went away without answering the restart request")
	}
	return got, err
}
