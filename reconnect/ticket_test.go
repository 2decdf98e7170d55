package reconnect

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestTicket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "ticket.json")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	in := Ticket{Server: "http://127.0.0.1:1", Session: "s1", Secret: "x", Deadline: now.Add(10 * time.Minute)}
	if err := in.Save(path); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("ticket mode %v %v", fi.Mode(), err)
	}
	out, err := LoadTicket(path, now)
	if err != nil || out != in {
		t.Fatalf("LoadTicket = %+v %v", out, err)
	}
	if _, err := LoadTicket(path, now.Add(11*time.Minute)); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired ticket: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("an expired ticket stays on disk")
	}
	os.WriteFile(path, []byte("{"), 0o600)
	if _, err := LoadTicket(path, now); err == nil {
		t.Fatal("a damaged ticket loads")
	}
	if err := RemoveTicket(path); err != nil || RemoveTicket(path) != nil {
		t.Fatal("RemoveTicket")
	}
}
