package server

import (
	"context"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"assist/internal/clock"
	"assist/protocol"
)

// The pages and their modules; the node tests beside them (*_test.mjs) stay out.
//
//go:embed web/*.html web/*.js web/*.css
var webFS embed.FS

// Config configures a Server.
type Config struct {
	// RepToken authenticates reps (required).
	RepToken string
	// PublicURL is the URL customers and agents reach the server at; empty
	// means derived from each request's Host.
	PublicURL string
	// Downloads is a directory of agent binaries named assist-<os>-<arch>[.exe]
	// offered on the support page; empty means none.
	Downloads string
	// ICEServers are handed to both peers of every session.
	ICEServers []protocol.ICEServer
	// TURN, when set, runs the built-in relay; every session's peers get
	// their own time-limited credentials for it.
	TURN *TURNConfig
	// CodeTTL is how long a code may wait for an agent (default 10 minutes).
	CodeTTL time.Duration
	// ReconnectWindow is how long a dropped agent may take to come back
	// (default 10 minutes).
	ReconnectWindow time.Duration
	// StateFile, when set, keeps the sessions across a restart of the
	// server (persist.go); empty keeps them in memory only.
	StateFile string
	// Version is shown by /api/info.
	Version string
	Clock   clock.Clock
	Logger  *slog.Logger
}

// Server is the support server. Its Handler serves everything on one port.
type Server struct {
	cfg     Config
	log     *slog.Logger
	reg     *Registry
	joins   *limiter // agent joins and resumes per address
	auth    *limiter // failed rep authentications per address
	mux     *http.ServeMux
	wg      sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc
	webRoot fs.FS
	turn    *turnRelay
}

// New returns a server for cfg. Close stops its connections.
func New(cfg Config) (*Server, error) {
	if cfg.RepToken == "" {
		return nil, errors.New("server: a rep token is required")
	}
	if cfg.CodeTTL == 0 {
		cfg.CodeTTL = 10 * time.Minute
	}
	if cfg.ReconnectWindow == 0 {
		cfg.ReconnectWindow = 10 * time.Minute
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	root, err := fs.Sub(webFS, "web")
	if err != nil {
		return nil, fmt.Errorf("server: web assets: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "server"),
		joins:   newLimiter(cfg.Clock, 10, 6*time.Second),
		auth:    newLimiter(cfg.Clock, 10, 6*time.Second),
		mux:     http.NewServeMux(),
		ctx:     ctx,
		cancel:  cancel,
		webRoot: root,
	}
	if cfg.TURN != nil {
		if err := s.startTURN(*cfg.TURN); err != nil {
			cancel()
			return nil, err
		}
	}
	s.reg = NewRegistry(cfg.Clock, cfg.CodeTTL, cfg.ReconnectWindow, s.iceServers)
	if cfg.StateFile != "" {
		if err := s.reg.UseStateFile(cfg.StateFile, cfg.Logger); err != nil {
			s.Close()
			return nil, err
		}
	}
	s.routes()
	return s, nil
}

// iceServers are the STUN/TURN servers for one session's peers.
func (s *Server) iceServers(session string) []protocol.ICEServer {
	out := append([]protocol.ICEServer(nil), s.cfg.ICEServers...)
	if s.turn != nil {
		out = append(out, s.turn.iceServers(session, s.cfg.Clock.Now())...)
	}
	return out
}

// Registry exposes the session registry (for tests and the command line).
func (s *Server) Registry() *Registry { return s.reg }

// Handler returns the HTTP handler for everything the server offers.
func (s *Server) Handler() http.Handler { return s.mux }

// Close disconnects every WebSocket, stops the relay and waits for their
// goroutines.
func (s *Server) Close() error {
	s.cancel()
	if s.turn != nil {
		s.turn.close()
	}
	s.wg.Wait()
	s.reg.closePersist()
	return nil
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /{$}", s.page("index.html"))
	s.mux.HandleFunc("GET /console", s.page("console.html"))
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(s.webRoot)))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "ok")
	})
	s.mux.HandleFunc("GET /api/info", s.info)
	s.mux.HandleFunc("GET /download/{name}", s.download)
	s.mux.HandleFunc("POST /api/sessions", s.repOnly(s.createSession))
	s.mux.HandleFunc("GET /api/sessions", s.repOnly(s.listSessions))
	s.mux.HandleFunc("DELETE /api/sessions/{code}", s.repOnly(s.endSession))
	s.mux.HandleFunc("GET /ws/agent", s.agentWS)
	s.mux.HandleFunc("GET /ws/rep", s.repWS)
}

