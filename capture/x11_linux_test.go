package capture

import (
	"bytes"
	"context"
	"errors"
	"image"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"assist/internal/xtest"
)

// openX opens a Source on s, closed when the test ends. shm false forces
// the plain GetImage path.
func openX(t testing.TB, s *xtest.Server, shm bool) *x11Source {
	t.Helper()
	src, err := Open(Options{Display: s.Display, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatalf("Open(%s): %v", s.Display, err)
	}
	t.Cleanup(func() {
		if err := src.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	x := src.(*x11Source)
	if x.seg == nil {
		t.Fatal("MIT-SHM is not in use on a local Xvfb")
	}
	if !shm {
		x.seg.free(x.conn)
		x.seg = nil
	}
	return x
}

// showPattern starts an Xvfb showing xtest's pattern and opens a Source on
// it (shm false: the plain GetImage path).
func showPattern(t testing.TB, shm bool) (*xtest.Server, *x11Source, *image.RGBA, *xtest.Window) {
	t.Helper()
	s := xtest.Start(t)
	src := openX(t, s, shm)
	pattern := xtest.Pattern(s.Width, s.Height)
	return s, src, pattern, s.Show(t, pattern)
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func capture(t testing.TB, src Source) *image.RGBA {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	img, err := src.Capture(ctx)
	if err != nil {
		t.Fatalf("Capture: %v", err)
	}
	return img
}

func samePixels(t testing.TB, what string, got, want *image.RGBA) {
	t.Helper()
	if got.Bounds() != want.Bounds() {
		t.Fatalf("%s: image of %v, want %v", what, got.Bounds(), want.Bounds())
	}
	if bytes.Equal(got.Pix, want.Pix) {
		return
	}
	for y := 0; y < want.Rect.Dy(); y++ {
		for x := 0; x < want.Rect.Dx(); x++ {
			g, w := got.Pix[got.PixOffset(x, y):][:4], want.Pix[want.PixOffset(x, y):][:4]
			if !bytes.Equal(g, w) {
				t.Fatalf("%s: pixel (%d,%d) is %v, want %v", what, x, y, g, w)
			}
		}
	}
}

// sameSegments fails unless the segment hashes src kept while capturing
// img give the tiles that hashing img's pixels gives: for the whole frame
// and for a part of it on the grid (a monitor).
func sameSegments(t testing.TB, src *x11Source, img *image.RGBA) {
	t.Helper()
	seg := src.Segments()
	if seg == nil {
		t.Fatal("no segment hashes after a capture")
	}
	for _, r := range []image.Rectangle{img.Bounds(), image.Rect(640, 64, 1280, 1000).Intersect(img.Bounds())} {
		if r.Empty() {
			continue // a screen too small for the monitor
		}
		sub := img.SubImage(r).(*image.RGBA)
		if _, ok := seg.column(sub, TileSize); !ok {
			t.Fatalf("the segment hashes do not apply to %v of %v", r, img.Bounds())
		}
		sameTiles(t, HashTilesFrom(sub, TileSize, nil, r, seg), HashTiles(sub, TileSize, nil))
	}
}

var paths = []struct {
	name string
	shm  bool
}{{"shm", true}, {"plain GetImage", false}}

func TestCaptureEqualsServerImage(t *testing.T) {
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			s, src, pattern, _ := showPattern(t, p.shm)
			img := capture(t, src)
			samePixels(t, "capture vs server", img, s.Screenshot(t))
			samePixels(t, "capture vs pattern", img, pattern)
		})
	}
}

func TestCaptureSeesUpdatesAsTiles(t *testing.T) {
	tests := []struct {
		name   string
		region image.Rectangle
		want   []image.Rectangle
	}{
		{"inside one tile", image.Rect(70, 70, 80, 75), []image.Rectangle{image.Rect(64, 64, 128, 128)}},
		{"across a vertical edge", image.Rect(120, 10, 140, 20), []image.Rectangle{image.Rect(64, 0, 192, 64)}},
		{"across four tiles", image.Rect(1000, 1000, 1030, 1030), []image.Rectangle{
			image.Rect(960, 960, 1088, 1024), image.Rect(960, 1024, 1088, 1080)}},
		{"one pixel at the bottom-right corner", image.Rect(1919, 1079, 1920, 1080), []image.Rectangle{
			image.Rect(1856, 1024, 1920, 1080)}},
		{"a wide strip", image.Rect(0, 300, 1920, 301), []image.Rectangle{
			image.Rect(0, 256, 320, 320), image.Rect(320, 256, 640, 320), image.Rect(640, 256, 960, 320),
			image.Rect(960, 256, 1280, 320), image.Rect(1280, 256, 1600, 320), image.Rect(1600, 256, 1920, 320)}},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			s, src, pattern, win := showPattern(t, p.shm)
			tr := NewTracker()
			var tiles *Tiles
			tiles = HashTiles(capture(t, src), TileSize, tiles)
			tr.Diff(tiles)
			other := clone(pattern) // different pixels everywhere
			for i := range other.Pix {
				if i%4 != 3 {
					other.Pix[i] = ^other.Pix[i]
				}
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					win.Update(t, tt.region, other)
					img := capture(t, src)
					samePixels(t, "capture vs server", img, s.Screenshot(t))
					// Only the changed columns are read when they are
					// narrower than the screen (the damage rectangle).
					if ch := src.Changed(); !tt.region.In(ch) || tt.region.Dx() < s.Width && ch.Dx() == s.Width {
						t.Errorf("after updating %v the capture read %v", tt.region, ch)
					}
					sameSegments(t, src, img)
					tiles = HashTiles(img, TileSize, tiles)
					if got := tr.Diff(tiles); !slices.Equal(got, tt.want) {
						t.Errorf("after updating %v, Diff reports %v, want %v", tt.region, got, tt.want)
					}
					if got := tr.Diff(HashTiles(capture(t, src), TileSize, tiles)); len(got) != 0 {
						t.Errorf("an unchanged screen reports %v", got)
					}
				})
			}
		})
	}
}

