package chatwin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"assist/internal/userdirs"
)

// The file picker: the browser cannot hand a local path to the page, so the
// window lists the customer's folders itself (over the page's WebSocket,
// picker requests in pickerws.go) and offers the chosen files through
// Config.Files.

// Offerer offers a customer's file to the connected support technicians
// (*agent.Files) and returns the transfer ids.
type Offerer interface {
	Offer(path string) ([]string, error)
}

// Limits of the picker.
const (
	// MaxListEntries bounds the entries of one listing; the rest are counted.
	MaxListEntries = 2000
	// maxScan bounds how many entries of one folder are read at all.
	maxScan = 100_000
	// MaxOfferFiles bounds the files of one offer_files request.
	MaxOfferFiles = 100
	// readBatch is how many entries are read between checks of the context.
	readBatch = 1024
)

// Entry is one folder or file in a Listing.
type Entry struct {
	Name     string `json:"name"`
	Dir      bool   `json:"dir,omitempty"`
	Link     bool   `json:"link,omitempty"` // a symbolic link (to Dir or to a file)
	Size     int64  `json:"size"`
	Modified int64  `json:"modified"` // unix ms
}

// Place is one of the picker's shortcuts (Home, Desktop, ...).
type Place struct {
	Name string `json:"name"`
	Path string `json:"path"`
}

// Listing is one folder as the picker shows it: folders first, then files,
// each by name; at most MaxListEntries.
type Listing struct {
	Path    string  `json:"path"`             // absolute, cleaned
	Parent  string  `json:"parent,omitempty"` // empty at the root
	Entries []Entry `json:"entries"`
	Omitted int     `json:"omitted,omitempty"` // entries beyond the cap, not shown
	Hidden  int     `json:"hidden,omitempty"`  // hidden entries, not shown
	Skipped int     `json:"skipped,omitempty"` // unreadable entries, broken links, devices, pipes
	Partial bool    `json:"partial,omitempty"` // the folder has more than maxScan entries: only those were read
	Places  []Place `json:"places,omitempty"`
}

// errNotDir and errNotFile are a path of the wrong kind.
var (
	errNotDir  = errors.New("not a folder")
	errNotFile = errors.New("not a regular file")
)

// dirFS is the filesystem as the picker reads it: osFS, or a test's wrapper
// that injects errors (the tests run as root, where permissions never fail).
type dirFS interface {
	Open(name string) (dirFile, error)
	Stat(name string) (fs.FileInfo, error) // follows symbolic links
}

// dirFile is an open folder or file.
type dirFile interface {
	ReadDir(n int) ([]fs.DirEntry, error)
	Close() error
}

// osFS is the real filesystem.
type osFS struct{}

func (osFS) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }

func (osFS) Open(name string) (dirFile, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err // not a nil *os.File in a non-nil interface
	}
	return f, nil
}

// listOptions say what listDir shows.
type listOptions struct {
	Hidden bool // show hidden entries
	Max    int  // at most this many entries (MaxListEntries when 0)
}

// listDir lists the folder dir, an absolute path. Entries that cannot be
// read, broken or looping links and entries that are neither folders nor
// regular files are skipped and counted; links are followed to tell a
// folder from a file.
func listDir(ctx context.Context, fsys dirFS, dir string, opt listOptions) (Listing, error) {
	if opt.Max <= 0 {
		opt.Max = MaxListEntries
	}
	if !filepath.IsAbs(dir) {
		return Listing{}, fmt.Errorf("list %q: %w", dir, errors.New("not an absolute path"))
	}
	l := Listing{Path: filepath.Clean(dir), Entries: []Entry{}}
	if p := filepath.Dir(l.Path); p != l.Path {
		l.Parent = p
	}
	ents, partial, err := readAll(ctx, fsys, l.Path)
	if err != nil {
		return l, fmt.Errorf("list %s: %w", l.Path, err)
	}
	l.Partial = partial
	var shown []listed
	for _, e := range ents {
		if !opt.Hidden && isHidden(e) {
			l.Hidden++
			continue
		}
		x, ok := classify(fsys, l.Path, e)
		if !ok {
			l.Skipped++
			continue
		}
		shown = append(shown, x)
	}
	slices.SortFunc(shown, byFolderThenName)
	if len(shown) > opt.Max {
		l.Omitted = len(shown) - opt.Max
		shown = shown[:opt.Max]
	}
	for _, x := range shown {
		e, ok := x.entry()
		if !ok {
			l.Skipped++
			continue
		}
		l.Entries = append(l.Entries, e)
	}
	return l, nil
}

// readAll reads dir's entries in batches, stopping at ctx's end and after
// maxScan entries (partial).
func readAll(ctx context.Context, fsys dirFS, dir string) ([]fs.DirEntry, bool, error) {
	fi, err := fsys.Stat(dir)
	if err != nil {
		return nil, false, err
	}
	if !fi.IsDir() {
		return nil, false, errNotDir
	}
	f, err := fsys.Open(dir)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	var all []fs.DirEntry
	for {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		batch, err := f.ReadDir(readBatch)
		all = append(all, batch...)
		switch {
		case errors.Is(err, io.EOF):
			return all, false, nil
		case err != nil && len(all) == 0:
			return nil, false, err
		case err != nil:
			return all, false, nil // what could be read
		case len(all) >= maxScan:
			return all[:maxScan], true, nil
		}
	}
}

