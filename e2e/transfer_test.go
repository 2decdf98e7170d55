//go:build linux

package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"assist/agent"
	"assist/internal/xtest"
	"assist/rep"
	"assist/transfer"
)

// customer is a real agent process with its own Downloads and state folders.
type customer struct {
	*proc
	downloads, state string
	env              []string
}

func (s *stack) customer(t *testing.T, downloads string) *customer {
	t.Helper()
	if downloads == "" {
		downloads = t.TempDir()
	}
	c := &customer{downloads: downloads, state: t.TempDir()}
	c.env = append(append([]string(nil), s.env...), "XDG_DOWNLOAD_DIR="+c.downloads, "ASSIST_STATE_DIR="+c.state, "HOME="+t.TempDir())
	return c
}

// sharing starts a server, a session and a customer's agent (Downloads
// in downloads, a new folder when empty) that shares its screen.
func sharing(t *testing.T, ctx context.Context, x *xtest.Server, downloads string) (*stack, string, *customer) {
	t.Helper()
	s := startStack(t, ctx, x)
	code := s.newCode(t, ctx)
	cust := s.customer(t, downloads)
	cust.join(t, s, code)
	if _, err := cust.waitLine(ctx, sharingRe); err != nil {
		t.Fatal(err)
	}
	return s, code, cust
}

func (c *customer) join(t *testing.T, s *stack, code string) {
	c.proc = startProc(t, c.env, filepath.Join(s.bin, "assist"), "join", code, "--server", s.url, "--yes", "--no-browser")
}

