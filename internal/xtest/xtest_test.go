package xtest

import (
	"bytes"
	"fmt"
	"image"
	"os/exec"
	"strings"
	"testing"

	"github.com/jezek/xgb/xinerama"
)

func TestPatternIsDeterministicAndOpaque(t *testing.T) {
	for _, sz := range []image.Point{{0, 0}, {1, 1}, {7, 3}, {64, 64}, {333, 200}, {1920, 1080}} {
		t.Run(fmt.Sprintf("%dx%d", sz.X, sz.Y), func(t *testing.T) {
			a, b := Pattern(sz.X, sz.Y), Pattern(sz.X, sz.Y)
			if a.Bounds() != image.Rect(0, 0, sz.X, sz.Y) {
				t.Fatalf("bounds %v", a.Bounds())
			}
			if !bytes.Equal(a.Pix, b.Pix) {
				t.Fatal("two calls gave different pixels")
			}
			for i := 3; i < len(a.Pix); i += 4 {
				if a.Pix[i] != 0xff {
					t.Fatalf("pixel %d has alpha %d", i/4, a.Pix[i])
				}
			}
		})
	}
}

// colours counts the distinct colours of img inside r.
func colours(img *image.RGBA, r image.Rectangle) int {
	seen := map[[3]byte]bool{}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			i := img.PixOffset(x, y)
			seen[[3]byte(img.Pix[i:i+3])] = true
		}
	}
	return len(seen)
}

// changes is the fraction of pixels in r that differ from their left
// neighbour.
func changes(img *image.RGBA, r image.Rectangle) float64 {
	n, diff := 0, 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X + 1; x < r.Max.X; x++ {
			i := img.PixOffset(x, y)
			n++
			if !bytes.Equal(img.Pix[i:i+3], img.Pix[i-4:i-1]) {
				diff++
			}
		}
	}
	return float64(diff) / float64(n)
}

func TestPatternHasEachKindOfContent(t *testing.T) {
	const w, h = 1920, 1080
	img, l := Pattern(w, h), PatternLayout(w, h)
	tile := func(r image.Rectangle) image.Rectangle { // a 64x64 tile well inside r
		p := r.Min.Add(image.Pt(64, 64))
		return image.Rectangle{p, p.Add(image.Pt(64, 64))}
	}
	tests := []struct {
		name         string
		r            image.Rectangle
		minC, maxC   int
		minCh, maxCh float64
	}{
		{"solid", l.Solid, 1, 1, 0, 0},
		{"solid below", l.SolidBelow, 1, 1, 0, 0},
		{"text tile", tile(l.Text), 4, 8, 0.05, 0.6},
		{"photo tile", tile(l.Photo), 1000, 4096, 0.9, 1},
		{"gradient tile", tile(l.Gradient), 1000, 4096, 0.3, 1},
		{"lines tile", tile(l.Lines), 2, 3, 0.3, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c := colours(img, tt.r); c < tt.minC || c > tt.maxC {
				t.Errorf("%d colours in %v, want %d..%d", c, tt.r, tt.minC, tt.maxC)
			}
			if ch := changes(img, tt.r); ch < tt.minCh || ch > tt.maxCh {
				t.Errorf("%.2f of pixels differ from their left neighbour, want %.2f..%.2f", ch, tt.minCh, tt.maxCh)
			}
		})
	}
	if got := colours(img, l.Solid); got == 1 {
		i := img.PixOffset(l.Solid.Min.X, l.Solid.Min.Y)
		if [3]byte(img.Pix[i:i+3]) != SolidColor {
			t.Errorf("solid region is %v, want %v", img.Pix[i:i+3], SolidColor)
		}
	}
}

func equalRGB(t *testing.T, got, want *image.RGBA) {
	t.Helper()
	if got.Bounds() != want.Bounds() {
		t.Fatalf("image of %v, want %v", got.Bounds(), want.Bounds())
	}
	b := want.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			i, j := got.PixOffset(x, y), want.PixOffset(x, y)
			if !bytes.Equal(got.Pix[i:i+4], want.Pix[j:j+4]) {
				t.Fatalf("pixel (%d,%d) is %v, want %v", x, y, got.Pix[i:i+4], want.Pix[j:j+4])
			}
		}
	}
}

