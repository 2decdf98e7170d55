package agent

import (
	"context"
	"fmt"
	"image"
	"time"

	"assist/capture"
	"assist/protocol"
)

// stream captures the screen whenever a peer has room in its screen
// channel, at most MaxFPS times a second, and sends each peer the tiles
// that differ from what it already has. Damage accumulates while a peer's
// channel is full: the tracker compares against what the peer last
// received, so the newest pixels win and no stale frame is ever queued.
func (a *agent) stream(ctx context.Context) {
	tick := time.NewTicker(a.interval)
	defer tick.Stop()
	enc := capture.NewEncoder()
	var tiles *capture.Tiles
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-a.wakeCh:
		}
		if a.isPaused() {
			continue // the customer paused sharing: nothing is captured
		}
		ready := a.readyPeers()
		if len(ready) == 0 {
			continue
		}
		img, err := a.cfg.Screen.Capture(ctx)
		if err != nil {
			if msg := err.Error(); msg != lastErr {
				a.log.Error("screen capture failed", "err", err)
				lastErr = msg
			}
			continue
		}
		lastErr = ""
		tiles = capture.HashTiles(img, capture.TileSize, tiles)
		cache := map[image.Rectangle]protocol.Rect{}
		for _, p := range ready {
			if err := p.sendFrame(img, tiles, enc, cache); err != nil {
				a.log.Debug("screen send failed", "rep", p.rep, "err", err)
				p.tracker.Reset()
				p.width = 0
			}
		}
		// Pace by the tick: a wake-up right after a frame must not make the
		// next capture come sooner than the frame interval.
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// sendFrame sends p what changed since its last frame, then a frame end.
func (p *peer) sendFrame(img *image.RGBA, tiles *capture.Tiles, enc *capture.Encoder, cache map[image.Rectangle]protocol.Rect) error {
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	if w != p.width || h != p.height {
		if err := p.screen.Send(protocol.AppendScreenInfo(nil, w, h)); err != nil {
			return fmt.Errorf("screen info: %w", err)
		}
		p.width, p.height = w, h
		p.tracker.Reset()
	}
	changed := p.tracker.Diff(tiles)
	if len(changed) == 0 {
		return nil
	}
	batch := protocol.RectBatcher{Flush: p.screen.Send}
	for _, r := range changed {
		if err := p.addRect(img, r, enc, cache, &batch); err != nil {
			return err
		}
	}
	if err := batch.Done(); err != nil {
		return err
	}
	p.seq++
	return p.screen.Send(protocol.AppendFrameEnd(nil, p.seq))
}

// addRect encodes r (once per frame, whatever the number of peers) and
// queues it; a rectangle too large for one message is sent tile by tile.
func (p *peer) addRect(img *image.RGBA, r image.Rectangle, enc *capture.Encoder, cache map[image.Rectangle]protocol.Rect, batch *protocol.RectBatcher) error {
	er, ok := cache[r]
	if !ok {
		var err error
		er, err = enc.Encode(img, r)
		if err != nil {
			if r.Dx() <= capture.TileSize && r.Dy() <= capture.TileSize {
				return fmt.Errorf("encode %v: %w", r, err)
			}
			for _, t := range splitTiles(r) {
				if err := p.addRect(img, t, enc, cache, batch); err != nil {
					return err
				}
			}
			return nil
		}
		cache[r] = er
	}
	return batch.Add(er)
}

// splitTiles cuts r into tile-sized pieces.
func splitTiles(r image.Rectangle) []image.Rectangle {
	const t = capture.TileSize
	var out []image.Rectangle
	for y := r.Min.Y; y < r.Max.Y; y += t {
		for x := r.Min.X; x < r.Max.X; x += t {
			out = append(out, image.Rect(x, y, min(x+t, r.Max.X), min(y+t, r.Max.Y)))
		}
	}
	return out
}
