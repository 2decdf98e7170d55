//go:build linux

package e2e

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"assist/internal/peerconn"
	"assist/protocol"
	"assist/transfer"
	"assist/transfer/transfertest"
)

// Benchmarks of file transfers over real pion peers on loopback, with the
// product's settings (internal/peerconn): throughput against a bare pion
// data channel in the same run, the screen channel's latency while a file
// flows, and memory for a large transfer. Sources are sparse files and the
// receiver discards what it writes, so no disk fills up.
// ASSIST_BENCH_GIB scales the large transfers (default 1 for the latency
// benchmark, 4 for the memory one).

// peers is two connected PeerConnections.
type peers struct {
	a, b       *webrtc.PeerConnection
	apiA, apiB *peerconn.API
	mu         sync.Mutex
	chB        map[string]*webrtc.DataChannel // channels B received, by label
	added      chan struct{}                  // closed and replaced when one arrives
}

func (p *peers) onChannelB(dc *webrtc.DataChannel) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.chB[dc.Label()] = dc
	close(p.added)
	p.added = make(chan struct{})
}

// channelB waits for the channel label on B's side.
func (p *peers) channelB(label string) *webrtc.DataChannel {
	for {
		p.mu.Lock()
		dc, ch := p.chB[label], p.added
		p.mu.Unlock()
		if dc != nil {
			return dc
		}
		<-ch
	}
}

func connect(tb testing.TB, setup func(a *webrtc.PeerConnection) error) *peers {
	tb.Helper()
	apiA, err := peerconn.NewAPI(peerconn.Options{Loopback: true, Logger: quietLogger()})
	if err != nil {
		tb.Fatal(err)
	}
	apiB, err := peerconn.NewAPI(peerconn.Options{Loopback: true, Logger: quietLogger()})
	if err != nil {
		tb.Fatal(err)
	}
	p := &peers{apiA: apiA, apiB: apiB, chB: map[string]*webrtc.DataChannel{}, added: make(chan struct{})}
	if p.a, err = apiA.NewPeerConnection(webrtc.Configuration{}); err != nil {
		tb.Fatal(err)
	}
	if p.b, err = apiB.NewPeerConnection(webrtc.Configuration{}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		p.a.Close()
		p.b.Close()
		apiA.Close()
		apiB.Close()
	})
	p.b.OnDataChannel(p.onChannelB)
	if err := setup(p.a); err != nil {
		tb.Fatal(err)
	}
	offer, err := p.a.CreateOffer(nil)
	if err != nil {
		tb.Fatal(err)
	}
	gatherA := webrtc.GatheringCompletePromise(p.a)
	p.a.SetLocalDescription(offer)
	<-gatherA
	if err := p.b.SetRemoteDescription(*p.a.LocalDescription()); err != nil {
		tb.Fatal(err)
	}
	answer, err := p.b.CreateAnswer(nil)
	if err != nil {
		tb.Fatal(err)
	}
	gatherB := webrtc.GatheringCompletePromise(p.b)
	p.b.SetLocalDescription(answer)
	<-gatherB
	if err := p.a.SetRemoteDescription(*p.b.LocalDescription()); err != nil {
		tb.Fatal(err)
	}
	return p
}

// sparseFile is a file of size bytes that takes no disk space.
func sparseFile(tb testing.TB, size int64) string {
	path := filepath.Join(tb.TempDir(), "sparse.img")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		tb.Fatal(err)
	}
	f.Close()
	return path
}

// pionLink is a transfer.Link over a control channel of a PeerConnection.
type pionLink struct {
	pc      *webrtc.PeerConnection
	control *webrtc.DataChannel
	room    func() bool
	probe   *screenProbe // when set, what sends screen messages: HighWater follows it as the agent does
}

func (l *pionLink) SendControl(c protocol.Control) error {
	b, err := protocol.EncodeControl(c)
	if err != nil {
		return err
	}
	return l.control.SendText(string(b))
}

