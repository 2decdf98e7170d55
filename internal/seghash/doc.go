// Package seghash hashes 256-byte segments (a row of a 64-pixel tile
// column) with the processor's AES instructions, keyed once per process.
//
// The screen's change detection hashes every segment the capture writes:
// a scrolled terminal is about 5,700 of them a frame. hash/maphash took
// 13 ns for one here (its general loop, three calls deep); four AES lanes
// over the segment's sixteen 16-byte blocks, then rounds that merge the
// lanes, take 3.6 ns (BenchmarkSum). Every lane starts from and is keyed
// by the process's random keys, and each block goes through at least six
// AES rounds before it reaches the 64 bits returned: unlike segments
// collide with probability ~2^-64, as with maphash.
//
// Hashes are comparable only within one process. Where the processor has
// no AES instructions (or with the purego tag) Available is false and the
// caller keeps its own hash.
package seghash
