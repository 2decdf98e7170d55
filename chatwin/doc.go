// Package chatwin is the customer's chat window: a small page served by the
// agent on 127.0.0.1 (a random port, a secret token in the URL, nothing
// reachable from other machines) and opened in the customer's browser. It
// shows who is connected and whether they view or control, the chat both
// ways, every consent prompt with Allow/Deny, Pause sharing, End session and
// a clear "session active" sign.
//
// The page talks to the Window over a WebSocket; the Window reports what
// the customer does as Actions. Closing the page is an Action too, once no
// page has been connected for a grace period (a reload is not a close);
// the grace runs on an injected clock.
//
// It imports protocol (for chat lines) and internal/clock, nothing of the
// agent: the agent wires it.
package chatwin
