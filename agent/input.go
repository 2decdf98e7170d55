package agent

import (
	"assist/chatwin"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"assist/input"
	"assist/protocol"
)

// Remote control: a rep connection starts view-only; it asks with
// request_control, the customer answers through Config.Ask, and while
// control is granted the rep's input messages are injected and the
// clipboard is synchronised both ways. The customer takes control back with
// Config.RevokeControl; a dropped link, a closed peer or the end of the
// session releases every key the rep held.

// controlQuestion is what the customer is asked when a rep requests control.
const controlQuestion = "The support technician asks to control your mouse and keyboard and to share your clipboard. Allow?"

// clipboardPoll is how often the customer's clipboard is read while a rep
// has control (clipboards have no change events on X11).
const clipboardPoll = 500 * time.Millisecond

// refusalEvery bounds how often a rep is told its input is refused.
const refusalEvery = 250 * time.Millisecond

// hands are the session's keyboard, pointer and clipboard, opened when a rep
// is first granted control and closed when the session ends.
type hands struct {
	a *agent

	mu        sync.Mutex
	desk      *input.Desktop
	clip      *input.Clipboard
	clipErr   error
	pollStop  context.CancelFunc
	pollDone  chan struct{}
	closed    bool
	watchStop context.CancelFunc
	watchDone chan struct{}
}

// startHands starts watching Config.RevokeControl.
func (a *agent) startHands(ctx context.Context) {
	h := &hands{a: a, watchDone: make(chan struct{})}
	a.hands = h
	ctx, h.watchStop = context.WithCancel(ctx)
	go func() {
		defer close(h.watchDone)
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-a.cfg.RevokeControl:
				if !ok {
					return
				}
				if n := a.revokeAll("the customer took back control"); n > 0 {
					a.cfg.OnState("You took back control: the support technician can only watch your screen now.")
				}
			}
		}
	}()
}

// revokeAll ends every rep's control and returns how many had it.
func (a *agent) revokeAll(reason string) int {
	a.mu.Lock()
	ps := make([]*peer, 0, len(a.peers))
	for _, p := range a.peers {
		ps = append(ps, p)
	}
	a.mu.Unlock()
	n := 0
	for _, p := range ps {
		if p.endControl(reason, true) {
			n++
		}
	}
	return n
}

// open opens the desktop (and the clipboard, when it can) on first use.
func (h *hands) open() (*input.Desktop, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errors.New("the session is ending")
	}
	if h.desk == nil {
		d, err := input.Open(input.Options{Display: h.a.cfg.Display, Logger: h.a.cfg.Logger})
		if err != nil {
			return nil, err
		}
		h.desk = d
		h.clip, h.clipErr = input.OpenClipboard()
		if h.clipErr != nil {
			h.a.log.Warn("clipboard unavailable", "err", h.clipErr)
		}
	}
	return h.desk, nil
}

// clipboard returns the clipboard, or why there is none.
func (h *hands) clipboard() (*input.Clipboard, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.clip == nil {
		if h.clipErr != nil {
			return nil, h.clipErr
		}
		return nil, errors.New("the clipboard is not open")
	}
	return h.clip, nil
}

