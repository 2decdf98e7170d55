package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"assist/agent"
	"assist/chatwin"
	"assist/installer"
	"assist/internal/procs"
	"assist/reconnect"
)

// sessionFlags are the flags join and resume share.
type sessionFlags struct {
	server    *string
	yes       *bool
	noBrowser *bool
	fps       *int
	level     *string
	downloads *string // --downloads: where files from the rep are saved
	// Hidden, for tests and support engineers.
	window    *time.Duration // --reconnect-window: the agent's side of the window
	stateDir  *string        // --state-dir: where the resume ticket lives
	rebootCmd *string        // --reboot-command: "exit" (stop as if the power went) or a shell command
	service   *string        // --service: the name of the temporary service (resume: this process is it)
	grace     *time.Duration // --chat-grace: how long a closed chat page may take to come back
}

func addSessionFlags(fs *flag.FlagSet) *sessionFlags {
	return &sessionFlags{
		server:    fs.String("server", envOr("ASSIST_SERVER", defaultServer), ""),
		yes:       fs.Bool("yes", false, ""),
		noBrowser: fs.Bool("no-browser", os.Getenv("ASSIST_NO_BROWSER") == "1", ""),
		fps:       fs.Int("fps", 20, ""),
		level:     fs.String("log-level", "warn", ""),
		downloads: fs.String("downloads", "", ""),
		window:    fs.Duration("reconnect-window", 0, ""),
		stateDir:  fs.String("state-dir", "", ""),
		rebootCmd: fs.String("reboot-command", "", ""),
		service:   fs.String("service", envOr("ASSIST_SERVICE_NAME", installer.DefaultName), ""),
		grace:     fs.Duration("chat-grace", 5*time.Second, ""),
	}
}

// parseArgs parses fs allowing flags between positional arguments.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
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

func (f *sessionFlags) logger() (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*f.level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})), nil
}

func (f *sessionFlags) store() (*reconnect.Store, error) {
	dir := *f.stateDir
	if dir == "" {
		var err error
		if dir, err = reconnect.DefaultDir(); err != nil {
			return nil, err
		}
	}
	return &reconnect.Store{Dir: dir}, nil
}

func say(s string) { fmt.Printf("%s  %s\n", time.Now().Format("15:04:05"), s) }

// customer is what the agent needs to reach the customer: the chat window
// and the consent function built on it.
type customer struct {
	win *chatwin.Window
}

// openCustomer starts the chat window and opens it in the browser (or
// prints its address with --no-browser, or when no browser opens). The
// window's file picker offers the customer's files through files.
func openCustomer(ctx context.Context, f *sessionFlags, log *slog.Logger, files *agent.Files) *customer {
	win, err := chatwin.New(chatwin.Config{Grace: *f.grace, Logger: log, Files: files})
	if err != nil {
		log.Warn("no chat window", "err", err)
		return &customer{}
	}
	if *f.noBrowser {
		say("Chat window: " + win.URL())
	} else if err := chatwin.Open(ctx, win.URL()); err != nil {
		say("Open this address in your browser to chat with the support technician: " + win.URL())
		log.Info("cannot open the browser", "err", err)
	} else {
		say("Opened the chat window in your browser.")
	}
	return &customer{win: win}
}

func (c *customer) close() {
	if c.win != nil {
		c.win.Close()
	}
}

// consent answers consent questions: yes with --yes; otherwise the chat
// window, and also the terminal when there is one and no browser was
// opened; the first answer wins.
func (c *customer) consent(f *sessionFlags) func(ctx context.Context, p chatwin.Prompt) (bool, error) {
	return func(ctx context.Context, p chatwin.Prompt) (bool, error) {
		if *f.yes {
			say(p.Question + " yes (--yes)")
			return true, nil
		}
		useTerm := isTerminal() && (c.win == nil || *f.noBrowser)
		if c.win == nil {
			return askTerminal(ctx, os.Stdin, p.Question)
		}
		if !useTerm {
			say(p.Question + " (answer in the chat window)")
			return c.win.Ask(ctx, p)
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		type answer struct {
			ok  bool
			err error
		}
		ch := make(chan answer, 2)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := c.win.Ask(ctx, p)
			ch <- answer{ok, err}
		}()
		go func() { // the terminal read cannot be interrupted: not waited for
			ok, err := askTerminal(ctx, os.Stdin, p.Question)
			ch <- answer{ok, err}
		}()
		a := <-ch
		cancel()
		wg.Wait()
		return a.ok, a.err
	}
}

// restarter is agent.Restarter on the installer package.
type restarter struct {
	f   *sessionFlags
	log *slog.Logger
	dir string // the ticket's directory, passed to the service
}

