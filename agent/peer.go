package agent

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/webrtc/v4"

	"assist/internal/peerconn"
	"assist/protocol"
)

// Screen channel pacing: a frame is captured for a peer only while less
// than lowWater bytes wait in its screen channel, so at most about one
// frame is ever queued and the newest pixels win.
const lowWater = 64 << 10

// peer is the PeerConnection to one rep connection.
type peer struct {
	a   *agent
	rep string
	pc  *webrtc.PeerConnection

	control, screen, input *webrtc.DataChannel
	screenOpen             atomic.Bool
	frameInRects           atomic.Bool // the rep's hello lists protocol.FeatureFrameInRects
	failed                 atomic.Bool
	connected              atomic.Bool  // the PeerConnection is connected
	controlling            atomic.Bool  // the rep holds remote control (the input work sets it)
	screenSeen             atomic.Int64 // unix ns a screen message last went out (transfer.go)

	mu        sync.Mutex
	remoteSet bool
	pending   []webrtc.ICECandidateInit
	closed    bool
	rc        remote // remote control (input.go)

	screenPeer // screen state: screenpeer.go
}

func (a *agent) newPeer(rep string) (*peer, error) {
	pc, err := a.api.NewPeerConnection(a.api.Configuration(a.ice))
	if err != nil {
		return nil, fmt.Errorf("agent: new peer connection: %w", err)
	}
	p := &peer{a: a, rep: rep, pc: pc}
	p.initScreen(a)
	ordered := true
	mk := func(label string) (*webrtc.DataChannel, error) {
		dc, err := pc.CreateDataChannel(label, &webrtc.DataChannelInit{Ordered: &ordered})
		if err != nil {
			return nil, fmt.Errorf("agent: data channel %s: %w", label, err)
		}
		return dc, nil
	}
	if p.control, err = mk(protocol.ChannelControl); err == nil {
		if p.screen, err = mk(protocol.ChannelScreen); err == nil {
			p.input, err = mk(protocol.ChannelInput)
		}
	}
	if err != nil {
		pc.Close()
		return nil, err
	}
	p.wire()
	offer, err := pc.CreateOffer(nil)
	if err == nil {
		err = pc.SetLocalDescription(offer)
	}
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("agent: offer: %w", err)
	}
	a.sendSignal(protocol.Signal{Type: protocol.SigOffer, Rep: rep, SDP: offer.SDP})
	return p, nil
}

// wire installs the pion callbacks.
func (p *peer) wire() {
	a := p.a
	p.pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		a.sendSignal(protocol.Signal{Type: protocol.SigCandidate, Rep: p.rep, Candidate: peerconn.CandidateToWire(c.ToJSON())})
	})
	p.pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		a.log.Info("peer connection", "rep", p.rep, "state", s.String())
		switch s {
		case webrtc.PeerConnectionStateConnected:
			p.connected.Store(true)
			a.cfg.OnState("The support technician is viewing your screen.")
			a.publish()
		case webrtc.PeerConnectionStateDisconnected:
			p.releaseKeys()
		case webrtc.PeerConnectionStateFailed:
			p.releaseKeys()
			p.connected.Store(false)
			p.failed.Store(true)
			a.publish()
			select {
			case a.events <- event{rep: p.rep, failed: true}:
			default:
			}
		}
	})
	p.screen.OnOpen(func() {
		p.screen.SetBufferedAmountLowThreshold(lowWater)
		p.screenOpen.Store(true)
		a.wake()
	})
	p.screen.OnClose(func() { p.screenOpen.Store(false) })
	p.screen.OnBufferedAmountLow(func() {
		a.wake()
		a.wakeFiles()
	})
	p.control.OnOpen(func() {
		p.sendControl(protocol.Control{
			Type: protocol.CtlHello, Version: protocol.Version, Agent: &a.cfg.Info,
		})
		a.greet(p)
		a.attachFiles(p)
	})
	p.pc.OnDataChannel(p.onDataChannel)
	p.control.OnMessage(func(m webrtc.DataChannelMessage) { p.onControl(m) })
	p.input.OnMessage(p.onInput)
	p.input.OnClose(p.releaseKeys)
}

