//go:build unix

package chatwin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// denyFS injects "permission denied" for some paths: the tests run as
// root, where a mode of 000 denies nothing.
type denyFS struct {
	dirFS
	open, stat map[string]bool
}

func (d denyFS) Open(name string) (dirFile, error) {
	if d.open[name] {
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EACCES}
	}
	return d.dirFS.Open(name)
}

func (d denyFS) Stat(name string) (fs.FileInfo, error) {
	if d.stat[name] {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: syscall.EACCES}
	}
	return d.dirFS.Stat(name)
}

// pickerTree makes a folder with what a home folder holds: hidden entries,
// folders and files in mixed case, links to both, a broken and a looping
// link, and a named pipe.
func pickerTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"sub", "Zdir", ".hiddendir"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range map[string]string{"b.txt": "bee", "A.txt": "a", ".hidden": "h"} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	when := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	os.Chtimes(filepath.Join(root, "b.txt"), when, when)
	for link, target := range map[string]string{"link-to-sub": "sub", "link-to-file": "b.txt", "broken": "nowhere", "loop": "loop"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// names renders a listing's entries as "name/" (folder), "name@" (link)
// and "name" (file).
func names(l Listing) string {
	var s []string
	for _, e := range l.Entries {
		n := e.Name
		if e.Dir {
			n += "/"
		}
		if e.Link {
			n += "@"
		}
		s = append(s, n)
	}
	return strings.Join(s, " ")
}

func TestListDir(t *testing.T) {
	root := pickerTree(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		fsys    dirFS
		dir     string
		opt     listOptions
		want    string // entries
		counts  string // omitted hidden skipped
		wantErr error
	}{
		{name: "folders first, by name, dot-files hidden; broken, looping links and a pipe skipped",
			fsys: osFS{}, dir: root, want: "link-to-sub/@ sub/ Zdir/ A.txt b.txt link-to-file@", counts: "0 2 3"},
		{name: "hidden files when asked", fsys: osFS{}, dir: root, opt: listOptions{Hidden: true},
			want: ".hiddendir/ link-to-sub/@ sub/ Zdir/ .hidden A.txt b.txt link-to-file@", counts: "0 0 3"},
		{name: "the cap counts the rest", fsys: osFS{}, dir: root, opt: listOptions{Max: 4},
			want: "link-to-sub/@ sub/ Zdir/ A.txt", counts: "2 2 3"},
		{name: "an unclean path is cleaned", fsys: osFS{}, dir: root + "/sub/../", want: "link-to-sub/@ sub/ Zdir/ A.txt b.txt link-to-file@", counts: "0 2 3"},
		{name: "an empty folder", fsys: osFS{}, dir: filepath.Join(root, "sub"), want: "", counts: "0 0 0"},
		{name: "a folder through a link", fsys: osFS{}, dir: filepath.Join(root, "link-to-sub"), want: "", counts: "0 0 0"},
		{name: "an entry that cannot be read is skipped", fsys: denyFS{dirFS: osFS{}, stat: map[string]bool{filepath.Join(root, "link-to-sub"): true}},
			dir: root, want: "sub/ Zdir/ A.txt b.txt link-to-file@", counts: "0 2 4"},
		{name: "permission denied", fsys: denyFS{dirFS: osFS{}, open: map[string]bool{root: true}}, dir: root, wantErr: fs.ErrPermission},
		{name: "a vanished folder", fsys: osFS{}, dir: filepath.Join(root, "gone"), wantErr: fs.ErrNotExist},
		{name: "a file is not a folder", fsys: osFS{}, dir: filepath.Join(root, "b.txt"), wantErr: errNotDir},
		{name: "a pipe is not a folder", fsys: osFS{}, dir: filepath.Join(root, "fifo"), wantErr: errNotDir},
		{name: "a looping link", fsys: osFS{}, dir: filepath.Join(root, "loop"), wantErr: syscall.ELOOP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := listDir(ctx, tc.fsys, tc.dir, tc.opt)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := names(l); got != tc.want {
				t.Errorf("entries %q\nwant    %q", got, tc.want)
			}
			if got := fmt.Sprint(l.Omitted, l.Hidden, l.Skipped); got != tc.counts {
				t.Errorf("omitted hidden skipped = %s, want %s", got, tc.counts)
			}
			if l.Path != filepath.Clean(tc.dir) || l.Parent != filepath.Dir(filepath.Clean(tc.dir)) {
				t.Errorf("path %q parent %q", l.Path, l.Parent)
			}
		})
	}

	l, err := listDir(ctx, osFS{}, root, listOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range l.Entries {
		if e.Name == "b.txt" && (e.Size != 3 || e.Modified != time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC).UnixMilli()) {
			t.Errorf("b.txt: %+v, want 3 bytes and its time", e)
		}
		if e.Dir && e.Size != 0 {
			t.Errorf("folder %s has a size", e.Name)
		}
	}
	if l, err := listDir(ctx, osFS{}, "/", listOptions{}); err != nil || l.Parent != "" {
		t.Errorf("the root: parent %q, %v; want none", l.Parent, err)
	}
	if _, err := listDir(ctx, osFS{}, "relative/dir", listOptions{}); err == nil {
		t.Error("a relative path was listed")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := listDir(cancelled, osFS{}, root, listOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled listing: %v", err)
	}
}

// TestListDirCap: a folder larger than MaxListEntries shows that many, and
// says how many more there are.
func TestListDirCap(t *testing.T) {
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, "zz folder"), 0o755)
	for i := range MaxListEntries + 10 {
		if err := os.WriteFile(filepath.Join(root, fmt.Sprintf("f%05d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l, err := listDir(context.Background(), osFS{}, root, listOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Entries) != MaxListEntries || l.Omitted != 11 || l.Entries[0].Name != "zz folder" || l.Entries[1].Name != "f00000" {
		t.Fatalf("%d entries (first %+v), %d omitted; want %d with the folder first, 11 omitted", len(l.Entries), l.Entries[0], l.Omitted, MaxListEntries)
	}
}

// TestListDirRealPermission: a folder the user may not read (only
// meaningful when not root; root reads everything).
func TestListDirRealPermission(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may read any folder: TestListDir injects the error instead")
	}
	root := t.TempDir()
	locked := filepath.Join(root, "locked")
	os.Mkdir(locked, 0o000)
	t.Cleanup(func() { os.Chmod(locked, 0o755) })
	if _, err := listDir(context.Background(), osFS{}, locked, listOptions{}); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("listing a locked folder: %v", err)
	}
}

