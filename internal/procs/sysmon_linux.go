package procs

import (
	"fmt"
	"os"
	"os/exec"
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
	exe, err := selfPath()
	if err != nil {
		return err
	}
	err = syscall.Exec(exe, os.Args, env)
	return fmt.Errorf("procs: running again with GODEBUG=%s: %w", p.godebug, err)
}

// selfPath is the path this program was started by (os.Args[0], or where
// the PATH found it) when it still leads to the running executable. The
// process's name (what ps, top and pgrep show) comes from the name
// executed: /proc/self/exe would rename it "exe", and os.Executable names
// the target of a symbolic link. A program whose file was replaced or
// removed since it started is not run again.
func selfPath() (string, error) {
	running, err := os.Stat("/proc/self/exe")
	if err != nil {
		return "", fmt.Errorf("procs: the running executable: %w", err)
	}
	path := os.Args[0]
	if !strings.Contains(path, "/") {
		if path, err = exec.LookPath(path); err != nil {
			return "", fmt.Errorf("procs: finding the executable to run again: %w", err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("procs: finding the executable to run again: %w", err)
	}
	if !os.SameFile(fi, running) {
		return "", fmt.Errorf("procs: %s is no longer the running executable", path)
	}
	return path, nil
}
