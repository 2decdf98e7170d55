package capture

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"

	"assist/internal/pixconv"
	"assist/internal/xconn"
	"assist/internal/xgblog"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/shm"
	"github.com/jezek/xgb/xproto"
)

// x11Source reads the root window of one X screen over a persistent
// connection, into a MIT-SHM segment when it can.
type x11Source struct {
	log  *slog.Logger
	conn *xgb.Conn
	raw  bool // conn reads and writes through raw system calls (xconn.Open)
	root xproto.Window
	msb  bool // image byte order MSBFirst: pixels are X R G B in memory

	eventsDone chan struct{} // closed when drainEvents returns

	mu       sync.Mutex // guards everything below
	closed   bool
	w, h     int
	img      *image.RGBA        // the newest frame: bufs[cur]
	bufs     [2]*image.RGBA     // the frame buffers (on the heap, the second one made by the first Keep)
	cur      int                // which buffer img is
	kept     int                // which buffer Keep left alone (-1: none)
	target   int                // which buffer the Capture in progress writes
	stale    [2]image.Rectangle // where each buffer may differ from the newest frame
	blank    [2]bool            // the buffer has held no frame since the buffers were bound
	seg      *shmSegment        // nil: plain GetImage
	imgOnSeg bool               // the buffers are seg's memory
	segs     Segments           // the newest frame's segment hashes, computed as convert writes it
	pending  chan grabResult    // replies of a Capture whose context ended first

	extras // damage, cursor and monitors (x11extra_linux.go)
}

// maxAttempts bounds how often one Capture re-reads a screen that changes
// size while it is being read.
const maxAttempts = 3

