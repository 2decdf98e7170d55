package capture

import (
	"context"
	"errors"
	"fmt"
	"image"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"assist/internal/xmotion"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/damage"
	"github.com/jezek/xgb/randr"
	"github.com/jezek/xgb/xfixes"
	"github.com/jezek/xgb/xproto"
)

// extras is what the X11 source knows beyond pixels: DAMAGE tells when the
// screen changed (so a static screen costs no captures), XFIXES gives the
// cursor's shape (X never draws the cursor into GetImage's pixels: it
// travels apart), RandR 1.5 lists the monitors.
type extras struct {
	damageOK, xfixesOK, randrOK bool

	damage   damage.Damage
	damageCh chan struct{} // capacity 1: "something changed since the last capture"
	region   xfixes.Region // where the damage is fetched into
	haveFull bool          // s.img holds a whole frame: damaged rows suffice
	changed  image.Rectangle
	// The damaged boxes of the last two captures, from which the next one
	// is guessed (speculate).
	lastBox, prevBox image.Rectangle
	roundTrips       int // Capture's waits for the server, counted for tests

	cursorChanged atomic.Bool // an XFixes CursorNotify arrived
	cursorSerial  uint32      // guarded by x11Source.mu
	shapeSent     bool        // guarded by x11Source.mu

	// XInput 2 raw motion (internal/xmotion) and CursorNotify signal ptrCh:
	// the pointer is looked at when it moved, not polled.
	motion     *xmotion.Watcher
	motionLost sync.Once // logs why the watcher stopped
	ptrCh      chan struct{}

	// The top-level windows are read again only after the server said
	// that one was created, destroyed, mapped, unmapped, reparented or
	// restacked (SubstructureNotify on the root); without that selection,
	// at every Windows call. A desktop has dozens of them: two requests
	// each per frame otherwise. A window moved or resized in its place in
	// the stack is updated from its ConfigureNotify: dragging a window
	// costs no round trips for the list.
	windowsWatched bool
	winMu          sync.Mutex // guards the five below; taken after x11Source.mu, or alone
	windowsStale   bool
	windowsReading bool     // a read is in flight: an event makes the list stale
	windowsCache   []Window // never changed in place: callers keep it
	windowsOrder   []uint32 // every child of the root at the last read, bottom to top
	windowReads    int      // counted for tests
}

// initExtras sets up whatever extensions the server has; each one missing
// only costs its feature.
func (s *x11Source) initExtras() {
	if err := xfixes.Init(s.conn); err == nil {
		if _, err := xfixes.QueryVersion(s.conn, 5, 0).Reply(); err == nil {
			s.xfixesOK = xfixes.SelectCursorInputChecked(s.conn, s.root, xfixes.CursorNotifyMaskDisplayCursor).Check() == nil
		}
	}
	if !s.xfixesOK {
		s.log.Info("capture: no XFIXES: the rep sees no cursor shape")
	}
	if err := damage.Init(s.conn); err == nil && s.xfixesOK {
		if _, err := damage.QueryVersion(s.conn, 1, 1).Reply(); err == nil {
			if id, err := damage.NewDamageId(s.conn); err == nil &&
				damage.CreateChecked(s.conn, id, xproto.Drawable(s.root), damage.ReportLevelNonEmpty).Check() == nil {
				s.damage, s.damageOK = id, true
			}
			if rid, err := xfixes.NewRegionId(s.conn); s.damageOK && err == nil &&
				xfixes.CreateRegionChecked(s.conn, rid, nil).Check() == nil {
				s.region = rid
			}
		}
	}
	if !s.damageOK {
		s.log.Info("capture: no DAMAGE: the screen is polled at the frame rate")
	}
	s.winMu.Lock()
	s.windowsStale = true // the event goroutine runs already
	s.winMu.Unlock()
	s.windowsWatched = xproto.ChangeWindowAttributesChecked(s.conn, s.root, xproto.CwEventMask,
		[]uint32{xproto.EventMaskSubstructureNotify}).Check() == nil
	if err := randr.Init(s.conn); err == nil {
		if v, err := randr.QueryVersion(s.conn, 1, 5).Reply(); err == nil && (v.MajorVersion > 1 || v.MinorVersion >= 5) {
			s.randrOK = true
		}
	}
}

