// Package xconn opens xgb connections to an X display through raw reads
// and writes (internal/rawio), so that the round trips of capture and the
// keystrokes of input leave the Go runtime's system monitor asleep.
package xconn

import (
	"context"
	"encoding/hex"
	"time"

	"github.com/jezek/xgb"

	"assist/internal/xmotion"
)

// Timeout bounds dialling the display and the connection setup.
const Timeout = 10 * time.Second

// Open connects to display (as DISPLAY spells it) through xmotion.Dial and
// sets the connection up with the display's cookie, the screen taken from
// the name as xgb.NewConnDisplay would; raw tells that it did. Where that
// fails it falls back to xgb.NewConnDisplay, which knows more ways of
// finding a cookie.
func Open(display string) (conn *xgb.Conn, raw bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	nc, cookie, screen, err := xmotion.Dial(ctx, display)
	if err == nil {
		_ = nc.SetDeadline(time.Now().Add(Timeout))
		if cookie != nil {
			conn, err = xgb.NewConnNetWithCookieHex(nc, hex.EncodeToString(cookie))
		} else {
			conn, err = xgb.NewConnNet(nc) // no cookie found: xgb tries without one
		}
		if err == nil {
			_ = nc.SetDeadline(time.Time{})
			conn.DefaultScreen = screen // NewConnDisplay takes it from the name
			return conn, true, nil
		}
		nc.Close()
	}
	conn, err = xgb.NewConnDisplay(display)
	return conn, false, err
}
