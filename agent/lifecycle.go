package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"assist/chatwin"
	"assist/internal/clock"
	"assist/protocol"
	"assist/reconnect"
)

// Window is the customer's chat window as the agent uses it
// (*chatwin.Window): what to show, and what the customer does.
type Window interface {
	SetState(chatwin.State)
	AddChat(protocol.ChatLine)
	SetHistory([]protocol.ChatLine)
	Actions() <-chan chatwin.Action
	End(reason string)
}

// Tickets keeps the resume ticket (*reconnect.Store).
type Tickets interface {
	Save(reconnect.Ticket) (string, error)
	MarkUsed(id string) error
	Clear() error
}

// Restarter does the reboot-and-reconnect: the installer's temporary
// service and the machine's restart. Tests replace the restart.
type Restarter interface {
	// Install registers the service that runs `assist resume` at the next
	// boot (or login) and returns its name.
	Install(ctx context.Context) (string, error)
	// Uninstall removes the service, its files and its logs.
	Uninstall(ctx context.Context, name string) error
	// Reboot restarts the machine; it returns once the restart is under way.
	Reboot(ctx context.Context) error
}

// ErrRebooting is returned by Run when the customer allowed a reboot and the
// machine is restarting: the session is suspended, not ended, and the
// service resumes it after the restart.
var ErrRebooting = errors.New("the computer is restarting; the session resumes after the restart")

// ticketData is the agent's state kept inside the resume ticket.
type ticketData struct {
	Chat   []protocol.ChatLine `json:"chat,omitempty"`
	View   bool                `json:"view,omitempty"` // the customer allowed viewing
	Paused bool                `json:"paused,omitempty"`
}

// lifecycle is the agent's session-lifecycle state, guarded by agent.mu
// unless noted.
type lifecycle struct {
	clock     clock.Clock
	idPrefix  string
	chatSeq   int
	chat      []protocol.ChatLine
	paused    bool
	view      bool
	service   string // the temporary service installed for this session
	code      string
	deadline  time.Time // while reconnecting: when the agent gives up
	linkUp    bool
	ticketID  string     // the ticket last written
	saveMu    sync.Mutex // serialises ticket writes (outside agent.mu)
	rebooting bool       // a reboot flow is running or done
}

func newIDPrefix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// consent asks the customer, through Consent when set, else Ask.
func (a *agent) consent(ctx context.Context, kind, question string) (bool, error) {
	if a.cfg.Consent != nil {
		return a.cfg.Consent(ctx, chatwin.Prompt{Kind: kind, Question: question})
	}
	return a.cfg.Ask(ctx, question)
}

// --- chat ---

// addChat stamps a line, keeps it, writes the ticket, then shows it in the
// window and sends it to every rep.
func (a *agent) addChat(from, text string) (protocol.ChatLine, error) {
	l := protocol.ChatLine{From: from, Text: text}
	if err := l.Validate(); err != nil {
		return l, err
	}
	a.mu.Lock()
	a.lc.chatSeq++
	l.ID = a.lc.idPrefix + "-" + strconv.Itoa(a.lc.chatSeq)
	l.Time = a.lc.clock.Now().UnixMilli()
	a.lc.chat = append(a.lc.chat, l)
	if len(a.lc.chat) > protocol.MaxHistory {
		a.lc.chat = a.lc.chat[len(a.lc.chat)-protocol.MaxHistory:]
	}
	peers := a.peerList()
	a.mu.Unlock()
	// Written ahead: once anyone sees the line, a crash cannot lose it.
	a.saveTicket()
	if a.cfg.Window != nil {
		a.cfg.Window.AddChat(l)
	}
	for _, p := range peers {
		p.sendControl(protocol.Control{Type: protocol.CtlChat, Chat: &l})
	}
	return l, nil
}

// peerList returns the peers; a.mu must be held.
func (a *agent) peerList() []*peer {
	out := make([]*peer, 0, len(a.peers))
	for _, p := range a.peers {
		out = append(out, p)
	}
	return out
}

// greet sends a rep connection what it needs after hello: the chat so far
// and whether sharing is paused.
func (a *agent) greet(p *peer) {
	a.mu.Lock()
	chat := append([]protocol.ChatLine(nil), a.lc.chat...)
	paused := a.lc.paused
	a.mu.Unlock()
	for _, c := range protocol.HistoryChunks(chat) {
		p.sendControl(c)
	}
	p.sendControl(sharingMsg(paused))
}

func sharingMsg(paused bool) protocol.Control {
	st := protocol.SharingOn
	if paused {
		st = protocol.SharingPaused
	}
	return protocol.Control{Type: protocol.CtlSharing, State: st}
}

