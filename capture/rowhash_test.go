package capture

import (
	"bytes"
	"fmt"
	"image"
	"testing"

	"assist/protocol"
)

// sameTiles fails unless got holds the hashes, tile and row, of want.
func sameTiles(t testing.TB, got, want *Tiles) {
	t.Helper()
	if fmt.Sprint(got.Hash) != fmt.Sprint(want.Hash) {
		t.Fatal("tile hashes differ from hashing the pixels")
	}
	if !bytes.Equal(got.rowHash, want.rowHash) {
		t.Fatal("row hashes differ from hashing the pixels")
	}
}

// TestRowHashesFollowPartialHashing: after hashing only a changed band, the
// row hashes are those of hashing the whole frame again.
func TestRowHashesFollowPartialHashing(t *testing.T) {
	img := clone(frame)
	tiles := HashTiles(img, TileSize, nil)
	for _, p := range []image.Point{{700, 300}, {1919, 1079}, {0, 0}, {64, 64}} {
		img.Pix[img.PixOffset(p.X, p.Y)] ^= 0xff
		tiles = HashTilesIn(img, TileSize, tiles, image.Rectangle{Min: p, Max: p.Add(image.Pt(1, 1))})
	}
	sameTiles(t, tiles, HashTiles(img, TileSize, nil))
}

// moveCase is a move drawn into img, and whether the hashes can follow it.
type moveCase struct {
	name string
	img  *image.RGBA
	m    Move
	ok   bool
}

// monitor is a part of frame like a monitor's: its tile grid starts at
// (100, 50), not at the frame's.
func monitor() *image.RGBA {
	return frame.SubImage(image.Rect(100, 50, 1800, 1000)).(*image.RGBA)
}

// TestApplyMoveMatchesHashingThePixels: for a scroll of whole tile columns
// the hashes ApplyMove derives equal those of the frame the copy was drawn
// into; any other move is refused and leaves the hashes alone.
func TestApplyMoveMatchesHashingThePixels(t *testing.T) {
	sub := monitor()
	tests := []moveCase{
		{"up a line", frame, Move{Dst: image.Rect(0, 67, 960, 487), Src: image.Pt(0, 80)}, true},
		{"down three lines", frame, Move{Dst: image.Rect(64, 119, 640, 540), Src: image.Pt(64, 80)}, true},
		{"to the right edge", frame, Move{Dst: image.Rect(1856, 0, 1920, 1000), Src: image.Pt(1856, 80)}, true},
		{"whole width, overlapping", frame, Move{Dst: image.Rect(0, 1, 1920, 1080), Src: image.Pt(0, 0)}, true},
		{"in a monitor", sub, Move{Dst: image.Rect(164, 60, 420, 900), Src: image.Pt(164, 99)}, true},
		{"monitor's right edge", sub, Move{Dst: image.Rect(1764, 60, 1800, 900), Src: image.Pt(1764, 31+50)}, true},
		{"off the grid", frame, Move{Dst: image.Rect(40, 67, 900, 487), Src: image.Pt(40, 80)}, false},
		{"sideways", frame, Move{Dst: image.Rect(64, 64, 640, 128), Src: image.Pt(128, 64)}, false},
		{"from outside", frame, Move{Dst: image.Rect(0, 0, 64, 100), Src: image.Pt(0, 1000)}, false},
		{"grid of the whole frame, not the monitor", sub, Move{Dst: image.Rect(128, 60, 384, 900), Src: image.Pt(128, 99)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := clone(tt.img)
			before := HashTiles(img, TileSize, nil)
			got := &Tiles{}
			got.CopyFrom(before)
			if ok := got.ApplyMove(tt.m); ok != tt.ok {
				t.Fatalf("ApplyMove(%v) = %v, want %v", tt.m, ok, tt.ok)
			}
			if !tt.ok {
				sameTiles(t, got, before)
				return
			}
			if err := protocol.CopyRect(tt.m.Dst, tt.m.Src).Draw(img); err != nil {
				t.Fatal(err)
			}
			sameTiles(t, got, HashTiles(img, TileSize, nil))
		})
	}
}

