//go:build unix

package chatwin

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeFiles records what the window offers; err, when set, fails offers.
type fakeFiles struct {
	mu      sync.Mutex
	offered []string
	err     error
}

func (f *fakeFiles) Offer(path string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	f.offered = append(f.offered, path)
	return []string{fmt.Sprint(len(f.offered))}, nil
}

func (f *fakeFiles) got() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.offered, "|")
}

func (f *fakeFiles) fail(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

// pickerHome makes a home folder with a Documents folder, a file and a
// dot-file, and points HOME and the XDG folders at it.
func pickerHome(t *testing.T) string {
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, k := range []string{"XDG_CONFIG_HOME", "XDG_DESKTOP_DIR", "XDG_DOCUMENTS_DIR", "XDG_DOWNLOAD_DIR"} {
		t.Setenv(k, "")
	}
	os.Mkdir(filepath.Join(home, "Documents"), 0o755)
	os.WriteFile(filepath.Join(home, "notes.txt"), []byte("my notes"), 0o644)
	os.WriteFile(filepath.Join(home, ".secret"), []byte("s"), 0o600)
	return home
}

// TestChatWindowPicker drives the file picker over a real window's
// WebSocket: the start folder with dot-files hidden, hidden files on
// request, clear errors for a vanished folder and a file taken for a
// folder, offers of a file (and refusals of a folder, a path and a failed
// offer), and the page's connection survives every error.
func TestChatWindowPicker(t *testing.T) {
	home := pickerHome(t)
	files := &fakeFiles{}
	w, _ := newWindowWith(t, Config{Files: files})
	ctx := testCtx(t)
	p := openPage(t, ctx, w)
	if hello := p.read(ctx, "hello"); !hello.Picker {
		t.Fatal("hello does not offer the picker")
	}
	id := 0
	list := func(path string, hidden bool) message {
		t.Helper()
		id++
		p.send(ctx, map[string]any{"type": "list_dir", "id": id, "path": path, "hidden": hidden})
		m := p.read(ctx, "dir")
		if m.ID != id || m.Listing == nil {
			t.Fatalf("reply %+v to list_dir %d", m, id)
		}
		return m
	}
	offer := func(dir string, names ...string) message {
		t.Helper()
		id++
		p.send(ctx, map[string]any{"type": "offer_files", "id": id, "path": dir, "names": names})
		m := p.read(ctx, "offer_done")
		if m.ID != id {
			t.Fatalf("reply %+v to offer_files %d", m, id)
		}
		return m
	}

	start := list("", false)
	if start.Error != "" || start.Listing.Path != home || names(*start.Listing) != "Documents/ notes.txt" || start.Listing.Hidden != 1 {
		t.Fatalf("start folder: %+v", start)
	}
	if got := fmt.Sprint(start.Listing.Places); got != fmt.Sprintf("[{Home %s} {Documents %s}]", home, filepath.Join(home, "Documents")) {
		t.Errorf("places %s", got)
	}
	if m := list(home, true); names(*m.Listing) != "Documents/ .secret notes.txt" {
		t.Errorf("with hidden files: %q", names(*m.Listing))
	}
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(home, "gone"), "The folder " + filepath.Join(home, "gone") + " is not there (any more)."},
		{filepath.Join(home, "notes.txt"), filepath.Join(home, "notes.txt") + " is not a folder."},
		{"relative", `"relative" is not a folder.`},
	} {
		m := list(tc.path, false)
		if m.Error != tc.want || len(m.Listing.Places) == 0 {
			t.Errorf("list %s: error %q (places %v), want %q and the shortcuts", tc.path, m.Error, m.Listing.Places, tc.want)
		}
	}

	if m := offer(home, "notes.txt"); m.Error != "" || m.Sent != 1 || files.got() != filepath.Join(home, "notes.txt") {
		t.Fatalf("offer: %+v, offered %q", m, files.got())
	}
	for _, tc := range []struct {
		names []string
		want  string
	}{
		{[]string{"Documents"}, "is not a file that can be sent"},
		{[]string{"notes.txt", "../../etc/passwd"}, "is not a file that can be sent"},
		{[]string{"vanished.txt"}, "is not there"},
		{nil, "Choose between 1 and 100 files."},
		{make([]string, MaxOfferFiles+1), "Choose between 1 and 100 files."},
	} {
		if m := offer(home, tc.names...); !strings.Contains(m.Error, tc.want) || m.Sent != 0 {
			t.Errorf("offer %q: %+v, want an error with %q", tc.names, m, tc.want)
		}
	}
	files.fail(errors.New("agent: no support technician is connected"))
	if m := offer(home, "notes.txt"); m.Error != "Could not send notes.txt: agent: no support technician is connected" {
		t.Errorf("a failed offer: %+v", m)
	}
	if got := files.got(); got != filepath.Join(home, "notes.txt") {
		t.Errorf("refused offers reached Files: %q", got)
	}

	// The page is still connected and working.
	p.send(ctx, map[string]any{"type": "chat", "text": "still here"})
	if a := <-w.Actions(); a.Kind != ActChat || a.Text != "still here" {
		t.Fatalf("after the picker's errors: %+v", a)
	}
}

// TestChatWindowPickerOff: a window without Files has no picker, and says
// so to a page that asks anyway.
func TestChatWindowPickerOff(t *testing.T) {
	pickerHome(t)
	w, _ := newWindow(t)
	ctx := testCtx(t)
	p := openPage(t, ctx, w)
	if hello := p.read(ctx, "hello"); hello.Picker {
		t.Fatal("hello offers a picker without Files")
	}
	p.send(ctx, map[string]any{"type": "list_dir", "id": 1})
	if m := p.read(ctx, "dir"); m.Listing != nil || m.Error == "" {
		t.Fatalf("listing without Files: %+v", m)
	}
	p.send(ctx, map[string]any{"type": "offer_files", "id": 2, "path": "/etc", "names": []string{"hostname"}})
	if m := p.read(ctx, "offer_done"); m.Error == "" || m.Sent != 0 {
		t.Fatalf("offer without Files: %+v", m)
	}
}
