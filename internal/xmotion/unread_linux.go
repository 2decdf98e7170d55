package xmotion

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// unread is how many bytes the socket holds that were not read yet.
func unread(conn net.Conn) int {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return 0
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	_ = rc.Control(func(fd uintptr) {
		n, _ = unix.IoctlGetInt(int(fd), unix.TIOCINQ) // FIONREAD: unread bytes of a socket
	})
	return n
}
