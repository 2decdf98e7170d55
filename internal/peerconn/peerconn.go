// Package peerconn builds the pion WebRTC API that both the agent and the
// Go rep client use, with the settings measured in platform-facts.md: one
// UDP socket with 4 MiB kernel buffers shared through an ICE UDP mux, a
// 256 KiB SCTP receive buffer, mDNS off, and pion's logs bridged into slog
// (internal/pionlog).
// In loopback mode (tests) ICE is restricted to 127.0.0.1.
package peerconn

import (
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"assist/internal/pionlog"
	"assist/internal/rawio"
	"assist/protocol"
)

// Options configures an API.
type Options struct {
	// Loopback restricts ICE to 127.0.0.1 (tests, benchmarks, the demo on
	// one machine). The environment variable ASSIST_ICE_LOOPBACK=1 sets it too.
	Loopback bool
	// RelayOnly uses TURN relays only (ICE transport policy "relay"), as a
	// network that blocks everything but the server's TCP port forces. The
	// environment variable ASSIST_ICE_RELAY_ONLY=1 sets it too.
	RelayOnly bool
	Logger    *slog.Logger
}

// API is a pion API bound to one UDP socket. Close it after every
// PeerConnection made from it is closed.
type API struct {
	*webrtc.API
	conn      net.PacketConn
	mux       ice.UDPMux
	relayOnly bool
}

const socketBuffer = 4 << 20

// sctpReceiveBuffer is the most bytes the SCTP association holds that the
// data channels' readers have not taken yet. When it is full the receiver
// advertises a zero window, and pion sends no window update when the reader
// catches up: the sender waits for the next SACK, which the receiver delays
// by up to 200 ms. With 256 KiB a reader that lost the CPU for 3 ms during
// a bulk transfer was enough for a 170-220 ms stall of every channel of the
// connection (measured with a screen probe beside a bulk push). The buffer
// is a ceiling, not an allocation.
const sctpReceiveBuffer = 4 << 20

// NewAPI opens the UDP socket and returns the API.
func NewAPI(opts Options) (*API, error) {
	if os.Getenv("ASSIST_ICE_LOOPBACK") == "1" {
		opts.Loopback = true
	}
	if os.Getenv("ASSIST_ICE_RELAY_ONLY") == "1" {
		opts.RelayOnly = true
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	addr := "0.0.0.0:0"
	if opts.Loopback {
		addr = "127.0.0.1:0"
	}
	pc, err := net.ListenPacket("udp4", addr)
	if err != nil {
		return nil, fmt.Errorf("peerconn: listen udp %s: %w", addr, err)
	}
	if u, ok := pc.(*net.UDPConn); ok {
		// Best effort: the kernel caps these at net.core.[rw]mem_max.
		_ = u.SetReadBuffer(socketBuffer)
		_ = u.SetWriteBuffer(socketBuffer)
	}
	lf := pionlog.Factory{Log: log.With("component", "pion")}
	// Raw reads and writes (internal/rawio): a packet in or out no longer
	// wakes the runtime's system monitor.
	mux := webrtc.NewICEUDPMux(lf.NewLogger("udpmux"), rawio.NewPacketConn(pc))

	var se webrtc.SettingEngine
	se.LoggerFactory = lf
	se.SetICEUDPMux(mux)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetSCTPMaxReceiveBufferSize(sctpReceiveBuffer)
	if opts.Loopback {
		se.SetIncludeLoopbackCandidate(true)
		se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	}
	// Data channels only: no codecs and no RTP interceptors. Without these
	// two options pion registers its default ones, whose NACK, report and
	// congestion-control loops tick several times a second per connection
	// for media that never flows (4% of the agent's CPU while text scrolls).
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(&webrtc.MediaEngine{}),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
	return &API{API: api, conn: pc, mux: mux, relayOnly: opts.RelayOnly}, nil
}

// Close releases the UDP socket.
func (a *API) Close() error {
	a.mux.Close()
	return a.conn.Close()
}

// Configuration converts ICE servers from signalling into pion's form,
// with the API's transport policy.
func (a *API) Configuration(servers []protocol.ICEServer) webrtc.Configuration {
	var cfg webrtc.Configuration
	if a.relayOnly {
		cfg.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	for _, s := range servers {
		cfg.ICEServers = append(cfg.ICEServers, webrtc.ICEServer{
			URLs: s.URLs, Username: s.Username, Credential: s.Credential,
		})
	}
	return cfg
}

// CandidateToWire converts a pion candidate for signalling.
func CandidateToWire(c webrtc.ICECandidateInit) *protocol.ICECandidate {
	return &protocol.ICECandidate{
		Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex,
		UsernameFragment: c.UsernameFragment,
	}
}

// CandidateFromWire converts a signalled candidate for pion.
func CandidateFromWire(c *protocol.ICECandidate) webrtc.ICECandidateInit {
	return webrtc.ICECandidateInit{
		Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex,
		UsernameFragment: c.UsernameFragment,
	}
}
