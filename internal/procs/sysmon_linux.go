package procs

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// SteadySysmon keeps the runtime's system monitor from polling at 20 µs
// through every burst of work (see sysmonSetting): called first thing in
// main, it runs the program again (same process, arguments and environment)
// with the GODEBUG setting that does it, and in the new image takes the
// setting back out of the environment. It returns nil without doing
// anything when GODEBUG already sets schedtrace or the machine has been up
// too long for it; an error means the program carries on as it is.
func SteadySysmon() error {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return fmt.Errorf("procs: reading the time since boot: %w", err)
	}
	p := planSysmon(os.Getenv("GODEBUG"), time.Duration(ts.Nano()))
	switch {
	case p.restore && p.godebug == "":
		return os.Unsetenv("GODEBUG")
	case p.restore:
		return os.Setenv("GODEBUG", p.godebug)
	case !p.exec:
		return nil
	}
	env := make([]string, 0, len(os.Environ())+1)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GODEBUG=") {
			env = append(env, kv)
		}
	}
	env = append(env, "GODEBUG="+p.godebug)
	// The executable by its path, not /proc/self/exe: the process's name
	// (what ps, top and pgrep show) comes from the name executed.
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("procs: finding the executable to run again: %w", err)
	}
	err = syscall.Exec(exe, os.Args, env)
	return fmt.Errorf("procs: running again with GODEBUG=%s: %w", p.godebug, err)
}
