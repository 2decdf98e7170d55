package seghash

import (
	"bytes"
	"crypto/aes"
	"encoding/binary"
	"hash/maphash"
	"math/rand/v2"
	"testing"
)

// A reference AES round and the hash written with it, to check the
// assembly against; the round itself is checked by building AES-128 from
// it and comparing with crypto/aes.

var sbox = func() (s [256]byte) {
	mul := func(a, b byte) byte { // GF(2^8) modulo x^8+x^4+x^3+x+1
		var p byte
		for ; b != 0; b >>= 1 {
			if b&1 != 0 {
				p ^= a
			}
			hi := a & 0x80
			a <<= 1
			if hi != 0 {
				a ^= 0x1b
			}
		}
		return p
	}
	for x := range 256 {
		var inv byte
		for y := 1; y < 256 && x != 0; y++ {
			if mul(byte(x), byte(y)) == 1 {
				inv = byte(y)
				break
			}
		}
		rot := func(b byte, n int) byte { return b<<n | b>>(8-n) }
		s[x] = inv ^ rot(inv, 1) ^ rot(inv, 2) ^ rot(inv, 3) ^ rot(inv, 4) ^ 0x63
	}
	return s
}()

func xtime(b byte) byte {
	if b&0x80 != 0 {
		return b<<1 ^ 0x1b
	}
	return b << 1
}

// subShift is SubBytes then ShiftRows (the state is column-major: byte
// r+4c is row r of column c).
func subShift(s [16]byte) (o [16]byte) {
	for c := range 4 {
		for r := range 4 {
			o[r+4*c] = sbox[s[r+4*((c+r)%4)]]
		}
	}
	return o
}

func mixColumns(s [16]byte) (o [16]byte) {
	for c := range 4 {
		a := s[4*c : 4*c+4]
		for r := range 4 {
			o[4*c+r] = xtime(a[r]) ^ (xtime(a[(r+1)%4]) ^ a[(r+1)%4]) ^ a[(r+2)%4] ^ a[(r+3)%4]
		}
	}
	return o
}

func xor(a, b [16]byte) (o [16]byte) {
	for i := range o {
		o[i] = a[i] ^ b[i]
	}
	return o
}

// aesenc is AESENC: ShiftRows, SubBytes, MixColumns, then the round key.
func aesenc(s, k [16]byte) [16]byte { return xor(mixColumns(subShift(s)), k) }

func aesenclast(s, k [16]byte) [16]byte { return xor(subShift(s), k) }

// encrypt is AES-128 from the rounds above, with the standard key schedule.
func encrypt(key, in [16]byte) [16]byte {
	var w [44][4]byte
	for i := range 4 {
		copy(w[i][:], key[4*i:])
	}
	rcon := byte(1)
	for i := 4; i < 44; i++ {
		t := w[i-1]
		if i%4 == 0 {
			t = [4]byte{sbox[t[1]] ^ rcon, sbox[t[2]], sbox[t[3]], sbox[t[0]]}
			rcon = xtime(rcon)
		}
		for j := range 4 {
			w[i][j] = w[i-4][j] ^ t[j]
		}
	}
	rk := func(r int) (k [16]byte) {
		for i := range 4 {
			copy(k[4*i:], w[4*r+i][:])
		}
		return k
	}
	s := xor(in, rk(0))
	for r := 1; r < 10; r++ {
		s = aesenc(s, rk(r))
	}
	return aesenclast(s, rk(10))
}

func TestReferenceRoundIsAES(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		var key, in, want [16]byte
		for i := range 16 {
			key[i], in[i] = byte(r.Uint32()), byte(r.Uint32())
		}
		c, err := aes.NewCipher(key[:])
		if err != nil {
			t.Fatal(err)
		}
		c.Encrypt(want[:], in[:])
		if got := encrypt(key, in); got != want {
			t.Fatalf("reference AES of %x under %x = %x, crypto/aes says %x", in, key, got, want)
		}
	}
}

// reference is the hash as doc.go and seghash_amd64.s describe it.
func reference(k *[4][16]byte, seg []byte) uint64 {
	var lane [4][16]byte
	lane = *k
	for i := range 16 {
		l := i % 4
		lane[l] = aesenc(aesenc(lane[l], [16]byte(seg[16*i:16*i+16])), k[l])
	}
	for l := range 4 {
		lane[l] = aesenc(aesenc(lane[l], k[l]), k[l])
	}
	x0 := aesenc(lane[0], lane[1])
	x2 := aesenc(lane[2], lane[3])
	x0 = aesenc(x0, x2)
	x0 = aesenc(x0, k[0])
	x0 = aesenc(x0, k[1])
	return binary.LittleEndian.Uint64(x0[:8])
}