func (l *pionLink) OpenChannel(ctx context.Context, label string) (transfer.Channel, error) {
	return peerconn.OpenDataChannel(ctx, l.pc, label)
}

func (l *pionLink) Room() bool { return l.room == nil || l.room() }

// HighWater follows the agent's rule (agent/transfer.go): 1 MiB once no
// screen message went out for 300 ms, the default otherwise.
func (l *pionLink) HighWater() uint64 {
	if benchHighWater() != 0 {
		return 0
	}
	if l.probe != nil && time.Duration(time.Now().UnixNano()-l.probe.lastSent.Load()) < 300*time.Millisecond {
		return 0
	}
	return 1 << 20
}

// filePair runs a sending and a receiving transfer.Manager on p.
type filePair struct {
	send, recv *transfer.Manager
}

func newFilePair(tb testing.TB, p *peers, controlA, screen *webrtc.DataChannel, probe *screenProbe) *filePair {
	dir := tb.TempDir()
	fp := &filePair{
		send: transfer.NewManager(transfer.Config{HighWater: benchHighWater()}),
		recv: transfer.NewManager(transfer.Config{Dir: dir, FS: transfertest.DiscardFS{},
			AskOffer: func(context.Context, transfer.Offer) (bool, error) { return true, nil }}),
	}
	tb.Cleanup(func() {
		fp.send.Close()
		fp.recv.Close()
	})
	linkA := &pionLink{pc: p.a, control: controlA, probe: probe}
	if screen != nil {
		linkA.room = func() bool { return screen.BufferedAmount() < 64<<10 }
	}
	controlA.OnMessage(func(m webrtc.DataChannelMessage) {
		if c, err := protocol.DecodeControl(m.Data); err == nil {
			fp.send.HandleControl("b", c)
		}
	})
	opened := make(chan struct{})
	controlA.OnOpen(func() { close(opened) })
	controlB := p.channelB(protocol.ChannelControl)
	linkB := &pionLink{pc: p.b, control: controlB}
	controlB.OnMessage(func(m webrtc.DataChannelMessage) {
		if c, err := protocol.DecodeControl(m.Data); err == nil {
			fp.recv.Attach("a", linkB)
			fp.recv.HandleControl("a", c)
		}
	})
	p.b.OnDataChannel(func(dc *webrtc.DataChannel) {
		if id, ok := protocol.ParseFileChannelLabel(dc.Label()); ok {
			fp.recv.HandleChannel("a", id, peerconn.DataChannel{DataChannel: dc})
			return
		}
		p.onChannelB(dc)
	})
	<-opened
	fp.send.Attach("b", linkA)
	fp.recv.Attach("a", linkB)
	return fp
}

func (fp *filePair) push(tb testing.TB, path string) transfer.Status {
	t, err := fp.send.Send("b", path, "")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	st, err := t.Wait(ctx)
	if err != nil {
		tb.Fatalf("transfer: %v (%+v)", err, st)
	}
	return st
}

