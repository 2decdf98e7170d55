package protocol

import "errors"

// ErrMalformed reports a message that does not decode or misses a required field.
var ErrMalformed = errors.New("protocol: malformed message")

// ErrUnknownType reports a well-formed message of a type this version does not know.
var ErrUnknownType = errors.New("protocol: unknown message type")

// ErrTooLarge reports a message above its size limit.
var ErrTooLarge = errors.New("protocol: message too large")

// ErrVersion reports a peer speaking an incompatible protocol version.
var ErrVersion = errors.New("protocol: incompatible protocol version")

// Error codes carried in signalling "error" messages and in control "error"
// messages. Clients show Message to people and branch on Code.
const (
	CodeBadCode      = "bad_code"     // the session code does not exist
	CodeExpired      = "expired"      // the code expired before an agent joined
	CodeUsed         = "used"         // an agent already joined with this code
	CodeRateLimited  = "rate_limited" // too many attempts from this address
	CodeUnauthorized = "unauthorized" // wrong or missing rep token / resume secret
	CodeEnded        = "ended"        // the session has ended
	CodeMalformed    = "malformed"    // the message could not be decoded
	CodeVersion      = "version"      // incompatible protocol version
	CodeInternal     = "internal"     // the server failed
	CodeNoPeer       = "no_peer"      // the addressed peer is not connected
)
