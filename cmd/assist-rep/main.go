// Command assist-rep is the support rep's console as a command line, for
// scripts, tests and benchmarks.
//
//	assist-rep [--server URL] [--token T] new
//	assist-rep screenshot CODE FILE.png [--timeout 15s]
//	assist-rep stats CODE [--for 5s]
//	assist-rep list
//	assist-rep end CODE
//	assist-rep chat CODE [TEXT]
//	assist-rep reboot CODE [--timeout 5m]
//	assist-rep push CODE LOCAL [NAME]
//	assist-rep pull CODE REMOTE_PATH LOCAL
//	assist-rep type CODE TEXT | key CODE NAME... | click CODE X Y [button] [--double]
//	assist-rep scroll CODE DX DY [--at X,Y] | clip get CODE | clip set CODE TEXT
//
// The server and token come from --server/--token or ASSIST_SERVER /
// ASSIST_REP_TOKEN. Exit status 0 on success; otherwise 1 with a one-line
// error on stderr.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"assist/protocol"
	"assist/rep"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "assist-rep:", err)
		os.Exit(1)
	}
}

const usageText = `usage: assist-rep [--server URL] [--token T] COMMAND [ARGS] [FLAGS]

commands:
  new                                  create a session; prints its 9-digit code alone
  list                                 list sessions as JSON, one per line
  screenshot CODE FILE.png [--timeout 15s]
                                       save the customer's current screen as PNG
  stats CODE [--for 5s]                watch the session and print one JSON object of measurements
  end CODE                             end the session for everyone
  chat CODE [TEXT]                     send TEXT to the customer (when given), then print the
                                       session's chat as JSON lines {"id","from","text","time"}
  reboot CODE [--timeout 5m]           ask the customer to restart the computer and reconnect;
                                       prints "restarting: ..." when they allow it, fails when not
  push CODE LOCAL [NAME] [--timeout 15s]
                                       send a file to the customer (they are asked); prints
                                       "sent NAME: N bytes (..), sha256 HEX, RATE/s"
  pull CODE REMOTE_PATH LOCAL [--timeout 15s]
                                       fetch a file from the customer (they are asked) into the
                                       folder or new file LOCAL; prints "saved PATH: N bytes (..), sha256 HEX, RATE/s"

%s
--server and --token default to $ASSIST_SERVER and $ASSIST_REP_TOKEN.
Set ASSIST_ICE_LOOPBACK=1 to keep WebRTC on 127.0.0.1 (tests, one-machine demos).
`

