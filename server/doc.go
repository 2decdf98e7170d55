// Package server is the support server behind assist-server: the support
// page, the rep console, the WebSocket signalling for agents and reps, and
// the in-memory session registry with its codes. It relays signalling only:
// screen, input, clipboard and files travel peer to peer and never through
// it. It never imports agent-side packages.
package server
