package xmotion

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"assist/internal/rawio"
)

// display is a parsed display name: [host]:number[.screen], or a socket
// path before the colon ("/tmp/launch-x/org.x:0").
type display struct {
	host   string // "" or "unix": the local socket; a path: that socket
	number string
	screen int
}

func parseDisplay(s string) (display, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return display{}, fmt.Errorf("xmotion: display %q has no ':'", s)
	}
	d := display{host: s[:i]}
	num, scr, _ := strings.Cut(s[i+1:], ".")
	if _, err := strconv.ParseUint(num, 10, 16); err != nil {
		return display{}, fmt.Errorf("xmotion: display %q: bad number", s)
	}
	d.number = num
	if scr != "" {
		n, err := strconv.ParseUint(scr, 10, 8)
		if err != nil {
			return display{}, fmt.Errorf("xmotion: display %q: bad screen", s)
		}
		d.screen = int(n)
	}
	return d, nil
}

// Dial connects to the X display named display (as DISPLAY spells it), as
// xgb would, through raw reads and writes (internal/rawio), and returns the
// connection, the display's MIT-MAGIC-COOKIE-1 from the Xauthority file
// (nil when there is none: a server without access control needs none) and
// the screen the name asks for. The connection setup is the caller's
// (xgb.NewConnNetWithCookieHex).
func Dial(ctx context.Context, display string) (conn net.Conn, cookie []byte, screen int, err error) {
	d, err := parseDisplay(display)
	if err != nil {
		return nil, nil, 0, err
	}
	c, err := d.dial(ctx)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("xmotion: dial %q: %w", display, err)
	}
	name, data := d.cookie()
	if name != "MIT-MAGIC-COOKIE-1" || len(data) != 16 {
		data = nil
	}
	return rawio.NewConn(c), data, d.screen, nil
}

// local reports whether the display is reached through a local socket.
func (d display) local() bool {
	return d.host == "" || d.host == "unix" || strings.HasPrefix(d.host, "/")
}

func (d display) dial(ctx context.Context) (net.Conn, error) {
	var dl net.Dialer
	if strings.HasPrefix(d.host, "/") {
		return dl.DialContext(ctx, "unix", d.host+":"+d.number)
	}
	if d.local() {
		// The socket file, as xgb dials it: the same server as capture's
		// connection even where a network namespace of our own has an X
		// server on the same number (abstract sockets belong to the
		// network namespace).
		return dl.DialContext(ctx, "unix", "/tmp/.X11-unix/X"+d.number)
	}
	n, _ := strconv.Atoi(d.number)
	return dl.DialContext(ctx, "tcp", net.JoinHostPort(d.host, strconv.Itoa(6000+n)))
}

// cookie returns the MIT-MAGIC-COOKIE-1 for the display from the
// Xauthority file ($XAUTHORITY, else ~/.Xauthority), or nothing: a server
// without access control needs none, and one that wants one refuses the
// connection, which Open reports.
func (d display) cookie() (name string, data []byte) {
	file := os.Getenv("XAUTHORITY")
	if file == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", nil
		}
		file = filepath.Join(home, ".Xauthority")
	}
	// Only a regular file: opening a FIFO blocks, /dev/zero never ends.
	if fi, err := os.Stat(file); err != nil || !fi.Mode().IsRegular() {
		return "", nil
	}
	f, err := os.Open(file)
	if err != nil {
		return "", nil
	}
	defer f.Close()
	// A loopback host is this machine too (ssh's forwarded displays):
	// like xgb and libxcb, look for this machine's entries.
	host, local := d.host, d.local()
	if host == "localhost" || host == "127.0.0.1" || host == "::1" {
		local = true
	}
	if local {
		host, _ = os.Hostname()
	}
	return findCookie(bufio.NewReader(io.LimitReader(f, maxXauthority)), host, d.number, local)
}

// maxXauthority bounds how much of the Xauthority file is read (a few
// hundred bytes an entry).
const maxXauthority = 1 << 20

// Xauthority families.
const (
	familyLocal = 256
	familyWild  = 65535
)

// findCookie reads Xauthority entries (family, address, number, name and
// data, each but the family a 16-bit length and bytes, big-endian) and
// returns the first MIT-MAGIC-COOKIE-1 for the display.
func findCookie(r io.Reader, host, number string, local bool) (string, []byte) {
	field := func() ([]byte, error) {
		var n [2]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return nil, err
		}
		b := make([]byte, binary.BigEndian.Uint16(n[:]))
		_, err := io.ReadFull(r, b)
		return b, err
	}
	for {
		var fam [2]byte
		if _, err := io.ReadFull(r, fam[:]); err != nil {
			return "", nil
		}
		var f [4][]byte
		for i := range f {
			b, err := field()
			if err != nil {
				return "", nil
			}
			f[i] = b
		}
		family := binary.BigEndian.Uint16(fam[:])
		addrOK := family == familyWild || string(f[0]) == host && (family == familyLocal) == local
		if addrOK && (len(f[1]) == 0 || string(f[1]) == number) && string(f[2]) == "MIT-MAGIC-COOKIE-1" {
			return string(f[2]), f[3]
		}
	}
}