// TestApplyMatchedMatchesHashingThePixels: for any move, the hashes
// ApplyMatched derives from the previous frame, as it is, and the current
// frame's (equal to the moved pixels inside the destination, different
// everywhere else) equal those of hashing the previous frame with the move
// drawn into it; a move it cannot place leaves the hashes alone.
func TestApplyMatchedMatchesHashingThePixels(t *testing.T) {
	sub := monitor()
	tests := []moveCase{
		{"a window dragged off the grid", frame, Move{Dst: image.Rect(413, 207, 897, 523), Src: image.Pt(400, 200)}, true},
		{"inside one tile column", frame, Move{Dst: image.Rect(70, 10, 90, 300), Src: image.Pt(75, 40)}, true},
		{"a scroll on the grid", frame, Move{Dst: image.Rect(0, 67, 960, 487), Src: image.Pt(0, 80)}, true},
		{"to the bottom right corner", frame, Move{Dst: image.Rect(1500, 900, 1920, 1080), Src: image.Pt(1400, 850)}, true},
		{"in a monitor", sub, Move{Dst: image.Rect(133, 61, 611, 407), Src: image.Pt(170, 90)}, true},
		{"to a monitor's edges", sub, Move{Dst: image.Rect(1500, 700, 1800, 1000), Src: image.Pt(1450, 650)}, true},
		{"outside the monitor", sub, Move{Dst: image.Rect(50, 61, 611, 407), Src: image.Pt(170, 90)}, false},
		{"past the frame's edge", frame, Move{Dst: image.Rect(1800, 0, 1921, 100), Src: image.Pt(1700, 0)}, false},
		{"nothing", frame, Move{Src: image.Pt(10, 10)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := clone(tt.img)
			before := HashTiles(img, TileSize, nil)
			drawn := drawnCopy(t, img, tt)
			// The current frame: the drawn one inside Dst, other pixels
			// everywhere else.
			cur := clone(drawn)
			b := cur.Bounds()
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					if !image.Pt(x, y).In(tt.m.Dst) {
						cur.Pix[cur.PixOffset(x, y)] ^= 0xff
					}
				}
			}
			got := &Tiles{}
			got.CopyFrom(before)
			if ok := got.ApplyMatched(tt.m, img, HashTiles(cur, TileSize, nil)); ok != tt.ok {
				t.Fatalf("ApplyMatched(%v) = %v, want %v", tt.m, ok, tt.ok)
			}
			if !tt.ok {
				sameTiles(t, got, before)
				return
			}
			sameTiles(t, got, HashTiles(drawn, TileSize, nil))
			samePixels(t, "the frame ApplyMatched read", img, tt.img)
		})
	}
	t.Run("takes this frame's hashes", func(t *testing.T) {
		// Inside the destination the segments come from cur, not from
		// the pixels: a cur that differs there shows it.
		m := Move{Dst: image.Rect(413, 207, 897, 523), Src: image.Pt(400, 200)}
		img := clone(frame)
		before := HashTiles(img, TileSize, nil)
		other := clone(img)
		if err := protocol.CopyRect(m.Dst, m.Src).Draw(other); err != nil {
			t.Fatal(err)
		}
		drawn := HashTiles(other, TileSize, nil)
		for i := range other.Pix {
			other.Pix[i] ^= 0x5a
		}
		cur := HashTiles(other, TileSize, nil)
		got := &Tiles{}
		got.CopyFrom(before)
		if !got.ApplyMatched(m, img, cur) {
			t.Fatal("ApplyMatched refused a move inside the frame")
		}
		inside := (300*got.Cols + 8) * 8 // row 300, column 8 (512-575): inside Dst
		edge := (300*got.Cols + 6) * 8   // column 6 (384-447): cut by Dst's left side
		if !bytes.Equal(got.rowHash[inside:inside+8], cur.rowHash[inside:inside+8]) {
			t.Error("a segment inside the destination does not hold this frame's hash")
		}
		if !bytes.Equal(got.rowHash[edge:edge+8], drawn.rowHash[edge:edge+8]) {
			t.Error("a segment cut by the destination's side does not hold the drawn pixels' hash")
		}
	})
	t.Run("another geometry", func(t *testing.T) {
		img := clone(frame)
		before := HashTiles(img, TileSize, nil)
		got := &Tiles{}
		got.CopyFrom(before)
		other := HashTiles(sub, TileSize, nil)
		if got.ApplyMatched(Move{Dst: image.Rect(413, 207, 897, 523), Src: image.Pt(400, 200)}, img, other) {
			t.Fatal("ApplyMatched took the hashes of a frame of another geometry")
		}
		sameTiles(t, got, before)
	})
}

