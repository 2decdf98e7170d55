package e2e

import (
	"context"
	"image"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"assist/installer"
	"assist/internal/xtest"
	"assist/protocol"
	"assist/reconnect"
)

// waitFor polls cond (a state outside this process: files, another
// process) until it holds or ctx ends.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// TestRebootAsServiceSysV is the reboot path on this machine's own service
// manager (SysV init, PID 1 is not systemd): the rep asks for a reboot, the
// customer allows it, the agent installs itself as a service, writes the
// ticket and "restarts" (the test replaces the restart with stopping the
// agent, as a power cut would); the test then boots the service as init
// does, with init's empty environment, and checks that the session
// resumes and that the service removes every trace of itself when the rep
// ends the session. The systemd path is TestRebootAsServiceSystemd.
func TestRebootAsServiceSysV(t *testing.T) {
	if !strings.Contains(installer.Platform(), "systemv") || os.Geteuid() != 0 {
		t.Skipf("needs root and SysV init (platform %s)", installer.Platform())
	}
	x := xtest.Start(t, xtest.Size(320, 240))
	ctx := deadline(t, 120*time.Second)
	s := startStack(t, ctx, x)
	code := s.newCode(t, ctx)
	state := filepath.Join(t.TempDir(), "state")
	service := "assist-e2e-sysv-" + code[:6]
	svc := installer.Config{Name: service}
	t.Cleanup(func() {
		if b, err := os.ReadFile("/var/run/" + service + ".pid"); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				if p, err := os.FindProcess(pid); err == nil {
					p.Kill()
				}
			}
		}
		installer.Uninstall(context.Background(), svc)
	})
	agent := s.lifecycleAgent(t, code, state, "--reboot-command", "exit", "--service", service)
	c := s.watch(t, ctx, code)
	if _, err := c.SendChat(ctx, "I will restart your computer now."); err != nil {
		t.Fatal(err)
	}

	out, errOut, rc := s.rep(t, ctx, "reboot", code)
	if rc != 0 || !strings.HasPrefix(out, "restarting: ") {
		t.Fatalf("assist-rep reboot: exit %d, %q %q", rc, out, errOut)
	}
	if rc, err := agent.exitCode(ctx); rc != 0 || err != nil {
		t.Fatalf("agent after the reboot: exit %d %v\n%s", rc, err, agent.output())
	}
	if !strings.Contains(agent.output(), "The computer is restarting") {
		t.Fatalf("the agent did not tell the customer:\n%s", agent.output())
	}
	if err := c.WaitState(ctx, protocol.StateSuspended); err != nil {
		t.Fatal(err)
	}
	if !installer.Installed(svc) {
		t.Fatalf("no service installed; files %v", installer.Files(svc))
	}
	if _, err := os.Stat(filepath.Join(state, "ticket.json")); err != nil {
		t.Fatalf("no resume ticket: %v", err)
	}

	// Boot: init runs the script with an empty environment.
	x.Show(t, solid(320, 240, color.RGBA{0, 160, 60, 255}))
	boot := exec.CommandContext(ctx, "/etc/init.d/"+service, "start")
	boot.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	if b, err := boot.CombinedOutput(); err != nil {
		t.Fatalf("init start: %v\n%s", err, b)
	}
	if _, err := c.WaitPicture(ctx, func(img *image.RGBA) bool { return img.RGBAAt(3, 3) == (color.RGBA{0, 160, 60, 255}) }); err != nil {
		log, _ := os.ReadFile("/var/log/" + service + ".log")
		t.Fatalf("no screen after the boot: %v\nservice output:\n%s", err, log)
	}
	if err := c.WaitGreeted(ctx); err != nil {
		t.Fatal(err)
	}
	if got := chatTexts(c.Chat()); len(got) != 1 || got[0] != "rep: I will restart your computer now." {
		t.Fatalf("chat after the reboot: %q", got)
	}
	logText, _ := os.ReadFile("/var/log/" + service + ".log")
	if !regexp.MustCompile(`Resumed the session`).Match(logText) {
		t.Fatalf("the service did not say it resumed:\n%s", logText)
	}

	// The session ends: the service removes itself and the ticket.
	if err := c.End(ctx, "all fixed"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the service to remove itself", func() bool { return len(installer.Files(svc)) == 0 })
	waitFor(t, ctx, "the ticket to go", func() bool { return len(entries(t, state)) == 0 })
}

// TestServiceWithExpiredTicketRemovesItself: a machine that comes back
// after the window (off for longer than ten minutes) finds the ticket past
// its deadline: the service deletes it, removes itself and exits cleanly,
// so that the service manager does not start it again.
func TestServiceWithExpiredTicketRemovesItself(t *testing.T) {
	if !strings.Contains(installer.Platform(), "systemv") || os.Geteuid() != 0 {
		t.Skipf("needs root and SysV init (platform %s)", installer.Platform())
	}
	ctx := deadline(t, 60*time.Second)
	state := filepath.Join(t.TempDir(), "state")
	store := &reconnect.Store{Dir: state}
	if _, err := store.Save(reconnect.Ticket{Session: "s", Secret: "x", Server: "http://127.0.0.1:9",
		Deadline: time.Now().Add(-time.Minute), Service: "assist-e2e-expired"}); err != nil {
		t.Fatal(err)
	}
	svc := installer.Config{Name: "assist-e2e-expired", Exec: filepath.Join(binaries(t), "assist"),
		Args: []string{"resume", "--service", "assist-e2e-expired", "--state-dir", state, "--no-browser"}}
	t.Cleanup(func() { installer.Uninstall(context.Background(), svc) })
	if _, err := installer.Install(ctx, svc); err != nil {
		t.Fatal(err)
	}
	boot := exec.CommandContext(ctx, "/etc/init.d/assist-e2e-expired", "start")
	boot.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	if b, err := boot.CombinedOutput(); err != nil {
		t.Fatalf("init start: %v\n%s", err, b)
	}
	waitFor(t, ctx, "the service to remove itself", func() bool { return len(installer.Files(svc)) == 0 })
	waitFor(t, ctx, "the expired ticket to go", func() bool { return len(entries(t, state)) == 0 })
}
