package capture

import (
	"errors"
	"fmt"
	"image"
	"runtime"
	"sync"
	"sync/atomic"

	"assist/protocol"
)

// Job is one rectangle of a frame to encode.
type Job struct {
	Rect image.Rectangle
	// Quality is the JPEG quality for photo-like content (1-100); 0 encodes
	// losslessly whatever the content.
	Quality int
}

// Encoded is one encoded piece of a Job: a job too large for one message,
// or mixing text and photo tiles, comes back in several pieces.
type Encoded struct {
	Rect  protocol.Rect
	Area  image.Rectangle // the frame pixels it covers
	Lossy bool
}

// parallelMin is the smallest amount of work (pixels) worth spreading over
// several goroutines: below it, starting them costs more than it saves.
const parallelMin = 16 * TileSize * TileSize

// Pool encodes a frame's rectangles on several cores, one Encoder per
// worker. Not safe for concurrent use.
type Pool struct {
	encs []*Encoder
}

// NewPool returns a Pool of n workers (GOMAXPROCS when n <= 0).
func NewPool(n int) *Pool {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	p := &Pool{}
	for range n {
		p.encs = append(p.encs, NewEncoder())
	}
	return p
}

// Encode encodes every job of img and returns the pieces in job order.
// Small batches run on the calling goroutine; larger ones on up to one
// goroutine per worker, each taking the next job as it finishes one.
func (p *Pool) Encode(img *image.RGBA, jobs []Job) ([][]Encoded, error) {
	out := make([][]Encoded, len(jobs))
	errs := make([]error, len(jobs))
	area := 0
	for _, j := range jobs {
		area += j.Rect.Dx() * j.Rect.Dy()
	}
	workers := min(len(p.encs), len(jobs))
	if area < parallelMin || workers < 2 {
		for i, j := range jobs {
			out[i], errs[i] = p.encs[0].encodeJob(img, j, nil)
		}
		return out, errors.Join(errs...)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		e := p.encs[w]
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(jobs) {
					return
				}
				out[i], errs[i] = e.encodeJob(img, jobs[i], nil)
			}
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// encodeJob encodes one job, appending to dst: as one rectangle when it
// fits; a lossy run of tiles that holds few-colour tiles is split so that
// those go lossless; anything too large for one message is split into tiles.
func (e *Encoder) encodeJob(img *image.RGBA, j Job, dst []Encoded) ([]Encoded, error) {
	r := j.Rect
	rect, lossy, err := e.EncodeAuto(img, r, j.Quality)
	if err == nil && lossy && r.Dx() > TileSize {
		if runs := e.splitByClass(img, r); len(runs) > 1 {
			for _, sub := range runs {
				q := j.Quality
				if !sub.many {
					q = 0
				}
				if dst, err = e.encodeJob(img, Job{Rect: sub.r, Quality: q}, dst); err != nil {
					return dst, err
				}
			}
			return dst, nil
		}
	}
	if err == nil {
		return append(dst, Encoded{Rect: rect, Area: r, Lossy: lossy}), nil
	}
	if r.Dx() <= TileSize && r.Dy() <= TileSize {
		return dst, fmt.Errorf("capture: encode %v: %w", r, err)
	}
	for _, t := range SplitTiles(r) {
		if dst, err = e.encodeJob(img, Job{Rect: t, Quality: j.Quality}, dst); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

type classRun struct {
	r    image.Rectangle
	many bool
}

// splitByClass cuts a one-tile-high run into consecutive pieces of tiles
// with at most 256 colours (few) and more (many).
func (e *Encoder) splitByClass(img *image.RGBA, r image.Rectangle) []classRun {
	var out []classRun
	for x := r.Min.X; x < r.Max.X; x += TileSize {
		t := image.Rect(x, r.Min.Y, min(x+TileSize, r.Max.X), r.Max.Y)
		many := !e.palettize(img, t)
		if n := len(out); n > 0 && out[n-1].many == many {
			out[n-1].r.Max.X = t.Max.X
			continue
		}
		out = append(out, classRun{t, many})
	}
	return out
}

// SplitTiles cuts r into pieces of at most TileSize x TileSize.
func SplitTiles(r image.Rectangle) []image.Rectangle {
	const t = TileSize
	var out []image.Rectangle
	for y := r.Min.Y; y < r.Max.Y; y += t {
		for x := r.Min.X; x < r.Max.X; x += t {
			out = append(out, image.Rect(x, y, min(x+t, r.Max.X), min(y+t, r.Max.Y)))
		}
	}
	return out
}