func (r *restarter) config(name string) installer.Config {
	args := []string{"resume", "--service", name, "--state-dir", r.dir, "--log-level", *r.f.level}
	if *r.f.noBrowser {
		args = append(args, "--no-browser")
	}
	if *r.f.yes {
		args = append(args, "--yes")
	}
	env := map[string]string{}
	for _, k := range []string{"DISPLAY", "XAUTHORITY", "WAYLAND_DISPLAY", "ASSIST_ICE_LOOPBACK", "LANG", "LC_ALL"} {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	return installer.Config{Name: name, Args: args, Env: env, Logger: r.log}
}

func (r *restarter) Install(ctx context.Context) (string, error) {
	name := *r.f.service
	kind, err := installer.Install(ctx, r.config(name))
	if err != nil {
		return "", err
	}
	say(fmt.Sprintf("Installed the %s service %s that resumes the session after the restart.", kind, name))
	return name, nil
}

func (r *restarter) Uninstall(ctx context.Context, name string) error {
	return installer.Uninstall(ctx, r.config(name))
}

func (r *restarter) Reboot(ctx context.Context) error {
	switch cmd := *r.f.rebootCmd; cmd {
	case "":
		return installer.Reboot(ctx)
	case "exit":
		return nil // the agent stops as if the power went; the test "boots"
	default:
		out, err := exec.CommandContext(ctx, "/bin/sh", "-c", cmd).CombinedOutput()
		if err != nil {
			return fmt.Errorf("reboot command: %v: %s", err, out)
		}
		return nil
	}
}

// runSession runs the agent with the customer's window, the ticket store
// and the restarter; cfg carries the join- or resume-specific parts.
func runSession(ctx context.Context, f *sessionFlags, log *slog.Logger, store *reconnect.Store, cfg agent.Config) error {
	screen, err := openScreen(log)
	if err != nil {
		return err
	}
	defer screen.Close()
	files := agent.NewFiles()
	cust := openCustomer(ctx, f, log, files)
	defer cust.close()
	cfg.Files = files
	cfg.Screen = screen
	cfg.Consent = cust.consent(f)
	if cust.win != nil {
		cfg.Window = cust.win
	}
	if store != nil {
		cfg.Tickets = store
		cfg.Restarter = &restarter{f: f, log: log, dir: store.Dir}
	}
	cfg.Info = machineInfo()
	cfg.MaxFPS = *f.fps
	cfg.Downloads = *f.downloads
	if store != nil {
		// Unfinished transfers live beside the ticket: a resumed agent continues them.
		cfg.TransferJournal = filepath.Join(store.Dir, "transfers")
	}
	cfg.Logger = log
	cfg.ReconnectWindow = *f.window
	cfg.OnState = say
	if os.Getenv("GOMAXPROCS") == "" { // a GOMAXPROCS set by hand is kept
		g := procs.New(procs.Options{})
		defer g.Close()
		if g != nil { // a nil *Governor in the interface would not be nil
			cfg.Procs = g
		}
	}
	err = agent.Run(ctx, cfg)
	var ended *agent.EndedError
	switch {
	case errors.As(err, &ended):
		return nil // the state line already said why
	case errors.Is(err, agent.ErrRebooting):
		say("The computer is restarting. The session resumes after the restart.")
		return nil
	}
	return err
}

// resume is `assist resume`: it finds the resume ticket and picks the
// session up (the service runs it after a reboot; a person may run it
// after a crash). Run as the service (--service), it removes the service
// when there is nothing to resume, so that the service manager does not
// start it again.
func resume(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("resume", flag.ContinueOnError)
	fs.Usage = usage
	f := addSessionFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		usage()
		return errors.New("resume takes no arguments: it finds the session by itself")
	}
	log, err := f.logger()
	if err != nil {
		return err
	}
	store, err := f.store()
	if err != nil {
		return err
	}
	asService := flagSet(fs, "service")
	unlock, err := store.Lock()
	if err != nil {
		if asService && errors.Is(err, reconnect.ErrBusy) {
			say("Another assist program is running this session; nothing to do.")
			return nil
		}
		return err
	}
	defer unlock()
	t, err := store.Load()
	if err != nil {
		store.Clear()
		if asService {
			r := &restarter{f: f, log: log, dir: store.Dir}
			if uerr := r.Uninstall(context.WithoutCancel(ctx), *f.service); uerr != nil {
				log.Error("cannot remove the service", "err", uerr)
			}
			say("Nothing to resume (" + err.Error() + "); removed the service " + *f.service + ".")
			return nil
		}
		return &nothingToResume{err}
	}
	cfg := agent.Config{Server: t.Server, Code: t.Code, Resume: &t}
	return runSession(ctx, f, log, store, cfg)
}

// nothingToResume is `assist resume` without a usable ticket (exit 5).
type nothingToResume struct{ err error }

func (e *nothingToResume) Error() string { return "nothing to resume: " + e.err.Error() }
func (e *nothingToResume) Unwrap() error { return e.err }

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
