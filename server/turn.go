package server

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/turn/v5"

	"assist/internal/pionlog"
	"assist/protocol"
)

// TURNConfig enables the built-in TURN relay, for customers and reps whose
// networks block direct and UDP paths: TURN over TCP on the server's own port
// (8200 by default) is then enough.
type TURNConfig struct {
	// Host is the name or address clients reach the server at (it goes into
	// the turn: URLs handed to both peers).
	Host string
	// Port is the server's port (TCP, and UDP when UDP is set).
	Port int
	// RelayIP is the address relayed traffic leaves from and peers send to;
	// it must be reachable by both peers' TURN allocations (the server's own
	// address).
	RelayIP net.IP
	// UDP, when set, also serves TURN over UDP on this socket.
	UDP net.PacketConn
	// CredentialTTL bounds how long handed-out credentials work (default 24 h).
	CredentialTTL time.Duration
}

const turnRealm = "assist"

// turnRelay is the running relay.
type turnRelay struct {
	cfg    TURNConfig
	secret []byte
	srv    *turn.Server
	tcp    *chanListener
}

// startTURN starts the relay. TCP connections arrive through the listener
// that SplitListener separates from HTTP.
func (s *Server) startTURN(cfg TURNConfig) error {
	if cfg.CredentialTTL == 0 {
		cfg.CredentialTTL = 24 * time.Hour
	}
	if cfg.RelayIP == nil {
		return errors.New("server: TURN needs a relay IP")
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return fmt.Errorf("server: TURN secret: %w", err)
	}
	t := &turnRelay{cfg: cfg, secret: secret, tcp: newChanListener(&net.TCPAddr{IP: cfg.RelayIP, Port: cfg.Port})}
	gen := func() turn.RelayAddressGenerator {
		return &turn.RelayAddressGeneratorStatic{RelayAddress: cfg.RelayIP, Address: cfg.RelayIP.String()}
	}
	sc := turn.ServerConfig{
		Realm:         turnRealm,
		AuthHandler:   s.turnAuth(t),
		LoggerFactory: pionlog.Factory{Log: s.log.With("component", "turn")},
		ListenerConfigs: []turn.ListenerConfig{{
			Listener: t.tcp, RelayAddressGenerator: gen(),
		}},
	}
	if cfg.UDP != nil {
		sc.PacketConnConfigs = []turn.PacketConnConfig{{PacketConn: cfg.UDP, RelayAddressGenerator: gen()}}
	}
	srv, err := turn.NewServer(sc)
	if err != nil {
		return fmt.Errorf("server: TURN: %w", err)
	}
	t.srv = srv
	s.turn = t
	return nil
}

// turnAuth accepts time-limited credentials of a live session:
// username "expiry:session", password base64(HMAC-SHA1(secret, username)).
func (s *Server) turnAuth(t *turnRelay) turn.AuthHandler {
	return func(ra *turn.RequestAttributes) (string, []byte, bool) {
		exp, session, ok := strings.Cut(ra.Username, ":")
		if !ok {
			return "", nil, false
		}
		sec, err := strconv.ParseInt(exp, 10, 64)
		if err != nil || s.cfg.Clock.Now().Unix() > sec {
			return "", nil, false
		}
		if !s.reg.live(session) {
			return "", nil, false
		}
		return ra.Username, turn.GenerateAuthKey(ra.Username, ra.Realm, t.password(ra.Username)), true
	}
}

func (t *turnRelay) password(username string) string {
	mac := hmac.New(sha1.New, t.secret)
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// iceServers returns the relay's URLs with credentials for one session.
func (t *turnRelay) iceServers(session string, now time.Time) []protocol.ICEServer {
	user := strconv.FormatInt(now.Add(t.cfg.CredentialTTL).Unix(), 10) + ":" + session
	hostport := net.JoinHostPort(t.cfg.Host, strconv.Itoa(t.cfg.Port))
	urls := []string{"turn:" + hostport + "?transport=tcp"}
	if t.cfg.UDP != nil {
		urls = append([]string{"turn:" + hostport + "?transport=udp"}, urls...)
	}
	return []protocol.ICEServer{{URLs: urls, Username: user, Credential: t.password(user)}}
}

func (t *turnRelay) close() {
	if t.srv != nil {
		t.srv.Close()
	}
}

// SplitListener separates the TCP connections of one port: TURN (whose
// first byte is a STUN message type, 0x00 or 0x01) goes to the relay, the
// rest (HTTP, WebSocket) is returned for the HTTP server. Without a relay
// it returns ln itself.
func (s *Server) SplitListener(ln net.Listener) net.Listener {
	if s.turn == nil {
		return ln
	}
	httpLn := newChanListener(ln.Addr())
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer httpLn.Close()
		defer s.turn.tcp.Close()
		for {
			c, err := ln.Accept()
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					continue
				}
				return
			}
			go s.route(c, httpLn)
		}
	}()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		<-s.ctx.Done()
		ln.Close()
	}()
	return httpLn
}

const sniffTimeout = 10 * time.Second

// route peeks at a connection's first byte and hands it on.
func (s *Server) route(c net.Conn, httpLn *chanListener) {
	c.SetReadDeadline(time.Now().Add(sniffTimeout))
	br := bufio.NewReaderSize(c, 4096)
	first, err := br.Peek(1)
	c.SetReadDeadline(time.Time{})
	if err != nil {
		c.Close()
		return
	}
	pc := &peekedConn{Conn: c, r: br}
	if first[0] <= 0x01 {
		s.turn.tcp.deliver(pc)
		return
	}
	httpLn.deliver(pc)
}

type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *peekedConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// chanListener is a net.Listener fed by deliver.
type chanListener struct {
	addr   net.Addr
	conns  chan net.Conn
	done   chan struct{}
	closer sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) deliver(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.closer.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }
