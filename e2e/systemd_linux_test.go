package e2e

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"assist/internal/xtest"
	"assist/protocol"
	"assist/rep"
)

// ServiceRootEnv names the Debian root with systemd that
// TestRebootAsServiceSystemd boots (scripts/service-root.sh makes it;
// `make test-service` sets it).
const ServiceRootEnv = "ASSIST_SERVICE_ROOT"

// container is a Debian root booted with systemd-nspawn on an overlay of
// the cached root, sharing the test's network namespace (loopback only
// under make test) and its X server's socket.
type container struct {
	t      *testing.T
	merged string
	args   []string
	boot   *proc
	leader int // the container's PID 1, as seen from here
}

func startContainer(t *testing.T, ctx context.Context, x *xtest.Server) *container {
	t.Helper()
	root := os.Getenv(ServiceRootEnv)
	if root == "" {
		if os.Getenv("ASSIST_REQUIRE_SERVICE") == "1" {
			t.Fatalf("%s is not set (scripts/service-root.sh makes the root)", ServiceRootEnv)
		}
		t.Skipf("%s is not set: run make test-service", ServiceRootEnv)
	}
	for _, tool := range []string{"systemd-nspawn", "nsenter", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed: %v", tool, err)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("systemd-nspawn needs root")
	}
	// The cached root stays pristine: the container writes to an overlay
	// whose upper layer lives in a tmpfs of its own.
	dir := t.TempDir()
	layers, merged := filepath.Join(dir, "layers"), filepath.Join(dir, "root")
	for _, d := range []string{layers, merged} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	run("mount", "-t", "tmpfs", "-o", "size=512m", "assist-layers", layers)
	t.Cleanup(func() { exec.Command("umount", "-l", layers).Run() })
	for _, d := range []string{"upper", "work"} {
		os.MkdirAll(filepath.Join(layers, d), 0o755)
	}
	run("mount", "-t", "overlay", "assist-root", "-o",
		"lowerdir="+root+",upperdir="+filepath.Join(layers, "upper")+",workdir="+filepath.Join(layers, "work"), merged)
	t.Cleanup(func() { exec.Command("umount", "-l", merged).Run() })

	// The agent binary goes in as the customer would put it there.
	b, err := os.ReadFile(filepath.Join(binaries(t), "assist"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(merged, "usr/local/bin/assist"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	c := &container{t: t, merged: merged, args: []string{
		"-D", merged, "-b", "--register=no", "--keep-unit", "--quiet", "--console=pipe",
		"--machine=assist-e2e", "--bind-ro=/tmp/.X11-unix",
	}}
	c.start(ctx)
	t.Cleanup(c.stop)
	return c
}

// start boots the container and waits until its systemd finished booting.
func (c *container) start(ctx context.Context) {
	t := c.t
	t.Helper()
	c.boot = startProc(t, os.Environ(), "/usr/bin/systemd-nspawn", c.args...)
	// PID 1 of the container is the child of nspawn running systemd.
	waitFor(t, ctx, "the container's systemd", func() bool {
		c.leader = childNamed(c.boot.cmd.Process.Pid, "systemd")
		return c.leader != 0
	})
	// systemctl answers once systemd's private socket is up; --wait then
	// waits for the boot to finish.
	var st string
	waitFor(t, ctx, "the container to boot", func() bool {
		out, _ := c.exec(ctx, "systemctl", "is-system-running", "--wait")
		st = strings.TrimSpace(out)
		return !strings.Contains(st, "Failed to connect to bus") && st != "offline"
	})
	if st != "running" && st != "degraded" {
		failed, _ := c.exec(ctx, "systemctl", "--failed", "--no-pager")
		t.Fatalf("the container did not boot: %q\n%s\n%s", st, failed, c.boot.output())
	}
}

// childNamed finds a child process of pid whose command is name.
func childNamed(pid int, name string) int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, s := range strings.Fields(string(b)) {
			child, _ := strconv.Atoi(s)
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", child))
			if strings.TrimSpace(string(comm)) == name {
				return child
			}
		}
	}
	return 0
}

// exec runs a command inside the container and returns its output.
func (c *container) exec(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"-t", strconv.Itoa(c.leader), "-a", "--"}, args...)...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// spawn starts a long-running command inside the container.
func (c *container) spawn(env []string, args ...string) *proc {
	return startProc(c.t, []string{"PATH=/usr/bin:/bin"}, "/usr/bin/nsenter",
		append(append([]string{"-t", strconv.Itoa(c.leader), "-a", "--", "/usr/bin/env", "-i"}, env...), args...)...)
}

