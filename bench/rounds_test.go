package bench

import (
	"strings"
	"testing"
)

// TestMedianRound: the report shows the round whose CPU ratio is the
// median, each ratio taken against the cheapest x11vnc pass that kept up
// in that round (else the cheapest).
func TestMedianRound(t *testing.T) {
	round := func(ours, zrle, jpeg float64, jpegScroll int64) []*passResult {
		rs := []*passResult{pass("assist", ours, 51, 41, 33, 5), pass("zrle", zrle, 120, 41, 26, 7), pass("tight-jpeg6", jpeg, jpegScroll, 40, 37, 7)}
		for _, r := range rs {
			r.Phases["connect"] = &phaseResult{}
		}
		return rs
	}
	tests := []struct {
		name   string
		rounds [][]*passResult
		want   int
		line   []string
	}{
		{"one round", [][]*passResult{round(0.2, 0.5, 0.3, 120)}, 0, []string{"round 1 of 1", "0.67 (tight-jpeg6)"}},
		{"three rounds, the median in the middle of the run", [][]*passResult{
			round(0.2, 0.5, 0.25, 120), round(0.2, 0.5, 0.3, 120), round(0.18, 0.5, 0.3, 120)},
			1, []string{"round 2 of 3", "0.80 (tight-jpeg6), 0.67 (tight-jpeg6), 0.60 (tight-jpeg6)"}},
		{"a round where the cheapest fell behind is taken against the next", [][]*passResult{
			round(0.2, 0.4, 0.1, 6), round(0.2, 0.5, 0.3, 120), round(0.2, 0.5, 0.35, 120)},
			2, []string{"round 3 of 3", "0.50 (zrle), 0.67 (tight-jpeg6), 0.57 (tight-jpeg6)"}},
		{"even count: the lower middle", [][]*passResult{
			round(0.3, 0.5, 0.4, 120), round(0.2, 0.5, 0.4, 120), round(0.1, 0.5, 0.4, 120), round(0.4, 0.5, 0.4, 120)},
			1, []string{"round 2 of 4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sums, _ := roundSummaries(tt.rounds)
			got := medianRound(sums)
			if got != tt.want {
				t.Errorf("median round %d, want %d", got+1, tt.want+1)
			}
			line := roundsLine(sums, got)
			for _, w := range tt.line {
				if !strings.Contains(line, w) {
					t.Errorf("line %q lacks %q", line, w)
				}
			}
		})
	}
}

func TestBenchRounds(t *testing.T) {
	tests := []struct {
		rounds, phase string
		want          int
		bad           bool
	}{
		{"", "", defaultRounds, false},
		{"", "scroll", 1, false},
		{"5", "", 5, false},
		{"2", "scroll", 2, false},
		{"0", "", 0, true},
		{"21", "", 0, true},
		{"three", "", 0, true},
	}
	for _, tt := range tests {
		t.Setenv("ASSIST_BENCH_ROUNDS", tt.rounds)
		t.Setenv("ASSIST_BENCH_PHASE", tt.phase)
		got, err := benchRounds()
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("ROUNDS=%q PHASE=%q: %d, %v; want %d (error: %v)", tt.rounds, tt.phase, got, err, tt.want, tt.bad)
		}
	}
}
