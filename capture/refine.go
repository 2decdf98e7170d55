package capture

import (
	"image"
	"time"
)

// MarkLossy records that the tiles of r (in frame coordinates, as Diff
// returned them) went out to the receiver lossy, at JPEG quality q, in a
// JPEG of size bytes (0: not known, e.g. a cached tile), at time at.
// Refinable later lists them once they have stayed unchanged long enough,
// with what they cost, so that settling them need not encode them again to
// find out.
func (t *Tracker) MarkLossy(r image.Rectangle, q, size int, at time.Time) {
	ns := max(at.UnixNano(), 1)
	share := float32(-1)
	if size > 0 && !r.Empty() {
		share = float32(size) / float32(r.Dx()*r.Dy())
	}
	t.eachTile(r, func(i int, tile image.Rectangle) {
		t.lossyAt[i] = ns
		t.lossyQ[i] = uint8(min(max(q, 1), 100))
		t.lossyB[i] = -1
		if share >= 0 {
			part := tile.Intersect(r)
			t.lossyB[i] = share * float32(part.Dx()*part.Dy())
		}
	})
}

// Refine is a block of tiles due for refinement.
type Refine struct {
	Rect    image.Rectangle
	Quality int // the lowest JPEG quality its tiles went out at
	// Bytes estimates what its tiles cost as they went out (their shares
	// of the JPEGs that carried them); 0 when some tile's cost is unknown.
	Bytes int
}

// Lossy reports whether any tile that r touches went out lossy and has not
// been refined since.
func (t *Tracker) Lossy(r image.Rectangle) bool {
	lossy := false
	t.eachTile(r, func(i int, _ image.Rectangle) { lossy = lossy || t.lossyAt[i] != 0 })
	return lossy
}

// Refinable returns the tiles that went out lossy at least quiet before now
// and have not changed since, as rectangles (runs of up to maxRun tiles in
// a row, like Diff's), and forgets that they are lossy: the caller sends
// them again, better.
func (t *Tracker) Refinable(now time.Time, quiet time.Duration) []Refine {
	if !t.valid {
		return nil
	}
	cutoff := now.Add(-quiet).UnixNano()
	var out []Refine
	q := 100
	var size float32
	cols, rows := (t.w+t.size-1)/t.size, (t.h+t.size-1)/t.size
	run := maxRun(t.size)
	for row := 0; row < rows; row++ {
		start := -1
		flush := func(end int) {
			r := image.Rect(start*t.size, row*t.size, min(end*t.size, t.w), min((row+1)*t.size, t.h))
			out = append(out, Refine{Rect: r.Add(t.origin), Quality: q, Bytes: max(int(size+0.5), 0)})
			start, q, size = -1, 100, 0
		}
		for c := 0; c < cols; c++ {
			i := row*cols + c
			if at := t.lossyAt[i]; at != 0 && at <= cutoff {
				t.lossyAt[i] = 0
				q = min(q, int(t.lossyQ[i]))
				if b := t.lossyB[i]; b < 0 || size < 0 {
					size = -1 // unknown for the whole block
				} else {
					size += b
				}
				if start < 0 {
					start = c
				}
				if c+1-start == run {
					flush(c + 1)
				}
				continue
			}
			if start >= 0 {
				flush(c)
			}
		}
		if start >= 0 {
			flush(cols)
		}
	}
	return out
}

// NextRefinement returns when the earliest lossy tile becomes refinable
// (quiet after it went out), and false when no tile is lossy.
func (t *Tracker) NextRefinement(quiet time.Duration) (time.Time, bool) {
	if !t.valid {
		return time.Time{}, false
	}
	var first int64
	for _, at := range t.lossyAt {
		if at != 0 && (first == 0 || at < first) {
			first = at
		}
	}
	if first == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, first).Add(quiet), true
}

