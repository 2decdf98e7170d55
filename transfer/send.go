package transfer

import (
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"time"

	"assist/protocol"
)

// errLinkLost ends one sending attempt; the transfer waits for the link.
var errLinkLost = errors.New("transfer: the link dropped")

// journalOut records an outgoing transfer (the agent's side of a pull or a
// customer's offer), so that a restarted agent offers it again.
func (x *xfer) journalOut() {
	if err := x.m.jr.save(record{
		Session: x.m.cfg.Session, ID: x.id, Peer: x.peerName(), Out: true, Name: x.st.Name, Path: x.path,
		Size: x.size, ModTime: x.mtime, Created: x.m.cfg.Now(),
	}); err != nil {
		x.m.log.Warn("transfer journal", "err", err)
	}
}

func (x *xfer) runOut() {
	err := x.sendLoop()
	x.finish(err)
}

// sender is the reading and hashing state of an outgoing transfer.
type sender struct {
	x     *xfer
	f     File
	pos   int64     // the next byte to send
	whole hash.Hash // of bytes [0, pos); its digest at a block's end is that block's check
	snaps map[int64][]byte
	sum   [32]byte
	buf   []byte // one message
	// The file is read a block at a time (one system call per MiB, not
	// per chunk): block holds [blockAt, blockAt+len(block)).
	block   []byte
	blockAt int64
}

func (x *xfer) sendLoop() error {
	f, err := x.m.fs.OpenFile(x.path, os.O_RDONLY, 0)
	if err != nil {
		err = fmt.Errorf("transfer: open %s: %w", x.path, err)
		if x.offered {
			x.sendErr(err)
		}
		return err
	}
	defer f.Close()
	s := &sender{x: x, f: f, whole: sha256.New(), snaps: map[int64][]byte{},
		buf: make([]byte, 9+protocol.FileChunkSize)}
	for {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		l := x.link()
		if l == nil {
			x.setState(StateWaiting)
			if err := x.waitAttach(); err != nil {
				return err
			}
			continue
		}
		err := l.SendControl(protocol.Control{Type: protocol.CtlFileOffer, ID: x.id, Name: x.st.Name, Size: x.size, Resume: x.offered})
		if err != nil {
			x.setState(StateWaiting)
			if err := x.waitAttach(); err != nil {
				return err
			}
			continue
		}
		if !x.offered {
			x.setState(StateOffered)
		}
		x.offered = true
		off, err := x.waitAccept(l)
		if errors.Is(err, errLinkLost) {
			continue
		}
		var de *doneEarly
		if errors.As(err, &de) {
			return s.confirm(de.c)
		}
		if err != nil {
			return err
		}
		ch, err := l.OpenChannel(x.ctx, protocol.FileChannelLabel(x.id))
		if err != nil {
			if x.ctx.Err() != nil {
				return x.ctx.Err()
			}
			x.m.log.Info("cannot open a file channel", "id", x.id, "err", err)
			x.setState(StateWaiting)
			if err := x.waitAttach(); err != nil {
				return err
			}
			continue
		}
		err = s.stream(l, ch, off)
		ch.Close()
		if errors.Is(err, errLinkLost) {
			x.setState(StateWaiting)
			continue
		}
		return err
	}
}

// waitAttach waits for a (new) link to the peer.
func (x *xfer) waitAttach() error {
	for {
		if x.link() != nil {
			return nil
		}
		select {
		case <-x.ctx.Done():
			return x.ctx.Err()
		case e := <-x.ev:
			if e.kind == evControl && (e.c.Type == protocol.CtlFileError || e.c.Type == protocol.CtlFileRefuse) {
				return remoteErr(e.c)
			}
		}
	}
}

// waitAccept waits for the receiver's answer to the offer on l.
func (x *xfer) waitAccept(l Link) (int64, error) {
	for {
		select {
		case <-x.ctx.Done():
			return 0, x.ctx.Err()
		case e := <-x.ev:
			switch e.kind {
			case evDetach:
				return 0, errLinkLost
			case evAttach:
				if x.link() != l {
					return 0, errLinkLost
				}
			case evControl:
				switch e.c.Type {
				case protocol.CtlFileAccept:
					if e.c.Offset > x.size {
						err := fmt.Errorf("%w: resume offset %d beyond the size %d", errProtocol, e.c.Offset, x.size)
						x.sendErr(err)
						return 0, err
					}
					return e.c.Offset, nil
				case protocol.CtlFileRefuse, protocol.CtlFileError:
					return 0, remoteErr(e.c)
				case protocol.CtlFileDone:
					return 0, &doneEarly{e.c}
				}
			}
		}
	}
}

// doneEarly: the receiver already has the whole file (our link dropped
// just before its file_done reached us).
type doneEarly struct{ c protocol.Control }

func (d *doneEarly) Error() string { return "transfer: the receiver already has the file" }

