// Command assist is the customer's agent: it joins the support session whose
// code the support technician gave, asks the customer's consent, and shares
// the screen with the technician over WebRTC.
//
//	assist join CODE [--server URL] [--yes] [--no-browser]
//	assist resume
//	assist version
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"os/user"
	"runtime"
	"strings"
	"syscall"

	"assist/agent"
	"assist/capture"
	"assist/protocol"
)

var (
	version       = "dev"
	defaultServer = "http://127.0.0.1:8200" // set at release time with -ldflags -X
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := startProfile()
	err := run(ctx, os.Args[1:])
	stopProfile()
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "assist:", err)
		var refused *agent.RefusedError
		switch {
		case errors.As(err, &refused):
			os.Exit(3)
		case errors.Is(err, agent.ErrDeclined):
			os.Exit(4)
		case errors.As(err, new(*nothingToResume)):
			os.Exit(5)
		}
		os.Exit(1)
	}
}

const usageText = `usage: assist join CODE [--server URL] [--yes] [--no-browser]
       assist resume
       assist version

join: joins the support session of the nine-digit CODE. A chat window opens
in your browser: it shows who is connected, the chat, every question asked of
you, Pause sharing and End session. Closing it ends the session.
resume: picks up the session after a crash or a restart (the service that a
reboot installs runs it); it finds the session by itself.

flags:
  --server URL   the support server (default %s; env ASSIST_SERVER)
  --yes          answer yes to every consent question without asking
                 (for scripts and tests: it shares the screen without a prompt)
  --no-browser   do not open the chat window; print its address instead (and
                 ask on the terminal too, when there is one)
  --fps N        highest frame rate (default 20)
  --log-level L  debug, info, warn or error (default warn)
  --downloads D  where files from the support technician are saved (default:
                 your Downloads folder); unfinished transfers continue after
                 resume from their last verified block

Exit status: 0 when the session ended normally (or the computer restarts to
resume it), 3 when the server refused the code, 4 when the customer declined,
5 when resume found no session to pick up, 1 on any other error.
`

func usage() { fmt.Fprintf(os.Stderr, usageText, defaultServer) }

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		usage()
		return errors.New("missing command")
	}
	switch args[0] {
	case "join":
		return join(ctx, args[1:])
	case "resume":
		return resume(ctx, args[1:])
	case "version", "--version":
		fmt.Println(version)
		return nil
	case "help", "-h", "--help":
		usage()
		return nil
	default:
		usage()
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func join(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("join", flag.ContinueOnError)
	fs.Usage = usage
	f := addSessionFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		usage()
		return errors.New("join takes exactly one session code")
	}
	code := protocol.NormalizeCode(pos[0])
	if !protocol.IsCode(code) {
		return fmt.Errorf("%q is not a session code: the code has nine digits", pos[0])
	}
	log, err := f.logger()
	if err != nil {
		return err
	}
	store, err := f.store()
	if err == nil {
		var unlock func()
		if unlock, err = store.Lock(); err == nil {
			defer unlock()
		}
	}
	if err != nil {
		log.Warn("no resume ticket: a crash or restart will end the session", "err", err)
		store = nil
	}
	return runSession(ctx, f, log, store, agent.Config{Server: *f.server, Code: code})
}

func openScreen(log *slog.Logger) (capture.Source, error) {
	screen, err := capture.Open(capture.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("cannot capture the screen: %w", err)
	}
	return screen, nil
}

// askTerminal asks a yes/no question on the terminal.
func askTerminal(ctx context.Context, in io.Reader, q string) (bool, error) {
	if !isTerminal() {
		return false, errors.New("no terminal to ask for consent: run assist in a terminal, or pass --yes")
	}
	fmt.Printf("%s [y/N] ", q)
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(in).ReadString('\n')
		answer <- line
	}()
	select {
	case <-ctx.Done():
		fmt.Println()
		return false, ctx.Err()
	case line := <-answer:
		line = strings.ToLower(strings.TrimSpace(line))
		return line == "y" || line == "yes", nil
	}
}

func machineInfo() protocol.AgentInfo {
	host, _ := os.Hostname()
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return protocol.AgentInfo{
		Hostname: host, User: name, OS: runtime.GOOS + "/" + runtime.GOARCH, Agent: "assist " + version,
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
