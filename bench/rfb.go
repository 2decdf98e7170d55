package bench

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

// RFB encodings and pseudo-encodings this client asks for.
const (
	encRaw        = 0
	encCopyRect   = 1
	encTight      = 7
	encZRLE       = 16
	encRichCursor = -239
	encPointerPos = -232
	encDesktop    = -223
	encLastRect   = -224
	encXCursor    = -240
	// Tight's JPEG quality levels are -32+q (q 0..9).
	encQualityLevel0 = -32
)

// RFBConfig says which encoding a client asks the server for.
type RFBConfig struct {
	Name      string // for reports: "zrle", "tight", "tight-jpeg6"
	Encoding  int32  // encZRLE or encTight
	JPEGLevel int    // 0: no JPEG (lossless Tight); 1..10: quality level JPEGLevel-1
}

// RFBClient reads a VNC server's framebuffer updates as fast as the server
// sends them (an incremental request after every update, as viewers do) and
// counts the bytes. It parses every rectangle to stay in step with the
// stream but does not decode pixels.
type RFBClient struct {
	conn    net.Conn
	r       *bufio.Reader
	bytes   atomic.Int64 // what the server sent after the handshake
	updates atomic.Int64
	lastAt  atomic.Int64 // unix ns of the last byte
	W, H    int
	first   chan struct{} // closed when the first update has been read
	done    chan struct{}
	mu      sync.Mutex
	err     error
}

type countingReader struct {
	r io.Reader
	c *RFBClient
}

func (cr countingReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	if n > 0 {
		cr.c.bytes.Add(int64(n))
		cr.c.lastAt.Store(time.Now().UnixNano())
	}
	return n, err
}

// DialRFB connects, handshakes (RFB 3.8, no authentication, shared),
// sets a 32-bit true-colour pixel format and the encodings of cfg, and
// starts reading updates.
func DialRFB(ctx context.Context, addr string, cfg RFBConfig) (*RFBClient, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("rfb: dial %s: %w", addr, err)
	}
	c := &RFBClient{conn: conn, first: make(chan struct{}), done: make(chan struct{})}
	c.r = bufio.NewReaderSize(countingReader{conn, c}, 1<<16)
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if err := c.handshake(cfg); err != nil {
		conn.Close()
		return nil, fmt.Errorf("rfb: %s: %w", addr, err)
	}
	conn.SetDeadline(time.Time{})
	// The handshake's last write asks for the first update, so nothing of
	// it has been read yet: Bytes counts the updates' stream only.
	c.bytes.Store(0)
	go c.loop()
	return c, nil
}

func (c *RFBClient) handshake(cfg RFBConfig) error {
	ver := make([]byte, 12)
	if _, err := io.ReadFull(c.r, ver); err != nil {
		return fmt.Errorf("version: %w", err)
	}
	if string(ver[:4]) != "RFB " {
		return fmt.Errorf("not an RFB server: %q", ver)
	}
	if _, err := c.conn.Write([]byte("RFB 003.008\n")); err != nil {
		return err
	}
	n, err := c.r.ReadByte()
	if err != nil {
		return err
	}
	if n == 0 {
		return errors.New("server refused the connection")
	}
	types := make([]byte, n)
	if _, err := io.ReadFull(c.r, types); err != nil {
		return err
	}
	none := false
	for _, t := range types {
		none = none || t == 1
	}
	if !none {
		return fmt.Errorf("server wants authentication (types %v)", types)
	}
	if _, err := c.conn.Write([]byte{1}); err != nil {
		return err
	}
	var result uint32
	if err := binary.Read(c.r, binary.BigEndian, &result); err != nil {
		return err
	}
	if result != 0 {
		return fmt.Errorf("security result %d", result)
	}
	if _, err := c.conn.Write([]byte{1}); err != nil { // shared
		return err
	}
	var init struct {
		W, H uint16
		PF   [16]byte
		N    uint32
	}
	if err := binary.Read(c.r, binary.BigEndian, &init); err != nil {
		return err
	}
	if _, err := io.CopyN(io.Discard, c.r, int64(init.N)); err != nil {
		return err
	}
	c.W, c.H = int(init.W), int(init.H)
	// 32 bpp, depth 24, little-endian, true colour, R G B at shifts 0, 8, 16.
	pf := []byte{0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 0, 8, 16, 0, 0, 0}
	encs := []int32{cfg.Encoding, encCopyRect, encRichCursor, encPointerPos, encDesktop, encLastRect}
	if cfg.JPEGLevel > 0 {
		encs = append(encs, int32(encQualityLevel0+cfg.JPEGLevel-1))
	}
	msg := append([]byte{}, pf...)
	msg = append(msg, 2, 0)
	msg = binary.BigEndian.AppendUint16(msg, uint16(len(encs)))
	for _, e := range encs {
		msg = binary.BigEndian.AppendUint32(msg, uint32(e))
	}
	msg = append(msg, c.request(false)...)
	_, err = c.conn.Write(msg)
	return err
}

func (c *RFBClient) request(incremental bool) []byte {
	inc := byte(0)
	if incremental {
		inc = 1
	}
	b := []byte{3, inc}
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(c.W))
	return binary.BigEndian.AppendUint16(b, uint16(c.H))
}

