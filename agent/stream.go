package agent

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"time"

	"assist/capture"
	"assist/protocol"
)

// Streaming timings.
const (
	// refineQuiet is how long a lossy area must stay unchanged before it
	// is refined.
	refineQuiet = 300 * time.Millisecond
	// pointerInterval is how often the pointer is polled while a rep
	// watches (X11 reports shape changes, not motion).
	pointerInterval = 25 * time.Millisecond
	// pointerIdleInterval is the polling interval once the pointer has
	// rested for pointerIdleAfter, and pointerRestInterval once it has
	// rested for pointerRestAfter: each poll is an X round trip through
	// xgb's goroutines (a tenth of the agent's CPU on a static screen at
	// 10 Hz), and a customer who takes the mouse after a long pause is
	// seen within a quarter second, then at the full rate.
	pointerIdleInterval = 100 * time.Millisecond
	pointerIdleAfter    = 2 * time.Second
	pointerRestInterval = 250 * time.Millisecond
	pointerRestAfter    = 10 * time.Second
	// pointerWatchedInterval is the polling interval where the source
	// tells when the pointer moved (capture.PointerWatcher: XInput 2 raw
	// motion, XFixes cursor changes): only what no event announces is left
	// to it, a program warping the pointer. Polling at the rates above was
	// a quarter of the agent's CPU over the workload of `make bench`.
	pointerWatchedInterval = time.Second
	// monitorsEvery is how often the monitor list is read again.
	monitorsEvery = 5 * time.Second
)

// streamer is the screen pipeline, owned by the stream goroutine: capture
// when something changed and some rep has room, hash, find moves, diff per
// rep, encode in parallel (once per distinct rectangle and quality), send.
type streamer struct {
	a        *agent
	src      Screen
	damage   <-chan struct{} // nil: poll at the frame rate
	pointer  capture.PointerSource
	monitors capture.MonitorSource
	windows  capture.WindowSource
	keeper   capture.FrameKeeper // nil: each area copies its previous frame
	keptNo   uint64              // the capture keeper holds (0: none)
	pool     *capture.Pool
	wins     []capture.Window // the top-level windows at the last capture

	areas       map[image.Rectangle]*area // per shared area (a monitor or all)
	mons        []capture.Monitor
	monsAt      time.Time
	full        image.Rectangle // the whole screen at the last capture
	dirty       bool            // the screen changed since the last capture
	lastCapture time.Time
	frame       *image.RGBA // the last capture (owned by src)
	captureNo   uint64      // counts captures
	lastErr     string
	synced      []bool // scratch for Tracker.Synced

	ptr      capture.Pointer
	ptrMoved time.Time // when the pointer last moved
	shape    []byte    // the pointer's shape as PNG, for reps that lack it
	shapeHot image.Point
	serial   uint32
}

// area is the state of one shared rectangle of the screen.
type area struct {
	rect      image.Rectangle
	tiles     *capture.Tiles // this frame's
	prevTiles *capture.Tiles // the previous frame's
	prevNo    uint64         // the capture prevTiles are of (0: none)
	post      *capture.Tiles // scratch: the previous frame's after a move
	prev      *image.RGBA    // the previous frame's pixels (bounds = rect), without a FrameKeeper
	det       capture.MoveDetector
	wins      []capture.Window // the windows when prev was captured
	pending   image.Rectangle  // changed since tiles were hashed
	used      bool
}

