package transfer

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// File is what a transfer needs of an open file.
type File interface {
	io.Reader
	io.ReaderAt
	io.WriterAt
	io.Seeker
	Truncate(size int64) error
	Sync() error
	Close() error
	Stat() (fs.FileInfo, error)
}

// FS is the filesystem a Manager reads and writes through. OSFS is the real
// one; tests wrap it to inject failures (transfertest.ErrorFS), so full
// disks and failing writes are tested without filling a real disk.
type FS interface {
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	Stat(name string) (fs.FileInfo, error)
	Remove(name string) error
	// Link makes new a second name of old; it fails with fs.ErrExist when
	// new exists, which is how a finished file never overwrites another.
	Link(oldname, newname string) error
	Rename(oldname, newname string) error
	MkdirAll(name string, perm fs.FileMode) error
	ReadDir(name string) ([]fs.DirEntry, error)
	// FreeSpace returns the bytes available to this user in dir, or -1
	// when the platform cannot tell.
	FreeSpace(dir string) (int64, error)
}

// OSFS is the operating system's filesystem.
type OSFS struct{}

func (OSFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (OSFS) Stat(name string) (fs.FileInfo, error)        { return os.Stat(name) }
func (OSFS) Remove(name string) error                     { return os.Remove(name) }
func (OSFS) Link(oldname, newname string) error           { return os.Link(oldname, newname) }
func (OSFS) Rename(oldname, newname string) error         { return os.Rename(oldname, newname) }
func (OSFS) MkdirAll(name string, perm fs.FileMode) error { return os.MkdirAll(name, perm) }
func (OSFS) ReadDir(name string) ([]fs.DirEntry, error)   { return os.ReadDir(name) }
func (OSFS) FreeSpace(dir string) (int64, error)          { return freeSpace(dir) }

// isNoSpace reports whether err means the disk (or quota) is full.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, errQuota)
}
