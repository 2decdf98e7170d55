// Package sigclient is the client end of the support server's signalling
// WebSocket, shared by the agent and the Go rep client: dial, send and
// receive protocol.Signal messages.
package sigclient

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"assist/protocol"
)

// Conn is one signalling connection. Send may be called from several
// goroutines; Recv from one.
type Conn struct {
	c  *websocket.Conn
	mu sync.Mutex
}

// WebSocketURL turns the server's base URL (http://host:port or
// https://host) into the WebSocket URL of path.
func WebSocketURL(server, path string) (string, error) {
	if !strings.Contains(server, "://") {
		server = "http://" + server
	}
	u, err := url.Parse(server)
	if err != nil {
		return "", fmt.Errorf("server URL %q: %w", server, err)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("server URL %q: scheme must be http or https", server)
	}
	if u.Host == "" {
		return "", fmt.Errorf("server URL %q has no host", server)
	}
	u.Path = strings.TrimRight(u.Path, "/") + path
	return u.String(), nil
}

// Dial connects to the server's signalling endpoint path ("/ws/agent" or "/ws/rep").
func Dial(ctx context.Context, server, path string) (*Conn, error) {
	u, err := WebSocketURL(server, path)
	if err != nil {
		return nil, err
	}
	c, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", u, err)
	}
	c.SetReadLimit(protocol.MaxSignalSize)
	return &Conn{c: c}, nil
}

// Send writes one signal.
func (c *Conn) Send(ctx context.Context, s protocol.Signal) error {
	b, err := protocol.EncodeSignal(s)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.c.Write(ctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("signalling: send %s: %w", s.Type, err)
	}
	return nil
}

// ErrClosed is returned by Recv once the server closed the connection; the
// close reason, if any, is in the wrapped error's text.
var ErrClosed = errors.New("signalling connection closed")

// Recv reads the next signal. Malformed messages from the server are
// reported as errors wrapping protocol.ErrMalformed; the connection stays usable.
func (c *Conn) Recv(ctx context.Context) (protocol.Signal, error) {
	typ, b, err := c.c.Read(ctx)
	if err != nil {
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			if ce.Reason != "" {
				return protocol.Signal{}, fmt.Errorf("%w: %s", ErrClosed, ce.Reason)
			}
			return protocol.Signal{}, ErrClosed
		}
		return protocol.Signal{}, fmt.Errorf("signalling: %w", err)
	}
	if typ != websocket.MessageText {
		return protocol.Signal{}, fmt.Errorf("%w: binary signalling message", protocol.ErrMalformed)
	}
	return protocol.DecodeSignal(b)
}

// Close closes the connection.
func (c *Conn) Close() error {
	return c.c.Close(websocket.StatusNormalClosure, "")
}

// CloseNow drops the connection without the closing handshake.
func (c *Conn) CloseNow() error { return c.c.CloseNow() }
