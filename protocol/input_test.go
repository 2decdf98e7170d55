package protocol

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestInputRoundTrip(t *testing.T) {
	tests := []InputEvent{
		{Kind: InputKeyDown, Flags: ModShift | ModLocksKnown | ModNumLock, Code: "KeyA", Key: "A"},
		{Kind: InputKeyUp, Code: "Numpad1", Key: "End"},
		{Kind: InputKeyDown, Flags: ModAltGraph | ModRepeat, Code: "KeyE", Key: "€"},
		{Kind: InputKeyDown, Key: "😀"},
		{Kind: InputKeyDown, Code: "MetaLeft"},
		{Kind: InputText, Text: "Él añadió: ¿qué? 😀\r\n"},
		{Kind: InputMove, X: 1919, Y: 1079},
		{Kind: InputButton, Button: ButtonRight, Down: true, X: 3, Y: 4},
		{Kind: InputButton, Button: ButtonLeft, X: 0, Y: 0},
		{Kind: InputWheel, DX: -2, DY: 3, X: 10, Y: 20},
		{Kind: InputWheel, DY: -MaxWheel, X: MaxDimension - 1, Y: 0},
		{Kind: InputPing, ID: 77},
		{Kind: InputPong, ID: 77, Refused: 3},
	}
	for _, in := range tests {
		b, err := AppendInput(nil, in)
		if err != nil {
			t.Fatalf("AppendInput(%+v): %v", in, err)
		}
		out, err := DecodeInput(b)
		if err != nil {
			t.Fatalf("DecodeInput(%+v): %v", in, err)
		}
		if out != in {
			t.Errorf("round trip: %+v became %+v", in, out)
		}
	}
}

