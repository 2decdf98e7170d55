package xtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jezek/xgb/xproto"
)

// Event is one X event as xev reported it: what a real X client received,
// decoded by Xlib (keysyms and text through XKB, as applications see them).
type Event struct {
	Type    string // KeyPress, KeyRelease, ButtonPress, ButtonRelease, MotionNotify, ...
	State   uint16 // modifier and button state before the event
	Keycode int
	Keysym  uint32
	Name    string // the keysym's name, e.g. "KP_Enter", "U1F600"
	Text    string // what XmbLookupString made of a key press (UTF-8 locale)
	Button  int
	X, Y    int // root coordinates
}

func (e Event) String() string {
	switch e.Type {
	case "KeyPress", "KeyRelease":
		return fmt.Sprintf("%s %s(%#x) state %#x", e.Type, e.Name, e.Keysym, e.State)
	case "ButtonPress", "ButtonRelease":
		return fmt.Sprintf("%s %d at (%d,%d) state %#x", e.Type, e.Button, e.X, e.Y, e.State)
	}
	return fmt.Sprintf("%s at (%d,%d) state %#x", e.Type, e.X, e.Y, e.State)
}

// Xev is a running xev: a real X client with its own window, printing the
// events it receives.
type Xev struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	events []Event
	added  chan struct{} // closed and replaced at every event
	done   chan struct{}
	read   int      // events handed out by Next
	raw    []string // xev's last output lines, for failure messages
}