// rearmDamage empties the damage region: the next change sends a new
// DamageNotify. Sent just before GetImage, so no change can fall between.
func (s *x11Source) rearmDamage() {
	if s.damageOK {
		damage.Subtract(s.conn, s.damage, 0, 0)
	}
}

// damagedRows moves the damage so far into s.region (which also re-arms
// DamageNotify) and returns its bounding box; ok is false when the server
// cannot tell (then read everything). When spec is not empty, its pixels
// are read in the same round trip, right after the damage is taken: what
// the returned channel delivers holds them, packed at spec's width (spec
// must be a rectangle readArea packs).
func (s *x11Source) damagedRows(ctx context.Context, spec image.Rectangle) (box image.Rectangle, ok bool, specCh chan grabResult, err error) {
	if !s.damageOK || s.region == 0 {
		return image.Rectangle{}, false, nil, nil
	}
	damage.Subtract(s.conn, s.damage, 0, s.region)
	s.roundTrips++
	if !spec.Empty() {
		specCh = s.request(spec, false)
	}
	r, err := reply(ctx, xfixes.FetchRegion(s.conn, s.region).Reply)
	if err == nil && r == nil {
		err = errNoReply
	}
	if err != nil {
		if ctx.Err() != nil {
			return image.Rectangle{}, false, specCh, err
		}
		return image.Rectangle{}, false, specCh, nil
	}
	e := r.Extents
	ext := image.Rect(int(e.X), int(e.Y), int(e.X)+int(e.Width), int(e.Y)+int(e.Height)).Intersect(image.Rect(0, 0, s.w, s.h))
	return ext, true, specCh, nil
}

// speculate guesses what the next capture's damage is, so that its pixels
// can be read in the same round trip as the damage (one round trip per
// update instead of two): the last damaged box, and that box moved on by
// as much as it moved since the one before (the next character of a line
// being typed, the next step of a dragged window, the same terminal
// scrolling again). Empty when there is no guess, when it is larger than a
// quarter of the screen (a wrong guess costs the server a copy of it), or
// when it would not be read packed (with shared memory: into the scratch
// area; whole rows land in place, over the frame, which a guess must not
// touch).
func (s *x11Source) speculate() image.Rectangle {
	last, prev := s.lastBox, s.prevBox
	if last.Empty() {
		return image.Rectangle{}
	}
	g := last
	if !prev.Empty() {
		d := last.Min.Sub(prev.Min)
		if abs(d.X) <= speculateStep && abs(d.Y) <= speculateStep {
			g = g.Union(last.Add(d))
		}
	}
	g = g.Intersect(image.Rect(0, 0, s.w, s.h))
	if g.Empty() || g.Dx()*g.Dy() > s.w*s.h/4 || s.readArea(g) != g || s.seg != nil && s.shmOffset(g) != s.scratchOffset() {
		return image.Rectangle{}
	}
	return g
}

// speculateStep is the largest move between two damaged boxes that the
// guess follows; anything farther is a new place, not a continuation.
const speculateStep = 128

// remember notes a capture's damaged box for the next guess.
func (s *x11Source) remember(box image.Rectangle) {
	s.prevBox, s.lastBox = s.lastBox, box
}

