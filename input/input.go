package input

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// backend is one platform's way to press keys and move the pointer. Its
// methods run under the Desktop's lock.
type backend interface {
	// pressKey presses the key for s (changing modifiers or locks around
	// it when s is a character or keypad key) and returns a handle for
	// releaseKey. held reports handles the caller holds down, which the
	// backend must not repurpose.
	pressKey(s Stroke, flags Mods, held func(uint32) bool) (uint32, error)
	releaseKey(h uint32) error
	// typeText types text as characters with no modifier held.
	typeText(text string) error
	// move moves the pointer; unless always, not when it is there already.
	move(x, y int, always bool) error
	button(b uint8, down bool) error
	// flush waits until the platform has taken every event sent so far.
	flush() error
	size() (w, h int)
	close() error
}

// Options configure a Desktop.
type Options struct {
	// Display is the X display (default $DISPLAY).
	Display string
	Logger  *slog.Logger
}

// Desktop is the customer's keyboard and pointer. One Desktop serves every
// Controller of a session; it is safe for concurrent use.
type Desktop struct {
	mu     sync.Mutex
	b      backend
	closed bool
}

// Open opens the desktop's input devices (on Linux, an X connection with
// the XTEST extension).
func Open(opts Options) (*Desktop, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	opts.Logger = opts.Logger.With("component", "input")
	b, err := openBackend(opts)
	if err != nil {
		return nil, err
	}
	return &Desktop{b: b}, nil
}

// ErrClosed is returned by a Controller whose Desktop was closed.
var ErrClosed = errors.New("input: the desktop is closed")

// Close releases the desktop (keycodes borrowed for characters the keyboard
// lacks are given back). Controllers should release their keys first.
func (d *Desktop) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	return d.b.close()
}

// Size is the size of the screen pointer positions refer to.
func (d *Desktop) Size() (int, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.b.size()
}

// NewController returns the hands of one rep: it remembers the keys and
// buttons that rep holds down, so that they can all be released when the
// rep's control or connection ends.
func (d *Desktop) NewController() *Controller {
	return &Controller{d: d, keys: map[string]uint32{}, buttons: map[uint8]bool{}}
}

// Button numbers, as X11 numbers them.
const (
	ButtonLeft    = 1
	ButtonMiddle  = 2
	ButtonRight   = 3
	wheelUp       = 4
	wheelDown     = 5
	wheelLeft     = 6
	wheelRight    = 7
	ButtonBack    = 8
	ButtonForward = 9
)

// Controller injects one rep's keys and pointer actions.
type Controller struct {
	d       *Desktop
	keys    map[string]uint32 // held keys by KeyboardEvent.code (or key): backend handle
	buttons map[uint8]bool    // held buttons
}

func (c *Controller) lock() error {
	c.d.mu.Lock()
	if c.d.closed {
		c.d.mu.Unlock()
		return ErrClosed
	}
	return nil
}

// heldHandle reports whether the controller holds handle h.
func (c *Controller) heldHandle(h uint32) bool {
	for _, v := range c.keys {
		if v == h {
			return true
		}
	}
	return false
}

// Key presses (down) or releases the key of a browser key event. A key is
// identified by its code: the key-up releases what the key-down pressed,
// whatever the key field says by then. A repeated key-down of a held key
// presses it again (auto-repeat). Events that press nothing (dead keys)
// return nil.
func (c *Controller) Key(down bool, code, key string, flags Mods) error {
	id := code
	if id == "" {
		id = "key:" + key
	}
	if err := c.lock(); err != nil {
		return err
	}
	defer c.d.mu.Unlock()
	h, held := c.keys[id]
	if !down {
		if !held {
			return nil // its key-down pressed nothing
		}
		delete(c.keys, id)
		return c.d.b.releaseKey(h)
	}
	s, ok := Resolve(code, key)
	if !ok {
		return nil
	}
	if held {
		if isModifier(s.Sym) {
			return nil // modifiers do not repeat
		}
		// Auto-repeat: release and press again, as X's own auto-repeat
		// does (a second press of a key that is down is dropped).
		delete(c.keys, id)
		if err := c.d.b.releaseKey(h); err != nil {
			return fmt.Errorf("input: key %s %q: %w", code, key, err)
		}
	}
	h, err := c.d.b.pressKey(s, flags, c.heldHandle)
	if err != nil {
		return fmt.Errorf("input: key %s %q: %w", code, key, err)
	}
	c.keys[id] = h
	return nil
}

