package bench

import (
	"strings"
	"testing"
)

// pass is a passResult with the given updates per phase and CPU seconds.
func pass(name string, cpu float64, scroll, typing, move, photo int64) *passResult {
	r := &passResult{Name: name, CPUSeconds: cpu, Phases: map[string]*phaseResult{}}
	for ph, n := range map[string]int64{"scroll": scroll, "typing": typing, "move": move, "photo": photo} {
		r.Phases[ph] = &phaseResult{Updates: n}
	}
	return r
}

// TestKeptUp: the CPU ratio that leaves out passes which fell behind is
// taken against the cheapest pass that showed every phase, and the
// report names who fell behind where.
func TestKeptUp(t *testing.T) {
	tests := []struct {
		name   string
		passes []*passResult
		want   []string // in the line
		absent []string
	}{
		{"all kept up", []*passResult{
			pass("assist", 0.2, 51, 41, 33, 5), pass("zrle", 0.5, 120, 41, 26, 7), pass("tight-jpeg6", 0.3, 119, 40, 37, 7)},
			[]string{"cpu ratio 0.67 vs tight-jpeg6,"}, []string{"fell behind"}},
		{"the cheapest skipped the scroll", []*passResult{
			pass("assist", 0.2, 51, 41, 33, 5), pass("zrle", 0.5, 120, 41, 26, 7), pass("tight-jpeg6", 0.24, 6, 40, 37, 7)},
			[]string{"cpu ratio 0.40 vs zrle,", "fell behind: tight-jpeg6 (scroll 6 updates for 120 changes)"}, nil},
		{"none kept up", []*passResult{
			pass("assist", 0.2, 51, 41, 33, 5), pass("zrle", 0.2, 3, 41, 26, 7)},
			[]string{"no x11vnc pass kept up", "zrle (scroll 3 updates for 120 changes)"}, nil},
		{"ours fell behind too", []*passResult{
			pass("assist", 0.2, 20, 9, 33, 5), pass("zrle", 0.5, 120, 41, 26, 7)},
			[]string{"assist fell behind in scroll, typing"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := keptUpLine(tt.passes)
			for _, w := range tt.want {
				if !strings.Contains(line, w) {
					t.Errorf("%q lacks %q", line, w)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(line, a) {
					t.Errorf("%q has %q", line, a)
				}
			}
		})
	}
}
