// Package reconnect keeps a session alive across network drops, agent
// crashes and reboots: the jittered backoff policy, the 10-minute reconnect
// window on an injected clock, and the resume ticket kept on disk (mode 0600)
// from which `assist resume` picks the session up again.
package reconnect
