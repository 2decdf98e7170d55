package input

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// xclip and xsel fork a process that owns the selection and outlives the
// command atotto runs, so it cannot be waited for. This process marks its
// environment (inherited by every helper and its fork) with a token of its
// own, and finds its helpers in /proc by that mark.
const helperEnv = "ASSIST_CLIPBOARD_OWNER"

var (
	markOnce sync.Once
	mark     []byte // "ASSIST_CLIPBOARD_OWNER=token"
)

func markHelpers() {
	markOnce.Do(func() {
		b := make([]byte, 8)
		rand.Read(b)
		token := strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b)
		os.Setenv(helperEnv, token)
		mark = []byte(helperEnv + "=" + token)
	})
}

// helpers lists running xclip/xsel processes carrying this process's mark.
func helpers() []int {
	if mark == nil {
		return nil
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []int
	for _, d := range dirs {
		comm, err := os.ReadFile(d + "/comm")
		if err != nil {
			continue
		}
		name := string(bytes.TrimSpace(comm))
		if name != "xclip" && name != "xsel" {
			continue
		}
		env, err := os.ReadFile(d + "/environ")
		if err != nil || !hasEntry(env, mark) {
			continue
		}
		if st, err := os.ReadFile(d + "/stat"); err == nil && zombie(st) {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(d))
		if err == nil {
			out = append(out, pid)
		}
	}
	return out
}

func hasEntry(environ, entry []byte) bool {
	for _, kv := range bytes.Split(environ, []byte{0}) {
		if bytes.Equal(kv, entry) {
			return true
		}
	}
	return false
}

// zombie reports whether a /proc/PID/stat line is of an exited process.
func zombie(stat []byte) bool {
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X')
}

// killHelpers kills the helpers and waits (up to 2 s) until they are gone.
func killHelpers() error {
	pids := helpers()
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if len(pids) == 0 {
		return nil
	}
	deadline := time.Now().Add(2 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for len(helpers()) > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("input: clipboard helpers %v did not exit", helpers())
		}
		<-tick.C
	}
	return nil
}
