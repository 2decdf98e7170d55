package input

import "testing"

func TestResolve(t *testing.T) {
	tests := []struct {
		code, key string
		want      Stroke
		ok        bool
	}{
		{"KeyA", "a", Stroke{'a', Char}, true},
		{"KeyA", "A", Stroke{'A', Char}, true},
		{"KeyA", "Unidentified", Stroke{'a', Char}, true},
		{"KeyQ", "@", Stroke{'@', Char}, true},
		{"Digit7", "", Stroke{'7', Char}, true},
		{"Space", " ", Stroke{' ', Char}, true},
		{"KeyE", "€", Stroke{0x10020ac, Char}, true},
		{"KeyE", "é", Stroke{0xe9, Char}, true},
		{"", "😀", Stroke{0x101f600, Char}, true},
		{"Quote", "Dead", Stroke{}, false},
		{"KeyA", "Process", Stroke{}, false},
		{"Enter", "Enter", Stroke{XKReturn, Physical}, true},
		{"", "Enter", Stroke{XKReturn, Physical}, true},
		{"", "Meta", Stroke{XKSuperL, Physical}, true},
		{"MetaLeft", "Meta", Stroke{XKSuperL, Physical}, true},
		{"OSRight", "OS", Stroke{XKSuperR, Physical}, true},
		{"AltRight", "AltGraph", Stroke{XKLevel3, Physical}, true},
		{"AltRight", "Alt", Stroke{XKAltR, Physical}, true},
		{"F24", "F24", Stroke{0xffd5, Physical}, true},
		{"Numpad1", "1", Stroke{0xffb1, Keypad}, true},
		{"Numpad1", "End", Stroke{XKKPEnd, Keypad}, true},
		{"Numpad5", "Clear", Stroke{XKKPBegin, Keypad}, true},
		{"Numpad9", "", Stroke{0xffb9, Keypad}, true},
		{"NumpadDecimal", ",", Stroke{XKKPDecimal, Keypad}, true},
		{"NumpadDecimal", "Delete", Stroke{XKKPDelete, Keypad}, true},
		{"NumpadEnter", "Enter", Stroke{XKKPEnter, Physical}, true},
		{"ContextMenu", "ContextMenu", Stroke{XKMenu, Physical}, true},
		{"Fn", "Fn", Stroke{}, false},
		{"", "", Stroke{}, false},
	}
	for _, tt := range tests {
		got, ok := Resolve(tt.code, tt.key)
		if ok != tt.ok || got != tt.want {
			t.Errorf("Resolve(%q, %q) = %+v %v, want %+v %v", tt.code, tt.key, got, ok, tt.want, tt.ok)
		}
	}
}

func TestKeysymRunes(t *testing.T) {
	for _, r := range []rune{'a', 'Z', ' ', '~', 'ñ', 'ÿ', '€', '中', '😀'} {
		if got := RuneOfKeysym(KeysymForRune(r)); got != r {
			t.Errorf("rune %q came back as %q", r, got)
		}
	}
	if KeysymForRune('\n') != XKReturn || RuneOfKeysym(XKReturn) != -1 {
		t.Error("newline is the Return key")
	}
	if !sameChar(0x20ac, 0x10020ac) || sameChar('a', 'b') {
		t.Error("EuroSign and U20AC are the same character")
	}
	if lo, up, ok := caseOf('É'); !ok || lo != 0xe9 || up != 0xc9 {
		t.Errorf("caseOf(É) = %#x %#x %v", lo, up, ok)
	}
	if _, _, ok := caseOf('1'); ok {
		t.Error("digits have no case")
	}
}
