package capture

import (
	"fmt"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/shm"
	"golang.org/x/sys/unix"
)

// shmSegment is a System V shared memory segment that both this process and
// the X server have attached.
type shmSegment struct {
	id  shm.Seg
	mem []byte
}

// newShmSegment creates a private segment of size bytes and has the X
// server attach it for writing. The segment is marked for removal as soon
// as the server holds it, so it disappears when both sides detach, even if
// this process is killed.
func newShmSegment(c *xgb.Conn, size int) (*shmSegment, error) {
	shmid, err := unix.SysvShmGet(unix.IPC_PRIVATE, size, unix.IPC_CREAT|0o600)
	if err != nil {
		return nil, fmt.Errorf("shmget %d bytes: %w", size, err)
	}
	defer unix.SysvShmCtl(shmid, unix.IPC_RMID, nil) // after the server attached, or failed to
	mem, err := unix.SysvShmAttach(shmid, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("shmat: %w", err)
	}
	id, err := shm.NewSegId(c)
	if err != nil {
		unix.SysvShmDetach(mem)
		return nil, fmt.Errorf("segment id: %w", err)
	}
	if err := shm.AttachChecked(c, id, uint32(shmid), false).Check(); err != nil {
		unix.SysvShmDetach(mem)
		return nil, fmt.Errorf("X server attach: %w", err)
	}
	return &shmSegment{id: id, mem: mem}, nil
}

// free detaches the segment from the X server and from this process.
func (s *shmSegment) free(c *xgb.Conn) {
	// Checked: the server must be done with it before it goes away here.
	shm.DetachChecked(c, s.id).Check()
	s.unmap()
}

func (s *shmSegment) unmap() {
	if s.mem != nil {
		unix.SysvShmDetach(s.mem)
		s.mem = nil
	}
}
