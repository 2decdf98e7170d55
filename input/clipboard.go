package input

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/atotto/clipboard"
)

// Clipboard is the customer's clipboard, text only, through
// atotto/clipboard (xclip or xsel on X11). Clipboards have no change events
// there, so a session polls Changed; the hash of the text last seen or
// written suppresses echoes: what the rep wrote is not sent back to the rep.
//
// On X11 every write leaves an xclip (or xsel) process behind that owns the
// selection; Close ends them.
type Clipboard struct {
	mu    sync.Mutex // one helper process at a time
	last  [sha256.Size]byte
	known bool
}

// ErrNoClipboard reports a desktop without a usable clipboard tool.
var ErrNoClipboard = errors.New("input: no clipboard tool (install xclip or xsel)")

// OpenClipboard checks that the clipboard can be used.
func OpenClipboard() (*Clipboard, error) {
	if clipboard.Unsupported {
		return nil, ErrNoClipboard
	}
	markHelpers()
	return &Clipboard{}, nil
}

// run calls f (an atotto call, which takes no context) so that ctx ends it:
// the helper processes are killed, which makes f return.
func (c *Clipboard) run(ctx context.Context, f func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		killHelpers()
		<-done
		return ctx.Err()
	}
}

// Read returns the clipboard's text ("" when it holds none).
func (c *Clipboard) Read(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.read(ctx)
}

func (c *Clipboard) read(ctx context.Context) (string, error) {
	var text string
	err := c.run(ctx, func() error {
		var err error
		text, err = clipboard.ReadAll()
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return "", err
		}
		// xclip fails when nobody owns the clipboard or it holds no text:
		// that is an empty clipboard, not an error worth reporting.
		return "", nil
	}
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	return text, nil
}

// Write puts text in the clipboard. The next Changed does not report it.
func (c *Clipboard) Write(ctx context.Context, text string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	// The helper from the previous write loses the selection to the new
	// one and exits by itself.
	if err := c.run(ctx, func() error { return clipboard.WriteAll(text) }); err != nil {
		return fmt.Errorf("input: write the clipboard: %w", err)
	}
	c.last, c.known = sha256.Sum256([]byte(text)), true
	// xclip's fork takes the selection a moment after the command returns:
	// return once the clipboard holds the text, so that a paste right
	// after gets it.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		got, err := c.read(ctx)
		if err != nil {
			return fmt.Errorf("input: read the clipboard back: %w", err)
		}
		if got == text {
			return nil
		}
		if i == 400 {
			return errors.New("input: the clipboard did not take the text within 2 s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Changed reads the clipboard and returns its text and true when it differs
// from the text last seen or written. The first call reports whatever the
// clipboard holds.
func (c *Clipboard) Changed(ctx context.Context) (string, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	text, err := c.read(ctx)
	if err != nil {
		return "", false, err
	}
	h := sha256.Sum256([]byte(text))
	if c.known && h == c.last {
		return "", false, nil
	}
	c.last, c.known = h, true
	return text, true, nil
}

// Forget makes the next Changed report the clipboard even if it has not
// changed (a rep who just got control wants to see it).
func (c *Clipboard) Forget() {
	c.mu.Lock()
	c.known = false
	c.mu.Unlock()
}

// Close ends the helper processes that keep the clipboard's text alive (the
// text the rep put there goes with them).
func (c *Clipboard) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return killHelpers()
}

// Helpers lists the clipboard helper processes this process started that
// are still running (for tests and diagnostics).
func Helpers() []int { return helpers() }
