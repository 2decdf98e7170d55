package capture

import (
	"image"
	"image/color"
	"math"
	"testing"
	"time"

	"assist/internal/xtest"
	"assist/protocol"
)

// photo is a natural-looking 1080p picture for the lossy tests.
var photo = xtest.Photo(1920, 1080)

func psnr(a, b *image.RGBA, r image.Rectangle) float64 {
	var se float64
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			pa, pb := a.Pix[a.PixOffset(x, y):], b.Pix[b.PixOffset(x, y):]
			for c := 0; c < 3; c++ {
				d := float64(pa[c]) - float64(pb[c])
				se += d * d
			}
		}
	}
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255*3*float64(r.Dx()*r.Dy())/se)
}

// TestEncodeAutoClasses: each kind of content gets the encoding the
// classifier promises, and decodes exactly (lossless) or within the stated
// bound (lossy: PSNR >= 35 dB at quality 80).
func TestEncodeAutoClasses(t *testing.T) {
	tests := []struct {
		name  string
		img   *image.RGBA
		r     image.Rectangle
		enc   byte
		lossy bool
	}{
		{"solid", frame, tileIn(layout.Solid), protocol.EncSolid, false},
		{"text", frame, tileIn(layout.Text), protocol.EncPNG, false},
		{"lines", frame, tileIn(layout.Lines), protocol.EncPNG, false},
		{"photo tile", photo, image.Rect(640, 320, 704, 384), protocol.EncJPEG, true},
		{"photo run", photo, image.Rect(0, 0, 320, 64), protocol.EncJPEG, true},
		{"odd-sized photo", photo, image.Rect(3, 5, 50, 28), protocol.EncJPEG, true},
	}
	e := NewEncoder()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rect, lossy, err := e.EncodeAuto(tt.img, tt.r, 80)
			if err != nil {
				t.Fatal(err)
			}
			if rect.Enc != tt.enc || lossy != tt.lossy {
				t.Fatalf("encoding %d lossy %v, want %d %v", rect.Enc, lossy, tt.enc, tt.lossy)
			}
			got := image.NewRGBA(tt.img.Bounds())
			if err := rect.Draw(got); err != nil {
				t.Fatal(err)
			}
			p := psnr(got, tt.img, tt.r)
			if !lossy && !math.IsInf(p, 1) {
				t.Fatalf("lossless encoding decodes with PSNR %.1f dB", p)
			}
			if p < 35 {
				t.Fatalf("PSNR %.1f dB, want >= 35", p)
			}
			t.Logf("%d bytes, PSNR %.1f dB", len(rect.Data), p)
		})
	}
}

func TestPoolSplitsMixedRunsAndMatchesSequential(t *testing.T) {
	mixed := clone(frame)
	// Photo pixels in the two right tiles of a five-tile text run.
	for y := 64; y < 128; y++ {
		copy(mixed.Pix[mixed.PixOffset(192, y):mixed.PixOffset(320, y)], photo.Pix[photo.PixOffset(192, y):photo.PixOffset(320, y)])
	}
	jobs := []Job{{Rect: image.Rect(0, 64, 320, 128), Quality: 75}}
	for _, r := range NewTracker().Diff(HashTiles(photo, TileSize, nil)) {
		jobs = append(jobs, Job{Rect: r, Quality: 75})
	}
	imgs := []*image.RGBA{mixed}
	for range jobs[1:] {
		imgs = append(imgs, photo)
	}
	_ = imgs
	out, err := NewPool(4).Encode(mixed, jobs[:1])
	if err != nil {
		t.Fatal(err)
	}
	var classes []bool
	for _, p := range out[0] {
		classes = append(classes, p.Lossy)
		if p.Lossy != (p.Rect.Enc == protocol.EncJPEG) {
			t.Fatalf("piece %v: encoding %d lossy %v", p.Area, p.Rect.Enc, p.Lossy)
		}
	}
	if len(out[0]) != 2 || classes[0] || !classes[1] || out[0][0].Area != image.Rect(0, 64, 192, 128) {
		t.Fatalf("mixed run came back as %+v", out[0])
	}
	par, err := NewPool(4).Encode(photo, jobs[1:])
	if err != nil {
		t.Fatal(err)
	}
	seq, err := NewPool(1).Encode(photo, jobs[1:])
	if err != nil {
		t.Fatal(err)
	}
	got := image.NewRGBA(photo.Bounds())
	for i := range par {
		if len(par[i]) != len(seq[i]) {
			t.Fatalf("job %d: %d pieces in parallel, %d in sequence", i, len(par[i]), len(seq[i]))
		}
		for k, p := range par[i] {
			if string(p.Rect.Data) != string(seq[i][k].Rect.Data) {
				t.Fatalf("job %d piece %d differs between parallel and sequential encoding", i, k)
			}
			if err := p.Rect.Draw(got); err != nil {
				t.Fatal(err)
			}
		}
	}
	if p := psnr(got, photo, photo.Bounds()); p < 35 {
		t.Fatalf("whole photo at quality 75: PSNR %.1f dB", p)
	}
}

