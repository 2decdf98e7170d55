package reconnect

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Ticket is what an agent needs to come back to its session after a crash,
// a kill or a reboot: the server, the session id and the one-time resume
// secret (rotated at every join and resume), valid until Deadline.
//
// This is the minimal ticket that `assist resume` reads; the session
// lifecycle work extends it (service registration, cleanup).
type Ticket struct {
	Server   string    `json:"server"`
	Session  string    `json:"session"`
	Secret   string    `json:"secret"`
	Deadline time.Time `json:"deadline"`
}

// DefaultTicketPath is $XDG_STATE_HOME/assist/ticket.json (or
// ~/.local/state/assist/ticket.json).
func DefaultTicketPath() (string, error) {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("reconnect: no state folder: %w", err)
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "assist", "ticket.json"), nil
}

// Save writes t to path (mode 0600) through a temporary file.
func (t Ticket) Save(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("reconnect: save ticket: %w", err)
	}
	b, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("reconnect: save ticket: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".ticket-*")
	if err != nil {
		return fmt.Errorf("reconnect: save ticket: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err = f.Write(b); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("reconnect: save ticket: %w", err)
	}
	return nil
}

// ErrExpired reports a ticket past its deadline: the session is over.
var ErrExpired = errors.New("reconnect: the resume ticket expired: the session has ended")

// LoadTicket reads the ticket at path; an expired one is removed and
// reported as ErrExpired.
func LoadTicket(path string, now time.Time) (Ticket, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Ticket{}, fmt.Errorf("reconnect: no resume ticket: %w", err)
	}
	var t Ticket
	if err := json.Unmarshal(b, &t); err != nil || t.Session == "" || t.Secret == "" {
		return Ticket{}, fmt.Errorf("reconnect: the resume ticket %s is damaged", path)
	}
	if !t.Deadline.IsZero() && now.After(t.Deadline) {
		os.Remove(path)
		return Ticket{}, ErrExpired
	}
	return t, nil
}

// RemoveTicket removes the ticket at path (the session ended).
func RemoveTicket(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reconnect: remove ticket: %w", err)
	}
	return nil
}
