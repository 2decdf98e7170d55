package capture

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"testing"
)

// TestJPEGMatchesTheStandardEncoder: the JPEG encoder in use (libjpeg-turbo
// on Linux) decodes with image/jpeg, as the console and assist-rep decode,
// to the picture the standard library's own encoder gives at the same
// quality: within 0.5 dB of its PSNR and 10% of its size, for sub-images at
// odd offsets and sizes. And it is deterministic: Settle re-encodes an area
// to learn what the rep holds.
func TestJPEGMatchesTheStandardEncoder(t *testing.T) {
	for _, tc := range []struct {
		r image.Rectangle
		q int
	}{
		{image.Rect(0, 0, 1920, 1080), 75},
		{image.Rect(640, 320, 704, 384), 80},
		{image.Rect(3, 5, 50, 28), 75},
		{image.Rect(1919, 1079, 1920, 1080), 75},
		{image.Rect(100, 200, 933, 611), 30},
		{image.Rect(100, 200, 933, 611), 95},
		{image.Rect(0, 0, 320, 64), 1},
		{image.Rect(0, 0, 320, 64), 100},
	} {
		t.Run(fmt.Sprintf("%v@q%d", tc.r, tc.q), func(t *testing.T) {
			got, err := encodeJPEGSized(photo, tc.r, tc.q, 0, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			again, err := encodeJPEGSized(photo, tc.r, tc.q, 0, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, again) {
				t.Fatal("two encodings of the same pixels differ")
			}
			var std bytes.Buffer
			if err := jpeg.Encode(&std, photo.SubImage(tc.r), &jpeg.Options{Quality: tc.q}); err != nil {
				t.Fatal(err)
			}
			gotPSNR, stdPSNR := decodedPSNR(t, got, tc.r), decodedPSNR(t, std.Bytes(), tc.r)
			if gotPSNR < stdPSNR-0.5 {
				t.Errorf("%s: PSNR %.2f dB, image/jpeg %.2f dB", jpegEncoder, gotPSNR, stdPSNR)
			}
			if ratio := float64(len(got)) / float64(std.Len()); ratio > 1.1 || ratio < 0.9 {
				t.Errorf("%s: %d bytes, image/jpeg %d (%.2fx)", jpegEncoder, len(got), std.Len(), ratio)
			}
		})
	}
	if _, err := encodeJPEG(photo, image.Rect(5000, 0, 5010, 10), 75); err == nil {
		t.Error("a rectangle outside the image encoded without an error")
	}
	// Wider than JPEG allows: the encoder's own error comes back (libjpeg
	// reports it from inside the compression, the path that must free its
	// buffer and not end the process).
	wide := image.NewRGBA(image.Rect(0, 0, 70000, 1))
	if _, err := encodeJPEG(wide, wide.Rect, 75); err == nil {
		t.Error("a 70000-pixel-wide image encoded without an error")
	}
	// Growing the buffer from a few bytes gives the same JPEG; running out
	// of room after growing it is an error, as often as it happens; and
	// what a screen message cannot carry is not finished.
	want, err := encodeJPEGSized(photo, image.Rect(0, 0, 640, 480), 90, 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := encodeJPEGSized(photo, image.Rect(0, 0, 640, 480), 90, 64, 1<<30); err != nil || !bytes.Equal(got, want) {
		t.Errorf("grown from 64 bytes: %d bytes, %v; want the %d of the default buffer", len(got), err, len(want))
	}
	for range 100 {
		if _, err := encodeJPEGSized(photo, image.Rect(0, 0, 640, 480), 90, 64, len(want)/2); err == nil {
			t.Fatalf("a %d-byte JPEG fit in %d bytes", len(want), len(want)/2)
		}
	}
	if got, err := encodeJPEG(photo, photo.Rect, 90); err == nil {
		t.Errorf("a %d-byte JPEG of the whole photo encoded within the %d-byte limit of a screen message", len(got), maxRectSize)
	}
	short := &image.RGBA{Pix: make([]byte, 100), Stride: 40, Rect: image.Rect(0, 0, 10, 10)}
	if _, err := encodeJPEG(short, short.Rect, 75); err == nil {
		t.Error("an image with too few pixels encoded without an error")
	}
}

// decodedPSNR decodes data as the console would and compares it with the
// photo inside r.
func decodedPSNR(t *testing.T, data []byte, r image.Rectangle) float64 {
	t.Helper()
	m, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if m.Bounds().Size() != r.Size() {
		t.Fatalf("decoded %v, want %v", m.Bounds().Size(), r.Size())
	}
	dec := image.NewRGBA(r)
	draw.Draw(dec, r, m, m.Bounds().Min, draw.Src)
	return psnr(photo, dec, r)
}

func BenchmarkJPEG1080p(b *testing.B) {
	b.Run(jpegEncoder, func(b *testing.B) {
		b.SetBytes(int64(len(photo.Pix)))
		for b.Loop() {
			if _, err := encodeJPEGSized(photo, photo.Rect, 75, 0, 1<<30); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("image/jpeg", func(b *testing.B) {
		b.SetBytes(int64(len(photo.Pix)))
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			if err := jpeg.Encode(&buf, photo, &jpeg.Options{Quality: 75}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
