package rep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"assist/internal/peerconn"
	"assist/internal/sigclient"
	"assist/protocol"
	"assist/transfer"
)

// Config says where the server is and how to authenticate.
type Config struct {
	Server    string // base URL, http://host:8200
	Token     string // the rep token
	Loopback  bool   // restrict WebRTC to 127.0.0.1
	RelayOnly bool   // use the server's TURN relay only
	Logger    *slog.Logger
	// Downloads, when set, accepts the files the customer offers into this
	// folder (safe, numbered names); otherwise such offers are refused.
	Downloads string
	// ScreenTap, for tests, sees every screen message that decodes before
	// it is applied and returns what to apply instead (nil: drop it
	// unnoticed, with the frame end a ScreenRectsEnd carries), e.g. a
	// corrupted copy. It runs with the client's lock held and must not call
	// the client.
	ScreenTap func(msg []byte) []byte
	// SeparateFrameEnds, for tests, leaves FeatureFrameInRects out of the
	// hello: the agent then ends each frame with its own ScreenFrameEnd, as
	// for a console of an older build.
	SeparateFrameEnds bool
}

// APIError is an error answer of the server's REST API or signalling.
type APIError struct {
	Status  int    `json:"-"`
	Code    string `json:"error"`
	Message string `json:"message"`
}

func (e *APIError) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return fmt.Sprintf("server answered %d %s", e.Status, e.Code)
}

// SessionInfo is a session as the server's API describes it.
type SessionInfo = protocol.SessionInfo

