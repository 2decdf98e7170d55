package capture

import (
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

func BenchmarkConvert1080p(b *testing.B) {
	src := make([]byte, 1920*1080*4)
	dst := make([]byte, len(src))
	b.Run("bgrx", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			bgrxToRGBA(dst, src)
		}
	})
	b.Run("xrgb", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			xrgbToRGBA(dst, src)
		}
	})
}