func (c *container) stop() {
	if c.boot == nil {
		return
	}
	select {
	case <-c.boot.done:
		return
	default:
	}
	c.boot.cmd.Process.Signal(syscall.SIGTERM) // nspawn shuts the container down
	select {
	case <-c.boot.done:
	case <-time.After(30 * time.Second):
		c.boot.cmd.Process.Kill()
		<-c.boot.done
	}
}

// TestRebootAsServiceSystemd is the reboot path against a real systemd:
// a Debian root booted with systemd-nspawn. The agent runs inside as root;
// the rep asks for a reboot; the customer allows it; the agent installs
// its systemd service, writes the ticket and runs `systemctl reboot` for
// real; the container reboots; systemd starts the service, which resumes
// the session (the rep sees the screen again) and, when the rep ends the
// session, removes itself and the ticket.
func TestRebootAsServiceSystemd(t *testing.T) {
	x := xtest.Start(t, xtest.Size(320, 240))
	ctx := deadline(t, 240*time.Second)
	s := startStack(t, ctx, x)
	box := startContainer(t, ctx, x)
	code := s.newCode(t, ctx)
	const service = "assist-resume-e2e"
	env := []string{"DISPLAY=" + x.Display, "ASSIST_ICE_LOOPBACK=1", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"}
	agent := box.spawn(env, "/usr/local/bin/assist", "join", code, "--server", s.url, "--yes", "--no-browser", "--service", service)
	c, err := rep.Attach(ctx, s.repConfig(), code)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WaitFrame(ctx, false); err != nil {
		t.Fatalf("%v\n%s", err, agent.output())
	}
	if _, err := c.SendChat(ctx, "Restarting your computer now."); err != nil {
		t.Fatal(err)
	}
	out, errOut, rc := s.rep(t, ctx, "reboot", code)
	if rc != 0 {
		t.Fatalf("assist-rep reboot: exit %d %q %q\n%s", rc, out, errOut, agent.output())
	}
	// systemctl reboot: the container's systemd shuts down and nspawn exits.
	if _, err := box.boot.exitCode(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitState(ctx, protocol.StateSuspended); err != nil {
		t.Fatal(err)
	}
	unit, err := os.ReadFile(filepath.Join(box.merged, "etc/systemd/system", service+".service"))
	if err != nil || !strings.Contains(string(unit), "RestartSec=2\n") || !strings.Contains(string(unit), "DISPLAY="+x.Display) {
		t.Fatalf("the installed unit: %v\n%s", err, unit)
	}
	if _, err := os.Lstat(filepath.Join(box.merged, "etc/systemd/system/multi-user.target.wants", service+".service")); err != nil {
		t.Fatalf("the service is not enabled: %v", err)
	}

	// Boot again: systemd starts the service, which resumes the session.
	x.Show(t, solid(320, 240, color.RGBA{90, 30, 160, 255}))
	booted := time.Now()
	box.start(ctx)
	fctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	purple := color.RGBA{90, 30, 160, 255}
	if _, err := c.WaitPicture(fctx, func(img *image.RGBA) bool { return img.RGBAAt(1, 1) == purple }); err != nil {
		dctx, dcancel := context.WithTimeout(context.Background(), 20*time.Second)
		status, _ := box.exec(dctx, "systemctl", "status", "--no-pager", service)
		journal, _ := box.exec(dctx, "journalctl", "-u", service, "--no-pager", "-n", "60")
		dcancel()
		t.Fatalf("no screen after the reboot: %v\n%s\n%s", err, status, journal)
	}
	t.Logf("container boot to the first frame at the rep: %v", time.Since(booted))
	if err := c.WaitGreeted(ctx); err != nil {
		t.Fatal(err)
	}
	if got := chatTexts(c.Chat()); len(got) != 1 {
		t.Fatalf("chat after the reboot: %q", got)
	}

	// The end: the service removes itself, and the ticket goes.
	if err := c.End(ctx, "fixed"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the service to remove itself", func() bool {
		_, err1 := os.Lstat(filepath.Join(box.merged, "etc/systemd/system", service+".service"))
		_, err2 := os.Lstat(filepath.Join(box.merged, "etc/systemd/system/multi-user.target.wants", service+".service"))
		return os.IsNotExist(err1) && os.IsNotExist(err2)
	})
	waitFor(t, ctx, "the ticket to go", func() bool { return len(entries(t, filepath.Join(box.merged, "var/lib/assist"))) == 0 })
	waitFor(t, ctx, "the service to stop", func() bool {
		out, _ := box.exec(ctx, "systemctl", "is-active", service)
		st := strings.TrimSpace(out)
		return st == "inactive" || st == "unknown"
	})
	if out, _ := box.exec(ctx, "systemctl", "is-failed", service); strings.TrimSpace(out) == "failed" {
		t.Fatalf("the service ended failed")
	}
}
