//go:build !linux || !cgo

package capture

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
)

// jpegEncoder names the encoder in benchmarks and tests.
const jpegEncoder = "image/jpeg"

// encodeJPEGSized compresses img inside r (alpha ignored) at quality 1-100
// with the standard library (systems without the libjpeg-turbo build: see
// jpeg_turbo_linux.go), into a buffer of initial bytes (0: the encoder's
// choice), and fails when the JPEG outgrows limit.
func encodeJPEGSized(img *image.RGBA, r image.Rectangle, quality, initial, limit int) ([]byte, error) {
	r, err := jpegArea(img, r)
	if err != nil {
		return nil, err
	}
	b := bytes.NewBuffer(make([]byte, 0, max(initial, 0)))
	// A sub-image of an *image.RGBA keeps image/jpeg on its fast path.
	if err := jpeg.Encode(b, img.SubImage(r), &jpeg.Options{Quality: min(max(quality, 1), 100)}); err != nil {
		return nil, err
	}
	if b.Len() > limit {
		return nil, fmt.Errorf("the JPEG grew past %d bytes", limit)
	}
	return b.Bytes(), nil
}
