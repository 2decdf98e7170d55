package transfer

import (
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"assist/protocol"
)

// tempPrefix starts the name of a file being received, beside its final
// place; SafeName never yields a leading dot, so no final name collides.
const tempPrefix = ".assist-"

// maxRetries bounds how often one transfer asks for blocks again after a
// failed verification before it gives up with ErrCorrupt.
const maxRetries = 3

// startIncoming handles a new file_offer.
func (m *Manager) startIncoming(peer string, c protocol.Control) {
	refuse := func(code, msg string) {
		if l := m.link(peer); l != nil {
			l.SendControl(protocol.Control{Type: protocol.CtlFileRefuse, ID: c.ID, Error: code, Message: msg})
		}
	}
	if m.cfg.AskOffer == nil || m.cfg.Dir == "" {
		refuse(protocol.FileDeclined, "this side does not accept files")
		return
	}
	x := m.newXfer(c.ID, peer, false)
	x.dest = Dest{Dir: m.cfg.Dir}
	x.offerName = c.Name
	x.st.Name, x.st.Size = SafeName(c.Name), c.Size
	if !m.add(x) {
		return
	}
	x.post(event{kind: evControl, c: c})
	m.spawn(x.runIn)
}

// adoptChannel makes ch the transfer's file channel; messages of an older
// channel still queued are dropped.
func (x *xfer) adoptChannel(ch Channel) {
	x.mu.Lock()
	x.chGen++
	gen := x.chGen
	old := x.ch
	x.ch = ch
	x.mu.Unlock()
	if old != nil {
		old.Close()
	}
	ch.OnMessage(func(b []byte) {
		select {
		case x.q <- item{gen: gen, b: b}:
		case <-x.ctx.Done():
		}
	})
}

func (x *xfer) runIn() {
	err := x.recvLoop()
	if err != nil && (x.m.ctx.Err() == nil || !x.m.keeping()) {
		// Gone before the sender hears of the failure.
		x.removePartial()
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		var re *RemoteError
		if !errors.As(err, &re) {
			if serr, _ := x.stopped(); serr == nil && x.m.ctx.Err() == nil {
				x.sendErr(err)
			}
		}
	}
	x.finish(err)
}

// receiver is the writing and hashing state of an incoming transfer.
type receiver struct {
	x        *xfer
	written  int64  // bytes written to the temporary file
	verified int64  // bytes whose blocks were verified
	snap     []byte // the whole-file hash state at verified
	syncing  bool   // after asking for a resend: skip until data at verified
	gen      int
}

func (x *xfer) recvLoop() error {
	r := &receiver{x: x}
	x.whole = sha256.New()
	started := false
	for {
		select {
		case <-x.ctx.Done():
			return x.ctx.Err()
		case e := <-x.ev:
			switch {
			case e.kind == evDetach:
				if started {
					x.setState(StateWaiting)
				}
			case e.kind != evControl:
			case e.c.Type == protocol.CtlFileOffer:
				if err := r.offered(e.c, started); err != nil {
					return err
				}
				started = true
			case e.c.Type == protocol.CtlFileError, e.c.Type == protocol.CtlFileRefuse:
				return remoteErr(e.c)
			}
		case it := <-x.q:
			done, err := r.handle(it)
			if err != nil || done {
				return err
			}
		}
	}
}

// offered answers a file_offer: the first one (consent, space, the
// temporary file) or a repeated one (the sender lost the link: resume).
func (r *receiver) offered(c protocol.Control, started bool) error {
	x := r.x
	if started {
		if c.Size != x.size {
			return fmt.Errorf("%w: the file's size changed from %d to %d", errProtocol, x.size, c.Size)
		}
		r.rewind()
		x.mu.Lock()
		x.st.Resumed = true
		x.mu.Unlock()
		return r.accept(true)
	}
	if x.size != 0 && x.restored && c.Size != x.size {
		// Another file under the same id: start afresh.
		x.removePartialFile()
		x.restored = false
	}
	x.size = c.Size
	if x.offerName == "" {
		x.offerName = c.Name
	}
	name := SafeName(x.offerName)
	if x.dest.Name != "" {
		name = SafeName(x.dest.Name)
	}
	x.mu.Lock()
	x.st.Name, x.st.Size = name, c.Size
	x.mu.Unlock()

	// A restart: check what the temporary file holds against the journal.
	if x.restored {
		if err := r.reverify(); err != nil {
			return err
		}
	}
	if err := x.m.fs.MkdirAll(x.dest.Dir, 0o755); err != nil {
		err = fmt.Errorf("transfer: cannot create %s: %w", x.dest.Dir, err)
		x.refuse(protocol.FileIO, err.Error())
		return err
	}
	if err := r.checkSpace(); err != nil {
		x.refuse(protocol.FileNoSpace, err.Error())
		return err
	}
	if !x.approved {
		x.setState(StateAsking)
		ok, err := x.m.cfg.AskOffer(x.ctx, Offer{ID: x.id, Peer: x.peerName(), Name: name, Size: c.Size, Dir: x.dest.Dir})
		if err != nil || !ok {
			msg := "the customer declined " + name
			if err != nil && x.ctx.Err() == nil {
				msg = "the customer could not be asked about " + name + ": " + err.Error()
			}
			if x.ctx.Err() == nil {
				x.refuse(protocol.FileDeclined, msg)
			}
			return fmt.Errorf("%w: %s", ErrRefused, msg)
		}
		x.approved = true
	}
	if err := r.open(); err != nil {
		x.refuse(errCode(err), err.Error())
		return err
	}
	x.startRun(r.verified)
	return r.accept(false)
}