func TestSumMatchesReference(t *testing.T) {
	if !Available() {
		t.Skip("no AES instructions here")
	}
	r := rand.New(rand.NewPCG(3, 4))
	b := make([]byte, 9*Size)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	for i := 0; i < 256; i += 37 {
		b[i] = 0 // some zero bytes too
	}
	out := make([]uint64, 9)
	SumN(b, out)
	for i := range out {
		want := reference(&keys, b[i*Size:(i+1)*Size])
		if out[i] != want {
			t.Errorf("segment %d: SumN %#x, reference %#x", i, out[i], want)
		}
		if got := Sum((*[Size]byte)(b[i*Size:])); got != want {
			t.Errorf("segment %d: Sum %#x, reference %#x", i, got, want)
		}
	}
}

// TestSumSeesEveryBit: flipping any one bit of a segment gives a hash of
// its own (no two of the 2,048 flips alike, nor like the segment), and
// equal segments hash equal wherever they lie.
func TestSumSeesEveryBit(t *testing.T) {
	if !Available() {
		t.Skip("no AES instructions here")
	}
	seg := bytes.Repeat([]byte{0x20, 0x40, 0x60, 0xff}, Size/4) // a flat colour: the likeliest input
	base := Sum((*[Size]byte)(seg))
	seen := map[uint64]int{base: -1}
	for bit := range Size * 8 {
		s := bytes.Clone(seg)
		s[bit/8] ^= 1 << (bit % 8)
		h := Sum((*[Size]byte)(s))
		if prev, ok := seen[h]; ok {
			t.Fatalf("bit %d: hash %#x also the hash of flip %d", bit, h, prev)
		}
		seen[h] = bit
	}
	twice := append(bytes.Clone(seg), seg...)
	out := make([]uint64, 2)
	SumN(twice, out)
	if out[0] != base || out[1] != base {
		t.Fatalf("equal segments: %#x %#x, want %#x", out[0], out[1], base)
	}
}

// TestNoShortCancellation: a change in one block and a change in the next
// block of its lane must not cancel out. The first version of this hash
// put one round between them, so a single-byte change in block 0 was
// undone by a 4-byte change in block 4 (one of ~2^7 values, whatever the
// key): natural pixels colliding far above 2^-64. This builds that pair
// for many keys and asks for different hashes.
func TestNoShortCancellation(t *testing.T) {
	if !Available() {
		t.Skip("no AES instructions here")
	}
	r := rand.New(rand.NewPCG(5, 6))
	base := bytes.Repeat([]byte{0x20, 0x40, 0x60, 0xff}, Size/4)
	for trial := range 2000 {
		var k [4][16]byte
		for l := range k {
			for i := range k[l] {
				k[l][i] = byte(r.Uint32())
			}
		}
		pos, delta := r.IntN(16), byte(1+r.IntN(255))
		// What the change makes of lane 0 after one round (the key
		// drops out of the difference), put into block 4.
		in := xor(k[0], [16]byte(base[:16]))
		changed := in
		changed[pos] ^= delta
		d := xor(mixColumns(subShift(in)), mixColumns(subShift(changed)))
		other := bytes.Clone(base)
		other[pos] ^= delta
		for i := range 16 {
			other[64+i] ^= d[i]
		}
		var h [2]uint64
		sum(&k, &base[0], 1, &h[0])
		sum(&k, &other[0], 1, &h[1])
		if h[0] == h[1] {
			t.Fatalf("trial %d: byte %d ^ %#x in block 0 and %x in block 4 hash like the flat segment", trial, pos, delta, d)
		}
	}
}

func FuzzSum(f *testing.F) {
	if !Available() {
		f.Skip("no AES instructions here")
	}
	f.Add(make([]byte, Size))
	f.Add(bytes.Repeat([]byte{0x20, 0x40, 0x60, 0xff}, Size/4))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < Size {
			return
		}
		if got, want := Sum((*[Size]byte)(b)), reference(&keys, b[:Size]); got != want {
			t.Fatalf("Sum %#x, reference %#x", got, want)
		}
	})
}

// BenchmarkSum hashes 150 segments (38 KB, in the first-level cache) with
// SumN, one Sum each, and hash/maphash each, which capture used before.
func BenchmarkSum(b *testing.B) {
	if !Available() {
		b.Skip("no AES instructions here")
	}
	buf := make([]byte, 150*Size)
	out := make([]uint64, 150)
	b.Run("SumN", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			SumN(buf, out)
		}
	})
	b.Run("Sum", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			for i := range out {
				out[i] = Sum((*[Size]byte)(buf[i*Size:]))
			}
		}
	})
	b.Run("maphash", func(b *testing.B) {
		seed := maphash.MakeSeed()
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			for i := range out {
				out[i] = maphash.Bytes(seed, buf[i*Size:(i+1)*Size])
			}
		}
	})
}
