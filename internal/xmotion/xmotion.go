// Package xmotion tells when the pointer moves on an X display, from
// XInput 2 raw motion events on a connection of its own.
//
// The core protocol has no event for "the pointer moved somewhere": motion
// events go to the window under the pointer, and a sharing agent learns
// where the pointer is by asking (QueryPointer). Asking 40 times a second
// while the pointer might move, and a few times a second when it rests,
// was a quarter of the agent's CPU over the `make bench` workload: each
// question wakes the agent and the X server. XInput 2 delivers raw motion
// of every device to the root window, whoever has the pointer; with it the
// agent asks only after the pointer moved.
//
// The connection is hand-written because xgb, which the rest of capture
// uses, reads every event as 32 bytes: XInput 2's events are X Generic
// Events, longer than that, and would desynchronise its stream. It speaks
// just enough of the protocol for this: the connection setup (with an
// MIT-MAGIC-COOKIE-1 from the Xauthority file when there is one),
// QueryExtension, XIQueryVersion and XISelectEvents (raw motion, and raw
// touch from XInput 2.2), then it reads events. XInput 2.1 is required:
// from it on raw events reach the root window during grabs too.
package xmotion

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ErrUnsupported means the display has no XInput 2: poll instead.
var ErrUnsupported = errors.New("xmotion: the display has no XInput 2.1")

// Watcher reports pointer motion on one display to a callback, at most
// once per interval: after a report it leaves the socket alone for the
// interval, so a mouse sending 1,000 events a second costs a wake-up per
// interval, not one per event, and a resting pointer costs nothing.
type Watcher struct {
	conn   net.Conn
	ev     *events
	moved  func()
	every  time.Duration
	stop   chan struct{} // closed by Close
	done   chan struct{} // closed when the reader ends
	once   sync.Once
	closed atomic.Bool
	err    error // why the reader ended (read after done)
}

// xiRawMotion is XInput 2's XI_RawMotion event type; xiAllMasterDevices
// selects events of every master device.
const (
	xiRawMotion        = 17
	xiRawTouchBegin    = 22
	xiRawTouchUpdate   = 23
	xiRawTouchEnd      = 24
	xiAllMasterDevices = 1
	opQueryExtension   = 98
	xiQueryVersion     = 47
	xiSelectEvents     = 46
	genericEvent       = 35
)

