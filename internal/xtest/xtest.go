// Package xtest starts private Xvfb servers for tests and draws known pixels
// on them. It is imported only by tests: nothing in a shipped binary may
// depend on it.
//
// A test calls Start to get its own X server (skipped when Xvfb is not
// installed, fatal instead when ASSIST_REQUIRE_X=1), Show to put an image on
// screen at (0, 0), and Screenshot to read back what the X server itself
// holds, independently of the code under test.
package xtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"assist/internal/xgblog"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
	xtestext "github.com/jezek/xgb/xtest"
)

// RequireEnv names the environment variable that turns a missing Xvfb from
// a skipped test into a failed one (set it to 1 in CI).
const RequireEnv = "ASSIST_REQUIRE_X"

// startTimeout bounds how long Start waits for Xvfb to report its display.
const startTimeout = 30 * time.Second

type screen struct{ w, h int }

type config struct {
	screens []screen
}

// Option changes how Start runs Xvfb.
type Option func(*config)

// Size sets the size of screen 0 (default 1920x1080).
func Size(w, h int) Option {
	return func(c *config) { c.screens[0] = screen{w, h} }
}

// SecondMonitor adds a second monitor of w x h to the right of the first:
// the root window becomes (w0+w) x max(h0, h) and RandR 1.5 monitors (which
// the server's Xinerama extension reports) split it into two heads side by
// side, the first one primary. This is what a real dual-head desktop looks
// like to clients. (Xvfb's own "-screen 1 ... +xinerama" puts both heads at
// (0, 0), overlapping, so it is not used.)
func SecondMonitor(w, h int) Option {
	return func(c *config) { c.screens = append(c.screens[:1], screen{w, h}) }
}

// Server is a running private Xvfb.
type Server struct {
	// Display is the X display name, like ":12".
	Display string
	// Width and Height are the size of the root window when the server
	// started (both monitors side by side when there are two).
	Width, Height int
	// Monitors are the heads Xinerama reports: one, or two with
	// SecondMonitor.
	Monitors []image.Rectangle

	cmd    *exec.Cmd
	stderr *syncBuffer

	mu      sync.Mutex
	conn    *xgb.Conn
	drained chan struct{} // closed when conn's event loop ends
}

// Start starts a private Xvfb and stops it when tb's test ends. It skips the
// test when Xvfb is not installed, unless ASSIST_REQUIRE_X=1.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	cfg := config{screens: []screen{{1920, 1080}}}
	for _, o := range opts {
		o(&cfg)
	}
	path, err := exec.LookPath("Xvfb")
	if err != nil {
		if os.Getenv(RequireEnv) == "1" {
			tb.Fatalf("xtest: Xvfb not found and %s=1: %v", RequireEnv, err)
		} else {
			tb.Skipf("xtest: Xvfb not installed (%v); set %s=1 to make this fatal", err, RequireEnv)
		}
		return nil
	}
	xgblog.Quiet()

	s := &Server{}
	for _, sc := range cfg.screens {
		if sc.w <= 0 || sc.h <= 0 {
			tb.Fatalf("xtest: screen size %dx%d", sc.w, sc.h)
		}
		s.Monitors = append(s.Monitors, image.Rect(s.Width, 0, s.Width+sc.w, sc.h))
		s.Width += sc.w
		s.Height = max(s.Height, sc.h)
	}
	size := fmt.Sprintf("%dx%dx24", s.Width, s.Height)
	for attempt := 1; ; attempt++ {
		// A display number of our own choosing, not the lowest free one
		// (-displayfd's pick): tests in parallel start and stop servers all
		// the time, and a server exiting from display N removes the socket
		// file /tmp/.X11-unix/XN after a new server may already have taken
		// N (clients that dial the file then fail to connect).
		n := displayBase + rand.IntN(displaySpan)
		err := s.launch(tb, path, n, size)
		if err == nil {
			break
		}
		if attempt == startAttempts {
			tb.Fatalf("xtest: %v", err)
		}
		tb.Logf("xtest: display :%d: %v; trying another", n, err)
	}
	if len(s.Monitors) > 1 {
		s.setMonitors(tb)
	}
	return s
}

// Display numbers Start picks from, and how many it tries.
const (
	displayBase   = 100
	displaySpan   = 900
	startAttempts = 5
)