func TestCaptureFollowsScreenSize(t *testing.T) {
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			s := xtest.Start(t, xtest.Size(800, 600))
			// Start smaller than the server's maximum, so that growing later
			// needs a larger shared memory segment.
			s.Resize(t, 320, 240)
			src := openX(t, s, p.shm)
			capture(t, src)
			for _, sz := range []image.Point{{320, 240}, {200, 100}, {800, 600}, {799, 333}} {
				// A frame kept at the old size is gone with it: its
				// memory now holds frames of the new size.
				if !src.Keep() {
					t.Fatal("Keep refused the newest frame")
				}
				resized := sz != src.img.Rect.Size()
				s.Resize(t, sz.X, sz.Y)
				pattern := xtest.Pattern(sz.X, sz.Y)
				s.Show(t, pattern)
				img := capture(t, src)
				samePixels(t, "capture vs pattern", img, pattern)
				sameSegments(t, src, img)
				if kept := src.Kept(); (kept == nil) != resized {
					t.Errorf("resized %v: a frame kept: %v", resized, kept != nil)
				}
				if (src.seg != nil) != p.shm {
					t.Errorf("shared memory in use: %v, want %v", src.seg != nil, p.shm)
				}
			}
		})
	}
}

func TestCaptureBothMonitors(t *testing.T) {
	s := xtest.Start(t, xtest.Size(640, 400), xtest.SecondMonitor(320, 200))
	src := openX(t, s, true)
	pattern := xtest.Pattern(960, 400)
	s.Show(t, pattern)
	samePixels(t, "capture vs pattern", capture(t, src), pattern)
}