// stream runs the streamer until ctx ends.
func (a *agent) stream(ctx context.Context) {
	s := &streamer{a: a, src: a.cfg.Screen, pool: capture.NewPool(0), areas: map[image.Rectangle]*area{}, dirty: true}
	if d, ok := s.src.(capture.Damager); ok {
		s.damage = d.Damage()
	}
	s.pointer, _ = s.src.(capture.PointerSource)
	s.monitors, _ = s.src.(capture.MonitorSource)
	s.windows, _ = s.src.(capture.WindowSource)
	s.keeper, _ = s.src.(capture.FrameKeeper)
	var ptrTick <-chan time.Time
	var ptrTimer *time.Timer
	var ptrChanged <-chan struct{}
	watcher, _ := s.src.(capture.PointerWatcher)
	if s.pointer != nil {
		ptrTimer = time.NewTimer(pointerInterval)
		defer ptrTimer.Stop()
		ptrTick = ptrTimer.C
		if watcher != nil {
			ptrChanged = watcher.PointerChanged()
		}
	}
	// lookAtPointer sends the pointer and times the next poll; polled
	// tells a poll from a look on the source's report.
	reported := false                   // a report came since the last poll
	watchWait := pointerWatchedInterval // the wait between polls of a watched pointer
	lookAtPointer := func(polled bool) {
		moved := s.sendPointer(ctx, a.openPeers())
		if watcher != nil && watcher.PointerWatched() {
			if polled {
				watchWait = watchedPoll(watchWait, moved && !reported)
			}
			reported = !polled
			ptrTimer.Reset(watchWait)
			return
		}
		// Poll fast while the pointer moves, slowly while it rests.
		ptrTimer.Reset(pointerPoll(moved, time.Since(s.ptrMoved)))
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait := s.step(ctx)
		if wait > 0 {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.damage:
			s.dirty = true
		case <-a.wakeCh:
		case <-ptrTick:
			lookAtPointer(true)
		case <-ptrChanged:
			lookAtPointer(false) // its Reset drops a poll that fell due meanwhile (Go >= 1.23 timers)
		case <-timer.C:
		}
		if wait > 0 && !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// step does whatever is due now and returns how long to wait before the
// next step is due (0: only an event can make one due).
func (s *streamer) step(ctx context.Context) time.Duration {
	if s.a.isPaused() {
		s.dirty = true // the customer paused sharing: nothing is captured; resuming wakes us
		return 0
	}
	now := time.Now()
	peers := s.a.openPeers()
	if len(peers) == 0 {
		s.areas = map[image.Rectangle]*area{}
		return 0
	}
	s.refreshMonitors(ctx, peers, now)
	// What each peer needs: a frame when the screen changed (or no damage
	// reports), a full picture when it has none, refinement when due.
	var wait time.Duration
	var ready []*peer
	for _, p := range peers {
		p.tick(now)
		if d := s.resync(p, now); d > 0 {
			wait = minWait(wait, d)
		}
		v := p.view
		q, interval := p.adapt.settings()
		needs := s.dirty || s.damage == nil || s.behind(p)
		if at, ok := v.tracker.NextRefinement(refineQuiet); ok {
			if !now.Before(at) {
				needs = true
			} else {
				wait = minWait(wait, at.Sub(now))
			}
		}
		if !needs {
			continue
		}
		if since := now.Sub(v.lastFrame); since < interval {
			wait = minWait(wait, interval-since)
			continue
		}
		room := p.room()
		p.adapt.frameDue(now, !room, p.sent.Load(), p.screen.BufferedAmount())
		if !room {
			continue // OnBufferedAmountLow wakes us
		}
		v.quality = q
		ready = append(ready, p)
	}
	if len(ready) == 0 {
		if s.damage == nil && wait == 0 {
			wait = s.a.interval
		}
		return wait
	}
	if s.dirty || s.damage == nil || s.frame == nil {
		img, err := s.src.Capture(ctx)
		if err != nil {
			if msg := err.Error(); msg != s.lastErr {
				s.a.log.Error("screen capture failed", "err", err)
				s.lastErr = msg
			}
			return s.a.interval
		}
		s.lastErr = ""
		s.frame, s.dirty, s.lastCapture = img, false, now
		s.full = img.Bounds()
		s.captureNo++
		changed := s.full
		if cr, ok := s.src.(capture.ChangeReporter); ok {
			changed = cr.Changed()
		}
		for _, ar := range s.areas {
			ar.pending = ar.pending.Union(changed)
		}
		if s.windows != nil {
			if ws, err := s.windows.Windows(ctx); err == nil {
				s.wins = ws
			}
		}
	}
	s.sendFrame(ready, now)
	// Look again when something is due that no event announces: soon for
	// a peer whose frame fell short (a failed send restarts its picture),
	// when it is due for the refinement of what just went out lossy.
	// Anything else wakes the loop (damage, room on a channel, the pointer
	// timer): an unconditional look a millisecond after every frame was one
	// more wake-up of the whole process per update.
	sent := time.Now() // encoding took a while
	for _, p := range ready {
		if s.damage == nil || s.behind(p) {
			return minWait(wait, time.Millisecond)
		}
		if at, ok := p.view.tracker.NextRefinement(refineQuiet); ok {
			wait = minWait(wait, at.Sub(sent))
		}
	}
	return wait
}

// behind reports whether p lacks the current frame: a capture it has not
// had, a picture to start again, or another area to watch.
func (s *streamer) behind(p *peer) bool {
	v := p.view
	return v.frameNo != s.captureNo || !v.tracker.Valid() || v.area != s.areaFor(p)
}

// pointerPoll is the wait before the next pointer poll: moved tells whether
// this poll saw the pointer move, rested how long ago it last moved.
func pointerPoll(moved bool, rested time.Duration) time.Duration {
	switch {
	case moved || rested < pointerIdleAfter:
		return pointerInterval
	case rested < pointerRestAfter:
		return pointerIdleInterval
	default:
		return pointerRestInterval
	}
}

// watchedPoll is the wait before the next poll of a watched pointer, given
// the wait before this poll: a poll that found the pointer moved with no
// report (a program warping it; XInput 2 reports no warps) is followed at
// the full rate, and every poll that found nothing doubles the wait, up to
// pointerWatchedInterval. A lone warp so costs a handful of polls (it was
// 2 s of polls at the full rate: 80 X round trips), and a program that
// keeps warping is followed at the full rate.
func watchedPoll(last time.Duration, unannounced bool) time.Duration {
	if unannounced {
		return pointerInterval
	}
	return min(max(2*last, pointerInterval), pointerWatchedInterval)
}

func minWait(a, b time.Duration) time.Duration {
	if a == 0 || b < a {
		return max(b, time.Millisecond)
	}
	return a
}

// areaFor returns the part of the screen p shares: its chosen monitor, or
// the whole screen.
func (s *streamer) areaFor(p *peer) image.Rectangle {
	full := s.full
	if full.Empty() && s.frame != nil {
		full = s.frame.Bounds()
	}
	if m := int(p.monitor.Load()); m > 0 && m <= len(s.mons) {
		if r := s.mons[m-1].Rect.Intersect(full); !r.Empty() {
			return r
		}
	}
	return full
}

// sendFrame sends each ready peer what it lacks of the current frame.
func (s *streamer) sendFrame(ready []*peer, now time.Time) {
	for _, ar := range s.areas {
		ar.used = false
	}
	byArea := map[*area][]*peer{}
	var order []*area
	for _, p := range ready {
		r := s.areaFor(p)
		ar := s.areas[r]
		if ar == nil {
			ar = &area{rect: r}
			s.areas[r] = ar
		}
		if !ar.used {
			ar.used = true
			order = append(order, ar)
		}
		byArea[ar] = append(byArea[ar], p)
	}
	for _, ar := range order {
		s.sendArea(ar, byArea[ar], now)
	}
	// The areas just compared this frame with the one before and noted
	// its tiles: it is the one to compare the next with.
	if s.keeper != nil && s.keeper.Keep() {
		s.keptNo = s.captureNo
	}
}

// prevFrame returns an area's previous frame (its part of it): the one its
// prevTiles describe, nil when there is none to compare with.
func (s *streamer) prevFrame(ar *area, sub *image.RGBA) *image.RGBA {
	if s.keeper == nil {
		if ar.prev != nil && ar.prev.Rect == sub.Rect {
			return ar.prev
		}
		return nil
	}
	kept := s.keeper.Kept()
	if kept == nil || ar.prevNo == 0 || ar.prevNo != s.keptNo || kept.Bounds() != s.frame.Bounds() {
		return nil
	}
	if p, ok := kept.SubImage(ar.rect).(*image.RGBA); ok && p.Rect == sub.Rect {
		return p
	}
	return nil
}

// peerPlan is what one peer gets in this frame.
type peerPlan struct {
	p     *peer
	move  *capture.Move
	items []planItem
}

// planItem is an encoding job (shared by the peers that need it) or a
// reference to a tile the peer's cache holds.
type planItem struct {
	job    int // index into the frame's jobs; -1 for a cached tile
	cached protocol.Rect
	tile   image.Rectangle // cached: the tile, frame coordinates
	q      int             // cached: the quality it went out at (0 exact)
	cost   float32         // cached, lossy: its share of the JPEG it went out in (0: unknown)
}

func (s *streamer) sendArea(ar *area, peers []*peer, now time.Time) {
	sub, ok := s.frame.SubImage(ar.rect).(*image.RGBA)
	if !ok || sub.Bounds().Empty() {
		return
	}
	var segs *capture.Segments // the capture's own hashes of what it just wrote
	if ss, ok := s.src.(capture.SegmentSource); ok {
		segs = ss.Segments()
	}
	ar.tiles = capture.HashTilesFrom(sub, capture.TileSize, ar.tiles, ar.pending, segs)
	ar.pending = image.Rectangle{}

	// Scroll and move detection against the previous frame, once for all.
	// The move is not drawn into prev: what the rep holds after it (post,
	// and the pixels ChangedBounds compares) is read through it.
	prev := s.prevFrame(ar, sub)
	var move *capture.Move
	var post *capture.Tiles
	if prev != nil && ar.prevTiles != nil {
		if changed, any := changedBounds(ar.prevTiles, ar.tiles); any {
			m, ok := movedWindow(ar.wins, s.wins, prev, sub)
			if !ok {
				m, ok = ar.det.DetectIn(prev, sub, ar.prevTiles, ar.tiles, changed)
			}
			if ok {
				// Only the copy's rows changed from prevTiles: a
				// scroll of whole tile columns carries its row
				// hashes along; any other move takes this frame's
				// hashes where it matched them and hashes only the
				// segments its sides cut.
				if ar.post == nil {
					ar.post = &capture.Tiles{}
				}
				post = ar.post
				post.CopyFrom(ar.prevTiles)
				if post.ApplyMove(m) || post.ApplyMatched(m, prev, ar.tiles) {
					move = &m
				} else {
					post = nil
				}
			}
		}
	}

	type jobKey struct {
		r      image.Rectangle
		q      int
		settle bool
	}
	var jobs []capture.Job
	var keys []jobKey
	index := map[jobKey]int{}
	// add returns the job for k, shared by every rep that needs it; shown
	// (what the area cost as it went out, for settling) comes from the
	// first rep: the same tiles at the same quality cost the same.
	add := func(k jobKey, shown int) int {
		if i, ok := index[k]; ok {
			return i
		}
		index[k] = len(jobs)
		keys = append(keys, k)
		jobs = append(jobs, capture.Job{Rect: k.r, Quality: k.q, Settle: k.settle, Shown: shown, Stream: true})
		return len(jobs) - 1
	}
	var plans []peerPlan
	for _, p := range peers {
		v := p.view
		plan := peerPlan{p: p}
		if v.area != ar.rect || v.width != ar.rect.Dx() || v.height != ar.rect.Dy() {
			if err := p.sendScreen(protocol.AppendScreenInfo(nil, ar.rect.Dx(), ar.rect.Dy())); err != nil {
				p.screenFailed(err)
				continue
			}
			v.area, v.width, v.height = ar.rect, ar.rect.Dx(), ar.rect.Dy()
			v.tracker.Reset()
			p.z.Reset() // ScreenInfo restarts the stream and the cache on both sides
			v.cache.reset()
			v.shapeSerial = 0
			v.cursorSent = false
		}
		if move != nil && post != nil {
			src := image.Rectangle{Min: move.Src, Max: move.Src.Add(move.Dst.Size())}
			if v.tracker.Holds(ar.prevTiles, src.Union(move.Dst)) {
				plan.move = move
				v.tracker.ApplyCopy(post, *move)
			}
		}
		ref := ar.prevTiles
		if plan.move != nil {
			ref = post
		}
		synced := v.tracker.Synced(ref, s.synced)
		s.synced = synced
		encode := func(r image.Rectangle) {
			// Where the rep holds the reference exactly, only the changed
			// pixels go (a keystroke is a glyph, not a 64x64 tile).
			if len(synced) > 0 && prev != nil {
				all := true
				ar.tiles.TileIndexes(r, func(i int) { all = all && synced[i] })
				if all {
					if tight, ok := capture.ChangedBounds(prev, move, sub, r); ok {
						r = tight
					}
				}
			}
			plan.items = append(plan.items, planItem{job: add(jobKey{r: r, q: v.quality}, 0)})
		}
		var misses []image.Rectangle
		for _, r := range v.tracker.Diff(ar.tiles) {
			// Tiles the rep's cache holds go as references; the rest in runs.
			miss := image.Rectangle{}
			for x := r.Min.X; x < r.Max.X; x += capture.TileSize {
				t := image.Rect(x, r.Min.Y, min(x+capture.TileSize, r.Max.X), r.Max.Y)
				i := -1
				ar.tiles.TileIndexes(t, func(k int) { i = k })
				if i < 0 {
					continue
				}
				if slot, q, cost, ok := v.cache.lookup(ar.tiles.Hash[i], t.Size()); ok {
					if !miss.Empty() {
						misses = append(misses, miss)
						miss = image.Rectangle{}
					}
					plan.items = append(plan.items, planItem{job: -1, cached: protocol.CachedRect(t, slot), tile: t, q: q, cost: cost})
					continue
				}
				miss = miss.Union(t)
			}
			if !miss.Empty() {
				misses = append(misses, miss)
			}
		}
		for _, r := range stackRuns(misses) {
			encode(r)
		}
		for _, rf := range v.tracker.Refinable(now, refineQuiet) {
			plan.items = append(plan.items, planItem{job: add(jobKey{r: rf.Rect, q: rf.Quality, settle: true}, rf.Bytes)})
		}
		plans = append(plans, plan)
	}

	// A large update (a photo, a video frame) encodes on every core.
	var done func()
	if capture.Parallel(jobs) {
		done = s.a.procsBusy()
	}
	encoded, err := s.pool.Encode(sub, jobs)
	if done != nil {
		done()
	}
	if err != nil {
		s.a.log.Error("screen encode failed", "err", err)
		for _, pl := range plans {
			pl.p.view.tracker.Reset()
		}
		// Start move detection afresh.
		ar.prev, ar.prevNo = nil, 0
		return
	}
	for _, pl := range plans {
		if err := s.sendPlan(pl, ar, jobs, encoded, now); err != nil {
			pl.p.screenFailed(err)
		}
	}

	// Remember this frame for the next move detection: the source keeps
	// it (sendFrame), or prev takes what changed.
	if s.keeper == nil {
		if prev == nil {
			ar.prev = image.NewRGBA(sub.Rect)
			copyRect(ar.prev, sub, sub.Rect)
		} else {
			copyChanged(ar.prev, sub, ar.prevTiles, ar.tiles)
		}
	}
	ar.prevNo = s.captureNo
	ar.wins = s.wins
	if ar.prevTiles == nil {
		ar.prevTiles = &capture.Tiles{}
	}
	ar.prevTiles.CopyFrom(ar.tiles)
}

// sendPlan sends one peer its copy, rectangles, refinements and frame end.
func (s *streamer) sendPlan(pl peerPlan, ar *area, jobs []capture.Job, encoded [][]capture.Encoded, now time.Time) error {
	p, v := pl.p, pl.p.view
	origin := ar.rect.Min
	// The frame's last rectangles and its end go in one message where the
	// rep takes that (its hello's features).
	batch := protocol.RectBatcher{Flush: p.sendScreen, FrameEndApart: !p.frameInRects.Load()}
	rel := func(r protocol.Rect) protocol.Rect {
		r.X -= origin.X
		r.Y -= origin.Y
		return r
	}
	n := 0
	if pl.move != nil {
		src := pl.move.Src.Sub(origin)
		if err := batch.Add(protocol.CopyRect(pl.move.Dst.Sub(origin), src)); err != nil {
			return err
		}
		n++
	}
	// Cached tiles first: they were looked up before this frame stores
	// anything, and a store may reuse their slots.
	for _, it := range pl.items {
		if it.job >= 0 {
			continue
		}
		if err := batch.Add(rel(it.cached)); err != nil {
			return err
		}
		if it.q > 0 {
			v.tracker.MarkLossy(it.tile, it.q, shareBytes(it.cost), now)
		}
		n++
	}
	for _, it := range pl.items {
		if it.job < 0 {
			continue
		}
		j := jobs[it.job]
		for _, e := range encoded[it.job] {
			r := e.Rect
			if r.Enc == protocol.EncZlib { // a payload: onto this rep's stream
				var err error
				if r, err = p.z.Rect(image.Rect(r.X, r.Y, r.X+r.W, r.Y+r.H), r.Data); err != nil {
					return err
				}
			}
			// Encoded pieces are relative to the area already (Encoder.Encode).
			if err := batch.Add(r); err != nil {
				return err
			}
			q := 0
			if e.Lossy {
				q = j.Quality
				if j.Settle {
					q = capture.SettleQuality
				} else {
					v.tracker.MarkLossy(e.Area, q, len(r.Data), now)
				}
			}
			// The rep stores what the cache rule says; so does its mirror.
			if protocol.Cacheable(r, v.width, v.height) {
				perPixel := float32(0)
				if q > 0 && r.W > 0 && r.H > 0 {
					perPixel = float32(len(r.Data)) / float32(r.W*r.H)
				}
				for _, t := range protocol.CacheTiles(r) {
					cost := perPixel * float32(t.Dx()*t.Dy())
					ar.tiles.TileIndexes(t.Add(origin), func(i int) { v.cache.store(ar.tiles.Hash[i], t.Size(), q, cost) })
				}
			}
			n++
		}
	}
	v.frameNo = s.captureNo
	_, refining := v.tracker.NextRefinement(refineQuiet)
	if n == 0 && refining == v.refining {
		return nil
	}
	v.seq++
	v.lastFrame = now
	v.refining = refining
	if err := batch.End(v.seq, refining); err != nil {
		return err
	}
	if q, fps, bps, rtt, ok := p.adapt.report(now); ok {
		return p.sendScreen(protocol.AppendQuality(nil, protocol.Quality{Quality: q, FPS: fps, BytesPerSec: bps, RTTms: rtt}))
	}
	return nil
}

// shareBytes rounds a tile's share of a JPEG's bytes for
// Tracker.MarkLossy (0: unknown; a known share is at least 1).
func shareBytes(cost float32) int {
	if cost <= 0 {
		return 0
	}
	return max(int(cost+0.5), 1)
}

// maxStack is how many tile rows stackRuns puts in one rectangle: one
// JPEG of 320x256 instead of four of 320x64 saves three sets of tables
// (about 600 bytes each); anything that then does not fit a message is
// split again by the encoder.
const maxStack = 4

// stackRuns merges runs (one tile row high, top to bottom) that cover the
// same columns in consecutive rows.
func stackRuns(runs []image.Rectangle) []image.Rectangle {
	var out []image.Rectangle
	open := map[[2]int]int{} // x-span -> index in out of the stack it can extend
	for _, r := range runs {
		key := [2]int{r.Min.X, r.Max.X}
		if i, ok := open[key]; ok && out[i].Max.Y == r.Min.Y && out[i].Dy() < maxStack*capture.TileSize {
			out[i].Max.Y = r.Max.Y
			continue
		}
		open[key] = len(out)
		out = append(out, r)
	}
	return out
}

// movedWindow finds a window that kept its size and moved between two
// captures, and checks its pixels moved with it: the largest such copy.
func movedWindow(before, after []capture.Window, prev, cur *image.RGBA) (capture.Move, bool) {
	old := map[uint32]image.Rectangle{}
	for _, w := range before {
		old[w.ID] = w.Rect
	}
	var best capture.Move
	found := false
	for _, w := range after {
		o, ok := old[w.ID]
		if !ok || o == w.Rect || o.Size() != w.Rect.Size() {
			continue
		}
		if m, ok := capture.MoveOf(prev, cur, w.Rect, o.Min.Sub(w.Rect.Min)); ok &&
			(!found || m.Dst.Dx()*m.Dst.Dy() > best.Dst.Dx()*best.Dst.Dy()) {
			best, found = m, true
		}
	}
	return best, found
}

// changedBounds returns the bounding box of the tiles that differ.
func changedBounds(a, b *capture.Tiles) (image.Rectangle, bool) {
	if a.W != b.W || a.H != b.H || a.Size != b.Size || len(a.Hash) != len(b.Hash) {
		return image.Rectangle{}, false
	}
	var out image.Rectangle
	for i := range b.Hash {
		if a.Hash[i] != b.Hash[i] {
			c, r := i%b.Cols, i/b.Cols
			t := image.Rect(c*b.Size, r*b.Size, min((c+1)*b.Size, b.W), min((r+1)*b.Size, b.H))
			out = out.Union(t)
		}
	}
	return out.Add(b.Origin()), !out.Empty()
}

// copyChanged copies into dst the tiles of src whose hashes differ between
// have (what dst holds) and want (what src holds). Neighbouring tiles of a
// row of tiles go in one run: a tile is 64 rows of 256 bytes a screen row
// (7.5 KB at 1080p) apart, and copying a changed frame out of the shared
// segment tile by tile ran at a quarter of the speed of copying its rows.
func copyChanged(dst, src *image.RGBA, have, want *capture.Tiles) {
	if len(have.Hash) != len(want.Hash) {
		copyRect(dst, src, src.Rect)
		return
	}
	o := want.Origin()
	for r := range want.Rows {
		y0, y1 := r*want.Size, min((r+1)*want.Size, want.H)
		run := -1 // first column of the current run of changed tiles
		for c := 0; c <= want.Cols; c++ {
			changed := c < want.Cols && have.Hash[r*want.Cols+c] != want.Hash[r*want.Cols+c]
			if changed && run < 0 {
				run = c
			}
			if !changed && run >= 0 {
				copyRect(dst, src, image.Rect(run*want.Size, y0, min(c*want.Size, want.W), y1).Add(o))
				run = -1
			}
		}
	}
}

func copyRect(dst, src *image.RGBA, r image.Rectangle) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		copy(dst.Pix[dst.PixOffset(r.Min.X, y):dst.PixOffset(r.Max.X, y)], src.Pix[src.PixOffset(r.Min.X, y):src.PixOffset(r.Max.X, y)])
	}
}

