package agent

import (
	"testing"

	"assist/input"
	"assist/protocol"
)

// The input package keeps its own copy of the key flags (it imports nothing
// of ours); inject passes them through unchanged, so the bits must agree.
func TestModsAgree(t *testing.T) {
	pairs := []struct {
		in   input.Mods
		wire uint16
	}{
		{input.ModShift, protocol.ModShift}, {input.ModCtrl, protocol.ModCtrl}, {input.ModAlt, protocol.ModAlt},
		{input.ModMeta, protocol.ModMeta}, {input.ModAltGraph, protocol.ModAltGraph},
		{input.ModCapsLock, protocol.ModCapsLock}, {input.ModNumLock, protocol.ModNumLock},
		{input.ModLocksKnown, protocol.ModLocksKnown}, {input.ModRepeat, protocol.ModRepeat},
	}
	for _, p := range pairs {
		if uint16(p.in) != p.wire {
			t.Errorf("input flag %#x, wire flag %#x", p.in, p.wire)
		}
	}
	if input.ButtonLeft != protocol.ButtonLeft || input.ButtonRight != protocol.ButtonRight ||
		input.ButtonMiddle != protocol.ButtonMiddle || input.ButtonBack != protocol.ButtonBack || input.ButtonForward != protocol.ButtonForward {
		t.Error("button numbers differ")
	}
}
