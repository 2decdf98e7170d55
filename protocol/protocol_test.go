package protocol

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"
)

func TestSignalValidation(t *testing.T) {
	tests := []struct {
		name string
		json string
		want error
	}{
		{"join", `{"type":"join","version":1,"code":"123456789"}`, nil},
		{"join short code", `{"type":"join","code":"12345678"}`, ErrMalformed},
		{"join letters", `{"type":"join","code":"12345678a"}`, ErrMalformed},
		{"resume without secret", `{"type":"resume","session":"s"}`, ErrMalformed},
		{"attach without token", `{"type":"attach","code":"123456789"}`, ErrMalformed},
		{"attach", `{"type":"attach","token":"t","code":"123456789"}`, nil},
		{"offer without sdp", `{"type":"offer","rep":"r1"}`, ErrMalformed},
		{"candidate", `{"type":"candidate","rep":"r","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}}`, nil},
		{"bad state", `{"type":"state","state":"sleeping"}`, ErrMalformed},
		{"unknown type", `{"type":"teleport"}`, ErrUnknownType},
		{"no type", `{}`, ErrMalformed},
		{"not an object", `[1,2]`, ErrMalformed},
		{"trailing data", `{"type":"end"} {"type":"end"}`, ErrMalformed},
		{"not json", `hello`, ErrMalformed},
		{"huge field", `{"type":"end","reason":"` + strings.Repeat("x", 5000) + `"}`, ErrMalformed},
		{"too large", `{"type":"end","reason":"` + strings.Repeat("x", MaxSignalSize) + `"}`, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeSignal([]byte(tt.json))
			if tt.want == nil && err != nil {
				t.Fatalf("DecodeSignal: %v", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("DecodeSignal = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSignalRoundTrip(t *testing.T) {
	mid := "0"
	idx := uint16(0)
	in := Signal{Type: SigCandidate, Rep: "r1", Candidate: &ICECandidate{Candidate: "candidate:x", SDPMid: &mid, SDPMLineIndex: &idx}}
	b, err := EncodeSignal(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeSignal(b)
	if err != nil {
		t.Fatal(err)
	}
	if out.Rep != "r1" || out.Candidate.Candidate != "candidate:x" || *out.Candidate.SDPMid != "0" || *out.Candidate.SDPMLineIndex != 0 {
		t.Fatalf("round trip gave %+v", out)
	}
	if _, err := EncodeSignal(Signal{Type: SigJoin, Code: "1"}); err == nil {
		t.Fatal("EncodeSignal accepted an invalid join")
	}
}

func TestNormalizeCode(t *testing.T) {
	for in, want := range map[string]string{"123 456 789": "123456789", "123-456-789": "123456789", "123456789": "123456789"} {
		if got := NormalizeCode(in); got != want || !IsCode(got) {
			t.Errorf("NormalizeCode(%q) = %q", in, got)
		}
	}
}

func TestControlValidation(t *testing.T) {
	tests := []struct {
		json string
		ok   bool
	}{
		{`{"type":"hello","version":1,"width":1920,"height":1080}`, true},
		{`{"type":"hello"}`, false},
		{`{"type":"ping","t":12.5}`, true},
		{`{"type":"error"}`, false},
		{`{"type":"hello","version":1,"width":-1}`, false},
		{`{"type":"nope"}`, false},
		{`{"type":"bye","reason":"x"}`, true},
		{`{"type":"monitor","monitor":2}`, true},
		{`{"type":"monitor"}`, true},
		{`{"type":"monitor","monitor":-1}`, false},
		{`{"type":"monitors","monitor":1,"monitors":[{"x":0,"y":0,"w":1920,"h":1080,"primary":true},{"x":1920,"y":0,"w":1280,"h":1024}]}`, true},
		{`{"type":"monitors","monitor":3,"monitors":[{"x":0,"y":0,"w":1920,"h":1080}]}`, false},
		{`{"type":"monitors","monitors":[{"x":0,"y":0,"w":0,"h":1080}]}`, false},
	}
	for _, tt := range tests {
		_, err := DecodeControl([]byte(tt.json))
		if (err == nil) != tt.ok {
			t.Errorf("DecodeControl(%s) = %v, want ok=%v", tt.json, err, tt.ok)
		}
	}
}

func testImage(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetRGBA(x, y, color.RGBA{uint8(x * 9), uint8(y * 13), uint8(x*y + 7), 255})
		}
	}
	return img
}

func pngOf(t testing.TB, img image.Image) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func rawOf(img *image.RGBA) []byte {
	var out []byte
	for i := 0; i < len(img.Pix); i += 4 {
		out = append(out, img.Pix[i], img.Pix[i+1], img.Pix[i+2])
	}
	return out
}

func TestScreenRoundTrip(t *testing.T) {
	tile := testImage(16, 8)
	rects := []Rect{
		{X: 0, Y: 0, W: 40, H: 30, Enc: EncSolid, Data: []byte{10, 20, 30}},
		{X: 3, Y: 4, W: 16, H: 8, Enc: EncPNG, Data: pngOf(t, tile)},
		{X: 20, Y: 10, W: 16, H: 8, Enc: EncRaw, Data: rawOf(tile)},
	}
	msg := AppendRects(nil, rects)
	m, err := DecodeScreen(msg)
	if err != nil {
		t.Fatal(err)
	}
	dst := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for _, r := range m.Rects {
		if err := r.Draw(dst); err != nil {
			t.Fatal(err)
		}
	}
	check := func(x, y int, want color.RGBA) {
		t.Helper()
		if got := dst.RGBAAt(x, y); got != want {
			t.Errorf("pixel (%d,%d) = %v, want %v", x, y, got, want)
		}
	}
	check(39, 29, color.RGBA{10, 20, 30, 255})
	for y := 0; y < 8; y++ {
		for x := 0; x < 16; x++ {
			check(3+x, 4+y, tile.RGBAAt(x, y))
			check(20+x, 10+y, tile.RGBAAt(x, y))
		}
	}

	info, err := DecodeScreen(AppendScreenInfo(nil, 1920, 1080))
	if err != nil || info.Width != 1920 || info.Height != 1080 {
		t.Fatalf("screen info: %+v %v", info, err)
	}
	if info, err := DecodeScreen(AppendScreenInfo(nil, 15360, 4320)); err != nil || info.Width != 15360 {
		t.Fatalf("two 8K monitors side by side: %+v %v", info, err)
	}
	end, err := DecodeScreen(AppendFrameEnd(nil, 77))
	if err != nil || end.Seq != 77 {
		t.Fatalf("frame end: %+v %v", end, err)
	}
}

func TestScreenRejects(t *testing.T) {
	tile := testImage(8, 8)
	dst := image.NewRGBA(image.Rect(0, 0, 32, 32))
	tests := []struct {
		name string
		msg  []byte
	}{
		{"empty", nil},
		{"unknown kind", []byte{9}},
		{"short info", []byte{ScreenInfo, 0, 1}},
		{"zero size", AppendScreenInfo(nil, 0, 10)},
		{"too wide", AppendScreenInfo(nil, MaxDimension+1, 10)},
		{"too many pixels (1 GiB of RGBA)", AppendScreenInfo(nil, MaxDimension, MaxDimension)},
		{"count too big", []byte{ScreenRects, 0, 5}},
		{"length past end", AppendRects(nil, []Rect{{W: 1, H: 1, Enc: EncSolid, Data: []byte{1, 2, 3}}})[:15]},
		{"solid wrong size", AppendRects(nil, []Rect{{W: 1, H: 1, Enc: EncSolid, Data: []byte{1, 2}}})},
		{"raw wrong size", AppendRects(nil, []Rect{{W: 2, H: 2, Enc: EncRaw, Data: make([]byte, 11)}})},
		{"unknown encoding", AppendRects(nil, []Rect{{W: 1, H: 1, Enc: 99, Data: []byte{1}}})},
		{"trailing bytes", append(AppendRects(nil, []Rect{{W: 1, H: 1, Enc: EncSolid, Data: []byte{1, 2, 3}}}), 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeScreen(tt.msg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	draws := []struct {
		name string
		r    Rect
	}{
		{"outside", Rect{X: 30, Y: 30, W: 8, H: 8, Enc: EncPNG, Data: pngOf(t, tile)}},
		{"png size mismatch", Rect{X: 0, Y: 0, W: 4, H: 8, Enc: EncPNG, Data: pngOf(t, tile)}},
		{"png garbage", Rect{X: 0, Y: 0, W: 8, H: 8, Enc: EncPNG, Data: []byte("not a png")}},
		{"png truncated", Rect{X: 0, Y: 0, W: 8, H: 8, Enc: EncPNG, Data: pngOf(t, tile)[:40]}},
	}
	for _, tt := range draws {
		t.Run(tt.name, func(t *testing.T) {
			before := append([]byte(nil), dst.Pix...)
			if err := tt.r.Draw(dst); err == nil {
				t.Fatal("drawn")
			}
			if tt.name != "png truncated" && !bytes.Equal(before, dst.Pix) {
				t.Fatal("a refused rect changed the picture")
			}
		})
	}
}

func TestRectBatcherStaysUnderLimit(t *testing.T) {
	var msgs [][]byte
	b := RectBatcher{Flush: func(m []byte) error {
		msgs = append(msgs, append([]byte(nil), m...))
		return nil
	}}
	raw := make([]byte, 64*64*3)
	for i := 0; i < 20; i++ {
		if err := b.Add(Rect{X: i, W: 64, H: 64, Enc: EncRaw, Data: raw}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Done(); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, m := range msgs {
		if len(m) > MaxScreenMessage {
			t.Fatalf("message of %d bytes", len(m))
		}
		d, err := DecodeScreen(m)
		if err != nil {
			t.Fatal(err)
		}
		total += len(d.Rects)
	}
	if total != 20 {
		t.Fatalf("%d rects arrived, want 20", total)
	}
	if err := b.Add(Rect{W: 200, H: 200, Enc: EncRaw, Data: make([]byte, 200*200*3)}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized rect: %v", err)
	}
}

// TestRectBatcherEnd: a frame's last rectangles and its end go out as one
// ScreenRectsEnd message when they fit; with nothing pending, or a batch
// too full for the frame end, as ScreenRects and ScreenFrameEnd; either way
// the receiver gets every rectangle, then the end of the frame.
func TestRectBatcherEnd(t *testing.T) {
	solid := Rect{W: 4, H: 4, Enc: EncSolid, Data: []byte{1, 2, 3}}
	// A raw rectangle that leaves less than the frame end's 6 bytes of room.
	w := (MaxScreenMessage - 3 - rectHeader - 3) / 3
	full := Rect{W: w, H: 1, Enc: EncRaw, Data: make([]byte, 3*w)}
	for _, tc := range []struct {
		name  string
		rects []Rect
		apart bool
		kinds []byte
	}{
		{"one message", []Rect{solid, solid}, false, []byte{ScreenRectsEnd}},
		{"nothing pending", nil, false, []byte{ScreenFrameEnd}},
		{"no room for the end", []Rect{full}, false, []byte{ScreenRects, ScreenFrameEnd}},
		{"frame end apart asked for", []Rect{solid, solid}, true, []byte{ScreenRects, ScreenFrameEnd}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []ScreenMsg
			b := RectBatcher{FrameEndApart: tc.apart, Flush: func(m []byte) error {
				if len(m) > MaxScreenMessage {
					t.Fatalf("message of %d bytes", len(m))
				}
				d, err := DecodeScreen(append([]byte(nil), m...))
				if err != nil {
					return err
				}
				got = append(got, d)
				return nil
			}}
			for _, r := range tc.rects {
				if err := b.Add(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.End(7, true); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.kinds) {
				t.Fatalf("%d messages, want %d", len(got), len(tc.kinds))
			}
			n := 0
			for i, m := range got {
				if m.Kind != tc.kinds[i] {
					t.Fatalf("message %d is kind %d, want %d", i, m.Kind, tc.kinds[i])
				}
				n += len(m.Rects)
			}
			last := got[len(got)-1]
			if n != len(tc.rects) || last.Seq != 7 || !last.Refining {
				t.Errorf("%d rects, frame end %d refining %v; want %d, 7, true", n, last.Seq, last.Refining, len(tc.rects))
			}
		})
	}
}

// TestDecodeRectsEnd rejects what is not a frame end followed by a whole
// ScreenRects message.
func TestDecodeRectsEnd(t *testing.T) {
	good := AppendRectsEnd(nil, 9, false, []Rect{{W: 1, H: 1, Enc: EncSolid, Data: []byte{1, 2, 3}}})
	if m, err := DecodeScreen(good); err != nil || m.Seq != 9 || m.Refining || len(m.Rects) != 1 {
		t.Fatalf("%+v, %v", m, err)
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"too short", good[:5]},
		{"unknown flag", append(append([]byte(nil), good[:5]...), append([]byte{2}, good[6:]...)...)},
		{"not rects inside", append(append([]byte(nil), good[:6]...), AppendFrameEnd(nil, 1)...)},
		{"rects cut short", good[:len(good)-1]},
		{"nested", append(append([]byte(nil), good[:6]...), good...)},
	} {
		if _, err := DecodeScreen(tc.b); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

func FuzzDecodeSignal(f *testing.F) {
	f.Add([]byte(`{"type":"join","version":1,"code":"123456789"}`))
	f.Add([]byte(`{"type":"candidate","rep":"r","candidate":{"candidate":"c","sdpMid":"0"}}`))
	f.Add([]byte(`{"type":"state","state":"suspended","deadline":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSignal(b)
		if err != nil {
			return
		}
		if _, err := EncodeSignal(s); err != nil {
			t.Fatalf("decoded message does not re-encode: %v", err)
		}
	})
}

func FuzzDecodeControl(f *testing.F) {
	f.Add([]byte(`{"type":"hello","version":1}`))
	f.Add([]byte(`{"type":"ping","t":1}`))
	f.Add([]byte(`{"type":"chat","chat":{"id":"1","from":"rep","text":"hola"}}`))
	f.Add([]byte(`{"type":"chat_history","history":[{"text":"a"}]}`))
	f.Add([]byte(`{"type":"reboot","state":"asking"}`))
	f.Add([]byte(`{"type":"monitors","monitor":1,"monitors":[{"x":0,"y":0,"w":10,"h":10}]}`))
	f.Add([]byte(`{"type":"screen_resync","serial":7,"reason":"rect 2: zlib rect: unexpected EOF"}`))
	f.Add([]byte(`{"type":"screen_resync","serial":0}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeControl(b)
		if err != nil {
			return
		}
		if _, err := EncodeControl(c); err != nil {
			t.Fatalf("decoded message does not re-encode: %v", err)
		}
	})
}

func FuzzDecodeScreen(f *testing.F) {
	tile := testImage(4, 4)
	f.Add(AppendScreenInfo(nil, 10, 10))
	f.Add(AppendFrameEnd(nil, 1))
	f.Add(AppendRects(nil, []Rect{{X: 1, Y: 1, W: 4, H: 4, Enc: EncPNG, Data: pngOf(f, tile)}}))
	f.Add(AppendRects(nil, []Rect{{X: 0, Y: 0, W: 2, H: 1, Enc: EncRaw, Data: make([]byte, 6)}, {W: 3, H: 3, Enc: EncSolid, Data: []byte{1, 2, 3}}}))
	f.Add(AppendRects(nil, []Rect{{X: 2, Y: 2, W: 4, H: 4, Enc: EncJPEG, Data: jpegOf(f, tile, 80)}, CopyRect(image.Rect(0, 0, 8, 8), image.Pt(3, 1))}))
	f.Add(AppendCursor(nil, true, 3, 4))
	f.Add(AppendRects(nil, []Rect{{X: 0, Y: 0, W: 16, H: 16, Enc: EncRaw, Data: make([]byte, 768)}, CachedRect(image.Rect(0, 0, 16, 16), 0)}))
	f.Add(AppendCursorShape(nil, 1, 1, pngOf(f, tile)))
	f.Add(AppendQuality(nil, Quality{Quality: 80, FPS: 20}))
	f.Add(AppendScreenResync(nil, 3))
	f.Add(AppendRectsEnd(nil, 5, true, []Rect{{W: 3, H: 3, Enc: EncSolid, Data: []byte{1, 2, 3}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeScreen(b)
		if err != nil {
			return
		}
		dst := image.NewRGBA(image.Rect(0, 0, 16, 16))
		var dec Decoder
		for _, r := range m.Rects {
			_ = r.Draw(dst) // must not panic, whatever the payload
			_ = dec.Apply(dst, r)
		}
		if m.Kind == ScreenCursorShape {
			_, _ = m.Cursor.CursorImage()
		}
	})
}
