//go:build !linux

package bench

import "testing"

// cpuSeconds needs Linux's process CPU-time clocks; the workload runs on
// Linux only (Xvfb, x11vnc, /proc).
func cpuSeconds(t *testing.T, pid int) float64 {
	t.Fatal("the workload benchmark runs on Linux only")
	return 0
}