func TestCaptureContext(t *testing.T) {
	s := xtest.Start(t, xtest.Size(320, 200))
	src := openX(t, s, true)
	pattern := xtest.Pattern(320, 200)
	win := s.Show(t, pattern)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := src.Capture(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Capture with a cancelled context: %v", err)
	}

	// Another client grabs the server: Capture cannot finish, but returns
	// when its context ends, and works again once the grab is over. The
	// change it was to read is not lost: the damage it took from the
	// server (its DamageSubtract runs once the grab ends) is read again.
	capture(t, src)
	other := clone(pattern)
	for i := range other.Pix {
		if i%4 != 3 {
			other.Pix[i] = ^other.Pix[i]
		}
	}
	win.Update(t, image.Rect(10, 10, 20, 20), other)
	grabber, err := xgb.NewConnDisplay(s.Display)
	if err != nil {
		t.Fatal(err)
	}
	defer grabber.Close()
	if err := xproto.GrabServerChecked(grabber).Check(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := src.Capture(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Capture of a grabbed server: %v, want the context's deadline", err)
	}
	if err := xproto.UngrabServerChecked(grabber).Check(); err != nil {
		t.Fatal(err)
	}
	samePixels(t, "capture after the grab", capture(t, src), s.Screenshot(t))
}

// TestCaptureSurvivesEventFlood makes the server send this client more
// unrequested events (MappingNotify, as typing unmapped characters does)
// than xgb buffers.
func TestCaptureSurvivesEventFlood(t *testing.T) {
	s := xtest.Start(t, xtest.Size(320, 200))
	src := openX(t, s, true)
	pattern := xtest.Pattern(320, 200)
	s.Show(t, pattern)
	c := s.Conn(t)
	const key = 200
	km, err := xproto.GetKeyboardMapping(c, key, 1).Reply()
	if err != nil {
		t.Fatal(err)
	}
	for range 6000 {
		xproto.ChangeKeyboardMapping(c, 1, key, km.KeysymsPerKeycode, km.Keysyms)
	}
	xproto.GetInputFocus(c).Reply() // the server has sent them all
	samePixels(t, "capture after the flood", capture(t, src), pattern)
}

func TestCaptureAfterClose(t *testing.T) {
	s := xtest.Start(t, xtest.Size(320, 200))
	src, err := Open(Options{Display: s.Display})
	if err != nil {
		t.Fatal(err)
	}
	capture(t, src)
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := src.Capture(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Capture after Close: %v, want ErrClosed", err)
	}
}

func TestCaptureWhenServerDies(t *testing.T) {
	var src Source
	t.Run("server", func(t *testing.T) {
		s := xtest.Start(t, xtest.Size(320, 200))
		var err error
		if src, err = Open(Options{Display: s.Display}); err != nil {
			t.Fatal(err)
		}
		capture(t, src)
		select { // drop a notification from before the capture
		case <-src.(Damager).Damage():
		default:
		}
	}) // the server stops here
	defer src.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A streamer waiting for damage is woken to find out.
	select {
	case <-src.(Damager).Damage():
	case <-ctx.Done():
		t.Fatal("no wake-up on Damage after the X server stopped")
	}
	if _, err := src.Capture(ctx); err == nil || errors.Is(err, context.DeadlineExceeded) ||
		!strings.HasPrefix(err.Error(), "capture: ") {
		t.Errorf("Capture after the X server stopped: %v, want a capture error", err)
	}
}

// TestCaptureFromAnotherIPCNamespace runs a Source in a process whose
// System V IPC namespace is not the X server's (as in a container that shares
// only the X socket): shared memory cannot work there, and capture must fall
// back to plain GetImage and still return the right pixels.
func TestCaptureFromAnotherIPCNamespace(t *testing.T) {
	if d := os.Getenv(childDisplayEnv); d != "" {
		ipcChild(t, d)
		return
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare not installed")
	}
	if err := exec.Command(unshare, "--ipc", "true").Run(); err != nil {
		t.Skipf("cannot make an IPC namespace here: %v", err)
	}
	s := xtest.Start(t, xtest.Size(320, 200))
	s.Show(t, xtest.Pattern(320, 200))
	cmd := exec.Command(unshare, "--ipc", os.Args[0], "-test.run=^TestCaptureFromAnotherIPCNamespace$", "-test.v")
	cmd.Env = append(os.Environ(), childDisplayEnv+"="+s.Display)
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS")) {
		t.Fatalf("child in its own IPC namespace: %v\n%s", err, out)
	}
	t.Logf("child:\n%s", out)
}

// TestVerifyShmNoticesForeignMemory gives verifyShm a segment id whose
// memory, as the X server sees it, is not the memory this process reads, as
// happens when ids collide across IPC namespaces.
func TestVerifyShmNoticesForeignMemory(t *testing.T) {
	s := xtest.Start(t, xtest.Size(320, 200))
	s.Show(t, xtest.Pattern(320, 200))
	src := openX(t, s, true)
	a, err := newShmSegment(src.conn, 320*200*4)
	if err != nil {
		t.Fatal(err)
	}
	defer a.free(src.conn)
	b, err := newShmSegment(src.conn, 320*200*4)
	if err != nil {
		t.Fatal(err)
	}
	defer b.free(src.conn)
	if err := src.verifyShm(a); err != nil {
		t.Errorf("verifyShm of a good segment: %v", err)
	}
	if err := src.verifyShm(&shmSegment{id: a.id, mem: b.mem}); err == nil {
		t.Error("verifyShm accepted memory the server does not write")
	}
}

const childDisplayEnv = "CAPTURE_TEST_IPC_CHILD_DISPLAY"

