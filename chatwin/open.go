package chatwin

import (
	"context"
	"fmt"
	"os/exec"
	"time"
)

// Open opens url in the customer's default browser (xdg-open on Linux and
// the BSDs, open on macOS, the URL handler on Windows). It returns once the
// opener has handed the URL over, or with an error when there is none.
func Open(ctx context.Context, url string) error {
	name, args := opener(url)
	path, err := exec.LookPath(name)
	if err != nil {
		return fmt.Errorf("chatwin: no browser opener (%s): %w", name, err)
	}
	// Not CommandContext: a browser started in the foreground must outlive
	// this call.
	cmd := exec.Command(path, append(args, url)...)
	// xdg-open may run the browser in the foreground: do not wait for it,
	// but reap it.
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("chatwin: %s: %w", name, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			return fmt.Errorf("chatwin: %s: %w", name, err)
		}
		return nil
	case <-ctx.Done():
		go func() { <-errc }()
		return ctx.Err()
	case <-time.After(2 * time.Second):
		// Still running after 2 s: a browser started in the foreground. It
		// is the customer's now; its exit is reaped by the goroutine.
		go func() { <-errc }()
		return nil
	}
}
