package installer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/kardianos/service"
)

// DefaultName is the temporary service's name.
const DefaultName = "assist-resume"

// Kinds of service Install can register.
const (
	KindSystem    = "system"    // a system service: starts at boot
	KindUser      = "user"      // a per-user systemd service: starts at login
	KindAutostart = "autostart" // an XDG autostart entry: starts with the desktop session
)

// Config describes the service.
type Config struct {
	// Name is the service's name (default DefaultName): letters, digits,
	// '-', '_' and '.'.
	Name string
	// Exec is the program to run (default: this executable).
	Exec string
	// Args are its arguments, e.g. ["resume", "--service", NAME].
	Args []string
	// Env is set for the service (the display, the state directory...).
	Env map[string]string
	// Kind forces KindSystem, KindUser or KindAutostart; empty chooses:
	// system when root, else user with systemd, else autostart.
	Kind   string
	Logger *slog.Logger
}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

func (c *Config) fill() error {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if !validName.MatchString(c.Name) {
		return fmt.Errorf("installer: service name %q: use letters, digits, '-', '_' and '.'", c.Name)
	}
	if c.Exec == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("installer: this program's path: %w", err)
		}
		if exe, err = filepath.EvalSymlinks(exe); err != nil {
			return fmt.Errorf("installer: this program's path: %w", err)
		}
		c.Exec = exe
	}
	for k, v := range c.Env {
		if !validEnvKey.MatchString(k) || strings.ContainsAny(v, "\n\r\x00") || strings.Contains(v, "{{") {
			return fmt.Errorf("installer: environment %s cannot go in a service file", k)
		}
	}
	for _, a := range c.Args {
		if strings.ContainsAny(a, "\n\r\x00") || strings.Contains(a, "{{") {
			return fmt.Errorf("installer: argument %q cannot go in a service file", a)
		}
	}
	if c.Kind == "" {
		c.Kind = chooseKind()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

var validEnvKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Platform names the service manager kardianos found ("linux-systemd",
// "unix-systemv", "windows-service", ...).
func Platform() string { return service.Platform() }

func chooseKind() string {
	if os.Geteuid() == 0 {
		return KindSystem
	}
	if strings.Contains(service.Platform(), "systemd") {
		return KindUser
	}
	return KindAutostart
}

// nop is the kardianos.Interface of a service we only install and remove.
type nop struct{}

func (nop) Start(service.Service) error { return nil }
func (nop) Stop(service.Service) error  { return nil }

func (c *Config) service() (service.Service, error) {
	opts := service.KeyValue{}
	platform := service.Platform()
	switch {
	case strings.Contains(platform, "systemd"):
		opts["SystemdScript"] = systemdUnit(c)
		if c.Kind == KindUser {
			opts["UserService"] = true
		}
	case strings.Contains(platform, "systemv"):
		opts["SysvScript"] = sysvScript(c)
	default:
		if c.Kind == KindUser {
			opts["UserService"] = true
		}
	}
	svc, err := service.New(nop{}, &service.Config{
		Name: c.Name, DisplayName: "assist: resume the support session",
		Description: "Reconnects the support session after a restart; removes itself when the session ends.",
		Executable:  c.Exec, Arguments: c.Args, EnvVars: c.Env, Option: opts,
	})
	if err != nil {
		return nil, fmt.Errorf("installer: %w", err)
	}
	return svc, nil
}

// Install registers the service so that it runs at the next boot (or
// login) and returns the kind registered.
func Install(ctx context.Context, c Config) (string, error) {
	if err := c.fill(); err != nil {
		return "", err
	}
	if c.Kind == KindAutostart {
		return KindAutostart, writeAutostart(c)
	}
	svc, err := c.service()
	if err != nil {
		return "", err
	}
	if err := svc.Install(); err != nil {
		// A half-done install (unit written, enable failed) is removed.
		c.removeLeftovers()
		return "", fmt.Errorf("installer: install %s service %s on %s: %w", c.Kind, c.Name, service.Platform(), err)
	}
	c.Logger.Info("service installed", "component", "installer", "name", c.Name, "kind", c.Kind, "platform", service.Platform())
	return c.Kind, nil
}

// Uninstall removes the service and everything it left: unit or init
// script, SysV rc links, logs, pid file, autostart entry. Removing a
// service that is not there is not an error. It does not stop a running
// service: the service itself calls Uninstall as it finishes.
func Uninstall(ctx context.Context, c Config) error {
	if err := c.fill(); err != nil {
		return err
	}
	var errs []error
	if c.Kind != KindAutostart {
		svc, err := c.service()
		if err != nil {
			return err
		}
		if Installed(c) {
			if err := svc.Uninstall(); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("installer: uninstall %s: %w", c.Name, err))
			}
		}
	}
	if err := c.removeLeftovers(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	c.Logger.Info("service removed", "component", "installer", "name", c.Name)
	return nil
}

// Files lists the files the service of c has on disk now (unit, init
// script, rc links, logs, pid file, autostart entry): empty once
// Uninstall has run.
func Files(c Config) []string {
	if err := c.fill(); err != nil {
		return nil
	}
	var out []string
	for _, p := range c.candidates() {
		matches, _ := filepath.Glob(p)
		for _, m := range matches {
			if _, err := os.Lstat(m); err == nil {
				out = append(out, m)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Installed reports whether the service of c is registered.
func Installed(c Config) bool {
	if err := c.fill(); err != nil {
		return false
	}
	for _, p := range c.primary() {
		if _, err := os.Lstat(p); err == nil {
			return true
		}
	}
	return false
}

// primary are the files whose presence means "installed".
func (c *Config) primary() []string {
	return []string{
		"/etc/systemd/system/" + c.Name + ".service",
		filepath.Join(userUnitDir(), c.Name+".service"),
		"/etc/init.d/" + c.Name,
		autostartPath(c),
	}
}

// candidates are every file a service of this name may leave.
func (c *Config) candidates() []string {
	out := append([]string(nil), c.primary()...)
	return append(out,
		"/etc/rc[0-6S].d/[SK][0-9][0-9]"+c.Name,
		"/var/log/"+c.Name+".log", "/var/log/"+c.Name+".err",
		"/var/log/"+c.Name+".out",
		"/var/run/"+c.Name+".pid", "/run/"+c.Name+".pid",
		"/etc/systemd/system/*.wants/"+c.Name+".service",
		filepath.Join(userUnitDir(), "*.wants", c.Name+".service"),
	)
}

// removeLeftovers deletes what the backends leave behind.
func (c *Config) removeLeftovers() error {
	var errs []error
	for _, p := range c.candidates() {
		matches, _ := filepath.Glob(p)
		for _, m := range matches {
			if err := os.Remove(m); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("installer: remove %s: %w", m, err))
			}
		}
	}
	return errors.Join(errs...)
}