// TestCopyFromByStamps follows the agent's three Tiles through a run of
// frames (this frame's, hashed where it changed; the previous one's, copied
// from it after each frame; a scratch copy of the previous one with a move
// applied): every copy holds what hashing the pixels gives, and between
// Tiles of one geometry only the rows of tiles that changed are copied.
func TestCopyFromByStamps(t *testing.T) {
	full := frame.Rect
	mon := image.Rect(100, 50, 1800, 1000)
	other := mon.Add(image.Pt(20, 10)) // the same size elsewhere: another grid
	steps := []struct {
		name   string
		area   image.Rectangle // the part of the frame hashed (a monitor)
		change image.Rectangle // pixels flipped in this frame
		move   *Move           // applied to the scratch copy of the previous frame
	}{
		{name: "a keystroke", area: full, change: image.Rect(700, 300, 706, 313)},
		{name: "nothing", area: full},
		{name: "a line at the bottom", area: full, change: image.Rect(0, 1070, 1920, 1080)},
		{name: "a scroll", area: full, change: image.Rect(1500, 900, 1510, 910), move: &Move{Dst: image.Rect(0, 67, 960, 487), Src: image.Pt(0, 80)}},
		{name: "a scroll again", area: full, change: image.Rect(64, 600, 640, 700), move: &Move{Dst: image.Rect(64, 119, 640, 540), Src: image.Pt(64, 80)}},
		{name: "a monitor", area: mon, change: image.Rect(150, 60, 160, 70)},
		{name: "a keystroke there", area: mon, change: image.Rect(1000, 500, 1001, 501)},
		{name: "a monitor of the same size elsewhere", area: other, change: image.Rect(1000, 500, 1001, 501)},
		{name: "a keystroke there too", area: other, change: image.Rect(300, 200, 301, 260)},
		{name: "the whole screen again", area: full, change: image.Rect(5, 5, 6, 6)},
	}
	img := clone(frame)
	view := func(r image.Rectangle) *image.RGBA { return img.SubImage(r).(*image.RGBA) }
	tiles := HashTiles(view(full), TileSize, nil)
	prev, post := &Tiles{}, &Tiles{}
	prev.CopyFrom(tiles)
	prevImg, prevArea := clone(view(full)), full
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			for y := st.change.Min.Y; y < st.change.Max.Y; y++ {
				for x := st.change.Min.X; x < st.change.Max.X; x++ {
					img.Pix[img.PixOffset(x, y)] ^= 0x5a
				}
			}
			tiles = HashTilesIn(view(st.area), TileSize, tiles, st.change)
			sameTiles(t, tiles, HashTiles(view(st.area), TileSize, nil))
			if st.move != nil {
				post.CopyFrom(prev)
				sameTiles(t, post, HashTiles(prevImg, TileSize, nil))
				if !post.ApplyMove(*st.move) {
					t.Fatalf("ApplyMove(%v) refused", *st.move)
				}
				moved := clone(prevImg)
				if err := protocol.CopyRect(st.move.Dst, st.move.Src).Draw(moved); err != nil {
					t.Fatal(err)
				}
				sameTiles(t, post, HashTiles(moved, TileSize, nil))
			}
			if st.area == prevArea {
				// Only the rows of tiles the change touched are stamped
				// anew, so only they are copied.
				differ := 0
				for r := range tiles.gen {
					if prev.gen[r] != tiles.gen[r] {
						differ++
					}
				}
				want := 0
				if c := st.change.Intersect(st.area).Sub(st.area.Min); !c.Empty() {
					want = (c.Max.Y+TileSize-1)/TileSize - c.Min.Y/TileSize
				}
				if differ != want {
					t.Errorf("%d rows of tiles to copy, want %d", differ, want)
				}
				// A row whose stamps agree is not copied: a hash changed
				// behind the stamps' back stays as it is.
				for r := range tiles.gen {
					if prev.gen[r] == tiles.gen[r] {
						prev.Hash[r*prev.Cols] ^= 1
						prev.CopyFrom(tiles)
						if prev.Hash[r*prev.Cols] == tiles.Hash[r*tiles.Cols] {
							t.Errorf("row %d of tiles was copied although its stamps agree", r)
						}
						prev.Hash[r*prev.Cols] ^= 1
						break
					}
				}
			}
			prev.CopyFrom(tiles)
			sameTiles(t, prev, HashTiles(view(st.area), TileSize, nil))
			if fmt.Sprint(prev.gen) != fmt.Sprint(tiles.gen) || prev.Origin() != tiles.Origin() {
				t.Error("the copy's stamps or origin differ from the original's")
			}
			prevImg, prevArea = clone(view(st.area)), st.area
		})
	}
}

