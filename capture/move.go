package capture

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"image"
)

// Move is content that moved on screen between two frames: the pixels now
// inside Dst were at Src (Dst's top-left corner) in the earlier frame. Both
// are in frame coordinates.
type Move struct {
	Dst image.Rectangle
	Src image.Point
}

// Detection limits. A move smaller than minMoveArea pixels is not worth a
// copy; the 2-D search (window moves) runs only on changed areas up to
// maxSearchArea pixels, with up to maxAnchors probes.
const (
	minMoveArea   = 64 * 48
	minMoveRows   = 8
	maxSearchArea = 1 << 20
	maxAnchors    = 8
	anchorLen     = 32          // pixels
	smallChange   = 4 * 64 * 64 // pixels: DetectIn compares a change this small before searching
	maxMatches    = 64          // per anchor
)

// MoveDetector finds scrolled or moved content between two frames. It keeps
// scratch memory between calls; not safe for concurrent use.
type MoveDetector struct {
	prevRows, curRows []uint64
	seen              rowIndex // prev row hash -> row, or -1 when it repeats
	shifts            []int32  // votes per vertical shift, dy + rows - 1
	votes             map[image.Point]int
	bestVotes         int // rows that agreed on the last vertical search's best shift
}

// rowIndex maps row hashes to the row they were seen at (-1: at more than
// one). Open addressing on the hashes themselves, which are uniform
// already, with stamps instead of clearing: a search over a terminal's
// rows spent most of its time in a Go map.
type rowIndex struct {
	keys  []uint64
	rows  []int32
	stamp []uint32
	gen   uint32
	mask  uint64
}

// reset empties the index for up to n rows.
func (t *rowIndex) reset(n int) {
	size := 16
	for size < 2*n {
		size <<= 1
	}
	if len(t.keys) < size {
		t.keys, t.rows, t.stamp, t.gen = make([]uint64, size), make([]int32, size), make([]uint32, size), 0
	}
	t.mask = uint64(len(t.keys) - 1)
	if t.gen++; t.gen == 0 {
		clear(t.stamp)
		t.gen = 1
	}
}

// slot is where h is, or would go.
func (t *rowIndex) slot(h uint64) (int, bool) {
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		if t.stamp[i] != t.gen {
			return int(i), false
		}
		if t.keys[i] == h {
			return int(i), true
		}
	}
}

// add records that row y has hash h (a hash seen before says nothing).
func (t *rowIndex) add(h uint64, y int32) {
	i, found := t.slot(h)
	if found {
		t.rows[i] = -1
		return
	}
	t.keys[i], t.rows[i], t.stamp[i] = h, y, t.gen
}

// row is the one row with hash h, if there is exactly one.
func (t *rowIndex) row(h uint64) (int32, bool) {
	i, found := t.slot(h)
	if !found || t.rows[i] < 0 {
		return 0, false
	}
	return t.rows[i], true
}

// Detect looks for the largest block of changed (the bounding box of the
// changed area) whose pixels in cur appear in prev at another place: first
// vertically (scrolling), then, for areas up to about a megapixel, anywhere
// (a window moving). prev and cur must have the same bounds. A found move's
// destination lies inside changed and matches prev's source exactly.
func (d *MoveDetector) Detect(prev, cur *image.RGBA, changed image.Rectangle) (Move, bool) {
	return d.detect(prev, cur, changed, rowSearch{})
}

// rowSearch is what a vertical search over tile row hashes (tileScroll)
// learnt about whole tile columns.
type rowSearch struct {
	area  image.Rectangle // the rows and columns searched; empty: no search
	agree bool            // at least two rows agreed on one shift
	move  Move            // the longest run of rows under that shift
	ok    bool            // move is long enough to be worth a copy
	whole bool            // and as long as the area allows: a whole scroll
}

