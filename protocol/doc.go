// Package protocol defines the wire messages shared by the customer agent, the
// support server and the rep's clients: the JSON signalling messages relayed
// by assist-server over WebSocket, the JSON control messages on the "control"
// data channel, and the binary screen messages on the "screen" data channel.
//
// It imports nothing of ours and nothing outside the standard library, so every
// side can use it. Every decoder validates its input and returns an error
// (never panics) on malformed data; the decoders are fuzzed.
//
// PROTOCOL.md at the repository root describes the same messages for people.
package protocol

// Version is the protocol version spoken by this build. Peers exchange it in
// the signalling join/attach messages and in the control channel's hello; a
// peer refuses a different major version with ErrVersion.
const Version = 1

// Data channel labels. Every channel belongs to the one PeerConnection between
// the agent and one rep connection; the agent creates them all.
const (
	ChannelControl = "control" // reliable, ordered, JSON control messages
	ChannelScreen  = "screen"  // reliable, ordered, binary screen messages
	ChannelInput   = "input"   // reliable, ordered, small binary input events
)

// MaxSignalSize bounds one signalling message (bytes); larger ones are refused.
const MaxSignalSize = 64 << 10

// MaxControlSize bounds one control message (bytes).
const MaxControlSize = 64 << 10

// MaxScreenMessage bounds one binary screen message (bytes). Senders keep
// messages below it so that every browser accepts them.
const MaxScreenMessage = 64 << 10
