package capture

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/shm"
	"github.com/jezek/xgb/xproto"
)

// x11Source reads the root window of one X screen over a persistent
// connection, into a MIT-SHM segment when it can.
type x11Source struct {
	log  *slog.Logger
	conn *xgb.Conn
	root xproto.Window
	msb  bool // image byte order MSBFirst: pixels are X R G B in memory

	eventsDone chan struct{} // closed when drainEvents returns

	mu       sync.Mutex // guards everything below
	closed   bool
	w, h     int
	img      *image.RGBA
	seg      *shmSegment     // nil: plain GetImage
	imgOnSeg bool            // img's pixels are seg's memory
	pending  chan grabResult // replies of a Capture whose context ended first

	extras // damage, cursor and monitors (x11extra_linux.go)
}

// maxAttempts bounds how often one Capture re-reads a screen that changes
// size while it is being read.
const maxAttempts = 3

func open(display string, log *slog.Logger) (Source, error) {
	if display == "" {
		display = os.Getenv("DISPLAY")
		if display == "" {
			return nil, errors.New("capture: no X display: DISPLAY is not set (Wayland-only sessions are not supported)")
		}
	}
	conn, err := xgb.NewConnDisplay(display)
	if err != nil {
		return nil, fmt.Errorf("capture: open display %q: %w", display, err)
	}
	s := &x11Source{log: log.With("display", display), conn: conn, eventsDone: make(chan struct{})}
	s.damageCh = make(chan struct{}, 1)
	go s.drainEvents()
	if err := s.init(); err != nil {
		s.closeConn()
		return nil, fmt.Errorf("capture: display %q: %w", display, err)
	}
	return s, nil
}

// init checks the pixel format, sizes the buffers and sets up shared memory.
func (s *x11Source) init() error {
	setup := xproto.Setup(s.conn)
	if n := s.conn.DefaultScreen; n < 0 || n >= len(setup.Roots) {
		return fmt.Errorf("no screen %d (the display has %d)", n, len(setup.Roots))
	}
	scr := setup.DefaultScreen(s.conn)
	if err := checkFormat(setup, scr); err != nil {
		return err
	}
	s.root = scr.Root
	s.msb = setup.ImageByteOrder == xproto.ImageOrderMSBFirst
	geo, err := xproto.GetGeometry(s.conn, xproto.Drawable(s.root)).Reply()
	if err != nil {
		return fmt.Errorf("root geometry: %w", err)
	}
	s.w, s.h = int(geo.Width), int(geo.Height)

	if err := shm.Init(s.conn); err != nil {
		s.log.Warn("capture: MIT-SHM unavailable, using plain GetImage (slower)", "err", err)
	} else if seg, err := newShmSegment(s.conn, s.w*s.h*4); err != nil {
		s.log.Warn("capture: shared memory unusable, using plain GetImage (slower)", "err", err)
	} else if err := s.verifyShm(seg); err != nil {
		seg.free(s.conn)
		s.log.Warn("capture: shared memory unusable, using plain GetImage (slower)", "err", err)
	} else {
		s.seg = seg
	}
	s.bindImage()
	s.initExtras()
	s.log.Info("capture: X11 source", "width", s.w, "height", s.h, "shm", s.seg != nil,
		"damage", s.damageOK, "cursor", s.xfixesOK, "monitors", s.randrOK)
	return nil
}

// checkFormat accepts the formats the converters handle: 32 bits per pixel
// holding 8-bit red, green and blue at masks 0xff0000, 0xff00, 0xff.
func checkFormat(setup *xproto.SetupInfo, scr *xproto.ScreenInfo) error {
	bpp := 0
	for _, f := range setup.PixmapFormats {
		if f.Depth == scr.RootDepth {
			bpp = int(f.BitsPerPixel)
		}
	}
	var vis *xproto.VisualInfo
	for _, d := range scr.AllowedDepths {
		for i, v := range d.Visuals {
			if v.VisualId == scr.RootVisual {
				vis = &d.Visuals[i]
			}
		}
	}
	if vis == nil {
		return fmt.Errorf("root visual %d not found", scr.RootVisual)
	}
	if (scr.RootDepth != 24 && scr.RootDepth != 32) || bpp != 32 ||
		vis.RedMask != 0xff0000 || vis.GreenMask != 0xff00 || vis.BlueMask != 0xff {
		return fmt.Errorf("unsupported pixel format: depth %d, %d bits per pixel, masks %06x %06x %06x",
			scr.RootDepth, bpp, vis.RedMask, vis.GreenMask, vis.BlueMask)
	}
	return nil
}

