//go:build linux && cgo

package capture

/*
#cgo LDFLAGS: -l:libjpeg.a
#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <jerror.h>

// libjpeg reports errors by calling error_exit, which by default ends the
// process: this one records the message and jumps back to encode_jpeg.
// Warnings (corrupt-data notices, irrelevant when compressing) are dropped
// instead of printed on stderr.
struct assist_jpeg_err {
	struct jpeg_error_mgr pub;
	jmp_buf back;
	char msg[JMSG_LENGTH_MAX];
};

static void assist_jpeg_error_exit(j_common_ptr c) {
	struct assist_jpeg_err *e = (struct assist_jpeg_err *)c->err;
	(*c->err->format_message)(c, e->msg);
	longjmp(e->back, 1);
}

static void assist_jpeg_output_message(j_common_ptr c) { (void)c; }

// The output goes to a buffer this code owns, grown with realloc up to a
// limit: on an error it frees exactly what it allocated (libjpeg's own
// memory destination frees its buffer as it grows and leaves the caller a
// stale pointer to it until the end).
struct assist_jpeg_dest {
	struct jpeg_destination_mgr pub;
	unsigned char *buf;
	size_t cap, limit;
};

static void assist_dest_init(j_compress_ptr c) {
	struct assist_jpeg_dest *d = (struct assist_jpeg_dest *)c->dest;
	d->pub.next_output_byte = d->buf;
	d->pub.free_in_buffer = d->cap;
}

static boolean assist_dest_empty(j_compress_ptr c) {
	struct assist_jpeg_dest *d = (struct assist_jpeg_dest *)c->dest;
	if (d->cap >= d->limit) {
		snprintf(((struct assist_jpeg_err *)c->err)->msg, JMSG_LENGTH_MAX,
			"the JPEG grew past %zu bytes", d->limit);
		longjmp(((struct assist_jpeg_err *)c->err)->back, 2);
	}
	size_t grown = d->cap * 2 < d->limit ? d->cap * 2 : d->limit;
	unsigned char *b = realloc(d->buf, grown);
	if (b == NULL) {
		ERREXIT1(c, JERR_OUT_OF_MEMORY, 10);
	}
	d->buf = b;
	d->pub.next_output_byte = b + d->cap;
	d->pub.free_in_buffer = grown - d->cap;
	d->cap = grown;
	return TRUE;
}

static void assist_dest_term(j_compress_ptr c) { (void)c; }

// encode_jpeg compresses w x h RGBX pixels (rows stride bytes apart) at
// quality q into at most limit bytes, starting with a buffer of initial
// bytes (0: a size that fits most pictures). On success *out is a malloc'd
// buffer of *outlen bytes for the caller to free; on failure it returns -1
// with the reason in msg.
static int encode_jpeg(const unsigned char *pix, int stride, int w, int h, int q,
		size_t initial, size_t limit,
		unsigned char **out, size_t *outlen, char *msg, size_t msglen) {
	struct jpeg_compress_struct c;
	struct assist_jpeg_err e;
	// On the heap: the longjmp below may not restore locals changed after
	// setjmp, and the callbacks change this one's buffer and size.
	struct assist_jpeg_dest *d = calloc(1, sizeof *d);
	*out = NULL;
	*outlen = 0;
	if (d == NULL) {
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	d->cap = initial ? initial : (size_t)w * h / 4 + 4096;
	d->limit = limit ? limit : 1;
	if (d->cap > d->limit) {
		d->cap = d->limit;
	}
	d->buf = malloc(d->cap);
	if (d->buf == NULL) {
		free(d);
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	d->pub.init_destination = assist_dest_init;
	d->pub.empty_output_buffer = assist_dest_empty;
	d->pub.term_destination = assist_dest_term;
	c.err = jpeg_std_error(&e.pub);
	e.pub.error_exit = assist_jpeg_error_exit;
	e.pub.output_message = assist_jpeg_output_message;
	e.msg[0] = 0;
	if (setjmp(e.back)) {
		snprintf(msg, msglen, "%s", e.msg);
		jpeg_destroy_compress(&c);
		free(d->buf);
		free(d);
		return -1;
	}
	jpeg_create_compress(&c);
	c.dest = &d->pub;
	c.image_width = w;
	c.image_height = h;
	c.input_components = 4;
	c.in_color_space = JCS_EXT_RGBX;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, q, TRUE);
	jpeg_start_compress(&c, TRUE);
	while (c.next_scanline < c.image_height) {
		JSAMPROW row = (JSAMPROW)(pix + (size_t)c.next_scanline * stride);
		jpeg_write_scanlines(&c, &row, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	*out = d->buf;
	*outlen = d->cap - d->pub.free_in_buffer;
	free(d);
	return 0;
}
*/
import "C"

import (
	"fmt"
	"image"
	"unsafe"
)

// jpegEncoder names the encoder in benchmarks and tests.
const jpegEncoder = "libjpeg-turbo"

// encodeJPEGSized compresses img inside r (alpha ignored) at quality 1-100
// with libjpeg-turbo, linked statically: its SIMD code is 9 times faster
// than image/jpeg for the same bytes (a 1080p photo: 3.6 ms against 34 ms
// here), with the same quantisation tables, quality scale, 4:2:0 chroma and
// standard Huffman tables, so the output is interchangeable. It reads the
// RGBA rows in place, into a buffer of initial bytes (0: one that fits most
// pictures), and stops with an error once the JPEG outgrows limit.
func encodeJPEGSized(img *image.RGBA, r image.Rectangle, quality, initial, limit int) ([]byte, error) {
	r, err := jpegArea(img, r) // C reads the rows unchecked
	if err != nil {
		return nil, err
	}
	quality = min(max(quality, 1), 100)
	var out *C.uchar
	var n C.size_t
	var msg [C.JMSG_LENGTH_MAX]C.char
	pix := (*C.uchar)(unsafe.Pointer(&img.Pix[img.PixOffset(r.Min.X, r.Min.Y)]))
	if C.encode_jpeg(pix, C.int(img.Stride), C.int(r.Dx()), C.int(r.Dy()), C.int(quality),
		C.size_t(max(initial, 0)), C.size_t(max(limit, 0)), &out, &n, &msg[0], C.size_t(len(msg))) != 0 {
		return nil, fmt.Errorf("libjpeg: %s", C.GoString(&msg[0]))
	}
	defer C.free(unsafe.Pointer(out))
	return C.GoBytes(unsafe.Pointer(out), C.int(n)), nil
}
