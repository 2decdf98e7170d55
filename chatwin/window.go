package chatwin

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"assist/internal/clock"
	"assist/protocol"
)

//go:embed web/*.html web/*.js web/*.css
var webFS embed.FS

// Prompt kinds: what a consent question is about.
const (
	KindView    = "view"
	KindControl = "control"
	KindFile    = "file"
	KindReboot  = "reboot"
	KindOther   = "other"
)

// Action kinds: what the customer did in the window.
const (
	ActChat    = "chat"    // Text is the line
	ActPause   = "pause"   // pause sharing
	ActUnpause = "unpause" // share again
	ActEnd     = "end"     // End session
	ActRevoke  = "revoke"  // take back remote control from every rep
	ActClosed  = "closed"  // every page closed and none came back within the grace
)

// Session states shown in the window.
const (
	StateConnecting   = "connecting"
	StateActive       = "active"
	StateReconnecting = "reconnecting"
	StateEnded        = "ended"
)

// Prompt is one consent question.
type Prompt struct {
	Kind     string `json:"kind"` // Kind* constant
	Question string `json:"question"`
}

// Action is something the customer did.
type Action struct {
	Kind string
	Text string
}

// Rep is one support technician's connection as the window shows it.
type Rep struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Connected   bool   `json:"connected"` // the connection to them is up
	Viewing     bool   `json:"viewing"`
	Controlling bool   `json:"controlling"`
}

// State is what the window shows about the session.
type State struct {
	Session  string `json:"session"`            // State* constant
	Message  string `json:"message,omitempty"`  // one line for people
	Deadline int64  `json:"deadline,omitempty"` // unix ms: when reconnecting gives up
	Reps     []Rep  `json:"reps"`
	Paused   bool   `json:"paused"`
	Code     string `json:"code,omitempty"`
}

// Config configures a Window.
type Config struct {
	// Grace is how long no page may be connected before the window counts
	// as closed (default 5 s): a reload reconnects well within it.
	Grace  time.Duration
	Clock  clock.Clock // nil: the wall clock
	Logger *slog.Logger
	// Files, when set, gives the page "Send a file to the technician…": a
	// picker that lists the customer's folders through the window and
	// offers the chosen files with Files.Offer (picker.go).
	Files Offerer
}

// Window is the running chat window server.
type Window struct {
	cfg     Config
	log     *slog.Logger
	token   string
	url     string
	ln      net.Listener
	srv     *http.Server
	actions chan Action
	root    fs.FS
	fsys    dirFS          // what the picker lists
	done    chan struct{}  // closed by Close
	wg      sync.WaitGroup // the HTTP server
	pages   sync.WaitGroup // page WebSocket handlers (hijacked: Shutdown does not wait for them)

	mu        sync.Mutex
	state     State
	history   []protocol.ChatLine
	prompts   []*pending
	nextID    int
	conns     map[*conn]struct{}
	connected bool // a page connected at least once
	closedSet bool // ActClosed was sent
	ended     string
	grace     clock.Timer
	transfers []Transfer // transfers.go
}

type pending struct {
	ID     int    `json:"id"`
	Kind   string `json:"kind"`
	Text   string `json:"question"`
	answer chan bool
}

// New starts the window's server on 127.0.0.1 at a random port.
func New(cfg Config) (*Window, error) {
	if cfg.Grace <= 0 {
		cfg.Grace = 5 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	root, err := fs.Sub(webFS, "web")
	if err != nil {
		return nil, fmt.Errorf("chatwin: %w", err)
	}
	tok := make([]byte, 24)
	if _, err := rand.Read(tok); err != nil {
		return nil, fmt.Errorf("chatwin: token: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("chatwin: listen on 127.0.0.1: %w", err)
	}
	w := &Window{
		cfg: cfg, log: cfg.Logger.With("component", "chatwin"), token: hex.EncodeToString(tok), ln: ln,
		actions: make(chan Action, 256), root: root, fsys: osFS{}, done: make(chan struct{}),
		conns: map[*conn]struct{}{}, state: State{Session: StateConnecting, Reps: []Rep{}},
	}
	w.url = fmt.Sprintf("http://%s/s/%s/", ln.Addr(), w.token)
	mux := http.NewServeMux()
	mux.HandleFunc("/s/{token}/{file...}", w.serve)
	w.srv = &http.Server{Handler: w.guard(mux), ReadHeaderTimeout: 10 * time.Second}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		if err := w.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			w.log.Error("chat window server stopped", "err", err)
		}
	}()
	return w, nil
}