// StartXev runs xev with a window of w x h at (x, y) and returns once the
// window is on screen. It is stopped when tb's test ends. Tests needing
// keyboard events move the pointer into the window (the focus follows the
// pointer without a window manager). The server's key auto-repeat is turned
// off: tests compare exact event lists, and a loaded machine that holds a
// key down longer than the repeat delay would add presses.
func (s *Server) StartXev(tb testing.TB, x, y, w, h int) *Xev {
	tb.Helper()
	s.NoAutoRepeat(tb)
	path, err := exec.LookPath("xev")
	if err != nil {
		tb.Fatalf("xtest: xev not found (x11-utils): %v", err)
	}
	cmd := exec.Command(path, "-geometry", fmt.Sprintf("%dx%d+%d+%d", w, h, x, y), "-name", "assist-xev")
	cmd.Env = append(s.Env(), "LC_ALL=C.UTF-8")
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("xtest: start xev: %v", err)
	}
	v := &Xev{cmd: cmd, added: make(chan struct{}), done: make(chan struct{})}
	go v.parse(out)
	tb.Cleanup(func() {
		cmd.Process.Kill()
		<-v.done
		cmd.Wait()
		if tb.Failed() {
			v.mu.Lock()
			tb.Logf("xev's last lines:\n%s", strings.Join(v.raw, "\n"))
			v.mu.Unlock()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if _, err := v.WaitFor(ctx, func(e Event) bool { return e.Type == "Expose" }); err != nil {
		tb.Fatalf("xtest: xev's window never showed: %v", err)
	}
	v.Skip()
	return v
}

var (
	headRe   = regexp.MustCompile(`^(\w+) event, serial`)
	keyRe    = regexp.MustCompile(`state (0x[0-9a-f]+), keycode (\d+) \(keysym (0x[0-9a-f]+), ([^)]*)\)`)
	buttonRe = regexp.MustCompile(`state (0x[0-9a-f]+), button (\d+),`)
	stateRe  = regexp.MustCompile(`^\s+state (0x[0-9a-f]+),`)
	rootRe   = regexp.MustCompile(`root:\((-?\d+),(-?\d+)\)`)
	textRe   = regexp.MustCompile(`XmbLookupString gives \d+ bytes: (?:\([0-9a-f ]*\) )?"(.*)"$`)
)

func (v *Xev) parse(r io.Reader) {
	defer close(v.done)
	sc := bufio.NewScanner(r)
	var cur *Event
	flush := func() {
		if cur == nil {
			return
		}
		v.mu.Lock()
		v.events = append(v.events, *cur)
		close(v.added)
		v.added = make(chan struct{})
		v.mu.Unlock()
		cur = nil
	}
	hex := func(s string) uint64 { n, _ := strconv.ParseUint(s, 0, 32); return n }
	for sc.Scan() {
		line := sc.Text()
		v.mu.Lock()
		if len(v.raw) >= 80 {
			v.raw = v.raw[1:]
		}
		v.raw = append(v.raw, line)
		v.mu.Unlock()
		if line == "" {
			flush()
			continue
		}
		if m := headRe.FindStringSubmatch(line); m != nil {
			flush()
			cur = &Event{Type: m[1]}
			continue
		}
		if cur == nil {
			continue
		}
		if m := keyRe.FindStringSubmatch(line); m != nil {
			cur.State = uint16(hex(m[1]))
			cur.Keycode, _ = strconv.Atoi(m[2])
			cur.Keysym = uint32(hex(m[3]))
			cur.Name = m[4]
		} else if m := buttonRe.FindStringSubmatch(line); m != nil {
			cur.State = uint16(hex(m[1]))
			cur.Button, _ = strconv.Atoi(m[2])
		} else if m := stateRe.FindStringSubmatch(line); m != nil {
			cur.State = uint16(hex(m[1]))
		}
		if m := rootRe.FindStringSubmatch(line); m != nil {
			cur.X, _ = strconv.Atoi(m[1])
			cur.Y, _ = strconv.Atoi(m[2])
		}
		if m := textRe.FindStringSubmatch(line); m != nil {
			cur.Text = m[1]
		}
		// xev starts every event with a blank line: an event is complete at
		// its last line, known by type, or else at the next blank line.
		switch cur.Type {
		case "KeyPress", "KeyRelease":
			if strings.Contains(line, "XFilterEvent returns") {
				flush()
			}
		case "ButtonPress", "ButtonRelease", "MotionNotify":
			if strings.Contains(line, "same_screen") {
				flush()
			}
		}
	}
	flush()
}

// Next returns the next event not yet handed out, waiting for it.
func (v *Xev) Next(ctx context.Context) (Event, error) {
	for {
		v.mu.Lock()
		evs, ch := v.events, v.added
		if v.read < len(evs) {
			e := evs[v.read]
			v.read++
			v.mu.Unlock()
			return e, nil
		}
		v.mu.Unlock()
		select {
		case <-ctx.Done():
			return Event{}, fmt.Errorf("xtest: waiting for an X event: %w", ctx.Err())
		case <-v.done:
			return Event{}, fmt.Errorf("xtest: xev exited")
		case <-ch:
		}
	}
}

// WaitFor hands out events until one matches and returns the events up to
// and including it.
func (v *Xev) WaitFor(ctx context.Context, match func(Event) bool) ([]Event, error) {
	var seen []Event
	for {
		e, err := v.Next(ctx)
		if err != nil {
			return seen, fmt.Errorf("%w (after %s)", err, Events(seen))
		}
		seen = append(seen, e)
		if match(e) {
			return seen, nil
		}
	}
}

// Skip hands out every event received so far.
func (v *Xev) Skip() {
	v.mu.Lock()
	v.read = len(v.events)
	v.mu.Unlock()
}

// Events formats events one per line, for failure messages.
func Events(evs []Event) string {
	var b strings.Builder
	for _, e := range evs {
		b.WriteString("\n\t")
		b.WriteString(e.String())
	}
	return b.String()
}

// NoAutoRepeat turns the server's key auto-repeat off.
func (s *Server) NoAutoRepeat(tb testing.TB) {
	tb.Helper()
	c := s.Conn(tb)
	if err := xproto.ChangeKeyboardControlChecked(c, xproto.KbAutoRepeatMode, []uint32{xproto.AutoRepeatModeOff}).Check(); err != nil {
		tb.Fatalf("xtest: auto-repeat off: %v", err)
	}
}
