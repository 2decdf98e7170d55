package capture

import (
	"encoding/binary"
	"hash/maphash"
	"image"
)

// seed keys every hash of this process. Hashes are compared only within one
// process, never sent or stored.
var seed = maphash.MakeSeed()

// Tiles holds per-tile hashes of one frame, row-major, tiles of Size x Size
// pixels (edge tiles smaller).
type Tiles struct {
	W, H, Size, Cols, Rows int
	Hash                   []uint64

	origin image.Point // the frame's Bounds().Min
	rows   []byte      // scratch: per column, the hashes of its rows in one band of tiles
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
	if size <= 0 {
		size = TileSize
	}
	t := reuse
	if t == nil {
		t = new(Tiles)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	same := reuse != nil && t.W == w && t.H == h && t.Size == size && t.origin == b.Min && len(t.Hash) == t.Cols*t.Rows
	t.W, t.H, t.Size, t.origin = w, h, size, b.Min
	t.Cols, t.Rows = (w+size-1)/size, (h+size-1)/size
	t.Hash = grow(t.Hash, t.Cols*t.Rows)
	band := size * 8 // bytes of row hashes per column
	t.rows = grow(t.rows, t.Cols*band)
	first, last, c0, c1 := 0, t.Rows, 0, t.Cols
	if same {
		c := changed.Intersect(b).Sub(b.Min)
		if c.Empty() {
			return t
		}
		first, last = c.Min.Y/size, (c.Max.Y+size-1)/size
		c0, c1 = c.Min.X/size, (c.Max.X+size-1)/size
	}
	for row := first; row < last; row++ {
		y0 := b.Min.Y + row*size
		y1 := min(y0+size, b.Max.Y)
		for y := y0; y < y1; y++ {
			line := img.Pix[img.PixOffset(b.Min.X, y):][:4*w]
			k := (y - y0) * 8
			for c := c0; c < c1; c++ {
				x0 := c * size * 4
				seg := line[x0:min(x0+size*4, len(line))]
				binary.LittleEndian.PutUint64(t.rows[c*band+k:], maphash.Bytes(seed, seg))
			}
		}
		n := (y1 - y0) * 8
		hashes := t.Hash[row*t.Cols : (row+1)*t.Cols]
		for c := c0; c < c1; c++ {
			hashes[c] = maphash.Bytes(seed, t.rows[c*band:c*band+n])
		}
	}
	return t
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