// detect is Detect, told what a search over row hashes found. Over the
// columns of the exact change the pixel search would come to the same
// shift (rows outside the exact change did not change, so they cast no
// vote) and a run no longer than the one the hashes found over more rows:
// then it is not run again.
func (d *MoveDetector) detect(prev, cur *image.RGBA, changed image.Rectangle, rs rowSearch) (Move, bool) {
	b := cur.Bounds()
	if prev.Bounds() != b {
		return Move{}, false
	}
	c, ok := exactChange(prev, cur, changed.Intersect(b))
	if !ok || c.Dx()*c.Dy() < minMoveArea {
		return Move{}, false
	}
	return d.search(prev, cur, c, rs)
}

// search is detect given c, the exact change (at least minMoveArea).
func (d *MoveDetector) search(prev, cur *image.RGBA, c image.Rectangle, rs rowSearch) (Move, bool) {
	sameColumns := !rs.area.Empty() && c.Min.X == rs.area.Min.X && c.Max.X == rs.area.Max.X
	switch {
	case sameColumns && rs.ok:
		return rs.move, true
	case sameColumns && !rs.agree:
		// A new picture (a photo opened, a page loaded): nothing scrolled.
	default:
		if m, ok := d.vertical(prev, cur, c); ok {
			return m, true
		}
	}
	if c.Dx()*c.Dy() <= maxSearchArea {
		return d.anywhere(prev, cur, c)
	}
	return Move{}, false
}

// DetectIn is Detect given the tile hashes of both frames (HashTiles or
// HashTilesIn, kept up to date): it first looks for a vertical scroll of
// changed's whole tile columns in the tiles' row hashes, which reads no
// pixels, and searches the pixels only where that cannot answer. A move
// found in the row hashes spans whole tile columns, so Tiles.ApplyMove can
// update hashes for it.
func (d *MoveDetector) DetectIn(prev, cur *image.RGBA, pt, ct *Tiles, changed image.Rectangle) (Move, bool) {
	// A few tiles (a keystroke, a blinking cursor): comparing their pixels
	// costs less than searching their row hashes, and finds a change too
	// small to be worth a copy.
	var exact image.Rectangle // the exact change, once compared
	if changed.Dx()*changed.Dy() <= smallChange && prev.Bounds() == cur.Bounds() {
		c, ok := exactChange(prev, cur, changed.Intersect(cur.Bounds()))
		if !ok || c.Dx()*c.Dy() < minMoveArea {
			return Move{}, false
		}
		exact = c
	}
	rs := d.tileScroll(pt, ct, changed)
	if rs.whole {
		return rs.move, true
	}
	if !exact.Empty() {
		return d.search(prev, cur, exact, rs)
	}
	return d.detect(prev, cur, changed, rs)
}

// tileScroll is the vertical search over whole tile columns, from row
// hashes.
func (d *MoveDetector) tileScroll(pt, ct *Tiles, changed image.Rectangle) rowSearch {
	if pt == nil || ct == nil || pt.W != ct.W || pt.H != ct.H || pt.Size != ct.Size || pt.origin != ct.origin ||
		len(pt.rowHash) != pt.Cols*pt.H*8 || len(ct.rowHash) != len(pt.rowHash) {
		return rowSearch{}
	}
	b := image.Rect(0, 0, ct.W, ct.H).Add(ct.origin)
	c := changed.Intersect(b)
	if c.Empty() {
		return rowSearch{}
	}
	// Widen to whole tile columns (changed is usually on the grid already).
	c0 := (c.Min.X - ct.origin.X) / ct.Size
	c1 := (c.Max.X - ct.origin.X + ct.Size - 1) / ct.Size
	c.Min.X, c.Max.X = ct.origin.X+c0*ct.Size, min(ct.origin.X+c1*ct.Size, b.Max.X)
	if c.Dx()*c.Dy() < minMoveArea {
		return rowSearch{}
	}
	m, ok := d.rowsMoved(c,
		func(y int) uint64 { return pt.rowRun(y, c0, c1) },
		func(y int) uint64 { return ct.rowRun(y, c0, c1) })
	rs := rowSearch{area: c, agree: d.bestVotes >= 2, move: m, ok: ok}
	// changed is on the tile grid, up to a tile taller than the change
	// above and below, and a scroll exposes dy rows. A run shorter than
	// that was cut by something: content that stays put beside the scroll
	// inside its tile columns (icons left of a window: the pixel search
	// over the exact columns finds all of the scroll) or a change inside
	// it (a scrollbar's thumb, a cursor line: it finds the same run).
	rs.whole = ok && m.Dst.Dy() >= c.Dy()-2*ct.Size-abs(m.Src.Y-m.Dst.Min.Y)
	return rs
}

