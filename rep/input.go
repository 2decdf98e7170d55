package rep

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/pion/webrtc/v4"

	"assist/protocol"
)

// ErrRefused is returned by RequestControl when the customer refuses (or
// later revokes) remote control; the text says why.
var ErrRefused = errors.New("remote control refused")

// remote is a Client's remote-control state.
type remote struct {
	mu       sync.Mutex
	input    *webrtc.DataChannel
	inputCh  chan struct{} // closed and replaced when the input channel opens
	state    string        // "", "asking", "granted", or the refusal/revocation reason
	granted  bool
	changed  chan struct{} // closed and replaced at every control change
	clipIn   protocol.ClipAssembler
	clips    []string // clipboard texts received from the customer
	clipCh   chan struct{}
	clipID   uint32
	acks     map[uint32]chan error
	lastErr  protocol.Control // the last error message received
	pingID   uint32
	pongs    map[uint32]chan uint32
	initOnce sync.Once
}

func (r *remote) init() {
	r.initOnce.Do(func() {
		r.inputCh = make(chan struct{})
		r.changed = make(chan struct{})
		r.clipCh = make(chan struct{})
		r.acks = map[uint32]chan error{}
		r.pongs = map[uint32]chan uint32{}
	})
}

func (r *remote) notify() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// onRemoteChannel adopts the input channel of a new PeerConnection: the new
// connection starts view-only.
func (c *Client) onRemoteChannel(dc *webrtc.DataChannel) {
	r := &c.rc
	r.init()
	dc.OnOpen(func() {
		r.mu.Lock()
		r.input = dc
		r.granted, r.state = false, ""
		close(r.inputCh)
		r.inputCh = make(chan struct{})
		r.notify()
		r.mu.Unlock()
	})
	dc.OnMessage(func(m webrtc.DataChannelMessage) {
		ev, err := protocol.DecodeInput(m.Data)
		if err != nil || ev.Kind != protocol.InputPong {
			c.addErr(fmt.Sprintf("rep: unexpected input message: %v", err))
			return
		}
		r.mu.Lock()
		ch := r.pongs[ev.ID]
		delete(r.pongs, ev.ID)
		r.mu.Unlock()
		if ch != nil {
			ch <- ev.Refused
		}
	})
}

// opened wakes RequestControl when a channel it waits for opens.
func (r *remote) opened() {
	r.init()
	r.mu.Lock()
	close(r.inputCh)
	r.inputCh = make(chan struct{})
	r.mu.Unlock()
}

// onRemote handles the control messages of remote control and clipboard.
func (c *Client) onRemote(m protocol.Control) {
	r := &c.rc
	r.init()
	r.mu.Lock()
	defer r.mu.Unlock()
	switch m.Type {
	case protocol.CtlControlGranted:
		r.granted, r.state = true, "granted"
		r.notify()
	case protocol.CtlControlRefused, protocol.CtlControlRevoked:
		r.granted = false
		r.state = m.Reason
		if r.state == "" {
			r.state = m.Type
		}
		r.notify()
	case protocol.CtlClipboard:
		text, done, err := r.clipIn.Add(*m.Clip)
		if err != nil {
			r.lastErr = protocol.Control{Type: protocol.CtlError, Error: protocol.CodeMalformed, Message: err.Error()}
			return
		}
		if done {
			r.clips = append(r.clips, text)
			close(r.clipCh)
			r.clipCh = make(chan struct{})
		}
	case protocol.CtlClipboardAck:
		if ch := r.acks[m.Clip.ID]; ch != nil {
			ch <- nil
			delete(r.acks, m.Clip.ID)
		}
	case protocol.CtlError:
		r.lastErr = m
		switch m.Error {
		case protocol.CodeClipboard, protocol.CodeTooLarge, protocol.CodeNotGranted:
			// A clipboard text in flight failed: fail its waiter.
			for id, ch := range r.acks {
				ch <- fmt.Errorf("rep: %s", m.Message)
				delete(r.acks, id)
			}
		}
	}
}

// RequestControl asks the customer for control of the keyboard, the
// pointer and the clipboard, and waits for the answer: nil when granted,
// ErrRefused (with the customer's reason) when refused.
func (c *Client) RequestControl(ctx context.Context) error {
	r := &c.rc
	r.init()
	// Wait for the PeerConnection's input and control channels.
	for {
		r.mu.Lock()
		ready, ch := r.input != nil, r.inputCh
		r.mu.Unlock()
		c.mu.Lock()
		ready = ready && c.control != nil
		c.mu.Unlock()
		if ready {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("rep: no connection to the customer: %w", ctx.Err())
		case <-c.endedCh:
			return fmt.Errorf("rep: %w: %s", ErrEnded, c.Reason())
		case <-ch:
		}
	}
	r.mu.Lock()
	if r.granted {
		r.mu.Unlock()
		return nil
	}
	r.state = "asking"
	r.mu.Unlock()
	if err := c.sendControlNow(protocol.Control{Type: protocol.CtlRequestControl}); err != nil {
		return err
	}
	for {
		r.mu.Lock()
		granted, state, ch := r.granted, r.state, r.changed
		r.mu.Unlock()
		if granted {
			return nil
		}
		if state != "asking" {
			return fmt.Errorf("rep: %w: %s", ErrRefused, state)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("rep: waiting for the customer to grant control: %w", ctx.Err())
		case <-c.endedCh:
			return fmt.Errorf("rep: %w: %s", ErrEnded, c.Reason())
		case <-ch:
		}
	}
}

// Controlled reports whether the customer granted control (and has not
// taken it back).
func (c *Client) Controlled() bool {
	c.rc.init()
	c.rc.mu.Lock()
	defer c.rc.mu.Unlock()
	return c.rc.granted
}

