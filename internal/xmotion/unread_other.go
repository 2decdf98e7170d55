//go:build !linux

package xmotion

import "net"

// unread is 0 where the socket cannot tell: only what bufio holds drains.
func unread(net.Conn) int { return 0 }