// ChangedBounds shrinks r to the pixels that differ between b and a, with
// m drawn into a when m is not nil (protocol.CopyRect; a is read as it is:
// the frame a move was found against need not be copied to draw the
// move). It reports false when none differ, or when m does not lie inside
// a.
func ChangedBounds(a *image.RGBA, m *Move, b *image.RGBA, r image.Rectangle) (image.Rectangle, bool) {
	if m != nil && !moveInside(*m, a.Bounds()) {
		return image.Rectangle{}, false
	}
	return exactChangeIn(a, m, b, r.Intersect(a.Bounds()).Intersect(b.Bounds()))
}

// moveInside reports whether m's destination and source both lie inside b
// (what drawing it into a frame of bounds b needs).
func moveInside(m Move, b image.Rectangle) bool {
	src := image.Rectangle{Min: m.Src, Max: m.Src.Add(m.Dst.Size())}
	return !m.Dst.Empty() && m.Dst.In(b) && src.In(b)
}

// movedRow returns pixels [x0, x1) of row y of img with m drawn into it
// (protocol.CopyRect: the destination takes what was at the source, as if
// through a temporary), reading img as it is: a slice of img where one
// piece of it holds them, else the pieces put together in buf. m lies
// inside img (moveInside).
func movedRow(img *image.RGBA, m *Move, y, x0, x1 int, buf []byte) []byte {
	d := m.Dst
	if y < d.Min.Y || y >= d.Max.Y || x1 <= d.Min.X || x0 >= d.Max.X {
		return img.Pix[img.PixOffset(x0, y):img.PixOffset(x1, y)]
	}
	dx, dy := m.Src.X-d.Min.X, m.Src.Y-d.Min.Y
	if x0 >= d.Min.X && x1 <= d.Max.X {
		return img.Pix[img.PixOffset(x0+dx, y+dy):img.PixOffset(x1+dx, y+dy)]
	}
	a, b := max(x0, d.Min.X), min(x1, d.Max.X)
	buf = append(buf[:0], img.Pix[img.PixOffset(x0, y):img.PixOffset(a, y)]...)
	buf = append(buf, img.Pix[img.PixOffset(a+dx, y+dy):img.PixOffset(b+dx, y+dy)]...)
	return append(buf, img.Pix[img.PixOffset(b, y):img.PixOffset(x1, y)]...)
}

// exactChange shrinks r to the pixels that differ between a and b.
func exactChange(a, b *image.RGBA, r image.Rectangle) (image.Rectangle, bool) {
	return exactChangeIn(a, nil, b, r)
}