// refreshMonitors reads the monitor list now and then, and tells every rep
// that has not heard it (or when it changed).
func (s *streamer) refreshMonitors(ctx context.Context, peers []*peer, now time.Time) {
	if s.monitors == nil {
		return
	}
	if s.mons == nil || now.Sub(s.monsAt) >= monitorsEvery {
		ms, err := s.monitors.Monitors(ctx)
		if err != nil {
			s.a.log.Debug("monitors", "err", err)
			return
		}
		changed := len(ms) != len(s.mons)
		for i := 0; !changed && i < len(ms); i++ {
			changed = ms[i] != s.mons[i]
		}
		s.mons, s.monsAt = ms, now
		if changed {
			for _, p := range peers {
				p.view.monitorsSent = false
			}
		}
	}
	for _, p := range peers {
		if p.view.monitorsSent {
			continue
		}
		c := protocol.Control{Type: protocol.CtlMonitors, Monitor: int(p.monitor.Load())}
		for _, m := range s.mons {
			c.Monitors = append(c.Monitors, protocol.MonitorInfo{X: m.Rect.Min.X, Y: m.Rect.Min.Y, W: m.Rect.Dx(), H: m.Rect.Dy(), Primary: m.Primary})
		}
		if c.Monitor > len(c.Monitors) {
			c.Monitor = 0
		}
		if p.controlOpen() {
			p.sendControl(c)
			p.view.monitorsSent = true
		}
	}
}

