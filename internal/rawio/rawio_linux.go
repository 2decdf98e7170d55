package rawio

import (
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"syscall"
	"unsafe"
)

// Conn is a stream socket whose Read and Write are raw system calls.
type Conn struct {
	net.Conn
	rc syscall.RawConn
}

// NewConn returns c reading and writing through raw system calls when it
// is a TCP or Unix socket, else c itself (a wrapper that buffers or
// transforms what it carries must not be bypassed).
func NewConn(c net.Conn) net.Conn {
	var sc syscall.Conn
	switch c := c.(type) {
	case *net.TCPConn:
		sc = c
	case *net.UnixConn:
		sc = c
	default:
		return c
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	return &Conn{Conn: c, rc: rc}
}

// SyscallConn implements syscall.Conn, as the socket it wraps does (a
// caller asks it how many bytes wait, say).
func (c *Conn) SyscallConn() (syscall.RawConn, error) { return c.rc, nil }

// raw makes one system call on the socket's descriptor through wait
// (RawConn.Read or RawConn.Write): again after EINTR, and after EAGAIN once
// the network poller says the socket is ready (the poller is edge
// triggered: only EAGAIN may hand back to it). It returns the call's result
// and errno, or wait's error (deadline, closed).
func raw(wait func(func(fd uintptr) bool) error, call func(fd uintptr) (uintptr, syscall.Errno)) (int, syscall.Errno, error) {
	var n int
	var errno syscall.Errno
	err := wait(func(fd uintptr) bool {
		for {
			r, e := call(fd)
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false
			}
			n, errno = int(r), e
			return true
		}
	})
	return n, errno, err
}

// Read implements net.Conn.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, errno, err := raw(c.rc.Read, func(fd uintptr) (uintptr, syscall.Errno) {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		return r, e
	})
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, &net.OpError{Op: "read", Net: c.LocalAddr().Network(), Addr: c.LocalAddr(), Err: errno}
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write implements net.Conn: all of p, or an error.
func (c *Conn) Write(p []byte) (int, error) {
	off := 0
	for off < len(p) {
		n, errno, err := raw(c.rc.Write, func(fd uintptr) (uintptr, syscall.Errno) {
			r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[off])), uintptr(len(p)-off))
			return r, e
		})
		if err != nil {
			return off, err
		}
		if errno == 0 && n == 0 {
			errno = syscall.EIO // no progress and no error: never loop on it
		}
		if errno != 0 {
			return off, &net.OpError{Op: "write", Net: c.LocalAddr().Network(), Addr: c.LocalAddr(), Err: errno}
		}
		off += n
	}
	return off, nil
}

// PacketConn is an IPv4 UDP socket whose reads and writes are raw system
// calls. Besides net.PacketConn it has pion ICE's allocation-free
// ReadFromAddrPort and WriteToAddrPort (ice.AddrPortReaderWriter).
type PacketConn struct {
	*net.UDPConn
	rc syscall.RawConn
}

// NewPacketConn returns pc reading and writing through raw system calls
// when it is an IPv4 UDP socket, else pc itself.
func NewPacketConn(pc net.PacketConn) net.PacketConn {
	u, ok := pc.(*net.UDPConn)
	if !ok {
		return pc
	}
	la, ok := u.LocalAddr().(*net.UDPAddr)
	if !ok || la.IP.To4() == nil {
		return pc
	}
	rc, err := u.SyscallConn()
	if err != nil {
		return pc
	}
	return &PacketConn{UDPConn: u, rc: rc}
}

// ReadFromAddrPort reads one datagram and says where it came from.
func (c *PacketConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	var sa syscall.RawSockaddrInet4
	var bp unsafe.Pointer
	if len(b) > 0 {
		bp = unsafe.Pointer(&b[0])
	}
	n, errno, err := raw(c.rc.Read, func(fd uintptr) (uintptr, syscall.Errno) {
		alen := uint32(unsafe.Sizeof(sa))
		r, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(bp), uintptr(len(b)), 0,
			uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&alen)))
		return r, e
	})
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	if errno != 0 {
		return 0, netip.AddrPort{}, &net.OpError{Op: "read", Net: "udp", Addr: c.LocalAddr(), Err: errno}
	}
	if sa.Family != syscall.AF_INET {
		// An IPv6 socket with an IPv4 address (net.FilePacketConn):
		// not ours to decode.
		return 0, netip.AddrPort{}, &net.OpError{Op: "read", Net: "udp", Addr: c.LocalAddr(), Err: syscall.EAFNOSUPPORT}
	}
	port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
	return n, netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), port), nil
}

// WriteToAddrPort sends one datagram to addr (an IPv4 address, or one
// mapped into IPv6; anything else goes through the socket's own method,
// which refuses it on an IPv4 socket).
func (c *PacketConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	ip := addr.Addr().Unmap()
	if !ip.Is4() {
		return c.UDPConn.WriteToUDPAddrPort(b, addr)
	}
	sa := syscall.RawSockaddrInet4{Family: syscall.AF_INET, Addr: ip.As4()}
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:], addr.Port())
	var bp unsafe.Pointer
	if len(b) > 0 {
		bp = unsafe.Pointer(&b[0])
	}
	n, errno, err := raw(c.rc.Write, func(fd uintptr) (uintptr, syscall.Errno) {
		r, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(bp), uintptr(len(b)), 0,
			uintptr(unsafe.Pointer(&sa)), unsafe.Sizeof(sa))
		return r, e
	})
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, &net.OpError{Op: "write", Net: "udp", Addr: net.UDPAddrFromAddrPort(addr), Err: errno}
	}
	return n, nil
}

// ReadFrom implements net.PacketConn.
func (c *PacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, ap, err := c.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(ap), nil
}

// WriteTo implements net.PacketConn.
func (c *PacketConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	u, ok := addr.(*net.UDPAddr)
	if !ok {
		return c.UDPConn.WriteTo(b, addr) // its error: not a UDP address
	}
	return c.WriteToAddrPort(b, u.AddrPort())
}
