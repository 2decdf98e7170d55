package protocol

import (
	"strings"
	"testing"
)

func TestLifecycleControlValidation(t *testing.T) {
	long := strings.Repeat("é", MaxChatText)
	for _, tt := range []struct {
		json string
		ok   bool
	}{
		{`{"type":"chat","chat":{"text":"hello"}}`, true},
		{`{"type":"chat","chat":{"id":"a1","from":"customer","text":"¿qué tal? 😀","time":1700000000000}}`, true},
		{`{"type":"chat"}`, false},
		{`{"type":"chat","chat":{"text":""}}`, false},
		{`{"type":"chat","chat":{"text":"` + long + `"}}`, false},
		{`{"type":"chat","chat":{"text":"x","from":"admin"}}`, false},
		{`{"type":"chat","chat":{"text":"x","time":-1}}`, false},
		{`{"type":"chat_history","history":[{"id":"1","from":"rep","text":"a"},{"id":"2","from":"customer","text":"b"}]}`, true},
		{`{"type":"chat_history"}`, true},
		{`{"type":"chat_history","history":[{"text":""}]}`, false},
		{`{"type":"sharing","state":"paused"}`, true},
		{`{"type":"sharing","state":"on"}`, true},
		{`{"type":"sharing"}`, false},
		{`{"type":"reboot"}`, true},
		{`{"type":"reboot","state":"restarting","message":"bye"}`, true},
		{`{"type":"reboot","state":"now"}`, false},
	} {
		_, err := DecodeControl([]byte(tt.json))
		if (err == nil) != tt.ok {
			t.Errorf("DecodeControl(%.80s) = %v, want ok=%v", tt.json, err, tt.ok)
		}
	}
}

// TestHistoryChunks: the longest history of the longest lines, with text
// that JSON escapes six-fold, splits into messages that all encode below
// the control limit and keep every line in order.
func TestHistoryChunks(t *testing.T) {
	var lines []ChatLine
	for i := 0; i < MaxHistory; i++ {
		text := strings.Repeat("\x01", MaxChatText)
		if i%2 == 0 {
			text = strings.Repeat("a", 10)
		}
		lines = append(lines, ChatLine{ID: strings.Repeat("i", 64), From: FromRep, Text: text, Time: int64(i)})
	}
	var got []ChatLine
	for _, c := range HistoryChunks(lines) {
		b, err := EncodeControl(c)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > MaxControlSize {
			t.Fatalf("a history message of %d bytes", len(b))
		}
		d, err := DecodeControl(b)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, d.History...)
	}
	if len(got) != len(lines) {
		t.Fatalf("%d lines came back of %d", len(got), len(lines))
	}
	for i := range got {
		if got[i].Time != int64(i) {
			t.Fatalf("line %d out of order", i)
		}
	}
	if HistoryChunks(nil) != nil {
		t.Fatal("an empty history makes messages")
	}
}
