package transfer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"assist/internal/clock/clocktest"
	"assist/protocol"
	"assist/transfer"
	"assist/transfer/transfertest"
)

// side is one manager with a folder of its own and a way to wait for its
// transfers' changes.
type side struct {
	m      *transfer.Manager
	dir    string
	notify chan struct{}
	asked  atomic.Int32
}

type sideOpts struct {
	fs       transfer.FS
	journal  string
	session  string
	decline  bool
	onAsk    func()
	noAccept bool
	dir      string // default: a new temporary folder
	clock    *clocktest.Fake
	window   time.Duration // Config.PeerWindow
}

func newSide(t *testing.T, o sideOpts) *side {
	t.Helper()
	s := &side{dir: o.dir, notify: make(chan struct{}, 1)}
	if s.dir == "" {
		s.dir = t.TempDir()
	}
	cfg := transfer.Config{
		Dir: s.dir, FS: o.fs, JournalDir: o.journal, Session: o.session,
		OnChange: func(transfer.Status) {
			select {
			case s.notify <- struct{}{}:
			default:
			}
		},
		AskPull:    func(context.Context, transfer.PullRequest) (bool, error) { return !o.decline, nil },
		PeerWindow: o.window,
	}
	if o.clock != nil {
		cfg.Clock = o.clock
	}
	if !o.noAccept {
		cfg.AskOffer = func(context.Context, transfer.Offer) (bool, error) {
			s.asked.Add(1)
			if o.onAsk != nil {
				o.onAsk()
			}
			return !o.decline, nil
		}
	}
	s.m = transfer.NewManager(cfg)
	t.Cleanup(s.m.Close)
	return s
}

// waitFor waits until one of the side's transfers satisfies cond.
func (s *side) waitFor(t *testing.T, what string, cond func(transfer.Status) bool) transfer.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		for _, st := range s.m.List() {
			if cond(st) {
				return st
			}
		}
		select {
		case <-s.notify:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s; transfers: %+v", what, s.m.List())
		}
	}
}

func pair(t *testing.T, a, b *side) *transfertest.Pair {
	p := transfertest.NewPair(a.m, b.m)
	t.Cleanup(func() {
		a.m.Close()
		b.m.Close()
		p.Close()
	})
	return p
}

func randomFile(t *testing.T, dir, name string, size int) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(uint64(size), 7))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, data
}

func wait(t *testing.T, tr *transfer.Transfer) (transfer.Status, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := tr.Wait(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("transfer did not finish: %+v", st)
	}
	return st, err
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// noPartials fails when dir holds anything but want.
func noPartials(t *testing.T, dir string, want ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("%s holds %q, want %q", dir, got, want)
	}
}

func TestSendBothWays(t *testing.T) {
	sizes := []int{0, 1, protocol.FileChunkSize - 1, protocol.FileChunkSize, protocol.FileBlockSize,
		protocol.FileBlockSize + 1, 3*protocol.FileBlockSize + 12345}
	for _, size := range sizes {
		t.Run("push/"+transfer.Size(int64(size)), func(t *testing.T) {
			a, b := newSide(t, sideOpts{}), newSide(t, sideOpts{})
			pair(t, a, b)
			src, data := randomFile(t, t.TempDir(), "data.bin", size)
			tr, err := a.m.Send("b", src, "")
			if err != nil {
				t.Fatal(err)
			}
			st, err := wait(t, tr)
			if err != nil {
				t.Fatal(err)
			}
			rst := b.waitFor(t, "received", func(s transfer.Status) bool { return s.Final() })
			if rst.State != transfer.StateDone || rst.SHA256 != sha(data) || st.SHA256 != sha(data) {
				t.Fatalf("sender %+v\nreceiver %+v", st, rst)
			}
			got, err := os.ReadFile(filepath.Join(b.dir, "data.bin"))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("received file differs (%v)", err)
			}
			if b.asked.Load() != 1 {
				t.Fatalf("consent asked %d times", b.asked.Load())
			}
			noPartials(t, b.dir, "data.bin")
		})
	}
	t.Run("pull", func(t *testing.T) {
		a, b := newSide(t, sideOpts{noAccept: true}), newSide(t, sideOpts{})
		pair(t, a, b)
		src, data := randomFile(t, t.TempDir(), "remote.log", 2*protocol.FileBlockSize+77)
		tr, err := a.m.Pull("b", src, transfer.Dest{Dir: a.dir, Name: "local.log", Exact: true})
		if err != nil {
			t.Fatal(err)
		}
		st, err := wait(t, tr)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(filepath.Join(a.dir, "local.log"))
		if !bytes.Equal(got, data) || st.SHA256 != sha(data) || st.Path != filepath.Join(a.dir, "local.log") {
			t.Fatalf("pulled file differs: %+v", st)
		}
		// Exact names never overwrite.
		tr, _ = a.m.Pull("b", src, transfer.Dest{Dir: a.dir, Name: "local.log", Exact: true})
		if _, err := wait(t, tr); err == nil || !strings.Contains(err.Error(), "not overwriting") {
			t.Fatalf("second exact pull: %v", err)
		}
		noPartials(t, a.dir, "local.log")
	})
	t.Run("pull refused and missing", func(t *testing.T) {
		a, b := newSide(t, sideOpts{noAccept: true}), newSide(t, sideOpts{decline: true})
		pair(t, a, b)
		src, _ := randomFile(t, t.TempDir(), "secret.txt", 10)
		tr, _ := a.m.Pull("b", src, transfer.Dest{})
		if _, err := wait(t, tr); !errors.Is(err, transfer.ErrRefused) {
			t.Fatalf("declined pull: %v", err)
		}
		tr, _ = a.m.Pull("b", filepath.Join(t.TempDir(), "nope"), transfer.Dest{})
		var re *transfer.RemoteError
		if _, err := wait(t, tr); !errors.As(err, &re) || re.Code != protocol.FileNotFound {
			t.Fatalf("missing file: %v", err)
		}
	})
}

