package input

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Mods are the modifier and lock flags the rep's browser reported with a key
// event. The bits are those of the wire protocol (protocol.Mod*).
type Mods uint16

// Modifier flags.
const (
	ModShift      Mods = 1 << 0
	ModCtrl       Mods = 1 << 1
	ModAlt        Mods = 1 << 2
	ModMeta       Mods = 1 << 3
	ModAltGraph   Mods = 1 << 4
	ModCapsLock   Mods = 1 << 5
	ModNumLock    Mods = 1 << 6
	ModLocksKnown Mods = 1 << 7 // the two lock flags are meaningful
	ModRepeat     Mods = 1 << 8 // an auto-repeated key-down
)

// Keysym is an X11 keysym: the platform-neutral name of what a key means
// (X11's numbering serves every platform: its keysym list covers every key
// and, as 0x01000000+codepoint, every Unicode character).
type Keysym uint32

// Keysyms of the keys the console sends (X11's keysymdef.h).
const (
	XKBackSpace  Keysym = 0xff08
	XKTab        Keysym = 0xff09
	XKReturn     Keysym = 0xff0d
	XKPause      Keysym = 0xff13
	XKScrollLock Keysym = 0xff14
	XKEscape     Keysym = 0xff1b
	XKHome       Keysym = 0xff50
	XKLeft       Keysym = 0xff51
	XKUp         Keysym = 0xff52
	XKRight      Keysym = 0xff53
	XKDown       Keysym = 0xff54
	XKPrior      Keysym = 0xff55
	XKNext       Keysym = 0xff56
	XKEnd        Keysym = 0xff57
	XKPrint      Keysym = 0xff61
	XKInsert     Keysym = 0xff63
	XKMenu       Keysym = 0xff67
	XKNumLock    Keysym = 0xff7f
	XKKPEnter    Keysym = 0xff8d
	XKKPHome     Keysym = 0xff95
	XKKPLeft     Keysym = 0xff96
	XKKPUp       Keysym = 0xff97
	XKKPRight    Keysym = 0xff98
	XKKPDown     Keysym = 0xff99
	XKKPPrior    Keysym = 0xff9a
	XKKPNext     Keysym = 0xff9b
	XKKPEnd      Keysym = 0xff9c
	XKKPBegin    Keysym = 0xff9d
	XKKPInsert   Keysym = 0xff9e
	XKKPDelete   Keysym = 0xff9f
	XKKPMultiply Keysym = 0xffaa
	XKKPAdd      Keysym = 0xffab
	XKKPSep      Keysym = 0xffac
	XKKPSubtract Keysym = 0xffad
	XKKPDecimal  Keysym = 0xffae
	XKKPDivide   Keysym = 0xffaf
	XKKP0        Keysym = 0xffb0
	XKKPEqual    Keysym = 0xffbd
	XKF1         Keysym = 0xffbe
	XKShiftL     Keysym = 0xffe1
	XKShiftR     Keysym = 0xffe2
	XKControlL   Keysym = 0xffe3
	XKControlR   Keysym = 0xffe4
	XKCapsLock   Keysym = 0xffe5
	XKAltL       Keysym = 0xffe9
	XKAltR       Keysym = 0xffea
	XKSuperL     Keysym = 0xffeb
	XKSuperR     Keysym = 0xffec
	XKDelete     Keysym = 0xffff
	XKLevel3     Keysym = 0xfe03 // ISO_Level3_Shift (AltGr)
	XKModeSwitch Keysym = 0xff7e
)

// StrokeKind says how a keysym is to be produced on the customer's side.
type StrokeKind uint8

const (
	// Physical: a key that is not text (arrows, F-keys, modifiers...): it is
	// pressed as it is, under whatever modifiers are held, like the rep's
	// own key.
	Physical StrokeKind = iota + 1
	// Char: a character. The customer's side picks the key that makes it
	// under its own layout and sets Shift (and the lock state) so that the
	// character comes out, whatever layout the rep has.
	Char
	// Keypad: a numeric keypad key whose meaning depends on NumLock
	// (KP_1 or KP_End): NumLock is brought into the state that makes it.
	Keypad
)

// Stroke is a resolved key: what to press on the customer's side.
type Stroke struct {
	Sym  Keysym
	Kind StrokeKind
}