// TestDetectInFindsScrollsInRowHashes: DetectIn finds a scroll that Detect
// finds, as a true copy covering at least as many pixels, on whole tile
// columns where the content beside the scroll allows (so that ApplyMove
// takes it), and finds what Detect finds where it does not.
func TestDetectInFindsScrollsInRowHashes(t *testing.T) {
	noisy := clone(photo)
	paste(noisy, frame, image.Rect(40, 80, 900, 500))       // text in a window over a photo
	plain := onDesktop(frame, image.Rect(40, 80, 900, 500)) // the same window on a plain desktop
	icons := clone(plain)                                   // and with desktop icons left of it
	for _, y := range []int{100, 200, 300, 400} {
		paste(icons, photo, image.Rect(4, y, 36, y+32))
	}
	// A page scrolls under a scrollbar whose thumb moves down.
	thumb := func(img *image.RGBA, y int) *image.RGBA {
		out := clone(img)
		for yy := 64; yy < 1000; yy++ {
			for x := 1904; x < 1920; x++ {
				o := out.PixOffset(x, yy)
				out.Pix[o], out.Pix[o+1], out.Pix[o+2] = 0xe0, 0xe0, 0xe0
				if yy >= y && yy < y+120 {
					out.Pix[o], out.Pix[o+1], out.Pix[o+2] = 0x60, 0x60, 0x60
				}
			}
		}
		return out
	}
	small := onDesktop(frame, image.Rect(70, 70, 190, 180)) // a small window: four tiles
	typed := clone(plain)                                   // and a keystroke
	paste(typed, photo, image.Rect(300, 200, 306, 213))
	page := thumb(frame, 200)
	pageScrolled := thumb(scrolled(frame, image.Rect(0, 64, 1920, 1000), 0, -26, [3]byte{255, 255, 255}), 230)
	tests := []struct {
		name        string
		prev, cur   *image.RGBA
		onTheGrid   bool
		wantScrolls bool
	}{
		{"text on a plain desktop", plain, scrolled(plain, image.Rect(40, 80, 900, 500), 0, -13, [3]byte{255, 255, 255}), true, true},
		{"text beside desktop icons", icons, scrolled(icons, image.Rect(40, 80, 900, 500), 0, -13, [3]byte{255, 255, 255}), false, true},
		{"text in a pattern", frame, scrolled(frame, image.Rect(40, 80, 900, 500), 0, -13, [3]byte{255, 255, 255}), false, true},
		{"whole width", frame, scrolled(frame, image.Rect(0, 64, 1920, 1000), 0, 26, [3]byte{255, 255, 255}), true, true},
		{"under a moving scrollbar thumb", page, pageScrolled, true, true},
		{"text beside a photo", noisy, scrolled(noisy, image.Rect(40, 80, 900, 500), 0, -13, [3]byte{255, 255, 255}), false, true},
		{"nothing moved", frame, photo, false, false},
		{"a small window within four tiles", small, scrolled(small, image.Rect(70, 70, 190, 180), 0, -13, [3]byte{255, 255, 255}), true, true},
		{"a keystroke", plain, typed, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt, ct := HashTiles(tt.prev, TileSize, nil), HashTiles(tt.cur, TileSize, nil)
			changed, ok := tileBounds(pt, ct)
			if !ok {
				t.Fatal("no tile changed")
			}
			var d MoveDetector
			want, wantOK := d.Detect(tt.prev, tt.cur, changed)
			m, ok := d.DetectIn(tt.prev, tt.cur, pt, ct, changed)
			if ok != tt.wantScrolls || wantOK != tt.wantScrolls {
				t.Fatalf("DetectIn found %v (%v), Detect %v (%v); want %v", m, ok, want, wantOK, tt.wantScrolls)
			}
			if !ok {
				return
			}
			trueCopy(t, tt.prev, tt.cur, m)
			if m.Src.Sub(m.Dst.Min) != want.Src.Sub(want.Dst.Min) || m.Dst.Dx()*m.Dst.Dy() < want.Dst.Dx()*want.Dst.Dy() {
				t.Fatalf("DetectIn found %v, Detect %v", m, want)
			}
			post := &Tiles{}
			post.CopyFrom(pt)
			if post.ApplyMove(m) != tt.onTheGrid {
				t.Fatalf("move %v on the tile grid: %v, want %v", m, !tt.onTheGrid, tt.onTheGrid)
			}
		})
	}
}

