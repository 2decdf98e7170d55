// Package pixconv turns the X server's 32-bit pixels into opaque RGBA rows.
//
// The X server's ZPixmap pixels with the usual 24-bit visual (red mask
// 0xff0000) are, in memory, B G R X when its image byte order is LSBFirst
// and X R G B when it is MSBFirst. In portable Go the conversion runs two
// pixels per 64-bit word, four words per round (one word per round costs a
// third more in loop overhead and bounds checks), and is compute bound:
// 6.9 GB/s where a copy runs at 28-65 GB/s. On amd64 with AVX2 one VPSHUFB
// puts eight pixels' bytes in RGBA order and one VPOR makes them opaque
// (pixconv_amd64.s). It is its own package because Go assembly cannot live
// in a package that uses cgo, as capture does.
package pixconv

import "encoding/binary"

// BGRXToRGBA converts LSBFirst pixels: dst and src have the same length, a
// multiple of 4.
func BGRXToRGBA(dst, src []byte) {
	dst = dst[:len(src)]
	if n := fast(dst, src, bgrxCtl); n > 0 {
		dst, src = dst[n:], src[n:]
	}
	bgrxToRGBAGo(dst, src)
}

// XRGBToRGBA converts MSBFirst pixels: dst and src have the same length, a
// multiple of 4.
func XRGBToRGBA(dst, src []byte) {
	dst = dst[:len(src)]
	if n := fast(dst, src, xrgbCtl); n > 0 {
		dst, src = dst[n:], src[n:]
	}
	xrgbToRGBAGo(dst, src)
}

// shuffleCtl builds the control of the vector shuffle from one pixel's
// source byte for each output byte (0x80: zero): 32 bytes of shuffle (each
// 16-byte lane the same) and 32 bytes to OR in (the alpha).
func shuffleCtl(from [4]byte) *[64]byte {
	var ctl [64]byte
	for i := range 32 {
		if c := from[i&3]; c == 0x80 {
			ctl[i] = 0x80
		} else {
			ctl[i] = byte(i&12) + c
		}
	}
	for i := 35; i < 64; i += 4 {
		ctl[i] = 0xff
	}
	return &ctl
}

var (
	bgrxCtl = shuffleCtl([4]byte{2, 1, 0, 0x80})
	xrgbCtl = shuffleCtl([4]byte{1, 2, 3, 0x80})
)

// bgrxToRGBAGo and xrgbToRGBAGo are the portable conversions.
func bgrxToRGBAGo(dst, src []byte) {
	dst = dst[:len(src)]
	swap := func(v uint64) uint64 {
		return v&0x0000ff000000ff00 | v>>16&0x000000ff000000ff | (v&0x000000ff000000ff)<<16 | 0xff000000ff000000
	}
	i := 0
	for ; i+32 <= len(src); i += 32 {
		s, d := src[i:i+32:i+32], dst[i:i+32:i+32]
		a, b := binary.LittleEndian.Uint64(s[0:]), binary.LittleEndian.Uint64(s[8:])
		c, e := binary.LittleEndian.Uint64(s[16:]), binary.LittleEndian.Uint64(s[24:])
		binary.LittleEndian.PutUint64(d[0:], swap(a))
		binary.LittleEndian.PutUint64(d[8:], swap(b))
		binary.LittleEndian.PutUint64(d[16:], swap(c))
		binary.LittleEndian.PutUint64(d[24:], swap(e))
	}
	for ; i+8 <= len(src); i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], swap(binary.LittleEndian.Uint64(src[i:])))
	}
	if i < len(src) {
		dst[i], dst[i+1], dst[i+2], dst[i+3] = src[i+2], src[i+1], src[i], 0xff
	}
}

func xrgbToRGBAGo(dst, src []byte) {
	dst = dst[:len(src)]
	shift := func(v uint64) uint64 { return v>>8&0x00ffffff00ffffff | 0xff000000ff000000 }
	i := 0
	for ; i+32 <= len(src); i += 32 {
		s, d := src[i:i+32:i+32], dst[i:i+32:i+32]
		a, b := binary.LittleEndian.Uint64(s[0:]), binary.LittleEndian.Uint64(s[8:])
		c, e := binary.LittleEndian.Uint64(s[16:]), binary.LittleEndian.Uint64(s[24:])
		binary.LittleEndian.PutUint64(d[0:], shift(a))
		binary.LittleEndian.PutUint64(d[8:], shift(b))
		binary.LittleEndian.PutUint64(d[16:], shift(c))
		binary.LittleEndian.PutUint64(d[24:], shift(e))
	}
	for ; i+8 <= len(src); i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], shift(binary.LittleEndian.Uint64(src[i:])))
	}
	if i < len(src) {
		dst[i], dst[i+1], dst[i+2], dst[i+3] = src[i+1], src[i+2], src[i+3], 0xff
	}
}
