package xtest

import "image"

// Layout says where Pattern puts each kind of content, so tests and
// benchmarks can pick tiles of a known kind. The regions do not overlap and
// together cover the image.
type Layout struct {
	// Text is a white document: a solid title bar along its top, then lines
	// of small dark glyphs with grey anti-aliasing fringes, some blue and
	// underlined, and a 1-px rule every few lines. Top-left quarter.
	Text image.Rectangle
	// Gradient is a smooth colour ramp across both axes.
	Gradient image.Rectangle
	// Solid is one colour; SolidBelow, under it, is another.
	Solid, SolidBelow image.Rectangle
	// Photo is photo-like: smooth large-scale shading plus per-pixel noise,
	// so almost every pixel differs from its neighbours. Bottom-left quarter.
	Photo image.Rectangle
	// Lines holds 1-px detail: a grid, alternating 1-px stripes and a
	// single-pixel checkerboard. Bottom-right quarter.
	Lines image.Rectangle
}

// PatternLayout returns the layout Pattern uses for a w x h image.
func PatternLayout(w, h int) Layout {
	midX, midY, q3X := w/2, h/2, 3*w/4
	return Layout{
		Text:       image.Rect(0, 0, midX, midY),
		Gradient:   image.Rect(midX, 0, q3X, midY),
		Solid:      image.Rect(q3X, 0, w, midY/2),
		SolidBelow: image.Rect(q3X, midY/2, w, midY),
		Photo:      image.Rect(0, midY, midX, h),
		Lines:      image.Rect(midX, midY, w, h),
	}
}

// Pattern colours.
var (
	SolidColor      = [3]byte{0x3c, 0x6e, 0xb4}
	SolidBelowColor = [3]byte{0xf0, 0xf0, 0xf0}
	paper           = [3]byte{0xff, 0xff, 0xff}
	ink             = [3]byte{0x1e, 0x1e, 0x1e}
	linkInk         = [3]byte{0x1a, 0x0d, 0xab}
	fringe          = [3]byte{0xa8, 0xa8, 0xa8}
	titleBar        = [3]byte{0x2b, 0x57, 0x9a}
	rule            = [3]byte{0xd0, 0xd0, 0xd0}
)

// Pattern returns a deterministic, opaque w x h test image that exercises
// encoders: large solid areas, 1-px lines, text-like glyphs, colour gradients
// and a noisy photo-like region, placed as PatternLayout says. The same size
// always gives the same pixels, on every platform (integer arithmetic only).
func Pattern(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, max(w, 0), max(h, 0)))
	l := PatternLayout(img.Rect.Dx(), img.Rect.Dy())
	fill(img, l.Solid, SolidColor)
	fill(img, l.SolidBelow, SolidBelowColor)
	gradient(img, l.Gradient)
	photo(img, l.Photo)
	lines(img, l.Lines)
	text(img, l.Text)
	return img
}

func set(img *image.RGBA, x, y int, c [3]byte) {
	i := img.PixOffset(x, y)
	img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c[0], c[1], c[2], 0xff
}

func fill(img *image.RGBA, r image.Rectangle, c [3]byte) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			set(img, x, y, c)
		}
	}
}

func gradient(img *image.RGBA, r image.Rectangle) {
	w, h := max(r.Dx()-1, 1), max(r.Dy()-1, 1)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			dx, dy := x-r.Min.X, y-r.Min.Y
			set(img, x, y, [3]byte{
				byte(255 * dx / w),
				byte(255 * dy / h),
				byte(255 - 127*(dx+dy)/(w+h)),
			})
		}
	}
}

// hash is splitmix64's finaliser: a fixed, well-mixed function of its input.
func hash(v uint64) uint64 {
	v += 0x9e3779b97f4a7c15
	v = (v ^ v>>30) * 0xbf58476d1ce4e5b9
	v = (v ^ v>>27) * 0x94d049bb133111eb
	return v ^ v>>31
}

func hash2(x, y, seed int) uint64 {
	return hash(uint64(x)*0x100000001b3 ^ uint64(y)<<32 ^ uint64(seed)<<56)
}

// photo paints value noise (random levels on a 32-px lattice, bilinearly
// interpolated) plus per-pixel grain, per channel.
func photo(img *image.RGBA, r image.Rectangle) {
	const cell = 32
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			dx, dy := x-r.Min.X, y-r.Min.Y
			gx, gy := dx/cell, dy/cell
			fx, fy := dx%cell, dy%cell
			var c [3]byte
			for ch := range c {
				v00 := int(hash2(gx, gy, ch) & 0xff)
				v10 := int(hash2(gx+1, gy, ch) & 0xff)
				v01 := int(hash2(gx, gy+1, ch) & 0xff)
				v11 := int(hash2(gx+1, gy+1, ch) & 0xff)
				top := v00*(cell-fx) + v10*fx
				bot := v01*(cell-fx) + v11*fx
				v := (top*(cell-fy) + bot*fy) / (cell * cell)
				v += int(hash2(x, y, ch+3)%25) - 12 // grain
				c[ch] = byte(min(max(v, 0), 255))
			}
			set(img, x, y, c)
		}
	}
}

