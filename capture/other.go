//go:build !linux

package capture

import (
	"context"
	"fmt"
	"image"
	"log/slog"
	"sync"

	"github.com/kbinani/screenshot"
)

// shotSource captures the primary display with kbinani/screenshot, which
// opens the display anew on every call: slow (tens of milliseconds for
// 1080p) but portable.
type shotSource struct {
	log *slog.Logger

	mu     sync.Mutex
	closed bool
}

func open(display string, log *slog.Logger) (Source, error) {
	if display != "" {
		log.Debug("capture: Options.Display ignored on this system", "display", display)
	}
	if n := screenshot.NumActiveDisplays(); n < 1 {
		return nil, fmt.Errorf("capture: no active display")
	}
	b := screenshot.GetDisplayBounds(0)
	log.Info("capture: screenshot source", "width", b.Dx(), "height", b.Dy())
	return &shotSource{log: log}, nil
}

func (s *shotSource) Capture(ctx context.Context) (*image.RGBA, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b := screenshot.GetDisplayBounds(0)
	img, err := screenshot.CaptureRect(b)
	if err != nil {
		return nil, fmt.Errorf("capture: screenshot of %v: %w", b, err)
	}
	return normalize(img), nil
}

func (s *shotSource) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}
