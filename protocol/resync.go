package protocol

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Screen resynchronisation. A rep that fails to decode or apply a screen
// message no longer holds what the agent believes it holds: its picture,
// its end of the deflate stream (EncZlib) and its tile cache may all be out
// of step. It asks the agent to start over with CtlScreenResync on the
// control channel; the agent answers on the screen channel with a
// ScreenResync message, in order with everything else it sends there.
//
// Everything the agent sent before ScreenResync was encoded against the old
// state, everything after it against the new: the receiver drops ScreenRects,
// ScreenRectsEnd and ScreenFrameEnd messages from its failure up to the first ScreenResync
// (or ScreenInfo), and at every ScreenResync restarts its deflate stream and
// empties its tile cache, keeping the picture. The agent, at the same point,
// restarts its end of the stream, empties its mirror of the cache and
// forgets what the rep holds, so the rectangles up to the next
// ScreenFrameEnd repaint the whole picture, self-contained (no cached or
// copy rectangles, a fresh deflate stream).
const (
	// CtlScreenResync (rep to agent): Serial (1 or more, counting up per
	// rep connection) and Reason (what failed, for the agent's log). The
	// agent answers at most once per ResyncInterval per rep; requests that
	// come sooner are coalesced into the next answer, which echoes the
	// latest Serial.
	CtlScreenResync = "screen_resync"
	// ScreenResync: [7][u32 serial]. The agent restarted this rep's screen
	// state here (see above); serial is that of the latest request it
	// answers.
	ScreenResync byte = 7
)

// ResyncInterval is the least time between two ScreenResync answers to one
// rep: a looping or hostile rep cannot make the agent send full pictures
// back to back.
const ResyncInterval = time.Second

// AppendScreenResync appends a ScreenResync message to dst.
func AppendScreenResync(dst []byte, serial uint32) []byte {
	dst = append(dst, ScreenResync)
	return binary.BigEndian.AppendUint32(dst, serial)
}

// decodeResync decodes a ScreenResync message; p follows the kind byte.
func (m *ScreenMsg) decodeResync(p []byte) error {
	if len(p) != 4 {
		return fmt.Errorf("%w: screen resync of %d bytes", ErrMalformed, len(p)+1)
	}
	m.Serial = binary.BigEndian.Uint32(p)
	if m.Serial == 0 {
		return fmt.Errorf("%w: screen resync with serial 0", ErrMalformed)
	}
	return nil
}

// validateResync checks a CtlScreenResync message.
func (c Control) validateResync() error {
	if c.Serial == 0 {
		return fmt.Errorf("%w: %s: serial is required", ErrMalformed, c.Type)
	}
	return nil
}
