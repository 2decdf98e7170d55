package seghash

import (
	"crypto/rand"
	"hash/maphash"
)

// Size is the length of a segment.
const Size = 256

// keys are the four lanes' round keys (and starting states).
var keys [4][16]byte

// seed keys the hash where there are no AES instructions.
var seed = maphash.MakeSeed()

func init() {
	rand.Read(keys[0][:]) // never fails (it aborts the process if the system's source does)
	rand.Read(keys[1][:])
	rand.Read(keys[2][:])
	rand.Read(keys[3][:])
}

// Available reports whether Sum and SumN use AES instructions here; where
// they do not, they hash with hash/maphash (as fast as it is).
func Available() bool { return available }

// Sum returns the hash of one segment.
func Sum(seg *[Size]byte) uint64 {
	if !available {
		return maphash.Bytes(seed, seg[:])
	}
	var out uint64
	sum(&keys, &seg[0], 1, &out)
	return out
}

// SumN hashes len(out) consecutive segments of b (which must hold that
// many) into out.
func SumN(b []byte, out []uint64) {
	if len(out) == 0 {
		return
	}
	b = b[:len(out)*Size] // the bounds check the assembly relies on
	if !available {
		for i := range out {
			out[i] = maphash.Bytes(seed, b[i*Size:(i+1)*Size])
		}
		return
	}
	sum(&keys, &b[0], len(out), &out[0])
}
