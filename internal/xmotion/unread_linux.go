package xmotion

import (
	"net"
	"syscall"
	"unsafe"

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
	var n int32
	_ = rc.Control(func(fd uintptr) {
		// FIONREAD: unread bytes of a socket. A raw call, like the
		// connection's reads (internal/rawio): it never blocks.
		if _, _, e := syscall.RawSyscall(syscall.SYS_IOCTL, fd, unix.TIOCINQ, uintptr(unsafe.Pointer(&n))); e != 0 {
			n = 0
		}
	})
	return int(n)
}
