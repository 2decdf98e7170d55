package reconnect

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"assist/internal/clock"
)

// Ticket is what an agent needs to pick its session up again: written when
// the session starts and rewritten whenever the server rotates the one-time
// resume secret, so a crash, a kill -9 or a reboot never loses it.
type Ticket struct {
	// ID is unique per write: a ticket whose ID was already used to resume
	// is refused (a copy restored from a backup, a second `assist resume`).
	ID       string    `json:"id"`
	Session  string    `json:"session"`
	Secret   string    `json:"secret"`
	Server   string    `json:"server"`
	Code     string    `json:"code,omitempty"`
	Deadline time.Time `json:"deadline"`
	// Window is the reconnect window the server granted.
	Window time.Duration `json:"window"`
	// Service names the temporary service installed for this session (to
	// remove when it ends); empty when none.
	Service string `json:"service,omitempty"`
	// Data is the agent's own state (chat history, consents), kept with
	// the ticket and covered by its authentication.
	Data json.RawMessage `json:"data,omitempty"`
}

// Errors from Store.Load. Every refused ticket is deleted.
var (
	ErrNoTicket = errors.New("reconnect: no resume ticket: there is no session to resume")
	ErrExpired  = errors.New("reconnect: the resume ticket is past its deadline: the session has ended")
	ErrTampered = errors.New("reconnect: the resume ticket was altered or is unreadable")
	ErrReused   = errors.New("reconnect: the resume ticket was already used")
	ErrUnsafe   = errors.New("reconnect: the resume ticket is readable by others or not ours")
)

const (
	ticketFile = "ticket.json"
	keyFile    = "ticket.key"
	usedFile   = "ticket.used"
	lockFile   = "ticket.lock"
	maxUsed    = 64
	maxTicket  = 1 << 20
)

// Store keeps the resume ticket in a directory of its own.
type Store struct {
	Dir   string
	Clock clock.Clock // nil means the wall clock
}

// DefaultDir is the OS's state directory for the agent: $ASSIST_STATE_DIR
// when set; as root /var/lib/assist; otherwise $XDG_STATE_HOME/assist or
// ~/.local/state/assist (Linux), %LOCALAPPDATA%\assist (Windows, or
// %ProgramData%\assist for an administrator service), ~/Library/Application
// Support/assist (macOS).
func DefaultDir() (string, error) {
	if d := os.Getenv("ASSIST_STATE_DIR"); d != "" {
		return d, nil
	}
	switch runtime.GOOS {
	case "windows":
		if d := os.Getenv("LOCALAPPDATA"); d != "" {
			return filepath.Join(d, "assist"), nil
		}
		if d := os.Getenv("ProgramData"); d != "" {
			return filepath.Join(d, "assist"), nil
		}
	case "darwin":
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, "Library", "Application Support", "assist"), nil
		}
	default:
		if os.Geteuid() == 0 {
			return "/var/lib/assist", nil
		}
		if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
			return filepath.Join(d, "assist"), nil
		}
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, ".local", "state", "assist"), nil
		}
	}
	return "", errors.New("reconnect: no state directory: set ASSIST_STATE_DIR")
}

func (s *Store) now() time.Time {
	if s.Clock == nil {
		return time.Now()
	}
	return s.Clock.Now()
}

func (s *Store) path(name string) string { return filepath.Join(s.Dir, name) }

// envelope is the file format: the ticket's exact JSON bytes and their
// HMAC-SHA256 under the local key.
type envelope struct {
	Ticket json.RawMessage `json:"ticket"`
	MAC    string          `json:"mac"`
}

// key returns the local authentication key, creating it (0600) if needed.
func (s *Store) key(create bool) ([]byte, error) {
	b, err := os.ReadFile(s.path(keyFile))
	if err == nil && len(b) == 32 {
		return b, nil
	}
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		if err == nil {
			err = fmt.Errorf("key of %d bytes", len(b))
		}
		if !create {
			return nil, fmt.Errorf("%w: %v", ErrTampered, err)
		}
	}
	if !create {
		return nil, ErrNoTicket
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("reconnect: key: %w", err)
	}
	if err := writeFileAtomic(s.path(keyFile), k); err != nil {
		return nil, err
	}
	return k, nil
}

func mac(key, msg []byte) string {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	return hex.EncodeToString(h.Sum(nil))
}

