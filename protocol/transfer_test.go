package protocol

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

func TestFileControlValidation(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	tests := []struct {
		name string
		json string
		want error
	}{
		{"offer", `{"type":"file_offer","id":"a1","name":"report.pdf","size":10}`, nil},
		{"offer resume", `{"type":"file_offer","id":"a1","name":"x","size":10,"resume":true}`, nil},
		{"offer without name", `{"type":"file_offer","id":"a1","size":10}`, ErrMalformed},
		{"offer without id", `{"type":"file_offer","name":"x","size":10}`, ErrMalformed},
		{"offer bad id", `{"type":"file_offer","id":"../x","name":"x"}`, ErrMalformed},
		{"offer long id", `{"type":"file_offer","id":"` + strings.Repeat("a", 65) + `","name":"x"}`, ErrMalformed},
		{"offer negative size", `{"type":"file_offer","id":"a","name":"x","size":-1}`, ErrMalformed},
		{"offer huge size", `{"type":"file_offer","id":"a","name":"x","size":9007199254740992}`, ErrMalformed},
		{"offer long name", `{"type":"file_offer","id":"a","name":"` + strings.Repeat("n", 5000) + `"}`, ErrMalformed},
		{"accept", `{"type":"file_accept","id":"a","offset":1048576}`, nil},
		{"accept mid block", `{"type":"file_accept","id":"a","offset":5}`, ErrMalformed},
		{"refuse", `{"type":"file_refuse","id":"a","error":"declined","message":"no"}`, nil},
		{"refuse empty", `{"type":"file_refuse","id":"a"}`, ErrMalformed},
		{"progress", `{"type":"file_progress","id":"a","offset":5}`, nil},
		{"done", `{"type":"file_done","id":"a","size":3,"sha256":"` + hash + `"}`, nil},
		{"done without hash", `{"type":"file_done","id":"a","size":3}`, ErrMalformed},
		{"done bad hash", `{"type":"file_done","id":"a","sha256":"zz"}`, ErrMalformed},
		{"cancel", `{"type":"file_cancel","id":"a","reason":"stop"}`, nil},
		{"error", `{"type":"file_error","id":"a","error":"no_space","message":"full"}`, nil},
		{"pull", `{"type":"file_pull","id":"a","path":"/etc/hosts"}`, nil},
		{"pull without path", `{"type":"file_pull","id":"a"}`, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := DecodeControl([]byte(tt.json))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("DecodeControl: %v", err)
				}
				if _, err := EncodeControl(c); err != nil {
					t.Fatalf("re-encode: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("DecodeControl = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestFileMessages(t *testing.T) {
	data := bytes.Repeat([]byte{7}, 100)
	m, err := DecodeFileMsg(AppendFileData(nil, FileBlockSize, data))
	if err != nil || m.Kind != FileData || m.Offset != FileBlockSize || !bytes.Equal(m.Data, data) {
		t.Fatalf("data: %+v %v", m, err)
	}
	h := sha256.Sum256(data)
	m, err = DecodeFileMsg(AppendFileBlock(nil, 7, h))
	if err != nil || m.Kind != FileBlock || m.Index != 7 || m.Hash != h {
		t.Fatalf("block: %+v %v", m, err)
	}
	m, err = DecodeFileMsg(AppendFileEnd(nil, 12345, h))
	if err != nil || m.Kind != FileEnd || m.Size != 12345 || m.Hash != h {
		t.Fatalf("end: %+v %v", m, err)
	}
	bad := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"unknown kind", []byte{9, 0, 0}, ErrUnknownType},
		{"short data header", []byte{FileData, 0, 0}, ErrMalformed},
		{"data without bytes", AppendFileData(nil, 0, nil), ErrMalformed},
		{"data too large", AppendFileData(nil, 0, make([]byte, FileChunkSize+1)), ErrMalformed},
		{"data across a block", AppendFileData(nil, FileBlockSize-10, make([]byte, 20)), ErrMalformed},
		{"data offset overflow", AppendFileData(nil, -1, []byte{1}), ErrMalformed},
		{"short block", AppendFileBlock(nil, 1, h)[:20], ErrMalformed},
		{"long end", append(AppendFileEnd(nil, 1, h), 0), ErrMalformed},
		{"end size overflow", AppendFileEnd(nil, -1, h), ErrMalformed},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeFileMsg(tt.b); !errors.Is(err, tt.want) {
				t.Fatalf("DecodeFileMsg = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestFileChannelLabel(t *testing.T) {
	if id, ok := ParseFileChannelLabel(FileChannelLabel("abc-1")); !ok || id != "abc-1" {
		t.Fatalf("round trip: %q %v", id, ok)
	}
	for _, l := range []string{"screen", "file:", "file:../x", "file:a b", "FILE:a"} {
		if _, ok := ParseFileChannelLabel(l); ok {
			t.Errorf("%q parsed as a file channel", l)
		}
	}
}

func FuzzDecodeFileMsg(f *testing.F) {
	var h [32]byte
	f.Add(AppendFileData(nil, 0, []byte("hello")))
	f.Add(AppendFileData(nil, FileBlockSize-5, []byte("hello")))
	f.Add(AppendFileBlock(nil, 3, h))
	f.Add(AppendFileEnd(nil, 99, h))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeFileMsg(b)
		if err != nil {
			return
		}
		var again []byte
		switch m.Kind {
		case FileData:
			if len(m.Data) == 0 || len(m.Data) > FileChunkSize || m.Offset < 0 {
				t.Fatalf("accepted data %d bytes at %d", len(m.Data), m.Offset)
			}
			again = AppendFileData(nil, m.Offset, m.Data)
		case FileBlock:
			again = AppendFileBlock(nil, m.Index, m.Hash)
		case FileEnd:
			again = AppendFileEnd(nil, m.Size, m.Hash)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("decoded message does not re-encode to the same bytes")
		}
	})
}

func FuzzDecodeFileControl(f *testing.F) {
	f.Add([]byte(`{"type":"file_offer","id":"a1","name":"x.txt","size":10}`))
	f.Add([]byte(`{"type":"file_accept","id":"a1","offset":1048576}`))
	f.Add([]byte(`{"type":"file_done","id":"a","size":3,"sha256":"` + strings.Repeat("0f", 32) + `"}`))
	f.Add([]byte(`{"type":"file_pull","id":"a","path":"C:\\x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeControl(b)
		if err != nil {
			return
		}
		if strings.HasPrefix(c.Type, "file_") && !ValidFileID(c.ID) {
			t.Fatalf("accepted file message with id %q", c.ID)
		}
		if _, err := EncodeControl(c); err != nil {
			t.Fatalf("decoded message does not re-encode: %v", err)
		}
	})
}