// URL is the page's address, secret token included.
func (w *Window) URL() string { return w.url }

// Actions delivers what the customer does, in order.
func (w *Window) Actions() <-chan Action { return w.actions }

// guard refuses requests whose Host is not our own loopback address (DNS
// rebinding) and answers 404 to anything without the token.
func (w *Window) guard(h http.Handler) http.Handler {
	host := w.ln.Addr().String()
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Host != host {
			http.Error(rw, "wrong host", http.StatusMisdirectedRequest)
			return
		}
		h.ServeHTTP(rw, r)
	})
}

func (w *Window) serve(rw http.ResponseWriter, r *http.Request) {
	if subtle.ConstantTimeCompare([]byte(r.PathValue("token")), []byte(w.token)) != 1 {
		http.NotFound(rw, r)
		return
	}
	file := r.PathValue("file")
	if file == "ws" {
		w.serveWS(rw, r)
		return
	}
	if file == "" {
		file = "chat.html"
	}
	b, err := fs.ReadFile(w.root, file)
	if err != nil || strings.Contains(file, "/") {
		http.NotFound(rw, r)
		return
	}
	switch {
	case strings.HasSuffix(file, ".html"):
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	case strings.HasSuffix(file, ".js"):
		rw.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case strings.HasSuffix(file, ".css"):
		rw.Header().Set("Content-Type", "text/css; charset=utf-8")
	}
	rw.Header().Set("Cache-Control", "no-store")
	rw.Header().Set("Referrer-Policy", "no-referrer")
	rw.Header().Set("X-Frame-Options", "DENY")
	rw.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws://"+w.ln.Addr().String()+"; style-src 'self'; img-src 'self' data:")
	rw.Write(b)
}

// --- the page's WebSocket ---

// conn is one page's WebSocket; a writer goroutine drains out.
type conn struct {
	c    *websocket.Conn
	out  chan []byte
	once sync.Once
	gone chan struct{}
	pick picks // the page's file picker requests (pickerws.go)
}

func (c *conn) send(b []byte) {
	select {
	case c.out <- b:
	case <-c.gone:
	default:
		c.drop()
	}
}

func (c *conn) drop() { c.once.Do(func() { close(c.gone) }) }