// Save writes t (with a fresh ID) atomically, mode 0600, in a 0700
// directory, and returns the ID written.
func (s *Store) Save(t Ticket) (string, error) {
	if t.Session == "" || t.Secret == "" || t.Server == "" {
		return "", errors.New("reconnect: a ticket needs a session, a secret and a server")
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return "", fmt.Errorf("reconnect: state directory: %w", err)
	}
	k, err := s.key(true)
	if err != nil {
		return "", err
	}
	id := make([]byte, 12)
	rand.Read(id)
	t.ID = hex.EncodeToString(id)
	body, err := json.Marshal(t)
	if err != nil {
		return "", fmt.Errorf("reconnect: encode ticket: %w", err)
	}
	if len(body) > maxTicket {
		return "", fmt.Errorf("reconnect: ticket of %d bytes is too large", len(body))
	}
	b, err := json.Marshal(envelope{Ticket: body, MAC: mac(k, body)})
	if err != nil {
		return "", fmt.Errorf("reconnect: encode ticket: %w", err)
	}
	if err := writeFileAtomic(s.path(ticketFile), b); err != nil {
		return "", err
	}
	return t.ID, nil
}

// Load reads and checks the ticket. A ticket that is past its deadline,
// altered, unsafe (readable by others, or someone else's) or already used is
// deleted and refused with ErrExpired, ErrTampered, ErrUnsafe or ErrReused;
// no ticket at all is ErrNoTicket.
func (s *Store) Load() (Ticket, error) {
	p := s.path(ticketFile)
	if err := checkPrivate(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Ticket{}, ErrNoTicket
		}
		return Ticket{}, s.refuse(fmt.Errorf("%w: %v", ErrUnsafe, err))
	}
	b, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Ticket{}, ErrNoTicket
		}
		return Ticket{}, fmt.Errorf("reconnect: read ticket: %w", err)
	}
	var env envelope
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if len(b) > 2*maxTicket || dec.Decode(&env) != nil || dec.More() {
		return Ticket{}, s.refuse(ErrTampered)
	}
	k, err := s.key(false)
	if err != nil {
		if errors.Is(err, ErrNoTicket) {
			err = fmt.Errorf("%w: the key is missing", ErrTampered)
		}
		return Ticket{}, s.refuse(err)
	}
	if !hmac.Equal([]byte(mac(k, env.Ticket)), []byte(env.MAC)) {
		return Ticket{}, s.refuse(ErrTampered)
	}
	var t Ticket
	if err := json.Unmarshal(env.Ticket, &t); err != nil || t.ID == "" || t.Session == "" || t.Secret == "" || t.Server == "" {
		return Ticket{}, s.refuse(ErrTampered)
	}
	if s.used(t.ID) {
		return Ticket{}, s.refuse(ErrReused)
	}
	if !s.now().Before(t.Deadline) {
		return t, s.refuse(fmt.Errorf("%w (deadline %s)", ErrExpired, t.Deadline.Format(time.RFC3339)))
	}
	return t, nil
}

// refuse deletes the ticket and returns err.
func (s *Store) refuse(err error) error {
	os.Remove(s.path(ticketFile))
	return err
}

func (s *Store) used(id string) bool {
	b, err := os.ReadFile(s.path(usedFile))
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if l == id {
			return true
		}
	}
	return false
}

// MarkUsed records that the ticket id resumed the session: it is never
// accepted again (the server rotated its secret anyway).
func (s *Store) MarkUsed(id string) error {
	if id == "" {
		return nil
	}
	var ids []string
	if b, err := os.ReadFile(s.path(usedFile)); err == nil {
		ids = strings.Fields(string(b))
	}
	ids = append(ids, id)
	if len(ids) > maxUsed {
		ids = ids[len(ids)-maxUsed:]
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("reconnect: state directory: %w", err)
	}
	return writeFileAtomic(s.path(usedFile), []byte(strings.Join(ids, "\n")+"\n"))
}

// Clear removes every trace of the ticket: the ticket, its key, the list
// of used IDs, the lock and stray temporary files, then the directory if it
// is left empty. It is called when the session ends.
func (s *Store) Clear() error {
	var errs []error
	for _, n := range []string{ticketFile, keyFile, usedFile, lockFile} {
		if err := os.Remove(s.path(n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if tmps, _ := filepath.Glob(s.path(".ticket*.tmp")); len(tmps) > 0 {
		for _, t := range tmps {
			os.Remove(t)
		}
	}
	os.Remove(s.Dir) // only if empty: other state may live there
	if len(errs) > 0 {
		return fmt.Errorf("reconnect: clear: %w", errors.Join(errs...))
	}
	return nil
}

// writeFileAtomic writes b to a temporary file beside p (mode 0600),
// flushes it and renames it over p: a crash leaves the old file or the
// new one, never half of one.
func writeFileAtomic(p string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(p), "."+strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))+"-*.tmp")
	if err != nil {
		return fmt.Errorf("reconnect: write %s: %w", filepath.Base(p), err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("reconnect: write %s: %w", filepath.Base(p), err)
	}
	if err := f.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		return fail(err)
	}
	if _, err := f.Write(b); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("reconnect: write %s: %w", filepath.Base(p), err)
	}
	return nil
}
