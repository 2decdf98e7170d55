package peerconn

import (
	"context"
	"errors"
	"fmt"

	"github.com/pion/webrtc/v4"
)

// DataChannel adapts a pion data channel to the small interfaces the leaf
// packages declare (transfer.Channel): OnMessage takes plain bytes.
type DataChannel struct{ *webrtc.DataChannel }

// OnMessage installs f for every message.
func (d DataChannel) OnMessage(f func(b []byte)) {
	d.DataChannel.OnMessage(func(m webrtc.DataChannelMessage) { f(m.Data) })
}

// OpenDataChannel creates a reliable, ordered data channel on pc and
// waits until it is open.
func OpenDataChannel(ctx context.Context, pc *webrtc.PeerConnection, label string) (DataChannel, error) {
	ordered := true
	dc, err := pc.CreateDataChannel(label, &webrtc.DataChannelInit{Ordered: &ordered})
	if err != nil {
		return DataChannel{}, fmt.Errorf("peerconn: data channel %s: %w", label, err)
	}
	opened := make(chan struct{})
	closed := make(chan struct{})
	dc.OnOpen(func() { close(opened) })
	dc.OnClose(func() {
		select {
		case <-closed:
		default:
			close(closed)
		}
	})
	select {
	case <-opened:
		return DataChannel{dc}, nil
	case <-closed:
		return DataChannel{}, errors.New("peerconn: data channel " + label + " closed before it opened")
	case <-ctx.Done():
		dc.Close()
		return DataChannel{}, fmt.Errorf("peerconn: open data channel %s: %w", label, ctx.Err())
	}
}