// Holds reports whether the receiver's tiles that r touches hold the content
// whose hashes ref has (lossy or not): then a copy from there is as good as
// the receiver's picture allows.
func (t *Tracker) Holds(ref *Tiles, r image.Rectangle) bool {
	if !t.valid || ref == nil || t.w != ref.W || t.h != ref.H || t.size != ref.Size || t.origin != ref.origin {
		return false
	}
	ok := true
	t.eachTile(r, func(i int, _ image.Rectangle) { ok = ok && t.hash[i] == ref.Hash[i] })
	return ok
}

// ApplyCopy records that the receiver applied m to its picture: the tiles
// that m.Dst touches now hold what post (the hashes of the content after the
// copy) says, lossy wherever lossy pixels were copied in. The caller checked
// Holds for m's source and destination first.
func (t *Tracker) ApplyCopy(post *Tiles, m Move) {
	if !t.valid || post == nil || len(post.Hash) != len(t.hash) {
		t.Reset()
		return
	}
	off := m.Src.Sub(m.Dst.Min)
	type upd struct {
		i  int
		at int64
		q  uint8
	}
	var ups []upd
	t.eachTile(m.Dst, func(i int, tile image.Rectangle) {
		part := tile.Intersect(m.Dst)
		u := upd{i: i, q: 100}
		if part != tile && t.lossyAt[i] != 0 { // its uncovered part stays as it was
			u.at, u.q = t.lossyAt[i], t.lossyQ[i]
		}
		t.eachTile(part.Add(off), func(j int, _ image.Rectangle) {
			if t.lossyAt[j] != 0 {
				u.at, u.q = max(u.at, t.lossyAt[j]), min(u.q, t.lossyQ[j])
			}
		})
		ups = append(ups, u)
	})
	for _, u := range ups { // after reading every source: they may overlap
		t.hash[u.i] = post.Hash[u.i]
		t.lossyAt[u.i], t.lossyQ[u.i], t.lossyB[u.i] = u.at, u.q, -1 // cost unknown: pieces of several JPEGs
	}
}

// eachTile calls f with the index and frame rectangle of every tile that r
// touches.
func (t *Tracker) eachTile(r image.Rectangle, f func(i int, tile image.Rectangle)) {
	if !t.valid {
		return
	}
	r = r.Sub(t.origin).Intersect(image.Rect(0, 0, t.w, t.h))
	if r.Empty() {
		return
	}
	cols := (t.w + t.size - 1) / t.size
	for row := r.Min.Y / t.size; row <= (r.Max.Y-1)/t.size; row++ {
		for c := r.Min.X / t.size; c <= (r.Max.X-1)/t.size; c++ {
			tile := image.Rect(c*t.size, row*t.size, min((c+1)*t.size, t.w), min((row+1)*t.size, t.h))
			f(row*cols+c, tile.Add(t.origin))
		}
	}
}

// Synced reports, per tile, whether the receiver holds exactly (not lossy)
// the content ref's hash says: there a change can go out as just its
// changed pixels. Call it before Diff.
func (t *Tracker) Synced(ref *Tiles, dst []bool) []bool {
	dst = dst[:0]
	if !t.valid || ref == nil || t.w != ref.W || t.h != ref.H || t.size != ref.Size || len(ref.Hash) != len(t.hash) {
		return dst
	}
	for i, h := range t.hash {
		dst = append(dst, h == ref.Hash[i] && t.lossyAt[i] == 0)
	}
	return dst
}

// TileIndexes calls f with the index of every tile of tiles that r touches.
func (t *Tiles) TileIndexes(r image.Rectangle, f func(i int)) {
	r = r.Sub(t.origin).Intersect(image.Rect(0, 0, t.W, t.H))
	if r.Empty() {
		return
	}
	for row := r.Min.Y / t.Size; row <= (r.Max.Y-1)/t.Size; row++ {
		for c := r.Min.X / t.Size; c <= (r.Max.X-1)/t.Size; c++ {
			f(row*t.Cols + c)
		}
	}
}
