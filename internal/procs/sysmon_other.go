//go:build !linux

package procs

// SteadySysmon does nothing here: without exec the runtime's GODEBUG
// cannot change after start.
func SteadySysmon() error { return nil }
