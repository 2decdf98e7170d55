package capture

import (
	"errors"
	"fmt"
	"image"

	"assist/protocol"
)

// EncodeAuto encodes the pixels of img inside r choosing by content: one
// colour as EncSolid; at most 256 colours (text, UI, line art) losslessly as
// Encode does; more colours (photos, video, gradients with noise) as a JPEG
// of the given quality (1-100), reported as lossy so that the caller can
// refine the area once it stops changing. quality <= 0 is Encode. Errors as
// Encode's.
func (e *Encoder) EncodeAuto(img *image.RGBA, r image.Rectangle, quality int) (rect protocol.Rect, lossy bool, err error) {
	return e.encode(img, r, min(quality, 100))
}

// jpeg encodes img inside r as a JPEG (alpha ignored) into out.
func (e *Encoder) jpeg(img *image.RGBA, r image.Rectangle, out protocol.Rect, quality int) (protocol.Rect, bool, error) {
	data, err := encodeJPEG(img, r, quality)
	if err != nil {
		return protocol.Rect{}, false, fmt.Errorf("capture: jpeg of a %dx%d rect: %w", r.Dx(), r.Dy(), err)
	}
	out.Enc = protocol.EncJPEG
	out.Data = data
	return out, true, nil
}

// encodeJPEG compresses img inside r at quality 1-100 with the platform's
// encoder (encodeJPEGSized), failing once the JPEG outgrows what a screen
// message can carry: a larger one is split into tiles anyway.
func encodeJPEG(img *image.RGBA, r image.Rectangle, quality int) ([]byte, error) {
	return encodeJPEGSized(img, r, quality, 0, maxRectSize)
}

// jpegArea is r within img, checked to be non-empty and backed by img's
// pixels (the encoders read whole rows of it at img's stride).
func jpegArea(img *image.RGBA, r image.Rectangle) (image.Rectangle, error) {
	r = r.Intersect(img.Rect)
	if r.Empty() {
		return r, errors.New("empty rectangle")
	}
	if img.Stride < 4*img.Rect.Dx() || img.PixOffset(r.Min.X, r.Max.Y-1)+4*r.Dx() > len(img.Pix) {
		return r, fmt.Errorf("image of %v has %d bytes at stride %d", img.Rect, len(img.Pix), img.Stride)
	}
	return r, nil
}