// resume restarts the agent from its resume ticket.
func (c *customer) resume(t *testing.T, s *stack) {
	c.proc = startProc(t, c.env, filepath.Join(s.bin, "assist"), "resume", "--yes", "--no-browser")
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for k := 0; k < 8; k++ {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	return b
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func hexSHA(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// dirHolds fails unless dir holds exactly names.
func dirHolds(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, "|") != strings.Join(names, "|") {
		t.Fatalf("%s holds %q, want %q", dir, got, names)
	}
}

var (
	sentRe  = regexp.MustCompile(`^sent (.+): (\d+) bytes \(.+\), sha256 ([0-9a-f]{64}), (.+)/s\n$`)
	savedRe = regexp.MustCompile(`^saved (.+): (\d+) bytes \(.+\), sha256 ([0-9a-f]{64}), (.+)/s\n$`)
)

// TestTransferBothWaysBinaries runs the real server, agent and assist-rep:
// a push lands in the customer's Downloads folder under a safe name, a pull
// brings a customer's file back, and both print the SHA-256 of the source.
func TestTransferBothWaysBinaries(t *testing.T) {
	x := xtest.Start(t, xtest.Size(320, 240))
	ctx := deadline(t, 120*time.Second)
	s, code, cust := sharing(t, ctx, x, "")

	// Push, with a hostile name.
	data := randomBytes(20<<20+12345, 1)
	src := writeFile(t, t.TempDir(), "local.bin", data)
	out, errOut, rc := s.rep(t, ctx, "push", code, src, "../../.config/autostart/report final.bin")
	if rc != 0 {
		t.Fatalf("push: exit %d: %s", rc, errOut)
	}
	m := sentRe.FindStringSubmatch(out)
	if m == nil || m[1] != "report final.bin" || m[2] != fmt.Sprint(len(data)) || m[3] != hexSHA(data) {
		t.Fatalf("push printed %q, want the size and SHA-256 %s", out, hexSHA(data))
	}
	got, err := os.ReadFile(filepath.Join(cust.downloads, "report final.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the customer's copy differs (%v)", err)
	}
	dirHolds(t, cust.downloads, "report final.bin")
	if _, err := cust.waitLine(ctx, regexp.MustCompile(`Saved .*report final.bin \(`+regexp.QuoteMeta(transfer.Size(int64(len(data))))+`, SHA-256 `+hexSHA(data))); err != nil {
		t.Fatal(err)
	}

	// Pull into a folder and into a new file.
	cdata := randomBytes(3<<20+7, 2)
	csrc := writeFile(t, t.TempDir(), "customer.log", cdata)
	into := t.TempDir()
	out, errOut, rc = s.rep(t, ctx, "pull", code, csrc, into)
	if rc != 0 {
		t.Fatalf("pull: exit %d: %s", rc, errOut)
	}
	m = savedRe.FindStringSubmatch(out)
	if m == nil || m[1] != filepath.Join(into, "customer.log") || m[3] != hexSHA(cdata) {
		t.Fatalf("pull printed %q", out)
	}
	if got, _ := os.ReadFile(m[1]); !bytes.Equal(got, cdata) {
		t.Fatal("the pulled file differs")
	}
	_, errOut, rc = s.rep(t, ctx, "pull", code, csrc, filepath.Join(into, "customer.log"))
	if rc != 1 || !strings.Contains(errOut, "not overwriting") {
		t.Fatalf("pull onto an existing file: exit %d: %s", rc, errOut)
	}
	_, errOut, rc = s.rep(t, ctx, "pull", code, filepath.Join(into, "nope"), into)
	if rc != 1 || !strings.Contains(errOut, "is not a file on the customer's computer") {
		t.Fatalf("pull of a missing file: exit %d: %s", rc, errOut)
	}
	dirHolds(t, into, "customer.log")
}

// TestTransferResumesAfterKill kills the agent (-9) in the middle of a
// push, restarts it with `assist resume`, and the transfer continues from
// its last verified block to an identical file.
func TestTransferResumesAfterKill(t *testing.T) {
	x := xtest.Start(t, xtest.Size(320, 240))
	ctx := deadline(t, 120*time.Second)
	s, code, cust := sharing(t, ctx, x, "")
	c, err := rep.Attach(ctx, s.repConfig(), code)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data := randomBytes(96<<20, 3)
	src := writeFile(t, t.TempDir(), "disk.img", data)
	tr, err := c.Push(ctx, src, "")
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, ctx, tr, "8 MiB verified", func(st transfer.Status) bool { return st.Bytes >= 8<<20 })

	cust.cmd.Process.Kill()
	<-cust.done
	before := tr.Status().Bytes
	parts, _ := filepath.Glob(filepath.Join(cust.downloads, ".assist-*.part"))
	journal, _ := filepath.Glob(filepath.Join(cust.state, "transfers", "*.json"))
	if len(parts) != 1 || len(journal) != 1 {
		t.Fatalf("after kill -9: partial files %v, journal %v", parts, journal)
	}
	if before >= int64(len(data)) {
		t.Fatal("the transfer finished before the kill; make the file larger")
	}

	cust.resume(t, s)
	st, err := tr.Wait(ctx)
	if err != nil {
		t.Fatalf("after the restart: %v (%+v)\n%s", err, st, cust.output())
	}
	got, _ := os.ReadFile(filepath.Join(cust.downloads, "disk.img"))
	if !bytes.Equal(got, data) || st.SHA256 != hexSHA(data) || !st.Resumed {
		t.Fatalf("resumed transfer: identical %v, %+v", bytes.Equal(got, data), st)
	}
	if st.Bytes < int64(len(data)) {
		t.Fatalf("status bytes %d", st.Bytes)
	}
	dirHolds(t, cust.downloads, "disk.img")
	if _, err := cust.waitLine(ctx, regexp.MustCompile(`Saved .*disk.img`)); err != nil {
		t.Fatal(err)
	}
	journal, _ = filepath.Glob(filepath.Join(cust.state, "transfers", "*"))
	if len(journal) != 0 {
		t.Fatalf("journal left behind: %v", journal)
	}
	t.Logf("killed at %d MiB verified; resumed and finished (%d resends)", before>>20, st.Retries)
}

func waitStatus(t *testing.T, ctx context.Context, tr *transfer.Transfer, what string, cond func(transfer.Status) bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond(tr.Status()) {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v (%+v)", what, ctx.Err(), tr.Status())
		case <-tr.Done():
			t.Fatalf("the transfer ended before %s: %+v", what, tr.Status())
		case <-tick.C:
		}
	}
}

