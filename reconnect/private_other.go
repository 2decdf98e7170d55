//go:build !unix

package reconnect

import (
	"fmt"
	"os"
)

// checkPrivate checks that p is a regular file. Elsewhere than Unix the
// state directory's ACL (the user's profile) keeps others out.
func checkPrivate(p string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", p)
	}
	return nil
}