func lines(img *image.RGBA, r image.Rectangle) {
	midX, midY := r.Min.X+r.Dx()/2, r.Min.Y+r.Dy()/2
	dark, light := [3]byte{0x20, 0x30, 0x40}, [3]byte{0xfa, 0xf0, 0xe0}
	red := [3]byte{0xe0, 0x20, 0x20}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			dx, dy := x-r.Min.X, y-r.Min.Y
			c := light
			switch {
			case x < midX: // grid, with a diagonal
				if dx%6 == 0 || dy%6 == 0 {
					c = dark
				} else if (dx+dy)%11 == 0 {
					c = red
				}
			case y < midY: // vertical 1-px stripes
				if dx%2 == 0 {
					c = dark
				}
			default: // checkerboard
				if (dx+dy)%2 == 0 {
					c = red
				}
			}
			set(img, x, y, c)
		}
	}
}

const (
	glyphW, glyphH = 7, 11 // glyph box inside an 8 x 16 cell
	cellW, cellH   = 8, 16
)

// glyph draws the glyph of code k at (x, y), clipped to r: strokes chosen by
// k's hash, like a crude font, with a grey fringe right of each stroke.
func glyph(img *image.RGBA, r image.Rectangle, x, y int, k uint64, c [3]byte) {
	bits := hash(k)
	var g [glyphH][glyphW]bool
	stroke := func(x0, y0, x1, y1 int) {
		for yy := y0; yy <= y1; yy++ {
			for xx := x0; xx <= x1; xx++ {
				g[yy][xx] = true
			}
		}
	}
	if bits&1 != 0 {
		stroke(0, 3, 0, 9) // left stem
	}
	if bits&2 != 0 {
		stroke(5, 3, 5, 9) // right stem
	}
	if bits&4 != 0 {
		stroke(0, 3, 5, 3) // top bar
	}
	if bits&8 != 0 {
		stroke(0, 6, 5, 6) // middle bar
	}
	if bits&16 != 0 {
		stroke(0, 9, 5, 9) // bottom bar
	}
	if bits&32 != 0 {
		stroke(0, 0, 0, 2) // ascender
	}
	if bits&64 != 0 {
		stroke(2, 0, 2, 1) // dot
		stroke(2, 3, 2, 9)
	}
	if bits&128 != 0 { // diagonal
		for i := 0; i < 6; i++ {
			g[3+i][i] = true
		}
	}
	if bits&0x300 == 0x300 {
		stroke(5, 9, 5, 10) // descender
	}
	for gy := 0; gy < glyphH; gy++ {
		for gx := 0; gx < glyphW; gx++ {
			p := image.Pt(x+gx, y+gy)
			if !p.In(r) {
				continue
			}
			switch {
			case g[gy][gx]:
				set(img, p.X, p.Y, c)
			case gx > 0 && g[gy][gx-1]:
				set(img, p.X, p.Y, fringe)
			}
		}
	}
}

func text(img *image.RGBA, r image.Rectangle) {
	fill(img, r, paper)
	bar := r
	bar.Max.Y = min(r.Min.Y+24, r.Max.Y)
	fill(img, bar, titleBar)
	for i := 0; i < 12; i++ {
		glyph(img, bar, r.Min.X+8+i*cellW, r.Min.Y+6, uint64(i)+1000, paper)
	}
	const margin = 8
	line := 0
	for y := bar.Max.Y + 8; y < r.Max.Y; y += cellH {
		line++
		if line%6 == 0 { // a rule between paragraphs
			fill(img, image.Rect(r.Min.X+margin, y+cellH/2, r.Max.X-margin, y+cellH/2+1).Intersect(r), rule)
			continue
		}
		lh := hash(uint64(line))
		end := r.Max.X - margin - int(lh%uint64(max(r.Dx()/3, 1))) // ragged right
		x := r.Min.X + margin
		for word := 0; x < end; word++ {
			wh := hash(lh ^ uint64(word)<<20)
			n := 2 + int(wh%8)
			c := ink
			link := wh>>8%9 == 0
			if link {
				c = linkInk
			}
			start := x
			for i := 0; i < n && x+cellW <= end; i++ {
				glyph(img, r, x, y, wh>>16+uint64(i), c)
				x += cellW
			}
			if link {
				fill(img, image.Rect(start, y+glyphH+1, x-1, y+glyphH+2).Intersect(r), c)
			}
			x += cellW // space
		}
	}
}
