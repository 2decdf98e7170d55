//go:build !linux

package rawio

import "net"

// NewConn returns c: raw system calls are done on Linux only.
func NewConn(c net.Conn) net.Conn { return c }

// NewPacketConn returns pc: raw system calls are done on Linux only.
func NewPacketConn(pc net.PacketConn) net.PacketConn { return pc }
