//go:build !linux

package input

import (
	"errors"
	"fmt"
	"unicode"

	"github.com/go-vgo/robotgo"
)

// The robotgo backend (Windows, macOS): keys by robotgo's names, characters
// the keyboard lacks through robotgo.UnicodeType. Handles are indexes into
// the names pressed.
type robot struct {
	names map[uint32]string
	next  uint32
}

func openBackend(Options) (backend, error) { return &robot{names: map[uint32]string{}}, nil }

// robotNames maps keysyms to robotgo's key names.
var robotNames = map[Keysym]string{
	XKBackSpace: "backspace", XKTab: "tab", XKReturn: "enter", XKEscape: "esc", XKDelete: "delete",
	XKHome: "home", XKEnd: "end", XKPrior: "pageup", XKNext: "pagedown", XKInsert: "insert",
	XKLeft: "left", XKUp: "up", XKRight: "right", XKDown: "down",
	XKPrint: "printscreen", XKPause: "pause_break", XKScrollLock: "scroll_lock", XKMenu: "menu",
	XKCapsLock: "capslock", XKNumLock: "num_lock",
	XKShiftL: "shiftl", XKShiftR: "shiftr", XKControlL: "ctrll", XKControlR: "ctrlr",
	XKAltL: "altl", XKAltR: "altr", XKLevel3: "altr", XKSuperL: "cmdl", XKSuperR: "cmdr",
	XKKPEnter: "num_enter", XKKPAdd: "num+", XKKPSubtract: "num-", XKKPMultiply: "num*",
	XKKPDivide: "num/", XKKPDecimal: "num.", XKKPEqual: "num_equal", XKKPBegin: "num_clear",
	XKKPHome: "home", XKKPEnd: "end", XKKPPrior: "pageup", XKKPNext: "pagedown", XKKPInsert: "insert",
	XKKPDelete: "delete", XKKPLeft: "left", XKKPUp: "up", XKKPRight: "right", XKKPDown: "down",
	0x1008ff12: "audio_mute", 0x1008ff11: "audio_vol_down", 0x1008ff13: "audio_vol_up",
	0x1008ff14: "audio_play", 0x1008ff15: "audio_stop", 0x1008ff16: "audio_prev", 0x1008ff17: "audio_next",
	' ': "space",
}

func init() {
	for i := 0; i < 24; i++ {
		robotNames[XKF1+Keysym(i)] = fmt.Sprintf("f%d", i+1)
	}
	for i := 0; i <= 9; i++ {
		robotNames[XKKP0+Keysym(i)] = fmt.Sprintf("num%d", i)
	}
	for c := 'a'; c <= 'z'; c++ {
		robotNames[Keysym(c)] = string(c)
	}
	for c := '0'; c <= '9'; c++ {
		robotNames[Keysym(c)] = string(c)
	}
}

func (r *robot) pressKey(s Stroke, flags Mods, held func(uint32) bool) (uint32, error) {
	name, ok := robotNames[s.Sym]
	if !ok {
		ch := RuneOfKeysym(s.Sym)
		if ch < 0 {
			return 0, fmt.Errorf("input: no key for keysym %#x here", s.Sym)
		}
		// A character without a key name: typed whole on the key-down.
		robotgo.UnicodeType(uint32(ch))
		return r.handle(""), nil
	}
	if s.Kind == Char && unicode.IsUpper(RuneOfKeysym(s.Sym)) {
		name = string(unicode.ToLower(RuneOfKeysym(s.Sym)))
	}
	if err := robotgo.KeyToggle(name); err != nil {
		return 0, fmt.Errorf("input: key %s: %w", name, err)
	}
	return r.handle(name), nil
}

func (r *robot) handle(name string) uint32 {
	r.next++
	r.names[r.next] = name
	return r.next
}

func (r *robot) releaseKey(h uint32) error {
	name := r.names[h]
	delete(r.names, h)
	if name == "" {
		return nil
	}
	return robotgo.KeyToggle(name, "up")
}

func (r *robot) typeText(text string) error {
	for _, ch := range text {
		if ch == '\r' {
			continue
		}
		if ch == '\n' {
			if err := robotgo.KeyTap("enter"); err != nil {
				return err
			}
			continue
		}
		robotgo.UnicodeType(uint32(ch))
	}
	return nil
}

func (r *robot) move(x, y int, always bool) error {
	robotgo.Move(x, y)
	return nil
}

var robotButtons = map[uint8]string{ButtonLeft: "left", ButtonMiddle: "center", ButtonRight: "right",
	wheelUp: "wheelUp", wheelDown: "wheelDown", wheelLeft: "wheelLeft", wheelRight: "wheelRight"}

func (r *robot) button(b uint8, down bool) error {
	name, ok := robotButtons[b]
	if !ok {
		return errors.New("input: this platform has no back/forward buttons")
	}
	if b >= wheelUp && b <= wheelRight {
		if down {
			switch b {
			case wheelUp:
				robotgo.Scroll(0, 1)
			case wheelDown:
				robotgo.Scroll(0, -1)
			case wheelLeft:
				robotgo.Scroll(-1, 0)
			case wheelRight:
				robotgo.Scroll(1, 0)
			}
		}
		return nil
	}
	state := "up"
	if down {
		state = "down"
	}
	return robotgo.Toggle(name, state)
}

func (r *robot) flush() error { return nil }

func (r *robot) size() (int, int) { return robotgo.GetScreenSize() }

func (r *robot) close() error { return nil }
