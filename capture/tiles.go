package capture

import (
	"encoding/binary"
	"hash/maphash"
	"image"
	"sync/atomic"

	"assist/internal/seghash"
)

// seed keys every hash of this process. Hashes are compared only within one
// process, never sent or stored.
var seed = maphash.MakeSeed()

// Tiles holds per-tile hashes of one frame, row-major, tiles of Size x Size
// pixels (edge tiles smaller). Its fields are for reading: only its methods
// and HashTilesIn change them.
type Tiles struct {
	W, H, Size, Cols, Rows int
	Hash                   []uint64

	origin image.Point // the frame's Bounds().Min
	// rowHash holds, for each pixel row and tile column, the hash of that
	// row's segment of the column (row-major, 8 bytes each): a tile's hash
	// is the hash of its segments' hashes, a row's hash across columns is
	// the hash of a run of them. Kept between frames, so that scroll
	// detection and a scrolled frame's new hashes need no pixels.
	rowHash []byte
	scratch []byte // per column, the segment hashes of one band of tiles
	// gen stamps each row of tiles (its Hash entries and its pixel rows'
	// segment hashes) with a number drawn from generations whenever they
	// are computed: two Tiles of one geometry whose row has the same stamp
	// hold the same hashes there (one was copied from the other), so
	// CopyFrom copies only the rows that differ. A frame's hashes are 260
	// KB at 1080p, copied twice per update before: more than hashing a
	// keystroke's tiles.
	gen []uint64
}

// generations numbers every computation of a row of tiles, process-wide.
var generations atomic.Uint64

// stamp marks tile rows [first, last) as computed anew.
func (t *Tiles) stamp(first, last int) {
	for row := first; row < last; row++ {
		t.gen[row] = generations.Add(1)
	}
}

// HashTiles hashes img in tiles of size x size pixels (TileSize when size <=
// 0), reusing reuse's memory when it is not nil. Each row of a tile is hashed
// once, in one call, and the tile's hash is the hash of its row hashes: a
// frame is read exactly once. All four bytes of every pixel count.
func HashTiles(img *image.RGBA, size int, reuse *Tiles) *Tiles {
	return HashTilesIn(img, size, reuse, img.Bounds())
}

// HashTilesIn is HashTiles when only the pixels inside changed differ from
// the frame reuse was hashed from: only the tiles that changed touches are
// hashed again (all of them when reuse is nil or of another geometry).
func HashTilesIn(img *image.RGBA, size int, reuse *Tiles, changed image.Rectangle) *Tiles {
	return HashTilesFrom(img, size, reuse, changed, nil)
}