func TestTrackerRefinement(t *testing.T) {
	t0 := time.Unix(1000, 0)
	img := clone(frame)
	tr := NewTracker()
	tr.Diff(HashTiles(img, TileSize, nil))
	if _, ok := tr.NextRefinement(time.Second); ok {
		t.Fatal("refinement due with nothing lossy")
	}
	lossy := image.Rect(64, 64, 192, 128) // two tiles
	tr.MarkLossy(lossy, 60, 1000, t0)
	tr.MarkLossy(image.Rect(0, 640, 64, 704), 70, 0, t0.Add(500*time.Millisecond))
	if at, ok := tr.NextRefinement(time.Second); !ok || !at.Equal(t0.Add(time.Second)) {
		t.Fatalf("next refinement %v %v", at, ok)
	}
	if got := tr.Refinable(t0.Add(999*time.Millisecond), time.Second); len(got) != 0 {
		t.Fatalf("refinable too early: %v", got)
	}
	if got := tr.Refinable(t0.Add(time.Second), time.Second); len(got) != 1 || got[0] != (Refine{Rect: lossy, Quality: 60, Bytes: 1000}) {
		t.Fatalf("refinable %v, want %v", got, lossy)
	}
	if !tr.Lossy(image.Rect(0, 640, 1, 641)) || tr.Lossy(lossy) {
		t.Fatal("lossy flags wrong after refinement")
	}
	// A lossy tile that changes is sent again: no longer waiting.
	img.Pix[img.PixOffset(10, 650)] ^= 0xff
	if got := tr.Diff(HashTiles(img, TileSize, nil)); len(got) != 1 {
		t.Fatalf("diff %v", got)
	}
	if _, ok := tr.NextRefinement(time.Second); ok {
		t.Fatal("a resent tile still waits for refinement")
	}
}

// scrolled returns img with the block r moved by (dx, dy), the uncovered
// part painted with fill.
func scrolled(img *image.RGBA, r image.Rectangle, dx, dy int, fill [3]byte) *image.RGBA {
	out := clone(img)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			o := out.PixOffset(x, y)
			out.Pix[o], out.Pix[o+1], out.Pix[o+2] = fill[0], fill[1], fill[2]
		}
	}
	d := r.Add(image.Pt(dx, dy)).Intersect(img.Bounds())
	for y := d.Min.Y; y < d.Max.Y; y++ {
		copy(out.Pix[out.PixOffset(d.Min.X, y):out.PixOffset(d.Max.X, y)], img.Pix[img.PixOffset(d.Min.X-dx, y-dy):img.PixOffset(d.Max.X-dx, y-dy)])
	}
	return out
}

