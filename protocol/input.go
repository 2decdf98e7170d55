package protocol

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// Input message kinds: the first byte of every binary message on the "input"
// data channel (rep -> agent). All integers are big-endian. Coordinates are
// absolute pixels of the shared screen (the picture the screen channel
// sends), whatever the size the rep's console draws it at.
const (
	// InputKeyDown / InputKeyUp: [kind][u16 flags][u8 n][n bytes code][u8 m][m bytes key].
	// Code is the browser's KeyboardEvent.code (the physical key, ASCII
	// letters and digits, e.g. "KeyA", "Numpad1", "MetaLeft"); Key is
	// KeyboardEvent.key (what the rep's layout made of it, UTF-8, e.g. "a",
	// "é", "End", "Dead"). Flags are Mod* bits.
	InputKeyDown byte = 1
	InputKeyUp   byte = 2
	// InputText: [3][UTF-8 text]. Text typed as characters, whatever keys
	// the customer's keyboard has ("\n" is Enter, "\t" is Tab).
	InputText byte = 3
	// InputMove: [4][u16 x][u16 y]. The pointer moves to (x, y).
	InputMove byte = 4
	// InputButton: [5][u8 button][u8 down (0 or 1)][u16 x][u16 y]. The
	// pointer moves to (x, y), then button goes down or up.
	InputButton byte = 5
	// InputWheel: [6][i16 dx][i16 dy][u16 x][u16 y]. The pointer moves to
	// (x, y), then the wheel turns dx notches right (negative: left) and dy
	// notches down (negative: up).
	InputWheel byte = 6
	// InputPing: [7][u32 id] (rep -> agent). The agent answers InputPong on
	// the same channel once every input message before it was handled.
	InputPing byte = 7
	// InputPong: [8][u32 id][u32 refused] (agent -> rep). Refused counts
	// the input messages refused or failed since the previous pong (the
	// control channel carries the errors' text).
	InputPong byte = 8
)

// Key flags: the modifier and lock state the rep's browser reported with a
// key event, and whether it is an auto-repeat.
const (
	ModShift    uint16 = 1 << 0
	ModCtrl     uint16 = 1 << 1
	ModAlt      uint16 = 1 << 2
	ModMeta     uint16 = 1 << 3
	ModAltGraph uint16 = 1 << 4
	ModCapsLock uint16 = 1 << 5
	ModNumLock  uint16 = 1 << 6
	// ModLocksKnown says ModCapsLock and ModNumLock are meaningful (a
	// browser knows its lock state; a script usually does not).
	ModLocksKnown uint16 = 1 << 7
	// ModRepeat marks a key-down repeated while the key is held.
	ModRepeat uint16 = 1 << 8
	modAll           = 1<<9 - 1
)

// Pointer buttons, numbered as X11 numbers them.
const (
	ButtonLeft    byte = 1
	ButtonMiddle  byte = 2
	ButtonRight   byte = 3
	ButtonBack    byte = 8
	ButtonForward byte = 9
)

// Input limits.
const (
	// MaxInputMessage bounds one input message (bytes).
	MaxInputMessage = 4096
	// MaxInputText bounds the text of one InputText message; senders split
	// longer text at character boundaries.
	MaxInputText = MaxInputMessage - 1
	// MaxKeyField bounds InputKeyDown's code and key fields (bytes).
	MaxKeyField = 64
	// MaxWheel bounds one wheel message's notches on each axis.
	MaxWheel = 1000
)

// Control-grant and clipboard error codes (control "error" messages).
const (
	CodeNotGranted = "not_granted" // input or clipboard without the customer's grant
	CodeTooLarge   = "too_large"   // a clipboard text above MaxClipboard
	CodeClipboard  = "clipboard"   // the customer's clipboard could not be read or written
)

// InputEvent is one decoded input message. Which fields are set depends on
// Kind.
type InputEvent struct {
	Kind      byte
	Flags     uint16 // key events: Mod* bits
	Code, Key string // key events
	Text      string // InputText
	X, Y      int    // pointer events
	Button    byte   // InputButton
	Down      bool   // InputButton
	DX, DY    int    // InputWheel
	ID        uint32 // InputPing, InputPong
	Refused   uint32 // InputPong
}

// IsKey reports whether e is a key-down or key-up.
func (e InputEvent) IsKey() bool { return e.Kind == InputKeyDown || e.Kind == InputKeyUp }

// AppendInput appends the encoding of e to dst after validating it.
func AppendInput(dst []byte, e InputEvent) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return dst, err
	}
	dst = append(dst, e.Kind)
	switch e.Kind {
	case InputKeyDown, InputKeyUp:
		dst = binary.BigEndian.AppendUint16(dst, e.Flags)
		dst = append(dst, byte(len(e.Code)))
		dst = append(dst, e.Code...)
		dst = append(dst, byte(len(e.Key)))
		dst = append(dst, e.Key...)
	case InputText:
		dst = append(dst, e.Text...)
	case InputMove:
		dst = appendXY(dst, e.X, e.Y)
	case InputButton:
		down := byte(0)
		if e.Down {
			down = 1
		}
		dst = append(dst, e.Button, down)
		dst = appendXY(dst, e.X, e.Y)
	case InputWheel:
		dst = binary.BigEndian.AppendUint16(dst, uint16(int16(e.DX)))
		dst = binary.BigEndian.AppendUint16(dst, uint16(int16(e.DY)))
		dst = appendXY(dst, e.X, e.Y)
	case InputPing:
		dst = binary.BigEndian.AppendUint32(dst, e.ID)
	case InputPong:
		dst = binary.BigEndian.AppendUint32(dst, e.ID)
		dst = binary.BigEndian.AppendUint32(dst, e.Refused)
	}
	return dst, nil
}

