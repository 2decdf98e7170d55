// Package reconnect keeps a session alive across network drops, agent
// crashes and reboots: the jittered backoff policy, the reconnect window on
// an injected clock (10 minutes by default), and the resume ticket kept on
// disk (mode 0600, in the OS's state directory, authenticated with a local
// key, one-time) from which `assist resume` picks the session up again.
//
// It imports nothing of ours but internal/clock: the agent wires it.
package reconnect