func (s *Server) page(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := fs.ReadFile(s.webRoot, name)
		if err != nil {
			http.Error(w, "page missing", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob: data:; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Write(b)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"error": code, "message": msg})
}

// remoteAddr is the client's IP address, the key for rate limits.
func remoteAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) tokenOK(tok string) bool {
	return subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.RepToken)) == 1
}

func (s *Server) repOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !s.tokenOK(tok) {
			if !s.auth.allow(remoteAddr(r)) {
				writeError(w, http.StatusTooManyRequests, protocol.CodeRateLimited, "too many failed logins from this address; wait a minute")
				return
			}
			writeError(w, http.StatusUnauthorized, protocol.CodeUnauthorized, "wrong or missing rep token")
			return
		}
		h(w, r)
	}
}

func (s *Server) createSession(w http.ResponseWriter, r *http.Request) {
	in, err := s.reg.Create()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, protocol.CodeInternal, err.Error())
		return
	}
	s.log.Info("session created", "session", in.Session)
	writeJSON(w, http.StatusCreated, in)
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.reg.List())
}

func (s *Server) endSession(w http.ResponseWriter, r *http.Request) {
	code := protocol.NormalizeCode(r.PathValue("code"))
	if err := s.reg.End(code, "", "the support rep ended the session"); err != nil {
		writeError(w, http.StatusNotFound, errorCode(err), err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

var downloadName = regexp.MustCompile(`^assist-(linux|windows|darwin)-(amd64|arm64|386)(\.exe)?$`)

type download struct {
	OS   string `json:"os"`
	Arch string `json:"arch"`
	Name string `json:"name"`
	URL  string `json:"url"`
	Size int64  `json:"size"`
}

func (s *Server) downloads() []download {
	out := []download{}
	if s.cfg.Downloads == "" {
		return out
	}
	ents, err := os.ReadDir(s.cfg.Downloads)
	if err != nil {
		s.log.Warn("downloads directory", "err", err)
		return out
	}
	for _, e := range ents {
		m := downloadName.FindStringSubmatch(e.Name())
		if m == nil || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		out = append(out, download{OS: m[1], Arch: m[2], Name: e.Name(), URL: "/download/" + e.Name(), Size: fi.Size()})
	}
	return out
}

func (s *Server) publicURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"version":    s.cfg.Version,
		"protocol":   protocol.Version,
		"downloads":  s.downloads(),
		"server_url": s.publicURL(r),
	})
}

func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if s.cfg.Downloads == "" || !downloadName.MatchString(name) {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	http.ServeFile(w, r, filepath.Join(s.cfg.Downloads, name))
}

// accept upgrades a signalling WebSocket and starts its writer. The returned
// function closes the peer and waits for the writer.
func (s *Server) accept(w http.ResponseWriter, r *http.Request, role string) (*wsPeer, func(), bool) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		s.log.Debug("websocket accept", "role", role, "err", err)
		return nil, nil, false
	}
	c.SetReadLimit(protocol.MaxSignalSize)
	p := newPeer(c, s.log.With("role", role, "addr", remoteAddr(r)))
	done := make(chan struct{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(done)
		p.run(s.ctx)
	}()
	return p, func() {
		p.close("connection closed")
		<-done
	}, true
}

// readSignal reads and decodes one message. A malformed message is answered
// with an error and reported as ok=false with a nil error; a read failure
// ends the connection.
func (s *Server) readSignal(ctx context.Context, p *wsPeer) (protocol.Signal, bool, error) {
	typ, b, err := p.c.Read(ctx)
	if err != nil {
		return protocol.Signal{}, false, err
	}
	if typ != websocket.MessageText {
		p.send(protocol.Errorf(protocol.CodeMalformed, "signalling messages are JSON text"))
		return protocol.Signal{}, false, nil
	}
	sig, err := protocol.DecodeSignal(b)
	if err != nil {
		code := protocol.CodeMalformed
		p.send(protocol.Errorf(code, "%v", err))
		return protocol.Signal{}, false, nil
	}
	return sig, true, nil
}

const helloTimeout = 15 * time.Second

// firstSignal waits for the first valid message of a connection.
func (s *Server) firstSignal(ctx context.Context, p *wsPeer) (protocol.Signal, error) {
	ctx, cancel := context.WithTimeout(ctx, helloTimeout)
	defer cancel()
	for {
		sig, ok, err := s.readSignal(ctx, p)
		if err != nil {
			return sig, err
		}
		if ok {
			return sig, nil
		}
	}
}