func (x *xfer) refuse(code, msg string) {
	if l := x.link(); l != nil {
		l.SendControl(protocol.Control{Type: protocol.CtlFileRefuse, ID: x.id, Error: code, Message: trimMsg(msg)})
	}
}

func (r *receiver) checkSpace() error {
	x := r.x
	need := x.size - r.verified
	avail, err := x.m.fs.FreeSpace(x.dest.Dir)
	if err != nil || avail < 0 {
		return nil // unknown: a full disk is caught when a write fails
	}
	if avail < need {
		return &SpaceError{Dir: x.dest.Dir, Need: need, Avail: avail}
	}
	return nil
}

// open creates (or, after a restart, reopens) the temporary file and the
// journal record.
func (r *receiver) open() error {
	x := r.x
	flag := os.O_CREATE | os.O_RDWR
	if !x.restored {
		x.tmp = filepath.Join(x.dest.Dir, tempPrefix+x.id+".part")
		flag |= os.O_TRUNC
	}
	f, err := x.m.fs.OpenFile(x.tmp, flag, 0o600)
	if err != nil {
		return fmt.Errorf("transfer: create %s: %w", x.tmp, err)
	}
	x.f = f
	if err := f.Truncate(r.verified); err != nil {
		return fmt.Errorf("transfer: %s: %w", x.tmp, err)
	}
	r.written = r.verified
	name, exact := x.offerName, false
	if x.dest.Name != "" {
		name, exact = x.dest.Name, x.dest.Exact
	}
	if err := x.m.jr.save(record{
		Session: x.m.cfg.Session, ID: x.id, Peer: x.peerName(), Name: name, Path: x.tmp, Dir: x.dest.Dir,
		Exact: exact, Size: x.size, Created: x.m.cfg.Now(),
	}); err != nil {
		x.m.log.Warn("transfer journal", "err", err)
	}
	if x.blocksF, err = x.m.jr.openBlocks(x.id); err != nil {
		x.m.log.Warn("transfer journal", "err", err)
	}
	return nil
}

// reverify re-hashes the temporary file's blocks recorded in the journal
// (each block's check is the SHA-256 of the file up to its end) and keeps
// the prefix that still matches.
func (r *receiver) reverify() error {
	x := r.x
	want := x.m.jr.blocks(x.id)
	f, err := x.m.fs.OpenFile(x.tmp, os.O_RDONLY, 0)
	if err != nil {
		want = nil
	} else {
		defer f.Close()
	}
	buf := make([]byte, protocol.FileBlockSize)
	r.snapshot()
	for i, h := range want {
		n := min(int64(protocol.FileBlockSize), x.size-int64(i)*protocol.FileBlockSize)
		if n <= 0 {
			break
		}
		if _, err := f.ReadAt(buf[:n], int64(i)*protocol.FileBlockSize); err != nil {
			break
		}
		x.whole.Write(buf[:n])
		var got [32]byte
		if copy(got[:], x.whole.Sum(nil)); got != h {
			// Back to the state of the prefix that matched.
			if err := x.whole.(encoding.BinaryUnmarshaler).UnmarshalBinary(r.snap); err != nil {
				return fmt.Errorf("transfer: restore hash state: %w", err)
			}
			break
		}
		r.verified += n
		r.snapshot()
	}
	r.snapshot()
	x.progress(r.verified)
	return nil
}

func (x *xfer) removePartialFile() {
	if x.tmp != "" {
		x.m.fs.Remove(x.tmp)
	}
	x.m.jr.remove(x.id)
	x.tmp = ""
}

func (r *receiver) snapshot() {
	if b, err := r.x.whole.(encoding.BinaryMarshaler).MarshalBinary(); err == nil {
		r.snap = b
	}
}

// rewind drops what was written beyond the last verified block.
func (r *receiver) rewind() {
	r.written = r.verified
	if r.snap != nil {
		r.x.whole.(encoding.BinaryUnmarshaler).UnmarshalBinary(r.snap)
	}
}

// accept tells the sender where to start.
func (r *receiver) accept(again bool) error {
	x := r.x
	r.syncing = again
	l := x.link()
	if l == nil {
		x.setState(StateWaiting)
		return nil
	}
	if err := l.SendControl(protocol.Control{Type: protocol.CtlFileAccept, ID: x.id, Offset: r.verified}); err != nil {
		x.setState(StateWaiting)
		return nil
	}
	x.setState(StateRunning)
	return nil
}

