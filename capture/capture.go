package capture

import (
	"context"
	"errors"
	"image"
	"log/slog"
	"time"
)

// TileSize is the side of the square tiles the agent hashes and sends.
const TileSize = 64

// ErrClosed is returned by Capture after Close.
var ErrClosed = errors.New("capture: source closed")

// Source captures one screen.
type Source interface {
	// Capture grabs the screen now. The image is owned by the Source and
	// valid until the next Capture or Close. Its bounds start at (0, 0),
	// every pixel is opaque, and its size follows the screen's.
	Capture(ctx context.Context) (*image.RGBA, error)
	Close() error
}

// Options configures Open.
type Options struct {
	Display string       // X display; "" means $DISPLAY (ignored off Linux)
	Logger  *slog.Logger // nil means slog.Default()
}

// Open connects to the screen. On Linux it keeps one X11 connection to the
// display and, when the X server shares memory with this process, one
// MIT-SHM segment (else it reads pixels with plain GetImage requests). It
// captures the whole root window: all monitors of the X screen. On other
// systems it captures the primary display with kbinani/screenshot.
//
// A Source is not safe for concurrent Capture calls. Close may be called
// from another goroutine: it waits for a Capture in progress. A Capture
// blocked on the display (an X server grabbed by another client) returns
// when its context is done.
func Open(opts Options) (Source, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return open(opts.Display, log.With("component", "capture"))
}

// normalize makes img start at (0, 0) and be opaque, in place.
func normalize(img *image.RGBA) *image.RGBA {
	img.Rect = image.Rect(0, 0, img.Rect.Dx(), img.Rect.Dy())
	for y := 0; y < img.Rect.Dy(); y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+4*img.Rect.Dx()]
		for i := 3; i < len(row); i += 4 {
			row[i] = 0xff
		}
	}
	return img
}

// Damager is a Source that says when the screen changed, so that a static
// screen costs no captures. The X11 source is one when the server has the
// DAMAGE extension.
type Damager interface {
	// Damage delivers (at most one pending value) when the screen changed
	// since the last Capture began.
	Damage() <-chan struct{}
}

// Pointer is the mouse pointer.
type Pointer struct {
	X, Y    int  // the hotspot, in screen coordinates
	Visible bool // on this screen
	Serial  uint32
	// Shape is set when the pointer's shape changed since the last call
	// (and on the first): straight-alpha pixels with the hotspot at Hot.
	Shape *image.NRGBA
	Hot   image.Point
}

// PointerSource is a Source that reports the pointer apart from the pixels
// (X11 never draws the pointer into captured frames).
type PointerSource interface {
	Pointer(ctx context.Context) (Pointer, error)
}

// PointerWatcher is a PointerSource that tells when to look at the pointer
// again, so that a resting pointer costs no polling.
type PointerWatcher interface {
	// PointerChanged delivers (at most one pending) after the pointer
	// moved or changed shape; motion at most once per PointerReportEvery.
	PointerChanged() <-chan struct{}
	// PointerWatched reports whether PointerChanged still works (false:
	// poll).
	PointerWatched() bool
}

// PointerReportEvery is the shortest interval between two reports of
// pointer motion (PointerWatcher): the rate a moving pointer is followed
// at.
const PointerReportEvery = 25 * time.Millisecond

// Monitor is one monitor of the screen, in screen coordinates.
type Monitor struct {
	Rect    image.Rectangle
	Primary bool
}

// MonitorSource is a Source that lists the monitors its screen spans.
type MonitorSource interface {
	Monitors(ctx context.Context) ([]Monitor, error)
}

// Window is a top-level window on screen.
type Window struct {
	ID   uint32
	Rect image.Rectangle // screen coordinates, border included
}

// WindowSource is a Source that lists the visible top-level windows, so
// that a window that moved can be sent as a copy even when its content
// (a blank page, a border) says nothing about where it came from.
type WindowSource interface {
	Windows(ctx context.Context) ([]Window, error)
}

// ChangeReporter is a Source that knows which part of the frame its last
// Capture read anew (the rest is as the Capture before left it). The X11
// source with DAMAGE reads only the rows that changed.
type ChangeReporter interface {
	Changed() image.Rectangle
}

// FrameKeeper is a Source whose caller may keep a frame instead of copying
// it: the agent compares each frame with the one before (moves, scrolls,
// what changed), and keeping the frame spares it a copy of everything that
// changed. The X11 source alternates between two frame buffers for that.
type FrameKeeper interface {
	// Keep leaves the frame the last Capture returned as it is until the
	// next Keep: the Captures after it write elsewhere. The frame kept
	// before is the source's again. It reports false, keeping nothing,
	// when the last Capture failed.
	Keep() bool
	// Kept returns the frame Keep left alone, or nil when there is none
	// (any more: a Capture that found the screen resized, or that had to
	// change how it reads the screen, drops it).
	Kept() *image.RGBA
}
