package installer

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Reboot restarts the machine in five seconds (shutdown /r).
func Reboot(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, "shutdown", "/r", "/t", "5", "/d", "p:4:1").CombinedOutput()
	if err != nil {
		return fmt.Errorf("installer: restart refused: %v %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