// barePush sends size bytes on a plain pion channel, 32 KiB messages, with
// pion's flow-control example settings (1 MiB high, 512 KiB low): bytes of
// memory, or, with src, the file's bytes read chunk by chunk as they go.
func barePush(tb testing.TB, p *peers, bulk *webrtc.DataChannel, recv *webrtc.DataChannel, size int64, src io.ReaderAt) time.Duration {
	const high, low = 1 << 20, 512 << 10
	var got atomic.Int64
	done := make(chan struct{})
	recv.OnMessage(func(m webrtc.DataChannelMessage) {
		if got.Add(int64(len(m.Data))) == size {
			close(done)
		}
	})
	wake := make(chan struct{}, 1)
	bulk.SetBufferedAmountLowThreshold(low)
	bulk.OnBufferedAmountLow(func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	buf := make([]byte, protocol.FileChunkSize)
	start := time.Now()
	for sent := int64(0); sent < size; {
		if bulk.BufferedAmount() > high {
			<-wake
			continue
		}
		n := min(int64(len(buf)), size-sent)
		if src != nil {
			if _, err := src.ReadAt(buf[:n], sent); err != nil {
				tb.Fatal(err)
			}
		}
		if err := bulk.Send(buf[:n]); err != nil {
			tb.Fatal(err)
		}
		sent += n
	}
	<-done
	return time.Since(start)
}

// benchHighWater: ASSIST_BENCH_HW_KIB overrides the file channel's
// high-water mark (for measuring the trade-off); 0 keeps the default.
func benchHighWater() uint64 {
	v, _ := strconv.ParseUint(os.Getenv("ASSIST_BENCH_HW_KIB"), 10, 64)
	return v << 10
}

func benchBytes(def int64) int64 {
	if v, err := strconv.ParseFloat(os.Getenv("ASSIST_BENCH_GIB"), 64); err == nil && v > 0 {
		return int64(v * (1 << 30))
	}
	return def
}

// BenchmarkTransferThroughput pushes 256 MiB with transfer.Manager (chunks,
// the SHA-256 on both ends, acknowledgements, the high-water mark) and the
// same bytes on a bare pion channel over the same connection: from memory
// (the strict baseline: no file is read) and read from the same file as
// they go. Each path runs five times, the order rotating, after an untimed
// warm-up (one push alone swings by 15% with where the connection's
// congestion window and the runtime's heap start). It reports the rates,
// our rate over each bare one, and the CPU each costs per GiB (the
// machine's cores are the bottleneck on loopback).
func BenchmarkTransferThroughput(b *testing.B) {
	const size, warm, rounds = 256 << 20, 32 << 20, 5
	src := sparseFile(b, size)
	warmSrc := sparseFile(b, warm)
	f, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var bulk, control *webrtc.DataChannel
	p := connect(b, func(a *webrtc.PeerConnection) error {
		var err error
		if control, err = a.CreateDataChannel(protocol.ChannelControl, nil); err != nil {
			return err
		}
		bulk, err = a.CreateDataChannel("bulk", nil)
		return err
	})
	fp := newFilePair(b, p, control, nil, nil)
	bulkB := p.channelB("bulk")
	barePush(b, p, bulk, bulkB, warm, nil)
	fp.push(b, warmSrc)
	type path struct {
		push func() time.Duration
		d    time.Duration
		cpu  float64
	}
	paths := []*path{
		{push: func() time.Duration { return fp.push(b, src).Duration }},
		{push: func() time.Duration { return barePush(b, p, bulk, bulkB, size, nil) }},
		{push: func() time.Duration { return barePush(b, p, bulk, bulkB, size, f) }},
	}
	ours, bare, bareFile := paths[0], paths[1], paths[2]
	if only := os.Getenv("ASSIST_BENCH_ONLY"); only != "" { // profiling one path
		paths = map[string][]*path{"transfer": {ours}, "bare": {bare}, "bare_file": {bareFile}}[only]
	}
	b.ResetTimer()
	for i := range b.N * rounds {
		for k := range paths { // rotate, so no path always inherits another's state
			pa := paths[(i+k)%len(paths)]
			// Each push starts from a collected heap: otherwise a path
			// inherits the GC pacing of the one before (a bare push after
			// ours ran 10% faster than on its own).
			b.StopTimer()
			runtime.GC()
			b.StartTimer()
			c0 := processCPU(b)
			pa.d += pa.push()
			pa.cpu += processCPU(b) - c0
		}
	}
	n := float64(b.N * rounds)
	mb := func(pa *path) float64 { return float64(size) * n / pa.d.Seconds() / 1e6 }
	perGiB := func(pa *path) float64 { return pa.cpu / n / (float64(size) / (1 << 30)) }
	b.ReportMetric(mb(bare), "bare_MB/s")
	b.ReportMetric(mb(bareFile), "bare_file_MB/s")
	b.ReportMetric(mb(ours), "transfer_MB/s")
	b.ReportMetric(mb(ours)/mb(bare), "ratio")
	b.ReportMetric(mb(ours)/mb(bareFile), "ratio_vs_file")
	b.ReportMetric(perGiB(bare), "bare_cpu_s/GiB")
	b.ReportMetric(perGiB(bareFile), "bare_file_cpu_s/GiB")
	b.ReportMetric(perGiB(ours), "transfer_cpu_s/GiB")
}

// processCPU is the CPU time (user + system) this process used so far.
func processCPU(tb testing.TB) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// screenProbe sends a screen-sized message every 50 ms while the screen
// channel has room (as the agent paces frames) and records each one's
// one-way latency and the gaps between arrivals.
type screenProbe struct {
	mu      sync.Mutex
	lat     []time.Duration
	gaps    []time.Duration
	last    time.Time
	start   time.Time
	skipped int // frames not sent: the screen channel still held 64 KiB

	lastSent atomic.Int64 // unix ns of the last frame sent
}

func (s *screenProbe) run(ctx context.Context, tx *webrtc.DataChannel) {
	frame := make([]byte, 24<<10)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if tx.BufferedAmount() >= 64<<10 {
			s.mu.Lock()
			s.skipped++
			s.mu.Unlock()
			continue
		}
		binary.BigEndian.PutUint64(frame, uint64(time.Since(s.start)))
		tx.Send(frame)
		s.lastSent.Store(time.Now().UnixNano())
	}
}