// physical maps KeyboardEvent.code values of keys that are not text to the
// keysym they stand for. Keys whose meaning depends on KeyboardEvent.key
// (AltRight, the numeric keypad) are handled in Resolve.
var physical = map[string]Keysym{
	"Escape": XKEscape, "Tab": XKTab, "Backspace": XKBackSpace, "Enter": XKReturn,
	"ArrowUp": XKUp, "ArrowDown": XKDown, "ArrowLeft": XKLeft, "ArrowRight": XKRight,
	"Home": XKHome, "End": XKEnd, "PageUp": XKPrior, "PageDown": XKNext,
	"Insert": XKInsert, "Delete": XKDelete,
	"PrintScreen": XKPrint, "Pause": XKPause, "ContextMenu": XKMenu,
	"CapsLock": XKCapsLock, "NumLock": XKNumLock, "ScrollLock": XKScrollLock,
	"ShiftLeft": XKShiftL, "ShiftRight": XKShiftR,
	"ControlLeft": XKControlL, "ControlRight": XKControlR,
	"AltLeft":  XKAltL,
	"MetaLeft": XKSuperL, "MetaRight": XKSuperR, "OSLeft": XKSuperL, "OSRight": XKSuperR,
	"NumpadEnter": XKKPEnter, "NumpadAdd": XKKPAdd, "NumpadSubtract": XKKPSubtract,
	"NumpadMultiply": XKKPMultiply, "NumpadDivide": XKKPDivide, "NumpadEqual": XKKPEqual,
	"NumpadComma":     XKKPSep,
	"AudioVolumeMute": 0x1008ff12, "AudioVolumeDown": 0x1008ff11, "AudioVolumeUp": 0x1008ff13,
	"MediaPlayPause": 0x1008ff14, "MediaStop": 0x1008ff15, "MediaTrackPrevious": 0x1008ff16,
	"MediaTrackNext": 0x1008ff17, "BrowserBack": 0x1008ff26, "BrowserForward": 0x1008ff27,
	"BrowserRefresh": 0x1008ff29, "BrowserHome": 0x1008ff18, "BrowserSearch": 0x1008ff1b,
	"LaunchMail": 0x1008ff19, "Sleep": 0x1008ff2f, "Power": 0x1008ff2a, "Help": 0xff6a,
}

// keypadNav maps the key a numpad digit makes with NumLock off to its keysym.
var keypadNav = map[string]Keysym{
	"Insert": XKKPInsert, "End": XKKPEnd, "ArrowDown": XKKPDown, "PageDown": XKKPNext,
	"ArrowLeft": XKKPLeft, "Clear": XKKPBegin, "ArrowRight": XKKPRight, "Home": XKKPHome,
	"ArrowUp": XKKPUp, "PageUp": XKKPPrior, "Delete": XKKPDelete,
}

// usChar is what each text key makes on a US keyboard: the fallback when
// the browser's key is no character (a script sent only the code).
var usChar = map[string]rune{
	"Space": ' ', "Minus": '-', "Equal": '=', "BracketLeft": '[', "BracketRight": ']',
	"Backslash": '\\', "Semicolon": ';', "Quote": '\'', "Backquote": '`', "Comma": ',',
	"Period": '.', "Slash": '/', "IntlBackslash": '<',
}

