package installer

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSystemdUnit(t *testing.T) {
	c := &Config{Name: "assist-resume", Exec: "/opt/as sist/assist", Args: []string{"resume", "--service", "assist-resume"},
		Env: map[string]string{"DISPLAY": ":0", "ASSIST_STATE_DIR": `/var/lib/a "b" 100%`}, Kind: KindSystem}
	if err := c.fill(); err != nil {
		t.Fatal(err)
	}
	unit := systemdUnit(c)
	for _, want := range []string{
		"Restart=on-failure\n", "RestartSec=2\n", "StartLimitIntervalSec=0\n",
		`Environment="ASSIST_STATE_DIR=/var/lib/a \"b\" 100%%"` + "\n", `Environment="DISPLAY=:0"` + "\n",
		"WantedBy=multi-user.target\n", "After=network-online.target\n",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	if strings.Contains(unit, "RestartSec=120") {
		t.Error("kardianos's 120 s restart delay")
	}
	c.Kind = KindUser
	if u := systemdUnit(c); !strings.Contains(u, "WantedBy=default.target\n") || strings.Contains(u, "network-online") {
		t.Errorf("user unit:\n%s", u)
	}
}

func TestConfigRefusesWhatCannotGoInAServiceFile(t *testing.T) {
	for _, c := range []Config{
		{Name: "../etc/passwd", Exec: "/bin/true"},
		{Name: "a b", Exec: "/bin/true"},
		{Name: "ok", Exec: "/bin/true", Env: map[string]string{"A": "x\nExecStart=/bin/evil"}},
		{Name: "ok", Exec: "/bin/true", Env: map[string]string{"A B": "x"}},
		{Name: "ok", Exec: "/bin/true", Args: []string{"{{Path}}"}},
	} {
		if err := c.fill(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// TestAutostartEntry: the per-user fallback where there is no systemd
// writes an XDG autostart entry and removes it again.
func TestAutostartEntry(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	c := Config{Name: "assist-resume-test", Exec: "/opt/my apps/assist", Args: []string{"resume", "--service", "assist-resume-test"},
		Env: map[string]string{"DISPLAY": ":0"}, Kind: KindAutostart}
	ctx := context.Background()
	if kind, err := Install(ctx, c); err != nil || kind != KindAutostart {
		t.Fatalf("Install = %q, %v", kind, err)
	}
	b, err := os.ReadFile(filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "autostart", "assist-resume-test.desktop"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `Exec=env DISPLAY=:0 "/opt/my apps/assist" resume --service assist-resume-test`) {
		t.Fatalf("entry:\n%s", b)
	}
	if !Installed(c) {
		t.Fatal("not Installed after Install")
	}
	if err := Uninstall(ctx, c); err != nil {
		t.Fatal(err)
	}
	if f := Files(c); len(f) != 0 || Installed(c) {
		t.Fatalf("left behind: %v", f)
	}
}

// TestSysVServiceForReal installs a service with this machine's SysV init
// (where PID 1 is not systemd and we are root), starts it as init does at
// boot, and checks that Uninstall leaves no init script, rc link, log or
// pid file behind. The agent's own SysV test is in e2e.
func TestSysVServiceForReal(t *testing.T) {
	if !strings.Contains(Platform(), "systemv") || os.Geteuid() != 0 {
		t.Skipf("needs root and a SysV init (platform %s)", Platform())
	}
	name := "assist-installer-test-" + strings.ReplaceAll(t.Name(), "/", "-")[:8] + "-" + time.Now().Format("150405")
	out := filepath.Join(t.TempDir(), "ran")
	c := Config{Name: name, Exec: "/bin/sh", Args: []string{"-c", `echo "$MARK" > "$OUT"; exec sleep 60`},
		Env: map[string]string{"MARK": "it's me", "OUT": out}, Kind: KindSystem}
	ctx := context.Background()
	t.Cleanup(func() {
		exec.Command("/etc/init.d/"+name, "stop").Run()
		Uninstall(ctx, c)
	})
	if _, err := Install(ctx, c); err != nil {
		t.Fatal(err)
	}
	files := Files(c)
	for _, want := range []string{"/etc/init.d/" + name, "/etc/rc2.d/S50" + name, "/etc/rc6.d/K02" + name} {
		found := false
		for _, f := range files {
			found = found || f == want
		}
		if !found {
			t.Fatalf("%s missing after Install; files: %v", want, files)
		}
	}
	// What init runs at boot, with init's empty environment.
	cmd := exec.Command("/etc/init.d/"+name, "start")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("start: %v\n%s", err, b)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(out)
		if err == nil && string(b) == "it's me\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service did not run with its environment: %q %v", b, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if b, err := exec.Command("/etc/init.d/"+name, "stop").CombinedOutput(); err != nil {
		t.Fatalf("stop: %v\n%s", err, b)
	}
	if err := Uninstall(ctx, c); err != nil {
		t.Fatal(err)
	}
	if f := Files(c); len(f) != 0 {
		t.Fatalf("Uninstall left %v", f)
	}
}
