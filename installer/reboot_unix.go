//go:build !windows

package installer

import (
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
)

// Reboot restarts the machine: systemctl reboot where there is systemd
// (logind lets the user of an active session do it), else shutdown -r now.
// It returns once the restart was requested.
func Reboot(ctx context.Context) error {
	var tries [][]string
	if _, err := exec.LookPath("systemctl"); err == nil && runtime.GOOS == "linux" {
		tries = append(tries, []string{"systemctl", "reboot"})
	}
	tries = append(tries, []string{"shutdown", "-r", "now"}, []string{"reboot"})
	var errs []string
	for _, t := range tries {
		path, err := exec.LookPath(t[0])
		if err != nil {
			continue
		}
		out, err := exec.CommandContext(ctx, path, t[1:]...).CombinedOutput()
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Sprintf("%s: %v %s", strings.Join(t, " "), err, strings.TrimSpace(string(out))))
	}
	if len(errs) == 0 {
		return fmt.Errorf("installer: no way to restart this computer (no systemctl, shutdown or reboot)")
	}
	return fmt.Errorf("installer: restart refused: %s", strings.Join(errs, "; "))
}