func init() {
	for i := 0; i < 24; i++ {
		physical["F"+itoa(i+1)] = XKF1 + Keysym(i)
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return string(rune('0'+n/10)) + string(rune('0'+n%10))
}

// Resolve turns a browser key event (KeyboardEvent.code, KeyboardEvent.key)
// into what to press on the customer's side. It returns false for events
// that press nothing: dead keys (the character they compose arrives with the
// next key), IME composition, keys nobody can name.
//
// The code decides for keys that are not text (arrows, F-keys, modifiers,
// the keypad), so that they mean the same whatever the rep's layout; the key
// decides for text, so that the rep's "é" is an "é" on the customer's side
// whatever the customer's layout.
func Resolve(code, key string) (Stroke, bool) {
	switch code {
	case "AltRight":
		if key == "AltGraph" {
			return Stroke{Sym: XKLevel3, Kind: Physical}, true
		}
		return Stroke{Sym: XKAltR, Kind: Physical}, true
	case "NumpadDecimal":
		if key == "Delete" {
			return Stroke{Sym: XKKPDelete, Kind: Keypad}, true
		}
		return Stroke{Sym: XKKPDecimal, Kind: Keypad}, true
	}
	if strings.HasPrefix(code, "Numpad") && len(code) == 7 && code[6] >= '0' && code[6] <= '9' {
		digit := XKKP0 + Keysym(code[6]-'0')
		if sym, ok := keypadNav[key]; ok {
			return Stroke{Sym: sym, Kind: Keypad}, true
		}
		return Stroke{Sym: digit, Kind: Keypad}, true
	}
	if sym, ok := physical[code]; ok {
		return Stroke{Sym: sym, Kind: Physical}, true
	}
	// Text: the character the rep's layout made, else the US one of the code.
	if r, ok := singleRune(key); ok {
		return Stroke{Sym: KeysymForRune(r), Kind: Char}, true
	}
	switch key {
	case "Dead", "Process", "Unidentified", "Compose", "":
		if key != "" && key != "Unidentified" {
			return Stroke{}, false
		}
	default:
		// A named key sent without a code (a script, or an unusual
		// browser): name it by its key.
		if sym, ok := physical[key]; ok {
			return Stroke{Sym: sym, Kind: Physical}, true
		}
		if sym, ok := namedKeys[key]; ok {
			return Stroke{Sym: sym, Kind: Physical}, true
		}
		return Stroke{}, false
	}
	switch {
	case len(code) == 4 && strings.HasPrefix(code, "Key") && code[3] >= 'A' && code[3] <= 'Z':
		return Stroke{Sym: Keysym(code[3] - 'A' + 'a'), Kind: Char}, true
	case len(code) == 6 && strings.HasPrefix(code, "Digit") && code[5] >= '0' && code[5] <= '9':
		return Stroke{Sym: Keysym(code[5]), Kind: Char}, true
	}
	if r, ok := usChar[code]; ok {
		return Stroke{Sym: Keysym(r), Kind: Char}, true
	}
	return Stroke{}, false
}

// namedKeys are KeyboardEvent.key names that differ from their code.
var namedKeys = map[string]Keysym{
	"Shift": XKShiftL, "Control": XKControlL, "Alt": XKAltL, "AltGraph": XKLevel3,
	"Meta": XKSuperL, "OS": XKSuperL, "Super": XKSuperL,
}

// singleRune returns the character of key when key is exactly one
// printable character.
func singleRune(key string) (rune, bool) {
	r, n := utf8.DecodeRuneInString(key)
	if n == 0 || n != len(key) || r == utf8.RuneError || !unicode.IsPrint(r) && r != ' ' && !unicode.Is(unicode.Mn, r) {
		return 0, false
	}
	return r, true
}

// Characters that have a key of their own rather than a character keysym.
var runeKeys = map[rune]Keysym{'\n': XKReturn, '\r': XKReturn, '\t': XKTab, '\b': XKBackSpace, 0x1b: XKEscape, 0x7f: XKDelete}

// KeysymForRune is the keysym of character r: Latin-1 characters are their
// own keysym, others 0x01000000+codepoint; newline, tab, backspace, escape
// and delete are the keys of those names.
func KeysymForRune(r rune) Keysym {
	if sym, ok := runeKeys[r]; ok {
		return sym
	}
	if r >= 0x20 && r <= 0x7e || r >= 0xa0 && r <= 0xff {
		return Keysym(r)
	}
	return Keysym(0x01000000 | uint32(r))
}

// RuneOfKeysym is the character a keysym types, or -1 when it types none
// (or not one this package knows: legacy keysyms outside Latin-1 other than
// the euro sign).
func RuneOfKeysym(sym Keysym) rune {
	switch {
	case sym >= 0x20 && sym <= 0x7e || sym >= 0xa0 && sym <= 0xff:
		return rune(sym)
	case sym >= 0x01000100 && sym <= 0x0110ffff:
		return rune(sym - 0x01000000)
	case sym == 0x20ac: // EuroSign
		return '€'
	}
	return -1
}

// sameChar reports whether two keysyms type the same character (a layout
// may name "€" EuroSign or U20AC).
func sameChar(a, b Keysym) bool {
	if a == b {
		return true
	}
	ra := RuneOfKeysym(a)
	return ra >= 0 && ra == RuneOfKeysym(b)
}

// caseOf returns the lower and upper case keysyms of a character keysym, and
// whether it has two cases.
func caseOf(sym Keysym) (lower, upper Keysym, cased bool) {
	r := RuneOfKeysym(sym)
	if r < 0 {
		return sym, sym, false
	}
	lo, up := unicode.ToLower(r), unicode.ToUpper(r)
	if lo == up || unicode.ToUpper(lo) != up || unicode.ToLower(up) != lo {
		return sym, sym, false
	}
	return KeysymForRune(lo), KeysymForRune(up), true
}
