package xconn

import (
	"testing"

	"github.com/jezek/xgb/xproto"

	"assist/internal/xtest"
)

// TestOpen: a local display opens over the raw socket, with the screen
// the name asks for; a display that is not there is an error.
func TestOpen(t *testing.T) {
	s := xtest.Start(t, xtest.Size(320, 200))
	for _, tt := range []struct {
		name   string
		screen int
	}{{s.Display, 0}, {s.Display + ".0", 0}, {s.Display + ".2", 2}} {
		conn, raw, err := Open(tt.name)
		if err != nil {
			t.Fatalf("Open(%q): %v", tt.name, err)
		}
		if !raw {
			t.Errorf("Open(%q) did not go through the raw socket", tt.name)
		}
		if conn.DefaultScreen != tt.screen {
			t.Errorf("Open(%q): screen %d, want %d", tt.name, conn.DefaultScreen, tt.screen)
		}
		if tt.screen == 0 {
			if _, err := xproto.GetInputFocus(conn).Reply(); err != nil {
				t.Errorf("Open(%q): a round trip: %v", tt.name, err)
			}
		}
		conn.Close()
	}
	if _, _, err := Open(":4243"); err == nil {
		t.Error("Open of a display that is not there succeeded")
	}
}
