package chatwin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
)

// The picker's messages on the page's WebSocket (PROTOCOL.md, "The
// customer's chat window").
const (
	msgListDir    = "list_dir"    // page: id, path (empty: the start folder), hidden
	msgDir        = "dir"         // window: id, listing, error
	msgOfferFiles = "offer_files" // page: id, path (the folder), names
	msgOfferDone  = "offer_done"  // window: id, sent, error
)

// picks are one page's picker requests. Each runs in its own goroutine,
// which the page's handler waits for before it returns; a new listing
// cancels the one still running, and one offer runs at a time.
type picks struct {
	wg       sync.WaitGroup
	mu       sync.Mutex
	cancel   context.CancelFunc // the running listing
	offering bool
}

func (p *picks) wait() { p.wg.Wait() }

// picker starts a list_dir or offer_files request of the page pc.
func (w *Window) picker(ctx context.Context, pc *conn, m message) {
	reply := message{ID: m.ID, Type: msgDir}
	if m.Type == msgOfferFiles {
		reply.Type = msgOfferDone
	}
	if w.cfg.Files == nil {
		reply.Error = "Sending files is not available in this session."
		w.reply(pc, reply)
		return
	}
	p := &pc.pick
	p.mu.Lock()
	cancel := func() {}
	if m.Type == msgListDir {
		if p.cancel != nil {
			p.cancel() // the customer moved on
		}
		ctx, cancel = context.WithCancel(ctx)
		p.cancel = cancel
	} else if p.offering {
		p.mu.Unlock()
		reply.Error = "Still offering the previous files; try again in a moment."
		w.reply(pc, reply)
		return
	} else {
		p.offering = true
	}
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		defer cancel()
		if m.Type == msgListDir {
			w.reply(pc, w.list(ctx, m, reply))
			return
		}
		reply = w.offer(m, reply)
		p.mu.Lock()
		p.offering = false
		p.mu.Unlock()
		w.reply(pc, reply)
	}()
}

// list answers list_dir: the folder, or the start folder when the path is
// empty; the shortcuts always, so that a failed folder is not a dead end.
func (w *Window) list(ctx context.Context, m message, reply message) message {
	dir := m.Path
	if dir == "" {
		dir = startDir()
	}
	l, err := listDir(ctx, w.fsys, dir, listOptions{Hidden: m.Hidden})
	if errors.Is(err, context.Canceled) {
		return message{} // replaced by a newer request, or the page left
	}
	if err != nil {
		w.log.Info("file picker: cannot list a folder", "err", err)
		reply.Error = pickerError(err, l.Path, true)
		if l.Path == "" {
			reply.Error = fmt.Sprintf("%q is not a folder.", dir)
		}
	}
	l.Places = places(w.fsys)
	reply.Listing = &l
	return reply
}

// offer answers offer_files: every name is checked first (none is sent when
// one cannot be), then each is offered to the support technicians.
func (w *Window) offer(m message, reply message) message {
	if len(m.Names) == 0 || len(m.Names) > MaxOfferFiles {
		reply.Error = fmt.Sprintf("Choose between 1 and %d files.", MaxOfferFiles)
		return reply
	}
	paths := make([]string, 0, len(m.Names))
	for _, name := range m.Names {
		p, err := offerPath(w.fsys, m.Path, name)
		if err != nil {
			w.log.Info("file picker: cannot offer a file", "err", err)
			reply.Error = pickerError(err, filepath.Join(m.Path, name), false)
			return reply
		}
		paths = append(paths, p)
	}
	for _, p := range paths {
		if _, err := w.cfg.Files.Offer(p); err != nil {
			w.log.Warn("file picker: offer failed", "path", p, "err", err)
			reply.Error = fmt.Sprintf("Could not send %s: %v", filepath.Base(p), err)
			return reply
		}
		reply.Sent++
	}
	w.log.Info("the customer offered files", "files", reply.Sent, "folder", m.Path)
	return reply
}

// reply sends m to the page pc alone; an empty m is no reply.
func (w *Window) reply(pc *conn, m message) {
	if m.Type == "" {
		return
	}
	b, err := json.Marshal(m)
	if err != nil {
		w.log.Error("encode", "err", err)
		return
	}
	pc.send(b)
}
