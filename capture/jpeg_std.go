//go:build !linux || !cgo

package capture

import (
	"bytes"
	"image"
	"image/jpeg"
)

// jpegEncoder names the encoder in benchmarks and logs.
const jpegEncoder = "image/jpeg"

// encodeJPEG compresses img inside r (alpha ignored) at quality 1-100 with
// the standard library (systems without the libjpeg-turbo build: see
// jpeg_turbo_linux.go).
func encodeJPEG(img *image.RGBA, r image.Rectangle, quality int) ([]byte, error) {
	r, err := jpegArea(img, r)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	// A sub-image of an *image.RGBA keeps image/jpeg on its fast path.
	if err := jpeg.Encode(&b, img.SubImage(r), &jpeg.Options{Quality: min(max(quality, 1), 100)}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