// onLifecycleControl handles the lifecycle messages from a rep; it reports
// whether the message was one of them.
func (a *agent) onLifecycleControl(p *peer, c protocol.Control) bool {
	switch c.Type {
	case protocol.CtlChat:
		if _, err := a.addChat(protocol.FromRep, c.Chat.Text); err != nil {
			p.sendControl(protocol.Control{Type: protocol.CtlError, Error: protocol.CodeMalformed, Message: err.Error()})
		}
	case protocol.CtlReboot:
		a.startReboot(p)
	case protocol.CtlChatHistory, protocol.CtlSharing:
		p.sendControl(protocol.Control{Type: protocol.CtlError, Error: protocol.CodeMalformed,
			Message: c.Type + " is sent by the agent only"})
	default:
		return false
	}
	return true
}

// --- pause ---

func (a *agent) setPaused(paused bool) {
	a.mu.Lock()
	if a.lc.paused == paused {
		a.mu.Unlock()
		return
	}
	a.lc.paused = paused
	peers := a.peerList()
	a.mu.Unlock()
	for _, p := range peers {
		p.sendControl(sharingMsg(paused))
	}
	if paused {
		a.cfg.OnState("Sharing paused: the support technician no longer sees your screen.")
	} else {
		a.cfg.OnState("Sharing your screen again.")
		a.wake()
	}
	a.publish()
	a.saveTicket()
}

func (a *agent) isPaused() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lc.paused
}

// --- the window's picture of the session ---

// publish shows the session's current state in the chat window.
func (a *agent) publish() {
	if a.cfg.Window == nil {
		return
	}
	a.mu.Lock()
	st := chatwin.State{Session: chatwin.StateActive, Paused: a.lc.paused, Code: a.lc.code}
	if !a.lc.linkUp {
		st.Session = chatwin.StateReconnecting
		if !a.lc.deadline.IsZero() {
			st.Deadline = a.lc.deadline.UnixMilli()
		}
		st.Message = "Reconnecting to the support server…"
	}
	n := 0
	for _, p := range a.sortedPeers() {
		n++
		name := "Support technician"
		if len(a.peers) > 1 {
			name += " " + strconv.Itoa(n)
		}
		st.Reps = append(st.Reps, chatwin.Rep{ID: p.rep, Name: name, Connected: p.connected.Load(),
			Viewing: p.connected.Load() && !a.lc.paused, Controlling: p.controlling.Load()})
	}
	a.mu.Unlock()
	a.cfg.Window.SetState(st)
}

// --- the resume ticket ---

// saveTicket writes the ticket with the current secret, deadline and
// state. While the link is up the deadline is now + window; while
// reconnecting it is when the agent gives up.
func (a *agent) saveTicket() {
	if a.cfg.Tickets == nil {
		return
	}
	a.lc.saveMu.Lock()
	defer a.lc.saveMu.Unlock()
	a.mu.Lock()
	if a.session == "" || a.secret == "" || a.ended {
		a.mu.Unlock()
		return
	}
	deadline := a.lc.deadline
	if a.lc.linkUp || deadline.IsZero() {
		deadline = a.lc.clock.Now().Add(a.window)
	}
	data, _ := json.Marshal(ticketData{Chat: trimChat(a.lc.chat), View: a.lc.view, Paused: a.lc.paused})
	t := reconnect.Ticket{
		Session: a.session, Secret: a.secret, Server: a.cfg.Server, Code: a.lc.code,
		Deadline: deadline, Window: a.window, Service: a.lc.service, Data: data,
	}
	a.mu.Unlock()
	id, err := a.cfg.Tickets.Save(t)
	if err != nil {
		a.log.Error("cannot write the resume ticket", "err", err)
		return
	}
	a.mu.Lock()
	a.lc.ticketID = id
	a.mu.Unlock()
}

// trimChat keeps the newest lines whose text fits in 256 KiB.
func trimChat(lines []protocol.ChatLine) []protocol.ChatLine {
	total := 0
	for i := len(lines) - 1; i >= 0; i-- {
		total += len(lines[i].Text)
		if total > 256<<10 {
			return append([]protocol.ChatLine(nil), lines[i+1:]...)
		}
	}
	return append([]protocol.ChatLine(nil), lines...)
}

// restoreTicket takes the state a resumed ticket carried.
func (a *agent) restoreTicket(t *reconnect.Ticket) {
	var d ticketData
	if len(t.Data) > 0 {
		if err := json.Unmarshal(t.Data, &d); err != nil {
			a.log.Warn("resume ticket data unreadable; the chat history is lost", "err", err)
		}
	}
	a.mu.Lock()
	a.lc.chat = d.Chat
	a.lc.view = d.View
	a.lc.paused = d.Paused
	a.lc.service = t.Service
	a.lc.code = t.Code
	a.lc.ticketID = t.ID
	a.session, a.secret = t.Session, t.Secret
	if t.Window > 0 {
		a.window = t.Window
	}
	a.mu.Unlock()
	if a.cfg.Window != nil && len(d.Chat) > 0 {
		a.cfg.Window.SetHistory(d.Chat)
	}
}