func (p *peer) onControl(m webrtc.DataChannelMessage) {
	if !m.IsString {
		p.sendControl(protocol.Control{Type: protocol.CtlError, Error: protocol.CodeMalformed, Message: "control messages are JSON text"})
		return
	}
	c, err := protocol.DecodeControl(m.Data)
	if err != nil {
		p.sendControl(protocol.Control{Type: protocol.CtlError, Error: protocol.CodeMalformed, Message: err.Error()})
		return
	}
	switch c.Type {
	case protocol.CtlPing:
		p.sendControl(protocol.Control{Type: protocol.CtlPong, T: c.T})
	case protocol.CtlHello:
		p.frameInRects.Store(slices.Contains(c.Features, protocol.FeatureFrameInRects))
		if c.Version != protocol.Version {
			p.sendControl(protocol.Control{Type: protocol.CtlError, Error: protocol.CodeVersion,
				Message: fmt.Sprintf("the agent speaks protocol %d, the rep %d", protocol.Version, c.Version)})
		}
	case protocol.CtlBye:
		p.a.log.Info("rep said bye", "rep", p.rep, "reason", c.Reason)
	case protocol.CtlPong, protocol.CtlMonitor, protocol.CtlScreenResync:
		p.onScreenControl(c)
	default:
		if p.a.onLifecycleControl(p, c) {
			return
		}
		if strings.HasPrefix(c.Type, "file_") {
			p.a.fileControl(p, c)
			return
		}
		if p.onRemote(c) { // remote control and clipboard (input.go)
			return
		}
		p.sendControl(protocol.Control{Type: protocol.CtlError, Error: protocol.CodeMalformed,
			Message: "unknown control message " + c.Type})
	}
}

func (p *peer) sendControl(c protocol.Control) {
	b, err := protocol.EncodeControl(c)
	if err != nil {
		p.a.log.Error("encode control", "err", err)
		return
	}
	if err := p.control.SendText(string(b)); err != nil {
		p.a.log.Debug("control send failed", "rep", p.rep, "err", err)
	}
}

func (p *peer) setAnswer(sdp string) error {
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return fmt.Errorf("agent: answer: %w", err)
	}
	p.mu.Lock()
	p.remoteSet = true
	pending := p.pending
	p.pending = nil
	p.mu.Unlock()
	for _, c := range pending {
		if err := p.pc.AddICECandidate(c); err != nil {
			p.a.log.Debug("remote candidate", "err", err)
		}
	}
	return nil
}

func (p *peer) addCandidate(c *protocol.ICECandidate) {
	init := peerconn.CandidateFromWire(c)
	p.mu.Lock()
	if !p.remoteSet {
		if len(p.pending) < 64 {
			p.pending = append(p.pending, init)
		}
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	if err := p.pc.AddICECandidate(init); err != nil {
		p.a.log.Debug("remote candidate", "err", err)
	}
}

// open reports whether the screen channel is open.
func (p *peer) open() bool {
	return p.screenOpen.Load() && !p.failed.Load()
}

func (p *peer) dead() bool {
	s := p.pc.ConnectionState()
	return p.failed.Load() || s == webrtc.PeerConnectionStateClosed || s == webrtc.PeerConnectionStateFailed
}

// close says bye and closes the PeerConnection.
func (p *peer) close(reason string) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	p.a.detachFiles(p)
	p.closeRemote()
	if p.control.ReadyState() == webrtc.DataChannelStateOpen {
		p.sendControl(protocol.Control{Type: protocol.CtlBye, Reason: reason})
	}
	if err := p.pc.Close(); err != nil {
		p.a.log.Debug("close peer", "rep", p.rep, "err", err)
	}
}