// exactChangeIn is exactChange with a read as if m (when not nil) were
// drawn into it.
func exactChangeIn(a *image.RGBA, m *Move, b *image.RGBA, r image.Rectangle) (image.Rectangle, bool) {
	x0, x1, y0, y1 := r.Max.X, r.Min.X, -1, -1
	var buf []byte // a row put together (movedRow)
	if m != nil && !r.Empty() {
		buf = make([]byte, 0, 4*r.Dx())
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		var ra []byte
		if m != nil {
			ra = movedRow(a, m, y, r.Min.X, r.Max.X, buf)
		} else {
			ra = a.Pix[a.PixOffset(r.Min.X, y):a.PixOffset(r.Max.X, y)]
		}
		rb := b.Pix[b.PixOffset(r.Min.X, y):b.PixOffset(r.Max.X, y)]
		i := firstDiff(ra, rb)
		if i == len(ra) {
			continue
		}
		if y0 < 0 {
			y0 = y
		}
		y1 = y + 1
		j := len(ra) - equalSuffix(ra, rb)
		x0 = min(x0, r.Min.X+i/4)
		x1 = max(x1, r.Min.X+(j+3)/4)
	}
	if y0 < 0 {
		return image.Rectangle{}, false
	}
	return image.Rect(x0, y0, x1, y1), true
}

func rowHash(img *image.RGBA, x0, x1, y int) uint64 {
	return maphash.Bytes(seed, img.Pix[img.PixOffset(x0, y):img.PixOffset(x1, y)])
}

// vertical finds rows of c's columns that moved up or down.
func (d *MoveDetector) vertical(prev, cur *image.RGBA, c image.Rectangle) (Move, bool) {
	return d.rowsMoved(c,
		func(y int) uint64 { return rowHash(prev, c.Min.X, c.Max.X, y) },
		func(y int) uint64 { return rowHash(cur, c.Min.X, c.Max.X, y) })
}

// rowsMoved finds the rows of c that moved up or down, given the hashes of
// each row of c in the previous and the current frame.
func (d *MoveDetector) rowsMoved(c image.Rectangle, prevRow, curRow func(y int) uint64) (Move, bool) {
	rows := c.Dy()
	d.prevRows = grow(d.prevRows, rows)
	d.curRows = grow(d.curRows, rows)
	d.shifts = grow(d.shifts, 2*rows)
	clear(d.shifts)
	d.seen.reset(rows)
	// Scrolled content comes from inside the changed area (it all moved).
	for y := c.Min.Y; y < c.Max.Y; y++ {
		h := prevRow(y)
		d.prevRows[y-c.Min.Y] = h
		d.seen.add(h, int32(y)) // blank lines and the like say nothing
	}
	for y := c.Min.Y; y < c.Max.Y; y++ {
		h := curRow(y)
		d.curRows[y-c.Min.Y] = h
		if py, ok := d.seen.row(h); ok && int(py) != y {
			d.shifts[int(py)-y+rows-1]++
		}
	}
	// The shift most rows agree on; of equals, the smallest.
	best, n := 0, 0
	for k, v := range d.shifts {
		dy := k - rows + 1
		if int(v) > n || int(v) == n && abs(dy) < abs(best) {
			best, n = dy, int(v)
		}
	}
	d.bestVotes = n
	if n < 2 {
		return Move{}, false
	}
	// The longest run of rows of c that match prev shifted by best.
	dy := best
	runStart, bestStart, bestLen := -1, 0, 0
	for y := c.Min.Y; y <= c.Max.Y; y++ {
		ok := y < c.Max.Y && y+dy >= c.Min.Y && y+dy < c.Max.Y &&
			d.curRows[y-c.Min.Y] == d.prevRows[y+dy-c.Min.Y]
		if ok && runStart < 0 {
			runStart = y
		}
		if !ok && runStart >= 0 {
			if y-runStart > bestLen {
				bestStart, bestLen = runStart, y-runStart
			}
			runStart = -1
		}
	}
	if bestLen < minMoveRows || bestLen*c.Dx() < minMoveArea {
		return Move{}, false
	}
	dst := image.Rect(c.Min.X, bestStart, c.Max.X, bestStart+bestLen)
	return Move{Dst: dst, Src: image.Pt(c.Min.X, bestStart+dy)}, true
}

