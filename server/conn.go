package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/coder/websocket"

	"assist/protocol"
)

// wsPeer is one signalling WebSocket. Sends are queued and written by the
// connection's own writer goroutine, so the registry never blocks on a slow
// client; a client that falls too far behind is disconnected.
type wsPeer struct {
	c      *websocket.Conn
	log    *slog.Logger
	out    chan []byte
	closed chan struct{} // closed when the peer must go away
	once   sync.Once
	mu     sync.Mutex
	reason string
}

const (
	sendQueue    = 256
	writeTimeout = 10 * time.Second
	pingInterval = 15 * time.Second
)

func newPeer(c *websocket.Conn, log *slog.Logger) *wsPeer {
	return &wsPeer{c: c, log: log, out: make(chan []byte, sendQueue), closed: make(chan struct{})}
}

func (p *wsPeer) send(s protocol.Signal) {
	b, err := protocol.EncodeSignal(s)
	if err != nil {
		p.log.Error("encode signal", "type", s.Type, "err", err)
		return
	}
	select {
	case <-p.closed:
	case p.out <- b:
	default:
		p.close("signalling connection too slow")
	}
}

// close asks the writer to flush what is queued and close the socket.
func (p *wsPeer) close(reason string) {
	p.once.Do(func() {
		p.mu.Lock()
		p.reason = reason
		p.mu.Unlock()
		close(p.closed)
	})
}

// run writes queued messages and pings the client until ctx ends or close
// is called; then it drains the queue and closes the socket. It returns when
// the socket is closed.
func (p *wsPeer) run(ctx context.Context) {
	ping := time.NewTicker(pingInterval)
	defer ping.Stop()
	write := func(b []byte) bool {
		wctx, cancel := context.WithTimeout(ctx, writeTimeout)
		defer cancel()
		if err := p.c.Write(wctx, websocket.MessageText, b); err != nil {
			p.log.Debug("signalling write failed", "err", err)
			return false
		}
		return true
	}
	for {
		select {
		case <-ctx.Done():
			p.c.Close(websocket.StatusGoingAway, "server shutting down")
			return
		case b := <-p.out:
			if !write(b) {
				p.c.CloseNow()
				p.close("write failed")
				return
			}
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, writeTimeout)
			err := p.c.Ping(pctx)
			cancel()
			if err != nil {
				p.log.Debug("signalling ping failed", "err", err)
				p.c.CloseNow()
				p.close("no answer to ping")
				return
			}
		case <-p.closed:
			for {
				select {
				case b := <-p.out:
					if !write(b) {
						p.c.CloseNow()
						return
					}
					continue
				default:
				}
				break
			}
			p.mu.Lock()
			reason := p.reason
			p.mu.Unlock()
			if len(reason) > 120 {
				reason = reason[:120]
			}
			p.c.Close(websocket.StatusNormalClosure, reason)
			return
		}
	}
}
