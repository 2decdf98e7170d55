//go:build unix

package reconnect

import (
	"fmt"
	"os"
	"syscall"
)

// checkPrivate refuses a file that others may read or write, or that
// belongs to another user.
func checkPrivate(p string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", p)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s has mode %v, want 0600", p, fi.Mode().Perm())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s belongs to uid %d, not %d", p, st.Uid, os.Geteuid())
	}
	return nil
}