// anywhere finds a block of c that moved in both directions: it takes a few
// distinctive 16-pixel segments of cur, looks them up in prev within c,
// takes the offset most of them agree on, and grows the matching block
// around the first segment that agreed.
func (d *MoveDetector) anywhere(prev, cur *image.RGBA, c image.Rectangle) (Move, bool) {
	if c.Dx() < 2*anchorLen {
		return Move{}, false
	}
	anchors := findAnchors(cur, c)
	if len(anchors) < 2 {
		return Move{}, false
	}
	if d.votes == nil {
		d.votes = map[image.Point]int{}
	}
	clear(d.votes)
	first := map[image.Point]image.Point{}
	for _, a := range anchors {
		seg := cur.Pix[cur.PixOffset(a.X, a.Y):][:4*anchorLen]
		head := binary.LittleEndian.Uint64(seg)
		var found []image.Point
		for y := c.Min.Y; y < c.Max.Y && len(found) <= maxMatches; y++ {
			row := prev.Pix[prev.PixOffset(c.Min.X, y):prev.PixOffset(c.Max.X, y)]
			for i := 0; i+4*anchorLen <= len(row); i += 4 {
				if binary.LittleEndian.Uint64(row[i:]) == head && bytes.Equal(row[i:i+4*anchorLen], seg) {
					found = append(found, image.Pt(c.Min.X+i/4, y))
				}
			}
		}
		if len(found) == 0 || len(found) > maxMatches {
			continue // gone, or too common to say anything
		}
		for _, p := range found {
			off := p.Sub(a)
			if off == (image.Point{}) {
				continue
			}
			d.votes[off]++
			if _, ok := first[off]; !ok {
				first[off] = a
			}
		}
	}
	best, n, second := image.Point{}, 0, 0
	for off, v := range d.votes {
		if v > n {
			best, n, second = off, v, n
		} else if v > second {
			second = v
		}
	}
	if n < 3 || n == second { // repeated text can agree by chance; not this often
		return Move{}, false
	}
	return growMove(prev, cur, first[best], best, c)
}

// findAnchors picks up to maxAnchors segments of anchorLen pixels inside c
// with at least three colours, spread over c's rows, each as near the middle
// of its row as possible (edges are where moved and uncovered pixels meet).
func findAnchors(img *image.RGBA, c image.Rectangle) []image.Point {
	var out []image.Point
	step := max(1, c.Dy()/(maxAnchors*2))
	mid := c.Min.X + (c.Dx()-anchorLen)/2
	for y := c.Min.Y + step/2; y < c.Max.Y && len(out) < maxAnchors; y += step {
		for k := 0; ; k++ {
			x := mid + (k+1)/2*anchorLen*(1-2*(k&1)) // mid, mid+16, mid-16, mid+32...
			if x < c.Min.X || x+anchorLen > c.Max.X {
				break
			}
			seg := img.Pix[img.PixOffset(x, y):][:4*anchorLen]
			if colours(seg) >= 3 {
				out = append(out, image.Pt(x, y))
				break
			}
		}
	}
	return out
}

func colours(seg []byte) int {
	var seen [3]uint32
	n := 0
	for i := 0; i < len(seg) && n < 3; i += 4 {
		v := binary.LittleEndian.Uint32(seg[i:])
		if n > 0 && seen[0] == v || n > 1 && seen[1] == v {
			continue
		}
		seen[n] = v
		n++
	}
	return n
}