// verifyShm proves that the X server writes into our segment. A server in
// another IPC namespace (a container sharing only the X socket) may attach
// a different segment that happens to have the same id, and then every
// frame would silently be whatever that memory holds.
func (s *x11Source) verifyShm(seg *shmSegment) error {
	w := min(s.w, 256)
	ref, err := xproto.GetImage(s.conn, xproto.ImageFormatZPixmap, xproto.Drawable(s.root),
		0, 0, uint16(w), 1, ^uint32(0)).Reply()
	if err != nil {
		return fmt.Errorf("reference GetImage: %w", err)
	}
	canary := seg.mem[:len(ref.Data)]
	for i, b := range ref.Data {
		canary[i] = ^b
	}
	if _, err := shm.GetImage(s.conn, xproto.Drawable(s.root), 0, 0, uint16(w), 1, ^uint32(0),
		xproto.ImageFormatZPixmap, seg.id, 0).Reply(); err != nil {
		return fmt.Errorf("shm GetImage: %w", err)
	}
	for i, b := range ref.Data {
		if canary[i] != ^b {
			return nil // the server wrote into our memory
		}
	}
	return errors.New("the X server does not write into this process's segment (separate IPC namespace?)")
}

// grabResult is what the X server answered to one frame's requests.
type grabResult struct {
	w, h   int    // root size
	geoErr error  // GetGeometry failed
	data   []byte // plain GetImage: the pixels
	imgErr error  // GetImage failed
	viaShm bool   // the pixels are in the segment
}

// request sends GetGeometry and GetImage of rows [y0, y0+rows) together, so
// that a size change costs no extra round trip, and returns a channel that
// delivers the replies. With shared memory the rows land where a whole
// frame would put them. The waiting goroutine touches only xgb cookies,
// never s, so an abandoned request cannot race with Close.
func (s *x11Source) request(y0, rows int, rearm bool) chan grabResult {
	if rearm {
		s.rearmDamage() // damage from here on wakes the next capture
	}
	geoC := xproto.GetGeometry(s.conn, xproto.Drawable(s.root))
	w, h := uint16(s.w), uint16(rows)
	ch := make(chan grabResult, 1)
	if seg := s.seg; seg != nil {
		imgC := shm.GetImage(s.conn, xproto.Drawable(s.root), 0, int16(y0), w, h, ^uint32(0),
			xproto.ImageFormatZPixmap, seg.id, uint32(y0*s.w*4))
		go func() {
			var r grabResult
			r.viaShm = true
			geo, err := geoC.Reply()
			r.geoErr = err
			if err == nil {
				r.w, r.h = int(geo.Width), int(geo.Height)
			}
			_, r.imgErr = imgC.Reply()
			ch <- r
		}()
		return ch
	}
	imgC := xproto.GetImage(s.conn, xproto.ImageFormatZPixmap, xproto.Drawable(s.root), 0, int16(y0), w, h, ^uint32(0))
	go func() {
		var r grabResult
		geo, err := geoC.Reply()
		r.geoErr = err
		if err == nil {
			r.w, r.h = int(geo.Width), int(geo.Height)
		}
		rep, err := imgC.Reply()
		r.imgErr = err
		if err == nil {
			r.data = rep.Data
		}
		ch <- r
	}()
	return ch
}