func TestMoveDetection(t *testing.T) {
	text := layout.Text
	win := image.Rect(300, 200, 700, 500)
	tests := []struct {
		name   string
		prev   *image.RGBA
		cur    *image.RGBA
		want   Move
		wantOK bool
	}{
		{"text scrolls up a line", frame, scrolled(frame, image.Rect(40, 80, 900, 500), 0, -13, [3]byte{255, 255, 255}),
			Move{Dst: image.Rect(40, 67, 900, 487), Src: image.Pt(40, 80)}, true},
		{"text scrolls down 3 lines", frame, scrolled(frame, image.Rect(40, 80, 900, 500), 0, 39, [3]byte{255, 255, 255}),
			Move{Dst: image.Rect(40, 119, 900, 500), Src: image.Pt(40, 80)}, true},
		{"window moves right and down", frame, scrolled(frame, win, 37, 21, [3]byte{0, 0, 0}),
			Move{Dst: win.Add(image.Pt(37, 21)), Src: win.Min}, true},
		{"photo scrolls", photo, scrolled(photo, image.Rect(0, 0, 1920, 1080), 0, -120, [3]byte{}),
			Move{Dst: image.Rect(0, 0, 1920, 960), Src: image.Pt(0, 120)}, true},
		{"new content, nothing moved", frame, photo, Move{}, false},
		{"unchanged", frame, frame, Move{}, false},
	}
	var d MoveDetector
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := d.Detect(tt.prev, tt.cur, tt.cur.Bounds())
			if ok != tt.wantOK {
				t.Fatalf("found %v (%v), want %v", m, ok, tt.wantOK)
			}
			if !ok {
				return
			}
			// Whatever was found must be a true copy.
			trueCopy(t, tt.prev, tt.cur, m)
			// And cover the moved block (the detector may find more when the
			// edge pixels happen to match).
			if !tt.want.Dst.Sub(tt.want.Dst.Min).Add(tt.want.Src).Sub(m.Src).Add(m.Dst.Min).In(m.Dst.Union(tt.want.Dst)) ||
				m.Src.Sub(m.Dst.Min) != tt.want.Src.Sub(tt.want.Dst.Min) ||
				m.Dst.Dx()*m.Dst.Dy() < tt.want.Dst.Dx()*tt.want.Dst.Dy()*9/10 {
				t.Fatalf("found %v, want about %v", m, tt.want)
			}
		})
	}
	_ = text
}

// TestScrollCostsACopy: a receiver in step with the sender gets a scroll as
// one copy plus the newly exposed rows, far fewer tiles than a plain diff.
func TestScrollCostsACopy(t *testing.T) {
	prev := clone(frame)
	cur := scrolled(frame, image.Rect(0, 64, 960, 540), 0, -26, [3]byte{255, 255, 255})
	prevTiles := HashTiles(prev, TileSize, nil)
	curTiles := HashTiles(cur, TileSize, nil)
	plain := NewTracker()
	plain.Diff(prevTiles)
	nPlain := len(plain.Diff(curTiles))

	rep := NewTracker()
	rep.Diff(prevTiles)
	var d MoveDetector
	m, ok := d.Detect(prev, cur, cur.Bounds())
	if !ok {
		t.Fatal("no move found")
	}
	if !rep.Holds(prevTiles, m.Dst.Union(image.Rectangle{m.Src, m.Src.Add(m.Dst.Size())})) {
		t.Fatal("receiver does not hold the copy's tiles")
	}
	post := clone(prev)
	if err := protocol.CopyRect(m.Dst, m.Src).Draw(post); err != nil {
		t.Fatal(err)
	}
	rep.ApplyCopy(HashTiles(post, TileSize, nil), m)
	rest := rep.Diff(curTiles)
	// Apply copy + rest to the receiver's picture: it must equal cur.
	e := NewEncoder()
	for _, r := range rest {
		rect, err := e.Encode(cur, r)
		if err != nil {
			t.Fatal(err)
		}
		if err := rect.Draw(post); err != nil {
			t.Fatal(err)
		}
	}
	if string(post.Pix) != string(cur.Pix) {
		t.Fatal("copy plus the rest does not rebuild the scrolled frame")
	}
	if len(rest)*3 > nPlain {
		t.Fatalf("scroll sends %d rects after the copy, a plain diff %d", len(rest), nPlain)
	}
	t.Logf("plain diff %d rects, with copy 1 + %d", nPlain, len(rest))
}

