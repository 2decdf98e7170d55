package procs

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// childEnv makes the test binary act as a program calling SteadySysmon:
// it prints its pid, its name, the GODEBUG its runtime started with (from
// /proc/self/environ, the environment of the current image) and the
// GODEBUG its environment holds afterwards.
const childEnv = "PROCS_TEST_SYSMON_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		pid := os.Getpid()
		if err := SteadySysmon(); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		start := ""
		if b, err := os.ReadFile("/proc/self/environ"); err == nil {
			for kv := range bytes.SplitSeq(b, []byte{0}) {
				if v, ok := bytes.CutPrefix(kv, []byte("GODEBUG=")); ok {
					start = string(v)
				}
			}
		}
		now, set := os.LookupEnv("GODEBUG")
		comm, _ := os.ReadFile("/proc/self/comm")
		fmt.Printf("pid=%d comm=%s start=%q now=%q set=%v\n", pid, bytes.TrimSpace(comm), start, now, set)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestSteadySysmonRunsTheProgramAgain(t *testing.T) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	if time.Duration(ts.Nano()) > maxSteadyUptime {
		t.Skip("this machine has been up too long for the setting")
	}
	tests := []struct {
		name    string
		godebug []string // nil: unset
		want    string   // what the child prints, with its pid
	}{
		{"unset", nil, `start="` + sysmonSetting + `" now="" set=false`},
		{"with other settings", []string{"GODEBUG=madvdontneed=1"},
			`start="madvdontneed=1,` + sysmonSetting + `" now="madvdontneed=1" set=true`},
		{"schedtrace set by hand", []string{"GODEBUG=schedtrace=3600000"},
			`start="schedtrace=3600000" now="schedtrace=3600000" set=true`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "GODEBUG=") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			cmd.Env = append(append(cmd.Env, childEnv+"=1"), tt.godebug...)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			// The same process (exec keeps the pid) ran again, under the
			// same name (the kernel keeps 15 bytes of it).
			comm := filepath.Base(os.Args[0])
			comm = comm[:min(len(comm), 15)]
			want := fmt.Sprintf("pid=%d comm=%s %s\n", cmd.Process.Pid, comm, tt.want)
			if string(out) != want {
				t.Errorf("child printed\n%s\nwant\n%s", out, want)
			}
		})
	}
}