func TestShowAndUpdate(t *testing.T) {
	s := Start(t, Size(640, 480))
	if !strings.HasPrefix(s.Display, ":") || s.Width != 640 || s.Height != 480 {
		t.Fatalf("server %q %dx%d", s.Display, s.Width, s.Height)
	}
	want := Pattern(640, 480)
	w := s.Show(t, want)
	equalRGB(t, s.Screenshot(t), want)

	// Update one region from a different picture; the rest stays.
	other := Pattern(1000, 900)
	r := image.Rect(100, 50, 230, 77)
	w.Update(t, r, other)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		copy(want.Pix[want.PixOffset(r.Min.X, y):want.PixOffset(r.Max.X, y)],
			other.Pix[other.PixOffset(r.Min.X, y):])
	}
	equalRGB(t, s.Screenshot(t), want)
	equalRGB(t, w.Image(), want)

	// A smaller window on top covers only its own area.
	small := Pattern(50, 40)
	s.Show(t, small)
	shot := s.Screenshot(t)
	equalRGB(t, shot.SubImage(small.Bounds()).(*image.RGBA), small)
	outside := image.Rect(50, 0, 640, 480)
	equalRGB(t, shot.SubImage(outside).(*image.RGBA), want.SubImage(outside).(*image.RGBA))
}

func TestShowLargerThanScreen(t *testing.T) {
	s := Start(t, Size(200, 100))
	img := Pattern(300, 150)
	s.Show(t, img)
	equalRGB(t, s.Screenshot(t), img.SubImage(image.Rect(0, 0, 200, 100)).(*image.RGBA))
}

func TestSecondMonitor(t *testing.T) {
	s := Start(t, Size(320, 200), SecondMonitor(160, 100))
	if s.Width != 480 || s.Height != 200 {
		t.Fatalf("server %dx%d, want 480x200", s.Width, s.Height)
	}
	want := []image.Rectangle{image.Rect(0, 0, 320, 200), image.Rect(320, 0, 480, 100)}
	if fmt.Sprint(s.Monitors) != fmt.Sprint(want) {
		t.Errorf("monitors %v, want %v", s.Monitors, want)
	}
	c := s.Conn(t)
	if err := xinerama.Init(c); err != nil {
		t.Fatal(err)
	}
	rep, err := xinerama.QueryScreens(c).Reply()
	if err != nil {
		t.Fatal(err)
	}
	var heads []image.Rectangle
	for _, h := range rep.ScreenInfo {
		heads = append(heads, image.Rect(int(h.XOrg), int(h.YOrg), int(h.XOrg)+int(h.Width), int(h.YOrg)+int(h.Height)))
	}
	if fmt.Sprint(heads) != fmt.Sprint(want) {
		t.Errorf("Xinerama reports heads %v, want %v", heads, want)
	}
	img := Pattern(480, 200)
	s.Show(t, img)
	equalRGB(t, s.Screenshot(t), img)
}

func TestResize(t *testing.T) {
	s := Start(t, Size(640, 480))
	for _, sz := range []image.Point{{320, 240}, {641 / 2, 99}, {640, 480}} {
		s.Resize(t, sz.X, sz.Y)
		img := Pattern(sz.X, sz.Y)
		s.Show(t, img)
		equalRGB(t, s.Screenshot(t), img)
	}
}

func TestEnvReachesChildProcesses(t *testing.T) {
	s := Start(t, Size(320, 240))
	n := 0
	for _, kv := range s.Env() {
		if strings.HasPrefix(kv, "DISPLAY=") {
			n++
			if kv != "DISPLAY="+s.Display {
				t.Errorf("env has %s, want DISPLAY=%s", kv, s.Display)
			}
		}
	}
	if n != 1 {
		t.Errorf("env sets DISPLAY %d times", n)
	}
	if _, err := exec.LookPath("xdpyinfo"); err != nil {
		t.Skip("xdpyinfo not installed")
	}
	cmd := exec.Command("xdpyinfo")
	cmd.Env = s.Env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("xdpyinfo: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "320x240 pixels") {
		t.Errorf("xdpyinfo does not report a 320x240 screen:\n%s", out)
	}
}

// recorder stands in for testing.TB to see how Start gives up.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper() {}
func (r *recorder) Skipf(f string, a ...any) {
	r.skipped, r.msg = true, fmt.Sprintf(f, a...)
}
func (r *recorder) Fatalf(f string, a ...any) {
	r.failed, r.msg = true, fmt.Sprintf(f, a...)
}

func TestMissingXvfb(t *testing.T) {
	tests := []struct {
		require      string
		skip, failed bool
	}{
		{"", true, false},
		{"0", true, false},
		{"1", false, true},
	}
	for _, tt := range tests {
		t.Run("require="+tt.require, func(t *testing.T) {
			t.Setenv("PATH", t.TempDir())
			t.Setenv(RequireEnv, tt.require)
			r := &recorder{TB: t}
			if s := Start(r); s != nil {
				t.Fatalf("Start returned a server without Xvfb: %+v", s)
			}
			if r.skipped != tt.skip || r.failed != tt.failed {
				t.Errorf("skipped=%v failed=%v (%q), want skipped=%v failed=%v", r.skipped, r.failed, r.msg, tt.skip, tt.failed)
			}
			if !strings.Contains(r.msg, "Xvfb") {
				t.Errorf("message %q does not name Xvfb", r.msg)
			}
		})
	}
}
