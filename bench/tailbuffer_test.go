package bench

import (
	"strings"
	"testing"
)

// TestTailBufferWatch checks what the x11vnc pass waits on: x11vnc's log
// line saying it took the client on. The line may arrive split over writes,
// after more log than the buffer keeps, or followed in the same write by
// more than it keeps; the same words broken by a newline do not count. The
// buffer keeps the last tailSize bytes.
func TestTailBufferWatch(t *testing.T) {
	const line = "26/11/2026 13:33:30 client_set_net: 127.0.0.1  0.0002\n"
	cut := strings.Index(line, "set_net")
	long := strings.Repeat("x", tailSize+904)
	tests := []struct {
		name   string
		writes []string
		seen   bool
	}{
		{"whole line", []string{"Got connection from client 127.0.0.1\n", line}, true},
		{"split over two writes", []string{line[:cut], line[cut:]}, true},
		{"after more than the buffer keeps", []string{long, line[:cut], line[cut:]}, true},
		{"split after a long write", []string{long + line[:cut], line[cut:]}, true},
		{"followed by more than the buffer keeps in one write", []string{line + long}, true},
		{"broken by a newline", []string{"client_set_\n", "net: 127.0.0.1\n", long}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTailBuffer(x11vncClientReady)
			all := ""
			for _, w := range tt.writes {
				if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
				all += w
			}
			select {
			case <-b.seen:
				if !tt.seen {
					t.Error("seen closed without the line")
				}
			default:
				if tt.seen {
					t.Error("seen not closed after the line")
				}
			}
			if want := all[max(0, len(all)-tailSize):]; b.String() != want {
				t.Errorf("kept %d bytes ending %q, want the last %d", len(b.String()), b.String()[max(0, len(b.String())-20):], len(want))
			}
			// More output after the line must not close seen twice.
			b.Write([]byte(line))
		})
	}
}