// listed is an entry kept for the listing, its kind known.
type listed struct {
	e    fs.DirEntry
	dir  bool
	link fs.FileInfo // the target, for a symbolic link
}

// classify tells a folder from a file, following a link; false for
// anything else (devices, pipes, sockets) and for what cannot be read.
func classify(fsys dirFS, dir string, e fs.DirEntry) (listed, bool) {
	t := e.Type()
	if t&fs.ModeSymlink == 0 {
		return listed{e: e, dir: t.IsDir()}, t.IsDir() || t.IsRegular()
	}
	fi, err := fsys.Stat(filepath.Join(dir, e.Name()))
	if err != nil { // broken, looping, or not allowed
		return listed{}, false
	}
	return listed{e: e, dir: fi.IsDir(), link: fi}, fi.IsDir() || fi.Mode().IsRegular()
}

// entry reads the size and time of a shown entry; false when it vanished.
func (x listed) entry() (Entry, bool) {
	fi := x.link
	if fi == nil {
		var err error
		if fi, err = x.e.Info(); err != nil {
			return Entry{}, false
		}
	}
	e := Entry{Name: x.e.Name(), Dir: x.dir, Link: x.link != nil, Modified: fi.ModTime().UnixMilli()}
	if !x.dir {
		e.Size = fi.Size()
	}
	return e, true
}

func byFolderThenName(a, b listed) int {
	if a.dir != b.dir {
		if a.dir {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(strings.ToLower(a.e.Name()), strings.ToLower(b.e.Name())); c != 0 {
		return c
	}
	return cmp.Compare(a.e.Name(), b.e.Name())
}

// offerPath checks that name, in the folder dir, is a regular file the
// customer can read, and returns its path. name must be a plain name.
func offerPath(fsys dirFS, dir, name string) (string, error) {
	if !filepath.IsAbs(dir) || name == "" || name == "." || name == ".." ||
		strings.ContainsAny(name, `/`+string(filepath.Separator)) || filepath.VolumeName(name) != "" {
		return "", fmt.Errorf("offer %q in %q: %w", name, dir, errNotFile)
	}
	p := filepath.Join(filepath.Clean(dir), name)
	fi, err := fsys.Stat(p) // follows a link to its file
	if err != nil {
		return "", fmt.Errorf("offer %s: %w", p, err)
	}
	if !fi.Mode().IsRegular() { // never open a pipe or a device: it could block
		return "", fmt.Errorf("offer %s: %w", p, errNotFile)
	}
	f, err := fsys.Open(p)
	if err != nil {
		return "", fmt.Errorf("offer %s: %w", p, err)
	}
	f.Close()
	return p, nil
}

// startDir is where the picker opens: the home folder, else the root.
func startDir() string {
	if h, err := os.UserHomeDir(); err == nil && filepath.IsAbs(h) {
		return h
	}
	return string(filepath.Separator)
}

// places are the picker's shortcuts that exist: Home, Desktop, Documents,
// Downloads.
func places(fsys dirFS) []Place {
	var out []Place
	add := func(name, p string) {
		if p == "" || !filepath.IsAbs(p) || slices.ContainsFunc(out, func(x Place) bool { return x.Path == p }) {
			return
		}
		if fi, err := fsys.Stat(p); err == nil && fi.IsDir() {
			out = append(out, Place{Name: name, Path: filepath.Clean(p)})
		}
	}
	if h, err := os.UserHomeDir(); err == nil {
		add("Home", h)
	}
	for _, k := range []struct {
		name string
		kind userdirs.Kind
	}{{"Desktop", userdirs.Desktop}, {"Documents", userdirs.Documents}, {"Downloads", userdirs.Download}} {
		if d, err := userdirs.Dir(k.kind); err == nil {
			add(k.name, d)
		}
	}
	return out
}

// pickerError is the sentence the customer reads for a picker failure.
func pickerError(err error, path string, folder bool) string {
	what := "the file"
	if folder {
		what = "the folder"
	}
	switch {
	case errors.Is(err, fs.ErrPermission):
		return fmt.Sprintf("You are not allowed to open %s %s.", what, path)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("%s %s is not there (any more).", capitalize(what), path)
	case errors.Is(err, errNotDir):
		return fmt.Sprintf("%s is not a folder.", path)
	case errors.Is(err, errNotFile):
		return fmt.Sprintf("%s is not a file that can be sent (a folder, a device or a pipe).", path)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err // the path is in the sentence already
	}
	return fmt.Sprintf("Could not open %s %s: %v", what, path, err)
}

func capitalize(s string) string { return strings.ToUpper(s[:1]) + s[1:] }