// parse parses fs allowing flags between positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		// A negative number (scroll CODE 0 -2) is an argument, not a flag.
		if len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' && args[0][1] >= '0' && args[0][1] <= '9' {
			pos = append(pos, args[0])
			args = args[1:]
			continue
		}
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("assist-rep", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	server := fs.String("server", os.Getenv("ASSIST_SERVER"), "")
	token := fs.String("token", os.Getenv("ASSIST_REP_TOKEN"), "")
	timeout := fs.Duration("timeout", 15*time.Second, "")
	rebootTimeout := 5 * time.Minute // the customer must save their work first
	watch := fs.Duration("for", 5*time.Second, "")
	verbose := fs.Bool("v", false, "")
	in := inputFlags(fs)
	pos, err := parse(fs, args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return err
	}
	if errors.Is(err, flag.ErrHelp) || len(pos) == 0 {
		fmt.Fprintf(os.Stderr, usageText, inputUsage)
		if err == nil {
			return errors.New("missing command")
		}
		return nil
	}
	if err != nil {
		return err
	}
	if *server == "" {
		return errors.New("no server: pass --server URL or set ASSIST_SERVER")
	}
	if *token == "" {
		return errors.New("no rep token: pass --token T or set ASSIST_REP_TOKEN")
	}
	logLevel := slog.LevelWarn + 100
	if *verbose {
		logLevel = slog.LevelDebug
	}
	cfg := rep.Config{
		Server: *server, Token: *token,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel})),
	}
	cmd, rest := pos[0], pos[1:]
	need := func(n int, form string) error {
		if len(rest) != n {
			return fmt.Errorf("usage: assist-rep %s", form)
		}
		return nil
	}
	switch cmd {
	case "new":
		if err := need(0, "new"); err != nil {
			return err
		}
		in, err := rep.NewSession(ctx, cfg)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, in.Code)
		return nil
	case "list":
		list, err := rep.ListSessions(ctx, cfg)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		for _, s := range list {
			enc.Encode(s)
		}
		return nil
	case "end":
		if err := need(1, "end CODE"); err != nil {
			return err
		}
		return rep.EndSession(ctx, cfg, protocol.NormalizeCode(rest[0]))
	case "screenshot":
		if err := need(2, "screenshot CODE FILE.png [--timeout 15s]"); err != nil {
			return err
		}
		return screenshot(ctx, cfg, rest[0], rest[1], *timeout)
	case "type", "key", "click", "scroll", "clip":
		return runInput(ctx, cfg, cmd, rest, in, *timeout, stdout)
	case "stats":
		if err := need(1, "stats CODE [--for 5s]"); err != nil {
			return err
		}
		return stats(ctx, cfg, rest[0], *watch, stdout)
	case "chat":
		if len(rest) != 1 && len(rest) != 2 {
			return errors.New("usage: assist-rep chat CODE [TEXT]")
		}
		text := ""
		if len(rest) == 2 {
			text = rest[1]
		}
		return chat(ctx, cfg, rest[0], text, *timeout, stdout)
	case "reboot":
		if err := need(1, "reboot CODE [--timeout 5m]"); err != nil {
			return err
		}
		if flagGiven(fs, "timeout") {
			rebootTimeout = *timeout
		}
		return reboot(ctx, cfg, rest[0], rebootTimeout, stdout)
	case "push":
		if len(rest) != 2 && len(rest) != 3 {
			return errors.New("usage: assist-rep push CODE LOCAL [NAME]")
		}
		return push(ctx, cfg, rest[0], rest[1], strings.Join(rest[2:], ""), *timeout, stdout)
	case "pull":
		if err := need(3, "pull CODE REMOTE_PATH LOCAL"); err != nil {
			return err
		}
		return pull(ctx, cfg, rest[0], rest[1], rest[2], *timeout, stdout)
	default:
		fmt.Fprintf(os.Stderr, usageText, inputUsage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

func screenshot(ctx context.Context, cfg rep.Config, code, file string, timeout time.Duration) error {
	var img *image.RGBA
	err := attached(ctx, cfg, code, timeout, func(ctx context.Context, c *rep.Client) error {
		// A settled picture: text exact, photo-like areas at their final quality.
		var err error
		if img, err = c.WaitSettled(ctx); err != nil {
			if errs := c.Errors(); len(errs) > 0 {
				return fmt.Errorf("%w (%s)", err, errs[len(errs)-1])
			}
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Write through a temporary file so a failed write leaves nothing behind.
	tmp, err := os.CreateTemp(filepath.Dir(file), ".assist-shot-*.png")
	if err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := png.Encode(tmp, img); err != nil {
		tmp.Close()
		return fmt.Errorf("screenshot: write %s: %w", file, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("screenshot: write %s: %w", file, err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	return nil
}

func stats(ctx context.Context, cfg rep.Config, code string, watch time.Duration, stdout io.Writer) error {
	c, err := rep.Attach(ctx, cfg, code)
	if err != nil {
		return err
	}
	defer c.Close()
	t := time.NewTimer(watch)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-c.Ended():
	}
	s := c.Stats()
	return json.NewEncoder(stdout).Encode(s)
}

func flagGiven(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// attached attaches a rep to the session code and runs f with it, all
// within timeout; the rep leaves when f returns.
func attached(ctx context.Context, cfg rep.Config, code string, timeout time.Duration, f func(context.Context, *rep.Client) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := rep.Attach(ctx, cfg, code)
	if err != nil {
		return err
	}
	defer c.Close()
	return f(ctx, c)
}
