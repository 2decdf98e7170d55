package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"assist/protocol"
)

// The registry's state file keeps the sessions across a restart of the
// server: a restarted server does not end them. Agents that were connected
// find their session suspended and resume it with their one-time secret;
// reps attach again.

type persistedSession struct {
	ID       string             `json:"id"`
	Code     string             `json:"code"`
	Created  time.Time          `json:"created"`
	Expires  time.Time          `json:"expires"`
	State    string             `json:"state"`
	Reason   string             `json:"reason,omitempty"`
	Info     protocol.AgentInfo `json:"info"`
	Joined   bool               `json:"joined,omitempty"`
	Secret   string             `json:"secret,omitempty"`
	Deadline time.Time          `json:"deadline,omitempty"`
	Ended    time.Time          `json:"ended,omitempty"`
}

type stateFile struct {
	Version  int                `json:"version"`
	Sessions []persistedSession `json:"sessions"`
}

// persister writes the registry's state in its own goroutine, newest
// snapshot wins.
type persister struct {
	path string
	log  *slog.Logger
	next chan []byte
	done chan struct{}
}

// UseStateFile loads the sessions saved in path (if it exists) and from
// then on saves every change there (mode 0600, written atomically). Call
// it before serving; Close flushes the last state.
func (r *Registry) UseStateFile(path string, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("server: state directory: %w", err)
	}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("server: read state: %w", err)
	default:
		var st stateFile
		if err := json.Unmarshal(b, &st); err != nil || st.Version != 1 {
			// A damaged file must not keep the server down: start empty, keep the file aside.
			bad := path + ".bad"
			os.Rename(path, bad)
			log.Error("state file unreadable; starting without sessions", "component", "server", "file", path, "moved_to", bad, "err", err)
		} else {
			r.restore(st, log)
		}
	}
	p := &persister{path: path, log: log, next: make(chan []byte, 1), done: make(chan struct{})}
	go p.run()
	r.mu.Lock()
	r.persist = p
	r.persistLocked()
	r.mu.Unlock()
	return nil
}

func (p *persister) run() {
	defer close(p.done)
	for b := range p.next {
		if err := writeAtomic(p.path, b); err != nil {
			p.log.Error("cannot save the sessions", "component", "server", "err", err)
		}
	}
}

func writeAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err = f.Write(b); err == nil {
		if err = f.Chmod(0o600); err == nil {
			if err = f.Sync(); err == nil {
				err = f.Close()
			}
		}
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// persistLocked hands the current state to the writer; r.mu must be held.
func (r *Registry) persistLocked() {
	p := r.persist
	if p == nil {
		return
	}
	st := stateFile{Version: 1, Sessions: []persistedSession{}}
	for _, s := range r.byID {
		st.Sessions = append(st.Sessions, persistedSession{
			ID: s.id, Code: s.code, Created: s.created, Expires: s.expires, State: s.state, Reason: s.reason,
			Info: s.info, Joined: s.joined, Secret: s.secret, Deadline: s.deadline, Ended: s.endedAt,
		})
	}
	sort.Slice(st.Sessions, func(i, j int) bool { return st.Sessions[i].Created.Before(st.Sessions[j].Created) })
	b, err := json.Marshal(st)
	if err != nil {
		return
	}
	select {
	case <-p.next: // an unwritten older state: replaced
	default:
	}
	p.next <- b
}

// closePersist writes the last state and stops the writer.
func (r *Registry) closePersist() {
	r.mu.Lock()
	p := r.persist
	if p != nil {
		r.persistLocked()
		r.persist = nil
	}
	r.mu.Unlock()
	if p != nil {
		close(p.next)
		<-p.done
	}
}

// restore brings saved sessions back. A session whose agent was connected
// is suspended for a fresh window (its agent is reconnecting).
func (r *Registry) restore(st stateFile, log *slog.Logger) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.Now()
	n := 0
	for _, ps := range st.Sessions {
		if ps.ID == "" || !protocol.IsCode(ps.Code) || r.byID[ps.ID] != nil || r.byCode[ps.Code] != nil {
			continue
		}
		s := &session{
			id: ps.ID, code: ps.Code, created: ps.Created, expires: ps.Expires, state: ps.State, reason: ps.Reason,
			info: ps.Info, joined: ps.Joined, secret: ps.Secret, reps: map[string]peer{}, endedAt: ps.Ended,
		}
		r.byID[s.id], r.byCode[s.code] = s, s
		switch s.state {
		case protocol.StateWaiting:
			r.liveSess++
			if !now.Before(s.expires) {
				r.endLocked(s, "the code expired before the customer joined")
				continue
			}
			s.timer = r.clock.AfterFunc(s.expires.Sub(now), func() { r.expire(s) })
		case protocol.StateActive, protocol.StateSuspended:
			r.liveSess++
			s.state = protocol.StateSuspended
			s.reason = "the support server restarted; waiting for the customer to reconnect"
			r.suspendLocked(s)
		default: // ended
			s.state = protocol.StateEnded
			if s.endedAt.IsZero() {
				s.endedAt = now
			}
			left := s.endedAt.Add(r.keepEnded).Sub(now)
			s.timer = r.clock.AfterFunc(max(left, 0), func() { r.forget(s) })
		}
		n++
	}
	log.Info("sessions restored", "component", "server", "count", n)
}

// forget drops an ended session from memory.
func (r *Registry) forget(s *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byID[s.id] == s {
		delete(r.byCode, s.code)
		delete(r.byID, s.id)
		r.persistLocked()
	}
}