func (cfg Config) api(ctx context.Context, method, path string, out any) error {
	base := strings.TrimRight(cfg.Server, "/")
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, nil)
	if err != nil {
		return fmt.Errorf("rep: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+cfg.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("rep: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("rep: %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		e := &APIError{Status: resp.StatusCode}
		if json.Unmarshal(body, e) != nil || e.Message == "" {
			e.Message = fmt.Sprintf("server answered %s", resp.Status)
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("rep: %s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// NewSession asks the server for a new session and its code.
func NewSession(ctx context.Context, cfg Config) (SessionInfo, error) {
	var in SessionInfo
	err := cfg.api(ctx, http.MethodPost, "/api/sessions", &in)
	return in, err
}

// ListSessions lists the server's sessions.
func ListSessions(ctx context.Context, cfg Config) ([]SessionInfo, error) {
	var out []SessionInfo
	err := cfg.api(ctx, http.MethodGet, "/api/sessions", &out)
	return out, err
}

// EndSession ends the session of code for everyone.
func EndSession(ctx context.Context, cfg Config, code string) error {
	return cfg.api(ctx, http.MethodDelete, "/api/sessions/"+code, nil)
}

// Stats are what a client measured since it attached.
type Stats struct {
	BytesTotal int64            `json:"bytes_total"`
	Bytes      map[string]int64 `json:"bytes"`
	Updates    int64            `json:"updates"`
	Tiles      int64            `json:"tiles"`
	FPS        float64          `json:"fps"`
	RTTms      float64          `json:"rtt_ms"`
	Width      int              `json:"width"`
	Height     int              `json:"height"`
	Seconds    float64          `json:"seconds"`
	// Encodings: rectangle payload bytes by encoding (solid, png, raw,
	// jpeg, copy, zlib).
	Encodings map[string]int64 `json:"encodings,omitempty"`
	// ResyncRequests counts the screen_resync requests sent (a screen
	// message failed, or RequestResync); Resyncs the agent's answers
	// (ScreenResync), each followed by a whole picture.
	ResyncRequests int64 `json:"resync_requests,omitempty"`
	Resyncs        int64 `json:"resyncs,omitempty"`
}

// Client is one rep connection attached to a session.
type Client struct {
	cfg  Config
	log  *slog.Logger
	api  *peerconn.API
	conn *sigclient.Conn

	Session string // the session id
	Code    string
	Rep     string // this connection's id

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	pc       *webrtc.PeerConnection
	control  *webrtc.DataChannel
	pending  []webrtc.ICECandidateInit
	state    string
	reason   string
	fb       *image.RGBA
	frames   int64 // completed frames since the picture was last reset
	frameCh  chan struct{}
	stateCh  chan struct{} // closed and replaced at every state change
	endedCh  chan struct{}
	screenOK bool // a ScreenInfo was received
	errs     []string
	stats    Stats
	start    time.Time
	rtts     []float64
	agent    protocol.AgentInfo
	ice      []protocol.ICEServer
	lc       lifecycle   // chat, pause, reboot (lifecycle.go)
	extra    screenExtra // cursor, quality, monitors: screen.go
	resync   resyncState // screen resynchronisation: resync.go

	files *transfer.Manager // file transfers (transfer.go)
	link  *fileLink
	hello chan struct{} // closed when the agent's control channel is open
	rc    remote        // remote control and clipboard (input.go)
}

// Attach connects to the session of code as a rep and starts receiving.
// It returns once the server accepted the attach; the screen arrives later
// (WaitFrame).
func Attach(ctx context.Context, cfg Config, code string) (*Client, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	code = protocol.NormalizeCode(code)
	if !protocol.IsCode(code) {
		return nil, fmt.Errorf("rep: %q is not a session code: it has nine digits", code)
	}
	api, err := peerconn.NewAPI(peerconn.Options{Loopback: cfg.Loopback, RelayOnly: cfg.RelayOnly, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("rep: %w", err)
	}
	conn, err := sigclient.Dial(ctx, cfg.Server, "/ws/rep")
	if err != nil {
		api.Close()
		return nil, fmt.Errorf("rep: %w", err)
	}
	c := &Client{
		cfg: cfg, log: cfg.Logger.With("component", "rep"), api: api, conn: conn,
		frameCh: make(chan struct{}), endedCh: make(chan struct{}), stateCh: make(chan struct{}),
		stats: Stats{Bytes: map[string]int64{}}, start: time.Now(),
	}
	if err := conn.Send(ctx, protocol.Signal{Type: protocol.SigAttach, Version: protocol.Version, Token: cfg.Token, Code: code}); err != nil {
		c.closeTransport()
		return nil, fmt.Errorf("rep: %w", err)
	}
	for {
		s, err := conn.Recv(ctx)
		if err != nil {
			c.closeTransport()
			return nil, fmt.Errorf("rep: attach: %w", err)
		}
		if s.Type == protocol.SigError {
			c.closeTransport()
			return nil, &APIError{Code: s.Error, Message: s.Message}
		}
		if s.Type == protocol.SigAttached {
			c.Session, c.Code, c.Rep, c.state, c.reason = s.Session, s.Code, s.Rep, s.State, s.Reason
			c.ice = s.ICEServers
			if s.Agent != nil {
				c.agent = *s.Agent
			}
			break
		}
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.startFiles()
	c.wg.Add(2)
	go func() {
		defer c.wg.Done()
		c.readLoop()
	}()
	go func() {
		defer c.wg.Done()
		c.pingLoop()
	}()
	return c, nil
}

func (c *Client) readLoop() {
	defer c.markEnded("the signalling connection closed")
	for {
		s, err := c.conn.Recv(c.ctx)
		if errors.Is(err, protocol.ErrMalformed) || errors.Is(err, protocol.ErrUnknownType) {
			c.log.Warn("ignoring a signalling message", "err", err)
			continue
		}
		if err != nil {
			return
		}
		switch s.Type {
		case protocol.SigOffer:
			if err := c.answer(s); err != nil {
				c.addErr(err.Error())
			}
		case protocol.SigCandidate:
			c.addCandidate(peerconn.CandidateFromWire(s.Candidate))
		case protocol.SigState:
			c.mu.Lock()
			c.state, c.reason = s.State, s.Reason
			if s.Agent != nil {
				c.agent = *s.Agent
			}
			close(c.stateCh)
			c.stateCh = make(chan struct{})
			c.lcChangedLocked()
			c.mu.Unlock()
			if s.State == protocol.StateEnded {
				c.markEnded(s.Reason)
				return
			}
		case protocol.SigError:
			c.addErr(s.Message)
		}
	}
}

func (c *Client) addErr(msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.errs) < 32 {
		c.errs = append(c.errs, msg)
	}
}

func (c *Client) markEnded(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.endedCh:
	default:
		if c.state != protocol.StateEnded {
			c.state, c.reason = protocol.StateEnded, reason
		}
		close(c.endedCh)
	}
}

// answer replaces any PeerConnection with one for the agent's new offer.
func (c *Client) answer(s protocol.Signal) error {
	pc, err := c.api.NewPeerConnection(c.api.Configuration(c.ice))
	if err != nil {
		return fmt.Errorf("rep: new peer connection: %w", err)
	}
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		c.conn.Send(c.ctx, protocol.Signal{Type: protocol.SigCandidate, Rep: s.Rep, Candidate: peerconn.CandidateToWire(cand.ToJSON())})
	})
	pc.OnDataChannel(func(dc *webrtc.DataChannel) { c.onChannel(pc, dc) })
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: s.SDP}); err != nil {
		pc.Close()
		return fmt.Errorf("rep: offer: %w", err)
	}
	ans, err := pc.CreateAnswer(nil)
	if err == nil {
		err = pc.SetLocalDescription(ans)
	}
	if err != nil {
		pc.Close()
		return fmt.Errorf("rep: answer: %w", err)
	}
	c.detachFiles()
	c.mu.Lock()
	old := c.pc
	c.pc = pc
	c.control = nil
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	if old != nil {
		old.Close()
	}
	if err := c.conn.Send(c.ctx, protocol.Signal{Type: protocol.SigAnswer, Rep: s.Rep, SDP: ans.SDP}); err != nil {
		return err
	}
	for _, cand := range pending {
		pc.AddICECandidate(cand)
	}
	return nil
}

func (c *Client) addCandidate(cand webrtc.ICECandidateInit) {
	c.mu.Lock()
	pc := c.pc
	if pc == nil {
		c.pending = append(c.pending, cand)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	if err := pc.AddICECandidate(cand); err != nil {
		c.log.Debug("candidate", "err", err)
	}
}

func (c *Client) onChannel(pc *webrtc.PeerConnection, dc *webrtc.DataChannel) {
	if c.onFileChannel(pc, dc) {
		return
	}
	label := dc.Label()
	if label == protocol.ChannelInput {
		c.onRemoteChannel(dc)
		return
	}
	dc.OnMessage(func(m webrtc.DataChannelMessage) {
		c.mu.Lock()
		current := c.pc == pc
		c.stats.Bytes[label] += int64(len(m.Data))
		c.stats.BytesTotal += int64(len(m.Data))
		if label == protocol.ChannelScreen {
			c.extra.lastScreen = time.Now()
		}
		c.mu.Unlock()
		if !current {
			return
		}
		switch label {
		case protocol.ChannelScreen:
			if err := c.onScreen(m.Data); err != nil {
				c.addErr(err.Error())
			}
		case protocol.ChannelControl:
			c.onControl(pc, dc, m.Data)
		}
	})

	if label == protocol.ChannelControl {
		dc.OnOpen(func() {
			c.mu.Lock()
			c.control = dc
			c.lcChangedLocked()
			c.mu.Unlock()
			c.rc.opened()
			hello := protocol.Control{Type: protocol.CtlHello, Version: protocol.Version}
			if !c.cfg.SeparateFrameEnds {
				hello.Features = []string{protocol.FeatureFrameInRects}
			}
			b, _ := protocol.EncodeControl(hello)
			dc.SendText(string(b))
			c.attachFiles(pc, dc)
		})
	}
}

func (c *Client) onControl(pc *webrtc.PeerConnection, dc *webrtc.DataChannel, b []byte) {
	m, err := protocol.DecodeControl(b)
	if err != nil {
		c.addErr(err.Error())
		return
	}
	c.onRemote(m) // remote control and clipboard (input.go)
	switch m.Type {
	case protocol.CtlPong:
		rtt := float64(time.Since(c.start).Microseconds())/1000 - m.T
		if rtt >= 0 {
			c.mu.Lock()
			c.rtts = append(c.rtts, rtt)
			c.mu.Unlock()
		}
	case protocol.CtlError:
		c.addErr(m.Message)
	case protocol.CtlPing, protocol.CtlMonitors:
		c.onScreenControl(m)
	default:
		c.onLifecycle(m)
		c.fileControl(pc, dc, m)
	}
}

// onScreen applies one screen message to the picture. When one fails, the
// rep asks the agent to start over (resync.go) and drops the picture
// messages in flight until the agent's answer.
func (c *Client) onScreen(b []byte) error {
	ask, err := c.applyScreen(b)
	c.sendResync(ask)
	return err
}

func (c *Client) applyScreen(b []byte) (*protocol.Control, error) {
	m, err := protocol.DecodeScreen(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg.ScreenTap != nil && err == nil {
		if b = c.cfg.ScreenTap(b); b == nil {
			return nil, nil
		}
		m, err = protocol.DecodeScreen(b)
	}
	if err != nil {
		err = fmt.Errorf("rep: screen message: %w", err)
		if len(b) > 0 && (b[0] == protocol.ScreenRects || b[0] == protocol.ScreenRectsEnd) && c.screenOK {
			return c.brokenLocked(err), err // its rects are lost: the agent thinks we have them
		}
		return nil, err
	}
	switch m.Kind {
	case protocol.ScreenInfo:
		c.fb = image.NewRGBA(image.Rect(0, 0, m.Width, m.Height))
		for i := 3; i < len(c.fb.Pix); i += 4 {
			c.fb.Pix[i] = 0xff
		}
		c.frames = 0
		c.screenOK = true
		c.extra.dec.Reset()
		c.resync.waiting = false // everything restarts here, as at a ScreenResync
		c.stats.Width, c.stats.Height = m.Width, m.Height
	case protocol.ScreenResync:
		c.resyncedLocked(m.Serial)
	case protocol.ScreenRects, protocol.ScreenRectsEnd:
		if c.fb == nil {
			return nil, errors.New("rep: rectangles before the screen size")
		}
		if drop, ask := c.droppingLocked(); drop {
			return ask, nil
		}
		for i, r := range m.Rects {
			c.countRect(r)
			if err := c.extra.dec.Apply(c.fb, r); err != nil {
				err = fmt.Errorf("rep: rect %d of %d: %w", i, len(m.Rects), err)
				return c.brokenLocked(err), err
			}
		}
		c.stats.Tiles += int64(len(m.Rects))
		if m.Kind == protocol.ScreenRectsEnd {
			c.frameEndLocked(m)
		}
	case protocol.ScreenCursor, protocol.ScreenCursorShape, protocol.ScreenQuality:
		c.onScreenExtra(m)
	case protocol.ScreenFrameEnd:
		if !c.screenOK {
			return nil, nil
		}
		if drop, ask := c.droppingLocked(); drop {
			return ask, nil // the picture is not the agent's frame: no frame for WaitPicture
		}
		c.frameEndLocked(m)
	}
	return nil, nil
}

// frameEndLocked completes a frame (c.mu held).
func (c *Client) frameEndLocked(m protocol.ScreenMsg) {
	c.frames++
	c.extra.refining = m.Refining
	c.stats.Updates++
	close(c.frameCh)
	c.frameCh = make(chan struct{})
}

func (c *Client) pingLoop() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		c.mu.Lock()
		dc := c.control
		c.mu.Unlock()
		if dc == nil {
			continue
		}
		now := float64(time.Since(c.start).Microseconds()) / 1000
		b, _ := protocol.EncodeControl(protocol.Control{Type: protocol.CtlPing, T: now})
		dc.SendText(string(b))
	}
}

// Ping sends one ping now (the ping loop sends one a second).
func (c *Client) Ping() {
	c.mu.Lock()
	dc := c.control
	c.mu.Unlock()
	if dc != nil {
		now := float64(time.Since(c.start).Microseconds()) / 1000
		b, _ := protocol.EncodeControl(protocol.Control{Type: protocol.CtlPing, T: now})
		dc.SendText(string(b))
	}
}

// ErrEnded is returned by waits when the session ended; the reason is in the text.
var ErrEnded = errors.New("session ended")

// WaitFrame waits until the picture holds a complete frame newer than the
// call (or any complete frame, if after is false) and returns a copy.
func (c *Client) WaitFrame(ctx context.Context, fresh bool) (*image.RGBA, error) {
	c.mu.Lock()
	ch := c.frameCh
	have := c.frames > 0
	c.mu.Unlock()
	if !have || fresh {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("rep: no complete frame from the customer: %w", ctx.Err())
		case <-c.endedCh:
			return nil, fmt.Errorf("rep: %w: %s", ErrEnded, c.Reason())
		case <-ch:
		}
	}
	return c.Picture(), nil
}

