// Command assist is the customer's agent: it joins the support session whose
// code the support technician gave, asks the customer's consent, and shares
// the screen with the technician over WebRTC.
//
//	assist join CODE [--server URL] [--yes]
//	assist resume [--ticket FILE] [--yes]
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
	"time"

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
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "assist:", err)
		var refused *agent.RefusedError
		switch {
		case errors.As(err, &refused):
			os.Exit(3)
		case errors.Is(err, agent.ErrDeclined):
			os.Exit(4)
		}
		os.Exit(1)
	}
}

const usageText = `usage: assist join CODE [--server URL] [--yes]
       assist resume [--ticket FILE] [--yes]
       assist version

join flags:
  --server URL   the support server (default %s; env ASSIST_SERVER)
  --yes          answer yes to the consent question without asking
                 (for scripts and tests: it shares the screen without a prompt)
  --fps N        highest frame rate (default 20)
  --log-level L  debug, info, warn or error (default warn)
  --downloads D  where files from the support technician are saved
                 (default: your Downloads folder)
  --ticket FILE  the resume ticket (default $XDG_STATE_HOME/assist/ticket.json)

resume continues the session of the resume ticket after the agent stopped
(a crash, a reboot) within the session's reconnect window; unfinished file
transfers continue from their last verified block.

Exit status: 0 when the session ended normally, 3 when the server refused the
code, 4 when the customer declined, 1 on any other error.
`

func usage() { fmt.Fprintf(os.Stderr, usageText, defaultServer) }

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		usage()
		return errors.New("missing command")
	}
	switch args[0] {
	case "join":
		return join(ctx, args[1:], false)
	case "resume":
		return join(ctx, args[1:], true)
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

func join(ctx context.Context, args []string, resume bool) error {
	fs := flag.NewFlagSet("join", flag.ContinueOnError)
	fs.Usage = usage
	server := fs.String("server", envOr("ASSIST_SERVER", defaultServer), "")
	yes := fs.Bool("yes", false, "")
	fps := fs.Int("fps", 20, "")
	level := fs.String("log-level", "warn", "")
	downloads := fs.String("downloads", "", "")
	ticket := fs.String("ticket", "", "")
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	files, err := sessionFiles(resume, pos, *ticket, *server)
	if err != nil {
		usage()
		return err
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	screen, err := capture.Open(capture.Options{Logger: log})
	if err != nil {
		return fmt.Errorf("cannot capture the screen: %w", err)
	}
	defer screen.Close()

	ask := func(ctx context.Context, q string) (bool, error) {
		if *yes {
			fmt.Printf("%s yes (--yes)\n", q)
			return true, nil
		}
		return askTerminal(ctx, os.Stdin, q)
	}
	err = agent.Run(ctx, agent.Config{
		Server: files.server, Code: files.code, Resume: files.resume, TicketPath: files.ticket,
		Screen: screen, Ask: ask, Info: machineInfo(), MaxFPS: *fps, Logger: log, Downloads: *downloads,
		OnState: func(s string) { fmt.Printf("%s  %s\n", time.Now().Format("15:04:05"), s) },
	})
	var ended *agent.EndedError
	if errors.As(err, &ended) {
		return nil // the state line already said why
	}
	return err
}

// askTerminal asks a yes/no question on the terminal.
func askTerminal(ctx context.Context, in io.Reader, q string) (bool, error) {
	if fi, err := os.Stdin.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
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
