package procs

import (
	"strings"
	"time"
)

// The runtime's system monitor (sysmon) sleeps 20 µs between rounds while
// the program works, doubling the pause after 1 ms without anything to
// do, up to 10 ms. When every processor is idle it sleeps deeply until the
// next timer; the first system call after that wakes it and resets its
// pause to 20 µs. A sharing agent is idle between bursts (a keystroke's
// glyph, a scrolled line) and each burst starts with a system call, so the
// monitor polled at 20 µs through every burst. With schedtrace set it
// never sleeps deeply and keeps its backed-off pause: on the workload of
// `make bench`, alternating runs, the agent's context switches fell from
// 8,100-8,500 to 4,100 and agent+Xvfb CPU from 0.44-0.46 to 0.32-0.39 s,
// key-to-pixel latency unchanged. Once the pointer was no longer polled
// (fewer bursts) the gain shrank: five alternating pairs, 0.27-0.32 s
// (mean 0.30) -> 0.25-0.30 s (mean 0.28), switches 5,060-5,360 ->
// 2,780-2,840.
//
// The price: the monitor also wakes every 10 ms while the agent idles
// (~90 more wake-ups a second than a deep sleep until the next timer; the
// workload's idle CPU 0.1-0.3% -> 0.2-0.4% of a core, inside its 1%), and
// a crash prints the scheduler's state (every M, P and goroutine) before
// the panic's own lines.
//
// The runtime reads GODEBUG once at start, so the setting takes a new
// process image (SteadySysmon execs the agent again); the new image takes
// it out of its environment again so that the programs it starts do not
// inherit it. schedtrace prints a line on stderr when the monotonic clock
// passes its period (2^31-1 ms, 24.8 days since boot) and then every 24.8
// days: on a machine up for longer than maxSteadyUptime the setting is not
// made.
const sysmonSetting = "schedtrace=2147483647"

// maxSteadyUptime leaves four days of session before the clock reaches the
// setting's period.
const maxSteadyUptime = 20 * 24 * time.Hour

// sysmonPlan is what SteadySysmon does.
type sysmonPlan struct {
	exec    bool   // run the program again with GODEBUG=godebug
	restore bool   // set GODEBUG to godebug (unset it when empty)
	godebug string // the value for exec or restore
}

// planSysmon decides from the process's GODEBUG and the time since boot.
func planSysmon(godebug string, uptime time.Duration) sysmonPlan {
	if godebug == sysmonSetting {
		return sysmonPlan{restore: true}
	}
	if orig, ok := strings.CutSuffix(godebug, ","+sysmonSetting); ok {
		return sysmonPlan{restore: true, godebug: orig}
	}
	for field := range strings.SplitSeq(godebug, ",") {
		if key, _, _ := strings.Cut(field, "="); strings.TrimSpace(key) == "schedtrace" {
			return sysmonPlan{} // set by hand: kept as it is
		}
	}
	if uptime > maxSteadyUptime {
		return sysmonPlan{}
	}
	if godebug == "" {
		return sysmonPlan{exec: true, godebug: sysmonSetting}
	}
	return sysmonPlan{exec: true, godebug: godebug + "," + sysmonSetting}
}
