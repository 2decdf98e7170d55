// Package agent runs the customer's side of a support session: it joins the
// session through the support server's signalling WebSocket, asks the
// customer's consent, opens one WebRTC PeerConnection per rep connection with
// the control, screen and input data channels, and streams the screen. It is
// the only agent-side package that uses pion, and it wires the leaves
// (capture, input, transfer, reconnect, installer) together.
package agent
