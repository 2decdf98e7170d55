package capture

import "encoding/binary"

// The X server's 32-bit ZPixmap pixels with the usual 24-bit visual (red
// mask 0xff0000) are, in memory, B G R X when its image byte order is
// LSBFirst and X R G B when it is MSBFirst. These turn a row of them into
// opaque RGBA, two pixels per 64-bit word, four words per round (the loop
// overhead and bounds checks of one word per round cost a third of the
// time). dst and src have the same length, a multiple of 4.

func bgrxToRGBA(dst, src []byte) {
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

func xrgbToRGBA(dst, src []byte) {
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