// launch starts Xvfb on display n and waits until it accepts clients; an
// error means it did not start there (the display is taken, most often).
func (s *Server) launch(tb testing.TB, path string, n int, size string) error {
	// The child gets the pipe's write end as fd 3 (ExtraFiles[0]).
	args := []string{":" + strconv.Itoa(n), "-displayfd", "3", "-screen", "0", size,
		"-noreset", "-nolisten", "tcp"}
	r, w, err := os.Pipe()
	if err != nil {
		tb.Fatalf("xtest: pipe: %v", err)
	}
	defer r.Close()

	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr()
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second // then SIGKILL
	if err := cmd.Start(); err != nil {
		w.Close()
		cancel()
		tb.Fatalf("xtest: start Xvfb: %v", err)
	}
	w.Close() // only the child holds the write end now: EOF means it died
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	// -displayfd: Xvfb writes the display number once it accepts clients.
	if err := r.SetReadDeadline(time.Now().Add(startTimeout)); err != nil {
		tb.Fatalf("xtest: pipe deadline: %v", err)
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err == nil && strings.TrimSpace(line) != strconv.Itoa(n) {
		err = fmt.Errorf("reported display %q", line)
	}
	if err != nil {
		cancel()
		<-waited
		return fmt.Errorf("Xvfb did not start (%v); its output:\n%s", err, out)
	}
	s.cmd, s.stderr, s.Display = cmd, out, ":"+strconv.Itoa(n)
	tb.Cleanup(func() {
		s.closeConn()
		cancel()
		if err := <-waited; err != nil && !isTermination(err) {
			tb.Logf("xtest: Xvfb %s exited: %v\n%s", s.Display, err, out)
		}
	})
	return nil
}

// isTermination reports whether err is Xvfb ending because we asked it to.
func isTermination(err error) bool {
	if errors.Is(err, context.Canceled) {
		return true // exited cleanly after SIGTERM
	}
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
			return true
		}
		// Xvfb catches SIGTERM and exits with status 0 or 1 depending on
		// the version.
		return ee.ExitCode() == 0 || ee.ExitCode() == 1
	}
	return false
}

// Env returns os.Environ() with DISPLAY set to this server, for child
// processes such as xdotool.
func (s *Server) Env() []string {
	env := os.Environ()
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "DISPLAY=") {
			out = append(out, kv)
		}
	}
	return append(out, "DISPLAY="+s.Display)
}

// Conn returns the server's shared helper connection, opened on first use
// and closed when the server stops. Tests may use it for requests of their
// own (RandR, XTEST) but must not close it. Events sent to it are discarded
// (xgb stops reading replies once 5000 unread events pile up, and every
// client gets a MappingNotify per keyboard mapping change): a test that
// reads events opens its own connection, and drains it.
func (s *Server) Conn(tb testing.TB) *xgb.Conn {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		c, err := xgb.NewConnDisplay(s.Display)
		if err != nil {
			tb.Fatalf("xtest: connect to %s: %v", s.Display, err)
		}
		s.conn = c
		s.drained = make(chan struct{})
		go func() {
			defer close(s.drained)
			for {
				// WaitForEvent returns nil, nil once the connection is closed.
				if ev, err := c.WaitForEvent(); ev == nil && err == nil {
					return
				}
			}
		}()
	}
	return s.conn
}

func (s *Server) closeConn() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		// Wait until xgb is done with the connection, so that stopping the
		// server afterwards makes xgb log no read errors.
		s.conn.Close()
		<-s.drained
		s.conn = nil
	}
}

// MovePointer moves the pointer to at through the XTEST extension, as a
// mouse moves it (the server then sends XInput 2 raw motion, which a warp
// does not).
func (s *Server) MovePointer(tb testing.TB, at image.Point) {
	tb.Helper()
	c := s.Conn(tb)
	if err := xtestext.Init(c); err != nil {
		tb.Fatalf("xtest: XTEST: %v", err)
	}
	root := xproto.Setup(c).DefaultScreen(c).Root
	if err := xtestext.FakeInputChecked(c, xproto.MotionNotify, 0, 0, root, int16(at.X), int16(at.Y), 0).Check(); err != nil {
		tb.Fatalf("xtest: move the pointer to %v: %v", at, err)
	}
}

// syncBuffer collects Xvfb's output for failure messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Pid is the Xvfb process's id (benchmarks read its CPU time).
func (s *Server) Pid() int { return s.cmd.Process.Pid }
