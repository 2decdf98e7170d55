package capture

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// Finding where two rows of pixels start and stop differing is on the hot
// path of every frame (a changed area's exact bounds, growing a moved
// block): these compare 64 bytes at a time with the runtime's vectorised
// memeq, then 8 at a time, instead of one byte at a time.

// firstDiff returns the index of the first byte where a and b differ, or
// the shorter length when one is a prefix of the other.
func firstDiff(a, b []byte) int {
	n := min(len(a), len(b))
	a, b = a[:n], b[:n]
	i := 0
	for i+64 <= n && bytes.Equal(a[i:i+64], b[i:i+64]) {
		i += 64
	}
	for ; i+8 <= n; i += 8 {
		if x := binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:]); x != 0 {
			return i + bits.TrailingZeros64(x)/8
		}
	}
	for ; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// equalSuffix returns how many bytes at the ends of a and b are equal
// (compared from the end of each).
func equalSuffix(a, b []byte) int {
	n := min(len(a), len(b))
	a, b = a[len(a)-n:], b[len(b)-n:]
	j := n
	for j >= 64 && bytes.Equal(a[j-64:j], b[j-64:j]) {
		j -= 64
	}
	for ; j >= 8; j -= 8 {
		if x := binary.LittleEndian.Uint64(a[j-8:]) ^ binary.LittleEndian.Uint64(b[j-8:]); x != 0 {
			last := j - 8 + 7 - bits.LeadingZeros64(x)/8 // the last differing byte
			return n - last - 1
		}
	}
	for ; j > 0; j-- {
		if a[j-1] != b[j-1] {
			return n - j
		}
	}
	return n
}
