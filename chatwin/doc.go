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
// With Config.Files set, the page also sends files to the support
// technician: the browser cannot hand a local path to a page, so the window
// lists the customer's folders itself (picker.go; only over the page's own
// token-protected WebSocket) and offers the chosen files through Files.
//
// It imports protocol (for chat lines) and internal/clock, nothing of the
// agent: the agent wires it.
package chatwin