// Picture returns a copy of the current picture (nil before the first screen size).
func (c *Client) Picture() *image.RGBA {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fb == nil {
		return nil
	}
	cp := image.NewRGBA(c.fb.Rect)
	copy(cp.Pix, c.fb.Pix)
	return cp
}

// State returns the session state and its reason as last reported.
func (c *Client) State() (string, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state, c.reason
}

// WaitState waits until the session is in state want.
func (c *Client) WaitState(ctx context.Context, want string) error {
	for {
		c.mu.Lock()
		st, reason, ch := c.state, c.reason, c.stateCh
		c.mu.Unlock()
		if st == want {
			return nil
		}
		if st == protocol.StateEnded {
			return fmt.Errorf("rep: %w: %s", ErrEnded, reason)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("rep: waiting for state %s (now %s): %w", want, st, ctx.Err())
		case <-ch:
		case <-c.endedCh:
		}
	}
}

// Reason returns why the session is in its state.
func (c *Client) Reason() string { _, r := c.State(); return r }

// Ended is closed when the session has ended.
func (c *Client) Ended() <-chan struct{} { return c.endedCh }

// Agent describes the customer's machine.
func (c *Client) Agent() protocol.AgentInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.agent
}

// Errors returns the errors seen so far (malformed messages, refusals).
func (c *Client) Errors() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.errs...)
}

