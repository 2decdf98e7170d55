package capture

import (
	"fmt"
	"image"
	"slices"
	"testing"

	"assist/internal/xtest"
)

// tilesOf returns the tiles (column, row) that rects cover, failing unless
// every rectangle is aligned to the tile grid of t and fits one message.
func tilesOf(tb testing.TB, t *Tiles, rects []image.Rectangle) []image.Point {
	tb.Helper()
	var out []image.Point
	frame := image.Rect(0, 0, t.W, t.H).Add(t.origin)
	for _, r := range rects {
		rr := r.Sub(t.origin)
		if !r.In(frame) || r.Empty() || rr.Min.X%t.Size != 0 || rr.Min.Y%t.Size != 0 ||
			(rr.Max.X%t.Size != 0 && rr.Max.X != t.W) || (rr.Max.Y%t.Size != 0 && rr.Max.Y != t.H) {
			tb.Fatalf("rect %v is not tile-aligned in a %dx%d frame at %v with %d-px tiles", r, t.W, t.H, t.origin, t.Size)
		}
		if rr.Dy() > t.Size {
			tb.Fatalf("rect %v spans more than one row of tiles", r)
		}
		if n := (rr.Dx() + t.Size - 1) / t.Size; n > maxRun(t.Size) {
			tb.Fatalf("rect %v merges %d tiles, more than %d", r, n, maxRun(t.Size))
		}
		for x := rr.Min.X; x < rr.Max.X; x += t.Size {
			out = append(out, image.Pt(x/t.Size, rr.Min.Y/t.Size))
		}
	}
	return out
}

func allTiles(t *Tiles) []image.Point {
	var out []image.Point
	for r := 0; r < t.Rows; r++ {
		for c := 0; c < t.Cols; c++ {
			out = append(out, image.Pt(c, r))
		}
	}
	return out
}

func clone(img *image.RGBA) *image.RGBA {
	out := *img
	out.Pix = slices.Clone(img.Pix)
	return &out
}

