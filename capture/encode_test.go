package capture

import (
	"bytes"
	"fmt"
	"image"
	"runtime"
	"strings"
	"testing"

	"assist/internal/xtest"
	"assist/protocol"
)

// frame is the 1080p test pattern, shared by the tests that only read it.
var frame = xtest.Pattern(1920, 1080)

var layout = xtest.PatternLayout(1920, 1080)

// tileIn returns a 64x64 tile well inside r (one tile in from its corner).
func tileIn(r image.Rectangle) image.Rectangle {
	p := r.Min.Add(image.Pt(TileSize, TileSize))
	return image.Rectangle{p, p.Add(image.Pt(TileSize, TileSize))}
}

// roundTrip encodes r of img, draws the result onto a blank image of img's
// size and fails unless the pixels inside r are exactly img's (RGB, opaque)
// and nothing outside r was touched.
func roundTrip(t *testing.T, e *Encoder, img *image.RGBA, r image.Rectangle) protocol.Rect {
	t.Helper()
	rect, err := e.Encode(img, r)
	if err != nil {
		t.Fatalf("Encode %v: %v", r, err)
	}
	b := img.Bounds()
	if got := image.Rect(rect.X, rect.Y, rect.X+rect.W, rect.Y+rect.H); got != r.Sub(b.Min) {
		t.Fatalf("encoded rect %v, want %v", got, r.Sub(b.Min))
	}
	if n := protocol.RectSize(rect); n > protocol.MaxScreenMessage-16 {
		t.Fatalf("rect encodes to %d bytes", n)
	}
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	if err := rect.Draw(dst); err != nil {
		t.Fatalf("Draw of encoding %d: %v", rect.Enc, err)
	}
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			got := dst.Pix[dst.PixOffset(x, y):][:4]
			want := []byte{0, 0, 0, 0}
			if image.Pt(x, y).Add(b.Min).In(r) {
				src := img.Pix[img.PixOffset(x+b.Min.X, y+b.Min.Y):]
				want = []byte{src[0], src[1], src[2], 0xff}
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encoding %d: pixel (%d,%d) decodes to %v, want %v", rect.Enc, x, y, got, want)
			}
		}
	}
	return rect
}

func TestEncodeRoundTrip(t *testing.T) {
	translucent := xtest.Pattern(64, 64)
	for i := 3; i < len(translucent.Pix); i += 4 {
		translucent.Pix[i] = byte(i)
	}
	solidish := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for i := range solidish.Pix {
		solidish.Pix[i] = []byte{10, 20, 30, byte(i)}[i%4] // one colour, alpha varies
	}
	many := image.NewRGBA(image.Rect(0, 0, 64, 64)) // 257 colours: just too many for a palette
	for i := 0; i < len(many.Pix); i += 4 {
		n := min(i/4, 256)
		many.Pix[i], many.Pix[i+1], many.Pix[i+2], many.Pix[i+3] = byte(n), byte(n>>8), 7, 0xff
	}
	shifted := frame.SubImage(image.Rect(100, 100, 400, 300)).(*image.RGBA)
	tests := []struct {
		name string
		img  *image.RGBA
		r    image.Rectangle
		enc  byte // 0: any
	}{
		{"solid", frame, tileIn(layout.Solid), protocol.EncSolid},
		{"solid with varying alpha", solidish, solidish.Bounds(), protocol.EncSolid},
		{"text", frame, tileIn(layout.Text), protocol.EncPNG},
		{"title bar with glyphs", frame, image.Rect(0, 0, 64, 64), protocol.EncPNG},
		{"lines", frame, tileIn(layout.Lines), protocol.EncPNG},
		{"gradient", frame, tileIn(layout.Gradient), 0},
		{"photo", frame, tileIn(layout.Photo), 0},
		{"257 colours", many, many.Bounds(), protocol.EncPNG},
		{"translucent pixels", translucent, translucent.Bounds(), 0},
		{"five photo tiles merged", frame, image.Rect(0, 640, 320, 704), 0},
		{"five text tiles merged", frame, image.Rect(0, 64, 320, 128), protocol.EncPNG},
		{"1x1", frame, image.Rect(5, 5, 6, 6), protocol.EncSolid},
		{"1x64 photo column", frame, image.Rect(70, 700, 71, 764), 0},
		{"64x1 text row", frame, image.Rect(64, 100, 128, 101), 0},
		{"right edge tile", frame, image.Rect(1920-64, 1024, 1920, 1080), 0},
		{"13x7", frame, image.Rect(901, 1001, 914, 1008), 0},
		{"two colours", frame, image.Rect(1440, 200, 1504, 300), protocol.EncPNG},
		{"sub-image", shifted, image.Rect(164, 164, 228, 228), 0},
	}
	e := NewEncoder()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rect := roundTrip(t, e, tt.img, tt.r)
			if tt.enc != 0 && rect.Enc != tt.enc {
				t.Errorf("encoding %d, want %d", rect.Enc, tt.enc)
			}
			if raw := 3 * rect.W * rect.H; len(rect.Data) > raw {
				t.Errorf("%d bytes, more than raw (%d)", len(rect.Data), raw)
			}
		})
	}
}