// HashTilesFrom is HashTilesIn taking the segments' hashes from seg (the
// source's, for the frame img is part of: SegmentSource) where img lies on
// seg's grid, instead of reading the pixels again.
func HashTilesFrom(img *image.RGBA, size int, reuse *Tiles, changed image.Rectangle, seg *Segments) *Tiles {
	if size <= 0 {
		size = TileSize
	}
	t := reuse
	if t == nil {
		t = new(Tiles)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	same := reuse != nil && t.W == w && t.H == h && t.Size == size && t.origin == b.Min &&
		len(t.Hash) == t.Cols*t.Rows && len(t.rowHash) == t.Cols*h*8
	t.W, t.H, t.Size, t.origin = w, h, size, b.Min
	t.Cols, t.Rows = (w+size-1)/size, (h+size-1)/size
	t.Hash = grow(t.Hash, t.Cols*t.Rows)
	t.rowHash = grow(t.rowHash, t.Cols*h*8)
	first, last, c0, c1 := 0, t.Rows, 0, t.Cols
	if same && len(t.gen) == t.Rows {
		c := changed.Intersect(b).Sub(b.Min)
		if c.Empty() {
			return t
		}
		first, last = c.Min.Y/size, (c.Max.Y+size-1)/size
		c0, c1 = c.Min.X/size, (c.Max.X+size-1)/size
	}
	t.gen = grow(t.gen, t.Rows)
	t.stamp(first, last)
	// The segment hashes go to rowHash and, per column, to a band of
	// scratch that the tile hashes read in one piece.
	band := size * 8
	t.scratch = grow(t.scratch, t.Cols*band)
	segCol, fromSeg := seg.column(img, size)
	var sums [32]uint64
	for row := first; row < last; row++ {
		y0 := row * size
		y1 := min(y0+size, h)
		for y := y0; y < y1; y++ {
			hashes := t.rowHash[y*t.Cols*8:]
			k := (y - y0) * 8
			if fromSeg {
				src := seg.row(b.Min.Y+y, segCol+c0)[:(c1-c0)*8]
				copy(hashes[c0*8:c1*8], src)
				for c := c0; c < c1; c++ {
					*(*[8]byte)(t.scratch[c*band+k:]) = *(*[8]byte)(src[(c-c0)*8:])
				}
				continue
			}
			line := img.Pix[img.PixOffset(b.Min.X, b.Min.Y+y):][:4*w]
			for c := c0; c < c1; c += len(sums) {
				n := min(c1-c, len(sums))
				hashSegments(line, c, c+n, size, sums[:n])
				for i, v := range sums[:n] {
					binary.LittleEndian.PutUint64(hashes[(c+i)*8:], v)
					binary.LittleEndian.PutUint64(t.scratch[(c+i)*band+k:], v)
				}
			}
		}
		n := (y1 - y0) * 8
		hashes := t.Hash[row*t.Cols : (row+1)*t.Cols]
		for c := c0; c < c1; c++ {
			hashes[c] = maphash.Bytes(seed, t.scratch[c*band:c*band+n])
		}
	}
	return t
}

// segmentHash is the hash of segment c (size pixels wide; the last one
// may be narrower) of line, one row of a frame's pixels. HashTilesIn, the
// source's Segments and ApplyMatched must agree on it exactly.
func segmentHash(line []byte, c, size int) uint64 {
	a := c * size * 4
	return hashSegment(line[a:min(a+size*4, len(line))])
}

// hashSegment is the hash of one segment's pixels (segmentHash).
func hashSegment(b []byte) uint64 {
	if len(b) == seghash.Size && viaSeghash {
		return seghash.Sum((*[seghash.Size]byte)(b))
	}
	return maphash.Bytes(seed, b)
}

// hashSegments puts the hashes of segments [c0, c1) of line (size pixels
// wide) into out[:c1-c0]: what segmentHash gives each, the whole segments
// of TileSize pixels in one call.
func hashSegments(line []byte, c0, c1, size int, out []uint64) {
	c := c0
	if viaSeghash && size == TileSize {
		if end := min(c1, len(line)/seghash.Size); end > c {
			seghash.SumN(line[c*seghash.Size:], out[:end-c])
			c = end
		}
	}
	for ; c < c1; c++ {
		out[c-c0] = segmentHash(line, c, size)
	}
}

// viaSeghash: a whole segment of TileSize pixels is hashed by
// internal/seghash (with AES instructions, 40% of maphash's time; with
// maphash where the processor lacks them), narrower ones with maphash.
// Within one process a segment of a given length always gets the same hash.
const viaSeghash = TileSize*4 == seghash.Size

// rehash computes the hashes of the tiles in rows [first, last) and columns
// [c0, c1) from their segments' hashes.
func (t *Tiles) rehash(first, last, c0, c1 int) {
	t.scratch = grow(t.scratch, t.Size*8)
	t.stamp(first, last)
	for row := first; row < last; row++ {
		y0 := row * t.Size
		y1 := min(y0+t.Size, t.H)
		for c := c0; c < c1; c++ {
			n := 0
			for y := y0; y < y1; y++ {
				k := (y*t.Cols + c) * 8
				n += copy(t.scratch[n:], t.rowHash[k:k+8])
			}
			t.Hash[row*t.Cols+c] = maphash.Bytes(seed, t.scratch[:n])
		}
	}
}

// CopyFrom makes t a copy of src, reusing t's memory. Where the two have
// the same geometry, only the rows of tiles whose stamps differ are copied.
func (t *Tiles) CopyFrom(src *Tiles) {
	if !t.sameRows(src) {
		hash, rows, gen, scratch := t.Hash, t.rowHash, t.gen, t.scratch
		*t = *src
		t.Hash = append(hash[:0], src.Hash...)
		t.rowHash = append(rows[:0], src.rowHash...)
		t.gen = append(gen[:0], src.gen...)
		t.scratch = scratch
		return
	}
	for row, g := range src.gen {
		if t.gen[row] == g {
			continue
		}
		copy(t.Hash[row*t.Cols:(row+1)*t.Cols], src.Hash[row*t.Cols:(row+1)*t.Cols])
		y0, y1 := row*t.Size, min((row+1)*t.Size, t.H)
		copy(t.rowHash[y0*t.Cols*8:y1*t.Cols*8], src.rowHash[y0*t.Cols*8:y1*t.Cols*8])
		t.gen[row] = g
	}
}

// sameRows reports whether t and src have one geometry and a stamp for
// every row of tiles: CopyFrom may then copy rows by their stamps.
func (t *Tiles) sameRows(src *Tiles) bool {
	return t.W == src.W && t.H == src.H && t.Size == src.Size && t.origin == src.origin &&
		t.Cols == src.Cols && t.Rows == src.Rows && t.Rows > 0 &&
		len(t.Hash) == t.Cols*t.Rows && len(src.Hash) == len(t.Hash) &&
		len(t.rowHash) == t.Cols*t.H*8 && len(src.rowHash) == len(t.rowHash) &&
		len(t.gen) == t.Rows && len(src.gen) == t.Rows
}

// rowRun is the hash of row y (frame coordinates) across tile columns
// [c0, c1).
func (t *Tiles) rowRun(y, c0, c1 int) uint64 {
	k := (y - t.origin.Y) * t.Cols * 8
	return maphash.Bytes(seed, t.rowHash[k+c0*8:k+c1*8])
}

// columns returns the tile columns [c0, c1) that r (frame coordinates)
// spans exactly, and whether r's sides lie on the tile grid (its right side
// may be the frame's edge instead).
func (t *Tiles) columns(r image.Rectangle) (c0, c1 int, ok bool) {
	x0, x1 := r.Min.X-t.origin.X, r.Max.X-t.origin.X
	if x0 < 0 || x1 > t.W || x0 >= x1 || x0%t.Size != 0 || x1%t.Size != 0 && x1 != t.W {
		return 0, 0, false
	}
	return x0 / t.Size, (x1 + t.Size - 1) / t.Size, true
}

// ApplyMove updates t, the hashes of a frame, to those of the same frame
// after m was drawn into it (protocol.CopyRect), without reading pixels:
// possible for a vertical move of whole tile columns (DetectIn finds
// those), whose rows carry their segments' hashes along. It reports false,
// leaving t as it was, for any other move: hash the drawn pixels instead.
func (t *Tiles) ApplyMove(m Move) bool {
	c0, c1, ok := t.columns(m.Dst)
	b := image.Rect(0, 0, t.W, t.H).Add(t.origin)
	if !ok || m.Src.X != m.Dst.Min.X || !moveInside(m, b) || len(t.rowHash) != t.Cols*t.H*8 || len(t.gen) != t.Rows {
		return false
	}
	n := (c1 - c0) * 8
	dy := m.Src.Y - m.Dst.Min.Y
	at := func(y int) []byte {
		k := ((y-t.origin.Y)*t.Cols + c0) * 8
		return t.rowHash[k : k+n]
	}
	// Rows move like the pixels: copy in the order that reads each
	// source row before it is overwritten.
	if dy > 0 {
		for y := m.Dst.Min.Y; y < m.Dst.Max.Y; y++ {
			copy(at(y), at(y+dy))
		}
	} else {
		for y := m.Dst.Max.Y - 1; y >= m.Dst.Min.Y; y-- {
			copy(at(y), at(y+dy))
		}
	}
	oy := m.Dst.Min.Y - t.origin.Y
	t.rehash(oy/t.Size, (m.Dst.Max.Y-t.origin.Y+t.Size-1)/t.Size, c0, c1)
	return true
}

// ApplyMatched updates t, the hashes of img, to those of img with m drawn
// into it (protocol.CopyRect), for any move, without drawing it: cur holds
// the hashes of a frame whose pixels inside m.Dst equal the ones m brings
// there (what the detection matched: MoveOf compares them, DetectIn finds
// them by the same hashes). The destination's row segments take cur's
// hashes; only the segments its left or right side cuts are hashed again,
// from img's pixels as m would leave them. A dragged window's hashes so
// cost its two edges, not its area (hashing the drawn rectangle was a
// seventh of the agent's CPU while a window moved). It reports false,
// leaving t as it was, when t, cur and img are not of one geometry or m
// does not lie inside it.
func (t *Tiles) ApplyMatched(m Move, img *image.RGBA, cur *Tiles) bool {
	b := image.Rect(0, 0, t.W, t.H).Add(t.origin)
	if !t.sameRows(cur) || img.Bounds() != b || !moveInside(m, b) {
		return false
	}
	d := m.Dst.Sub(t.origin)
	c0, c1 := d.Min.X/t.Size, (d.Max.X+t.Size-1)/t.Size
	buf := make([]byte, 0, 4*t.Size)
	for y := d.Min.Y; y < d.Max.Y; y++ {
		k := y * t.Cols * 8
		for c := c0; c < c1; c++ {
			x0, x1 := c*t.Size, min((c+1)*t.Size, t.W)
			at := k + c*8
			if x0 >= d.Min.X && x1 <= d.Max.X {
				copy(t.rowHash[at:at+8], cur.rowHash[at:at+8])
				continue
			}
			seg := movedRow(img, &m, b.Min.Y+y, b.Min.X+x0, b.Min.X+x1, buf)
			binary.LittleEndian.PutUint64(t.rowHash[at:], hashSegment(seg))
		}
	}
	t.rehash(d.Min.Y/t.Size, (d.Max.Y+t.Size-1)/t.Size, c0, c1)
	return true
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// Tracker remembers what one receiver already has.
type Tracker struct {
	valid      bool
	w, h, size int
	origin     image.Point
	hash       []uint64
	// lossyAt is, per tile, when the tile last went out lossy (unix
	// nanoseconds), or 0 when the receiver has its exact pixels. See
	// MarkLossy and Refinable.
	lossyAt []int64
	lossyQ  []uint8   // and at which JPEG quality
	lossyB  []float32 // and its share of that JPEG's bytes (< 0: unknown)
}

// NewTracker returns a Tracker for a receiver that has nothing yet.
func NewTracker() *Tracker { return &Tracker{} }

// maxRun is how many changed tiles of one row Diff merges into one
// rectangle: as many as still encode raw (the worst case, w*h*3 bytes) inside
// one screen message. 5 for 64-pixel tiles; 1 (no merging) for tiles too
// large for that.
func maxRun(size int) int {
	return max(1, (maxRectSize-rectHeaderSize)/(3*size*size))
}

// Diff returns the rectangles of the tiles that differ from what the
// tracker last recorded (all of them the first time, after Reset, or after a
// change of size), in frame coordinates, top to bottom and left to right,
// and records cur as what the receiver has. Changed tiles next to each other
// in a row come as one rectangle, at most maxRun tiles wide, so that every
// rectangle still fits one screen message whatever its content. The slice
// is the caller's. cur must come from HashTiles.
func (t *Tracker) Diff(cur *Tiles) []image.Rectangle {
	if cur == nil || cur.Size <= 0 || len(cur.Hash) != cur.Cols*cur.Rows {
		t.Reset() // not from HashTiles: nothing sensible to compare or record
		return nil
	}
	all := !t.valid || t.w != cur.W || t.h != cur.H || t.size != cur.Size || t.origin != cur.origin
	var out []image.Rectangle
	run := maxRun(cur.Size)
	emit := func(row, c0, c1 int) { // tiles c0 .. c1-1 of row
		r := image.Rect(c0*cur.Size, row*cur.Size, min(c1*cur.Size, cur.W), min((row+1)*cur.Size, cur.H))
		out = append(out, r.Add(cur.origin))
	}
	for row := 0; row < cur.Rows; row++ {
		start := -1
		for c := 0; c < cur.Cols; c++ {
			i := row*cur.Cols + c
			if all || t.hash[i] != cur.Hash[i] {
				if !all {
					t.lossyAt[i] = 0 // resent now; MarkLossy says if lossy again
				}
				if start < 0 {
					start = c
				}
				if c+1-start == run {
					emit(row, start, c+1)
					start = -1
				}
				continue
			}
			if start >= 0 {
				emit(row, start, c)
				start = -1
			}
		}
		if start >= 0 {
			emit(row, start, cur.Cols)
		}
	}
	t.valid = true
	t.w, t.h, t.size, t.origin = cur.W, cur.H, cur.Size, cur.origin
	t.hash = append(t.hash[:0], cur.Hash...)
	if all {
		t.lossyAt = append(t.lossyAt[:0], make([]int64, len(cur.Hash))...)
		t.lossyQ = append(t.lossyQ[:0], make([]uint8, len(cur.Hash))...)
		t.lossyB = append(t.lossyB[:0], make([]float32, len(cur.Hash))...)
	}
	return out
}

// Reset forgets what the receiver has: the next Diff reports every tile.
func (t *Tracker) Reset() { t.valid = false }

// Origin is the top-left corner of the frame the tiles were hashed from.
func (t *Tiles) Origin() image.Point { return t.origin }

// Valid reports whether the tracker knows what the receiver has (false at
// first and after Reset: the next Diff reports every tile).
func (t *Tracker) Valid() bool { return t.valid }
