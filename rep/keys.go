package rep

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"assist/protocol"
)

// KeyEvent is one key-down or key-up as a browser describes it.
type KeyEvent struct {
	Down      bool
	Code, Key string
	Flags     uint16
}

// keyName is a named key: its KeyboardEvent.code and .key, and the
// modifier flag it sets while held.
type keyName struct {
	code, key string
	mod       uint16
}

var keyNames = map[string]keyName{}

func init() {
	add := func(k keyName, names ...string) {
		for _, n := range names {
			keyNames[strings.ToLower(n)] = k
		}
	}
	add(keyName{"Enter", "Enter", 0}, "enter", "return")
	add(keyName{"Tab", "Tab", 0}, "tab")
	add(keyName{"Escape", "Escape", 0}, "esc", "escape")
	add(keyName{"Backspace", "Backspace", 0}, "backspace")
	add(keyName{"Delete", "Delete", 0}, "delete", "del")
	add(keyName{"Insert", "Insert", 0}, "insert", "ins")
	add(keyName{"Home", "Home", 0}, "home")
	add(keyName{"End", "End", 0}, "end")
	add(keyName{"PageUp", "PageUp", 0}, "pageup", "pgup", "prior")
	add(keyName{"PageDown", "PageDown", 0}, "pagedown", "pgdn", "next")
	add(keyName{"ArrowUp", "ArrowUp", 0}, "up", "arrowup")
	add(keyName{"ArrowDown", "ArrowDown", 0}, "down", "arrowdown")
	add(keyName{"ArrowLeft", "ArrowLeft", 0}, "left", "arrowleft")
	add(keyName{"ArrowRight", "ArrowRight", 0}, "right", "arrowright")
	add(keyName{"Space", " ", 0}, "space")
	add(keyName{"ContextMenu", "ContextMenu", 0}, "menu", "contextmenu", "apps")
	add(keyName{"PrintScreen", "PrintScreen", 0}, "print", "printscreen", "prtsc", "sysrq")
	add(keyName{"Pause", "Pause", 0}, "pause", "break")
	add(keyName{"CapsLock", "CapsLock", 0}, "capslock", "caps_lock")
	add(keyName{"NumLock", "NumLock", 0}, "numlock", "num_lock")
	add(keyName{"ScrollLock", "ScrollLock", 0}, "scrolllock", "scroll_lock")
	add(keyName{"ShiftLeft", "Shift", protocol.ModShift}, "shift", "lshift", "shift_l")
	add(keyName{"ShiftRight", "Shift", protocol.ModShift}, "rshift", "shift_r")
	add(keyName{"ControlLeft", "Control", protocol.ModCtrl}, "ctrl", "control", "lctrl", "control_l")
	add(keyName{"ControlRight", "Control", protocol.ModCtrl}, "rctrl", "control_r")
	add(keyName{"AltLeft", "Alt", protocol.ModAlt}, "alt", "lalt", "alt_l")
	add(keyName{"AltRight", "Alt", protocol.ModAlt}, "ralt", "alt_r")
	add(keyName{"AltRight", "AltGraph", protocol.ModAltGraph}, "altgr", "iso_level3_shift")
	add(keyName{"MetaLeft", "Meta", protocol.ModMeta}, "super", "win", "meta", "cmd", "lsuper", "lwin", "super_l")
	add(keyName{"MetaRight", "Meta", protocol.ModMeta}, "rsuper", "rwin", "super_r")
	for i := 1; i <= 24; i++ {
		add(keyName{fmt.Sprintf("F%d", i), fmt.Sprintf("F%d", i), 0}, fmt.Sprintf("f%d", i))
	}
	for i := 0; i <= 9; i++ {
		add(keyName{fmt.Sprintf("Numpad%d", i), fmt.Sprint(i), protocol.ModNumLock}, fmt.Sprintf("kp_%d", i), fmt.Sprintf("num%d", i))
	}
	for name, key := range map[string]string{"kp_insert": "Insert", "kp_end": "End", "kp_down": "ArrowDown",
		"kp_next": "PageDown", "kp_pagedown": "PageDown", "kp_left": "ArrowLeft", "kp_begin": "Clear",
		"kp_right": "ArrowRight", "kp_home": "Home", "kp_up": "ArrowUp", "kp_prior": "PageUp", "kp_pageup": "PageUp"} {
		code := map[string]string{"Insert": "Numpad0", "End": "Numpad1", "ArrowDown": "Numpad2", "PageDown": "Numpad3",
			"ArrowLeft": "Numpad4", "Clear": "Numpad5", "ArrowRight": "Numpad6", "Home": "Numpad7", "ArrowUp": "Numpad8",
			"PageUp": "Numpad9"}[key]
		add(keyName{code, key, 0}, name)
	}
	add(keyName{"NumpadDecimal", ".", protocol.ModNumLock}, "kp_decimal")
	add(keyName{"NumpadDecimal", "Delete", 0}, "kp_delete")
	add(keyName{"NumpadEnter", "Enter", 0}, "kp_enter")
	add(keyName{"NumpadAdd", "+", 0}, "kp_add", "kp_plus")
	add(keyName{"NumpadSubtract", "-", 0}, "kp_subtract", "kp_minus")
	add(keyName{"NumpadMultiply", "*", 0}, "kp_multiply")
	add(keyName{"NumpadDivide", "/", 0}, "kp_divide")
	add(keyName{"NumpadEqual", "=", 0}, "kp_equal")
	for c := 'a'; c <= 'z'; c++ {
		add(keyName{"Key" + strings.ToUpper(string(c)), string(c), 0}, string(c))
	}
	for c := '0'; c <= '9'; c++ {
		add(keyName{"Digit" + string(c), string(c), 0}, string(c))
	}
	for ch, code := range map[string]string{"-": "Minus", "=": "Equal", "[": "BracketLeft", "]": "BracketRight",
		"\\": "Backslash", ";": "Semicolon", "'": "Quote", "`": "Backquote", ",": "Comma", ".": "Period", "/": "Slash"} {
		add(keyName{code, ch, 0}, ch)
	}
}

