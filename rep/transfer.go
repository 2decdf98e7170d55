package rep

import (
	"context"
	"fmt"
	"strings"

	"github.com/pion/webrtc/v4"

	"assist/internal/peerconn"
	"assist/protocol"
	"assist/transfer"
)

// The agent is the rep connection's only peer.
const agentPeer = "agent"

func (c *Client) startFiles() {
	c.hello = make(chan struct{})
	cfg := transfer.Config{Session: c.Session, Logger: c.cfg.Logger}
	if c.cfg.Downloads != "" {
		cfg.Dir = c.cfg.Downloads
		cfg.AskOffer = func(context.Context, transfer.Offer) (bool, error) { return true, nil }
	}
	c.files = transfer.NewManager(cfg)
}

// fileLink is the current PeerConnection as the transfer manager sees it.
type fileLink struct {
	c       *Client
	pc      *webrtc.PeerConnection
	control *webrtc.DataChannel
}

func (l *fileLink) SendControl(m protocol.Control) error {
	b, err := protocol.EncodeControl(m)
	if err != nil {
		return err
	}
	return l.control.SendText(string(b))
}

func (l *fileLink) OpenChannel(ctx context.Context, label string) (transfer.Channel, error) {
	dc, err := peerconn.OpenDataChannel(ctx, l.pc, label)
	if err != nil {
		return nil, err
	}
	return dc, nil
}

// Room: the rep sends no screen; keep the control channel (pings, input
// answers) from queueing behind file chunks.
func (l *fileLink) Room() bool { return l.control.BufferedAmount() < 64<<10 }

func (c *Client) attachFiles(pc *webrtc.PeerConnection, control *webrtc.DataChannel) {
	c.mu.Lock()
	if c.link == nil || c.link.pc != pc {
		c.link = &fileLink{c: c, pc: pc, control: control}
	}
	l := c.link
	c.mu.Unlock()
	c.files.Attach(agentPeer, l)
	c.mu.Lock()
	select {
	case <-c.hello:
	default:
		close(c.hello)
	}
	c.mu.Unlock()
}

// detachFiles: the PeerConnection is being replaced.
func (c *Client) detachFiles() {
	c.files.Detach(agentPeer, nil)
	c.mu.Lock()
	c.link = nil
	select {
	case <-c.hello:
		c.hello = make(chan struct{})
	default:
	}
	c.mu.Unlock()
}

// fileControl routes the file_* control messages; false for other types.
func (c *Client) fileControl(pc *webrtc.PeerConnection, control *webrtc.DataChannel, m protocol.Control) bool {
	if !strings.HasPrefix(m.Type, "file_") {
		return false
	}
	c.attachFiles(pc, control) // a message can come before the open callback ran
	c.files.HandleControl(agentPeer, m)
	return true
}

func (c *Client) onFileChannel(pc *webrtc.PeerConnection, dc *webrtc.DataChannel) bool {
	id, ok := protocol.ParseFileChannelLabel(dc.Label())
	if !ok {
		return false
	}
	c.mu.Lock()
	current := c.pc == pc
	c.mu.Unlock()
	if !current {
		dc.Close()
		return true
	}
	c.files.HandleChannel(agentPeer, id, peerconn.DataChannel{DataChannel: dc})
	return true
}

// waitControl waits until the control channel to the agent is open.
func (c *Client) waitControl(ctx context.Context) error {
	c.mu.Lock()
	ch := c.hello
	c.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-c.endedCh:
		return fmt.Errorf("rep: %w: %s", ErrEnded, c.Reason())
	case <-ctx.Done():
		return fmt.Errorf("rep: the customer's agent did not connect: %w", ctx.Err())
	}
}

// Push sends the local file at path to the customer as name (its base
// name when empty). The customer is asked; the transfer survives dropped
// links and agent restarts within the session. Wait on the result.
func (c *Client) Push(ctx context.Context, path, name string) (*transfer.Transfer, error) {
	if err := c.waitControl(ctx); err != nil {
		return nil, err
	}
	return c.files.Send(agentPeer, path, name)
}

// Pull asks the customer for the file at remotePath and saves it per dest
// (a folder and, optionally, an exact name). The customer is asked.
func (c *Client) Pull(ctx context.Context, remotePath string, dest transfer.Dest) (*transfer.Transfer, error) {
	if err := c.waitControl(ctx); err != nil {
		return nil, err
	}
	return c.files.Pull(agentPeer, remotePath, dest)
}

// Transfers lists this connection's transfers.
func (c *Client) Transfers() []transfer.Status { return c.files.List() }