func TestOfferPath(t *testing.T) {
	root := pickerTree(t)
	for _, tc := range []struct {
		name, file string
		fsys       dirFS
		want       error
	}{
		{name: "a file", file: "b.txt", fsys: osFS{}},
		{name: "a link to a file", file: "link-to-file", fsys: osFS{}},
		{name: "a hidden file the customer chose to show", file: ".hidden", fsys: osFS{}},
		{name: "a folder", file: "sub", fsys: osFS{}, want: errNotFile},
		{name: "a link to a folder", file: "link-to-sub", fsys: osFS{}, want: errNotFile},
		{name: "a pipe (opening it would block)", file: "fifo", fsys: osFS{}, want: errNotFile},
		{name: "a vanished file", file: "gone.txt", fsys: osFS{}, want: fs.ErrNotExist},
		{name: "a broken link", file: "broken", fsys: osFS{}, want: fs.ErrNotExist},
		{name: "a looping link", file: "loop", fsys: osFS{}, want: syscall.ELOOP},
		{name: "a path, not a name", file: "../b.txt", fsys: osFS{}, want: errNotFile},
		{name: "the parent", file: "..", fsys: osFS{}, want: errNotFile},
		{name: "no name", file: "", fsys: osFS{}, want: errNotFile},
		{name: "not readable", file: "A.txt", fsys: denyFS{dirFS: osFS{}, open: map[string]bool{filepath.Join(root, "A.txt"): true}}, want: fs.ErrPermission},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := offerPath(tc.fsys, root, tc.file)
			if !errors.Is(err, tc.want) {
				t.Fatalf("offerPath(%q) = %q, %v; want %v", tc.file, p, err, tc.want)
			}
			if tc.want == nil && p != filepath.Join(root, tc.file) {
				t.Fatalf("path %q", p)
			}
		})
	}
	if _, err := offerPath(osFS{}, "relative", "b.txt"); err == nil {
		t.Error("a relative folder was accepted")
	}
}

