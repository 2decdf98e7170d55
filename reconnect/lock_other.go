//go:build !unix

package reconnect

import "errors"

// ErrBusy reports that another agent holds the state directory's lock.
var ErrBusy = errors.New("reconnect: another assist program is running a session with this state directory")

// Lock is a no-op where there is no flock: one agent per user is the rule.
func (s *Store) Lock() (func(), error) { return func() {}, nil }