// Changed implements ChangeReporter.
func (s *x11Source) Changed() image.Rectangle {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// onEvent handles one event from the server (on the event goroutine).
func (s *x11Source) onEvent(ev xgb.Event) {
	switch ev := ev.(type) {
	case damage.NotifyEvent:
		select {
		case s.damageCh <- struct{}{}:
		default:
		}
	case xfixes.CursorNotifyEvent:
		s.cursorChanged.Store(true)
		s.pointerChanged()
	case xproto.ConfigureNotifyEvent:
		s.windowConfigured(ev)
	case xproto.MapNotifyEvent, xproto.UnmapNotifyEvent,
		xproto.CreateNotifyEvent, xproto.DestroyNotifyEvent, xproto.ReparentNotifyEvent,
		xproto.CirculateNotifyEvent, xproto.GravityNotifyEvent:
		s.winMu.Lock()
		s.windowsStale = true
		s.winMu.Unlock()
	}
}

// windowConfigured follows a child of the root that moved or changed size:
// in place when it stayed where it was in the stack (the sibling below it
// is the one the last read had there), else the list is read again.
func (s *x11Source) windowConfigured(ev xproto.ConfigureNotifyEvent) {
	s.winMu.Lock()
	defer s.winMu.Unlock()
	if s.windowsStale || s.windowsReading {
		s.windowsStale = true
		return
	}
	i := slices.Index(s.windowsOrder, uint32(ev.Window))
	below := uint32(0)
	if i > 0 {
		below = s.windowsOrder[i-1]
	}
	if i < 0 || uint32(ev.AboveSibling) != below {
		s.windowsStale = true
		return
	}
	b := int(ev.BorderWidth)
	r := image.Rect(int(ev.X), int(ev.Y), int(ev.X)+int(ev.Width)+2*b, int(ev.Y)+int(ev.Height)+2*b)
	for k, w := range s.windowsCache {
		if w.ID == uint32(ev.Window) && w.Rect != r {
			ws := slices.Clone(s.windowsCache)
			ws[k].Rect = r
			s.windowsCache = ws
		}
	}
	// Not in the list: not viewable, nothing on screen moved.
}

// Damage implements Damager: it delivers when the screen changed since the
// last Capture began. Nil (never delivers) without the DAMAGE extension.
func (s *x11Source) Damage() <-chan struct{} {
	if !s.damageOK {
		return nil
	}
	return s.damageCh
}

// watchPointerTimeout bounds the XInput 2 connection's setup.
const watchPointerTimeout = 5 * time.Second

// watchPointer opens the XInput 2 raw motion watcher; without one the
// pointer is polled.
func (s *x11Source) watchPointer(display string) {
	ctx, cancel := context.WithTimeout(context.Background(), watchPointerTimeout)
	defer cancel()
	w, err := xmotion.Open(ctx, display, PointerReportEvery, s.pointerChanged)
	if err != nil {
		s.log.Info("capture: no XInput 2 raw motion: the pointer is polled", "err", err)
		return
	}
	s.motion = w
}

// pointerChanged signals PointerChanged.
func (s *x11Source) pointerChanged() {
	select {
	case s.ptrCh <- struct{}{}:
	default:
	}
}

// PointerChanged implements PointerWatcher.
func (s *x11Source) PointerChanged() <-chan struct{} { return s.ptrCh }

// PointerWatched implements PointerWatcher: the motion watcher runs.
func (s *x11Source) PointerWatched() bool {
	if s.motion == nil {
		return false
	}
	select {
	case <-s.motion.Done():
		s.motionLost.Do(func() {
			if err := s.motion.Err(); err != nil {
				s.log.Info("capture: XInput 2 raw motion stopped: the pointer is polled", "err", err)
			}
		})
		return false
	default:
		return true
	}
}

// Pointer implements PointerSource.
func (s *x11Source) Pointer(ctx context.Context) (Pointer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Pointer{}, ErrClosed
	}
	qc := xproto.QueryPointer(s.conn, s.root)
	var ic xfixes.GetCursorImageCookie
	fetch := s.xfixesOK && (s.cursorChanged.Swap(false) || !s.shapeSent)
	if fetch {
		ic = xfixes.GetCursorImage(s.conn)
	}
	q, err := reply(ctx, qc.Reply)
	if err == nil && q == nil {
		err = errNoReply
	}
	if err != nil {
		return Pointer{}, fmt.Errorf("capture: query pointer: %w", err)
	}
	p := Pointer{X: int(q.RootX), Y: int(q.RootY), Visible: q.SameScreen, Serial: s.cursorSerial}
	if !fetch {
		return p, nil
	}
	img, err := reply(ctx, ic.Reply)
	if err == nil && img == nil {
		err = errNoReply
	}
	if err != nil {
		s.cursorChanged.Store(true) // try again next time
		return p, fmt.Errorf("capture: cursor image: %w", err)
	}
	w, h := int(img.Width), int(img.Height)
	if w <= 0 || h <= 0 || len(img.CursorImage) < w*h {
		return p, nil
	}
	shape := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i, v := range img.CursorImage[:w*h] {
		// Premultiplied ARGB to straight RGBA.
		a := v >> 24
		px := shape.Pix[4*i : 4*i+4]
		if a == 0 {
			continue
		}
		un := func(c uint32) byte { return byte(min(255, (c*255+a/2)/a)) }
		px[0], px[1], px[2], px[3] = un(v>>16&0xff), un(v>>8&0xff), un(v&0xff), byte(a)
	}
	s.cursorSerial = img.CursorSerial
	s.shapeSent = true
	p.Serial = img.CursorSerial
	p.Shape = shape
	p.Hot = image.Pt(min(int(img.Xhot), w-1), min(int(img.Yhot), h-1))
	return p, nil
}

