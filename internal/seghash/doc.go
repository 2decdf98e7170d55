// Package seghash hashes 256-byte segments (a row of a 64-pixel tile
// column) with the processor's AES instructions, keyed once per process.
//
// The screen's change detection hashes every segment the capture writes:
// a scrolled terminal is about 5,700 of them a frame. hash/maphash took
// 13.5 ns for one here (its general loop, three calls deep); four AES
// lanes over the segment's sixteen 16-byte blocks, then rounds that merge
// the lanes, take 5.6 ns (BenchmarkSum).
//
// Each lane starts from and is keyed by the process's random keys. A block
// enters its lane between two rounds, so the difference it makes has
// spread over all sixteen bytes of the lane before the lane's next block
// can meet it, and it goes through at least five rounds, three of them
// before its lane meets another. (With one round between blocks, as first
// written, a one-byte change was undone by a four-byte change in the
// lane's next block, whatever the key: TestNoShortCancellation.) Unlike
// natural segments so collide with probability ~2^-64, as with maphash;
// like maphash, it is no defence against someone who knows the keys.
//
// Hashes are comparable only within one process. Where the processor has
// no AES instructions (or with the purego tag) Available is false and Sum
// and SumN hash with hash/maphash instead, keyed per process too.
package seghash
