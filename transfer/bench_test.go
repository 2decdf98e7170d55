package transfer_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"assist/protocol"
	"assist/transfer"
	"assist/transfer/transfertest"
)

// BenchmarkOverhead measures what a transfer costs besides the network
// stack: a 256 MiB sparse file sent between two Managers over in-memory
// channels (which copy each message, as pion does), against the same
// channels carrying the same file's bytes read in 32 KiB messages with no
// protocol. The difference (cpu_s/GiB) is the transfer's own cost: two
// SHA-256 passes, the framing, the receiving goroutine, the journal.
func BenchmarkOverhead(b *testing.B) {
	const size = 256 << 20
	dir := b.TempDir()
	src := filepath.Join(dir, "sparse")
	if f, err := os.Create(src); err != nil {
		b.Fatal(err)
	} else {
		f.Truncate(size)
		f.Close()
	}
	cpu := func() float64 {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	var ours, bare float64
	for range b.N {
		// Ours.
		a := transfer.NewManager(transfer.Config{})
		r := transfer.NewManager(transfer.Config{Dir: b.TempDir(), FS: transfertest.DiscardFS{},
			AskOffer: func(context.Context, transfer.Offer) (bool, error) { return true, nil }})
		p := transfertest.NewPair(a, r)
		runtime.GC()
		c0 := cpu()
		t, err := a.Send("b", src, "")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := t.Wait(context.Background()); err != nil {
			b.Fatal(err)
		}
		ours += cpu() - c0
		a.Close()
		r.Close()
		p.Close()

		// Bare: the file's bytes on the same kind of channel.
		tx, rx := transfertest.NewChannelPair("bare")
		done := make(chan struct{})
		var got int64
		rx.OnMessage(func(m []byte) {
			if got += int64(len(m)); got == size {
				close(done)
			}
		})
		wake := make(chan struct{}, 1)
		tx.SetBufferedAmountLowThreshold(512 << 10)
		tx.OnBufferedAmountLow(func() {
			select {
			case wake <- struct{}{}:
			default:
			}
		})
		f, err := os.Open(src)
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, protocol.FileChunkSize)
		runtime.GC()
		c0 = cpu()
		for off := int64(0); off < size; off += int64(len(buf)) {
			for tx.BufferedAmount() > 1<<20 {
				<-wake
			}
			if _, err := f.ReadAt(buf, off); err != nil {
				b.Fatal(err)
			}
			tx.Send(buf)
		}
		<-done
		bare += cpu() - c0
		f.Close()
		tx.Close()
	}
	gib := float64(b.N) * size / (1 << 30)
	b.ReportMetric(ours/gib, "cpu_s/GiB")
	b.ReportMetric(bare/gib, "bare_cpu_s/GiB")
	b.ReportMetric((ours-bare)/gib, "own_cpu_s/GiB")
}