// Bytes is what the server sent since the handshake.
func (c *RFBClient) Bytes() int64 { return c.bytes.Load() }

// FirstUpdate is closed once the first complete update has been read.
func (c *RFBClient) FirstUpdate() <-chan struct{} { return c.first }

// Updates counts complete framebuffer updates.
func (c *RFBClient) Updates() int64 { return c.updates.Load() }

// QuietFor reports how long nothing has arrived.
func (c *RFBClient) QuietFor(now time.Time) time.Duration {
	return now.Sub(time.Unix(0, c.lastAt.Load()))
}

// Err is what stopped the reader, if anything did.
func (c *RFBClient) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close disconnects and waits for the reader.
func (c *RFBClient) Close() error {
	err := c.conn.Close()
	<-c.done
	return err
}

func (c *RFBClient) loop() {
	defer close(c.done)
	err := c.read()
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
}

func (c *RFBClient) read() error {
	for {
		t, err := c.r.ReadByte()
		if err != nil {
			return err
		}
		switch t {
		case 0: // FramebufferUpdate
			if err := c.update(); err != nil {
				return fmt.Errorf("rfb: update: %w", err)
			}
			if c.updates.Add(1) == 1 {
				close(c.first)
			}
			if _, err := c.conn.Write(c.request(true)); err != nil {
				return err
			}
		case 1: // SetColourMapEntries
			var h struct {
				Pad   byte
				First uint16
				N     uint16
			}
			if err := binary.Read(c.r, binary.BigEndian, &h); err != nil {
				return err
			}
			if err := c.skip(6 * int(h.N)); err != nil {
				return err
			}
		case 2: // Bell
		case 3: // ServerCutText
			var h struct {
				Pad [3]byte
				N   uint32
			}
			if err := binary.Read(c.r, binary.BigEndian, &h); err != nil {
				return err
			}
			if err := c.skip(int(h.N)); err != nil {
				return err
			}
		default:
			return fmt.Errorf("rfb: server message type %d", t)
		}
	}
}

func (c *RFBClient) skip(n int) error {
	_, err := io.CopyN(io.Discard, c.r, int64(n))
	return err
}

func (c *RFBClient) u16() (int, error) {
	var b [2]byte
	_, err := io.ReadFull(c.r, b[:])
	return int(binary.BigEndian.Uint16(b[:])), err
}

func (c *RFBClient) update() error {
	if _, err := c.r.ReadByte(); err != nil { // padding
		return err
	}
	n, err := c.u16()
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		var h struct {
			X, Y, W, H uint16
			Enc        int32
		}
		if err := binary.Read(c.r, binary.BigEndian, &h); err != nil {
			return err
		}
		w, hh := int(h.W), int(h.H)
		switch h.Enc {
		case encLastRect:
			return nil
		case encRaw:
			err = c.skip(4 * w * hh)
		case encCopyRect:
			err = c.skip(4)
		case encZRLE:
			var l uint32
			if err = binary.Read(c.r, binary.BigEndian, &l); err == nil {
				err = c.skip(int(l))
			}
		case encTight:
			err = c.tight(w, hh)
		case encRichCursor:
			err = c.skip(4*w*hh + (w+7)/8*hh)
		case encXCursor:
			if w*hh > 0 {
				err = c.skip(6 + 2*(w+7)/8*hh)
			}
		case encPointerPos:
		case encDesktop:
			c.W, c.H = w, hh
		default:
			return fmt.Errorf("rect encoding %d", h.Enc)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// tight skips one Tight rectangle (TPIXELs are 3 bytes at depth 24).
func (c *RFBClient) tight(w, h int) error {
	ctl, err := c.r.ReadByte()
	if err != nil {
		return err
	}
	switch ctl >> 4 {
	case 8: // fill
		return c.skip(3)
	case 9: // JPEG
		n, err := c.compactLen()
		if err != nil {
			return err
		}
		return c.skip(n)
	}
	if ctl&0x80 != 0 {
		return fmt.Errorf("tight control byte %#x", ctl)
	}
	size := 3 * w * h // copy filter
	if ctl&0x40 != 0 {
		filter, err := c.r.ReadByte()
		if err != nil {
			return err
		}
		switch filter {
		case 0:
		case 1: // palette
			nc, err := c.r.ReadByte()
			if err != nil {
				return err
			}
			colours := int(nc) + 1
			if err := c.skip(3 * colours); err != nil {
				return err
			}
			if colours == 2 {
				size = (w + 7) / 8 * h
			} else {
				size = w * h
			}
		case 2: // gradient
		default:
			return fmt.Errorf("tight filter %d", filter)
		}
	}
	if size < 12 {
		return c.skip(size)
	}
	n, err := c.compactLen()
	if err != nil {
		return err
	}
	return c.skip(n)
}

func (c *RFBClient) compactLen() (int, error) {
	n := 0
	for i := 0; i < 3; i++ {
		b, err := c.r.ReadByte()
		if err != nil {
			return 0, err
		}
		if i == 2 {
			return n | int(b)<<14, nil
		}
		n |= int(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			return n, nil
		}
	}
	return n, nil
}
