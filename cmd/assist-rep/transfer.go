package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"assist/rep"
	"assist/transfer"
)

// push sends a local file to the customer.
func push(ctx context.Context, cfg rep.Config, code, local, name string, timeout time.Duration, stdout io.Writer) error {
	if info, err := os.Stat(local); err != nil {
		return fmt.Errorf("push: %w", err)
	} else if !info.Mode().IsRegular() {
		return fmt.Errorf("push: %s is not a regular file", local)
	}
	st, err := run1(ctx, cfg, code, timeout, func(actx context.Context, c *rep.Client) (*transfer.Transfer, error) {
		return c.Push(actx, local, name)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sent %s: %s\n", st.Name, summary(st))
	return nil
}

// pull fetches a file from the customer into local: a folder (the file
// keeps its name, made safe and unique) or a new file's path.
func pull(ctx context.Context, cfg rep.Config, code, remote, local string, timeout time.Duration, stdout io.Writer) error {
	dest := transfer.Dest{Dir: local}
	if info, err := os.Stat(local); err == nil && !info.IsDir() {
		return fmt.Errorf("pull: %s exists; not overwriting it", local)
	} else if err != nil {
		if strings.HasSuffix(local, string(os.PathSeparator)) {
			return fmt.Errorf("pull: %w", err)
		}
		dest = transfer.Dest{Dir: filepath.Dir(local), Name: filepath.Base(local), Exact: true}
	}
	st, err := run1(ctx, cfg, code, timeout, func(actx context.Context, c *rep.Client) (*transfer.Transfer, error) {
		return c.Pull(actx, remote, dest)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "saved %s: %s\n", st.Path, summary(st))
	return nil
}

// run1 attaches (within timeout), starts one transfer and follows it.
func run1(ctx context.Context, cfg rep.Config, code string, timeout time.Duration,
	start func(context.Context, *rep.Client) (*transfer.Transfer, error)) (transfer.Status, error) {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := rep.Attach(actx, cfg, code)
	if err != nil {
		return transfer.Status{}, err
	}
	defer c.Close()
	t, err := start(actx, c)
	if err != nil {
		return transfer.Status{}, err
	}
	return follow(ctx, t, c)
}

// summary is the end of the final line: "N bytes (80.0 MB), sha256 HEX, 41.2 MB/s".
func summary(st transfer.Status) string {
	return fmt.Sprintf("%d bytes (%s), sha256 %s, %s/s", st.Size, transfer.Size(st.Size), st.SHA256, transfer.Size(int64(st.AvgRate)))
}

// follow waits for the transfer, drawing a progress bar on stderr when it
// is a terminal. Ctrl+C cancels the transfer on both sides.
func follow(ctx context.Context, t *transfer.Transfer, c *rep.Client) (transfer.Status, error) {
	tty := isTerminal(os.Stderr)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			t.Cancel("the support technician cancelled")
			st, _ := t.Wait(context.Background())
			if tty {
				fmt.Fprintln(os.Stderr)
			}
			return st, fmt.Errorf("cancelled: %w", ctx.Err())
		case <-c.Ended():
			t.Cancel("the session ended")
			st, _ := t.Wait(context.Background())
			return st, fmt.Errorf("%w: %s", rep.ErrEnded, c.Reason())
		case <-t.Done():
			st, err := t.Wait(ctx)
			if tty {
				fmt.Fprintf(os.Stderr, "\r%s\n", bar(st, 80))
			}
			return st, err
		case <-tick.C:
			if tty {
				fmt.Fprintf(os.Stderr, "\r%s", bar(t.Status(), 80))
			}
		}
	}
}

// bar renders one progress line of at most width columns.
func bar(s transfer.Status, width int) string {
	var state string
	switch s.State {
	case transfer.StateOffered, transfer.StateAsking:
		state = "waiting for the customer"
	case transfer.StateWaiting:
		state = "paused: reconnecting"
	}
	pct := 0.0
	if s.Size > 0 {
		pct = float64(s.Bytes) / float64(s.Size)
	} else if s.State == transfer.StateDone {
		pct = 1
	}
	info := fmt.Sprintf(" %3.0f%% %s/%s", pct*100, transfer.Size(s.Bytes), transfer.Size(s.Size))
	if s.Rate > 0 {
		info += fmt.Sprintf(" %s/s ETA %s", transfer.Size(int64(s.Rate)), s.ETA.Round(time.Second))
	}
	if state != "" {
		info += " " + state
	}
	n := max(width-len(info)-2-1, 10)
	full := int(pct * float64(n))
	return "[" + strings.Repeat("=", full) + strings.Repeat(" ", n-full) + "]" + info + "\x1b[K"
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
