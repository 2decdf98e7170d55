package capture

import (
	"fmt"
	"image"
	"testing"
)

func BenchmarkHashTiles1080p(b *testing.B) {
	tiles := HashTiles(frame, TileSize, nil)
	b.SetBytes(int64(len(frame.Pix)))
	for b.Loop() {
		HashTiles(frame, TileSize, tiles)
	}
}

// BenchmarkSegmentsScrolledTerminal is what the capture spends hashing
// the segments of a scrolled terminal (a 600x520 damage) as it converts
// its rows: the segments the rows touch, row by row.
func BenchmarkSegmentsScrolledTerminal(b *testing.B) {
	changed := image.Rect(43, 43, 643, 563)
	var seg Segments
	seg.reset(frame)
	b.SetBytes(int64(changed.Dx() * changed.Dy() * 4))
	for b.Loop() {
		for y := changed.Min.Y; y < changed.Max.Y; y++ {
			seg.hashRow(frame, y, changed.Min.X, changed.Max.X)
		}
	}
}

// BenchmarkHashTilesScrolledTerminal hashes the tiles of a scrolled
// terminal (a 600x520 damage on a 1080p frame): from the pixels, and from
// the segment hashes the capture computed while converting them.
func BenchmarkHashTilesScrolledTerminal(b *testing.B) {
	changed := image.Rect(43, 43, 643, 563)
	var seg Segments
	seg.reset(frame)
	for y := range frame.Rect.Dy() {
		seg.hashRow(frame, y, 0, frame.Rect.Dx())
	}
	for _, bb := range []struct {
		name string
		seg  *Segments
	}{{"pixels", nil}, {"segments", &seg}} {
		b.Run(bb.name, func(b *testing.B) {
			tiles := HashTiles(frame, TileSize, nil)
			b.SetBytes(int64(changed.Dx() * changed.Dy() * 4))
			for b.Loop() {
				HashTilesFrom(frame, TileSize, tiles, changed, bb.seg)
			}
		})
	}
}

// BenchmarkTilesCopyFrom1080p is the agent's copy of a frame's hashes
// after a keystroke (one row of tiles hashed again) and after a whole
// frame changed: the copy alternates between two Tiles that differ by that
// much.
func BenchmarkTilesCopyFrom1080p(b *testing.B) {
	for _, bb := range []struct {
		name   string
		change image.Rectangle
	}{
		{"keystroke", image.Rect(700, 300, 706, 313)},
		{"whole frame", frame.Rect},
	} {
		b.Run(bb.name, func(b *testing.B) {
			one := HashTiles(frame, TileSize, nil)
			other := &Tiles{}
			other.CopyFrom(one)
			other = HashTilesIn(frame, TileSize, other, bb.change)
			prev := &Tiles{}
			prev.CopyFrom(one)
			i := 0
			for b.Loop() {
				if i++; i%2 == 0 {
					prev.CopyFrom(one)
				} else {
					prev.CopyFrom(other)
				}
			}
		})
	}
}

func BenchmarkTrackerDiff1080p(b *testing.B) {
	changed := clone(frame)
	for _, p := range []image.Point{{100, 100}, {1000, 500}, {1900, 1070}} { // three tiles
		changed.Pix[changed.PixOffset(p.X, p.Y)] ^= 0xff
	}
	frames := []*Tiles{HashTiles(frame, TileSize, nil), HashTiles(changed, TileSize, nil)}
	b.Run("three tiles changed", func(b *testing.B) {
		tr := NewTracker()
		tr.Diff(frames[0])
		i := 0
		for b.Loop() {
			i++
			if n := len(tr.Diff(frames[i%2])); n != 3 {
				b.Fatalf("%d rects", n)
			}
		}
	})
	b.Run("unchanged", func(b *testing.B) {
		tr := NewTracker()
		tr.Diff(frames[0])
		for b.Loop() {
			tr.Diff(frames[0])
		}
	})
	b.Run("everything", func(b *testing.B) {
		tr := NewTracker()
		for b.Loop() {
			tr.Reset()
			tr.Diff(frames[0])
		}
	})
}

