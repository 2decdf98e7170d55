package chatwin

import (
	"io/fs"
	"strings"
	"syscall"
)

// isHidden: a dot-file, or an entry with the hidden or system attribute
// (desktop.ini, ntuser.dat, AppData).
func isHidden(e fs.DirEntry) bool {
	if strings.HasPrefix(e.Name(), ".") {
		return true
	}
	fi, err := e.Info()
	if err != nil {
		return false
	}
	d, ok := fi.Sys().(*syscall.Win32FileAttributeData)
	return ok && d.FileAttributes&(syscall.FILE_ATTRIBUTE_HIDDEN|syscall.FILE_ATTRIBUTE_SYSTEM) != 0
}