// --- reboot and reconnect ---

// startReboot runs the reboot flow for a rep's request in its own
// goroutine: ask, install the service, write the ticket, tell the reps,
// then let the loop restart the machine.
func (a *agent) startReboot(p *peer) {
	answer := func(state, msg string) {
		p.sendControl(protocol.Control{Type: protocol.CtlReboot, State: state, Message: msg})
	}
	if a.cfg.Restarter == nil || a.cfg.Tickets == nil {
		answer(protocol.RebootFailed, "this agent cannot restart the computer and reconnect (no service support)")
		return
	}
	a.mu.Lock()
	busy := a.lc.rebooting
	a.lc.rebooting = true
	a.mu.Unlock()
	if busy {
		answer(protocol.RebootFailed, "a restart is already being arranged")
		return
	}
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		ok := false
		defer func() {
			if !ok {
				a.mu.Lock()
				a.lc.rebooting = false
				a.mu.Unlock()
			}
		}()
		answer(protocol.RebootAsking, "asking the customer")
		a.cfg.OnState("The support technician asks to restart your computer.")
		yes, err := a.consent(a.ctx, chatwin.KindReboot,
			"The support technician asks to restart your computer. Save your work first. The session continues after the restart. Allow?")
		if err != nil || !yes {
			answer(protocol.RebootDeclined, "the customer declined the restart")
			a.cfg.OnState("You declined the restart.")
			return
		}
		name, err := a.cfg.Restarter.Install(a.ctx)
		if err != nil {
			a.log.Error("cannot install the resume service", "err", err)
			answer(protocol.RebootFailed, "could not set up the reconnect after restart: "+err.Error())
			return
		}
		a.mu.Lock()
		a.lc.service = name
		a.mu.Unlock()
		a.saveTicket()
		ok = true
		select {
		case a.events <- event{reboot: true, rep: p.rep}:
		case <-a.ctx.Done():
		}
	}()
}

// reboot restarts the machine (the loop calls it); on failure the service
// is removed again and the reps are told.
func (a *agent) reboot(ctx context.Context) error {
	a.mu.Lock()
	peers := a.peerList()
	name := a.lc.service
	a.mu.Unlock()
	for _, p := range peers {
		p.sendControl(protocol.Control{Type: protocol.CtlReboot, State: protocol.RebootRestarting,
			Message: "the customer's computer is restarting; the session resumes after it"})
	}
	// The reps must hear it before the machine (and this process) goes.
	flushControl(ctx, peers, 3*time.Second)
	a.cfg.OnState("Restarting your computer. The session resumes after the restart.")
	if err := a.cfg.Restarter.Reboot(ctx); err != nil {
		a.log.Error("restart failed", "err", err)
		a.mu.Lock()
		a.lc.service = ""
		a.lc.rebooting = false
		a.mu.Unlock()
		if uerr := a.cfg.Restarter.Uninstall(context.WithoutCancel(ctx), name); uerr != nil {
			a.log.Error("cannot remove the resume service", "err", uerr)
		}
		a.saveTicket()
		for _, p := range peers {
			p.sendControl(protocol.Control{Type: protocol.CtlReboot, State: protocol.RebootFailed,
				Message: "the restart failed: " + err.Error()})
		}
		a.cfg.OnState("The restart failed; the session goes on.")
		return err
	}
	return nil
}

// cleanup removes every trace of an ended session: the ticket, the
// temporary service, and tells the window.
func (a *agent) cleanup(reason string) {
	a.mu.Lock()
	a.ended = true
	name := a.lc.service
	a.lc.service = ""
	a.mu.Unlock()
	a.lc.saveMu.Lock() // no ticket write after this point
	defer a.lc.saveMu.Unlock()
	if a.cfg.Tickets != nil {
		if err := a.cfg.Tickets.Clear(); err != nil {
			a.log.Error("cannot remove the resume ticket", "err", err)
		}
	}
	if name != "" && a.cfg.Restarter != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := a.cfg.Restarter.Uninstall(ctx, name); err != nil {
			a.log.Error("cannot remove the resume service", "service", name, "err", err)
		}
		cancel()
	}
	if a.cfg.Window != nil {
		a.cfg.Window.End(reason)
	}
}

func describeWindow(d time.Duration) string {
	if d >= time.Minute && d%time.Minute == 0 {
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
	return d.String()
}

// flushControl waits, at most d, until every peer acknowledged what was
// sent on its control channel (SCTP releases the buffered amount on
// acknowledgement).
func flushControl(ctx context.Context, peers []*peer, d time.Duration) {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		pending := false
		for _, p := range peers {
			if p.control.ReadyState() == webrtc.DataChannelStateOpen && p.control.BufferedAmount() > 0 {
				pending = true
			}
		}
		if !pending || time.Now().After(deadline) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