// paste copies src inside r into dst.
func paste(dst, src *image.RGBA, r image.Rectangle) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		copy(dst.Pix[dst.PixOffset(r.Min.X, y):dst.PixOffset(r.Max.X, y)], src.Pix[src.PixOffset(r.Min.X, y):src.PixOffset(r.Max.X, y)])
	}
}

// onDesktop is a plain desktop in one colour with src inside r on it (a
// window).
func onDesktop(src *image.RGBA, r image.Rectangle) *image.RGBA {
	img := image.NewRGBA(src.Rect)
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = 0x3c, 0x6e, 0xb4, 0xff
	}
	paste(img, src, r)
	return img
}

// trueCopy fails unless cur's pixels inside m.Dst are prev's at m.Src.
func trueCopy(t *testing.T, prev, cur *image.RGBA, m Move) {
	t.Helper()
	for y := m.Dst.Min.Y; y < m.Dst.Max.Y; y++ {
		sy := m.Src.Y + y - m.Dst.Min.Y
		a := cur.Pix[cur.PixOffset(m.Dst.Min.X, y):cur.PixOffset(m.Dst.Max.X, y)]
		b := prev.Pix[prev.PixOffset(m.Src.X, sy):prev.PixOffset(m.Src.X+m.Dst.Dx(), sy)]
		if !bytes.Equal(a, b) {
			t.Fatalf("move %v: row %d is not a copy", m, y)
		}
	}
}

// tileBounds is the bounding box of the tiles that differ, as the agent
// hands Detect.
func tileBounds(a, b *Tiles) (image.Rectangle, bool) {
	var r image.Rectangle
	for i := range a.Hash {
		if a.Hash[i] != b.Hash[i] {
			x, y := i%a.Cols*a.Size, i/a.Cols*a.Size
			r = r.Union(image.Rect(x, y, min(x+a.Size, a.W), min(y+a.Size, a.H)).Add(a.origin))
		}
	}
	return r, !r.Empty()
}

func BenchmarkScrollDetect(b *testing.B) {
	// A 100x40 xterm on a plain desktop, as in make bench's workload.
	term := image.Rect(40, 40, 640, 560)
	prev := onDesktop(frame, term)
	cur := scrolled(prev, term, 0, -26, [3]byte{255, 255, 255})
	pt, ct := HashTiles(prev, TileSize, nil), HashTiles(cur, TileSize, nil)
	changed, _ := tileBounds(pt, ct)
	var d MoveDetector
	b.Run("pixels", func(b *testing.B) {
		for b.Loop() {
			if _, ok := d.Detect(prev, cur, changed); !ok {
				b.Fatal("no move")
			}
		}
	})
	b.Run("row hashes", func(b *testing.B) {
		for b.Loop() {
			if _, ok := d.DetectIn(prev, cur, pt, ct, changed); !ok {
				b.Fatal("no move")
			}
		}
	})
}