// ResetStats starts measuring afresh.
func (c *Client) ResetStats() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats = Stats{Bytes: map[string]int64{}, Width: c.stats.Width, Height: c.stats.Height, Encodings: map[string]int64{}}
	c.rtts = nil
	c.extra.rects = nil
	c.start = time.Now()
}

// Stats returns what was measured since Attach or ResetStats.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Bytes = map[string]int64{}
	for k, v := range c.stats.Bytes {
		s.Bytes[k] = v
	}
	s.Encodings = map[string]int64{}
	for k, v := range c.stats.Encodings {
		s.Encodings[k] = v
	}
	s.Seconds = time.Since(c.start).Seconds()
	if s.Seconds > 0 {
		s.FPS = float64(s.Updates) / s.Seconds
	}
	if len(c.rtts) > 0 {
		r := append([]float64(nil), c.rtts...)
		sort.Float64s(r)
		s.RTTms = r[len(r)/2]
	}
	return s
}

// End ends the session for everyone.
func (c *Client) End(ctx context.Context, reason string) error {
	if err := c.conn.Send(ctx, protocol.Signal{Type: protocol.SigEnd, Reason: reason}); err != nil {
		return err
	}
	select {
	case <-c.endedCh:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("rep: waiting for the session to end: %w", ctx.Err())
	}
}

// Close detaches this rep connection; the session goes on.
func (c *Client) Close() error {
	c.mu.Lock()
	dc := c.control
	c.mu.Unlock()
	if dc != nil {
		b, _ := protocol.EncodeControl(protocol.Control{Type: protocol.CtlBye, Reason: "the rep detached"})
		dc.SendText(string(b))
	}
	c.conn.Close()
	c.cancel()
	c.wg.Wait()
	c.files.Close()
	c.closeTransport()
	return nil
}

func (c *Client) closeTransport() {
	c.mu.Lock()
	pc := c.pc
	c.pc = nil
	c.mu.Unlock()
	if pc != nil {
		pc.Close()
	}
	c.conn.CloseNow()
	c.api.Close()
}