// message is one WebSocket message either way.
type message struct {
	Type    string              `json:"type"`
	State   *State              `json:"state,omitempty"`
	Chat    *protocol.ChatLine  `json:"chat,omitempty"`
	History []protocol.ChatLine `json:"history,omitempty"`
	Prompts []*pending          `json:"prompts,omitempty"`
	Prompt  *pending            `json:"prompt,omitempty"`
	ID      int                 `json:"id,omitempty"`
	Allow   bool                `json:"allow,omitempty"`
	Text    string              `json:"text,omitempty"`
	Reason  string              `json:"reason,omitempty"`
	// Transfers: "transfers" and "hello" (transfers.go).
	Transfers []Transfer `json:"transfers,omitempty"`
	// The file picker (pickerws.go): "hello" says whether the page may
	// offer files; list_dir, dir, offer_files and offer_done carry the rest.
	Picker  bool     `json:"picker,omitempty"`
	Path    string   `json:"path,omitempty"`
	Names   []string `json:"names,omitempty"`
	Hidden  bool     `json:"hidden,omitempty"`
	Listing *Listing `json:"listing,omitempty"`
	Sent    int      `json:"sent,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// Heartbeat: the page sends something (a ping at least) every 2 s; a page
// silent for pageTimeout is taken as gone.
const pageTimeout = 15 * time.Second

func (w *Window) serveWS(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	select {
	case <-w.done:
		w.mu.Unlock()
		http.Error(rw, "closing", http.StatusServiceUnavailable)
		return
	default:
	}
	w.pages.Add(1)
	w.mu.Unlock()
	defer w.pages.Done()
	c, err := websocket.Accept(rw, r, nil) // same-origin only (the default)
	if err != nil {
		return
	}
	// Room for a chat line, or offer_files with MaxOfferFiles long names:
	// a larger message would close the page's connection.
	c.SetReadLimit(256 << 10)
	pc := &conn{c: c, out: make(chan []byte, 256), gone: make(chan struct{})}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()

	w.mu.Lock()
	if w.ended != "" {
		w.mu.Unlock()
		b, _ := json.Marshal(message{Type: "ended", Reason: w.ended, State: &State{Session: StateEnded, Reps: []Rep{}}})
		c.Write(ctx, websocket.MessageText, b)
		c.Close(websocket.StatusNormalClosure, "the session has ended")
		return
	}
	st := w.state
	hello, _ := json.Marshal(message{Type: "hello", State: &st, History: w.history, Prompts: w.prompts, Transfers: w.transfers, Picker: w.cfg.Files != nil})
	pc.out <- hello
	w.conns[pc] = struct{}{}
	w.connected = true
	if w.grace != nil {
		w.grace.Stop()
		w.grace = nil
	}
	w.mu.Unlock()
	w.log.Debug("chat page connected")

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // writer
		defer wg.Done()
		defer cancel()
		for {
			select {
			case b := <-pc.out:
				wctx, wc := context.WithTimeout(ctx, 10*time.Second)
				err := c.Write(wctx, websocket.MessageText, b)
				wc()
				if err != nil {
					return
				}
			case <-pc.gone:
				for {
					select {
					case b := <-pc.out:
						c.Write(ctx, websocket.MessageText, b)
						continue
					default:
					}
					break
				}
				c.Close(websocket.StatusNormalClosure, "")
				return
			case <-ctx.Done():
				return
			case <-w.done:
				c.Close(websocket.StatusGoingAway, "the assist program stopped")
				return
			}
		}
	}()
	for {
		rctx, rc := context.WithTimeout(ctx, pageTimeout)
		typ, b, err := c.Read(rctx)
		rc()
		if err != nil {
			break
		}
		if typ != websocket.MessageText {
			continue
		}
		var m message
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		w.fromPage(ctx, pc, m)
	}
	pc.drop()
	cancel()
	wg.Wait()
	pc.pick.wait()
	c.CloseNow()
	w.leave(pc)
}

// leave forgets a page; when it was the last, the grace period starts.
func (w *Window) leave(pc *conn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.conns, pc)
	w.log.Debug("chat page disconnected", "left", len(w.conns))
	if len(w.conns) > 0 || w.ended != "" || w.closedSet || w.grace != nil {
		return
	}
	w.grace = w.cfg.Clock.AfterFunc(w.cfg.Grace, func() {
		w.mu.Lock()
		fire := len(w.conns) == 0 && w.ended == "" && !w.closedSet
		if fire {
			w.closedSet = true
		}
		w.grace = nil
		w.mu.Unlock()
		if fire {
			w.act(Action{Kind: ActClosed})
		}
	})
}

func (w *Window) act(a Action) {
	select {
	case w.actions <- a:
	case <-w.done:
	}
}

// fromPage handles one message of the page pc; ctx ends with its connection.
func (w *Window) fromPage(ctx context.Context, pc *conn, m message) {
	switch m.Type {
	case "ping":
	case "chat":
		text := strings.TrimSpace(m.Text)
		if (protocol.ChatLine{Text: text}).Validate() == nil {
			w.act(Action{Kind: ActChat, Text: text})
		}
	case "answer":
		w.mu.Lock()
		var p *pending
		for i, q := range w.prompts {
			if q.ID == m.ID {
				p = q
				w.prompts = append(w.prompts[:i], w.prompts[i+1:]...)
				break
			}
		}
		w.mu.Unlock()
		if p != nil {
			p.answer <- m.Allow
			w.broadcast(message{Type: "prompt_done", ID: p.ID, Allow: m.Allow})
		}
	case "pause":
		w.act(Action{Kind: ActPause})
	case "unpause":
		w.act(Action{Kind: ActUnpause})
	case "end":
		w.act(Action{Kind: ActEnd})
	case "revoke":
		w.act(Action{Kind: ActRevoke})
	case ActCancelFile:
		if m.Text != "" && len(m.Text) <= 64 {
			w.act(Action{Kind: ActCancelFile, Text: m.Text})
		}
	case msgListDir, msgOfferFiles:
		w.picker(ctx, pc, m)
	}
}

func (w *Window) broadcast(m message) {
	b, err := json.Marshal(m)
	if err != nil {
		w.log.Error("encode", "err", err)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for c := range w.conns {
		c.send(b)
	}
}

// --- what the agent tells the window ---

// SetState shows the session's state.
func (w *Window) SetState(s State) {
	if s.Reps == nil {
		s.Reps = []Rep{}
	}
	w.mu.Lock()
	w.state = s
	w.mu.Unlock()
	w.broadcast(message{Type: "state", State: &s})
}

// AddChat shows one chat line.
func (w *Window) AddChat(l protocol.ChatLine) {
	w.mu.Lock()
	w.history = append(w.history, l)
	if len(w.history) > protocol.MaxHistory {
		w.history = w.history[len(w.history)-protocol.MaxHistory:]
	}
	w.mu.Unlock()
	w.broadcast(message{Type: "chat", Chat: &l})
}

// SetHistory replaces the chat shown (a resumed session's history).
func (w *Window) SetHistory(lines []protocol.ChatLine) {
	w.mu.Lock()
	w.history = append([]protocol.ChatLine(nil), lines...)
	w.mu.Unlock()
	w.broadcast(message{Type: "history", History: lines})
}

// Ask shows a consent prompt and waits for Allow (true) or Deny (false),
// or for ctx to end (then the prompt is withdrawn).
func (w *Window) Ask(ctx context.Context, p Prompt) (bool, error) {
	w.mu.Lock()
	if w.ended != "" {
		w.mu.Unlock()
		return false, errors.New("chatwin: the session has ended")
	}
	w.nextID++
	q := &pending{ID: w.nextID, Kind: p.Kind, Text: p.Question, answer: make(chan bool, 1)}
	if q.Kind == "" {
		q.Kind = KindOther
	}
	w.prompts = append(w.prompts, q)
	w.mu.Unlock()
	w.broadcast(message{Type: "prompt", Prompt: q})
	select {
	case ok := <-q.answer:
		return ok, nil
	case <-ctx.Done():
	case <-w.done:
	}
	w.mu.Lock()
	for i, x := range w.prompts {
		if x == q {
			w.prompts = append(w.prompts[:i], w.prompts[i+1:]...)
			break
		}
	}
	w.mu.Unlock()
	w.broadcast(message{Type: "prompt_done", ID: q.ID})
	select {
	case ok := <-q.answer: // answered in the meantime
		return ok, nil
	default:
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	return false, errors.New("chatwin: the window closed")
}

// End shows that the session ended and why; the pages stop, and closing
// them is no longer an action.
func (w *Window) End(reason string) {
	w.mu.Lock()
	if w.ended != "" {
		w.mu.Unlock()
		return
	}
	if reason == "" {
		reason = "the session ended"
	}
	w.ended = reason
	w.state = State{Session: StateEnded, Message: reason, Reps: []Rep{}}
	st := w.state
	if w.grace != nil {
		w.grace.Stop()
		w.grace = nil
	}
	conns := make([]*conn, 0, len(w.conns))
	for c := range w.conns {
		conns = append(conns, c)
	}
	w.mu.Unlock()
	w.broadcast(message{Type: "ended", Reason: reason, State: &st})
	for _, c := range conns {
		c.drop()
	}
}

// Connected reports how many pages are connected now.
func (w *Window) Connected() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.conns)
}

// Close stops the server and every page connection, and waits for them.
func (w *Window) Close() error {
	w.mu.Lock()
	select {
	case <-w.done:
		w.mu.Unlock()
		return nil
	default:
	}
	close(w.done)
	w.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := w.srv.Shutdown(ctx)
	w.mu.Lock()
	if w.grace != nil {
		w.grace.Stop()
		w.grace = nil
	}
	w.mu.Unlock()
	w.wg.Wait()
	w.pages.Wait()
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("chatwin: close: %w", err)
	}
	return nil
}
