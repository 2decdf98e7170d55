package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// isTerminal reports whether stdin is a terminal (not /dev/null, which is
// a character device too).
func isTerminal() bool {
	_, err := unix.IoctlGetTermios(int(os.Stdin.Fd()), unix.TCGETS)
	return err == nil
}