// launch runs the probe on tx until the returned stop is called.
func (s *screenProbe) launch(tx *webrtc.DataChannel) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.run(ctx, tx)
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}

func (s *screenProbe) onMessage(m webrtc.DataChannelMessage) {
	now := time.Now()
	sent := s.start.Add(time.Duration(binary.BigEndian.Uint64(m.Data)))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lat = append(s.lat, now.Sub(sent))
	if !s.last.IsZero() {
		s.gaps = append(s.gaps, now.Sub(s.last))
	}
	s.last = now
}

func (s *screenProbe) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lat, s.gaps, s.last, s.skipped = nil, nil, time.Time{}, 0
}

func (s *screenProbe) stats() (p50, p99, maxGap time.Duration, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := slices.Clone(s.lat)
	slices.Sort(l)
	if len(l) == 0 {
		return 0, 0, 0, 0
	}
	for _, g := range s.gaps {
		maxGap = max(maxGap, g)
	}
	return l[len(l)/2], l[len(l)*99/100], maxGap, len(l)
}

// BenchmarkScreenDuringTransfer measures the screen channel's latency on
// an idle connection, then while a 1 GiB file flows on the same
// connection with the agent's rule (chunks only while the screen channel
// holds less than 64 KiB), and reports p99 both ways, their ratio and the
// longest gap between screen updates (a stall).
func BenchmarkScreenDuringTransfer(b *testing.B) {
	size := benchBytes(1 << 30)
	src := sparseFile(b, size)
	var screen, control *webrtc.DataChannel
	p := connect(b, func(a *webrtc.PeerConnection) error {
		var err error
		if control, err = a.CreateDataChannel(protocol.ChannelControl, nil); err != nil {
			return err
		}
		screen, err = a.CreateDataChannel(protocol.ChannelScreen, nil)
		return err
	})
	probe := &screenProbe{start: time.Now()}
	fp := newFilePair(b, p, control, screen, probe)
	p.channelB(protocol.ChannelScreen).OnMessage(probe.onMessage)
	defer probe.launch(screen)()
	drops := udpDrops()
	b.ResetTimer()
	var idle99, busy99, busy50, idle50, gap time.Duration
	var rate float64
	for range b.N {
		probe.reset()
		idleFor := time.NewTimer(3 * time.Second)
		<-idleFor.C
		idle50, idle99, _, _ = probe.stats()
		probe.reset()
		st := fp.push(b, src)
		rate = st.AvgRate
		busy50, busy99, gap, _ = probe.stats()
	}
	b.ReportMetric(float64(idle50.Microseconds())/1000, "idle_p50_ms")
	b.ReportMetric(float64(idle99.Microseconds())/1000, "idle_p99_ms")
	b.ReportMetric(float64(busy50.Microseconds())/1000, "busy_p50_ms")
	b.ReportMetric(float64(busy99.Microseconds())/1000, "busy_p99_ms")
	b.ReportMetric(float64(busy99)/float64(max(idle99, time.Microsecond)), "p99_ratio")
	b.ReportMetric(float64(gap.Microseconds())/1000, "max_gap_ms")
	b.ReportMetric(float64(probe.skipped), "frames_skipped")
	b.ReportMetric(rate/1e6, "transfer_MB/s")
	b.ReportMetric(float64(udpDrops()-drops), "udp_drops")
}

