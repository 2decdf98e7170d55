// Package xgblog keeps xgb's complaint about a missing Xauthority file
// (printed on every connection to a display that needs none: Xvfb, most
// local displays) off the customer's terminal and the test logs. xgb's other
// messages still go to stderr.
package xgblog

import (
	"bytes"
	"io"
	"log"
	"os"
	"sync"

	"github.com/jezek/xgb"
)

var once sync.Once

// Quiet installs the filter. xgb.Logger is read by connection goroutines,
// so call it before the process's first X connection; later calls do nothing.
func Quiet() {
	once.Do(func() {
		xgb.Logger = log.New(filter{os.Stderr}, "XGB: ", log.Lshortfile)
	})
}

type filter struct{ w io.Writer }

func (f filter) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("Could not get authority info")) || bytes.Contains(p, []byte("without authority info")) {
		return len(p), nil
	}
	return f.w.Write(p)
}