// sendPointer polls the pointer and sends each rep its position (and its
// shape when the rep lacks it), relative to the area the rep watches. It
// reports whether the pointer moved.
func (s *streamer) sendPointer(ctx context.Context, peers []*peer) bool {
	if len(peers) == 0 {
		return false
	}
	ptr, err := s.pointer.Pointer(ctx)
	if err != nil {
		s.a.log.Debug("pointer", "err", err)
		return false
	}
	moved := ptr.X != s.ptr.X || ptr.Y != s.ptr.Y || ptr.Shape != nil
	if moved {
		s.ptrMoved = time.Now()
	}
	if ptr.Shape != nil {
		var buf bytes.Buffer
		if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, ptr.Shape); err == nil {
			s.shape, s.shapeHot, s.serial = buf.Bytes(), ptr.Hot, ptr.Serial
		}
	}
	s.ptr = ptr
	for _, p := range peers {
		v := p.view
		if v.width == 0 {
			continue // no picture yet
		}
		if s.shape != nil && v.shapeSerial != s.serial+1 {
			msg := protocol.AppendCursorShape(nil, s.shapeHot.X, s.shapeHot.Y, s.shape)
			if len(msg) <= protocol.MaxScreenMessage {
				if err := p.sendScreen(msg); err != nil {
					p.screenFailed(err)
					continue
				}
			}
			v.shapeSerial = s.serial + 1 // +1: serial 0 is a real serial
		}
		at := image.Pt(ptr.X, ptr.Y)
		visible := ptr.Visible && at.In(v.area)
		rel := at.Sub(v.area.Min)
		if v.cursorSent && visible == v.cursorVisible && (!visible || rel == v.cursorAt) {
			continue
		}
		if err := p.sendScreen(protocol.AppendCursor(nil, visible, rel.X, rel.Y)); err != nil {
			p.screenFailed(err)
			continue
		}
		v.cursorSent, v.cursorVisible, v.cursorAt = true, visible, rel
	}
	return moved
}

// screenFailed forgets what a peer has after a failed send: it gets a full
// picture once its channel works again.
func (p *peer) screenFailed(err error) {
	p.a.log.Debug("screen send failed", "rep", p.rep, "err", fmt.Errorf("screen: %w", err))
	p.view.tracker.Reset()
	p.view.width = 0
	p.view.area = image.Rectangle{}
}
