//go:build !windows

package chatwin

import (
	"io/fs"
	"strings"
)

// isHidden: a dot-file or dot-folder.
func isHidden(e fs.DirEntry) bool { return strings.HasPrefix(e.Name(), ".") }