// controlChanged starts the clipboard poll when some rep has control and
// stops it when none has; forget makes the next poll send the clipboard
// even if it did not change (a rep just got control).
func (h *hands) controlChanged(forget bool) {
	any := false
	for _, p := range h.a.allPeers() {
		if p.controlled() {
			any = true
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.clip == nil || h.closed {
		return
	}
	if forget {
		h.clip.Forget()
	}
	switch {
	case any && h.pollStop == nil:
		ctx, cancel := context.WithCancel(context.Background())
		h.pollStop, h.pollDone = cancel, make(chan struct{})
		go h.poll(ctx, h.clip, h.pollDone)
	case !any && h.pollStop != nil:
		h.stopPollLocked()
	}
}

func (h *hands) stopPollLocked() {
	if h.pollStop != nil {
		h.pollStop()
		<-h.pollDone
		h.pollStop, h.pollDone = nil, nil
	}
}

// poll sends the customer's clipboard to every rep with control whenever
// it changes.
func (h *hands) poll(ctx context.Context, clip *input.Clipboard, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(h.a.clipboardInterval())
	defer t.Stop()
	for {
		text, changed, err := clip.Changed(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			h.a.log.Debug("clipboard read", "err", err)
		} else if changed {
			for _, p := range h.a.allPeers() {
				if p.controlled() {
					p.sendClipboard(text)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// close ends the poll, gives back the spare keycodes and ends the clipboard
// helper processes.
func (h *hands) close() {
	h.watchStop()
	<-h.watchDone
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	h.stopPollLocked()
	if h.clip != nil {
		if err := h.clip.Close(); err != nil {
			h.a.log.Warn("clipboard cleanup", "err", err)
		}
	}
	if h.desk != nil {
		if err := h.desk.Close(); err != nil {
			h.a.log.Warn("input cleanup", "err", err)
		}
	}
}

func (a *agent) clipboardInterval() time.Duration {
	if a.cfg.ClipboardPoll > 0 {
		return a.cfg.ClipboardPoll
	}
	return clipboardPoll
}

func (a *agent) allPeers() []*peer {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*peer, 0, len(a.peers))
	for _, p := range a.peers {
		out = append(out, p)
	}
	return out
}

// Control states of one rep connection.
const (
	viewOnly = iota
	asking
	granted
)

// remote is one rep connection's control state.
type remote struct {
	mu        sync.Mutex
	state     int
	ctrl      *input.Controller
	cancelAsk context.CancelFunc
	asks      sync.WaitGroup
	ended     bool
	clipIn    protocol.ClipAssembler
	clipID    uint32
	refused   uint32               // input messages refused or failed since the last pong
	lastNote  map[string]time.Time // the last refusal sent, by error code
}

func (p *peer) controlled() bool {
	p.rc.mu.Lock()
	defer p.rc.mu.Unlock()
	return p.rc.state == granted
}

// onRemote handles the control messages of remote control and clipboard.
// onRemote handles the remote-control and clipboard messages; it reports
// whether c was one of them.
func (p *peer) onRemote(c protocol.Control) bool {
	switch c.Type {
	case protocol.CtlRequestControl:
		p.requestControl()
	case protocol.CtlReleaseControl:
		if p.endControl("the support technician gave control back", true) {
			p.a.cfg.OnState("The support technician gave back control of your mouse and keyboard.")
		}
	case protocol.CtlClipboard:
		p.onClipboard(*c.Clip)
	case protocol.CtlControlGranted, protocol.CtlControlRefused, protocol.CtlControlRevoked, protocol.CtlClipboardAck:
		p.sendControl(protocol.Control{Type: protocol.CtlError, Error: protocol.CodeMalformed,
			Message: fmt.Sprintf("the agent does not accept %s messages", c.Type)})
	default:
		return false
	}
	return true
}

func (p *peer) requestControl() {
	rc := &p.rc
	rc.mu.Lock()
	defer rc.mu.Unlock()
	switch {
	case rc.ended:
		return
	case rc.state == granted:
		p.sendControl(protocol.Control{Type: protocol.CtlControlGranted})
		return
	case rc.state == asking:
		return
	}
	rc.state = asking
	ctx, cancel := context.WithCancel(context.Background())
	rc.cancelAsk = cancel
	rc.asks.Add(1)
	p.a.cfg.OnState("The support technician asks to control your mouse and keyboard.")
	go func() {
		defer rc.asks.Done()
		defer cancel()
		ok, err := p.a.consent(ctx, chatwin.KindControl, controlQuestion)
		if ctx.Err() != nil {
			return // the peer went away, or the customer revoked meanwhile
		}
		reason := ""
		var desk *input.Desktop
		switch {
		case err != nil:
			reason = "the customer could not be asked"
			p.a.log.Warn("asking for control", "err", err)
		case !ok:
			reason = "the customer refused remote control"
		default:
			desk, err = p.a.hands.open()
			if err != nil {
				reason = "remote control is not available on the customer's desktop: " + err.Error()
				p.a.log.Warn("cannot open input", "err", err)
			}
		}
		rc.mu.Lock()
		if rc.state != asking || rc.ended {
			rc.mu.Unlock()
			return
		}
		if reason != "" {
			rc.state = viewOnly
			rc.mu.Unlock()
			p.sendControl(protocol.Control{Type: protocol.CtlControlRefused, Reason: reason})
			p.a.cfg.OnState("Remote control was not granted: " + reason + ".")
			return
		}
		rc.state = granted
		rc.ctrl = desk.NewController()
		rc.mu.Unlock()
		p.controlling.Store(true)
		p.a.publish()
		p.sendControl(protocol.Control{Type: protocol.CtlControlGranted})
		p.a.cfg.OnState("The support technician now controls your mouse and keyboard and shares your clipboard.")
		p.a.hands.controlChanged(true)
	}()
}

// endControl returns the rep connection to view-only, releasing every key
// and button it held; tell sends control_revoked with reason. It reports
// whether control (or a question for it) was under way.
func (p *peer) endControl(reason string, tell bool) bool {
	rc := &p.rc
	rc.mu.Lock()
	was := rc.state
	ctrl := rc.ctrl
	rc.state, rc.ctrl = viewOnly, nil
	if rc.cancelAsk != nil {
		rc.cancelAsk()
		rc.cancelAsk = nil
	}
	rc.mu.Unlock()
	if ctrl != nil {
		if err := ctrl.ReleaseAll(); err != nil {
			p.a.log.Warn("releasing the rep's keys", "err", err)
		}
	}
	if was == viewOnly {
		return false
	}
	p.controlling.Store(false)
	p.a.publish()
	if tell {
		p.sendControl(protocol.Control{Type: protocol.CtlControlRevoked, Reason: reason})
	}
	p.a.hands.controlChanged(false)
	return true
}

// releaseKeys lets go of every key and button the rep holds (the link
// dropped: a key must not stay pressed while nobody can release it).
func (p *peer) releaseKeys() {
	p.rc.mu.Lock()
	ctrl := p.rc.ctrl
	p.rc.mu.Unlock()
	if ctrl != nil {
		if err := ctrl.ReleaseAll(); err != nil {
			p.a.log.Warn("releasing the rep's keys", "err", err)
		}
	}
}

// closeRemote ends control for good when the peer closes, and waits for a
// pending question.
func (p *peer) closeRemote() {
	p.rc.mu.Lock()
	p.rc.ended = true
	p.rc.mu.Unlock()
	p.endControl("", false)
	p.rc.asks.Wait()
}

// onInput handles one message of the input channel.
func (p *peer) onInput(m webrtc.DataChannelMessage) {
	rc := &p.rc
	ev, err := protocol.DecodeInput(m.Data)
	if m.IsString {
		err = errors.New("input messages are binary")
	}
	if err == nil && ev.Kind == protocol.InputPing {
		rc.mu.Lock()
		n := rc.refused
		rc.refused = 0
		rc.mu.Unlock()
		pong, _ := protocol.AppendInput(nil, protocol.InputEvent{Kind: protocol.InputPong, ID: ev.ID, Refused: n})
		if err := p.input.Send(pong); err != nil {
			p.a.log.Debug("input pong", "err", err)
		}
		return
	}
	rc.mu.Lock()
	ctrl := rc.ctrl
	rc.mu.Unlock()
	switch {
	case err != nil:
		p.refuse(protocol.CodeMalformed, "a malformed input message was dropped: "+err.Error())
		return
	case ctrl == nil:
		p.refuse(protocol.CodeNotGranted, "remote control has not been granted by the customer: input is ignored")
		return
	}
	if err := inject(ctrl, ev); err != nil {
		if errors.Is(err, input.ErrClosed) {
			return
		}
		p.a.log.Warn("input failed", "kind", ev.Kind, "err", err)
		p.refuse("input", err.Error())
	}
}

// refuse counts a refused input message and tells the rep, at most every
// refusalEvery (a flood of refused input makes one error, not a flood).
func (p *peer) refuse(code, msg string) {
	rc := &p.rc
	rc.mu.Lock()
	rc.refused++
	now := time.Now()
	tell := now.Sub(rc.lastNote[code]) >= refusalEvery
	if tell {
		if rc.lastNote == nil {
			rc.lastNote = map[string]time.Time{}
		}
		rc.lastNote[code] = now
	}
	rc.mu.Unlock()
	if tell {
		p.sendControl(protocol.Control{Type: protocol.CtlError, Error: code, Message: msg})
	}
}

// inject performs one input event. Positions are pixels of the shared
// screen, which is the whole X screen (a future monitor choice adds its
// origin here).
func inject(c *input.Controller, ev protocol.InputEvent) error {
	switch ev.Kind {
	case protocol.InputKeyDown, protocol.InputKeyUp:
		return c.Key(ev.Kind == protocol.InputKeyDown, ev.Code, ev.Key, input.Mods(ev.Flags))
	case protocol.InputText:
		return c.Text(ev.Text)
	case protocol.InputMove:
		return c.Move(ev.X, ev.Y)
	case protocol.InputButton:
		return c.Button(ev.Button, ev.Down, ev.X, ev.Y)
	case protocol.InputWheel:
		return c.Wheel(ev.DX, ev.DY, ev.X, ev.Y)
	}
	return fmt.Errorf("input messages of kind %d go the other way", ev.Kind)
}

// onClipboard takes one chunk of the rep's clipboard text; a complete text
// goes into the customer's clipboard.
func (p *peer) onClipboard(k protocol.Clip) {
	rc := &p.rc
	rc.mu.Lock()
	if rc.state != granted {
		rc.mu.Unlock()
		p.sendControl(protocol.Control{Type: protocol.CtlError, Error: protocol.CodeNotGranted,
			Message: "remote control has not been granted by the customer: the clipboard is not shared"})
		return
	}
	text, done, err := rc.clipIn.Add(k)
	rc.mu.Unlock()
	if err != nil {
		code := protocol.CodeMalformed
		if errors.Is(err, protocol.ErrTooLarge) {
			code = protocol.CodeTooLarge
		}
		p.sendControl(protocol.Control{Type: protocol.CtlError, Error: code, Message: err.Error()})
		return
	}
	if !done {
		return
	}
	clip, err := p.a.hands.clipboard()
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = clip.Write(ctx, text)
		cancel()
	}
	if err != nil {
		p.sendControl(protocol.Control{Type: protocol.CtlError, Error: protocol.CodeClipboard,
			Message: "the customer's clipboard could not be written: " + err.Error()})
		return
	}
	p.sendControl(protocol.Control{Type: protocol.CtlClipboardAck, Clip: &protocol.Clip{ID: k.ID}})
}

// sendClipboard sends the customer's clipboard text to the rep.
func (p *peer) sendClipboard(text string) {
	p.rc.mu.Lock()
	p.rc.clipID++
	id := p.rc.clipID
	p.rc.mu.Unlock()
	if len(text) > protocol.MaxClipboard {
		p.sendControl(protocol.Control{Type: protocol.CtlError, Error: protocol.CodeTooLarge,
			Message: fmt.Sprintf("the customer copied %.1f MiB of text; at most 1 MiB is shared", float64(len(text))/(1<<20))})
		return
	}
	msgs, err := protocol.ClipChunks(id, text)
	if err != nil {
		p.a.log.Warn("clipboard", "err", err)
		return
	}
	for _, m := range msgs {
		p.sendControl(m)
	}
}