// mountSmallDisk mounts a tmpfs of size bytes for the full-disk tests.
func mountSmallDisk(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0755", size)); err != nil {
		if os.Getenv(xtest.RequireEnv) == "1" {
			t.Fatalf("cannot mount a tmpfs (root is needed): %v", err)
		}
		t.Skipf("cannot mount a tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// TestTransferFullDiskBinaries gives the real agent a small Downloads disk:
// a file larger than the free space is refused with how much is needed and
// available; a disk that fills up during the transfer gives the same clear
// error on both sides; no partial file is ever left.
func TestTransferFullDiskBinaries(t *testing.T) {
	x := xtest.Start(t, xtest.Size(320, 240))
	ctx := deadline(t, 120*time.Second)
	disk := mountSmallDisk(t, 48<<20)
	s, code, cust := sharing(t, ctx, x, disk)

	big := writeFile(t, t.TempDir(), "big.iso", randomBytes(64<<20, 4))
	_, errOut, rc := s.rep(t, ctx, "push", code, big)
	want := regexp.MustCompile(`not enough free space in ` + regexp.QuoteMeta(disk) + `: the file needs 67.1 MB, 50.3 MB available`)
	if rc != 1 || !want.MatchString(errOut) {
		t.Fatalf("push of a file larger than the disk: exit %d: %q", rc, errOut)
	}
	if _, err := cust.waitLine(ctx, regexp.MustCompile(`Could not receive big.iso: `+want.String())); err != nil {
		t.Fatal(err)
	}
	dirHolds(t, disk)

	// The disk fills up while the file arrives.
	c, err := rep.Attach(ctx, s.repConfig(), code)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	src := writeFile(t, t.TempDir(), "fits.iso", randomBytes(40<<20, 5))
	tr, err := c.Push(ctx, src, "")
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, ctx, tr, "2 MiB verified", func(st transfer.Status) bool { return st.Bytes >= 2<<20 })
	filler, err := os.Create(filepath.Join(disk, "other-program.dat"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for {
		if _, err := filler.Write(chunk); err != nil {
			break
		}
	}
	filler.Close()
	_, err = tr.Wait(ctx)
	full := regexp.MustCompile(`^the disk holding ` + regexp.QuoteMeta(disk) + ` is full: the file needs 41.9 MB and only \d+.\d+ MB were free; the partial file was removed$`)
	if !errors.Is(err, transfer.ErrNoSpace) || !full.MatchString(err.Error()) {
		t.Fatalf("disk full during the transfer: %v", err)
	}
	if _, err := cust.waitLine(ctx, regexp.MustCompile(`Could not receive fits.iso: `+regexp.QuoteMeta(err.Error()))); err != nil {
		t.Fatal(err)
	}
	dirHolds(t, disk, "other-program.dat")
}

// TestCustomerOffersFile runs the agent in process: the customer's side
// offers a file through agent.Files (what the chat window calls) and the
// rep receives it verified; a second offer is cancelled by the customer.
func TestCustomerOffersFile(t *testing.T) {
	p := startInProcess(t)
	ctx := deadline(t, 60*time.Second)
	in, err := rep.NewSession(ctx, p.cfg)
	if err != nil {
		t.Fatal(err)
	}
	files := agent.NewFiles()
	if _, err := files.Offer("/etc/hostname"); !errors.Is(err, agent.ErrNotRunning) {
		t.Fatalf("Offer before the session: %v", err)
	}
	stop := p.runFilesAgent(t, ctx, in.Code, files)
	cfg := p.cfg
	cfg.Downloads = t.TempDir()
	c, err := rep.Attach(ctx, cfg, in.Code)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WaitFrame(ctx, false); err != nil {
		t.Fatal(err)
	}
	data := randomBytes(3<<20+5, 11)
	src := writeFile(t, t.TempDir(), "from customer.pdf", data)
	ids, err := files.Offer(src)
	if err != nil || len(ids) != 1 {
		t.Fatalf("Offer: %v %v", ids, err)
	}
	var st transfer.Status
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !st.Final() {
		for _, s := range files.List() {
			if s.ID == ids[0] {
				st = s
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the offer never finished: %+v", st)
		case <-tick.C:
		}
	}
	got, err := os.ReadFile(filepath.Join(cfg.Downloads, "from customer.pdf"))
	if err != nil || !bytes.Equal(got, data) || st.SHA256 != hexSHA(data) {
		t.Fatalf("the rep's copy: %v, status %+v", err, st)
	}
	if files.Cancel("nope") {
		t.Fatal("Cancel of an unknown transfer said yes")
	}
	stop()
	if _, err := files.Offer(src); !errors.Is(err, agent.ErrNotRunning) {
		t.Fatalf("Offer after the session: %v", err)
	}
}
