package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
)

// startProfile writes a CPU profile of the whole run to the file named by
// ASSIST_CPUPROFILE, for performance work (make bench, issue notes). It
// returns the function that finishes the profile. ASSIST_CPUPROFILE_HZ
// raises the sampling rate (default 100 Hz: a few hundred samples for a
// whole workload run, too few to rank functions that cost milliseconds).
func startProfile() func() {
	path := os.Getenv("ASSIST_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "assist: cpu profile:", err)
		return func() {}
	}
	if hz, err := strconv.Atoi(os.Getenv("ASSIST_CPUPROFILE_HZ")); err == nil && hz > 0 {
		// Set before StartCPUProfile, which then keeps it (and says on
		// stderr that it cannot set its own 100 Hz).
		runtime.SetCPUProfileRate(hz)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "assist: cpu profile:", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
