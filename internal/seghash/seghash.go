package seghash

import "crypto/rand"

// Size is the length of a segment.
const Size = 256

// keys are the four lanes' round keys (and starting states).
var keys [4][16]byte

func init() {
	rand.Read(keys[0][:]) // never fails (it aborts the process if the system's source does)
	rand.Read(keys[1][:])
	rand.Read(keys[2][:])
	rand.Read(keys[3][:])
}

// Available reports whether Sum and SumN can be used here.
func Available() bool { return available }

// Sum returns the hash of one segment. It panics when the hash is not
// Available.
func Sum(seg *[Size]byte) uint64 {
	if !available {
		panic("seghash: no AES instructions")
	}
	var out uint64
	sum(&keys, &seg[0], 1, &out)
	return out
}

// SumN hashes len(out) consecutive segments of b (which holds at least
// that many) into out. It panics when the hash is not Available or b is
// short.
func SumN(b []byte, out []uint64) {
	if !available {
		panic("seghash: no AES instructions")
	}
	if len(out) == 0 {
		return
	}
	_ = b[len(out)*Size-1]
	sum(&keys, &b[0], len(out), &out[0])
}
