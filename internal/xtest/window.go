package xtest

import (
	"image"
	"testing"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// Window is a window made by Show: an override-redirect window at (0, 0)
// whose background pixmap holds the image, so exposures never erase it.
type Window struct {
	ID xproto.Window

	s      *Server
	pixmap xproto.Pixmap
	gc     xproto.Gcontext
	img    *image.RGBA // what the pixmap holds, origin (0, 0)
}

// Show puts img on the display with its top-left corner at (0, 0), above all
// other windows, and returns once the X server's root window shows exactly
// those pixels (the part of img that fits on the screen). img's alpha is
// ignored. The window is destroyed when tb's test ends.
func (s *Server) Show(tb testing.TB, img *image.RGBA) *Window {
	tb.Helper()
	c := s.Conn(tb)
	scr := checkFormat(tb, c)
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 || b.Dx() > 0x7fff || b.Dy() > 0x7fff {
		tb.Fatalf("xtest: cannot show an image of %v", b)
	}
	w := &Window{s: s, img: image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))}
	copyRGBA(w.img, w.img.Bounds(), img, b.Min)

	var err error
	if w.pixmap, err = xproto.NewPixmapId(c); err != nil {
		tb.Fatalf("xtest: pixmap id: %v", err)
	}
	if w.gc, err = xproto.NewGcontextId(c); err != nil {
		tb.Fatalf("xtest: gc id: %v", err)
	}
	if w.ID, err = xproto.NewWindowId(c); err != nil {
		tb.Fatalf("xtest: window id: %v", err)
	}
	check(tb, "create pixmap", xproto.CreatePixmapChecked(c, scr.RootDepth, w.pixmap,
		xproto.Drawable(scr.Root), uint16(b.Dx()), uint16(b.Dy())))
	check(tb, "create gc", xproto.CreateGCChecked(c, w.gc, xproto.Drawable(w.pixmap), 0, nil))
	tb.Cleanup(func() { w.destroy() })
	w.put(tb, w.img.Bounds())
	check(tb, "create window", xproto.CreateWindowChecked(c, scr.RootDepth, w.ID, scr.Root,
		0, 0, uint16(b.Dx()), uint16(b.Dy()), 0, xproto.WindowClassInputOutput, scr.RootVisual,
		xproto.CwBackPixmap|xproto.CwOverrideRedirect, []uint32{uint32(w.pixmap), 1}))
	// The server paints the background while it maps the window, so once the
	// map is processed the root shows the image: verify, do not wait.
	check(tb, "map window", xproto.MapWindowChecked(c, w.ID))
	w.verify(tb, w.img.Bounds())
	return w
}

// Update replaces the window's pixels inside r with img's pixels inside r
// (img is in window coordinates, like the image given to Show, and must
// cover r) and returns once the X server shows them.
func (w *Window) Update(tb testing.TB, r image.Rectangle, img *image.RGBA) {
	tb.Helper()
	r = r.Intersect(w.img.Bounds())
	if r.Empty() {
		return
	}
	if !r.In(img.Bounds()) {
		tb.Fatalf("xtest: update %v with an image of %v", r, img.Bounds())
	}
	copyRGBA(w.img, r, img, r.Min)
	w.put(tb, r)
	c := w.s.Conn(tb)
	check(tb, "clear area", xproto.ClearAreaChecked(c, false, w.ID,
		int16(r.Min.X), int16(r.Min.Y), uint16(r.Dx()), uint16(r.Dy())))
	w.verify(tb, r)
}

// Image returns a copy of what the window shows.
func (w *Window) Image() *image.RGBA {
	out := image.NewRGBA(w.img.Bounds())
	copy(out.Pix, w.img.Pix)
	return out
}

// put copies w.img inside r into the pixmap, in PutImage requests that stay
// under the server's maximum request length.
func (w *Window) put(tb testing.TB, r image.Rectangle) {
	tb.Helper()
	c := w.s.Conn(tb)
	setup := xproto.Setup(c)
	depth := setup.DefaultScreen(c).RootDepth
	maxBytes := int(setup.MaximumRequestLength)*4 - 24 // PutImage header
	rowBytes := r.Dx() * 4
	rows := maxBytes / rowBytes
	if rows < 1 {
		tb.Fatalf("xtest: a row of %d pixels exceeds the X request limit", r.Dx())
	}
	var cookies []xproto.PutImageCookie
	buf := make([]byte, 0, min(rows, r.Dy())*rowBytes)
	for y0 := r.Min.Y; y0 < r.Max.Y; y0 += rows {
		y1 := min(y0+rows, r.Max.Y)
		buf = buf[:0]
		for y := y0; y < y1; y++ {
			buf = appendBGRX(buf, w.img.Pix[w.img.PixOffset(r.Min.X, y):w.img.PixOffset(r.Max.X, y)])
		}
		// xgb copies the data into the request before PutImage returns.
		cookies = append(cookies, xproto.PutImageChecked(c, xproto.ImageFormatZPixmap,
			xproto.Drawable(w.pixmap), w.gc, uint16(r.Dx()), uint16(y1-y0),
			int16(r.Min.X), int16(y0), 0, depth, buf))
	}
	for _, ck := range cookies {
		check(tb, "put image", ck)
	}
}