// handle processes one file channel message; done is true once the file
// is verified and in place.
func (r *receiver) handle(it item) (bool, error) {
	x := r.x
	if it.gen < r.gen {
		return false, nil
	}
	if it.gen > r.gen {
		r.gen = it.gen // a new channel starts where we asked
		r.syncing = false
	}
	if x.f == nil {
		return false, nil // not accepted yet: ignore
	}
	m, err := protocol.DecodeFileMsg(it.b)
	if err != nil {
		return false, fmt.Errorf("%w: %v", errProtocol, err)
	}
	if r.syncing {
		if m.Kind == protocol.FileData && m.Offset == r.verified || m.Kind == protocol.FileEnd && r.verified == x.size {
			r.syncing = false
		} else {
			return false, nil
		}
	}
	switch m.Kind {
	case protocol.FileData:
		if m.Offset != r.written {
			return false, fmt.Errorf("%w: data at %d, expected %d", errProtocol, m.Offset, r.written)
		}
		if r.written+int64(len(m.Data)) > x.size {
			return false, fmt.Errorf("%w: more data than the %d bytes offered", errProtocol, x.size)
		}
		if _, err := x.f.WriteAt(m.Data, r.written); err != nil {
			return false, r.writeErr(err)
		}
		x.whole.Write(m.Data)
		r.written += int64(len(m.Data))
	case protocol.FileBlock:
		idx := r.verified / protocol.FileBlockSize
		end := min((idx+1)*protocol.FileBlockSize, x.size)
		if int64(m.Index) != idx || r.written != end {
			return false, fmt.Errorf("%w: hash of block %d after %d bytes, expected block %d at %d", errProtocol, m.Index, r.written, idx, end)
		}
		var got [32]byte
		copy(got[:], x.whole.Sum(nil)) // the file's SHA-256 up to the block's end
		if got != m.Hash {
			return false, r.corrupt(idx)
		}
		if x.blocksF != nil {
			if _, err := x.blocksF.WriteAt(got[:], idx*32); err != nil {
				x.m.log.Warn("transfer journal", "err", err)
			}
		}
		r.verified = end
		r.snapshot()
		if l := x.link(); l != nil {
			l.SendControl(protocol.Control{Type: protocol.CtlFileProgress, ID: x.id, Offset: r.verified})
		}
		x.progress(r.verified)
	case protocol.FileEnd:
		if m.Size != x.size || r.verified != x.size || r.written != x.size {
			return false, fmt.Errorf("%w: end after %d of %d bytes", errProtocol, r.verified, x.size)
		}
		var got [32]byte
		copy(got[:], x.whole.Sum(nil))
		if got != m.Hash {
			return false, fmt.Errorf("%w: the whole file's SHA-256 is %x, the sender's is %x", ErrCorrupt, got, m.Hash)
		}
		return true, r.finalize(got)
	}
	return false, nil
}

// corrupt handles a block that failed verification: ask for it again, a
// few times, then fail.
func (r *receiver) corrupt(idx int64) error {
	x := r.x
	x.mu.Lock()
	x.st.Retries++
	n := x.st.Retries
	x.mu.Unlock()
	x.m.log.Warn("a block failed verification", "id", x.id, "block", idx, "retry", n)
	if n > maxRetries {
		return fmt.Errorf("%w: block %d failed verification %d times", ErrCorrupt, idx, n)
	}
	r.rewind()
	return r.accept(true)
}

func (r *receiver) writeErr(err error) error {
	x := r.x
	if isNoSpace(err) {
		avail, _ := x.m.fs.FreeSpace(x.dest.Dir)
		return &SpaceError{Dir: x.dest.Dir, Need: x.size, Avail: max(avail, 0) + r.written, During: true}
	}
	return fmt.Errorf("transfer: write %s: %w", x.tmp, err)
}

// finalize flushes the verified file and gives it its final name.
func (r *receiver) finalize(sum [32]byte) error {
	x := r.x
	if err := x.f.Sync(); err != nil {
		return r.writeErr(err)
	}
	if err := x.f.Close(); err != nil {
		x.f = nil
		return r.writeErr(err)
	}
	x.f = nil
	if x.blocksF != nil {
		x.blocksF.Close()
		x.blocksF = nil
	}
	name, exact := SafeName(x.offerName), false
	if x.dest.Name != "" {
		name, exact = SafeName(x.dest.Name), x.dest.Exact
	}
	final, err := place(x.m.fs, x.tmp, x.dest.Dir, name, exact)
	if err != nil {
		return err
	}
	x.tmp = ""
	x.m.jr.remove(x.id)
	hexSum := hex.EncodeToString(sum[:])
	x.mu.Lock()
	x.st.Path, x.st.SHA256, x.st.Name = final, hexSum, filepath.Base(final)
	x.mu.Unlock()
	x.progress(x.size)
	if l := x.link(); l != nil {
		l.SendControl(protocol.Control{Type: protocol.CtlFileDone, ID: x.id, Size: x.size, SHA256: hexSum, Name: filepath.Base(final)})
	}
	return nil
}