// confirm checks a file_done that answered a repeated offer.
func (s *sender) confirm(c protocol.Control) error {
	if err := s.seek(s.x.size); err != nil {
		return err
	}
	want := hex.EncodeToString(s.whole.Sum(nil))
	if c.SHA256 != want {
		return fmt.Errorf("%w: the receiver has SHA-256 %s, the file has %s", ErrCorrupt, c.SHA256, want)
	}
	x := s.x
	x.mu.Lock()
	x.st.SHA256 = want
	if c.Name != "" {
		x.st.Name = c.Name
	}
	x.mu.Unlock()
	x.progress(x.size)
	return nil
}

// seek moves the read position to off (a block boundary), rewinding or
// rebuilding the whole-file hash.
func (s *sender) seek(off int64) error {
	if off == s.pos {
		return nil
	}
	if snap, ok := s.snaps[off]; ok {
		if err := s.whole.(encoding.BinaryUnmarshaler).UnmarshalBinary(snap); err == nil {
			s.pos = off
			return nil
		}
	}
	// After a restart: hash the part the receiver already holds.
	s.whole.Reset()
	if _, err := io.Copy(s.whole, io.NewSectionReader(s.f, 0, off)); err != nil {
		return fmt.Errorf("transfer: read %s: %w", s.x.path, err)
	}
	s.pos = off
	return nil
}

func (s *sender) snapshot() {
	if b, err := s.whole.(encoding.BinaryMarshaler).MarshalBinary(); err == nil {
		s.snaps[s.pos] = b
	}
}

// stream sends from off to the end on ch, then waits for the receiver's
// verdict. It returns nil once the receiver confirmed the same SHA-256.
func (s *sender) stream(l Link, ch Channel, off int64) error {
	x := s.x
	hw := x.m.cfg.HighWater
	ch.SetBufferedAmountLowThreshold(hw / 2)
	ch.OnBufferedAmountLow(x.poke)
	hwl, dynamic := l.(HighWaterLink)
	if err := s.seek(off); err != nil {
		x.sendErr(err)
		return err
	}
	acked := off
	endSent := false
	x.mu.Lock()
	x.st.Resumed = x.st.Resumed || off > 0
	x.mu.Unlock()
	x.startRun(off)
	x.setState(StateRunning)
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()

	// handle applies one event; done reports the end of this stream.
	handle := func(e event) (done bool, err error) {
		switch e.kind {
		case evDetach:
			return true, errLinkLost
		case evAttach:
			if x.link() != l {
				return true, errLinkLost
			}
			return false, nil
		}
		c := e.c
		switch c.Type {
		case protocol.CtlFileProgress:
			if c.Offset > acked && c.Offset <= s.pos {
				acked = c.Offset
				for k := range s.snaps {
					if k < acked {
						delete(s.snaps, k)
					}
				}
				x.progress(acked)
			}
		case protocol.CtlFileAccept:
			// The receiver asks for data again from a verified block:
			// a block failed verification, or it lost its place.
			if c.Offset > s.pos || c.Offset > x.size {
				err := fmt.Errorf("%w: resend from %d, beyond %d", errProtocol, c.Offset, s.pos)
				x.sendErr(err)
				return true, err
			}
			x.mu.Lock()
			x.st.Retries++
			x.mu.Unlock()
			if err := s.seek(c.Offset); err != nil {
				x.sendErr(err)
				return true, err
			}
			acked = min(acked, c.Offset)
			endSent = false
		case protocol.CtlFileDone:
			if !endSent {
				err := fmt.Errorf("%w: done before the end was sent", errProtocol)
				x.sendErr(err)
				return true, err
			}
			want := hex.EncodeToString(s.sum[:])
			if c.SHA256 != want {
				return true, fmt.Errorf("%w: the receiver computed SHA-256 %s, the file has %s", ErrCorrupt, c.SHA256, want)
			}
			x.mu.Lock()
			x.st.SHA256 = want
			if c.Name != "" {
				x.st.Name = c.Name // as the receiver saved it
			}
			x.mu.Unlock()
			x.progress(x.size)
			return true, nil
		case protocol.CtlFileError, protocol.CtlFileRefuse:
			return true, remoteErr(c)
		}
		return false, nil
	}

	for {
		// Events first: acks open the window, a resend request rewinds.
		for drained := false; !drained; {
			select {
			case e := <-x.ev:
				if done, err := handle(e); done {
					return err
				}
			default:
				drained = true
			}
		}
		if endSent || s.pos >= x.size {
			if !endSent {
				if err := s.checkUnchanged(); err != nil {
					x.sendErr(err)
					return err
				}
				copy(s.sum[:], s.whole.Sum(nil))
				if err := ch.Send(protocol.AppendFileEnd(s.buf[:0], x.size, s.sum)); err != nil {
					return errLinkLost
				}
				endSent = true
			}
			select {
			case <-x.ctx.Done():
				return x.ctx.Err()
			case e := <-x.ev:
				if done, err := handle(e); done {
					return err
				}
			}
			continue
		}
		if dynamic {
			want := hwl.HighWater()
			if want == 0 {
				want = x.m.cfg.HighWater
			}
			if want != hw {
				hw = want
				ch.SetBufferedAmountLowThreshold(hw / 2)
			}
		}
		if ch.BufferedAmount() >= hw || s.pos-acked >= protocol.FileWindow || !l.Room() {
			select {
			case <-x.ctx.Done():
				return x.ctx.Err()
			case e := <-x.ev:
				if done, err := handle(e); done {
					return err
				}
			case <-x.wake:
			case <-poll.C:
			}
			continue
		}
		if err := s.sendChunk(ch); err != nil {
			return err
		}
	}
}

