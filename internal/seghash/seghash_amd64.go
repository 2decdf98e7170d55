//go:build amd64 && !purego

package seghash

import "golang.org/x/sys/cpu"

var available = cpu.X86.HasAES

// sum hashes n segments from b into out[0:n]. Implemented in
// seghash_amd64.s.
//
//go:noescape
func sum(keys *[4][16]byte, b *byte, n int, out *uint64)