// udpDrops is the kernel's count of UDP datagrams dropped for a full
// receive buffer (RcvbufErrors) in this network namespace.
func udpDrops() int64 {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0
	}
	var head []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if head == nil {
			head = f
			continue
		}
		for i, name := range head {
			if name == "RcvbufErrors" && i < len(f) {
				n, _ := strconv.ParseInt(f[i], 10, 64)
				return n
			}
		}
	}
	return 0
}

// BenchmarkScreenDuringBarePush is the reference for the one above: the
// same screen probe while a bare pion channel pushes the same bytes with
// pion's flow-control example settings (no regard for the screen).
func BenchmarkScreenDuringBarePush(b *testing.B) {
	size := benchBytes(1 << 30)
	var screen, bulk *webrtc.DataChannel
	p := connect(b, func(a *webrtc.PeerConnection) error {
		var err error
		if bulk, err = a.CreateDataChannel("bulk", nil); err != nil {
			return err
		}
		screen, err = a.CreateDataChannel(protocol.ChannelScreen, nil)
		return err
	})
	probe := &screenProbe{start: time.Now()}
	p.channelB(protocol.ChannelScreen).OnMessage(probe.onMessage)
	bulkB := p.channelB("bulk")
	defer probe.launch(screen)()
	drops := udpDrops()
	b.ResetTimer()
	var busy99, busy50, gap, d time.Duration
	for range b.N {
		probe.reset()
		d = barePush(b, p, bulk, bulkB, size, nil)
		busy50, busy99, gap, _ = probe.stats()
	}
	b.ReportMetric(float64(busy50.Microseconds())/1000, "busy_p50_ms")
	b.ReportMetric(float64(busy99.Microseconds())/1000, "busy_p99_ms")
	b.ReportMetric(float64(gap.Microseconds())/1000, "max_gap_ms")
	b.ReportMetric(float64(size)/d.Seconds()/1e6, "bare_MB/s")
	b.ReportMetric(float64(udpDrops()-drops), "udp_drops")
}

// rssKiB reads this process's resident set size.
func rssKiB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}

// BenchmarkTransferMemory sends 4 GiB and reports how much the process's
// resident memory grew (sender and receiver both live in it).
func BenchmarkTransferMemory(b *testing.B) {
	size := benchBytes(4 << 30)
	src := sparseFile(b, size)
	var control *webrtc.DataChannel
	p := connect(b, func(a *webrtc.PeerConnection) error {
		var err error
		control, err = a.CreateDataChannel(protocol.ChannelControl, nil)
		return err
	})
	fp := newFilePair(b, p, control, nil, nil)
	// Warm up (pools, SCTP buffers) before the baseline.
	fp.push(b, sparseFile(b, 16<<20))
	base := rssKiB()
	var peak atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if r := rssKiB(); r > peak.Load() {
					peak.Store(r)
				}
			}
		}
	}()
	b.ResetTimer()
	var st transfer.Status
	for range b.N {
		st = fp.push(b, src)
	}
	cancel()
	wg.Wait()
	b.ReportMetric(float64(peak.Load()-base)/1024, "rss_growth_MB")
	b.ReportMetric(float64(base)/1024, "rss_base_MB")
	b.ReportMetric(st.AvgRate/1e6, "transfer_MB/s")
	b.ReportMetric(float64(size)/(1<<30), "GiB")
}