// BenchmarkNewPictureDetect: a full-screen photo replaces the desktop;
// nothing moved. DetectIn's row-hash search rules out a scroll, so only the
// 2-D search's probes remain.
func BenchmarkNewPictureDetect(b *testing.B) {
	pt, ct := HashTiles(frame, TileSize, nil), HashTiles(photo, TileSize, nil)
	changed, _ := tileBounds(pt, ct)
	var d MoveDetector
	b.Run("pixels", func(b *testing.B) {
		for b.Loop() {
			if _, ok := d.Detect(frame, photo, changed); ok {
				b.Fatal("a move in a new picture")
			}
		}
	})
	b.Run("row hashes", func(b *testing.B) {
		for b.Loop() {
			if _, ok := d.DetectIn(frame, photo, pt, ct, changed); ok {
				b.Fatal("a move in a new picture")
			}
		}
	})
}

// TestRowIndex checks the open-addressing index against a Go map: rows of
// hashes that repeat, that share their low bits (long probe runs), and an
// index reset for more rows than it had room for.
func TestRowIndex(t *testing.T) {
	var idx rowIndex
	for _, n := range []int{5, 600, 40, 3000} {
		idx.reset(n)
		want := map[uint64]int32{}
		for y := range n {
			h := uint64(y%(n/3+1)) << 40 // low bits all zero: every key probes
			if y%7 == 0 {
				h = uint64(y) * 0x9e3779b97f4a7c15
			}
			idx.add(h, int32(y))
			if _, dup := want[h]; dup {
				want[h] = -1
			} else {
				want[h] = int32(y)
			}
		}
		for h, y := range want {
			got, ok := idx.row(h)
			if y < 0 && ok {
				t.Fatalf("n=%d: hash %x seen at several rows, row() says %d", n, h, got)
			}
			if y >= 0 && (!ok || got != y) {
				t.Fatalf("n=%d: hash %x: row %d, %v; want %d", n, h, got, ok, y)
			}
		}
		if _, ok := idx.row(0x123456789); ok {
			t.Fatalf("n=%d: a hash never added was found", n)
		}
	}
}

// TestSegmentsApplyOnTheirGrid: a source's segment hashes stand in for the
// pixels of parts of their own frame whose tile columns are theirs, and
// give the tiles hashing the pixels gives; any other image is hashed from
// its pixels.
func TestSegmentsApplyOnTheirGrid(t *testing.T) {
	img := clone(frame)
	var seg Segments
	seg.reset(img)
	for y := range img.Rect.Dy() {
		seg.hashRow(img, y, 0, img.Rect.Dx())
	}
	narrow := image.NewRGBA(image.Rect(0, 0, 1000, 300))
	paste(narrow, frame, narrow.Rect)
	var nseg Segments
	nseg.reset(narrow)
	for y := range 300 {
		nseg.hashRow(narrow, y, 0, 1000)
	}
	tests := []struct {
		name string
		img  *image.RGBA
		seg  *Segments
		r    image.Rectangle
		size int
		ok   bool
	}{
		{"the whole frame", img, &seg, img.Rect, TileSize, true},
		{"a monitor on the grid", img, &seg, image.Rect(640, 100, 1280, 1000), TileSize, true},
		{"to the frame's right edge", img, &seg, image.Rect(1856, 7, 1920, 1080), TileSize, true},
		{"left side off the grid", img, &seg, image.Rect(100, 0, 1280, 1000), TileSize, false},
		{"right side cuts a segment", img, &seg, image.Rect(640, 0, 1300, 1000), TileSize, false},
		{"other tiles", img, &seg, img.Rect, 32, false},
		{"another frame", clone(frame), &seg, frame.Rect, TileSize, false},
		{"a frame 1000 wide: the last segment is 40 pixels", narrow, &nseg, narrow.Rect, TileSize, true},
		{"its right part", narrow, &nseg, image.Rect(512, 10, 1000, 300), TileSize, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := tt.img.SubImage(tt.r).(*image.RGBA)
			if _, ok := tt.seg.column(sub, tt.size); ok != tt.ok {
				t.Fatalf("column(%v) = %v, want %v", tt.r, ok, tt.ok)
			}
			sameTiles(t, HashTilesFrom(sub, tt.size, nil, tt.r, tt.seg), HashTiles(sub, tt.size, nil))
		})
	}
	// A frame that changed after hashing shows the segments stand in
	// for the pixels: the tiles follow the segments, not the pixels.
	changed := img.SubImage(image.Rect(0, 0, 1920, 1080)).(*image.RGBA)
	img.Pix[img.PixOffset(5, 5)] ^= 0xff
	if fmt.Sprint(HashTilesFrom(changed, TileSize, nil, changed.Rect, &seg).Hash) == fmt.Sprint(HashTiles(changed, TileSize, nil).Hash) {
		t.Fatal("HashTilesFrom read the pixels instead of the segment hashes")
	}
}