// growMove grows the block around anchor a whose pixels in cur equal prev's
// at offset off: the anchor's columns up and down as far as they match,
// then columns left and right while the whole column matches, all inside
// within.
func growMove(prev, cur *image.RGBA, a, off image.Point, within image.Rectangle) (Move, bool) {
	lim, y0, y1, ok := anchorRows(prev, cur, a, off, within)
	if !ok {
		return Move{}, false
	}
	// Then left and right while whole columns match: row by row (memory
	// order, not a column at a time down the rows), each row narrowing how
	// far the block can reach.
	x0, x1 := a.X, a.X+anchorLen
	left, right := lim.Min.X, lim.Max.X
	for y := y0; y < y1 && (left < x0 || right > x1); y++ {
		cr, pr := cur.PixOffset(0, y), prev.PixOffset(off.X, y+off.Y)
		if right > x1 {
			n := firstDiff(cur.Pix[cr+4*x1:cr+4*right], prev.Pix[pr+4*x1:pr+4*right])
			right = x1 + n/4
		}
		if left < x0 {
			n := equalSuffix(cur.Pix[cr+4*left:cr+4*x0], prev.Pix[pr+4*left:pr+4*x0])
			left = x0 - n/4
		}
	}
	return blockMove(image.Rect(left, y0, right, y1), off)
}

// anchorRows is the first step of growMove: the rows above and below
// anchor a whose anchor segment in cur equals prev's at offset off, inside
// lim (what growMove may cover: within, with the source inside the frame
// too; equal pixels beyond within, a plain desktop, are not worth
// comparing). ok is false when the anchor does not match or the rows are
// too few for a move.
func anchorRows(prev, cur *image.RGBA, a, off image.Point, within image.Rectangle) (lim image.Rectangle, y0, y1 int, ok bool) {
	b := cur.Bounds()
	lim = b.Intersect(b.Sub(off)).Intersect(within)
	x0, x1 := a.X, a.X+anchorLen
	seg := func(y int) bool {
		return bytes.Equal(cur.Pix[cur.PixOffset(x0, y):cur.PixOffset(x1, y)],
			prev.Pix[prev.PixOffset(x0+off.X, y+off.Y):prev.PixOffset(x1+off.X, y+off.Y)])
	}
	if !image.Rect(x0, a.Y, x1, a.Y+1).In(lim) || !seg(a.Y) {
		return lim, 0, 0, false
	}
	y0, y1 = a.Y, a.Y+1
	for y0 > lim.Min.Y && seg(y0-1) {
		y0--
	}
	for y1 < lim.Max.Y && seg(y1) {
		y1++
	}
	return lim, y0, y1, y1-y0 >= minMoveRows
}

// blockMove is the move of dst from dst+off, if it is worth a copy.
func blockMove(dst image.Rectangle, off image.Point) (Move, bool) {
	if dst.Dy() < minMoveRows || dst.Dx()*dst.Dy() < minMoveArea {
		return Move{}, false
	}
	return Move{Dst: dst, Src: dst.Min.Add(off)}, true
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// MoveOf checks a move that something else suggests (a window that moved
// by off's opposite: its pixels now at dst were at dst+off): it returns the
// largest block around the middle of dst whose pixels in cur equal prev's
// at off, if it is worth a copy.
func MoveOf(prev, cur *image.RGBA, dst image.Rectangle, off image.Point) (Move, bool) {
	b := cur.Bounds()
	if prev.Bounds() != b || off == (image.Point{}) {
		return Move{}, false
	}
	dst = dst.Intersect(b).Intersect(b.Sub(off))
	if dst.Dx() < anchorLen || dst.Dy() < minMoveRows {
		return Move{}, false
	}
	mid := dst.Min.Y + dst.Dy()/2
	tries := 0
	for k := 0; k < 8 && tries < 16; k++ { // a few rows from the middle out
		y := mid + (k+1)/2*(dst.Dy()/9)*(1-2*(k&1))
		if y < dst.Min.Y || y >= dst.Max.Y {
			continue
		}
		for x := dst.Min.X; x+anchorLen <= dst.Max.X && tries < 16; x += anchorLen {
			a := image.Pt(x, y)
			if !bytes.Equal(cur.Pix[cur.PixOffset(x, y):][:4*anchorLen], prev.Pix[prev.PixOffset(x+off.X, y+off.Y):][:4*anchorLen]) {
				continue
			}
			tries++
			if m, ok := growMove(prev, cur, a, off, dst); ok {
				return m, true
			}
		}
	}
	return Move{}, false
}
