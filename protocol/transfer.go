package protocol

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"
)

// File transfer control messages (JSON on the "control" channel). The
// sender of a file is whichever side holds it: the rep pushing to the
// customer, or the agent sending what the rep asked for (file_pull) or what
// the customer offered.
const (
	// CtlFileOffer (sender → receiver): ID, Name, Size; Resume is set when
	// the sender offers again a transfer that a dropped link interrupted.
	CtlFileOffer = "file_offer"
	// CtlFileAccept (receiver → sender): ID and Offset, the number of bytes
	// the receiver already holds verified (a multiple of FileBlockSize, 0 for
	// a new transfer). Sent again in the middle of a transfer it asks the
	// sender to resend from Offset (a block failed verification).
	CtlFileAccept = "file_accept"
	// CtlFileRefuse (receiver → sender, or agent → rep for a pull): ID,
	// Error (a File* code) and Message for people.
	CtlFileRefuse = "file_refuse"
	// CtlFileProgress (receiver → sender): ID and Offset, the bytes written
	// and verified so far. The sender keeps at most FileWindow bytes beyond it.
	CtlFileProgress = "file_progress"
	// CtlFileDone (receiver → sender): ID, Size, SHA256 (hex, of the whole
	// file as the receiver verified it) and Name (the name it was saved as).
	CtlFileDone = "file_done"
	// CtlFileCancel (either way): ID and Reason; the transfer stops and the
	// receiver removes its partial data.
	CtlFileCancel = "file_cancel"
	// CtlFileError (either way): ID, Error (a File* code) and Message; the
	// transfer failed, the receiver removed its partial data.
	CtlFileError = "file_error"
	// CtlFilePull (rep → agent): ID and Path, a file on the customer's
	// machine the rep asks for. The agent asks the customer, then answers
	// with a file_offer of the same ID, or a file_refuse / file_error.
	CtlFilePull = "file_pull"
)

// Error codes of file_refuse and file_error.
const (
	FileDeclined = "declined"  // the customer (or rep) said no
	FileNoSpace  = "no_space"  // not enough free space, before or during the transfer
	FileNotFound = "not_found" // the requested path does not exist or is not a regular file
	FileIO       = "io"        // reading or writing failed
	FileCorrupt  = "corrupt"   // a block or the whole file failed SHA-256 verification
	FileProtocol = "protocol"  // a malformed or out-of-order message
	FileChanged  = "changed"   // the source file changed while it was sent
)

// FileChannelPrefix starts the label of a file transfer's data channel:
// "file:<id>". The sender opens it once the receiver accepted.
const FileChannelPrefix = "file:"

// Sizes of the file transfer stream.
const (
	// FileChunkSize is the most file bytes one FileData message carries.
	FileChunkSize = 32 << 10
	// FileBlockSize is the unit of verification and resume: the sender
	// sends a FileBlock hash after every block, the receiver acknowledges
	// verified blocks, and a resumed transfer restarts at a block boundary.
	FileBlockSize = 1 << 20
	// FileWindow is how far (bytes) the sender may run ahead of the
	// receiver's last file_progress.
	FileWindow = 8 << 20
	// MaxFileSize bounds an offered size (2^53-1: exact in JSON numbers).
	MaxFileSize = 1<<53 - 1
)

// Binary messages on a "file:<id>" data channel, sender → receiver,
// big-endian.
const (
	// FileData: [1][u64 offset][bytes], at most FileChunkSize bytes, never
	// crossing a block boundary.
	FileData byte = 1
	// FileBlock: [2][u32 index][32 bytes: SHA-256 of the file from its
	// first byte to the end of block index].
	FileBlock byte = 2
	// FileEnd: [3][u64 size][32 bytes SHA-256 of the whole file].
	FileEnd byte = 3
)

const fileDataHeader = 1 + 8

// FileMsg is one decoded file channel message; which fields are set depends
// on Kind.
type FileMsg struct {
	Kind   byte
	Offset int64    // FileData
	Data   []byte   // FileData; aliases the decoded buffer
	Index  uint32   // FileBlock
	Size   int64    // FileEnd
	Hash   [32]byte // FileBlock, FileEnd
}

// FileChannelLabel is the data channel label of transfer id.
func FileChannelLabel(id string) string { return FileChannelPrefix + id }

// ParseFileChannelLabel returns the transfer id of a file channel label.
func ParseFileChannelLabel(label string) (string, bool) {
	id, ok := strings.CutPrefix(label, FileChannelPrefix)
	if !ok || !ValidFileID(id) {
		return "", false
	}
	return id, true
}

