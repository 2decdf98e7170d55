package installer

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// RestartSec is the systemd restart delay of our unit: seconds, where
// kardianos's own unit waits 120 s (two of the ten reconnect minutes).
const RestartSec = 2

func sortedEnv(env map[string]string) []string {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// systemdUnit is our unit template, in kardianos's template language, with
// the environment written in (quoted) by us. The service restarts on
// failure after RestartSec without a start limit (it may start before
// the network or the display is there); a clean exit (the session ended,
// the service removed itself) is final.
func systemdUnit(c *Config) string {
	var env strings.Builder
	for _, k := range sortedEnv(c.Env) {
		v := strings.ReplaceAll(strings.ReplaceAll(c.Env[k], `\`, `\\`), `"`, `\"`)
		fmt.Fprintf(&env, "Environment=\"%s=%s\"\n", k, strings.ReplaceAll(v, "%", "%%"))
	}
	wanted := "multi-user.target"
	after := "After=network-online.target\nWants=network-online.target\n"
	if c.Kind == KindUser {
		wanted = "default.target"
		after = ""
	}
	return `[Unit]
Description={{Description}}
ConditionFileIsExecutable={{Path | cmdEscape}}
` + after + `StartLimitIntervalSec=0

[Service]
Type=simple
ExecStart={{Path | cmdEscape}}{{range Arguments}} {{. | cmd}}{{end}}
Restart=on-failure
RestartSec=` + strconv.Itoa(RestartSec) + `
TimeoutStopSec=10
` + env.String() + `
[Install]
WantedBy=` + wanted + `
`
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// sysvScript is our SysV init script: kardianos's, with the environment
// quoted by us, the start waiting for nothing, and respawn left to the
// agent's own reconnect (SysV has no restart policy).
func sysvScript(c *Config) string {
	var env strings.Builder
	for _, k := range sortedEnv(c.Env) {
		fmt.Fprintf(&env, "export %s=%s\n", k, shellQuote(c.Env[k]))
	}
	command := shellQuote(c.Exec)
	for _, a := range c.Args {
		command += " " + shellQuote(a)
	}
	return `#!/bin/sh
### BEGIN INIT INFO
# Provides:          ` + c.Name + `
# Required-Start:    $network $remote_fs
# Required-Stop:
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: {{DisplayName}}
# Description:       {{Description}}
### END INIT INFO

run() {
    exec ` + command + `
}

name=$(basename $(readlink -f $0))
pid_file="/var/run/$name.pid"
stdout_log="{{LogDirectory}}/$name.log"
stderr_log="{{LogDirectory}}/$name.err"

` + env.String() + `
get_pid() {
    cat "$pid_file"
}

is_running() {
    [ -f "$pid_file" ] && cat /proc/$(get_pid)/stat > /dev/null 2>&1
}

case "$1" in
    start)
        if is_running; then
            echo "Already started"
        else
            echo "Starting $name"
            run < /dev/null >> "$stdout_log" 2>> "$stderr_log" &
            echo $! > "$pid_file"
            if ! is_running; then
                echo "Unable to start, see $stdout_log and $stderr_log"
                exit 1
            fi
        fi
    ;;
    stop)
        if is_running; then
            kill $(get_pid)
            for i in 1 2 3 4 5 6 7 8 9 10; do
                is_running || break
                sleep 1
            done
            rm -f "$pid_file"
        fi
    ;;
    restart)
        $0 stop
        $0 start
    ;;
    status)
        if is_running; then
            echo "Running"
        else
            echo "Stopped"
            exit 1
        fi
    ;;
    *)
    echo "Usage: $0 {start|stop|restart|status}"
    exit 1
    ;;
esac
exit 0
`
}

func userConfigDir() string {
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" && filepath.IsAbs(d) {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".config")
}

// userUnitDir is where kardianos writes a user service's unit.
func userUnitDir() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".config", "systemd", "user")
}

func autostartPath(c *Config) string {
	return filepath.Join(userConfigDir(), "autostart", c.Name+".desktop")
}

// desktopQuote quotes one Exec argument of a .desktop file.
func desktopQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"'\\$`%;&|<>()*?#~") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\\\`, `"`, `\\"`, "`", "\\\\`", "$", `\\$`, "%", "%%")
	return `"` + r.Replace(s) + `"`
}

// writeAutostart writes the XDG autostart entry: the desktop session starts
// it at login.
func writeAutostart(c Config) error {
	p := autostartPath(&c)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("installer: autostart: %w", err)
	}
	var exec strings.Builder
	exec.WriteString(desktopQuote(c.Exec))
	for _, a := range c.Args {
		exec.WriteString(" " + desktopQuote(a))
	}
	var envPrefix strings.Builder
	if len(c.Env) > 0 {
		envPrefix.WriteString("env")
		for _, k := range sortedEnv(c.Env) {
			envPrefix.WriteString(" " + desktopQuote(k+"="+c.Env[k]))
		}
		envPrefix.WriteString(" ")
	}
	body := "[Desktop Entry]\nType=Application\nName=assist: resume the support session\n" +
		"Exec=" + envPrefix.String() + exec.String() + "\nTerminal=false\nX-GNOME-Autostart-enabled=true\nNoDisplay=true\n"
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("installer: autostart: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("installer: autostart: %w", err)
	}
	return nil
}
