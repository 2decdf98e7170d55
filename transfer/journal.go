package transfer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The journal keeps unfinished transfers on disk so that an agent restarted
// inside the reconnect window (a crash, kill -9, `assist resume`) picks them
// up: per transfer a small JSON record (<session>-<id>.json) and, for
// received files, the SHA-256 of every verified block (<session>-<id>.blocks,
// 32 bytes a block). The blocks are checked against the temporary file again
// at resume, so a record that ran ahead of the disk costs a re-send, never a
// wrong file. Records of other sessions older than staleAfter are removed
// with their temporary files.
type journal struct {
	fs      FS
	dir     string
	session string
}

const staleAfter = time.Hour

// record is one journal entry.
type record struct {
	Session string    `json:"session"`
	ID      string    `json:"id"`
	Peer    string    `json:"peer"`
	Out     bool      `json:"out"`             // we send it
	Name    string    `json:"name"`            // the offered name
	Path    string    `json:"path"`            // out: the source file; in: the temporary file
	Dir     string    `json:"dir,omitempty"`   // in: where the file lands
	Exact   bool      `json:"exact,omitempty"` // in: save exactly as Name in Dir
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mtime,omitempty"` // out: the source's, to notice a change
	Created time.Time `json:"created"`
}

func (j *journal) enabled() bool { return j != nil && j.dir != "" }

func (j *journal) base(id string) string {
	return filepath.Join(j.dir, fileKey(j.session)+"-"+id)
}

// fileKey makes a session id safe as a file name part.
func fileKey(s string) string {
	ok := s != "" && len(s) <= 64
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			ok = false
		}
	}
	if ok {
		return s
	}
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}

func (j *journal) save(r record) error {
	if !j.enabled() {
		return nil
	}
	if err := j.fs.MkdirAll(j.dir, 0o700); err != nil {
		return fmt.Errorf("transfer: journal: %w", err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("transfer: journal: %w", err)
	}
	tmp := j.base(r.ID) + ".json.tmp"
	f, err := j.fs.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("transfer: journal: %w", err)
	}
	_, err = f.WriteAt(b, 0)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = j.fs.Rename(tmp, j.base(r.ID)+".json")
	}
	if err != nil {
		j.fs.Remove(tmp)
		return fmt.Errorf("transfer: journal: %w", err)
	}
	return nil
}

// openBlocks opens the block hash file of id for writing.
func (j *journal) openBlocks(id string) (File, error) {
	if !j.enabled() {
		return nil, nil
	}
	f, err := j.fs.OpenFile(j.base(id)+".blocks", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("transfer: journal: %w", err)
	}
	return f, nil
}

// blocks reads the verified block hashes recorded for id.
func (j *journal) blocks(id string) [][32]byte {
	if !j.enabled() {
		return nil
	}
	f, err := j.fs.OpenFile(j.base(id)+".blocks", os.O_RDONLY, 0)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out [][32]byte
	var h [32]byte
	for {
		if _, err := io.ReadFull(f, h[:]); err != nil {
			return out
		}
		out = append(out, h)
	}
}

func (j *journal) remove(id string) {
	if !j.enabled() {
		return
	}
	for _, ext := range []string{".json", ".json.tmp", ".blocks"} {
		if err := j.fs.Remove(j.base(id) + ext); err != nil && !errors.Is(err, fs.ErrNotExist) {
			continue
		}
	}
}

// load returns this session's records and removes stale ones of other
// sessions (with their temporary files).
func (j *journal) load(now time.Time) []record {
	if !j.enabled() {
		return nil
	}
	ents, err := j.fs.ReadDir(j.dir)
	if err != nil {
		return nil
	}
	var out []record
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		path := filepath.Join(j.dir, e.Name())
		var r record
		f, err := j.fs.OpenFile(path, os.O_RDONLY, 0)
		if err != nil {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(f, 1<<20))
		f.Close()
		if err != nil || json.Unmarshal(b, &r) != nil || r.ID == "" {
			continue
		}
		if r.Session == j.session {
			out = append(out, r)
			continue
		}
		if info, err := e.Info(); err == nil && now.Sub(info.ModTime()) > staleAfter {
			if !r.Out && r.Path != "" && strings.HasPrefix(filepath.Base(r.Path), tempPrefix) {
				j.fs.Remove(r.Path)
			}
			base := strings.TrimSuffix(path, ".json")
			j.fs.Remove(path)
			j.fs.Remove(base + ".blocks")
		}
	}
	return out
}
