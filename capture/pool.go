package capture

import (
	"errors"
	"fmt"
	"image"
	"math"
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
	// Settle: the area went out lossy at Quality and stopped changing:
	// encode what Settle says (possibly nothing).
	Settle bool
	// Shown is, for Settle, what the area cost as it went out (bytes; 0:
	// not known, and Settle encodes it again to find out).
	Shown int
	// Stream: few-colour content comes back as an uncompressed
	// protocol.EncZlib payload (see Encoder.payload) instead of a PNG.
	Stream bool
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

// Parallel reports whether jobs are worth spreading over several
// goroutines: more than one, and enough work to pay for starting them.
// Pool.Encode does when there are also processors to run them.
func Parallel(jobs []Job) bool {
	if len(jobs) < 2 {
		return false
	}
	area := 0
	for _, j := range jobs {
		area += j.Rect.Dx() * j.Rect.Dy()
	}
	return area >= parallelMin
}

// Pool encodes a frame's rectangles on several cores, one Encoder per
// worker. Not safe for concurrent use.
type Pool struct {
	encs []*Encoder
}

// NewPool returns a Pool of n workers (when n <= 0, one per core: not
// GOMAXPROCS, which the agent keeps at 1 while idle and widens for a large
// batch, see internal/procs).
func NewPool(n int) *Pool {
	if n <= 0 {
		n = runtime.NumCPU()
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
	// No more goroutines than processors: the pool has one encoder per
	// core, the process may have fewer (a CPU quota, GOMAXPROCS, or the
	// agent's light setting, internal/procs).
	workers := min(len(p.encs), len(jobs), runtime.GOMAXPROCS(0))
	if !Parallel(jobs) || workers < 2 {
		for i, j := range jobs {
			out[i], errs[i] = p.encs[0].run(img, j)
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
				out[i], errs[i] = e.run(img, jobs[i])
			}
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

func (e *Encoder) run(img *image.RGBA, j Job) ([]Encoded, error) {
	e.payload = j.Stream
	defer func() { e.payload = false }()
	if j.Settle {
		return e.Settle(img, j.Rect, j.Quality, j.Shown)
	}
	return e.encodeJob(img, j, nil)
}

// encodeJob encodes one job, appending to dst: as one rectangle when it
// fits; a lossy run of tiles that holds few-colour tiles is split so that
// those go lossless; anything too large for one message is split into tiles.
func (e *Encoder) encodeJob(img *image.RGBA, j Job, dst []Encoded) ([]Encoded, error) {
	r := j.Rect
	rect, lossy, err := e.EncodeAuto(img, r, j.Quality)
	if err == nil && lossy && r.Dy() > TileSize && !e.allMany(img, r) {
		// A stack of runs mixing text and photo tiles: class by class, row
		// by row.
		for y := r.Min.Y; y < r.Max.Y; y += TileSize {
			row := Job{Rect: image.Rect(r.Min.X, y, r.Max.X, min(y+TileSize, r.Max.Y)), Quality: j.Quality, Stream: j.Stream}
			if dst, err = e.encodeJob(img, row, dst); err != nil {
				return dst, err
			}
		}
		return dst, nil
	}
	if err == nil && lossy && r.Dx() > TileSize {
		if runs := e.splitByClass(img, r); len(runs) > 1 {
			for _, sub := range runs {
				q := j.Quality
				if !sub.many {
					q = 0
				}
				if dst, err = e.encodeJob(img, Job{Rect: sub.r, Quality: q, Stream: j.Stream}, dst); err != nil {
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
		if dst, err = e.encodeJob(img, Job{Rect: t, Quality: j.Quality, Stream: j.Stream}, dst); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// allMany reports whether every tile of r has more than 256 colours.
func (e *Encoder) allMany(img *image.RGBA, r image.Rectangle) bool {
	for _, t := range SplitTiles(r) {
		if e.fewColours(img, t) {
			return false
		}
	}
	return true
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
		many := !e.fewColours(img, t)
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

// Settling lossy areas once they stop changing.
const (
	// SettleExactRatio: a lossy area is refined to its exact pixels when
	// they cost at most this many times the JPEG it went out as (text on a
	// photo, sharp UI: JPEG does badly there and lossless well); photo-like
	// areas cost far more exact and settle as JPEG instead.
	SettleExactRatio = 2.0
	// SettleFailingRatio is that ratio where the JPEG has less fidelity
	// than SettlePSNR.
	SettleFailingRatio = 6.0
	// SettleBytesPerPixel: exact pixels that cost at most this are sent
	// whatever the JPEG cost (gradients, UI: cheap either way, and exact is
	// what people expect of them). Photos cost three times as much or more.
	SettleBytesPerPixel = 0.5
	// SettlePSNR is the fidelity a lossy area must have to stay as it is.
	SettlePSNR = 36.0
	// SettleQuality is the JPEG quality an area is re-sent at when it has
	// less fidelity than SettlePSNR and its exact pixels cost too much.
	SettleQuality = 92
	// SettleTrustQuality: JPEGs at this quality or better (what a good link
	// gets) of areas whose exact pixels would cost far more (photos) are
	// taken as faithful without decoding them to measure.
	SettleTrustQuality = 75
)

// Settle returns what to send for an area that went out lossy at quality q
// and has stopped changing (the agent re-encodes what the receiver has:
// encoding is deterministic): its exact pixels when they cost little more
// than that JPEG, else nothing when the JPEG is faithful enough, else a JPEG
// at SettleQuality when that is clearly better. shownBytes is what the
// area cost as it went out (0: unknown); when known, the JPEG is encoded
// again only if its fidelity must be measured.
func (e *Encoder) Settle(img *image.RGBA, r image.Rectangle, q, shownBytes int) ([]Encoded, error) {
	var shown []Encoded
	reencode := func() (err error) {
		shown, err = e.encodeJob(img, Job{Rect: r, Quality: q}, nil)
		return err
	}
	jpegSize := float64(shownBytes)
	if shownBytes <= 0 {
		if err := reencode(); err != nil {
			return nil, err
		}
		jpegSize = float64(piecesSize(shown))
	}
	estimate := pngEstimate(img, r)
	// Measuring means decoding: worth it where the answer can change what
	// is sent (the JPEG went out below a trusted quality, or exact pixels
	// might be affordable should the JPEG fall short).
	was := math.Inf(1)
	if q < SettleTrustQuality || estimate <= 2*SettleFailingRatio*jpegSize {
		if shown == nil {
			if err := reencode(); err != nil {
				return nil, err
			}
		}
		var err error
		if was, err = piecesPSNR(img, shown); err != nil {
			return nil, err
		}
	}
	// Exact when that costs little more than the JPEG; or, where the JPEG
	// visibly fails (text on a gradient, sharp UI), when it costs a few
	// times more. Photo-like areas cost many times more: an estimate from
	// the pixels' roughness spares encoding the PNG to find out.
	budget := max(SettleExactRatio*jpegSize, SettleBytesPerPixel*float64(r.Dx()*r.Dy()))
	if was < SettlePSNR {
		budget = max(budget, SettleFailingRatio*jpegSize)
	}
	if estimate <= 2*budget {
		payload := e.payload
		e.payload = false // real sizes: PNG
		exact, err := e.encodeJob(img, Job{Rect: r}, nil)
		e.payload = payload
		if err != nil {
			return nil, err
		}
		if float64(piecesSize(exact)) <= budget {
			return exact, nil
		}
	}
	if q >= SettleQuality || was >= SettlePSNR {
		return nil, nil
	}
	better, err := e.encodeJob(img, Job{Rect: r, Quality: SettleQuality}, nil)
	if err != nil {
		return nil, err
	}
	// Noise that 4:2:0 JPEG cannot carry gains little from more quality:
	// not worth the bytes.
	if now, err := piecesPSNR(img, better); err != nil || now < was+1 {
		return nil, err
	}
	return better, nil
}

// pngEstimate reads about one row in four of an area: a refinement's
// rectangle (at most 5x1 tiles) then costs 16 of its 64 rows, and the
// entropy shows nearly as well in them (the photo phase of the workload
// settles ~100 such rectangles per picture). A larger area is read at most
// pngSamples pixels deep. Each row read lies at a scrambled offset in its
// block of step rows, so that no line pitch (text, tiles) keeps the rows
// read on the same scanlines of every line.
const (
	pngRowStep = 4
	pngSamples = 1 << 17
)

// pngEstimate guesses the bytes of r as a filtered PNG: the order-0
// entropy of the differences between horizontal neighbours in rows spread
// over r (see pngRowStep). Text over a gradient scores low (few distinct
// differences), photo grain high.
func pngEstimate(img *image.RGBA, r image.Rectangle) float64 {
	step := max(2, min(pngRowStep, r.Dy()/4), r.Dx()*r.Dy()/pngSamples)
	return pngEstimateEvery(img, r, step)
}

// pngEstimateEvery estimates from one row in every step (step 1: all).
func pngEstimateEvery(img *image.RGBA, r image.Rectangle, step int) float64 {
	// A histogram per channel: in a flat run every pixel falls in the same
	// bin, and with one histogram each increment would wait for the last.
	var hist [3][511]int32
	n := 0
	for k := 0; ; k++ {
		y := r.Min.Y + k*step + int(uint32(k)*2654435761>>16)%step
		if y >= r.Max.Y {
			break
		}
		row := img.Pix[img.PixOffset(r.Min.X, y):img.PixOffset(r.Max.X, y)]
		if len(row) < 8 {
			continue // one pixel: no neighbours
		}
		n += 3 * (len(row)/4 - 1)
		for ; len(row) >= 8; row = row[4:] {
			hist[0][255+int(row[4])-int(row[0])]++
			hist[1][255+int(row[5])-int(row[1])]++
			hist[2][255+int(row[6])-int(row[2])]++
		}
	}
	if n == 0 {
		return 0
	}
	// -sum(p log2 p) over p = k/n is log2 n - sum(k log2 k)/n.
	sum := 0.0
	for i := range hist[0] {
		k := int(hist[0][i] + hist[1][i] + hist[2][i])
		if k < len(kLog2k) {
			sum += kLog2k[k]
		} else {
			sum += float64(k) * math.Log2(float64(k))
		}
	}
	bits := math.Log2(float64(n)) - sum/float64(n)
	return 3 * float64(r.Dx()*r.Dy()) * max(bits, 0.2) / 8
}

// kLog2k holds k*log2(k) for the counts most bins of pngEstimateEvery
// have (0 for 0).
var kLog2k = func() (t [1024]float64) {
	for k := 1; k < len(t); k++ {
		t[k] = float64(k) * math.Log2(float64(k))
	}
	return t
}()

func piecesSize(ps []Encoded) int {
	n := 0
	for _, p := range ps {
		n += len(p.Rect.Data)
	}
	return n
}

// piecesPSNR decodes pieces and measures them against img.
func piecesPSNR(img *image.RGBA, pieces []Encoded) (float64, error) {
	var se float64
	n := 0
	for _, p := range pieces {
		if !p.Lossy {
			n += 3 * p.Area.Dx() * p.Area.Dy()
			continue
		}
		dec := image.NewRGBA(p.Area)
		rect := p.Rect
		rect.X, rect.Y = p.Area.Min.X, p.Area.Min.Y
		if err := rect.Draw(dec); err != nil {
			return 0, err
		}
		for y := p.Area.Min.Y; y < p.Area.Max.Y; y++ {
			a := img.Pix[img.PixOffset(p.Area.Min.X, y):img.PixOffset(p.Area.Max.X, y)]
			b := dec.Pix[dec.PixOffset(p.Area.Min.X, y):dec.PixOffset(p.Area.Max.X, y)]
			for i := 0; i < len(a); i += 4 {
				for c := 0; c < 3; c++ {
					d := float64(a[i+c]) - float64(b[i+c])
					se += d * d
				}
			}
		}
		n += 3 * p.Area.Dx() * p.Area.Dy()
	}
	if se == 0 {
		return math.Inf(1), nil
	}
	return 10 * math.Log10(255*255*float64(n)/se), nil
}