// TestBlockChecks: each block's check on the wire is the SHA-256 of the
// file up to that block's end (one hash pass serves every block and the
// whole file), and the end carries the whole file's SHA-256.
func TestBlockChecks(t *testing.T) {
	a, b := newSide(t, sideOpts{}), newSide(t, sideOpts{})
	p := pair(t, a, b)
	var mu sync.Mutex
	var checks []protocol.FileMsg
	p.Tamper = func(label string, n int, m []byte) {
		if len(m) > 0 && (m[0] == protocol.FileBlock || m[0] == protocol.FileEnd) {
			msg, err := protocol.DecodeFileMsg(m)
			if err != nil {
				t.Errorf("decode: %v", err)
				return
			}
			mu.Lock()
			checks = append(checks, msg)
			mu.Unlock()
		}
	}
	size := 2*protocol.FileBlockSize + 999
	src, data := randomFile(t, t.TempDir(), "p.bin", size)
	tr, _ := a.m.Send("b", src, "")
	if _, err := wait(t, tr); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(checks) != 4 {
		t.Fatalf("%d block and end messages, want 3 blocks and an end", len(checks))
	}
	for i, m := range checks[:3] {
		end := min((i+1)*protocol.FileBlockSize, size)
		if m.Kind != protocol.FileBlock || int(m.Index) != i || m.Hash != sha256.Sum256(data[:end]) {
			t.Errorf("check %d: %+v, want the SHA-256 of bytes [0, %d)", i, m, end)
		}
	}
	if end := checks[3]; end.Kind != protocol.FileEnd || end.Hash != sha256.Sum256(data) {
		t.Errorf("end: %+v, want the whole file's SHA-256", end)
	}
}

// readCounter counts ReadAt calls and, like some readers may, returns
// io.EOF together with the last bytes of the file.
type readCounter struct {
	transfer.OSFS
	reads atomic.Int32
}

func (r *readCounter) OpenFile(name string, flag int, perm fs.FileMode) (transfer.File, error) {
	f, err := r.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return eofReader{f, &r.reads}, nil
}

type eofReader struct {
	transfer.File
	reads *atomic.Int32
}

func (e eofReader) ReadAt(b []byte, off int64) (int, error) {
	e.reads.Add(1)
	n, err := e.File.ReadAt(b, off)
	if err == nil {
		if info, serr := e.File.Stat(); serr == nil && off+int64(n) == info.Size() {
			err = io.EOF
		}
	}
	return n, err
}

// TestReadsABlockAtATime: the sender reads its file one block per call
// (a system call per MiB, not per 32 KiB chunk), and a reader that says
// io.EOF with the file's last bytes is not an error.
func TestReadsABlockAtATime(t *testing.T) {
	rc := &readCounter{}
	a, b := newSide(t, sideOpts{fs: rc}), newSide(t, sideOpts{})
	pair(t, a, b)
	size := 3*protocol.FileBlockSize + protocol.FileBlockSize/2
	src, data := randomFile(t, t.TempDir(), "blocks.bin", size)
	rc.reads.Store(0)
	tr, err := a.m.Send("b", src, "")
	if err != nil {
		t.Fatal(err)
	}
	st, err := wait(t, tr)
	if err != nil {
		t.Fatal(err)
	}
	if st.SHA256 != sha(data) {
		t.Fatalf("SHA-256 %s, want %s", st.SHA256, sha(data))
	}
	if n := rc.reads.Load(); n != 4 {
		t.Fatalf("%d reads of a file of 3.5 blocks, want 4", n)
	}
}