func TestEncodeCompressesText(t *testing.T) {
	e := NewEncoder()
	rect, err := e.Encode(frame, tileIn(layout.Text))
	if err != nil {
		t.Fatal(err)
	}
	if raw := 64 * 64 * 3; len(rect.Data)*4 > raw {
		t.Errorf("a text tile takes %d bytes, want under a quarter of raw (%d)", len(rect.Data), raw)
	}
}

// TestEncodeWholeFrame sends the whole pattern the way the agent will (tiles
// from Tracker.Diff, batched into messages) and decodes it the way a
// receiver will.
func TestEncodeWholeFrame(t *testing.T) {
	e := NewEncoder()
	tr := NewTracker()
	got := image.NewRGBA(frame.Bounds())
	var msgs, total int
	batch := protocol.RectBatcher{Flush: func(msg []byte) error {
		msgs++
		total += len(msg)
		m, err := protocol.DecodeScreen(msg)
		if err != nil {
			return err
		}
		for _, r := range m.Rects {
			if err := r.Draw(got); err != nil {
				return err
			}
		}
		return nil
	}}
	for _, r := range tr.Diff(HashTiles(frame, TileSize, nil)) {
		rect, err := e.Encode(frame, r)
		if err != nil {
			t.Fatal(err)
		}
		if err := batch.Add(rect); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Done(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Pix, frame.Pix) {
		t.Fatal("the decoded frame differs from the source")
	}
	t.Logf("1080p pattern: %d messages, %d bytes (raw %d)", msgs, total, 1920*1080*3)
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name string
		r    image.Rectangle
		want string
	}{
		{"empty", image.Rect(10, 10, 10, 20), "encode"},
		{"outside", image.Rect(1900, 0, 1984, 64), "encode"},
		{"negative", image.Rect(-1, 0, 10, 10), "encode"},
		{"photo too large for a message", layout.Photo, "split"},
	}
	e := NewEncoder()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Encode(frame, tt.r)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "capture: ") {
				t.Errorf("Encode(%v) error %v, want one mentioning %q", tt.r, err, tt.want)
			}
		})
	}
	// Large but cheap content is fine: one colour is 3 bytes at any size.
	rect, err := e.Encode(frame, layout.Solid)
	if err != nil || rect.Enc != protocol.EncSolid {
		t.Errorf("Encode of a large solid area: %v, %v", rect.Enc, err)
	}
}

