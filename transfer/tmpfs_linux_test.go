//go:build linux

package transfer_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"assist/transfer"
)

// smallDisk mounts a tmpfs of size bytes (root only); the test is skipped
// where mounting is impossible, unless ASSIST_REQUIRE_X=1 (make test).
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0755", size)); err != nil {
		if os.Getenv("ASSIST_REQUIRE_X") == "1" {
			t.Fatalf("cannot mount a tmpfs for the full-disk test (root is needed): %v", err)
		}
		t.Skipf("cannot mount a tmpfs for the full-disk test (needs root): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes path until the disk is full, then gives back keep bytes.
func fill(t *testing.T, path string, keep int64) {
	f, err := os.Create(path)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	var n int64
	for {
		w, err := f.Write(chunk)
		n += int64(w)
		if err != nil {
			break
		}
	}
	if err := f.Truncate(max(n-keep, 0)); err != nil {
		t.Error(err)
	}
}

// TestFullDiskReal fills a real (tmpfs) filesystem: a file larger than the
// free space is refused before any byte moves, and a disk that fills up in
// the middle ends the transfer with the same clear error on both sides and
// no partial file.
func TestFullDiskReal(t *testing.T) {
	disk := smallDisk(t, 4<<20)
	filler := filepath.Join(disk, "other-program.dat")
	var fillNow atomic.Bool
	a := newSide(t, sideOpts{})
	b := newSide(t, sideOpts{dir: disk, onAsk: func() {
		if fillNow.Load() {
			fill(t, filler, 1<<20) // something else fills the disk while the customer says yes
		}
	}})
	pair(t, a, b)

	src, _ := randomFile(t, t.TempDir(), "video.mp4", 6<<20)
	tr, _ := a.m.Send("b", src, "")
	_, err := wait(t, tr)
	if !errors.Is(err, transfer.ErrNoSpace) || !strings.HasPrefix(err.Error(), "not enough free space in "+disk+": the file needs 6.29 MB, 4.") {
		t.Fatalf("too large for the disk: %v", err)
	}
	noPartials(t, disk)

	fillNow.Store(true)
	src, _ = randomFile(t, t.TempDir(), "smaller.mp4", 3<<20)
	tr, _ = a.m.Send("b", src, "")
	_, err = wait(t, tr)
	if !errors.Is(err, transfer.ErrNoSpace) || !strings.Contains(err.Error(), "is full: the file needs 3.15 MB and only 1.") {
		t.Fatalf("disk filled during the transfer: %v", err)
	}
	rst := b.waitFor(t, "failed", func(s transfer.Status) bool { return s.Final() && s.Name == "smaller.mp4" })
	if rst.Err != err.Error() {
		t.Fatalf("the customer's side said %q, the sender %q", rst.Err, err)
	}
	noPartials(t, disk, "other-program.dat")
}
