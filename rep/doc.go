// Package rep is the support rep's side of a session in Go: it attaches to a
// session through the server's signalling, answers the agent's WebRTC offer,
// rebuilds the customer's screen from the screen channel and measures the
// session. assist-rep, the end-to-end tests and the benchmarks use it.
package rep
