package bench

import (
	"strings"
	"testing"
)

// TestTailBufferWatch: the x11vnc pass starts once x11vnc's log says it
// took the client on. The line may arrive split over writes and after
// more log than the buffer keeps; another line must not count.
func TestTailBufferWatch(t *testing.T) {
	const line = "26/11/2026 13:33:30 client_set_net: 127.0.0.1  0.0002\n"
	cut := strings.Index(line, "set_net")
	tests := []struct {
		name   string
		writes []string
		seen   bool
	}{
		{"whole line", []string{"Got connection from client 127.0.0.1\n", line}, true},
		{"split over two writes", []string{line[:cut], line[cut:]}, true},
		{"after more than the buffer keeps", []string{strings.Repeat("x", 5000), line[:cut], line[cut:]}, true},
		{"split after a long write", []string{strings.Repeat("x", 5000) + line[:cut], line[cut:]}, true},
		{"other lines only", []string{"client_set_ne\n", "t: 127.0.0.1\n", strings.Repeat("y", 5000)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTailBuffer(x11vncClientReady)
			for _, w := range tt.writes {
				if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
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
			if len(b.String()) > 4096 {
				t.Errorf("kept %d bytes", len(b.String()))
			}
			// More output after the line must not close seen twice.
			b.Write([]byte(line))
		})
	}
}
