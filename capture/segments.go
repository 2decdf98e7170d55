package capture

import (
	"encoding/binary"
	"image"
)

// Segments holds the hashes of a whole frame's row segments, as the source
// that filled the frame computed them while writing it: for every pixel
// row, one per TileSize-wide column from x = 0 (the last one narrower when
// the width is not a multiple), each exactly the hash HashTilesIn computes
// for that segment. Hashing a row just converted, while it is in the
// nearest cache, costs a fraction of a second pass over the frame: a
// scrolled terminal's 1.4 MB took the tiles 240 us to hash after the
// conversion had gone through all of it, 150 us when it was still warm.
type Segments struct {
	w, h, cols int
	pix        []byte // the frame's pixels
	hash       []byte // row-major, 8 bytes each (little-endian, as Tiles keeps them): y*cols + column
}

// SegmentSource is a Source that hashes the segments of what it captures.
type SegmentSource interface {
	// Segments returns the hashes of the frame the last Capture returned,
	// valid until the next Capture; nil when there are none.
	Segments() *Segments
}

// reset sizes s for frame (a whole frame at (0, 0)); every hash is then
// unknown until its row is hashed.
func (s *Segments) reset(frame *image.RGBA) {
	w, h := frame.Rect.Dx(), frame.Rect.Dy()
	s.w, s.h, s.cols, s.pix = w, h, (w+TileSize-1)/TileSize, frame.Pix
	s.hash = grow(s.hash, s.cols*h*8)
}

// hashRow hashes the segments of row y of frame (a whole frame, s's size)
// that columns [x0, x1) touch.
func (s *Segments) hashRow(frame *image.RGBA, y, x0, x1 int) {
	line := frame.Pix[frame.PixOffset(0, y):][:4*s.w]
	row := s.hash[y*s.cols*8 : (y+1)*s.cols*8]
	var sums [32]uint64 // on the stack: convert hashes rows on two goroutines
	for c, end := x0/TileSize, min((x1+TileSize-1)/TileSize, s.cols); c < end; c += len(sums) {
		n := min(end-c, len(sums))
		hashSegments(line, c, c+n, TileSize, sums[:n])
		for i, v := range sums[:n] {
			binary.LittleEndian.PutUint64(row[(c+i)*8:], v)
		}
	}
}

// column returns the frame's segment column of img's first tile column
// when img (hashed in tiles of size) is a part of the frame s describes,
// sharing its pixels, on the frame's grid; false otherwise: another frame,
// another tile size, a left side off the grid, or a right side that cuts a
// segment short.
func (s *Segments) column(img *image.RGBA, size int) (int, bool) {
	b := img.Bounds()
	if s == nil || size != TileSize || s.h == 0 || len(s.hash) != s.cols*s.h*8 || img.Stride != 4*s.w ||
		b.Empty() || !b.In(image.Rect(0, 0, s.w, s.h)) || b.Min.X%size != 0 || b.Max.X%size != 0 && b.Max.X != s.w {
		return 0, false
	}
	if off := b.Min.Y*img.Stride + 4*b.Min.X; len(img.Pix) == 0 || off >= len(s.pix) || &img.Pix[0] != &s.pix[off] {
		return 0, false
	}
	return b.Min.X / size, true
}

// row returns the hashes of row y's segments from column c on, 8 bytes
// each.
func (s *Segments) row(y, c int) []byte { return s.hash[(y*s.cols+c)*8 : (y+1)*s.cols*8] }
