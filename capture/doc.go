// Package capture grabs the customer's screen, cuts it into tiles, finds the
// tiles that changed since the last frame a peer received, and encodes them
// as protocol rectangles.
//
// The pipeline is Source.Capture (one frame into a reused buffer), HashTiles
// (one 64-bit hash per TileSize x TileSize tile), MoveDetector and MoveOf
// (scrolls and moved windows, sent as copies), Tracker.Diff (the tiles a
// receiver does not have yet) and Encoder.EncodeAuto (protocol rectangles:
// solid fill, a palette on the receiver's deflate stream, JPEG for photos,
// settled to exact pixels once they stop changing).
//
// On Linux the Source keeps one X11 connection and a MIT-SHM segment and reads
// the root window into it (falling back to plain GetImage when shared memory
// is unavailable); the segment holds two frame buffers, so that the caller
// can keep the frame before (FrameKeeper) instead of copying it. Other
// systems use kbinani/screenshot. Wayland sessions without an X server are
// not supported.
//
// Only the agent imports this package; it imports nothing of ours but
// protocol.
package capture