// Open connects to display (as in $DISPLAY), selects raw motion on its
// root window and calls moved (from the watcher's goroutine) when the
// pointer moved, at most once per every. It returns ErrUnsupported
// (wrapped) when the server lacks XInput 2.1.
func Open(ctx context.Context, display string, every time.Duration, moved func()) (*Watcher, error) {
	conn, cookie, screen, err := Dial(ctx, display) // raw I/O: the runtime's monitor need not wake for each motion
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	w, err := handshake(conn, cookie, screen)
	if !stop() {
		err = ctx.Err() // the connection was closed under the handshake
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	w.moved, w.every = moved, every
	go w.read()
	return w, nil
}

// handshake sets the connection up and selects the events.
func handshake(conn net.Conn, cookie []byte, screen int) (*Watcher, error) {
	r := bufio.NewReader(conn)
	name := ""
	if cookie != nil {
		name = "MIT-MAGIC-COOKIE-1"
	}
	if _, err := conn.Write(setupRequest(name, cookie)); err != nil {
		return nil, fmt.Errorf("xmotion: connection setup: %w", err)
	}
	root, err := readSetup(r, screen)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write(queryExtension("XInputExtension")); err != nil {
		return nil, fmt.Errorf("xmotion: QueryExtension: %w", err)
	}
	rep, err := readReply(r, 1)
	if err != nil {
		return nil, fmt.Errorf("xmotion: QueryExtension: %w", err)
	}
	if rep[8] == 0 {
		return nil, fmt.Errorf("%w (no XInputExtension)", ErrUnsupported)
	}
	major := rep[9]
	if _, err := conn.Write(queryVersion(major)); err != nil {
		return nil, fmt.Errorf("xmotion: XIQueryVersion: %w", err)
	}
	rep, err = readReply(r, 2)
	if err != nil {
		return nil, fmt.Errorf("xmotion: XIQueryVersion: %w", err)
	}
	// 2.1: raw events reach the root window during grabs too (a drag, an
	// open menu); 2.2: touch screens send raw touch events instead.
	vmaj, vmin := binary.LittleEndian.Uint16(rep[8:]), binary.LittleEndian.Uint16(rep[10:])
	if vmaj < 2 || vmaj == 2 && vmin < 1 {
		return nil, fmt.Errorf("%w (XInput %d.%d, raw events need 2.1)", ErrUnsupported, vmaj, vmin)
	}
	touch := vmaj > 2 || vmin >= 2
	// XISelectEvents has no reply: GetInputFocus after it brings its
	// error, if any, back here.
	if _, err := conn.Write(append(selectRaw(major, root, touch), getInputFocus...)); err != nil {
		return nil, fmt.Errorf("xmotion: XISelectEvents: %w", err)
	}
	if _, err := readReply(r, 4); err != nil {
		return nil, fmt.Errorf("xmotion: XISelectEvents: %w", err)
	}
	w := &Watcher{conn: conn, stop: make(chan struct{}), done: make(chan struct{})}
	w.ev = &events{r: r, major: major, avail: func() int {
		if n := r.Buffered(); n > 0 {
			return n // no system call while bufio holds a message
		}
		return unread(conn)
	}}
	return w, nil
}

// Done is closed when the watcher stops (Close, or the display went away).
func (w *Watcher) Done() <-chan struct{} { return w.done }

// Err tells why the watcher stopped, once Done is closed.
func (w *Watcher) Err() error {
	<-w.done
	return w.err
}

// Close ends the connection and waits for the reader.
func (w *Watcher) Close() error {
	w.once.Do(func() {
		w.closed.Store(true)
		close(w.stop)
		w.conn.Close()
	})
	<-w.done
	return nil
}

// read reports raw motion until the connection ends.
func (w *Watcher) read() {
	defer close(w.done)
	if err := w.watch(); !w.closed.Load() {
		w.err = err
	}
}

// watch reads events and reports motion until an error or Close.
func (w *Watcher) watch() error {
	pause := time.NewTimer(time.Hour)
	pause.Stop()
	defer pause.Stop()
	for {
		motion, err := w.ev.next()
		if err != nil {
			return err
		}
		for motion {
			w.moved()
			// Let the events of the next interval gather in the socket,
			// then read all of them in one go.
			pause.Reset(w.every)
			select {
			case <-pause.C:
			case <-w.stop:
				return nil
			}
			if motion, err = w.ev.drain(); err != nil {
				return err
			}
		}
	}
}

// events reads the server's messages after the handshake.
type events struct {
	r     io.Reader
	major byte       // XInputExtension's opcode
	avail func() int // bytes received and not read yet
	buf   [32]byte
}

// drain reads every message received so far (a message cut short by the
// socket is waited for: the server writes whole ones) and reports whether
// one of them was raw motion.
func (e *events) drain() (bool, error) {
	any := false
	for e.avail() > 0 {
		m, err := e.next()
		if err != nil {
			return false, err
		}
		any = any || m
	}
	return any, nil
}

// next reads one message and reports whether it is raw motion. An X error
// (a request of ours refused: XISelectEvents) ends the stream.
func (e *events) next() (bool, error) {
	if err := readMessage(e.r, &e.buf); err != nil {
		return false, fmt.Errorf("xmotion: reading events: %w", err)
	}
	b := e.buf[:]
	if b[0]&0x7f != genericEvent || b[1] != e.major {
		return false, nil
	}
	switch binary.LittleEndian.Uint16(b[8:]) {
	case xiRawMotion, xiRawTouchBegin, xiRawTouchUpdate, xiRawTouchEnd:
		return true, nil
	}
	return false, nil
}

// maxExtra bounds the length a message may claim (a raw motion event
// carries a few valuators; 256 KiB is far beyond any event).
const maxExtra = 256 << 10