func (s *x11Source) Capture(ctx context.Context) (*image.RGBA, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.imgOnSeg && s.seg == nil {
		s.bindImage() // the segment went away (tests drop it to force plain GetImage)
	}
	if s.pending != nil {
		// The server may still be writing an abandoned frame into the
		// segment: let it finish first.
		select {
		case <-s.pending:
			s.pending = nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	// With DAMAGE and a whole frame in hand, read only the rows that changed.
	y0, rows, rearm := 0, s.h, true
	if s.haveFull {
		band, ok, err := s.damagedRows(ctx)
		if err != nil {
			return nil, err
		}
		if ok {
			if band.Empty() {
				s.changed = image.Rectangle{}
				return s.img, nil
			}
			y0, rows, rearm = band.Min.Y, band.Dy(), false
		}
	}
	var lastErr error
	for range maxAttempts {
		ch := s.request(y0, rows, rearm)
		var r grabResult
		select {
		case r = <-ch:
		case <-ctx.Done():
			s.pending = ch
			return nil, ctx.Err()
		}
		if r.geoErr != nil {
			return nil, fmt.Errorf("capture: root geometry: %w", r.geoErr)
		}
		if r.w != s.w || r.h != s.h {
			// The image (if any) has the old size: resize and read again.
			if err := s.resize(r.w, r.h); err != nil {
				return nil, err
			}
			y0, rows, rearm = 0, s.h, true
			continue
		}
		if r.imgErr != nil {
			lastErr = r.imgErr
			if _, sizeRace := r.imgErr.(xproto.MatchError); !sizeRace && r.viaShm {
				s.log.Warn("capture: shm GetImage failed, using plain GetImage", "err", r.imgErr)
				s.img = nil
				s.seg.free(s.conn)
				s.seg = nil
				s.bindImage()
				y0, rows, rearm = 0, s.h, true
			}
			continue // BadMatch: the size changed after GetGeometry
		}
		n := s.w * rows * 4
		src := r.data
		if r.viaShm {
			src = s.seg.mem[y0*s.w*4 : y0*s.w*4+n]
		}
		if len(src) != n {
			return nil, fmt.Errorf("capture: GetImage of %dx%d returned %d bytes", s.w, rows, len(src))
		}
		s.convert(s.img.Pix[y0*s.w*4:y0*s.w*4+n], src)
		s.changed = image.Rect(0, y0, s.w, y0+rows)
		s.haveFull = true
		return s.img, nil
	}
	if lastErr == nil {
		lastErr = errors.New("screen size kept changing")
	}
	return nil, fmt.Errorf("capture: GetImage of %dx%d: %w", s.w, s.h, lastErr)
}

// convert fills dst (rows of s.img) from the server's pixels, splitting a
// large frame across two goroutines.
func (s *x11Source) convert(dst, src []byte) {
	conv := bgrxToRGBA
	if s.msb {
		conv = xrgbToRGBA
	}
	// dst's stride is 4*w, like the server's (32-bit pad).
	if len(dst) < 1<<20 {
		conv(dst, src)
		return
	}
	half := len(dst) / 2 &^ 7
	var wg sync.WaitGroup
	wg.Go(func() { conv(dst[:half], src[:half]) })
	conv(dst[half:], src[half:])
	wg.Wait()
}

// resize adapts the buffers to a new root size.
func (s *x11Source) resize(w, h int) error {
	s.log.Info("capture: screen size changed", "from", fmt.Sprintf("%dx%d", s.w, s.h), "to", fmt.Sprintf("%dx%d", w, h))
	if w <= 0 || h <= 0 {
		return fmt.Errorf("capture: root window is %dx%d", w, h)
	}
	s.w, s.h = w, h
	if s.seg != nil && len(s.seg.mem) < w*h*4 {
		s.img = nil // it lives in the segment
		s.seg.free(s.conn)
		s.seg = nil
		seg, err := newShmSegment(s.conn, w*h*4)
		if err != nil {
			s.log.Warn("capture: no shared memory for the new size, using plain GetImage", "err", err)
		} else {
			s.seg = seg
		}
	}
	s.bindImage()
	return nil
}

// bindImage points s.img at the frame's memory: the shared segment itself
// when there is one (the server's BGRX pixels become RGBA in place: no
// second 8 MB buffer), else the heap. Whatever it held is no longer a whole
// frame.
func (s *x11Source) bindImage() {
	s.haveFull = false
	r := image.Rect(0, 0, s.w, s.h)
	if s.seg != nil && len(s.seg.mem) >= s.w*s.h*4 {
		s.img = &image.RGBA{Pix: s.seg.mem[: s.w*s.h*4 : s.w*s.h*4], Stride: 4 * s.w, Rect: r}
		s.imgOnSeg = true
		return
	}
	if s.imgOnSeg || s.img == nil || s.img.Rect != r {
		s.img = image.NewRGBA(r)
	}
	s.imgOnSeg = false
}

// drainEvents reads what the server sends unasked until the connection
// closes. MappingNotify reaches every client whenever a keyboard mapping
// changes (e.g. each time xdotool or robotgo types an unmapped character),
// and xgb queues at most 5000 events and then stops reading replies too:
// without this loop Capture would hang for good after a long typing session.
func (s *x11Source) drainEvents() {
	defer close(s.eventsDone)
	for {
		ev, err := s.conn.WaitForEvent()
		if ev == nil && err == nil {
			return // closed
		}
		s.onEvent(ev)
		if err != nil {
			s.log.Debug("capture: X error", "err", err)
		}
	}
}

// Close releases the connection and the shared memory. It waits for a
// Capture in progress; cancel that Capture's context first if the display
// may be grabbed by another client.
func (s *x11Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.closeConn()
	if s.seg != nil {
		// The connection is closed: the server detaches on its own.
		s.seg.unmap()
		s.seg = nil
	}
	s.img = nil
	return nil
}

// closeTimeout bounds how long Close waits for xgb to shut the connection
// down. xgb makes a round trip first, which a server grabbed by another
// client does not answer.
const closeTimeout = 2 * time.Second

// closeConn closes the connection and waits for its goroutines, or until
// closeTimeout.
func (s *x11Source) closeConn() {
	s.conn.Close()
	t := time.NewTimer(closeTimeout)
	defer t.Stop()
	select {
	case <-s.eventsDone:
	case <-t.C:
		s.log.Warn("capture: X connection did not close in time", "timeout", closeTimeout)
	}
}
