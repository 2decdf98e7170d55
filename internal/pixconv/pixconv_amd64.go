//go:build amd64 && !purego

package pixconv

import "golang.org/x/sys/cpu"

// shuffleAVX2 converts n bytes (a multiple of 32) of src into dst: each
// 16-byte lane of dst is src's lane shuffled by ctl[0:32] (VPSHUFB) and
// OR-ed with ctl[32:64]. Implemented in pixconv_amd64.s.
//
//go:noescape
func shuffleAVX2(dst, src *byte, n int, ctl *[64]byte)

var useAVX2 = cpu.X86.HasAVX2

// fast converts the longest prefix it can with vector instructions and
// returns its length.
func fast(dst, src []byte, ctl *[64]byte) int {
	n := len(src) &^ 31
	if !useAVX2 || n == 0 {
		return 0
	}
	shuffleAVX2(&dst[0], &src[0], n, ctl)
	return n
}
