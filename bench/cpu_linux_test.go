package bench

import (
	"testing"

	"golang.org/x/sys/unix"
)

// cpuSeconds is the CPU time pid's threads have used so far, live and
// exited, to the nanosecond: the process's CPU-time clock (what
// clock_getcpuclockid returns). /proc/PID/stat counts in clock ticks, 10 ms
// here, as coarse as a whole phase of some passes.
func cpuSeconds(t *testing.T, pid int) float64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(int32(^pid<<3|2), &ts); err != nil { // CPUCLOCK_SCHED of process pid
		t.Fatalf("cpu of %d: %v", pid, err)
	}
	return float64(ts.Nano()) / 1e9
}