func BenchmarkEncodeTile(b *testing.B) {
	for _, bb := range []struct {
		name string
		r    image.Rectangle
	}{
		{"text", tileIn(layout.Text)},
		{"photo", tileIn(layout.Photo)},
		{"solid", tileIn(layout.Solid)},
		{"lines", tileIn(layout.Lines)},
		{"gradient", tileIn(layout.Gradient)},
		{"text 5 tiles merged", image.Rect(0, 64, 320, 128)},
	} {
		b.Run(bb.name, func(b *testing.B) {
			e := NewEncoder()
			rect, err := e.Encode(frame, bb.r)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(4 * bb.r.Dx() * bb.r.Dy()))
			for b.Loop() {
				e.Encode(frame, bb.r)
			}
			b.ReportMetric(float64(len(rect.Data)), "out-bytes")
			b.ReportMetric(float64(rect.Enc), "enc")
		})
	}
}

// BenchmarkEncodeFrame encodes every rectangle of the 1080p pattern, as
// Tracker.Diff reports them the first time, on one goroutine.
func BenchmarkEncodeFrame1080p(b *testing.B) {
	rects := NewTracker().Diff(HashTiles(frame, TileSize, nil))
	e := NewEncoder()
	b.SetBytes(int64(len(frame.Pix)))
	var total int
	for b.Loop() {
		total = 0
		for _, r := range rects {
			rect, err := e.Encode(frame, r)
			if err != nil {
				b.Fatal(err)
			}
			total += len(rect.Data)
		}
	}
	b.ReportMetric(float64(total), "out-bytes")
	b.ReportMetric(float64(len(rects)), "rects")
}

func BenchmarkEncodeAuto(b *testing.B) {
	for _, bb := range []struct {
		name string
		img  *image.RGBA
		r    image.Rectangle
		q    int
	}{
		{"photo tile q80", photo, image.Rect(640, 320, 704, 384), 80},
		{"photo 5 tiles q80", photo, image.Rect(640, 320, 960, 384), 80},
		{"photo tile q50", photo, image.Rect(640, 320, 704, 384), 50},
		{"text tile", frame, tileIn(layout.Text), 80},
		{"typing-sized update 16x32", frame, image.Rect(200, 200, 216, 232), 80},
	} {
		b.Run(bb.name, func(b *testing.B) {
			e := NewEncoder()
			rect, _, err := e.EncodeAuto(bb.img, bb.r, bb.q)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(4 * bb.r.Dx() * bb.r.Dy()))
			for b.Loop() {
				e.EncodeAuto(bb.img, bb.r, bb.q)
			}
			b.ReportMetric(float64(len(rect.Data)), "out-bytes")
		})
	}
}

// BenchmarkTypingUpdate is one keystroke's worth of work after capture:
// hash the frame, diff, encode the one changed tile.
func BenchmarkTypingUpdate(b *testing.B) {
	next := clone(frame)
	for y := 100; y < 116; y++ {
		for x := 100; x < 108; x++ {
			next.Pix[next.PixOffset(x, y)] ^= 0xff
		}
	}
	imgs := []*image.RGBA{frame, next}
	tr := NewTracker()
	var tiles *Tiles
	tiles = HashTiles(frame, TileSize, tiles)
	tr.Diff(tiles)
	pool := NewPool(0)
	i := 0
	for b.Loop() {
		i++
		img := imgs[i%2]
		tiles = HashTiles(img, TileSize, tiles)
		var jobs []Job
		for _, r := range tr.Diff(tiles) {
			jobs = append(jobs, Job{Rect: r, Quality: 80})
		}
		if _, err := pool.Encode(img, jobs); err != nil || len(jobs) != 1 {
			b.Fatal(err, len(jobs))
		}
	}
}