func pad4(n int) int { return (4 - n%4) % 4 }

// setupRequest is the connection setup, little-endian, protocol 11.0.
func setupRequest(authName string, authData []byte) []byte {
	b := []byte{'l', 0, 11, 0, 0, 0}
	b = binary.LittleEndian.AppendUint16(b, uint16(len(authName)))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(authData)))
	b = append(b, 0, 0)
	b = append(b, authName...)
	b = append(b, make([]byte, pad4(len(authName)))...)
	b = append(b, authData...)
	return append(b, make([]byte, pad4(len(authData)))...)
}

// readSetup reads the setup reply and returns the root window of screen.
func readSetup(r io.Reader, screen int) (uint32, error) {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, fmt.Errorf("xmotion: connection setup: %w", err)
	}
	data := make([]byte, int(binary.LittleEndian.Uint16(h[6:]))*4) // at most 256 KiB
	if _, err := io.ReadFull(r, data); err != nil {
		return 0, fmt.Errorf("xmotion: connection setup: %w", err)
	}
	switch h[0] {
	case 1:
	case 0:
		reason := data[:min(int(h[1]), len(data))]
		return 0, fmt.Errorf("xmotion: the X server refused the connection: %s", strings.TrimSpace(string(reason)))
	default:
		return 0, errors.New("xmotion: the X server asks for an authentication this client does not speak")
	}
	return rootOf(data, screen)
}

// rootOf finds screen's root window in a successful setup reply's data.
func rootOf(data []byte, screen int) (uint32, error) {
	bad := fmt.Errorf("xmotion: connection setup: a malformed reply")
	if len(data) < 32 {
		return 0, bad
	}
	vendor := int(binary.LittleEndian.Uint16(data[16:]))
	screens, formats := int(data[20]), int(data[21])
	if screen >= screens {
		return 0, fmt.Errorf("xmotion: the display has no screen %d", screen)
	}
	off := 32 + vendor + pad4(vendor) + 8*formats
	for i := 0; ; i++ {
		if off+40 > len(data) {
			return 0, bad
		}
		if i == screen {
			return binary.LittleEndian.Uint32(data[off:]), nil
		}
		depths := int(data[off+39])
		off += 40
		for range depths {
			if off+8 > len(data) {
				return 0, bad
			}
			off += 8 + 24*int(binary.LittleEndian.Uint16(data[off+2:]))
		}
	}
}

// queryExtension is QueryExtension(name).
func queryExtension(name string) []byte {
	n := len(name) + pad4(len(name))
	b := []byte{opQueryExtension, 0}
	b = binary.LittleEndian.AppendUint16(b, uint16(2+n/4))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(name)))
	b = append(b, 0, 0)
	b = append(b, name...)
	return append(b, make([]byte, pad4(len(name)))...)
}

// queryVersion is XIQueryVersion(2, 2).
func queryVersion(major byte) []byte {
	return []byte{major, xiQueryVersion, 2, 0, 2, 0, 2, 0}
}

// selectRaw is XISelectEvents(root, XIAllMasterDevices: RawMotion, and
// the raw touch events with touch).
func selectRaw(major byte, root uint32, touch bool) []byte {
	b := []byte{major, xiSelectEvents, 5, 0}
	b = binary.LittleEndian.AppendUint32(b, root)
	b = append(b, 1, 0, 0, 0) // one mask, pad
	b = binary.LittleEndian.AppendUint16(b, xiAllMasterDevices)
	b = binary.LittleEndian.AppendUint16(b, 1) // mask length in 4-byte units
	mask := uint32(1) << xiRawMotion
	if touch {
		mask |= 1<<xiRawTouchBegin | 1<<xiRawTouchUpdate | 1<<xiRawTouchEnd
	}
	return binary.LittleEndian.AppendUint32(b, mask)
}

// getInputFocus is GetInputFocus, a request with a reply and no effect.
var getInputFocus = []byte{43, 0, 1, 0}

// readReply reads the reply to request number seq (the connection's
// seq-th request): events before it are skipped; an X error before it (for
// this request or one without a reply sent before it) is returned.
func readReply(r io.Reader, seq uint16) ([]byte, error) {
	for {
		var b [32]byte
		if err := readMessage(r, &b); err != nil {
			return nil, err
		}
		if b[0] == 1 && binary.LittleEndian.Uint16(b[2:]) == seq {
			return b[:], nil
		}
	}
}

// readMessage reads one message of the server into b, the 32 bytes every
// message starts with, and skips what a reply or a Generic Event carries
// beyond them. An X error is returned as one.
func readMessage(r io.Reader, b *[32]byte) error {
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return err
	}
	switch b[0] & 0x7f {
	case 0:
		return fmt.Errorf("X error %d for request %d.%d", b[1], b[10], binary.LittleEndian.Uint16(b[8:]))
	case 1, genericEvent:
		extra := int64(binary.LittleEndian.Uint32(b[4:])) * 4
		if extra > maxExtra {
			return fmt.Errorf("a message of %d bytes", 32+extra)
		}
		if _, err := io.CopyN(io.Discard, r, extra); err != nil {
			return err
		}
	}
	return nil
}