func isModifier(s Keysym) bool {
	return s >= XKShiftL && s <= 0xffee || s == XKLevel3 || s == XKModeSwitch || s == XKNumLock || s == XKScrollLock
}

// Text types text as characters, with no modifier held.
func (c *Controller) Text(text string) error {
	if err := c.lock(); err != nil {
		return err
	}
	defer c.d.mu.Unlock()
	if err := c.d.b.typeText(text); err != nil {
		return fmt.Errorf("input: type text: %w", err)
	}
	return nil
}

// Move moves the pointer to (x, y) (clamped to the screen).
func (c *Controller) Move(x, y int) error {
	if err := c.lock(); err != nil {
		return err
	}
	defer c.d.mu.Unlock()
	if err := c.d.b.move(x, y, true); err != nil {
		return err
	}
	return c.d.b.flush()
}

// Button moves the pointer to (x, y) and presses or releases button b.
func (c *Controller) Button(b uint8, down bool, x, y int) error {
	switch b {
	case ButtonLeft, ButtonMiddle, ButtonRight, ButtonBack, ButtonForward:
	default:
		return fmt.Errorf("input: no pointer button %d", b)
	}
	if err := c.lock(); err != nil {
		return err
	}
	defer c.d.mu.Unlock()
	if err := c.d.b.move(x, y, false); err != nil {
		return err
	}
	if down == c.buttons[b] && !down {
		return c.d.b.flush() // not held: nothing to release
	}
	if err := c.d.b.button(b, down); err != nil {
		return err
	}
	if down {
		c.buttons[b] = true
	} else {
		delete(c.buttons, b)
	}
	return c.d.b.flush()
}

// Wheel moves the pointer to (x, y) and turns the wheel dx notches right
// (negative: left) and dy notches down (negative: up).
func (c *Controller) Wheel(dx, dy, x, y int) error {
	if err := c.lock(); err != nil {
		return err
	}
	defer c.d.mu.Unlock()
	if err := c.d.b.move(x, y, false); err != nil {
		return err
	}
	turn := func(n int, neg, pos uint8) error {
		b := pos
		if n < 0 {
			b, n = neg, -n
		}
		for i := 0; i < n; i++ {
			if err := c.d.b.button(b, true); err != nil {
				return err
			}
			if err := c.d.b.button(b, false); err != nil {
				return err
			}
		}
		return nil
	}
	if err := turn(dy, wheelUp, wheelDown); err != nil {
		return err
	}
	if err := turn(dx, wheelLeft, wheelRight); err != nil {
		return err
	}
	return c.d.b.flush()
}

// Held reports how many keys and buttons the controller holds down.
func (c *Controller) Held() int {
	c.d.mu.Lock()
	defer c.d.mu.Unlock()
	return len(c.keys) + len(c.buttons)
}

// ReleaseAll releases every key and button the controller holds: when the
// rep's control ends, the link drops or the session ends, nothing stays
// pressed on the customer's machine.
func (c *Controller) ReleaseAll() error {
	if err := c.lock(); err != nil {
		return err
	}
	defer c.d.mu.Unlock()
	var first error
	for b := range c.buttons {
		if err := c.d.b.button(b, false); err != nil && first == nil {
			first = err
		}
		delete(c.buttons, b)
	}
	// Non-modifiers first, then the modifiers, as fingers leave a chord.
	for pass := 0; pass < 2; pass++ {
		for id, h := range c.keys {
			s, _ := Resolve(id, "")
			if isModifier(s.Sym) != (pass == 1) {
				continue
			}
			if err := c.d.b.releaseKey(h); err != nil && first == nil {
				first = err
			}
			delete(c.keys, id)
		}
	}
	if err := c.d.b.flush(); err != nil && first == nil {
		first = err
	}
	return first
}