// TestChangedBoundsMoved: the pixels that differ between a frame and the
// previous one with a move drawn into it are the same whether the move is
// drawn or only read through (ChangedBounds with the move), for rectangles
// inside the move's destination, across its sides and outside it; the
// previous frame is left as it was.
func TestChangedBoundsMoved(t *testing.T) {
	sub := monitor()
	moves := []moveCase{
		{"a window dragged off the grid", frame, Move{Dst: image.Rect(413, 207, 897, 523), Src: image.Pt(400, 200)}, true},
		{"a scroll up", frame, Move{Dst: image.Rect(40, 67, 900, 487), Src: image.Pt(40, 80)}, true},
		{"a scroll down", frame, Move{Dst: image.Rect(40, 80, 900, 500), Src: image.Pt(40, 67)}, true},
		{"sideways, overlapping", frame, Move{Dst: image.Rect(70, 64, 640, 128), Src: image.Pt(64, 64)}, true},
		{"in a monitor", sub, Move{Dst: image.Rect(133, 61, 611, 407), Src: image.Pt(170, 90)}, true},
		{"source outside the frame", frame, Move{Dst: image.Rect(0, 0, 64, 100), Src: image.Pt(0, 1000)}, false},
	}
	rects := []image.Rectangle{
		image.Rect(0, 0, 1920, 1080),     // everything
		image.Rect(450, 300, 500, 340),   // inside a window's destination
		image.Rect(380, 190, 460, 260),   // across its top left corner
		image.Rect(880, 500, 1000, 600),  // across its bottom right corner
		image.Rect(1200, 800, 1300, 900), // outside
		image.Rect(20, 60, 200, 90),      // across a scroll's left side
	}
	for _, mc := range moves {
		t.Run(mc.name, func(t *testing.T) {
			prev := clone(mc.img)
			drawn := drawnCopy(t, prev, mc)
			// This frame: the drawn one with a few changes, inside the
			// destination, on its sides and outside it.
			cur := clone(drawn)
			for _, p := range []image.Point{{460, 310}, {413, 230}, {896, 522}, {1250, 850}, {100, 70}, {300, 100}} {
				if p.In(cur.Bounds()) {
					cur.Pix[cur.PixOffset(p.X, p.Y)] ^= 0x81
				}
			}
			for _, r := range rects {
				got, gotOK := ChangedBounds(prev, &mc.m, cur, r)
				if !mc.ok {
					if gotOK {
						t.Errorf("%v: a move that cannot be drawn gave %v", r, got)
					}
					continue
				}
				want, wantOK := ChangedBounds(drawn, nil, cur, r)
				if got != want || gotOK != wantOK {
					t.Errorf("%v: read through the move %v, %v; drawn: %v, %v", r, got, gotOK, want, wantOK)
				}
			}
			samePixels(t, "the previous frame", prev, mc.img)
		})
	}
}

// drawnCopy returns a copy of img with mc's move drawn into it when the
// case says it can be (else a plain copy).
func drawnCopy(t *testing.T, img *image.RGBA, mc moveCase) *image.RGBA {
	t.Helper()
	drawn := clone(img)
	if mc.ok {
		if err := protocol.CopyRect(mc.m.Dst, mc.m.Src).Draw(drawn); err != nil {
			t.Fatal(err)
		}
	}
	return drawn
}