// ParseKeys turns key names such as "ctrl+alt+t", "KP_Enter", "super",
// "F12" or "é" into the key events a browser would send: each argument is a
// chord whose keys go down in order and come up in reverse. Names are X11
// keysym names or common short names, case-insensitive; a single character
// is that character.
func ParseKeys(chords ...string) ([]KeyEvent, error) {
	var out []KeyEvent
	for _, chord := range chords {
		parts := strings.Split(chord, "+")
		if chord == "+" || strings.HasSuffix(chord, "++") {
			parts = append(parts[:len(parts)-2], "+") // "ctrl++": the plus key
		}
		var keys []keyName
		for _, p := range parts {
			if p == "" {
				return nil, fmt.Errorf("rep: empty key name in %q", chord)
			}
			k, ok := keyNames[strings.ToLower(p)]
			if utf8.RuneCountInString(p) == 1 && p != strings.ToLower(p) {
				k.key = p // "A": the capital letter, typed as such
			}
			if !ok && utf8.RuneCountInString(p) == 1 {
				k, ok = keyName{"", p, 0}, true
			}
			if !ok {
				return nil, fmt.Errorf("rep: unknown key %q (try names like ctrl, alt, shift, super, enter, esc, f5, kp_enter, kp_1, up, or one character)", p)
			}
			keys = append(keys, k)
		}
		var flags uint16
		for _, k := range keys {
			out = append(out, KeyEvent{Down: true, Code: k.code, Key: k.key, Flags: flags | k.mod&protocol.ModNumLock})
			flags |= k.mod &^ protocol.ModNumLock
		}
		for i := len(keys) - 1; i >= 0; i-- {
			flags &^= keys[i].mod
			out = append(out, KeyEvent{Down: false, Code: keys[i].code, Key: keys[i].key, Flags: flags})
		}
	}
	return out, nil
}