func TestPickerErrorsForPeople(t *testing.T) {
	for _, tc := range []struct {
		err    error
		folder bool
		want   string
	}{
		{&fs.PathError{Op: "open", Path: "/x", Err: syscall.EACCES}, true, "You are not allowed to open the folder /x."},
		{fmt.Errorf("list /x: %w", fs.ErrNotExist), true, "The folder /x is not there (any more)."},
		{errNotDir, true, "/x is not a folder."},
		{errNotFile, false, "/x is not a file that can be sent (a folder, a device or a pipe)."},
		{fs.ErrNotExist, false, "The file /x is not there (any more)."},
		{fmt.Errorf("list /x: %w", &fs.PathError{Op: "readdirent", Path: "/x", Err: syscall.EIO}), true, "Could not open the folder /x: input/output error"},
	} {
		if got := pickerError(tc.err, "/x", tc.folder); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestPlaces(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("XDG_DESKTOP_DIR", "")
	t.Setenv("XDG_DOCUMENTS_DIR", "")
	dl := t.TempDir()
	t.Setenv("XDG_DOWNLOAD_DIR", dl)
	os.Mkdir(filepath.Join(home, "Documents"), 0o755) // no Desktop
	var got []string
	for _, p := range places(osFS{}) {
		got = append(got, p.Name+"="+p.Path)
	}
	want := []string{"Home=" + home, "Documents=" + filepath.Join(home, "Documents"), "Downloads=" + dl}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("places %q, want %q", got, want)
	}
}

// anyFile is a filesystem where every path is a readable regular file.
type anyFile struct{}

type fileInfo struct{ name string }

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return 1 }
func (i fileInfo) Mode() fs.FileMode  { return 0o644 }
func (i fileInfo) ModTime() time.Time { return time.Time{} }
func (i fileInfo) IsDir() bool        { return false }
func (i fileInfo) Sys() any           { return nil }

type noEntries struct{}

func (noEntries) ReadDir(int) ([]fs.DirEntry, error) { return nil, io.EOF }
func (noEntries) Close() error                       { return nil }

func (anyFile) Stat(name string) (fs.FileInfo, error) { return fileInfo{filepath.Base(name)}, nil }
func (anyFile) Open(string) (dirFile, error)          { return noEntries{}, nil }

// FuzzOfferPath: whatever folder and name a page sends, an offered path is
// the name itself directly inside that folder, never a file elsewhere.
func FuzzOfferPath(f *testing.F) {
	for _, s := range [][2]string{
		{"/home/c", "report.pdf"}, {"/home/c", "../etc/passwd"}, {"/home/c", ".."}, {"/home/c/../..", "x"},
		{"relative", "x"}, {"/", "a/b"}, {"/home/c", `a\b`}, {"/home/c", ""}, {"/home/c", "\x00"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, dir, name string) {
		p, err := offerPath(anyFile{}, dir, name)
		if err != nil {
			return
		}
		if filepath.Dir(p) != filepath.Clean(dir) || filepath.Base(p) != name || !filepath.IsAbs(p) {
			t.Fatalf("offerPath(%q, %q) = %q: not the name inside the folder", dir, name, p)
		}
	})
}