func appendXY(dst []byte, x, y int) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(x))
	return binary.BigEndian.AppendUint16(dst, uint16(y))
}

// DecodeInput parses and validates one input message. It never panics; a
// malformed message is an ErrMalformed, an unknown kind ErrUnknownType.
func DecodeInput(b []byte) (InputEvent, error) {
	if len(b) == 0 {
		return InputEvent{}, fmt.Errorf("%w: empty input message", ErrMalformed)
	}
	if len(b) > MaxInputMessage {
		return InputEvent{}, fmt.Errorf("%w: input message of %d bytes", ErrTooLarge, len(b))
	}
	e := InputEvent{Kind: b[0]}
	p := b[1:]
	short := func() (InputEvent, error) {
		return InputEvent{}, fmt.Errorf("%w: input message kind %d of %d bytes", ErrMalformed, e.Kind, len(b))
	}
	switch e.Kind {
	case InputKeyDown, InputKeyUp:
		if len(p) < 3 {
			return short()
		}
		e.Flags = binary.BigEndian.Uint16(p)
		n := int(p[2])
		p = p[3:]
		if len(p) < n+1 {
			return short()
		}
		e.Code = string(p[:n])
		m := int(p[n])
		p = p[n+1:]
		if len(p) != m {
			return short()
		}
		e.Key = string(p)
	case InputText:
		e.Text = string(p)
	case InputMove:
		if len(p) != 4 {
			return short()
		}
		e.X, e.Y = readXY(p)
	case InputButton:
		if len(p) != 6 || p[1] > 1 {
			return short()
		}
		e.Button, e.Down = p[0], p[1] == 1
		e.X, e.Y = readXY(p[2:])
	case InputWheel:
		if len(p) != 8 {
			return short()
		}
		e.DX = int(int16(binary.BigEndian.Uint16(p)))
		e.DY = int(int16(binary.BigEndian.Uint16(p[2:])))
		e.X, e.Y = readXY(p[4:])
	case InputPing:
		if len(p) != 4 {
			return short()
		}
		e.ID = binary.BigEndian.Uint32(p)
	case InputPong:
		if len(p) != 8 {
			return short()
		}
		e.ID, e.Refused = binary.BigEndian.Uint32(p), binary.BigEndian.Uint32(p[4:])
	default:
		return InputEvent{}, fmt.Errorf("%w: input message kind %d", ErrUnknownType, e.Kind)
	}
	if err := e.Validate(); err != nil {
		return InputEvent{}, err
	}
	return e, nil
}

func readXY(p []byte) (int, int) {
	return int(binary.BigEndian.Uint16(p)), int(binary.BigEndian.Uint16(p[2:]))
}

// Validate checks the fields Kind needs.
func (e InputEvent) Validate() error {
	bad := func(what string, args ...any) error {
		return fmt.Errorf("%w: input kind %d: %s", ErrMalformed, e.Kind, fmt.Sprintf(what, args...))
	}
	switch e.Kind {
	case InputKeyDown, InputKeyUp:
		if e.Flags&^modAll != 0 {
			return bad("unknown flags %#x", e.Flags)
		}
		if e.Code == "" && e.Key == "" {
			return bad("code or key is required")
		}
		if len(e.Code) > MaxKeyField || len(e.Key) > MaxKeyField {
			return bad("code or key longer than %d bytes", MaxKeyField)
		}
		for i := 0; i < len(e.Code); i++ {
			c := e.Code[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
				return bad("code %q is not a KeyboardEvent.code", e.Code)
			}
		}
		if !utf8.ValidString(e.Key) {
			return bad("key is not UTF-8")
		}
	case InputText:
		if e.Text == "" || len(e.Text) > MaxInputText {
			return bad("text of %d bytes (1 to %d)", len(e.Text), MaxInputText)
		}
		if !utf8.ValidString(e.Text) {
			return bad("text is not UTF-8")
		}
	case InputMove, InputButton, InputWheel:
		if e.X < 0 || e.Y < 0 || e.X >= MaxDimension || e.Y >= MaxDimension {
			return bad("position (%d, %d) out of range", e.X, e.Y)
		}
		if e.Kind == InputButton {
			switch e.Button {
			case ButtonLeft, ButtonMiddle, ButtonRight, ButtonBack, ButtonForward:
			default:
				return bad("button %d", e.Button)
			}
		}
		if e.Kind == InputWheel {
			if e.DX == 0 && e.DY == 0 {
				return bad("wheel without movement")
			}
			if e.DX < -MaxWheel || e.DX > MaxWheel || e.DY < -MaxWheel || e.DY > MaxWheel {
				return bad("wheel of (%d, %d) notches", e.DX, e.DY)
			}
		}
	case InputPing, InputPong:
	default:
		return fmt.Errorf("%w: input message kind %d", ErrUnknownType, e.Kind)
	}
	return nil
}

// SplitText cuts s into pieces of at most max bytes, never inside a UTF-8
// character (max must be at least utf8.UTFMax).
func SplitText(s string, max int) []string {
	var out []string
	for len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		if cut == 0 {
			cut = max // not UTF-8: cut anywhere rather than loop
		}
		out = append(out, s[:cut])
		s = s[cut:]
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}
