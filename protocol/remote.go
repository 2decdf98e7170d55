package protocol

import (
	"fmt"
	"unicode/utf8"
)

// Remote control and clipboard messages on the control channel. A session
// starts view-only: the rep asks with CtlRequestControl, the agent asks the
// customer and answers CtlControlGranted or CtlControlRefused; the customer
// may take control back at any time (CtlControlRevoked), the rep may give it
// back (CtlReleaseControl). While control is granted, input messages are
// injected and the clipboard is synchronised both ways with CtlClipboard.
const (
	// CtlRequestControl (rep -> agent): ask the customer for control of the
	// keyboard, the pointer and the clipboard.
	CtlRequestControl = "request_control"
	// CtlReleaseControl (rep -> agent): the rep gives control back.
	CtlReleaseControl = "release_control"
	// CtlControlGranted (agent -> rep): the customer granted control.
	CtlControlGranted = "control_granted"
	// CtlControlRefused (agent -> rep): the customer refused; Reason says why.
	CtlControlRefused = "control_refused"
	// CtlControlRevoked (agent -> rep): control ended (the customer took it
	// back, or the rep released it); Reason says why.
	CtlControlRevoked = "control_revoked"
	// CtlClipboard (both ways, while control is granted): one chunk of a
	// clipboard text, in Clip. The agent sends the customer's clipboard
	// when control is granted and whenever it changes; the rep sends what
	// should land in the customer's clipboard.
	CtlClipboard = "clipboard"
	// CtlClipboardAck (agent -> rep): the rep's clipboard text Clip.ID is
	// now in the customer's clipboard.
	CtlClipboardAck = "clipboard_ack"
)

// Clipboard limits. A browser takes data-channel messages of up to 256 KiB
// and control messages are at most MaxControlSize, so a clipboard text
// travels as a series of chunks of at most ClipChunk bytes each (cut at
// character boundaries; JSON escaping at most sextuples a chunk, which stays
// below MaxControlSize).
const (
	// MaxClipboard bounds one clipboard text (bytes of UTF-8); larger texts
	// are refused with CodeTooLarge.
	MaxClipboard = 1 << 20
	// ClipChunk bounds the text of one CtlClipboard message (bytes).
	ClipChunk = 8 << 10
)

// Clip is one chunk of a clipboard text. Chunks of one text share ID and
// arrive in order with Seq 0, 1, 2...; Total is the whole text's length in
// bytes; the chunk with Last set completes it. An empty clipboard is one
// chunk with empty Text, Total 0 and Last set.
type Clip struct {
	ID    uint32 `json:"id"`
	Seq   int    `json:"seq"`
	Total int    `json:"total"`
	Text  string `json:"text"`
	Last  bool   `json:"last,omitempty"`
}

func (c Control) validateRemote() error {
	bad := func(what string) error { return fmt.Errorf("%w: %s: %s", ErrMalformed, c.Type, what) }
	switch c.Type {
	case CtlClipboard:
		k := c.Clip
		if k == nil {
			return bad("clip is required")
		}
		if k.ID == 0 || k.Seq < 0 || k.Seq > MaxClipboard/ClipChunk*8 || k.Total < 0 || k.Total > MaxClipboard {
			return bad("clip id, seq or total out of range")
		}
		if len(k.Text) > ClipChunk || len(k.Text) > k.Total || !utf8.ValidString(k.Text) {
			return bad("clip text too long or not UTF-8")
		}
	case CtlClipboardAck:
		if c.Clip == nil || c.Clip.ID == 0 || c.Clip.Text != "" {
			return bad("clip id is required")
		}
	default:
		if c.Clip != nil {
			return bad("unexpected clip")
		}
	}
	return nil
}

// ClipChunks cuts text into the CtlClipboard messages that carry it, as
// clipboard text id. Text above MaxClipboard is refused with ErrTooLarge.
func ClipChunks(id uint32, text string) ([]Control, error) {
	if len(text) > MaxClipboard {
		return nil, fmt.Errorf("%w: the clipboard holds %s; at most %s can be sent", ErrTooLarge, byteSize(len(text)), byteSize(MaxClipboard))
	}
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("%w: clipboard text is not UTF-8", ErrMalformed)
	}
	parts := SplitText(text, ClipChunk)
	if len(parts) == 0 {
		parts = []string{""}
	}
	out := make([]Control, len(parts))
	for i, p := range parts {
		out[i] = Control{Type: CtlClipboard, Clip: &Clip{ID: id, Seq: i, Total: len(text), Text: p, Last: i == len(parts)-1}}
	}
	return out, nil
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// ClipAssembler puts a clipboard text back together from its chunks. The
// zero value is ready; it holds at most one text in progress (a chunk of a
// new ID drops the one before).
type ClipAssembler struct {
	id   uint32
	next int
	buf  []byte
	busy bool
}

// Add takes one chunk. It returns the whole text and true when c completes
// one; an error (ErrMalformed, ErrTooLarge) drops the text in progress.
func (a *ClipAssembler) Add(c Clip) (string, bool, error) {
	if c.Seq == 0 {
		a.id, a.next, a.buf, a.busy = c.ID, 0, a.buf[:0], true
	}
	if !a.busy || c.ID != a.id || c.Seq != a.next {
		a.reset()
		return "", false, fmt.Errorf("%w: clipboard chunk %d of text %d out of order", ErrMalformed, c.Seq, c.ID)
	}
	if c.Total > MaxClipboard {
		a.reset()
		return "", false, fmt.Errorf("%w: a clipboard text of %s; at most %s is accepted", ErrTooLarge, byteSize(c.Total), byteSize(MaxClipboard))
	}
	if len(a.buf)+len(c.Text) > c.Total {
		a.reset()
		return "", false, fmt.Errorf("%w: clipboard text %d longer than announced", ErrMalformed, c.ID)
	}
	a.buf = append(a.buf, c.Text...)
	a.next++
	if !c.Last {
		return "", false, nil
	}
	if len(a.buf) != c.Total {
		a.reset()
		return "", false, fmt.Errorf("%w: clipboard text %d has %d bytes, %d announced", ErrMalformed, c.ID, len(a.buf), c.Total)
	}
	text := string(a.buf)
	a.reset()
	return text, true, nil
}

func (a *ClipAssembler) reset() {
	a.busy, a.next = false, 0
	if cap(a.buf) > 64<<10 {
		a.buf = nil // do not keep a megabyte per peer
	}
	a.buf = a.buf[:0]
}
