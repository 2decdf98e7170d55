package agent

import (
	"bytes"
	"image"
	"testing"
	"time"

	"assist/capture"
)

func TestPointerPoll(t *testing.T) {
	tests := []struct {
		name   string
		moved  bool
		rested time.Duration
		want   time.Duration
	}{
		{"moving", true, 0, pointerInterval},
		{"moved long ago but now again", true, time.Hour, pointerInterval},
		{"just stopped", false, time.Second, pointerInterval},
		{"resting", false, pointerIdleAfter, pointerIdleInterval},
		{"resting a while", false, pointerRestAfter - time.Millisecond, pointerIdleInterval},
		{"at rest", false, pointerRestAfter, pointerRestInterval},
		{"at rest for an hour", false, time.Hour, pointerRestInterval},
	}
	for _, tt := range tests {
		if got := pointerPoll(tt.moved, tt.rested); got != tt.want {
			t.Errorf("%s: poll after %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestWatchedPoll(t *testing.T) {
	for _, tt := range []struct {
		name        string
		last        time.Duration
		unannounced bool
		want        time.Duration
	}{
		{"a warp after a long rest", pointerWatchedInterval, true, pointerInterval},
		{"a warp while following", pointerInterval, true, pointerInterval},
		{"nothing after a warp", pointerInterval, false, 2 * pointerInterval},
		{"nothing again", 4 * pointerInterval, false, 8 * pointerInterval},
		{"nothing for long", 30 * pointerInterval, false, pointerWatchedInterval},
		{"at rest", pointerWatchedInterval, false, pointerWatchedInterval},
		{"no wait yet", 0, false, pointerInterval},
	} {
		if got := watchedPoll(tt.last, tt.unannounced); got != tt.want {
			t.Errorf("%s: poll after %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestWatchedPollAfterOneWarp: a lone warp is followed by a handful of
// polls before the pointer is back to one poll a second; a program that
// warps on every poll keeps the full rate.
func TestWatchedPollAfterOneWarp(t *testing.T) {
	wait, polls, elapsed := watchedPoll(pointerWatchedInterval, true), 0, time.Duration(0)
	for wait < pointerWatchedInterval {
		elapsed += wait
		polls++
		wait = watchedPoll(wait, false)
	}
	if polls > 7 || elapsed > 2*time.Second {
		t.Errorf("a lone warp cost %d polls over %v before polls slowed to %v", polls, elapsed, pointerWatchedInterval)
	}
	wait = pointerWatchedInterval
	for range 10 {
		if wait = watchedPoll(wait, true); wait != pointerInterval {
			t.Fatalf("a pointer warped at every poll is polled every %v, want %v", wait, pointerInterval)
		}
	}
}

// TestCopyChanged: the tiles whose hashes differ are copied, runs of them
// and single ones, edge tiles and all; a tile whose hashes agree is left as
// it is, even where its pixels differ.
func TestCopyChanged(t *testing.T) {
	const w, h = 300, 200 // edge tiles 44 wide, 8 high
	base := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range base.Pix {
		base.Pix[i] = byte(i * 7)
	}
	for _, tt := range []struct {
		name    string
		sub     image.Rectangle // the area (a monitor: its own tile grid)
		changes []image.Rectangle
	}{
		{"nothing", base.Rect, nil},
		{"one pixel", base.Rect, []image.Rectangle{image.Rect(70, 70, 71, 71)}},
		{"a run of tiles", base.Rect, []image.Rectangle{image.Rect(10, 70, 250, 71)}},
		{"two runs in a row", base.Rect, []image.Rectangle{image.Rect(0, 0, 1, 1), image.Rect(200, 10, 201, 11)}},
		{"the bottom-right edge tile", base.Rect, []image.Rectangle{image.Rect(299, 199, 300, 200)}},
		{"everything", base.Rect, []image.Rectangle{base.Rect}},
		{"in a monitor", image.Rect(30, 20, 290, 190), []image.Rectangle{image.Rect(40, 30, 41, 31), image.Rect(280, 180, 290, 190)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dst := cloneRGBA(base)
			src := cloneRGBA(base)
			for _, c := range tt.changes {
				for y := c.Min.Y; y < c.Max.Y; y++ {
					for x := c.Min.X; x < c.Max.X; x++ {
						src.Pix[src.PixOffset(x, y)] ^= 0xff
					}
				}
			}
			// Outside the area src differs everywhere: nothing there may
			// be copied.
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					if !image.Pt(x, y).In(tt.sub) {
						src.Pix[src.PixOffset(x, y)] ^= 0x3c
					}
				}
			}
			dsub, ssub := dst.SubImage(tt.sub).(*image.RGBA), src.SubImage(tt.sub).(*image.RGBA)
			have := capture.HashTiles(dsub, capture.TileSize, nil)
			want := capture.HashTiles(ssub, capture.TileSize, nil)
			// A pixel dst holds that have does not know of: not copied over.
			stale := tt.sub.Min.Add(image.Pt(tt.sub.Dx()-1, 0))
			if len(tt.changes) == 0 {
				dst.Pix[dst.PixOffset(stale.X, stale.Y)+1] ^= 0x0f
			}
			copyChanged(dsub, ssub, have, want)
			if len(tt.changes) == 0 {
				if got := dst.Pix[dst.PixOffset(stale.X, stale.Y)+1]; got == src.Pix[src.PixOffset(stale.X, stale.Y)+1] {
					t.Error("a tile whose hashes agree was copied")
				}
				return
			}
			for y := tt.sub.Min.Y; y < tt.sub.Max.Y; y++ {
				if !bytes.Equal(dst.Pix[dst.PixOffset(tt.sub.Min.X, y):dst.PixOffset(tt.sub.Max.X, y)],
					src.Pix[src.PixOffset(tt.sub.Min.X, y):src.PixOffset(tt.sub.Max.X, y)]) {
					t.Fatalf("row %d differs after copyChanged", y)
				}
			}
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					if !image.Pt(x, y).In(tt.sub) && dst.Pix[dst.PixOffset(x, y)] != base.Pix[base.PixOffset(x, y)] {
						t.Fatalf("pixel (%d,%d) outside the area %v was written", x, y, tt.sub)
					}
				}
			}
		})
	}
}

func cloneRGBA(img *image.RGBA) *image.RGBA {
	out := *img
	out.Pix = append([]byte(nil), img.Pix...)
	return &out
}

// BenchmarkCopyChanged1080p copies a changed 1080p frame into the previous
// one (the photo phase of make bench: shown, then hidden).
func BenchmarkCopyChanged1080p(b *testing.B) {
	prev, cur := image.NewRGBA(image.Rect(0, 0, 1920, 1080)), image.NewRGBA(image.Rect(0, 0, 1920, 1080))
	for i := range cur.Pix {
		cur.Pix[i] = byte(i)
	}
	have := capture.HashTiles(prev, capture.TileSize, nil)
	want := capture.HashTiles(cur, capture.TileSize, nil)
	b.SetBytes(int64(len(cur.Pix)))
	for b.Loop() {
		copyChanged(prev, cur, have, want)
	}
}