// TestStackedMixedRun: a stack of runs (what the agent sends for a block
// of changed tiles) holding text and photo tiles sends the text tiles
// losslessly and only the photo tiles as JPEG.
func TestStackedMixedRun(t *testing.T) {
	mixed := clone(frame)
	for y := 64; y < 128; y++ { // photo in the right half of the first row
		copy(mixed.Pix[mixed.PixOffset(192, y):mixed.PixOffset(320, y)], photo.Pix[photo.PixOffset(192, y):photo.PixOffset(320, y)])
	}
	out, err := NewPool(1).Encode(mixed, []Job{{Rect: image.Rect(0, 64, 320, 256), Quality: 75}})
	if err != nil {
		t.Fatal(err)
	}
	got := image.NewRGBA(mixed.Bounds())
	for _, p := range out[0] {
		if p.Lossy && !p.Area.In(image.Rect(192, 64, 320, 128)) {
			t.Fatalf("%v went out lossy; only the photo tiles should", p.Area)
		}
		if err := p.Rect.Draw(got); err != nil {
			t.Fatal(err)
		}
	}
	for y := 64; y < 256; y++ {
		for x := 0; x < 320; x++ {
			if image.Pt(x, y).In(image.Rect(192, 64, 320, 128)) {
				continue
			}
			if got.RGBAAt(x, y) != mixed.RGBAAt(x, y) {
				t.Fatalf("pixel %d,%d differs", x, y)
			}
		}
	}
}

// TestSettleKnownCost: settling an area whose JPEG cost the caller knows
// decides as settling it after encoding that JPEG again does (a photo stays
// as it went out, sharp text on a photo becomes exact, a low-quality photo
// is measured and re-sent better), and the pieces decode the same.
func TestSettleKnownCost(t *testing.T) {
	text := clone(photo)
	textArea := image.Rect(0, 0, 256, 64)
	for y := textArea.Min.Y; y < textArea.Max.Y; y++ {
		for x := textArea.Min.X; x < textArea.Max.X; x++ {
			v := byte(255)
			if (x/3+y/5)%2 == 0 {
				v = 0
			}
			o := text.PixOffset(x, y)
			text.Pix[o], text.Pix[o+1], text.Pix[o+2] = v, v, v
		}
	}
	for _, tc := range []struct {
		name string
		img  *image.RGBA
		r    image.Rectangle
		q    int
		enc  byte // what the settled pieces are; 0: nothing is sent
	}{
		{"photo at a trusted quality", photo, image.Rect(640, 320, 960, 384), 80, 0},
		{"photo at a low quality", photo, image.Rect(640, 320, 960, 384), 10, protocol.EncJPEG},
		{"sharp pattern", text, textArea, 80, protocol.EncPNG},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEncoder()
			shown, err := e.encodeJob(tc.img, Job{Rect: tc.r, Quality: tc.q}, nil)
			if err != nil {
				t.Fatal(err)
			}
			want, err := e.Settle(tc.img, tc.r, tc.q, 0)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.Settle(tc.img, tc.r, tc.q, piecesSize(shown))
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range got {
				if g.Rect.Enc != tc.enc {
					t.Errorf("settled as encoding %d, want %d", g.Rect.Enc, tc.enc)
				}
			}
			if len(got) == 0 && tc.enc != 0 {
				t.Errorf("nothing settled, want encoding %d", tc.enc)
			}
			if len(got) != len(want) {
				t.Fatalf("known cost: %d pieces, unknown cost: %d", len(got), len(want))
			}
			for i := range got {
				if got[i].Rect.Enc != want[i].Rect.Enc || string(got[i].Rect.Data) != string(want[i].Rect.Data) {
					t.Fatalf("piece %d: %v (%d bytes), want %v (%d bytes)", i, got[i].Rect.Enc, len(got[i].Rect.Data), want[i].Rect.Enc, len(want[i].Rect.Data))
				}
			}
		})
	}
}