// ValidFileID reports whether id is a transfer id: 1 to 64 of [A-Za-z0-9_-].
func ValidFileID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// AppendFileData appends a FileData message to dst.
func AppendFileData(dst []byte, offset int64, data []byte) []byte {
	dst = append(dst, FileData)
	dst = binary.BigEndian.AppendUint64(dst, uint64(offset))
	return append(dst, data...)
}

// AppendFileBlock appends a FileBlock message to dst.
func AppendFileBlock(dst []byte, index uint32, hash [32]byte) []byte {
	dst = append(dst, FileBlock)
	dst = binary.BigEndian.AppendUint32(dst, index)
	return append(dst, hash[:]...)
}

// AppendFileEnd appends a FileEnd message to dst.
func AppendFileEnd(dst []byte, size int64, hash [32]byte) []byte {
	dst = append(dst, FileEnd)
	dst = binary.BigEndian.AppendUint64(dst, uint64(size))
	return append(dst, hash[:]...)
}

// DecodeFileMsg parses one file channel message. Data aliases b.
func DecodeFileMsg(b []byte) (FileMsg, error) {
	if len(b) == 0 {
		return FileMsg{}, fmt.Errorf("%w: empty file message", ErrMalformed)
	}
	m := FileMsg{Kind: b[0]}
	switch m.Kind {
	case FileData:
		if len(b) < fileDataHeader {
			return FileMsg{}, fmt.Errorf("%w: file data header of %d bytes", ErrMalformed, len(b))
		}
		off := binary.BigEndian.Uint64(b[1:])
		n := len(b) - fileDataHeader
		if n == 0 || n > FileChunkSize {
			return FileMsg{}, fmt.Errorf("%w: file data of %d bytes", ErrMalformed, n)
		}
		if off > MaxFileSize || off+uint64(n) > MaxFileSize {
			return FileMsg{}, fmt.Errorf("%w: file data offset %d out of range", ErrMalformed, off)
		}
		if off/FileBlockSize != (off+uint64(n)-1)/FileBlockSize {
			return FileMsg{}, fmt.Errorf("%w: file data at %d+%d crosses a block boundary", ErrMalformed, off, n)
		}
		m.Offset, m.Data = int64(off), b[fileDataHeader:]
	case FileBlock:
		if len(b) != 1+4+sha256.Size {
			return FileMsg{}, fmt.Errorf("%w: file block message of %d bytes", ErrMalformed, len(b))
		}
		m.Index = binary.BigEndian.Uint32(b[1:])
		copy(m.Hash[:], b[5:])
	case FileEnd:
		if len(b) != 1+8+sha256.Size {
			return FileMsg{}, fmt.Errorf("%w: file end message of %d bytes", ErrMalformed, len(b))
		}
		size := binary.BigEndian.Uint64(b[1:])
		if size > MaxFileSize {
			return FileMsg{}, fmt.Errorf("%w: file size %d out of range", ErrMalformed, size)
		}
		m.Size = int64(size)
		copy(m.Hash[:], b[9:])
	default:
		return FileMsg{}, fmt.Errorf("%w: file message kind %d", ErrUnknownType, m.Kind)
	}
	return m, nil
}

const maxPath = 4096

// validateFile checks the fields of the file_* control messages.
func (c Control) validateFile() error {
	bad := func(what string) error { return fmt.Errorf("%w: %s: %s", ErrMalformed, c.Type, what) }
	if !ValidFileID(c.ID) {
		return bad("id must be 1-64 letters, digits, '-' or '_'")
	}
	if len(c.Name) > maxPath || len(c.Path) > maxPath || !utf8.ValidString(c.Name) || !utf8.ValidString(c.Path) {
		return bad("name or path too long or not UTF-8")
	}
	if c.Size < 0 || c.Size > MaxFileSize || c.Offset < 0 || c.Offset > MaxFileSize {
		return bad("size or offset out of range")
	}
	if c.SHA256 != "" {
		if _, err := hex.DecodeString(c.SHA256); err != nil || len(c.SHA256) != 2*sha256.Size {
			return bad("sha256 must be 64 hex digits")
		}
	}
	switch c.Type {
	case CtlFileOffer:
		if c.Name == "" {
			return bad("name is required")
		}
	case CtlFileAccept:
		if c.Offset%FileBlockSize != 0 {
			return bad("offset must be a multiple of the block size")
		}
	case CtlFileDone:
		if c.SHA256 == "" {
			return bad("sha256 is required")
		}
	case CtlFilePull:
		if c.Path == "" {
			return bad("path is required")
		}
	case CtlFileRefuse, CtlFileError:
		if c.Error == "" && c.Message == "" {
			return bad("error or message is required")
		}
	}
	return nil
}