func TestEncodeDataIsFresh(t *testing.T) {
	e := NewEncoder()
	a, err := e.Encode(frame, tileIn(layout.Text))
	if err != nil {
		t.Fatal(err)
	}
	keep := bytes.Clone(a.Data)
	for _, r := range []image.Rectangle{tileIn(layout.Lines), tileIn(layout.Photo), image.Rect(0, 64, 320, 128)} {
		if _, err := e.Encode(frame, r); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(a.Data, keep) {
		t.Error("a later Encode changed an earlier rect's Data")
	}
}

// TestEncodeReusesBuffers checks that an Encoder keeps its scratch memory
// and the PNG encoder's zlib state (about 1 MB when allocated anew), so
// that the bytes allocated per Encode are about the size of its output.
func TestEncodeReusesBuffers(t *testing.T) {
	e := NewEncoder()
	for _, tt := range []struct {
		name string
		r    image.Rectangle
	}{
		{"solid", tileIn(layout.Solid)},
		{"text", tileIn(layout.Text)},
		{"photo", tileIn(layout.Photo)},
	} {
		rect, err := e.Encode(frame, tt.r) // warm the scratch buffers
		if err != nil {
			t.Fatal(err)
		}
		const runs = 20
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range runs {
			e.Encode(frame, tt.r)
		}
		runtime.ReadMemStats(&after)
		perOp := (after.TotalAlloc - before.TotalAlloc) / runs
		if limit := uint64(len(rect.Data))*5/4 + 1024; perOp > limit { // size classes round up
			t.Errorf("%s tile: %d bytes allocated per Encode for %d bytes of output, want at most %d",
				tt.name, perOp, len(rect.Data), limit)
		}
	}
}

// FuzzEncodeRoundTrip encodes a rectangle of an arbitrary small image and
// decodes it as a receiver would: the pixels must come back exactly.
func FuzzEncodeRoundTrip(f *testing.F) {
	f.Add(uint8(4), uint8(3), uint8(0), uint8(0), uint8(4), uint8(3), []byte{1, 2, 3})
	f.Add(uint8(64), uint8(64), uint8(1), uint8(2), uint8(63), uint8(60), frame.Pix[:5000])
	f.Add(uint8(20), uint8(20), uint8(0), uint8(0), uint8(20), uint8(20), []byte{255, 255, 255, 255, 0, 0, 0, 0})
	e := NewEncoder()
	f.Fuzz(func(t *testing.T, w, h, x0, y0, x1, y1 uint8, pix []byte) {
		if w == 0 || h == 0 || len(pix) == 0 {
			return
		}
		img := image.NewRGBA(image.Rect(0, 0, int(w), int(h)))
		for i := range img.Pix {
			img.Pix[i] = pix[i%len(pix)] ^ byte(i/len(pix)) // repeat, varied
		}
		r := image.Rect(int(x0), int(y0), int(x1), int(y1)).Canon()
		if r.Empty() || !r.In(img.Bounds()) {
			if _, err := e.Encode(img, r); err == nil {
				t.Fatalf("Encode(%v) of a %dx%d image: no error", r, w, h)
			}
			return
		}
		if 3*r.Dx()*r.Dy()+rectHeaderSize > maxRectSize {
			// Too large to be sure it fits: it must encode, or say to split.
			if _, err := e.Encode(img, r); err != nil {
				if !strings.Contains(err.Error(), "split") {
					t.Fatalf("Encode(%v): %v", r, err)
				}
				return
			}
		}
		roundTrip(t, e, img, r)
	})
}

func TestRectHeaderSize(t *testing.T) {
	if got := protocol.RectSize(protocol.Rect{}); got != rectHeaderSize {
		t.Fatalf("protocol.RectSize of an empty rect is %d, capture assumes %d", got, rectHeaderSize)
	}
}

func ExampleEncoder() {
	img := image.NewRGBA(image.Rect(0, 0, 128, 64))
	for i := range img.Pix {
		img.Pix[i] = 0xff // white
	}
	rect, err := NewEncoder().Encode(img, image.Rect(64, 0, 128, 64))
	fmt.Println(rect.X, rect.Y, rect.W, rect.H, rect.Enc == protocol.EncSolid, rect.Data, err)
	// Output: 64 0 64 64 true [255 255 255] <nil>
}

// TestFewColours: telling few-colour tiles from many-colour ones without
// building the palette gives palettize's answer: at most 256 colours, runs
// or not, alpha ignored, in tiles off the image's origin and in a photo's.
func TestFewColours(t *testing.T) {
	// colours makes a 64x64 tile at (x0, y0) of a larger image with n
	// distinct colours; run repeats each pixel's colour that many times.
	colours := func(n, run int, alpha bool) (*image.RGBA, image.Rectangle) {
		img := image.NewRGBA(image.Rect(0, 0, 200, 150))
		r := image.Rect(70, 50, 134, 114)
		i := 0
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				c := (i / run) % n
				o := img.PixOffset(x, y)
				img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = byte(c), byte(c>>8), byte(c*7), 255
				if alpha {
					img.Pix[o+3] = byte(i) // differs where the colour does not
				}
				i++
			}
		}
		return img, r
	}
	e := NewEncoder()
	for _, tc := range []struct {
		n, run int
		alpha  bool
	}{{1, 1, false}, {2, 1, false}, {255, 1, false}, {256, 1, false}, {257, 1, false}, {256, 3, false},
		{257, 3, false}, {258, 1, false}, {1000, 1, false}, {4096, 1, false}, {256, 1, true}, {257, 1, true}} {
		img, r := colours(tc.n, tc.run, tc.alpha)
		if got, want := e.fewColours(img, r), e.palettize(img, r); got != want || got != (tc.n <= maxPalette) {
			t.Errorf("%d colours in runs of %d (alpha varies: %v): fewColours %v, palettize %v", tc.n, tc.run, tc.alpha, got, want)
		}
	}
	few := 0
	for _, r := range SplitTiles(photo.Bounds()) {
		got, want := e.fewColours(photo, r), e.palettize(photo, r)
		if got != want {
			t.Fatalf("photo tile %v: fewColours %v, palettize %v", r, got, want)
		}
		if got {
			few++
		}
	}
	if few == 0 || few == len(SplitTiles(photo.Bounds())) {
		t.Errorf("the photo has %d few-colour tiles of %d: no test of both answers", few, len(SplitTiles(photo.Bounds())))
	}
}
