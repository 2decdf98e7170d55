package transfer

import (
	"errors"
	"fmt"
)

// ErrCorrupt reports data that failed SHA-256 verification.
var ErrCorrupt = errors.New("transfer: data failed SHA-256 verification")

// ErrCancelled reports a transfer cancelled by either side.
var ErrCancelled = errors.New("transfer: cancelled")

// ErrAbandoned reports a transfer whose other side's connection went away
// and did not come back within Config.PeerWindow.
var ErrAbandoned = errors.New("transfer: the other side did not come back")

// ErrRefused reports a transfer the other side declined.
var ErrRefused = errors.New("transfer: refused")

// ErrNoSpace reports a disk without room for the file.
var ErrNoSpace = errors.New("transfer: not enough free space")

// SpaceError says how much room a file needs and how much there is.
type SpaceError struct {
	Dir         string
	Need, Avail int64
	During      bool // the disk filled up while the file was written
}

func (e *SpaceError) Error() string {
	if e.During {
		return fmt.Sprintf("the disk holding %s is full: the file needs %s and only %s were free; the partial file was removed",
			e.Dir, Size(e.Need), Size(e.Avail))
	}
	return fmt.Sprintf("not enough free space in %s: the file needs %s, %s available", e.Dir, Size(e.Need), Size(e.Avail))
}

func (e *SpaceError) Unwrap() error { return ErrNoSpace }

// RemoteError is a failure the other side reported (file_refuse or
// file_error), with its protocol code.
type RemoteError struct {
	Code    string // a protocol.File* code
	Message string
	kind    error // ErrRefused, ErrNoSpace, ErrCorrupt or nil
}

func (e *RemoteError) Error() string { return e.Message }

func (e *RemoteError) Unwrap() error { return e.kind }

// Size formats n bytes for people: "812 B", "80.0 MB", "4.29 GB".
func Size(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	prec := 1
	if v < 10 {
		prec = 2
	}
	return fmt.Sprintf("%.*f %cB", prec, v, "kMGTP"[exp])
}
