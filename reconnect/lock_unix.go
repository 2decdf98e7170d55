//go:build unix

package reconnect

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrBusy reports that another agent holds the state directory's lock.
var ErrBusy = errors.New("reconnect: another assist program is running a session with this state directory")

// Lock takes the state directory's lock for as long as this agent runs a
// session: a second `assist resume` of the same ticket (the service and a
// person at the same time) stops with ErrBusy instead of fighting over the
// session. The returned function releases it.
func (s *Store) Lock() (func(), error) {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("reconnect: state directory: %w", err)
	}
	f, err := os.OpenFile(s.path(lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("reconnect: lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrBusy
		}
		return nil, fmt.Errorf("reconnect: lock: %w", err)
	}
	return func() { f.Close() }, nil
}