func TestDeclinedAndUnsolicited(t *testing.T) {
	a, b := newSide(t, sideOpts{}), newSide(t, sideOpts{decline: true})
	pair(t, a, b)
	src, _ := randomFile(t, t.TempDir(), "x.bin", 1000)
	tr, _ := a.m.Send("b", src, "")
	st, err := wait(t, tr)
	if !errors.Is(err, transfer.ErrRefused) || st.State != transfer.StateRefused || !strings.Contains(err.Error(), "declined") {
		t.Fatalf("declined: %v %+v", err, st)
	}
	noPartials(t, b.dir)

	// A side without AskOffer (the rep CLI) refuses what it did not ask for.
	c, d := newSide(t, sideOpts{}), newSide(t, sideOpts{noAccept: true})
	pair(t, c, d)
	tr, _ = c.m.Send("b", src, "")
	if _, err := wait(t, tr); !errors.Is(err, transfer.ErrRefused) {
		t.Fatalf("unsolicited: %v", err)
	}
}

func TestHostileNamesLandSafely(t *testing.T) {
	a, b := newSide(t, sideOpts{}), newSide(t, sideOpts{})
	pair(t, a, b)
	src, data := randomFile(t, t.TempDir(), "payload", 100)
	for _, name := range []string{"../../etc/passwd", "/etc/shadow", `..\..\Windows\win.ini`, "CON", "a\x00b", "..", "", "nul.txt"} {
		tr, err := a.m.Send("b", src, name) // "" sends the source's own name
		if err != nil {
			t.Fatal(err)
		}
		if _, err := wait(t, tr); err != nil {
			t.Fatalf("%q: %v", name, err)
		}
	}
	// Everything landed inside b.dir, under safe names, nothing overwritten.
	var names []string
	err := filepath.WalkDir(b.dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(b.dir, p)
			names = append(names, rel)
			if got, _ := os.ReadFile(p); !bytes.Equal(got, data) {
				t.Errorf("%s has other content", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "_CON|_nul.txt|ab|file|passwd|payload|shadow|win.ini"
	if strings.Join(names, "|") != want {
		t.Fatalf("files %q, want %q", names, want)
	}
}

func TestSafeName(t *testing.T) {
	long := strings.Repeat("é", 150) + ".tar.gz"
	tests := []struct{ in, want string }{
		{"report.pdf", "report.pdf"},
		{"../../etc/passwd", "passwd"},
		{"/etc/shadow", "shadow"},
		{`C:\Windows\System32\drivers\etc\hosts`, "hosts"},
		{`..\..\boot.ini`, "boot.ini"},
		{"..", "file"},
		{".", "file"},
		{"", "file"},
		{"/", "file"},
		{"   ", "file"},
		{".bashrc", "bashrc"},
		{"...hidden", "hidden"},
		{"CON", "_CON"},
		{"con.txt", "_con.txt"},
		{"Com1.log", "_Com1.log"},
		{"LPT9", "_LPT9"},
		{"COM10", "COM10"},
		{"nul", "_nul"},
		{"aux.tar.gz", "_aux.tar.gz"},
		{"name.", "name"},
		{"name. . ", "name"},
		{"trailing space ", "trailing space"},
		{"tab\there", "tab here"},
		{"new\nline", "new line"},
		{"bell\x07\x1b[31m", "bell[31m"},
		{"nul\x00byte", "nulbyte"},
		{"c1\u0085ctl", "c1ctl"},
		{"invoice\u202Efdp.exe", "invoicefdp.exe"},
		{`what?<>:"|*.txt`, "what_______.txt"},
		{"bad\xffutf8", "bad_utf8"},
		{"ünïcødé 文件.txt", "ünïcødé 文件.txt"},
		{strings.Repeat("a", 300) + ".txt", strings.Repeat("a", transfer.MaxNameBytes-4) + ".txt"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := transfer.SafeName(tt.in); got != tt.want {
				t.Fatalf("SafeName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	got := transfer.SafeName(long)
	if len(got) > transfer.MaxNameBytes || !strings.HasSuffix(got, ".gz") || !strings.HasPrefix(got, "é") || !utf8Valid(got) {
		t.Fatalf("long name cut to %q (%d bytes)", got, len(got))
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "?") == s }

func TestNeverOverwrites(t *testing.T) {
	a, b := newSide(t, sideOpts{}), newSide(t, sideOpts{})
	pair(t, a, b)
	os.WriteFile(filepath.Join(b.dir, "notes.txt"), []byte("mine"), 0o644)
	os.WriteFile(filepath.Join(b.dir, "notes (1).txt"), []byte("mine too"), 0o644)
	os.WriteFile(filepath.Join(b.dir, "backup.tar.gz"), []byte("old"), 0o644)
	src, data := randomFile(t, t.TempDir(), "notes.txt", 10)
	src2, _ := randomFile(t, t.TempDir(), "backup.tar.gz", 20)
	for _, s := range []string{src, src2} {
		tr, _ := a.m.Send("b", s, "")
		if _, err := wait(t, tr); err != nil {
			t.Fatal(err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(b.dir, "notes.txt")); string(b) != "mine" {
		t.Fatal("an existing file was overwritten")
	}
	if got, _ := os.ReadFile(filepath.Join(b.dir, "notes (2).txt")); !bytes.Equal(got, data) {
		t.Fatal("the new file is not notes (2).txt")
	}
	noPartials(t, b.dir, "backup (1).tar.gz", "backup.tar.gz", "notes (1).txt", "notes (2).txt", "notes.txt")
}

func TestNoLinkFilesystem(t *testing.T) {
	efs := transfertest.NewErrorFS(transfer.OSFS{})
	efs.LinkErr = errors.New("operation not permitted")
	a, b := newSide(t, sideOpts{}), newSide(t, sideOpts{fs: efs})
	pair(t, a, b)
	os.WriteFile(filepath.Join(b.dir, "f.txt"), []byte("mine"), 0o644)
	src, data := randomFile(t, t.TempDir(), "f.txt", 10)
	tr, _ := a.m.Send("b", src, "")
	if _, err := wait(t, tr); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(b.dir, "f (1).txt")); !bytes.Equal(got, data) {
		t.Fatal("without hard links the file did not land as f (1).txt")
	}
}

func TestCorruptChunk(t *testing.T) {
	t.Run("once: detected and sent again", func(t *testing.T) {
		a, b := newSide(t, sideOpts{}), newSide(t, sideOpts{})
		p := pair(t, a, b)
		var flipped atomic.Bool
		p.Tamper = func(label string, n int, m []byte) {
			if n == 40 && m[0] == protocol.FileData && flipped.CompareAndSwap(false, true) {
				m[100] ^= 0x40
			}
		}
		src, data := randomFile(t, t.TempDir(), "c.bin", 3*protocol.FileBlockSize)
		tr, _ := a.m.Send("b", src, "")
		st, err := wait(t, tr)
		if err != nil {
			t.Fatal(err)
		}
		rst := b.waitFor(t, "done", transfer.Status.Final)
		got, _ := os.ReadFile(filepath.Join(b.dir, "c.bin"))
		if !flipped.Load() || !bytes.Equal(got, data) || rst.Retries != 1 || st.Retries != 1 {
			t.Fatalf("flipped %v, equal %v, retries %d/%d", flipped.Load(), bytes.Equal(got, data), st.Retries, rst.Retries)
		}
	})
	t.Run("always: an error, no file", func(t *testing.T) {
		a, b := newSide(t, sideOpts{}), newSide(t, sideOpts{})
		p := pair(t, a, b)
		p.Tamper = func(label string, n int, m []byte) {
			if m[0] == protocol.FileData && len(m) > 50 {
				m[50] ^= 1
			}
		}
		src, _ := randomFile(t, t.TempDir(), "c.bin", protocol.FileBlockSize+10)
		tr, _ := a.m.Send("b", src, "")
		_, err := wait(t, tr)
		if !errors.Is(err, transfer.ErrCorrupt) || !strings.Contains(err.Error(), "failed verification") {
			t.Fatalf("sender: %v", err)
		}
		rst := b.waitFor(t, "failed", transfer.Status.Final)
		if rst.State != transfer.StateFailed || !strings.Contains(rst.Err, "verification") {
			t.Fatalf("receiver: %+v", rst)
		}
		noPartials(t, b.dir)
	})
}

func TestNoSpace(t *testing.T) {
	t.Run("before: refused with needed and available", func(t *testing.T) {
		efs := transfertest.NewErrorFS(transfer.OSFS{})
		efs.Free = 1500
		a, b := newSide(t, sideOpts{}), newSide(t, sideOpts{fs: efs})
		pair(t, a, b)
		src, _ := randomFile(t, t.TempDir(), "big.iso", 80_000)
		tr, _ := a.m.Send("b", src, "")
		_, err := wait(t, tr)
		want := "not enough free space in " + b.dir + ": the file needs 80.0 kB, 1.50 kB available"
		if !errors.Is(err, transfer.ErrNoSpace) || err.Error() != want {
			t.Fatalf("sender got %q, want %q", err, want)
		}
		rst := b.waitFor(t, "failed", transfer.Status.Final)
		if rst.Err != want || b.asked.Load() != 0 {
			t.Fatalf("receiver: %+v (asked %d)", rst, b.asked.Load())
		}
		noPartials(t, b.dir)
	})
	t.Run("during: both sides say the disk is full, partial removed", func(t *testing.T) {
		efs := transfertest.NewErrorFS(transfer.OSFS{})
		efs.WriteLimit = 2*protocol.FileBlockSize + 5000
		efs.Free = 10 << 20
		a, b := newSide(t, sideOpts{}), newSide(t, sideOpts{fs: efs})
		pair(t, a, b)
		src, _ := randomFile(t, t.TempDir(), "big.iso", 5*protocol.FileBlockSize)
		tr, _ := a.m.Send("b", src, "")
		_, err := wait(t, tr)
		if !errors.Is(err, transfer.ErrNoSpace) || !strings.Contains(err.Error(), "is full") ||
			!strings.Contains(err.Error(), "partial file was removed") {
			t.Fatalf("sender: %v", err)
		}
		rst := b.waitFor(t, "failed", transfer.Status.Final)
		if rst.Err != err.Error() {
			t.Fatalf("receiver said %q, sender %q", rst.Err, err)
		}
		noPartials(t, b.dir)
	})
	t.Run("sync fails", func(t *testing.T) {
		efs := transfertest.NewErrorFS(transfer.OSFS{})
		efs.SyncErr = errors.New("input/output error")
		a, b := newSide(t, sideOpts{}), newSide(t, sideOpts{fs: efs})
		pair(t, a, b)
		src, _ := randomFile(t, t.TempDir(), "s.bin", 1000)
		tr, _ := a.m.Send("b", src, "")
		if _, err := wait(t, tr); err == nil || !strings.Contains(err.Error(), "input/output error") {
			t.Fatalf("sender: %v", err)
		}
		noPartials(t, b.dir)
	})
}

// gate lets a test hold a transfer in the middle: Room says no once
// allowed chunks went out, until opened.
type gate struct {
	mu      sync.Mutex
	allowed int
	open    bool
}

func (g *gate) room() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open {
		return true
	}
	if g.allowed > 0 {
		g.allowed--
		return true
	}
	return false
}

func (g *gate) release() { g.mu.Lock(); g.open = true; g.mu.Unlock() }

func TestCancel(t *testing.T) {
	for _, who := range []string{"sender", "receiver"} {
		t.Run(who, func(t *testing.T) {
			a, b := newSide(t, sideOpts{}), newSide(t, sideOpts{})
			p := pair(t, a, b)
			g := &gate{allowed: 2 * protocol.FileBlockSize / protocol.FileChunkSize}
			p.Room = g.room
			src, _ := randomFile(t, t.TempDir(), "c.bin", 4*protocol.FileBlockSize)
			tr, _ := a.m.Send("b", src, "")
			rst := b.waitFor(t, "2 blocks", func(s transfer.Status) bool { return s.Bytes >= 2*protocol.FileBlockSize })
			if who == "sender" {
				tr.Cancel("changed my mind")
			} else {
				rt, _ := b.m.Get(rst.ID)
				rt.Cancel("no thanks")
			}
			st, err := wait(t, tr)
			if !errors.Is(err, transfer.ErrCancelled) || st.State != transfer.StateCancelled {
				t.Fatalf("sender: %v %+v", err, st)
			}
			rst = b.waitFor(t, "cancelled", transfer.Status.Final)
			if rst.State != transfer.StateCancelled {
				t.Fatalf("receiver: %+v", rst)
			}
			noPartials(t, b.dir)
		})
	}
}

// firstOffsets records the offset of the first data message of every file
// channel, to see where each (re)start began.
type firstOffsets struct {
	mu   sync.Mutex
	offs []int64
}

func (f *firstOffsets) tamper(label string, n int, m []byte) {
	if n == 0 && len(m) > 0 && m[0] == protocol.FileData {
		msg, _ := protocol.DecodeFileMsg(m)
		f.mu.Lock()
		f.offs = append(f.offs, msg.Offset)
		f.mu.Unlock()
	}
}

func TestResumeAfterDrop(t *testing.T) {
	a, b := newSide(t, sideOpts{}), newSide(t, sideOpts{})
	p := pair(t, a, b)
	g := &gate{allowed: 3 * protocol.FileBlockSize / protocol.FileChunkSize}
	p.Room = g.room
	var fo firstOffsets
	p.Tamper = fo.tamper
	src, data := randomFile(t, t.TempDir(), "r.bin", 6*protocol.FileBlockSize+99)
	tr, _ := a.m.Send("b", src, "")
	b.waitFor(t, "3 blocks", func(s transfer.Status) bool { return s.Bytes >= 3*protocol.FileBlockSize })
	p.Drop()
	b.waitFor(t, "waiting", func(s transfer.Status) bool { return s.State == transfer.StateWaiting })
	g.release()
	p.Connect()
	st, err := wait(t, tr)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(b.dir, "r.bin"))
	if !bytes.Equal(got, data) || !st.Resumed || st.SHA256 != sha(data) {
		t.Fatalf("resumed transfer: equal %v, %+v", bytes.Equal(got, data), st)
	}
	fo.mu.Lock()
	defer fo.mu.Unlock()
	if len(fo.offs) != 2 || fo.offs[0] != 0 || fo.offs[1] != 3*protocol.FileBlockSize {
		t.Fatalf("channels started at %v, want [0 %d]", fo.offs, 3*protocol.FileBlockSize)
	}
	if b.asked.Load() != 1 {
		t.Fatalf("consent asked %d times", b.asked.Load())
	}
}

func TestResumeAfterRestart(t *testing.T) {
	for _, tc := range []struct {
		name       string
		restartRcv bool   // else the sender restarts
		damage     bool   // the temporary file's second block is damaged meanwhile
		comeback   string // the name the receiver knows the sender by after the restart
	}{
		{"receiver", true, false, "a"},
		{"receiver with a damaged partial file", true, true, "a"},
		{"receiver, sender back on another connection", true, false, "a2"},
		{"sender", false, false, "a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			journal := t.TempDir()
			var aOpts, bOpts sideOpts
			if tc.restartRcv {
				bOpts = sideOpts{journal: journal, session: "s1"}
			} else {
				aOpts = sideOpts{journal: journal, session: "s1"}
			}
			a, b := newSide(t, aOpts), newSide(t, bOpts)
			p := pair(t, a, b)
			g := &gate{allowed: 4 * protocol.FileBlockSize / protocol.FileChunkSize}
			p.Room = g.room
			src, data := randomFile(t, t.TempDir(), "big.bin", 7*protocol.FileBlockSize+5)
			tr, err := a.m.Send("b", src, "")
			if err != nil {
				t.Fatal(err)
			}
			b.waitFor(t, "4 blocks", func(s transfer.Status) bool { return s.Bytes >= 4*protocol.FileBlockSize })
			if entries, _ := os.ReadDir(journal); len(entries) == 0 {
				t.Fatal("no journal records")
			}
			var fo firstOffsets
			// The process dies: nothing is cleaned up, the journal stays.
			if tc.restartRcv {
				b.m.Shutdown()
				p.Close()
				if tc.damage {
					tmp, _ := filepath.Glob(filepath.Join(b.dir, ".assist-*.part"))
					f, _ := os.OpenFile(tmp[0], os.O_RDWR, 0)
					f.WriteAt([]byte("XXXX"), protocol.FileBlockSize+10)
					f.Close()
				}
				b2 := &side{dir: b.dir, notify: make(chan struct{}, 1)}
				b2.m = transfer.NewManager(transfer.Config{Dir: b.dir, JournalDir: journal, Session: "s1",
					OnChange: func(transfer.Status) {
						select {
						case b2.notify <- struct{}{}:
						default:
						}
					}})
				b = b2
			} else {
				a.m.Shutdown()
				p.Close()
				tr = nil
				a = newSide(t, sideOpts{journal: journal, session: "s1"})
			}
			p2 := transfertest.NewPairAs(a.m, b.m, tc.comeback)
			t.Cleanup(func() {
				a.m.Close()
				b.m.Close()
				p2.Close()
			})
			p2.Tamper = fo.tamper
			rst := b.waitFor(t, "done", transfer.Status.Final)
			if rst.State != transfer.StateDone || !rst.Resumed {
				t.Fatalf("receiver after restart: %+v", rst)
			}
			got, _ := os.ReadFile(filepath.Join(b.dir, "big.bin"))
			if !bytes.Equal(got, data) || rst.SHA256 != sha(data) {
				t.Fatal("the resumed file differs")
			}
			want := int64(4 * protocol.FileBlockSize)
			if tc.damage {
				want = protocol.FileBlockSize
			}
			fo.mu.Lock()
			if len(fo.offs) != 1 || fo.offs[0] != want {
				t.Fatalf("after the restart sending started at %v, want %d", fo.offs, want)
			}
			fo.mu.Unlock()
			if tr != nil {
				if _, err := wait(t, tr); err != nil {
					t.Fatal(err)
				}
			} else {
				a.waitFor(t, "sent", func(s transfer.Status) bool { return s.State == transfer.StateDone })
			}
			noPartials(t, b.dir, "big.bin")
			if entries, _ := os.ReadDir(journal); len(entries) != 0 {
				t.Fatalf("journal not cleaned: %v", entries)
			}
		})
	}
}

func TestSessionEndRemovesPartial(t *testing.T) {
	journal := t.TempDir()
	a, b := newSide(t, sideOpts{}), newSide(t, sideOpts{journal: journal, session: "s"})
	p := pair(t, a, b)
	g := &gate{allowed: protocol.FileBlockSize / protocol.FileChunkSize}
	p.Room = g.room
	src, _ := randomFile(t, t.TempDir(), "big.bin", 3*protocol.FileBlockSize)
	a.m.Send("b", src, "")
	b.waitFor(t, "1 block", func(s transfer.Status) bool { return s.Bytes >= protocol.FileBlockSize })
	b.m.Close()
	noPartials(t, b.dir)
	if entries, _ := os.ReadDir(journal); len(entries) != 0 {
		t.Fatalf("journal not cleaned: %v", entries)
	}
}

func TestFlowControl(t *testing.T) {
	// The file channel never holds more than the high-water mark plus one
	// chunk, and no chunk enters while the session has no room.
	a, b := newSide(t, sideOpts{}), newSide(t, sideOpts{})
	p := pair(t, a, b)
	var room atomic.Bool
	var calls, sentWhileFull atomic.Int64
	p.Room = func() bool {
		ok := calls.Add(1)%50 != 0 // every 50th question says no, as a busy screen would
		room.Store(ok)
		return ok
	}
	p.Tamper = func(label string, n int, m []byte) {
		if m[0] == protocol.FileData && !room.Load() {
			sentWhileFull.Add(1)
		}
	}
	src, _ := randomFile(t, t.TempDir(), "f.bin", 4*protocol.FileBlockSize)
	tr, _ := a.m.Send("b", src, "")
	if _, err := wait(t, tr); err != nil {
		t.Fatal(err)
	}
	if n := sentWhileFull.Load(); n != 0 {
		t.Fatalf("%d chunks entered while the session had no room", n)
	}
	if got, limit := p.MaxBuffered(), uint64(64<<10+protocol.FileChunkSize+64); got > limit {
		t.Fatalf("a file channel held %d bytes, above %d", got, limit)
	}
	if calls.Load() < 128 {
		t.Fatalf("Room asked only %d times for 128 chunks", calls.Load())
	}
}

// TestPeerWindow: a receiver whose sender's connection went away (a console
// reloaded or closed) keeps the transfer, its partial file and its journal
// for the reconnect window; the sender continues it from a new connection
// with the same id, or discards it, and when nobody comes back the partial
// data goes at the end of the window.
func TestPeerWindow(t *testing.T) {
	const window = 10 * time.Minute
	type step struct {
		advance time.Duration
		// back: "" stays away, "same" (the link is back), "new" (a new
		// connection resumes with the id), "discard" (a new connection
		// cancels the id), "flap" (the same link back and gone again)
		back string
	}
	for _, tc := range []struct {
		name  string
		steps []step
		want  string // the receiver's final state; "" still waiting at the end
	}{
		{"new connection resumes within the window", []step{{9 * time.Minute, ""}, {0, "new"}, {2 * time.Minute, ""}}, transfer.StateDone},
		{"nobody comes back", []step{{window - time.Second, ""}}, ""},
		{"nobody comes back, window over", []step{{window - time.Second, ""}, {time.Second, ""}}, transfer.StateFailed},
		{"new connection discards", []step{{time.Minute, "discard"}}, transfer.StateCancelled},
		{"same connection back and gone again restarts the window", []step{{9 * time.Minute, "flap"}, {9 * time.Minute, ""}}, ""},
		{"same connection back and gone again, window over", []step{{9 * time.Minute, "flap"}, {window, ""}}, transfer.StateFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktest.New(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
			journal := t.TempDir()
			a := newSide(t, sideOpts{})
			b := newSide(t, sideOpts{journal: journal, session: "s", clock: clk, window: window})
			p := pair(t, a, b)
			g := &gate{allowed: 3 * protocol.FileBlockSize / protocol.FileChunkSize}
			p.Room = g.room
			src, data := randomFile(t, t.TempDir(), "big.bin", 6*protocol.FileBlockSize+7)
			tr, err := a.m.Send("b", src, "")
			if err != nil {
				t.Fatal(err)
			}
			id := tr.ID()
			b.waitFor(t, "3 blocks", func(s transfer.Status) bool { return s.Bytes >= 3*protocol.FileBlockSize })
			// The console goes away: its connection and its sender with it.
			p.Drop()
			a.m.Close()
			away := b.waitFor(t, "waiting", func(s transfer.Status) bool { return s.State == transfer.StateWaiting })
			if !away.AwayUntil.Equal(clk.Now().Add(window)) {
				t.Fatalf("away until %v, want %v", away.AwayUntil, clk.Now().Add(window))
			}
			var fo firstOffsets
			var a2 *side
			for _, st := range tc.steps {
				clk.Advance(st.advance)
				switch st.back {
				case "flap":
					p.Connect()
					if s, _ := b.m.Get(id); s.Status().AwayUntil != (time.Time{}) {
						t.Fatalf("still away after the link came back: %+v", s.Status())
					}
					p.Drop()
				case "new", "discard":
					a2 = newSide(t, sideOpts{})
					p2 := transfertest.NewPairAs(a2.m, b.m, "a2")
					p2.Tamper = fo.tamper
					t.Cleanup(func() {
						a2.m.Close()
						b.m.Close()
						p2.Close()
					})
					if st.back == "discard" {
						b.m.HandleControl("a2", protocol.Control{Type: protocol.CtlFileCancel, ID: id, Reason: "discarded"})
						break
					}
					tr2, err := a2.m.Resume("b", src, "", id)
					if err != nil {
						t.Fatal(err)
					}
					st, err := wait(t, tr2)
					if err != nil || !st.Resumed || st.SHA256 != sha(data) {
						t.Fatalf("resumed from a new connection: %v %+v", err, st)
					}
				}
			}
			rt, ok := b.m.Get(id)
			if !ok {
				t.Fatal("the receiver forgot the transfer")
			}
			if tc.want == "" {
				if s := rt.Status(); s.State != transfer.StateWaiting || s.Final() {
					t.Fatalf("not kept: %+v", s)
				}
				if parts, _ := filepath.Glob(filepath.Join(b.dir, ".assist-*.part")); len(parts) != 1 {
					t.Fatalf("partial files %v, want one", parts)
				}
				if entries, _ := os.ReadDir(journal); len(entries) == 0 {
					t.Fatal("the journal was removed while the transfer is kept")
				}
				return
			}
			st, _ := wait(t, rt)
			if st.State != tc.want {
				t.Fatalf("receiver: %+v, want %s", st, tc.want)
			}
			if tc.want == transfer.StateDone {
				got, _ := os.ReadFile(filepath.Join(b.dir, "big.bin"))
				if !bytes.Equal(got, data) || !st.Resumed {
					t.Fatalf("resumed file: equal %v, %+v", bytes.Equal(got, data), st)
				}
				fo.mu.Lock()
				if len(fo.offs) != 1 || fo.offs[0] != 3*protocol.FileBlockSize {
					t.Fatalf("the new connection started at %v, want [%d]", fo.offs, 3*protocol.FileBlockSize)
				}
				fo.mu.Unlock()
				noPartials(t, b.dir, "big.bin")
			} else {
				noPartials(t, b.dir)
			}
			if tc.want == transfer.StateFailed && !strings.Contains(st.Err, "did not come back within 10 minutes") {
				t.Fatalf("error %q", st.Err)
			}
			if entries, _ := os.ReadDir(journal); len(entries) != 0 {
				t.Fatalf("journal not cleaned: %v", entries)
			}
			if n := clk.Pending(); n != 0 {
				t.Fatalf("%d timers left", n)
			}
		})
	}
}