func (s *Server) agentWS(w http.ResponseWriter, r *http.Request) {
	p, done, ok := s.accept(w, r, "agent")
	if !ok {
		return
	}
	defer done()
	ctx := r.Context()
	addr := remoteAddr(r)
	var id string
	for id == "" {
		sig, err := s.firstSignal(ctx, p)
		if err != nil {
			return
		}
		if sig.Version != 0 && sig.Version != protocol.Version {
			p.send(protocol.Errorf(protocol.CodeVersion, "this server speaks protocol version %d, the agent %d: download the agent again from the support page", protocol.Version, sig.Version))
			return
		}
		if sig.Type != protocol.SigJoin && sig.Type != protocol.SigResume {
			p.send(protocol.Errorf(protocol.CodeMalformed, "the first message must be join or resume, not %s", sig.Type))
			continue
		}
		if !s.joins.allow(addr) {
			p.send(protocol.Errorf(protocol.CodeRateLimited, "too many attempts from this address; wait a minute and try again"))
			return
		}
		var err2 error
		if sig.Type == protocol.SigJoin {
			info := protocol.AgentInfo{}
			if sig.Agent != nil {
				info = *sig.Agent
			}
			id, err2 = s.reg.Join(sig.Code, p, info)
		} else {
			err2 = s.reg.Resume(sig.Session, sig.Secret, p)
			if err2 == nil {
				id = sig.Session
			}
		}
		if err2 != nil {
			s.log.Info("agent refused", "type", sig.Type, "addr", addr, "err", err2)
			p.send(protocol.Errorf(errorCode(err2), "%v", err2))
			continue
		}
		s.log.Info("agent connected", "session", id, "how", sig.Type)
	}
	defer s.reg.AgentGone(id, p)
	for {
		sig, ok, err := s.readSignal(ctx, p)
		if err != nil {
			s.log.Info("agent disconnected", "session", id, "err", err)
			return
		}
		if !ok {
			continue
		}
		switch sig.Type {
		case protocol.SigOffer, protocol.SigCandidate:
			if err := s.reg.ToRep(id, p, sig); err != nil {
				p.send(protocol.Errorf(protocol.CodeNoPeer, "%v", err))
			}
		case protocol.SigEnd:
			reason := sig.Reason
			if reason == "" {
				reason = "the customer ended the session"
			}
			s.reg.End("", id, reason)
			return
		default:
			p.send(protocol.Errorf(protocol.CodeMalformed, "an agent may not send %s", sig.Type))
		}
	}
}

func (s *Server) repWS(w http.ResponseWriter, r *http.Request) {
	p, done, ok := s.accept(w, r, "rep")
	if !ok {
		return
	}
	defer done()
	ctx := r.Context()
	addr := remoteAddr(r)
	var id, rep string
	for id == "" {
		sig, err := s.firstSignal(ctx, p)
		if err != nil {
			return
		}
		if sig.Type != protocol.SigAttach {
			p.send(protocol.Errorf(protocol.CodeMalformed, "the first message must be attach, not %s", sig.Type))
			continue
		}
		if !s.tokenOK(sig.Token) {
			if !s.auth.allow(addr) {
				p.send(protocol.Errorf(protocol.CodeRateLimited, "too many failed logins from this address; wait a minute"))
				return
			}
			p.send(protocol.Errorf(protocol.CodeUnauthorized, "wrong rep token"))
			continue
		}
		att, err := s.reg.Attach(protocol.NormalizeCode(sig.Code), sig.Session, p)
		if err != nil {
			p.send(protocol.Errorf(errorCode(err), "%v", err))
			continue
		}
		id, rep = att.Session, att.Rep
		s.log.Info("rep attached", "session", id, "rep", rep)
	}
	defer s.reg.Detach(id, rep)
	for {
		sig, ok, err := s.readSignal(ctx, p)
		if err != nil {
			s.log.Info("rep detached", "session", id, "rep", rep)
			return
		}
		if !ok {
			continue
		}
		switch sig.Type {
		case protocol.SigAnswer, protocol.SigCandidate:
			if err := s.reg.ToAgent(id, rep, sig); err != nil {
				p.send(protocol.Errorf(protocol.CodeNoPeer, "%v", err))
			}
		case protocol.SigEnd:
			reason := sig.Reason
			if reason == "" {
				reason = "the support rep ended the session"
			}
			s.reg.End("", id, reason)
			return
		default:
			p.send(protocol.Errorf(protocol.CodeMalformed, "a rep may not send %s", sig.Type))
		}
	}
}
