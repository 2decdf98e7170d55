package rep

import (
	"fmt"
	"testing"

	"assist/protocol"
)

func TestParseKeys(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{[]string{"ctrl+alt+t"}, "[{true ControlLeft Control 0} {true AltLeft Alt 2} {true KeyT t 6} {false KeyT t 6} {false AltLeft Alt 2} {false ControlLeft Control 0}]"},
		{[]string{"KP_Enter"}, "[{true NumpadEnter Enter 0} {false NumpadEnter Enter 0}]"},
		{[]string{"super"}, "[{true MetaLeft Meta 0} {false MetaLeft Meta 0}]"},
		{[]string{"KP_1", "kp_end"}, fmt.Sprintf("[{true Numpad1 1 %d} {false Numpad1 1 0} {true Numpad1 End 0} {false Numpad1 End 0}]", protocol.ModNumLock)},
		{[]string{"A"}, "[{true KeyA A 0} {false KeyA A 0}]"},
		{[]string{"é"}, "[{true  é 0} {false  é 0}]"},
		{[]string{"ctrl++"}, "[{true ControlLeft Control 0} {true  + 2} {false  + 2} {false ControlLeft Control 0}]"},
		{[]string{"F12", "Return"}, "[{true F12 F12 0} {false F12 F12 0} {true Enter Enter 0} {false Enter Enter 0}]"},
	}
	for _, tt := range tests {
		got, err := ParseKeys(tt.in...)
		if err != nil {
			t.Fatalf("ParseKeys(%q): %v", tt.in, err)
		}
		if fmt.Sprint(got) != tt.want {
			t.Errorf("ParseKeys(%q) =\n%v\nwant\n%s", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"ctrl+", "hyperdrive", "ctrl+nope"} {
		if _, err := ParseKeys(bad); err == nil {
			t.Errorf("ParseKeys(%q) accepted", bad)
		}
	}
}