func ipcChild(t *testing.T, display string) {
	src, err := Open(Options{Display: display, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.(*x11Source).seg != nil {
		t.Error("shared memory in use across IPC namespaces")
	}
	samePixels(t, "capture vs pattern", capture(t, src), xtest.Pattern(320, 200))
}

func TestOpenErrors(t *testing.T) {
	t.Run("no such display", func(t *testing.T) {
		_, err := Open(Options{Display: ":4242"})
		if err == nil || !strings.Contains(err.Error(), `capture: open display ":4242"`) {
			t.Errorf("Open(:4242): %v", err)
		}
	})
	t.Run("raw system calls to a local display", func(t *testing.T) {
		s := xtest.Start(t, xtest.Size(320, 200))
		src := openX(t, s, true)
		if !src.raw {
			t.Error("the connection to a local Xvfb does not go through internal/rawio")
		}
	})
	t.Run("no such screen", func(t *testing.T) {
		s := xtest.Start(t, xtest.Size(320, 200))
		_, err := Open(Options{Display: s.Display + ".3"})
		if err == nil || !strings.Contains(err.Error(), "no screen 3") {
			t.Errorf("Open(%s.3): %v", s.Display, err)
		}
	})
	t.Run("no DISPLAY", func(t *testing.T) {
		t.Setenv("DISPLAY", "")
		_, err := Open(Options{})
		if err == nil || !strings.Contains(err.Error(), "DISPLAY") {
			t.Errorf("Open without DISPLAY: %v", err)
		}
	})
	t.Run("from DISPLAY", func(t *testing.T) {
		s := xtest.Start(t, xtest.Size(320, 200))
		t.Setenv("DISPLAY", s.Display)
		src, err := Open(Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		if img := capture(t, src); img.Bounds() != image.Rect(0, 0, 320, 200) {
			t.Errorf("captured %v", img.Bounds())
		}
	})
}

func BenchmarkCapture1080p(b *testing.B) {
	s := xtest.Start(b)
	s.Show(b, xtest.Pattern(s.Width, s.Height))
	for _, p := range paths {
		b.Run(p.name, func(b *testing.B) {
			src := openX(b, s, p.shm)
			ctx := context.Background()
			b.SetBytes(int64(s.Width * s.Height * 4))
			for b.Loop() {
				src.haveFull = false // a whole frame every time
				if _, err := src.Capture(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCaptureDamaged is what DAMAGE saves: a static screen, and a
// typing-sized change (one 16x16 spot) between captures.
func BenchmarkCaptureDamaged(b *testing.B) {
	s := xtest.Start(b)
	pattern := xtest.Pattern(s.Width, s.Height)
	win := s.Show(b, pattern)
	other := clone(pattern)
	for i := range other.Pix {
		other.Pix[i] ^= 0x5a
	}
	src := openX(b, s, true)
	ctx := context.Background()
	if _, err := src.Capture(ctx); err != nil {
		b.Fatal(err)
	}
	b.Run("static", func(b *testing.B) {
		for b.Loop() {
			if _, err := src.Capture(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("16x16 changed", func(b *testing.B) {
		imgs := []*image.RGBA{pattern, other}
		i := 0
		for b.Loop() {
			b.StopTimer()
			i++
			win.Update(b, image.Rect(500, 500, 516, 516), imgs[i%2])
			<-src.Damage()
			b.StartTimer()
			if _, err := src.Capture(ctx); err != nil {
				b.Fatal(err)
			}
			if got := src.Changed(); got.Dy() > 64 {
				b.Fatalf("changed %v", got)
			}
		}
	})
}

// TestSubtract: what subtract leaves of a is a's pixels outside b, each
// once, for boxes apart, overlapping, inside and covering.
func TestSubtract(t *testing.T) {
	a := image.Rect(10, 20, 110, 220)
	tests := []struct {
		name string
		a, b image.Rectangle
	}{
		{"apart", a, image.Rect(500, 500, 600, 600)},
		{"over a corner", a, image.Rect(50, 0, 200, 100)},
		{"inside", a, image.Rect(30, 40, 60, 90)},
		{"a band across", a, image.Rect(0, 100, 300, 120)},
		{"covering", a, image.Rect(0, 0, 300, 300)},
		{"the same", a, a},
		{"nothing left to subtract from", image.Rectangle{}, a},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := subtract(tt.a, tt.b)
			count := map[image.Point]int{}
			for _, r := range got {
				if r.Empty() {
					t.Errorf("an empty rectangle %v", r)
				}
				for y := r.Min.Y; y < r.Max.Y; y++ {
					for x := r.Min.X; x < r.Max.X; x++ {
						count[image.Pt(x, y)]++
					}
				}
			}
			for y := min(tt.a.Min.Y, 0); y < 300; y++ {
				for x := min(tt.a.Min.X, 0); x < 300; x++ {
					p := image.Pt(x, y)
					want := 0
					if p.In(tt.a) && !p.In(tt.b) {
						want = 1
					}
					if count[p] != want {
						t.Fatalf("%v is in %d of %v, want %d", p, count[p], got, want)
					}
				}
			}
		})
	}
}