func TestInputRejects(t *testing.T) {
	key := func(flags uint16, code, key string) []byte {
		b := []byte{InputKeyDown, byte(flags >> 8), byte(flags), byte(len(code))}
		b = append(b, code...)
		b = append(b, byte(len(key)))
		return append(b, key...)
	}
	tests := []struct {
		name string
		msg  []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"unknown kind", []byte{99, 1, 2}, ErrUnknownType},
		{"key without fields", []byte{InputKeyDown, 0}, ErrMalformed},
		{"key code past end", []byte{InputKeyDown, 0, 0, 9, 'K'}, ErrMalformed},
		{"key trailing bytes", append(key(0, "KeyA", "a"), 0), ErrMalformed},
		{"key empty", key(0, "", ""), ErrMalformed},
		{"key bad code", key(0, "Key A", "a"), ErrMalformed},
		{"key code with quote", key(0, `Key"`, "a"), ErrMalformed},
		{"key not utf-8", key(0, "KeyA", "\xff"), ErrMalformed},
		{"key unknown flag", key(1<<12, "KeyA", "a"), ErrMalformed},
		{"key too long", key(0, "KeyA", strings.Repeat("x", MaxKeyField+1)), ErrMalformed},
		{"text empty", []byte{InputText}, ErrMalformed},
		{"text not utf-8", []byte{InputText, 0xc3}, ErrMalformed},
		{"too large", append([]byte{InputText}, strings.Repeat("a", MaxInputMessage)...), ErrTooLarge},
		{"move short", []byte{InputMove, 0, 1, 0}, ErrMalformed},
		{"move out of range", []byte{InputMove, 0xff, 0xff, 0, 0}, ErrMalformed},
		{"button unknown", []byte{InputButton, 4, 1, 0, 1, 0, 1}, ErrMalformed},
		{"button down 2", []byte{InputButton, 1, 2, 0, 1, 0, 1}, ErrMalformed},
		{"wheel zero", []byte{InputWheel, 0, 0, 0, 0, 0, 1, 0, 1}, ErrMalformed},
		{"ping short", []byte{InputPing, 0, 0, 1}, ErrMalformed},
		{"pong short", []byte{InputPong, 0, 0, 0, 1}, ErrMalformed},
		{"wheel huge", []byte{InputWheel, 0x7f, 0xff, 0, 0, 0, 1, 0, 1}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeInput(tt.msg)
			if !errors.Is(err, tt.want) {
				t.Fatalf("DecodeInput = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := AppendInput(nil, InputEvent{Kind: InputMove, X: -1}); err == nil {
		t.Fatal("AppendInput accepted a negative position")
	}
}

func TestSplitText(t *testing.T) {
	s := strings.Repeat("añ😀中\r\n", 500)
	parts := SplitText(s, 100)
	if strings.Join(parts, "") != s {
		t.Fatal("pieces do not add up")
	}
	for _, p := range parts {
		if len(p) > 100 || !utf8.ValidString(p) {
			t.Fatalf("piece of %d bytes, valid %v", len(p), utf8.ValidString(p))
		}
	}
	if SplitText("", 10) != nil {
		t.Fatal("empty text gave pieces")
	}
}

// clipText is 1 MiB exactly of every kind of text a clipboard holds: Latin,
// Spanish, CJK, emoji, CRLF, and characters JSON must escape.
func clipText() string {
	unit := "Línea ñandú ¿qué? 中文字 😀👍🏽 <a href=\"x\">&amp;</a>\\ \x01\x1f\t\r\n"
	s := strings.Repeat(unit, MaxClipboard/len(unit))
	return s + strings.Repeat("z", MaxClipboard-len(s))
}

func TestClipChunksRoundTrip(t *testing.T) {
	for _, text := range []string{"", "x", "a\r\nb\r\n", clipText()} {
		msgs, err := ClipChunks(7, text)
		if err != nil {
			t.Fatal(err)
		}
		var a ClipAssembler
		var got string
		var done bool
		for i, m := range msgs {
			b, err := EncodeControl(m)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > MaxControlSize {
				t.Fatalf("chunk %d encodes to %d bytes", i, len(b))
			}
			d, err := DecodeControl(b)
			if err != nil {
				t.Fatal(err)
			}
			if done {
				t.Fatal("text completed before its last chunk")
			}
			got, done, err = a.Add(*d.Clip)
			if err != nil {
				t.Fatal(err)
			}
		}
		if !done || got != text {
			t.Fatalf("text of %d bytes came back as %d bytes (done %v)", len(text), len(got), done)
		}
	}
	if _, err := ClipChunks(1, clipText()+"x"); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "1.0 MiB") {
		t.Fatalf("1 MiB + 1 byte: %v", err)
	}
}

func TestClipAssemblerRejects(t *testing.T) {
	var a ClipAssembler
	if _, _, err := a.Add(Clip{ID: 1, Seq: 1, Total: 3, Text: "abc", Last: true}); err == nil {
		t.Fatal("a chunk without its start was accepted")
	}
	a.Add(Clip{ID: 1, Seq: 0, Total: 4, Text: "ab"})
	if _, _, err := a.Add(Clip{ID: 2, Seq: 1, Total: 4, Text: "cd", Last: true}); err == nil {
		t.Fatal("a chunk of another text was accepted")
	}
	a.Add(Clip{ID: 3, Seq: 0, Total: 2, Text: "ab"})
	if _, _, err := a.Add(Clip{ID: 3, Seq: 1, Total: 2, Text: "c", Last: true}); err == nil {
		t.Fatal("more text than announced was accepted")
	}
	if _, _, err := a.Add(Clip{ID: 4, Seq: 0, Total: 5, Text: "ab", Last: true}); err == nil {
		t.Fatal("less text than announced was accepted")
	}
	if _, _, err := a.Add(Clip{ID: 5, Seq: 0, Total: MaxClipboard + 1, Text: "ab"}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized text: %v", err)
	}
	if s, ok, err := a.Add(Clip{ID: 6, Seq: 0, Total: 2, Text: "ok", Last: true}); err != nil || !ok || s != "ok" {
		t.Fatalf("a good text after errors: %q %v %v", s, ok, err)
	}
}

func TestRemoteControlValidation(t *testing.T) {
	tests := []struct {
		json string
		ok   bool
	}{
		{`{"type":"request_control"}`, true},
		{`{"type":"control_refused","reason":"the customer said no"}`, true},
		{`{"type":"control_granted","clip":{"id":1}}`, false},
		{`{"type":"clipboard","clip":{"id":1,"seq":0,"total":2,"text":"hi","last":true}}`, true},
		{`{"type":"clipboard","clip":{"id":1,"seq":0,"total":0,"text":"","last":true}}`, true},
		{`{"type":"clipboard"}`, false},
		{`{"type":"clipboard","clip":{"id":0,"seq":0,"total":2,"text":"hi"}}`, false},
		{`{"type":"clipboard","clip":{"id":1,"seq":0,"total":1,"text":"hi"}}`, false},
		{`{"type":"clipboard","clip":{"id":1,"seq":0,"total":2000000,"text":"hi"}}`, false},
		{`{"type":"clipboard","clip":{"id":1,"seq":-1,"total":2,"text":"hi"}}`, false},
		{`{"type":"clipboard_ack","clip":{"id":9}}`, true},
		{`{"type":"clipboard_ack"}`, false},
	}
	for _, tt := range tests {
		_, err := DecodeControl([]byte(tt.json))
		if (err == nil) != tt.ok {
			t.Errorf("DecodeControl(%s) = %v, want ok=%v", tt.json, err, tt.ok)
		}
	}
}

func FuzzDecodeInput(f *testing.F) {
	for _, e := range []InputEvent{
		{Kind: InputKeyDown, Flags: ModShift, Code: "KeyA", Key: "A"},
		{Kind: InputKeyUp, Code: "NumpadEnter", Key: "Enter"},
		{Kind: InputText, Text: "añ😀"},
		{Kind: InputMove, X: 5, Y: 6},
		{Kind: InputButton, Button: ButtonLeft, Down: true, X: 1, Y: 2},
		{Kind: InputWheel, DX: 1, DY: -1, X: 1, Y: 2},
		{Kind: InputPing, ID: 1},
		{Kind: InputPong, ID: 1, Refused: 2},
	} {
		b, _ := AppendInput(nil, e)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeInput(b)
		if err != nil {
			return
		}
		again, err := AppendInput(nil, e)
		if err != nil {
			t.Fatalf("decoded event does not re-encode: %v", err)
		}
		if string(again) != string(b) {
			t.Fatalf("re-encoding differs: %x vs %x", again, b)
		}
	})
}

func FuzzClipAssembler(f *testing.F) {
	f.Add(uint32(1), 0, 3, "abc", true, uint32(1), 1, 3, "", true)
	f.Add(uint32(1), 0, 4, "ab", false, uint32(1), 1, 4, "cd", true)
	f.Fuzz(func(t *testing.T, id1 uint32, seq1, total1 int, text1 string, last1 bool, id2 uint32, seq2, total2 int, text2 string, last2 bool) {
		var a ClipAssembler
		for _, c := range []Clip{{id1, seq1, total1, text1, last1}, {id2, seq2, total2, text2, last2}} {
			m := Control{Type: CtlClipboard, Clip: &c}
			if m.Validate() != nil {
				continue
			}
			s, ok, err := a.Add(c)
			if ok && (err != nil || len(s) != c.Total) {
				t.Fatalf("completed text of %d bytes, total %d, err %v", len(s), c.Total, err)
			}
		}
	})
}