func TestTrackerDiff(t *testing.T) {
	type change struct {
		p   image.Point // pixel to change, in frame coordinates
		all bool        // change the alpha byte only
	}
	tests := []struct {
		name    string
		w, h    int
		size    int
		changes []change
		want    []image.Point // tiles (column, row)
	}{
		{"identical frame", 640, 480, 64, nil, nil},
		{"one pixel inside a tile", 640, 480, 64, []change{{p: image.Pt(100, 70)}}, []image.Point{{1, 1}}},
		{"top-left pixel", 640, 480, 64, []change{{p: image.Pt(0, 0)}}, []image.Point{{0, 0}}},
		{"last pixel of a tile", 640, 480, 64, []change{{p: image.Pt(127, 63)}}, []image.Point{{1, 0}}},
		{"first pixel of the next tile", 640, 480, 64, []change{{p: image.Pt(128, 64)}}, []image.Point{{2, 1}}},
		{"only alpha", 640, 480, 64, []change{{p: image.Pt(300, 300), all: true}}, []image.Point{{4, 4}}},
		{"right edge tile", 650, 490, 64, []change{{p: image.Pt(649, 10)}}, []image.Point{{10, 0}}},
		{"bottom-right corner", 650, 490, 64, []change{{p: image.Pt(649, 489)}}, []image.Point{{10, 7}}},
		{"two tiles apart", 640, 480, 64, []change{{p: image.Pt(10, 10)}, {p: image.Pt(200, 10)}}, []image.Point{{0, 0}, {3, 0}}},
		{"adjacent tiles merge", 640, 480, 64, []change{{p: image.Pt(63, 5)}, {p: image.Pt(64, 5)}}, []image.Point{{0, 0}, {1, 0}}},
		{"seven adjacent tiles", 640, 480, 64, func() []change {
			var cs []change
			for c := 1; c <= 7; c++ {
				cs = append(cs, change{p: image.Pt(c*64+3, 200)})
			}
			return cs
		}(), []image.Point{{1, 3}, {2, 3}, {3, 3}, {4, 3}, {5, 3}, {6, 3}, {7, 3}}},
		{"16-px tiles", 100, 50, 16, []change{{p: image.Pt(99, 49)}, {p: image.Pt(16, 16)}}, []image.Point{{1, 1}, {6, 3}}},
		{"odd tile size", 101, 51, 50, []change{{p: image.Pt(100, 50)}}, []image.Point{{2, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := xtest.Pattern(tt.w, tt.h)
			tr := NewTracker()
			first := HashTiles(img, tt.size, nil)
			if got, want := tilesOf(t, first, tr.Diff(first)), allTiles(first); !slices.Equal(got, want) {
				t.Fatalf("first diff covers %v, want every tile", got)
			}
			next := clone(img)
			for _, c := range tt.changes {
				i := next.PixOffset(c.p.X, c.p.Y)
				if c.all {
					next.Pix[i+3] ^= 0x01
				} else {
					next.Pix[i+1] ^= 0x01
				}
			}
			cur := HashTiles(next, tt.size, nil)
			rects := tr.Diff(cur)
			if got := tilesOf(t, cur, rects); !slices.Equal(got, tt.want) {
				t.Errorf("diff %v covers tiles %v, want %v", rects, got, tt.want)
			}
			if rects := tr.Diff(cur); len(rects) != 0 {
				t.Errorf("diff of the same frame again: %v, want none", rects)
			}
		})
	}
}

func TestTrackerMergesAtMostMaxRun(t *testing.T) {
	img := xtest.Pattern(640, 128)
	tr := NewTracker()
	rects := tr.Diff(HashTiles(img, 64, nil))
	want := []image.Rectangle{
		image.Rect(0, 0, 320, 64), image.Rect(320, 0, 640, 64),
		image.Rect(0, 64, 320, 128), image.Rect(320, 64, 640, 128),
	}
	if !slices.Equal(rects, want) {
		t.Errorf("first diff %v, want %v", rects, want)
	}
}

func TestTrackerReportsEverythingAfterResetOrResize(t *testing.T) {
	img := xtest.Pattern(640, 480)
	cur := HashTiles(img, 64, nil)
	tests := []struct {
		name string
		next func(tr *Tracker) *Tiles
	}{
		{"reset", func(tr *Tracker) *Tiles { tr.Reset(); return cur }},
		{"wider", func(*Tracker) *Tiles { return HashTiles(xtest.Pattern(641, 480), 64, nil) }},
		{"shorter", func(*Tracker) *Tiles { return HashTiles(xtest.Pattern(640, 400), 64, nil) }},
		{"same size elsewhere", func(*Tracker) *Tiles {
			big := xtest.Pattern(700, 500)
			return HashTiles(big.SubImage(image.Rect(10, 10, 650, 490)).(*image.RGBA), 64, nil)
		}},
		{"other tile size", func(*Tracker) *Tiles { return HashTiles(img, 32, nil) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker()
			tr.Diff(cur)
			next := tt.next(tr)
			if got, want := tilesOf(t, next, tr.Diff(next)), allTiles(next); !slices.Equal(got, want) {
				t.Errorf("diff covers %v, want every tile %v", got, want)
			}
		})
	}
}

func TestHashTilesReuseAndOrigin(t *testing.T) {
	img := xtest.Pattern(300, 200)
	fresh := HashTiles(img, 64, nil)
	if fresh.Cols != 5 || fresh.Rows != 4 || len(fresh.Hash) != 20 || fresh.W != 300 || fresh.H != 200 {
		t.Fatalf("tiles %+v", fresh)
	}
	reused := HashTiles(xtest.Pattern(900, 900), 16, nil)
	reused = HashTiles(img, 64, reused)
	if !slices.Equal(reused.Hash, fresh.Hash) {
		t.Error("reusing Tiles changed the hashes")
	}
	if HashTiles(img, 0, nil).Size != TileSize {
		t.Error("size 0 does not mean TileSize")
	}

	// A sub-image hashes like the same pixels at the origin, and Diff
	// reports rectangles in the sub-image's coordinates.
	big := xtest.Pattern(400, 300)
	sub := big.SubImage(image.Rect(36, 36, 336, 236)).(*image.RGBA)
	copied := image.NewRGBA(image.Rect(0, 0, 300, 200))
	for y := 0; y < 200; y++ {
		copy(copied.Pix[copied.PixOffset(0, y):copied.PixOffset(300, y)], sub.Pix[sub.PixOffset(36, 36+y):])
	}
	if !slices.Equal(HashTiles(sub, 64, nil).Hash, HashTiles(copied, 64, nil).Hash) {
		t.Error("a sub-image hashes differently from a copy of its pixels")
	}
	tr := NewTracker()
	tr.Diff(HashTiles(sub, 64, nil))
	sub.Pix[sub.PixOffset(36+70, 36+5)] ^= 0xff
	rects := tr.Diff(HashTiles(sub, 64, nil))
	if want := []image.Rectangle{image.Rect(36+64, 36, 36+128, 36+64)}; !slices.Equal(rects, want) {
		t.Errorf("diff %v, want %v", rects, want)
	}
}

func TestTrackerIgnoresForeignTiles(t *testing.T) {
	tr := NewTracker()
	if got := tr.Diff(&Tiles{W: 10, H: 10, Size: 64, Cols: 1, Rows: 1}); got != nil {
		t.Errorf("diff of tiles without hashes: %v", got)
	}
	if got := tr.Diff(nil); got != nil {
		t.Errorf("diff of nil: %v", got)
	}
}

func TestHashTilesDoesNotAllocateWhenReused(t *testing.T) {
	img := xtest.Pattern(1920, 1080)
	tiles := HashTiles(img, TileSize, nil)
	if n := testing.AllocsPerRun(5, func() { HashTiles(img, TileSize, tiles) }); n != 0 {
		t.Errorf("HashTiles with reuse allocates %v times", n)
	}
}

func ExampleTracker() {
	frame := xtest.Pattern(256, 128)
	tr := NewTracker()
	fmt.Println(tr.Diff(HashTiles(frame, 64, nil)))
	frame.Pix[frame.PixOffset(200, 100)] ^= 0xff
	fmt.Println(tr.Diff(HashTiles(frame, 64, nil)))
	// Output:
	// [(0,0)-(256,64) (0,64)-(256,128)]
	// [(192,64)-(256,128)]
}

func TestHashTilesIn(t *testing.T) {
	img := clone(frame)
	tiles := HashTiles(img, TileSize, nil)
	img.Pix[img.PixOffset(700, 300)] ^= 0xff
	img.Pix[img.PixOffset(5, 1070)] ^= 0xff // outside the band: must not be seen
	part := HashTilesIn(img, TileSize, tiles, image.Rect(0, 290, 1920, 310))
	full := HashTiles(img, TileSize, nil)
	for i := range full.Hash {
		row := i / full.Cols
		want := full.Hash[i]
		if row == 1070/TileSize {
			want = HashTiles(frame, TileSize, nil).Hash[i]
		}
		if part.Hash[i] != want {
			t.Fatalf("tile %d (row %d) hash wrong after a partial rehash", i, row)
		}
	}
}
