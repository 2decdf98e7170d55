package rep

import (
	"context"
	"fmt"
	"image"
	"time"

	"assist/protocol"
)

// screenExtra is what the rep knows beyond the picture's pixels.
type screenExtra struct {
	cursor     Cursor
	quality    protocol.Quality
	monitors   []protocol.MonitorInfo
	monitor    int
	refining   bool      // the last frame end announced refinement
	lastScreen time.Time // when the last screen-channel message arrived
	dec        protocol.Decoder
	rects      []RectInfo    // since ResetStats, at most maxRectLog
	changed    chan struct{} // closed and replaced when cursor, quality or monitors change
}

// RectInfo is one rectangle received: where, and how it was encoded.
type RectInfo struct {
	Rect image.Rectangle
	Enc  byte
	Size int // bytes in the message
}

const maxRectLog = 4096

// Cursor is the customer's pointer as the agent reported it.
type Cursor struct {
	Visible bool
	X, Y    int // the hotspot on the picture
	Hot     image.Point
	Shape   *image.NRGBA // nil until the agent sent one
}

// extraChanged wakes WaitScreenState (c.mu held).
func (c *Client) extraChanged() {
	if c.extra.changed != nil {
		close(c.extra.changed)
	}
	c.extra.changed = make(chan struct{})
}

// WaitScreenState waits until ok (which may call Cursor, Quality and
// Monitors) holds: checked now and after every change of those.
func (c *Client) WaitScreenState(ctx context.Context, ok func() bool) error {
	for {
		c.mu.Lock()
		if c.extra.changed == nil {
			c.extra.changed = make(chan struct{})
		}
		ch := c.extra.changed
		c.mu.Unlock()
		if ok() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("rep: waiting for the screen state: %w", ctx.Err())
		case <-c.endedCh:
			return fmt.Errorf("rep: %w: %s", ErrEnded, c.Reason())
		case <-ch:
		}
	}
}

func (c *Client) onScreenExtra(m protocol.ScreenMsg) {
	defer c.extraChanged()
	switch m.Kind {
	case protocol.ScreenCursor:
		c.extra.cursor.Visible, c.extra.cursor.X, c.extra.cursor.Y = m.Cursor.Visible, m.Cursor.X, m.Cursor.Y
	case protocol.ScreenCursorShape:
		img, err := m.Cursor.CursorImage()
		if err != nil {
			c.errs = append(c.errs, err.Error())
			return
		}
		c.extra.cursor.Shape, c.extra.cursor.Hot = img, image.Pt(m.Cursor.HotX, m.Cursor.HotY)
	case protocol.ScreenQuality:
		c.extra.quality = m.Quality
	}
}

// onScreenControl answers the agent's pings and records its monitors.
func (c *Client) onScreenControl(m protocol.Control) {
	switch m.Type {
	case protocol.CtlPing:
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.sendControl(ctx, protocol.Control{Type: protocol.CtlPong, T: m.T})
	case protocol.CtlMonitors:
		c.mu.Lock()
		c.extra.monitors, c.extra.monitor = m.Monitors, m.Monitor
		c.extraChanged()
		c.mu.Unlock()
	}
}

// Cursor returns the customer's pointer as last reported.
func (c *Client) Cursor() Cursor {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.extra.cursor
}

// Quality returns the agent's last report of its JPEG quality, frame rate
// and link measurements.
func (c *Client) Quality() protocol.Quality {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.extra.quality
}

// Monitors returns the customer's monitors and which one is shared (0: all).
func (c *Client) Monitors() ([]protocol.MonitorInfo, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]protocol.MonitorInfo(nil), c.extra.monitors...), c.extra.monitor
}

// SelectMonitor asks the agent to share monitor n (1-based, as Monitors
// lists them) or all of them (0). The picture's size follows.
func (c *Client) SelectMonitor(n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.sendControl(ctx, protocol.Control{Type: protocol.CtlMonitor, Monitor: n})
}

// WaitPicture waits until the picture, as of a complete frame, satisfies ok
// (checked now and after every frame) and returns that picture. Lossy areas
// are refined after they stop changing, so "equals the screen" is a
// condition to wait for, not a property of the first frame.
func (c *Client) WaitPicture(ctx context.Context, ok func(*image.RGBA) bool) (*image.RGBA, error) {
	return c.waitPicture(ctx, func(pic *image.RGBA, _ bool) bool { return ok(pic) })
}

func (c *Client) waitPicture(ctx context.Context, ok func(pic *image.RGBA, refining bool) bool) (*image.RGBA, error) {
	for {
		c.mu.Lock()
		ch := c.frameCh
		refining := c.extra.refining
		var pic *image.RGBA
		if c.frames > 0 && c.fb != nil {
			pic = image.NewRGBA(c.fb.Rect)
			copy(pic.Pix, c.fb.Pix)
		}
		c.mu.Unlock()
		if pic != nil && ok(pic, refining) {
			return pic, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("rep: waiting for the picture: %w", ctx.Err())
		case <-c.endedCh:
			return nil, fmt.Errorf("rep: %w: %s", ErrEnded, c.Reason())
		case <-ch:
		}
	}
}

// WaitSettled waits for a complete frame after which the agent refines
// nothing more (text and UI exact, photo-like areas at their final
// quality) and returns the picture.
func (c *Client) WaitSettled(ctx context.Context) (*image.RGBA, error) {
	return c.waitPicture(ctx, func(_ *image.RGBA, refining bool) bool { return !refining })
}

// LastScreen is when the last screen-channel message arrived (zero before
// the first): a settled screen is a quiet screen channel, whatever the
// control channel carries (pings, pongs).
func (c *Client) LastScreen() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.extra.lastScreen
}

var encNames = map[byte]string{
	protocol.EncSolid: "solid", protocol.EncPNG: "png", protocol.EncRaw: "raw",
	protocol.EncJPEG: "jpeg", protocol.EncCopy: "copy", protocol.EncZlib: "zlib", protocol.EncCached: "cached",
}

// countRect adds r to the per-encoding byte counts (c.mu held).
func (c *Client) countRect(r protocol.Rect) {
	if c.stats.Encodings == nil {
		c.stats.Encodings = map[string]int64{}
	}
	name, ok := encNames[r.Enc]
	if !ok {
		name = fmt.Sprintf("enc%d", r.Enc)
	}
	c.stats.Encodings[name] += int64(protocol.RectSize(r))
	if len(c.extra.rects) < maxRectLog {
		c.extra.rects = append(c.extra.rects, RectInfo{Rect: image.Rect(r.X, r.Y, r.X+r.W, r.Y+r.H), Enc: r.Enc, Size: protocol.RectSize(r)})
	}
}

// Rects lists the rectangles received since Attach or ResetStats (the
// first 4096).
func (c *Client) Rects() []RectInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]RectInfo(nil), c.extra.rects...)
}
