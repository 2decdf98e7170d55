// Package capture grabs the customer's screen, cuts it into tiles, finds the
// tiles that changed since the last frame a peer received, and encodes them
// as protocol rectangles. The X11 capturer keeps one connection and a shared
// memory image; kbinani/screenshot is the portable fallback.
package capture