// sendChunk reads and sends the next chunk, and the block check when the
// chunk ends a block: the SHA-256 of the file's bytes up to there (one hash
// pass gives every block's check and the whole file's SHA-256).
func (s *sender) sendChunk(ch Channel) error {
	x := s.x
	n := int64(protocol.FileChunkSize)
	n = min(n, x.size-s.pos, protocol.FileBlockSize-s.pos%protocol.FileBlockSize)
	b := s.buf[:9+n]
	b[0] = protocol.FileData
	binary.BigEndian.PutUint64(b[1:], uint64(s.pos))
	if err := s.read(b[9:]); err != nil {
		x.sendErr(err)
		return err
	}
	if err := ch.Send(b); err != nil {
		return errLinkLost
	}
	s.whole.Write(b[9:])
	s.pos += n
	if s.pos%protocol.FileBlockSize == 0 || s.pos == x.size {
		var h [32]byte
		copy(h[:], s.whole.Sum(nil)) // Sum leaves the running hash as it is
		idx := uint32((s.pos - 1) / protocol.FileBlockSize)
		if err := ch.Send(protocol.AppendFileBlock(make([]byte, 0, 37), idx, h)); err != nil {
			return errLinkLost
		}
		s.snapshot()
	}
	return nil
}

// read fills b with the file's bytes at s.pos (b does not cross a block
// boundary), reading the whole block when s.pos is outside the one held.
func (s *sender) read(b []byte) error {
	if s.pos < s.blockAt || s.pos+int64(len(b)) > s.blockAt+int64(len(s.block)) {
		start := s.pos - s.pos%protocol.FileBlockSize
		n := min(protocol.FileBlockSize, s.x.size-start)
		if cap(s.block) < int(n) {
			s.block = make([]byte, protocol.FileBlockSize)
		}
		s.block, s.blockAt = s.block[:n], start
		if got, err := s.f.ReadAt(s.block, start); got < len(s.block) || err != nil && !errors.Is(err, io.EOF) {
			s.block = s.block[:0]
			if err == nil || errors.Is(err, io.EOF) {
				return fmt.Errorf("%w: %s is shorter than when it was offered", errChanged, s.x.path)
			}
			return fmt.Errorf("transfer: read %s: %w", s.x.path, err)
		}
	}
	copy(b, s.block[s.pos-s.blockAt:])
	return nil
}

// checkUnchanged fails when the source changed since it was offered.
func (s *sender) checkUnchanged() error {
	info, err := s.x.m.fs.Stat(s.x.path)
	if err != nil {
		return fmt.Errorf("%w: %v", errChanged, err)
	}
	if info.Size() != s.x.size || !info.ModTime().Equal(s.x.mtime) {
		return fmt.Errorf("%w: %s was modified while it was sent", errChanged, s.x.path)
	}
	return nil
}

// startPull answers a file_pull: the local user is asked, then the file is
// offered under the same id.
func (m *Manager) startPull(peer string, c protocol.Control) {
	m.spawn(func() {
		answer := func(typ, code, msg string) {
			if l := m.link(peer); l != nil {
				l.SendControl(protocol.Control{Type: typ, ID: c.ID, Error: code, Message: msg})
			}
		}
		if m.cfg.AskPull == nil {
			answer(protocol.CtlFileRefuse, protocol.FileDeclined, "this side does not send files on request")
			return
		}
		info, err := m.fs.Stat(c.Path)
		if err != nil || !info.Mode().IsRegular() {
			msg := fmt.Sprintf("%s is not a file on the customer's computer", c.Path)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				msg = fmt.Sprintf("cannot read %s: %v", c.Path, err)
			}
			answer(protocol.CtlFileError, protocol.FileNotFound, msg)
			return
		}
		ok, err := m.cfg.AskPull(m.ctx, PullRequest{ID: c.ID, Peer: peer, Path: c.Path, Size: info.Size()})
		if err != nil || !ok {
			msg := "the customer declined to send " + c.Path
			if err != nil && !errors.Is(err, context.Canceled) {
				msg = "the customer could not be asked: " + err.Error()
			}
			answer(protocol.CtlFileRefuse, protocol.FileDeclined, msg)
			return
		}
		if _, err := m.send(peer, c.Path, "", c.ID); err != nil {
			answer(protocol.CtlFileError, protocol.FileIO, err.Error())
		}
	})
}