// TestPNGEstimateSampling: the estimate from the rows pngEstimate reads
// stays within 10% of the one from every row, for each refinement-sized
// rectangle (5x1 tiles) and for the whole screen, of a photo, of text
// (lines 16 pixels apart, glyph rows that differ) and of text over a photo.
func TestPNGEstimateSampling(t *testing.T) {
	text := image.NewRGBA(photo.Bounds())
	mixed := clone(photo)
	for y := 0; y < 1080; y++ {
		for x := 0; x < 1920; x++ {
			v := byte(255)
			if (x/3+y/5+x*y/7)%3 == 0 && y%16 < 11 {
				v = 0
			}
			o := text.PixOffset(x, y)
			text.Pix[o], text.Pix[o+1], text.Pix[o+2], text.Pix[o+3] = v, v, v, 255
			if y < 540 {
				copy(mixed.Pix[o:o+4], text.Pix[o:o+4])
			}
		}
	}
	for _, tc := range []struct {
		name string
		img  *image.RGBA
	}{{"photo", photo}, {"text", text}, {"text over a photo", mixed}} {
		rects := []image.Rectangle{tc.img.Bounds()}
		for y := 0; y+64 <= 1080; y += 64 {
			for x := 0; x+320 <= 1920; x += 320 {
				rects = append(rects, image.Rect(x, y, x+320, y+64))
			}
		}
		for _, r := range rects {
			got, want := pngEstimate(tc.img, r), pngEstimateEvery(tc.img, r, 1)
			if math.Abs(got-want) > 0.1*want {
				t.Errorf("%s, %v: estimate %.0f bytes from the rows read, %.0f from every row", tc.name, r, got, want)
			}
		}
	}
}

// TestPNGEstimateEntropy: pngEstimateEvery is the order-0 entropy of the
// differences between horizontal neighbours in the rows it reads, worked
// out as written (one histogram, -sum p log2 p), for a photo, a flat area
// (every difference 0: the floor), a gradient, one- and two-pixel-wide
// areas and areas off the image's origin.
func TestPNGEstimateEntropy(t *testing.T) {
	definition := func(img *image.RGBA, r image.Rectangle, step int) float64 {
		var hist [511]int
		n := 0
		for k := 0; ; k++ {
			y := r.Min.Y + k*step + int(uint32(k)*2654435761>>16)%step
			if y >= r.Max.Y {
				break
			}
			for x := r.Min.X + 1; x < r.Max.X; x++ {
				a, b := img.RGBAAt(x-1, y), img.RGBAAt(x, y)
				hist[255+int(b.R)-int(a.R)]++
				hist[255+int(b.G)-int(a.G)]++
				hist[255+int(b.B)-int(a.B)]++
				n += 3
			}
		}
		if n == 0 {
			return 0
		}
		bits := 0.0
		for _, k := range hist {
			if k > 0 {
				p := float64(k) / float64(n)
				bits -= p * math.Log2(p)
			}
		}
		return 3 * float64(r.Dx()*r.Dy()) * max(bits, 0.2) / 8
	}
	flat := image.NewRGBA(image.Rect(0, 0, 640, 64))
	for i := range flat.Pix {
		flat.Pix[i] = 0x80
	}
	gradient := image.NewRGBA(image.Rect(0, 0, 640, 64))
	for y := 0; y < 64; y++ {
		for x := 0; x < 640; x++ {
			gradient.SetRGBA(x, y, color.RGBA{uint8(x), uint8(x / 3), uint8(y * 4), 255})
		}
	}
	for _, tc := range []struct {
		name string
		img  *image.RGBA
		r    image.Rectangle
		step int
	}{
		{"photo refinement", photo, image.Rect(640, 320, 960, 384), 4},
		{"photo, every row", photo, image.Rect(0, 0, 1920, 1080), 1},
		{"photo, sparse rows", photo, image.Rect(0, 0, 1920, 1080), 16},
		{"flat", flat, flat.Bounds(), 2},
		{"gradient", gradient, gradient.Bounds(), 2},
		{"one pixel wide", photo, image.Rect(100, 100, 101, 164), 1},
		{"two pixels wide", photo, image.Rect(100, 100, 102, 164), 1},
		{"off the origin", photo, image.Rect(1277, 901, 1919, 1079), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, want := pngEstimateEvery(tc.img, tc.r, tc.step), definition(tc.img, tc.r, tc.step)
			if math.Abs(got-want) > 1e-9*max(want, 1) {
				t.Errorf("estimate %.6f, want %.6f", got, want)
			}
		})
	}
}
