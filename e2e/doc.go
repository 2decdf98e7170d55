// Package e2e holds the end-to-end tests: whole sessions through a real
// support server, real WebRTC peers on loopback, the real binaries on a
// private Xvfb, and the rep console in headless Chromium. It has no
// production code.
package e2e
