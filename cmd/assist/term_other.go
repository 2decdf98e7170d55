//go:build !linux

package main

import "os"

// isTerminal reports whether stdin looks like a terminal.
func isTerminal() bool {
	fi, err := os.Stdin.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && fi.Name() != os.DevNull
}
