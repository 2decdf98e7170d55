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
// /proc/self/environ, the environment of the current image), the GODEBUG
// its environment holds afterwards and SteadySysmon's error. With
// removeEnv set it first removes its own executable.
const (
	childEnv  = "PROCS_TEST_SYSMON_CHILD"
	removeEnv = "PROCS_TEST_SYSMON_REMOVE"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		pid := os.Getpid()
		if os.Getenv(removeEnv) == "1" {
			if err := os.Remove(os.Args[0]); err != nil {
				fmt.Println("remove:", err)
				os.Exit(1)
			}
		}
		err := SteadySysmon()
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
		fmt.Printf("pid=%d comm=%s start=%q now=%q set=%v err=%v\n", pid, bytes.TrimSpace(comm), start, now, set, err != nil)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// copyExe copies the test binary to dir/name.
func copyExe(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSteadySysmonRunsTheProgramAgain(t *testing.T) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	if time.Duration(ts.Nano()) > maxSteadyUptime {
		t.Skip("this machine has been up too long for the setting")
	}
	dir := t.TempDir()
	link := filepath.Join(dir, "steady-agent")
	if err := os.Symlink(os.Args[0], link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		exe  string   // what to run ("": the test binary)
		env  []string // GODEBUG and removeEnv; GODEBUG unset when absent
		comm string   // the process's name ("": the test binary's)
		want string   // what the child prints after its pid and name
	}{
		{"unset", "", nil, "", `start="` + sysmonSetting + `" now="" set=false err=false`},
		{"with other settings", "", []string{"GODEBUG=madvdontneed=1"}, "",
			`start="madvdontneed=1,` + sysmonSetting + `" now="madvdontneed=1" set=true err=false`},
		{"schedtrace set by hand", "", []string{"GODEBUG=schedtrace=3600000"}, "",
			`start="schedtrace=3600000" now="schedtrace=3600000" set=true err=false`},
		// Run through a link, the process keeps the link's name.
		{"through a symbolic link", link, nil, "steady-agent",
			`start="` + sysmonSetting + `" now="" set=false err=false`},
		// A program whose file went away carries on as it is.
		{"executable removed", copyExe(t, dir, "gone-agent"), []string{removeEnv + "=1"}, "gone-agent",
			`start="" now="" set=false err=true`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exe, comm := tt.exe, tt.comm
			if exe == "" {
				exe = os.Args[0]
			}
			if comm == "" {
				comm = filepath.Base(os.Args[0])
			}
			cmd := exec.Command(exe, "-test.run=^$")
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "GODEBUG=") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			cmd.Env = append(append(cmd.Env, childEnv+"=1"), tt.env...)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			// The same process (exec keeps the pid) ran again, under the
			// same name (the kernel keeps 15 bytes of it).
			want := fmt.Sprintf("pid=%d comm=%s %s\n", cmd.Process.Pid, comm[:min(len(comm), 15)], tt.want)
			if string(out) != want {
				t.Errorf("child printed\n%s\nwant\n%s", out, want)
			}
		})
	}
}
