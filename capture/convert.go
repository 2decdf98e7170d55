package capture

import "encoding/binary"

// The X server's 32-bit ZPixmap pixels with the usual 24-bit visual (red
// mask 0xff0000) are, in memory, B G R X when its image byte order is
// LSBFirst and X R G B when it is MSBFirst. These turn a row of them into
// opaque RGBA, two pixels per 64-bit word. dst and src have the same length,
// a multiple of 4.

func bgrxToRGBA(dst, src []byte) {
	n := len(src) &^ 7
	for i := 0; i < n; i += 8 {
		v := binary.LittleEndian.Uint64(src[i:])
		v = v&0x0000ff000000ff00 | v>>16&0x000000ff000000ff | (v&0x000000ff000000ff)<<16 | 0xff000000ff000000
		binary.LittleEndian.PutUint64(dst[i:], v)
	}
	if n < len(src) {
		dst[n], dst[n+1], dst[n+2], dst[n+3] = src[n+2], src[n+1], src[n], 0xff
	}
}

func xrgbToRGBA(dst, src []byte) {
	n := len(src) &^ 7
	for i := 0; i < n; i += 8 {
		v := binary.LittleEndian.Uint64(src[i:])
		v = v>>8&0x00ffffff00ffffff | 0xff000000ff000000
		binary.LittleEndian.PutUint64(dst[i:], v)
	}
	if n < len(src) {
		dst[n], dst[n+1], dst[n+2], dst[n+3] = src[n+1], src[n+2], src[n+3], 0xff
	}
}
