package rawio

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pion/ice/v4"
)

// pair returns a connected pair of Unix stream sockets.
func pair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	a, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := <-accepted
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// TestConnCarriesAStream sends more than the socket buffers hold both ways
// (writes that stop on a full socket, reads that wait for data), then
// sees the end of the stream and a closed connection's error.
func TestConnCarriesAStream(t *testing.T) {
	a, b := pair(t)
	ra := NewConn(a)
	if _, ok := ra.(*Conn); !ok {
		t.Fatalf("NewConn(%T) did not wrap it", a)
	}
	// Still a syscall.Conn: callers ask it how many bytes wait.
	if sc, ok := ra.(syscall.Conn); !ok {
		t.Error("the wrapped connection is no syscall.Conn")
	} else if _, err := sc.SyscallConn(); err != nil {
		t.Error(err)
	}
	var _ ice.AddrPortReaderWriter = (*PacketConn)(nil) // what pion's UDP mux looks for
	data := make([]byte, 4<<20)
	rand.Read(data)
	for _, dir := range []struct {
		name string
		w, r net.Conn
	}{{"raw writes", ra, b}, {"raw reads", b, ra}} {
		t.Run(dir.name, func(t *testing.T) {
			errc := make(chan error, 1)
			go func() {
				n, err := dir.w.Write(data)
				if err == nil && n != len(data) {
					err = io.ErrShortWrite
				}
				errc <- err
			}()
			got := make([]byte, len(data))
			if _, err := io.ReadFull(dir.r, got); err != nil {
				t.Fatal(err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatal("the bytes read differ from the bytes written")
			}
		})
	}
	if n, err := ra.Read(nil); n != 0 || err != nil {
		t.Errorf("an empty read: %d, %v", n, err)
	}
	b.Close()
	if _, err := ra.Read(make([]byte, 10)); err != io.EOF {
		t.Errorf("read after the peer closed: %v, want EOF", err)
	}
	ra.Close()
	if _, err := ra.Read(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after Close: %v, want net.ErrClosed", err)
	}
	if _, err := ra.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after Close: %v, want net.ErrClosed", err)
	}
}

// TestConnDeadlineAndClose: a raw read waiting for data ends at its
// deadline, and when the connection is closed under it.
func TestConnDeadlineAndClose(t *testing.T) {
	a, _ := pair(t)
	ra := NewConn(a)
	ra.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := ra.Read(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past its deadline: %v", err)
	}
	ra.SetReadDeadline(time.Time{})
	errc := make(chan error, 1)
	go func() {
		_, err := ra.Read(make([]byte, 10))
		errc <- err
	}()
	ra.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read when closed: %v", err)
	}
}

func udp(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestPacketConnCarriesDatagrams: datagrams go both ways through the raw
// calls, with the sender's address, through both method sets; a read
// waits for its datagram, ends at its deadline and when closed.
func TestPacketConnCarriesDatagrams(t *testing.T) {
	a, b := udp(t), udp(t)
	pc := NewPacketConn(a)
	ra, ok := pc.(*PacketConn)
	if !ok {
		t.Fatalf("NewPacketConn(%T) did not wrap it", a)
	}
	bAddr := b.LocalAddr().(*net.UDPAddr).AddrPort()
	aAddr := a.LocalAddr().(*net.UDPAddr).AddrPort()

	if n, err := ra.WriteToAddrPort([]byte("hello"), bAddr); n != 5 || err != nil {
		t.Fatalf("WriteToAddrPort: %d, %v", n, err)
	}
	buf := make([]byte, 64)
	n, from, err := b.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:n]) != "hello" || from != aAddr {
		t.Fatalf("received %q from %v (%v), want hello from %v", buf[:n], from, err, aAddr)
	}
	if _, err := ra.WriteTo([]byte("again"), net.UDPAddrFromAddrPort(bAddr)); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := b.ReadFromUDPAddrPort(buf); string(buf[:n]) != "again" {
		t.Fatalf("received %q, want again", buf[:n])
	}
	// Mapped into IPv6, as some callers hold it.
	mapped := netip.AddrPortFrom(netip.AddrFrom16(bAddr.Addr().As16()), bAddr.Port())
	if _, err := ra.WriteToAddrPort([]byte("mapped"), mapped); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := b.ReadFromUDPAddrPort(buf); string(buf[:n]) != "mapped" {
		t.Fatalf("received %q, want mapped", buf[:n])
	}

	// The raw read waits for a datagram sent after it started.
	got := make(chan string, 1)
	go func() {
		n, from, err := ra.ReadFromAddrPort(buf)
		switch {
		case err != nil:
			got <- err.Error()
		case from != bAddr:
			got <- "from " + from.String()
		default:
			got <- string(buf[:n])
		}
	}()
	if _, err := b.WriteToUDPAddrPort([]byte("back"), aAddr); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "back" {
		t.Fatalf("raw read: %q", s)
	}
	b.WriteToUDPAddrPort([]byte("from"), aAddr)
	n, addr, err := ra.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "from" || addr.String() != bAddr.String() {
		t.Fatalf("ReadFrom: %q from %v, %v", buf[:n], addr, err)
	}

	ra.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, _, err := ra.ReadFromAddrPort(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past its deadline: %v", err)
	}
	ra.SetReadDeadline(time.Time{})
	errc := make(chan error, 1)
	go func() {
		_, _, err := ra.ReadFromAddrPort(buf)
		errc <- err
	}()
	ra.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read when closed: %v", err)
	}
}

// TestNewPacketConnLeavesOthers: only IPv4 UDP sockets are wrapped.
func TestNewPacketConnLeavesOthers(t *testing.T) {
	c6, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	defer c6.Close()
	if pc := NewPacketConn(c6); pc != net.PacketConn(c6) {
		t.Errorf("an IPv6 socket was wrapped: %T", pc)
	}
}