func BenchmarkPoolEncodePhotoFrame(b *testing.B) {
	var jobs []Job
	for _, r := range NewTracker().Diff(HashTiles(photo, TileSize, nil)) {
		jobs = append(jobs, Job{Rect: r, Quality: 80})
	}
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) {
			p := NewPool(n)
			b.SetBytes(int64(len(photo.Pix)))
			var total int
			for b.Loop() {
				out, err := p.Encode(photo, jobs)
				if err != nil {
					b.Fatal(err)
				}
				total = 0
				for _, es := range out {
					for _, e := range es {
						total += len(e.Rect.Data)
					}
				}
			}
			b.ReportMetric(float64(total), "out-bytes")
		})
	}
}

func BenchmarkSettlePhoto(b *testing.B) {
	e := NewEncoder()
	r := image.Rect(640, 320, 960, 384)
	b.SetBytes(int64(4 * r.Dx() * r.Dy()))
	for b.Loop() {
		if _, err := e.Settle(photo, r, 80, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMoveDetect(b *testing.B) {
	for _, bb := range []struct {
		name      string
		prev, cur *image.RGBA
	}{
		{"terminal scroll", frame, scrolled(frame, image.Rect(40, 80, 900, 500), 0, -13, [3]byte{255, 255, 255})},
		{"window move", frame, scrolled(frame, image.Rect(300, 200, 700, 500), 37, 21, [3]byte{})},
		{"new photo, no move", frame, photo},
	} {
		b.Run(bb.name, func(b *testing.B) {
			var d MoveDetector
			for b.Loop() {
				d.Detect(bb.prev, bb.cur, bb.cur.Bounds())
			}
		})
	}
}

// BenchmarkMoveOf checks a window move the window list suggests (the
// agent's path for a dragged window): a 480x312 terminal moved by 37,21.
func BenchmarkMoveOf(b *testing.B) {
	win := image.Rect(1000, 80, 1480, 392)
	off := image.Pt(37, 21)
	cur := scrolled(frame, win, off.X, off.Y, [3]byte{})
	for b.Loop() {
		if _, ok := MoveOf(frame, cur, win.Add(off), image.Pt(-off.X, -off.Y)); !ok {
			b.Fatal("no move found")
		}
	}
}

func BenchmarkPNGEstimate1080p(b *testing.B) {
	b.SetBytes(int64(len(photo.Pix)))
	for b.Loop() {
		pngEstimate(photo, photo.Bounds())
	}
}

// BenchmarkPNGEstimateRefinement is one refinement rectangle (5x1 tiles)
// of a photo, as Settle estimates it.
func BenchmarkPNGEstimateRefinement(b *testing.B) {
	r := image.Rect(640, 320, 960, 384)
	b.SetBytes(int64(4 * r.Dx() * r.Dy()))
	for b.Loop() {
		pngEstimate(photo, r)
	}
}

// BenchmarkDetectInKeystroke is the move search after a keystroke: one
// changed tile, a glyph's pixels in it.
func BenchmarkDetectInKeystroke(b *testing.B) {
	prev := onDesktop(frame, image.Rect(40, 80, 900, 500))
	cur := clone(prev)
	paste(cur, photo, image.Rect(300, 200, 306, 213))
	pt, ct := HashTiles(prev, TileSize, nil), HashTiles(cur, TileSize, nil)
	changed, _ := tileBounds(pt, ct)
	var d MoveDetector
	for b.Loop() {
		if _, ok := d.DetectIn(prev, cur, pt, ct, changed); ok {
			b.Fatal("a keystroke taken for a move")
		}
	}
}

// BenchmarkFewColoursPhoto tells each tile of a photo frame few-colour or
// not, as allMany and splitByClass do: all but two have too many colours.
func BenchmarkFewColoursPhoto(b *testing.B) {
	e := NewEncoder()
	tiles := SplitTiles(photo.Bounds())
	for _, tc := range []struct {
		name string
		f    func(*image.RGBA, image.Rectangle) bool
	}{{"palettize", e.palettize}, {"fewColours", e.fewColours}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				for _, t := range tiles {
					tc.f(photo, t)
				}
			}
		})
	}
}