// ReleaseControl gives control back to the customer.
func (c *Client) ReleaseControl() error {
	return c.sendControlNow(protocol.Control{Type: protocol.CtlReleaseControl})
}

// sendControlNow sends m if the control channel is open, without waiting.
func (c *Client) sendControlNow(m protocol.Control) error {
	c.mu.Lock()
	dc := c.control
	c.mu.Unlock()
	if dc == nil {
		return errors.New("rep: the control channel is not open")
	}
	b, err := protocol.EncodeControl(m)
	if err != nil {
		return err
	}
	if err := dc.SendText(string(b)); err != nil {
		return fmt.Errorf("rep: send %s: %w", m.Type, err)
	}
	return nil
}

// SendInput sends one input event (it is injected only while control is
// granted; otherwise the agent answers with a not_granted error).
func (c *Client) SendInput(ev protocol.InputEvent) error {
	b, err := protocol.AppendInput(nil, ev)
	if err != nil {
		return err
	}
	if err := c.SendInputRaw(b); err != nil {
		return fmt.Errorf("rep: send input: %w", err)
	}
	return nil
}

// SendInputRaw sends b as it is on the input channel (tests of the agent's
// refusals).
func (c *Client) SendInputRaw(b []byte) error {
	c.rc.init()
	c.rc.mu.Lock()
	dc := c.rc.input
	c.rc.mu.Unlock()
	if dc == nil {
		return errors.New("rep: the input channel is not open")
	}
	return dc.Send(b)
}

// SyncInput waits until the agent handled every input event sent before,
// and returns how many of them it refused or failed to inject.
func (c *Client) SyncInput(ctx context.Context) (int, error) {
	r := &c.rc
	r.init()
	r.mu.Lock()
	r.pingID++
	id := r.pingID
	ch := make(chan uint32, 1)
	r.pongs[id] = ch
	r.mu.Unlock()
	if err := c.SendInput(protocol.InputEvent{Kind: protocol.InputPing, ID: id}); err != nil {
		return 0, err
	}
	select {
	case n := <-ch:
		return int(n), nil
	case <-ctx.Done():
		return 0, fmt.Errorf("rep: waiting for the agent to handle the input: %w", ctx.Err())
	case <-c.endedCh:
		return 0, fmt.Errorf("rep: %w: %s", ErrEnded, c.Reason())
	}
}

// LastRemoteError is the last error the agent reported about control,
// input or the clipboard ("" when none).
func (c *Client) LastRemoteError() string {
	c.rc.init()
	c.rc.mu.Lock()
	defer c.rc.mu.Unlock()
	return c.rc.lastErr.Message
}

// Type types text on the customer's machine, as characters.
func (c *Client) Type(text string) error {
	for _, part := range protocol.SplitText(text, protocol.MaxInputText) {
		if err := c.SendInput(protocol.InputEvent{Kind: protocol.InputText, Text: part}); err != nil {
			return err
		}
	}
	return nil
}

// Key sends a key-down or key-up as a browser would describe it.
func (c *Client) Key(down bool, code, key string, flags uint16) error {
	kind := protocol.InputKeyUp
	if down {
		kind = protocol.InputKeyDown
	}
	return c.SendInput(protocol.InputEvent{Kind: kind, Code: code, Key: key, Flags: flags})
}

// Click moves the pointer to (x, y) and clicks button (twice for a double
// click).
func (c *Client) Click(x, y int, button byte, double bool) error {
	n := 1
	if double {
		n = 2
	}
	for i := 0; i < n; i++ {
		for _, down := range []bool{true, false} {
			if err := c.SendInput(protocol.InputEvent{Kind: protocol.InputButton, Button: button, Down: down, X: x, Y: y}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Scroll turns the wheel dx notches right and dy notches down at (x, y).
func (c *Client) Scroll(x, y, dx, dy int) error {
	return c.SendInput(protocol.InputEvent{Kind: protocol.InputWheel, DX: dx, DY: dy, X: x, Y: y})
}

// Clipboard waits for a clipboard text from the customer: the one already
// received when next is false (the agent sends the clipboard when control
// is granted), else one that arrives after the call.
func (c *Client) Clipboard(ctx context.Context, next bool) (string, error) {
	r := &c.rc
	r.init()
	r.mu.Lock()
	n := len(r.clips)
	r.mu.Unlock()
	for {
		r.mu.Lock()
		clips, ch := r.clips, r.clipCh
		r.mu.Unlock()
		if len(clips) > 0 && (!next || len(clips) > n) {
			return clips[len(clips)-1], nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("rep: waiting for the customer's clipboard: %w", ctx.Err())
		case <-c.endedCh:
			return "", fmt.Errorf("rep: %w: %s", ErrEnded, c.Reason())
		case <-ch:
		}
	}
}

// SetClipboard puts text in the customer's clipboard and waits until it is
// there. Text above protocol.MaxClipboard is refused before sending.
func (c *Client) SetClipboard(ctx context.Context, text string) error {
	r := &c.rc
	r.init()
	r.mu.Lock()
	r.clipID++
	id := r.clipID
	ch := make(chan error, 1)
	r.acks[id] = ch
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.acks, id)
		r.mu.Unlock()
	}()
	msgs, err := protocol.ClipChunks(id, text)
	if err != nil {
		return fmt.Errorf("rep: %w", err)
	}
	for _, m := range msgs {
		if err := c.sendControlNow(m); err != nil {
			return err
		}
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return fmt.Errorf("rep: waiting for the customer's clipboard: %w", ctx.Err())
	case <-c.endedCh:
		return fmt.Errorf("rep: %w: %s", ErrEnded, c.Reason())
	}
}
