package rep

import (
	"fmt"
	"strings"
	"time"

	"assist/protocol"
)

// resyncRetry is how long the rep waits for the agent's ScreenResync before
// it asks again (the request may have been lost with a closing channel).
const resyncRetry = 3 * time.Second

// resyncState is the rep's side of screen resynchronisation
// (protocol/resync.go). Guarded by c.mu.
type resyncState struct {
	serial   uint32    // the latest request's serial
	waiting  bool      // since a failure: rects and frame ends are dropped until the agent restarts
	askedAt  time.Time // when the latest request went out
	answered uint32    // the serial of the last ScreenResync received
}

// brokenLocked notes that applying a screen message failed: from now on the
// picture, the deflate stream and the tile cache may differ from what the
// agent believes, so every message up to the agent's ScreenResync is
// dropped. It returns the request to send (after c.mu is released), or
// nil when one is already on its way.
func (c *Client) brokenLocked(cause error) *protocol.Control {
	if c.resync.waiting && time.Since(c.resync.askedAt) < resyncRetry {
		return nil
	}
	c.resync.waiting = true
	return c.nextResyncLocked(cause.Error())
}

// nextResyncLocked counts a new request and returns it.
func (c *Client) nextResyncLocked(reason string) *protocol.Control {
	c.resync.serial++
	if c.resync.serial == 0 { // wrapped: serials start at 1
		c.resync.serial = 1
	}
	c.resync.askedAt = time.Now()
	c.stats.ResyncRequests++
	if len(reason) > 512 {
		reason = strings.ToValidUTF8(reason[:512], "") // a cut rune must not make the message invalid
	}
	return &protocol.Control{Type: protocol.CtlScreenResync, Serial: c.resync.serial, Reason: reason}
}

// droppingLocked reports whether a picture message must be dropped because
// a resync is due; when the request has gone unanswered for resyncRetry it
// also returns a new one to send.
func (c *Client) droppingLocked() (bool, *protocol.Control) {
	if !c.resync.waiting {
		return false, nil
	}
	if time.Since(c.resync.askedAt) >= resyncRetry {
		return true, c.nextResyncLocked("no answer to the previous request")
	}
	return true, nil
}

// resyncedLocked applies the agent's ScreenResync: its fresh deflate stream
// and empty tile cache start here; the picture stays until the whole new one
// has arrived.
func (c *Client) resyncedLocked(serial uint32) {
	c.extra.dec.Reset()
	c.resync.waiting = false
	c.resync.answered = serial
	c.stats.Resyncs++
	c.extraChanged()
}

// sendResync sends a resync request (c.mu not held). A request that cannot
// go out now is asked again after resyncRetry.
func (c *Client) sendResync(m *protocol.Control) {
	if m == nil {
		return
	}
	if err := c.sendControlNow(*m); err != nil {
		c.log.Debug("screen resync request", "serial", m.Serial, "err", err)
		return
	}
	c.log.Info("asked the agent for the whole picture again", "serial", m.Serial, "reason", m.Reason)
}

// RequestResync asks the agent to send the whole picture again, with a
// fresh deflate stream and tile cache. The rep does it by itself when a
// screen message fails; this is for an explicit refresh (and tests).
func (c *Client) RequestResync(reason string) error {
	c.mu.Lock()
	m := c.nextResyncLocked(reason)
	c.mu.Unlock()
	if err := c.sendControlNow(*m); err != nil {
		return fmt.Errorf("rep: screen resync: %w", err)
	}
	return nil
}

// ResyncSerials returns the serial of the latest resync request and of the
// latest ScreenResync the agent answered with (0: none yet).
func (c *Client) ResyncSerials() (asked, answered uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resync.serial, c.resync.answered
}
