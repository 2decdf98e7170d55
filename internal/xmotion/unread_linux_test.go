package xmotion

import (
	"net"
	"path/filepath"
	"testing"

	"assist/internal/rawio"
)

// TestUnread: what was written to a socket and not read yet is counted,
// also through internal/rawio's wrapper (Open's connection).
func TestUnread(t *testing.T) {
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	accepted, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer accepted.Close()
	s := rawio.NewConn(accepted)
	if n := unread(s); n != 0 {
		t.Fatalf("%d bytes unread before any write", n)
	}
	if _, err := c.Write(make([]byte, 96)); err != nil {
		t.Fatal(err)
	}
	if n := unread(s); n != 96 {
		t.Fatalf("%d bytes unread, want 96", n)
	}
	if _, err := s.Read(make([]byte, 32)); err != nil {
		t.Fatal(err)
	}
	if n := unread(s); n != 64 {
		t.Fatalf("%d bytes unread after reading 32, want 64", n)
	}
}
