package xmotion

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"image"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"assist/internal/xtest"
)

// TestRawMotionOnXvfb: motion injected through XTest (as a mouse would
// move) reaches the watcher, with a window under the pointer; Close ends
// the reader without an error.
func TestRawMotionOnXvfb(t *testing.T) {
	s := xtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	moved := make(chan struct{}, 1)
	w, err := Open(ctx, s.Display, time.Millisecond, func() {
		select {
		case moved <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s.Show(t, xtest.Pattern(s.Width, s.Height)) // a window under the pointer
	for i, at := range []int{100, 300, 500} {
		s.MovePointer(t, image.Pt(at, at))
		select {
		case <-moved:
		case <-w.Done():
			t.Fatalf("watcher stopped: %v", w.Err())
		case <-ctx.Done():
			t.Fatalf("motion %d never signalled", i)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Err(); err != nil {
		t.Errorf("after Close: %v", err)
	}
}

func TestOpenFailures(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, d := range []string{"", "nocolon", ":x", ":1.x", ":65500"} {
		if _, err := Open(ctx, d, time.Millisecond, func() {}); err == nil {
			t.Errorf("Open(%q) succeeded", d)
		}
	}
}

// fakeServer answers the connection setup with one screen whose root is
// 0x123, QueryExtension with present (major opcode 131), XIQueryVersion
// with major.minor, and the GetInputFocus after XISelectEvents with a
// reply, or with an X error for XISelectEvents when refuse; it returns
// what the client sent after the setup.
func fakeServer(conn net.Conn, present bool, major, minor uint16, refuse bool) <-chan []byte {
	sent := make(chan []byte, 1)
	go func() {
		defer conn.Close()
		var got []byte
		defer func() { sent <- got }()
		head := make([]byte, 12)
		if _, err := io.ReadFull(conn, head); err != nil {
			return
		}
		data := make([]byte, 32+8+40) // no vendor, one format, one screen
		data[20], data[21] = 1, 1
		binary.LittleEndian.PutUint32(data[40:], 0x123)
		reply := append([]byte{1, 0, 11, 0, 0, 0, byte(len(data) / 4), 0}, data...)
		if _, err := conn.Write(reply); err != nil {
			return
		}
		read := func(n int) bool {
			req := make([]byte, n)
			if _, err := io.ReadFull(conn, req); err != nil {
				return false
			}
			got = append(got, req...)
			return true
		}
		answer := func(seq byte, fill func(rep []byte)) bool {
			rep := make([]byte, 32)
			rep[0], rep[2] = 1, seq
			fill(rep)
			_, err := conn.Write(rep)
			return err == nil
		}
		if !read(24) || !answer(1, func(rep []byte) { // QueryExtension("XInputExtension")
			if present {
				rep[8], rep[9] = 1, 131
			}
		}) || !present {
			return
		}
		if !read(8) || !answer(2, func(rep []byte) { // XIQueryVersion
			binary.LittleEndian.PutUint16(rep[8:], major)
			binary.LittleEndian.PutUint16(rep[10:], minor)
		}) || major < 2 || major == 2 && minor < 1 {
			return
		}
		if !read(24) { // XISelectEvents, GetInputFocus
			return
		}
		if refuse {
			xerr := make([]byte, 32)
			xerr[1], xerr[2], xerr[8], xerr[10] = 2, 3, xiSelectEvents, 131 // BadValue
			if _, err := conn.Write(xerr); err != nil {
				return
			}
		}
		answer(4, func([]byte) {})
	}()
	return sent
}

// TestHandshake: a server without XInputExtension, or with XInput older
// than 2.1, is ErrUnsupported; with 2.1 the client selects raw motion of
// every master device on the root window of the setup, with 2.2 raw touch
// too; a refused selection fails Open.
func TestHandshake(t *testing.T) {
	for _, tc := range []struct {
		name         string
		present      bool
		major, minor uint16
		refuse       bool
		wantErr      error
		wantMask     uint32
	}{
		{"no XInputExtension", false, 0, 0, false, ErrUnsupported, 0},
		{"XInput 2.0", true, 2, 0, false, ErrUnsupported, 0},
		{"XInput 2.1", true, 2, 1, false, nil, 1 << 17},
		{"XInput 2.2", true, 2, 2, false, nil, 1<<17 | 1<<22 | 1<<23 | 1<<24},
		{"selection refused", true, 2, 2, true, errSentinel, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, server := net.Pipe()
			sent := fakeServer(server, tc.present, tc.major, tc.minor, tc.refuse)
			_, err := handshake(client, nil, 0)
			client.Close()
			switch {
			case tc.wantErr == errSentinel && err == nil:
				t.Fatal("a refused XISelectEvents did not fail the handshake")
			case tc.wantErr != errSentinel && !errors.Is(err, tc.wantErr):
				t.Fatalf("handshake: %v, want %v", err, tc.wantErr)
			}
			got := <-sent
			if tc.wantErr != nil {
				return
			}
			want := append(append(queryExtension("XInputExtension"), queryVersion(131)...), selectRaw(131, 0x123, tc.minor >= 2)...)
			want = append(want, getInputFocus...)
			if !bytes.Equal(got, want) {
				t.Errorf("sent % x\nwant % x", got, want)
			}
			if sel := got[len(got)-24 : len(got)-4]; binary.LittleEndian.Uint32(sel[4:]) != 0x123 || binary.LittleEndian.Uint32(sel[16:]) != tc.wantMask {
				t.Errorf("XISelectEvents % x: want mask %#x on the root", sel, tc.wantMask)
			}
		})
	}
}

var errSentinel = errors.New("any error")

// TestDrain: after a pause the watcher reads every message that arrived
// in it and reports once if one was motion.
func TestDrain(t *testing.T) {
	core := make([]byte, 32)
	core[0] = 12
	var burst []byte
	for range 50 {
		burst = append(burst, rawMotion(131, xiRawMotion, 4)...)
	}
	burst = append(burst, core...)
	for _, tc := range []struct {
		name   string
		stream []byte
		want   bool
	}{
		{"a burst of motion", burst, true},
		{"touch", rawMotion(131, xiRawTouchUpdate, 6), true},
		{"no motion", append(append([]byte(nil), core...), rawMotion(131, 15, 2)...), false},
		{"nothing", nil, false},
	} {
		r := bytes.NewReader(tc.stream)
		e := &events{r: r, major: 131, avail: r.Len}
		got, err := e.drain()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got != tc.want || r.Len() != 0 {
			t.Errorf("%s: motion %v with %d bytes left, want %v and none", tc.name, got, r.Len(), tc.want)
		}
	}
}

func TestParseDisplay(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want display
		ok   bool
	}{
		{":0", display{number: "0"}, true},
		{":12.1", display{number: "12", screen: 1}, true},
		{"unix:3", display{host: "unix", number: "3"}, true},
		{"localhost:10.0", display{host: "localhost", number: "10"}, true},
		{"/tmp/launch-x/org.x:0", display{host: "/tmp/launch-x/org.x", number: "0"}, true},
		{"0", display{}, false},
		{":", display{}, false},
		{":1.", display{}, true},
		{":99999", display{}, false},
	} {
		got, err := parseDisplay(tc.in)
		if tc.ok != (err == nil) || tc.ok && tc.in != ":1." && got != tc.want {
			t.Errorf("parseDisplay(%q) = %+v, %v", tc.in, got, err)
		}
	}
}

// xauthEntry is one Xauthority entry.
func xauthEntry(family uint16, addr, number, name string, data []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, family)
	for _, f := range [][]byte{[]byte(addr), []byte(number), []byte(name), data} {
		b = binary.BigEndian.AppendUint16(b, uint16(len(f)))
		b = append(b, f...)
	}
	return b
}

func TestFindCookie(t *testing.T) {
	var file []byte
	file = append(file, xauthEntry(familyLocal, "other", "0", "MIT-MAGIC-COOKIE-1", []byte("wrong host"))...)
	file = append(file, xauthEntry(familyLocal, "box", "1", "MIT-MAGIC-COOKIE-1", []byte("wrong display"))...)
	file = append(file, xauthEntry(familyLocal, "box", "0", "XDM-AUTHORIZATION-1", []byte("other scheme"))...)
	file = append(file, xauthEntry(familyLocal, "box", "0", "MIT-MAGIC-COOKIE-1", []byte("right"))...)
	file = append(file, xauthEntry(familyWild, "", "", "MIT-MAGIC-COOKIE-1", []byte("wild"))...)
	for _, tc := range []struct {
		host, number string
		want         string
	}{
		{"box", "0", "right"},
		{"box", "7", "wild"},
		{"nobody", "0", "wild"},
	} {
		name, data := findCookie(bytes.NewReader(file), tc.host, tc.number, true)
		if name != "MIT-MAGIC-COOKIE-1" || string(data) != tc.want {
			t.Errorf("%s:%s: %q %q, want %q", tc.host, tc.number, name, data, tc.want)
		}
	}
	// A truncated file gives what it had before the cut, or nothing.
	if name, _ := findCookie(bytes.NewReader(file[:20]), "box", "0", true); name != "" {
		t.Errorf("truncated file gave %q", name)
	}
}

// rawMotion is a GenericEvent of XInput (opcode major) with extra words.
func rawMotion(major byte, evtype uint16, extra int) []byte {
	b := make([]byte, 32+4*extra)
	b[0], b[1] = genericEvent, major
	binary.LittleEndian.PutUint32(b[4:], uint32(extra))
	binary.LittleEndian.PutUint16(b[8:], evtype)
	return b
}

func TestEvents(t *testing.T) {
	core := make([]byte, 32)
	core[0] = 12 // Expose
	reply := make([]byte, 40)
	reply[0] = 1
	binary.LittleEndian.PutUint32(reply[4:], 2)
	var stream []byte
	for _, m := range [][]byte{core, rawMotion(131, xiRawMotion, 5), reply, rawMotion(131, 15, 3), rawMotion(99, xiRawMotion, 0)} {
		stream = append(stream, m...)
	}
	e := &events{r: bytes.NewReader(stream), major: 131}
	var got []bool
	for {
		m, err := e.next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			break
		}
		got = append(got, m)
	}
	want := []bool{false, true, false, false, false}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	xerr := make([]byte, 32)
	xerr[1] = 8
	if _, err := (&events{r: bytes.NewReader(xerr)}).next(); err == nil {
		t.Error("an X error did not end the stream")
	}
	huge := rawMotion(131, xiRawMotion, 0)
	binary.LittleEndian.PutUint32(huge[4:], 1<<30)
	if _, err := (&events{r: bytes.NewReader(huge), major: 131}).next(); err == nil {
		t.Error("a message claiming 4 GiB was accepted")
	}
}

// FuzzEvents: any byte stream ends in an error, never a panic or a hang.
func FuzzEvents(f *testing.F) {
	f.Add(rawMotion(131, xiRawMotion, 2))
	f.Add([]byte{1, 0, 0, 0, 255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		e := &events{r: bytes.NewReader(b), major: 131}
		for range len(b)/32 + 2 {
			if _, err := e.next(); err != nil {
				return
			}
		}
		t.Fatal("more messages than the bytes can hold")
	})
}

// FuzzSetup: any setup reply gives a root or an error.
func FuzzSetup(f *testing.F) {
	f.Add([]byte{1, 0, 11, 0, 0, 0, 0, 0}, 0)
	f.Fuzz(func(t *testing.T, b []byte, screen int) {
		_, _ = readSetup(bytes.NewReader(b), screen&7)
		_, _ = readReply(bytes.NewReader(b), 1)
	})
}

// TestOneReportPerInterval: motion within the interval after a report is
// not reported again (a fast mouse costs one wake-up per interval), and
// Close ends a watcher that waits out its interval.
func TestOneReportPerInterval(t *testing.T) {
	s := xtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var reports atomic.Int32
	first := make(chan struct{})
	w, err := Open(ctx, s.Display, time.Hour, func() {
		if reports.Add(1) == 1 {
			close(first)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	s.MovePointer(t, image.Pt(10, 10))
	select {
	case <-first:
	case <-ctx.Done():
		t.Fatal("the first motion was never reported")
	}
	for i := range 20 {
		s.MovePointer(t, image.Pt(20+i, 20+i))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n := reports.Load(); n != 1 {
		t.Errorf("%d reports within one interval, want 1", n)
	}
}