func open(display string, log *slog.Logger) (Source, error) {
	xgblog.Quiet()
	if display == "" {
		display = os.Getenv("DISPLAY")
		if display == "" {
			return nil, errors.New("capture: no X display: DISPLAY is not set (Wayland-only sessions are not supported)")
		}
	}
	conn, raw, err := xconn.Open(display)
	if err != nil {
		return nil, fmt.Errorf("capture: open display %q: %w", display, err)
	}
	s := &x11Source{log: log.With("display", display), conn: conn, raw: raw, eventsDone: make(chan struct{})}
	s.damageCh = make(chan struct{}, 1)
	s.ptrCh = make(chan struct{}, 1)
	go s.drainEvents()
	if err := s.init(); err != nil {
		s.closeConn()
		return nil, fmt.Errorf("capture: display %q: %w", display, err)
	}
	s.watchPointer(display)
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
	} else if seg, err := newShmSegment(s.conn, segmentSize(s.w, s.h)); err != nil {
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

// segmentSize is the shared memory for a w x h screen: two frame buffers
// (FrameKeeper; the second one's pages are only touched once Keep is
// used), then a scratch area of a quarter of a frame for changes narrower
// than the screen (the server writes an image packed at its own width, so
// a rectangle cannot land in place).
func segmentSize(w, h int) int { return 2*w*h*4 + w*h }

// scratchOffset is where the scratch area starts in the segment.
func (s *x11Source) scratchOffset() int { return 2 * s.w * s.h * 4 }

// shmOffset is where the pixels of area land in the segment: in place in
// the buffer being written for whole rows, else packed at the start of the
// scratch area.
func (s *x11Source) shmOffset(area image.Rectangle) int {
	if area.Dx() < s.w {
		return s.scratchOffset()
	}
	return (s.target*s.h + area.Min.Y) * s.w * 4
}

// readArea is what to read of the screen for a change within band: band
// itself when it is narrower than the screen and fits the scratch area (or
// there is no shared memory: plain GetImage returns any rectangle packed),
// else the whole rows it spans, which land in place. Reading only the
// changed columns spares the X server's copy and the conversion of pixels
// that did not change (a terminal scrolling beside a wide screen).
func (s *x11Source) readArea(band image.Rectangle) image.Rectangle {
	if band.Dx() < s.w && (s.seg == nil || band.Dx()*band.Dy()*4 <= len(s.seg.mem)-s.scratchOffset()) {
		return band
	}
	return image.Rect(0, band.Min.Y, s.w, band.Max.Y)
}

// request sends GetGeometry and GetImage of area together, so that a size
// change costs no extra round trip, and returns a channel that delivers the
// replies. With shared memory the pixels land at shmOffset. The waiting
// goroutine touches only xgb cookies, never s, so an abandoned request
// cannot race with Close.
func (s *x11Source) request(area image.Rectangle, rearm bool) chan grabResult {
	if rearm {
		s.rearmDamage() // damage from here on wakes the next capture
	}
	geoC := xproto.GetGeometry(s.conn, xproto.Drawable(s.root))
	x0, y0, w, h := int16(area.Min.X), int16(area.Min.Y), uint16(area.Dx()), uint16(area.Dy())
	ch := make(chan grabResult, 1)
	if seg := s.seg; seg != nil {
		if area.Dx() == s.w {
			// The server writes these rows over the buffer's pixels.
			s.stale[s.target] = s.stale[s.target].Union(area)
		}
		imgC := shm.GetImage(s.conn, xproto.Drawable(s.root), x0, y0, w, h, ^uint32(0),
			xproto.ImageFormatZPixmap, seg.id, uint32(s.shmOffset(area)))
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
	imgC := xproto.GetImage(s.conn, xproto.ImageFormatZPixmap, xproto.Drawable(s.root), x0, y0, w, h, ^uint32(0))
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
	s.chooseTarget()
	// With DAMAGE and a whole frame in hand, read only what changed: in the
	// same round trip as the damage when the guess holds it.
	area, rearm := image.Rect(0, 0, s.w, s.h), true
	if s.haveFull {
		// The damage leaves the server with the subtract: until what it
		// covers is in the frame, only a whole frame will do.
		s.haveFull = false
		spec := s.speculate()
		band, ok, specCh, err := s.damagedRows(ctx, spec)
		var sr grabResult
		if specCh != nil && err == nil {
			// Sent before the damage's reply came: here already.
			select {
			case sr = <-specCh:
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		if err != nil {
			if specCh != nil && ctx.Err() != nil {
				s.pending = specCh
			}
			return nil, err
		}
		if ok {
			if band.Empty() {
				s.changed, s.haveFull = image.Rectangle{}, true
				return s.img, nil
			}
			s.remember(band)
			if specCh != nil && band.In(spec) && sr.geoErr == nil && sr.imgErr == nil && sr.w == s.w && sr.h == s.h {
				src := sr.data
				if sr.viaShm {
					off := s.shmOffset(spec)
					src = s.seg.mem[off : off+spec.Dx()*spec.Dy()*4]
				}
				if len(src) == spec.Dx()*spec.Dy()*4 {
					s.switchTo(band)
					s.convert(band, spec, src)
					s.changed, s.haveFull = band, true
					return s.img, nil
				}
			}
			area, rearm = s.readArea(band), false
		}
	}
	var lastErr error
	for range maxAttempts {
		ch := s.request(area, rearm)
		s.roundTrips++
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
			area, rearm = image.Rect(0, 0, s.w, s.h), true
			continue
		}
		if r.imgErr != nil {
			lastErr = r.imgErr
			if _, sizeRace := r.imgErr.(xproto.MatchError); !sizeRace && r.viaShm {
				s.log.Warn("capture: shm GetImage failed, using plain GetImage", "err", r.imgErr)
				s.img, s.bufs = nil, [2]*image.RGBA{}
				s.seg.free(s.conn)
				s.seg = nil
				s.bindImage()
				area, rearm = image.Rect(0, 0, s.w, s.h), true
			}
			continue // BadMatch: the size changed after GetGeometry
		}
		n := area.Dx() * area.Dy() * 4
		src := r.data
		if r.viaShm {
			off := s.shmOffset(area)
			src = s.seg.mem[off : off+n]
		}
		if len(src) != n {
			return nil, fmt.Errorf("capture: GetImage of %v returned %d bytes", area, len(src))
		}
		s.switchTo(area)
		s.convert(area, area, src)
		if rearm {
			s.remember(image.Rectangle{}) // a whole frame: no guess to follow
		}
		s.changed = area
		s.haveFull = true
		return s.img, nil
	}
	if lastErr == nil {
		lastErr = errors.New("screen size kept changing")
	}
	return nil, fmt.Errorf("capture: GetImage of %dx%d: %w", s.w, s.h, lastErr)
}

// convert fills area of s.img from the server's pixels of from (which holds
// area), packed rows of from's width, splitting a large area across two
// goroutines.
func (s *x11Source) convert(area, from image.Rectangle, src []byte) {
	conv := pixconv.BGRXToRGBA
	if s.msb {
		conv = pixconv.XRGBToRGBA
	}
	stride := from.Dx() * 4
	// Each row's segments are hashed right after the row is converted,
	// while it is in the nearest cache (Segments).
	rows := func(y0, y1 int) {
		if area.Dx() == s.w && from.Dx() == s.w { // whole rows: runs of rows (the image's stride is 4*w, like the server's)
			for b0 := y0; b0 < y1; b0 += convertBand {
				b1 := min(b0+convertBand, y1)
				conv(s.img.Pix[s.img.PixOffset(0, b0):s.img.PixOffset(0, b1)], src[(b0-from.Min.Y)*stride:(b1-from.Min.Y)*stride])
				for y := b0; y < b1; y++ {
					s.segs.hashRow(s.img, y, 0, s.w)
				}
			}
			return
		}
		rowLen := area.Dx() * 4
		for y := y0; y < y1; y++ {
			o := s.img.PixOffset(area.Min.X, y)
			k := (y-from.Min.Y)*stride + (area.Min.X-from.Min.X)*4
			conv(s.img.Pix[o:o+rowLen], src[k:k+rowLen])
			s.segs.hashRow(s.img, y, area.Min.X, area.Max.X)
		}
	}
	// Two goroutines for a large area, when there are two processors to
	// run them (the agent runs on one while lightly loaded: internal/procs).
	if area.Dx()*area.Dy()*4 < 1<<20 || area.Dy() < 2 || runtime.GOMAXPROCS(0) < 2 {
		rows(area.Min.Y, area.Max.Y)
		return
	}
	mid := area.Min.Y + area.Dy()/2
	var wg sync.WaitGroup
	wg.Go(func() { rows(area.Min.Y, mid) })
	rows(mid, area.Max.Y)
	wg.Wait()
}

// convertBand is how many whole rows convert converts before hashing them:
// four rows of 1920 pixels are 30 KB, within the first-level cache.
const convertBand = 4

// Segments returns the segment hashes of the frame the last Capture
// returned (SegmentSource); nil when the last Capture failed.
func (s *x11Source) Segments() *Segments {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.haveFull || s.img == nil {
		return nil
	}
	return &s.segs
}

// resize adapts the buffers to a new root size.
func (s *x11Source) resize(w, h int) error {
	s.log.Info("capture: screen size changed", "from", fmt.Sprintf("%dx%d", s.w, s.h), "to", fmt.Sprintf("%dx%d", w, h))
	if w <= 0 || h <= 0 {
		return fmt.Errorf("capture: root window is %dx%d", w, h)
	}
	s.w, s.h = w, h
	if s.seg != nil && len(s.seg.mem) < segmentSize(w, h) {
		s.img, s.bufs = nil, [2]*image.RGBA{} // they live in the segment
		s.seg.free(s.conn)
		s.seg = nil
		seg, err := newShmSegment(s.conn, segmentSize(w, h))
		if err != nil {
			s.log.Warn("capture: no shared memory for the new size, using plain GetImage", "err", err)
		} else {
			s.seg = seg
		}
	}
	s.bindImage()
	return nil
}

// bindImage points the frame buffers at their memory: the shared segment
// itself when there is one (the server's BGRX pixels become RGBA in place:
// no second copy of a frame), else the heap. Whatever they held is no
// longer a whole frame, and no frame is kept any more.
func (s *x11Source) bindImage() {
	s.haveFull = false
	s.cur, s.target, s.kept = 0, 0, -1
	r := image.Rect(0, 0, s.w, s.h)
	s.stale = [2]image.Rectangle{r, r}
	s.blank = [2]bool{true, true}
	defer func() { s.img = s.bufs[0]; s.segs.reset(s.img) }()
	n := s.w * s.h * 4
	if s.seg != nil && len(s.seg.mem) >= 2*n {
		for i := range s.bufs {
			s.bufs[i] = &image.RGBA{Pix: s.seg.mem[i*n : (i+1)*n : (i+1)*n], Stride: 4 * s.w, Rect: r}
		}
		s.imgOnSeg = true
		return
	}
	if s.imgOnSeg || s.bufs[0] == nil || s.bufs[0].Rect != r {
		s.bufs = [2]*image.RGBA{image.NewRGBA(r)} // the second at the first Keep
	}
	s.imgOnSeg = false
}

// Keep leaves the newest frame alone until the next Keep (FrameKeeper).
func (s *x11Source) Keep() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || !s.haveFull || s.img == nil {
		return false
	}
	s.kept = s.cur
	if o := 1 - s.cur; s.blank[o] {
		// The other buffer catches up with the whole frame now, while the
		// screen rests (the caller keeps a frame it has just sent), rather
		// than in the Capture of the next change.
		if s.bufs[o] == nil {
			s.bufs[o] = image.NewRGBA(s.img.Rect)
		}
		s.catchUp(o, image.Rectangle{})
	}
	return true
}

// Kept returns the frame Keep left alone, if it still is (FrameKeeper).
func (s *x11Source) Kept() *image.RGBA {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.kept < 0 {
		return nil
	}
	return s.bufs[s.kept]
}

// chooseTarget picks the buffer this Capture writes: the newest frame's
// own, unless the caller keeps it (Keep).
func (s *x11Source) chooseTarget() {
	s.target = s.cur
	if s.kept != s.cur {
		return
	}
	s.target = 1 - s.cur // Keep gave it a frame
}

// switchTo makes the target buffer the newest frame before area is
// converted into it: where it is behind the newest frame outside area, it
// catches up (a scroll or a window's steps change the same place frame
// after frame, so this is little or nothing). Its segment hashes are the
// newest frame's already.
func (s *x11Source) switchTo(area image.Rectangle) {
	t := s.target
	if t != s.cur {
		s.catchUp(t, area)
		s.cur, s.img = t, s.bufs[t]
		s.segs.pix = s.img.Pix // same frame, same hashes: another buffer
	}
	s.stale[t], s.blank[t] = image.Rectangle{}, false
	s.stale[1-t] = s.stale[1-t].Union(area)
}

// catchUp gives buffer t the newest frame's pixels where it is behind them,
// except in skip (about to be written anyway): it then holds the newest
// frame outside skip.
func (s *x11Source) catchUp(t int, skip image.Rectangle) {
	from, to := s.bufs[s.cur], s.bufs[t]
	for _, r := range subtract(s.stale[t], skip) {
		n := 4 * r.Dx()
		for y := r.Min.Y; y < r.Max.Y; y++ {
			o := from.PixOffset(r.Min.X, y)
			copy(to.Pix[o:o+n], from.Pix[o:o+n])
		}
	}
	s.stale[t], s.blank[t] = skip.Intersect(s.stale[t]), false
}

// subtract returns a minus b as up to four rectangles.
func subtract(a, b image.Rectangle) []image.Rectangle {
	b = b.Intersect(a)
	if b.Empty() {
		if a.Empty() {
			return nil
		}
		return []image.Rectangle{a}
	}
	var out []image.Rectangle
	for _, r := range []image.Rectangle{
		image.Rect(a.Min.X, a.Min.Y, a.Max.X, b.Min.Y), // above
		image.Rect(a.Min.X, b.Max.Y, a.Max.X, a.Max.Y), // below
		image.Rect(a.Min.X, b.Min.Y, b.Min.X, b.Max.Y), // left
		image.Rect(b.Max.X, b.Min.Y, a.Max.X, b.Max.Y), // right
	} {
		if !r.Empty() {
			out = append(out, r)
		}
	}
	return out
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
			// Closed, or the server went away: wake the streamer, whose
			// next Capture reports it (it would wait for damage forever).
			select {
			case s.damageCh <- struct{}{}:
			default:
			}
			return
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
	if s.motion != nil {
		s.motion.Close()
	}
	s.closeConn()
	if s.seg != nil {
		// The connection is closed: the server detaches on its own.
		s.seg.unmap()
		s.seg = nil
	}
	s.img, s.bufs = nil, [2]*image.RGBA{}
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
