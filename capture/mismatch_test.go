package capture

import (
	"bytes"
	"image"
	"testing"
)

func naiveFirstDiff(a, b []byte) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

func naiveEqualSuffix(a, b []byte) int {
	k := 0
	for k < len(a) && k < len(b) && a[len(a)-1-k] == b[len(b)-1-k] {
		k++
	}
	return k
}

func TestMismatch(t *testing.T) {
	row := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + 3)
		}
		return b
	}
	flip := func(b []byte, at ...int) []byte {
		c := bytes.Clone(b)
		for _, i := range at {
			c[i] ^= 0x10
		}
		return c
	}
	r := row(300)
	tests := []struct {
		name       string
		a, b       []byte
		first, suf int
	}{
		{"equal", r, bytes.Clone(r), 300, 300},
		{"empty", nil, nil, 0, 0},
		{"first byte", r, flip(r, 0), 0, 299},
		{"last byte", r, flip(r, 299), 299, 0},
		{"inside the first 64", r, flip(r, 37), 37, 262},
		{"past 64, inside a word", r, flip(r, 133), 133, 166},
		{"two differences", r, flip(r, 70, 201), 70, 98},
		{"in the tail after the words", r[:13], flip(r[:13], 11), 11, 1},
		{"one a prefix of the other", r[:100], r, 100, 0},
		{"lengths differ, ends equal", r[50:], r[20:], 0, 250},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := firstDiff(tc.a, tc.b); got != tc.first {
				t.Errorf("firstDiff = %d, want %d", got, tc.first)
			}
			if got := equalSuffix(tc.a, tc.b); got != tc.suf {
				t.Errorf("equalSuffix = %d, want %d", got, tc.suf)
			}
		})
	}
}

func FuzzMismatch(f *testing.F) {
	f.Add([]byte("abcdefgh"), []byte("abcdefgX"))
	f.Add(bytes.Repeat([]byte{1}, 200), append(bytes.Repeat([]byte{1}, 150), 2))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if got, want := firstDiff(a, b), naiveFirstDiff(a, b); got != want {
			t.Fatalf("firstDiff = %d, want %d", got, want)
		}
		if got, want := equalSuffix(a, b), naiveEqualSuffix(a, b); got != want {
			t.Fatalf("equalSuffix = %d, want %d", got, want)
		}
	})
}

// columnGrowMove is growMove's sideways step as it was first written, a
// column at a time: the reference the row-wise version must agree with.
func columnGrowMove(prev, cur *image.RGBA, a, off image.Point, within image.Rectangle) (Move, bool) {
	lim, y0, y1, ok := anchorRows(prev, cur, a, off, within)
	if !ok {
		return Move{}, false
	}
	x0, x1 := a.X, a.X+anchorLen
	col := func(x int) bool {
		for y := y0; y < y1; y++ {
			if !bytes.Equal(cur.Pix[cur.PixOffset(x, y):][:4], prev.Pix[prev.PixOffset(x+off.X, y+off.Y):][:4]) {
				return false
			}
		}
		return true
	}
	for x0 > lim.Min.X && col(x0-1) {
		x0--
	}
	for x1 < lim.Max.X && col(x1) {
		x1++
	}
	return blockMove(image.Rect(x0, y0, x1, y1), off)
}

// TestGrowMoveAgreesWithColumns: windows moved over the test frame and the
// photo, in whole frames and in a monitor's sub-image (an origin that is
// not 0,0), grow to the same block as the column-at-a-time reference.
func TestGrowMoveAgreesWithColumns(t *testing.T) {
	wins := []image.Rectangle{
		image.Rect(300, 200, 700, 500), image.Rect(0, 0, 400, 300), image.Rect(1500, 700, 1920, 1080),
		image.Rect(900, 100, 933, 900), // narrow
	}
	offs := []image.Point{{37, 21}, {-50, 0}, {0, -13}, {-1, -1}, {120, 64}}
	n := 0
	for _, base := range []*image.RGBA{frame, photo} {
		for _, w := range wins {
			for _, off := range offs {
				cur := scrolled(base, w, off.X, off.Y, [3]byte{0, 0, 0})
				prev := base
				dst := w.Add(off).Intersect(base.Bounds())
				for _, sub := range []image.Rectangle{base.Bounds(), image.Rect(640, 0, 1920, 1080)} {
					p, c := prev.SubImage(sub).(*image.RGBA), cur.SubImage(sub).(*image.RGBA)
					within := dst.Intersect(sub)
					a := image.Pt(within.Min.X+within.Dx()/3, within.Min.Y+within.Dy()/2)
					back := image.Pt(-off.X, -off.Y)
					got, gotOK := growMove(p, c, a, back, within)
					want, wantOK := columnGrowMove(p, c, a, back, within)
					if got != want || gotOK != wantOK {
						t.Fatalf("window %v moved by %v in %v: grew %v %v, columns give %v %v", w, off, sub, got, gotOK, want, wantOK)
					}
					if gotOK {
						n++
					}
				}
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d of the moves were found: the test checks too little", n)
	}
}
