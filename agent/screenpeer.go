package agent

import (
	"image"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"assist/capture"
	"assist/protocol"
)

// screenPeer is a peer's screen state.
type screenPeer struct {
	view    *peerView          // streamer only
	adapt   *adapter           // streamer and control
	monitor atomic.Int32       // the rep's choice: 0 all monitors, n the n-th
	sent    atomic.Uint64      // bytes handed to the screen channel
	epoch   time.Time          // the agent's ping clock
	z       *protocol.ZEncoder // this rep's deflate stream (EncZlib); streamer only
	resyncs *resyncLimiter     // the rep's screen_resync requests (resync.go)
}

// peerView is what the streamer knows of one rep's picture.
type peerView struct {
	tracker       *capture.Tracker // what the rep's picture holds
	cache         *tileCache       // what the rep's tile cache holds
	area          image.Rectangle  // the screen area it shows
	width, height int              // the size last announced
	seq           uint32
	refining      bool // the last frame end said refinement follows
	quality       int
	lastFrame     time.Time
	frameNo       uint64 // the capture this rep last got
	threshold     uint64 // the low-water mark set on its channel
	lastPing      time.Time
	monitorsSent  bool
	shapeSerial   uint32 // the pointer shape it has (serial+1; 0 none)
	cursorSent    bool
	cursorVisible bool
	cursorAt      image.Point
}

func (p *peer) initScreen(a *agent) {
	now := time.Now()
	p.view = &peerView{tracker: capture.NewTracker(), cache: newTileCache()}
	p.adapt = newAdapter(a.cfg.MaxFPS, now)
	p.epoch = now
	p.resyncs = &resyncLimiter{every: protocol.ResyncInterval}
	p.z, _ = protocol.NewZEncoder(zLevel) // a valid level cannot fail
}

// zLevel is the deflate level of the screen stream: text compresses about
// as well as at 9, several times faster.
const zLevel = 6

// room reports whether the screen channel can take a frame now.
func (p *peer) room() bool {
	return p.open() && p.screen.BufferedAmount() < p.adapt.bufferGoal()
}

// sendScreen sends one screen message, counting its bytes.
func (p *peer) sendScreen(msg []byte) error {
	if err := p.screen.Send(msg); err != nil {
		return err
	}
	p.sent.Add(uint64(len(msg)))
	p.screenSeen.Store(time.Now().UnixNano()) // file channels keep their queues short now (transfer.go)
	return nil
}

func (p *peer) controlOpen() bool {
	return p.control.ReadyState() == webrtc.DataChannelStateOpen
}

// pingClock is the agent's clock for pings, in milliseconds.
func (p *peer) pingClock(now time.Time) float64 {
	return float64(now.Sub(p.epoch).Microseconds()) / 1000
}

// pingEvery is how often the agent pings each rep (the RTT sizes the
// screen channel's buffer goal; it changes slowly).
const pingEvery = 2 * time.Second

// tick does a peer's periodic chores from the streamer: a ping now and then
// (the RTT feeds the adaptation) and the channel's low-water mark.
func (p *peer) tick(now time.Time) {
	v := p.view
	if now.Sub(v.lastPing) >= pingEvery && p.controlOpen() {
		v.lastPing = now
		p.sendControl(protocol.Control{Type: protocol.CtlPing, T: max(p.pingClock(now), 0.001)})
	}
	if goal := p.adapt.bufferGoal(); goal != v.threshold {
		v.threshold = goal
		p.screen.SetBufferedAmountLowThreshold(goal)
	}
}

// onScreenControl handles the rep's pongs, monitor choice and resync
// requests (on pion's goroutine).
func (p *peer) onScreenControl(c protocol.Control) {
	switch c.Type {
	case protocol.CtlPong:
		if c.T > 0 {
			rtt := p.pingClock(time.Now()) - c.T
			p.adapt.observeRTT(time.Duration(rtt * float64(time.Millisecond)))
		}
	case protocol.CtlMonitor:
		p.monitor.Store(int32(c.Monitor))
		p.a.log.Info("rep chose a monitor", "rep", p.rep, "monitor", c.Monitor)
		p.a.wake()
	case protocol.CtlScreenResync:
		p.a.log.Debug("rep asked for a screen resync", "rep", p.rep, "serial", c.Serial, "reason", c.Reason)
		p.resyncs.request(c.Serial, c.Reason)
		p.a.wake()
	}
}