// Monitors implements MonitorSource: RandR 1.5's monitors, or the whole
// screen as one when the server has none to tell.
func (s *x11Source) Monitors(ctx context.Context) ([]Monitor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	whole := []Monitor{{Rect: image.Rect(0, 0, s.w, s.h), Primary: true}}
	if !s.randrOK {
		return whole, nil
	}
	r, err := reply(ctx, randr.GetMonitors(s.conn, s.root, true).Reply)
	if err == nil && r == nil {
		err = errNoReply
	}
	if err != nil {
		return nil, fmt.Errorf("capture: monitors: %w", err)
	}
	var out []Monitor
	for _, m := range r.Monitors {
		rect := image.Rect(int(m.X), int(m.Y), int(m.X)+int(m.Width), int(m.Y)+int(m.Height)).Intersect(image.Rect(0, 0, s.w, s.h))
		if !rect.Empty() {
			out = append(out, Monitor{Rect: rect, Primary: m.Primary})
		}
	}
	if len(out) == 0 {
		return whole, nil
	}
	return out, nil
}

var errNoReply = errors.New("the X server sent no reply")

// reply waits for an X reply or ctx, whichever comes first. A reply that
// comes after ctx ended is dropped by the waiting goroutine, which ends
// when the reply arrives or the connection closes.
func reply[T any](ctx context.Context, get func() (T, error)) (T, error) {
	type res struct {
		v   T
		err error
	}
	ch := make(chan res, 1)
	go func() {
		v, err := get()
		ch <- res{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// Windows implements WindowSource: the viewable children of the root
// window (the top-level windows, or a window manager's frames).
func (s *x11Source) Windows(ctx context.Context) ([]Window, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	s.winMu.Lock()
	if s.windowsWatched && !s.windowsStale {
		ws := s.windowsCache
		s.winMu.Unlock()
		return ws, nil
	}
	s.windowsStale, s.windowsReading = false, true
	s.windowReads++
	s.winMu.Unlock()
	ws, order, err := s.readWindows(ctx)
	s.winMu.Lock()
	defer s.winMu.Unlock()
	s.windowsReading = false
	if err != nil {
		s.windowsStale = true
		return nil, err
	}
	s.windowsCache, s.windowsOrder = ws, order
	return ws, nil
}

// readWindows asks the server for the mapped top-level windows, bottom to
// top, and returns every child of the root in stacking order too.
func (s *x11Source) readWindows(ctx context.Context) ([]Window, []uint32, error) {
	tree, err := reply(ctx, xproto.QueryTree(s.conn, s.root).Reply)
	if err == nil && tree == nil {
		err = errNoReply
	}
	if err != nil {
		return nil, nil, fmt.Errorf("capture: windows: %w", err)
	}
	order := make([]uint32, len(tree.Children))
	for i, w := range tree.Children {
		order[i] = uint32(w)
	}
	kids := tree.Children
	if len(kids) > 256 {
		kids = kids[len(kids)-256:] // the topmost
	}
	attrs := make([]xproto.GetWindowAttributesCookie, len(kids))
	geos := make([]xproto.GetGeometryCookie, len(kids))
	for i, w := range kids {
		attrs[i] = xproto.GetWindowAttributes(s.conn, w)
		geos[i] = xproto.GetGeometry(s.conn, xproto.Drawable(w))
	}
	var out []Window
	for i, w := range kids {
		a, aerr := attrs[i].Reply()
		g, gerr := geos[i].Reply()
		if aerr != nil || gerr != nil || a == nil || g == nil || a.MapState != xproto.MapStateViewable {
			continue // gone meanwhile, or unmapped
		}
		b := int(g.BorderWidth)
		r := image.Rect(int(g.X), int(g.Y), int(g.X)+int(g.Width)+2*b, int(g.Y)+int(g.Height)+2*b)
		out = append(out, Window{ID: uint32(w), Rect: r})
	}
	return out, order, nil
}