// verify fails the test unless the root window shows w.img inside r (the
// part of r that is on screen).
func (w *Window) verify(tb testing.TB, r image.Rectangle) {
	tb.Helper()
	shot := w.s.Screenshot(tb)
	r = r.Intersect(shot.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			i, j := w.img.PixOffset(x, y), shot.PixOffset(x, y)
			if w.img.Pix[i] != shot.Pix[j] || w.img.Pix[i+1] != shot.Pix[j+1] || w.img.Pix[i+2] != shot.Pix[j+2] {
				tb.Fatalf("xtest: after drawing, the screen shows %v at (%d,%d), want %v",
					shot.Pix[j:j+3], x, y, w.img.Pix[i:i+3])
			}
		}
	}
}

func (w *Window) destroy() {
	w.s.mu.Lock()
	c := w.s.conn
	w.s.mu.Unlock()
	if c == nil {
		return // the server is gone, and the window with it
	}
	xproto.DestroyWindow(c, w.ID)
	xproto.FreeGC(c, w.gc)
	xproto.FreePixmap(c, w.pixmap)
	// Round trip so the window is gone before the next test looks.
	xproto.GetInputFocus(c).Reply()
}

// Screenshot returns the X server's own picture of the whole root window
// (GetImage, ZPixmap), as opaque RGBA. It shares no code with the capture
// package, so tests can compare against it.
func (s *Server) Screenshot(tb testing.TB) *image.RGBA {
	tb.Helper()
	c := s.Conn(tb)
	scr := checkFormat(tb, c)
	geo, err := xproto.GetGeometry(c, xproto.Drawable(scr.Root)).Reply()
	if err != nil {
		tb.Fatalf("xtest: root geometry: %v", err)
	}
	w, h := int(geo.Width), int(geo.Height)
	rep, err := xproto.GetImage(c, xproto.ImageFormatZPixmap, xproto.Drawable(scr.Root),
		0, 0, geo.Width, geo.Height, ^uint32(0)).Reply()
	if err != nil {
		tb.Fatalf("xtest: get root image: %v", err)
	}
	if len(rep.Data) != w*h*4 {
		tb.Fatalf("xtest: root image of %dx%d has %d bytes, want %d (32 bits per pixel)",
			w, h, len(rep.Data), w*h*4)
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(rep.Data); i += 4 {
		img.Pix[i+0] = rep.Data[i+2]
		img.Pix[i+1] = rep.Data[i+1]
		img.Pix[i+2] = rep.Data[i+0]
		img.Pix[i+3] = 0xff
	}
	return img
}

// checkFormat fails the test unless the server stores the root's pixels the
// way Xvfb does with -screen WxHx24: 32 bits per pixel, blue in the lowest
// byte (BGRX in memory), which is all this package converts.
func checkFormat(tb testing.TB, c *xgb.Conn) *xproto.ScreenInfo {
	tb.Helper()
	setup := xproto.Setup(c)
	scr := setup.DefaultScreen(c)
	if setup.ImageByteOrder != xproto.ImageOrderLSBFirst {
		tb.Fatalf("xtest: X server image byte order %d, want LSBFirst", setup.ImageByteOrder)
	}
	if scr.RootDepth != 24 {
		tb.Fatalf("xtest: root depth %d, want 24", scr.RootDepth)
	}
	for _, f := range setup.PixmapFormats {
		if f.Depth == 24 && f.BitsPerPixel != 32 {
			tb.Fatalf("xtest: depth 24 stored in %d bits per pixel, want 32", f.BitsPerPixel)
		}
	}
	return scr
}

type checker interface{ Check() error }

func check(tb testing.TB, what string, c checker) {
	tb.Helper()
	if err := c.Check(); err != nil {
		tb.Fatalf("xtest: %s: %v", what, err)
	}
}

// appendBGRX appends RGBA pixels as the X server's 32-bit LSBFirst
// ZPixmap pixels.
func appendBGRX(dst, rgba []byte) []byte {
	for i := 0; i < len(rgba); i += 4 {
		dst = append(dst, rgba[i+2], rgba[i+1], rgba[i], 0)
	}
	return dst
}

// copyRGBA copies src's pixels starting at sp into dst inside r, opaque.
func copyRGBA(dst *image.RGBA, r image.Rectangle, src *image.RGBA, sp image.Point) {
	for y := 0; y < r.Dy(); y++ {
		d := dst.Pix[dst.PixOffset(r.Min.X, r.Min.Y+y):dst.PixOffset(r.Max.X, r.Min.Y+y)]
		s := src.Pix[src.PixOffset(sp.X, sp.Y+y):]
		copy(d, s[:len(d)])
		for i := 3; i < len(d); i += 4 {
			d[i] = 0xff
		}
	}
}
