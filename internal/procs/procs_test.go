package procs

import (
	"slices"
	"testing"
	"time"

	"assist/internal/clock/clocktest"
)

// recorder stands in for runtime.GOMAXPROCS.
type recorder struct {
	cur  int
	sets []int
}

func (r *recorder) set(n int) int {
	prev := r.cur
	if n > 0 {
		r.cur = n
		r.sets = append(r.sets, n)
	}
	return prev
}

func TestGovernor(t *testing.T) {
	const hold = time.Second
	type step struct {
		do   string // "busy", "done", "wait", "close"
		d    time.Duration
		want int // processors afterwards
	}
	tests := []struct {
		name  string
		steps []step
		sets  []int // every change applied, in order
	}{
		{"starts light", nil, []int{1}},
		{"heavy while busy, light after the hold", []step{
			{do: "busy", want: 4},
			{do: "wait", d: 10 * time.Second, want: 4},
			{do: "done", want: 4},
			{do: "wait", d: hold - time.Millisecond, want: 4},
			{do: "wait", d: time.Millisecond, want: 1},
		}, []int{1, 4, 1}},
		{"overlapping work: light only after the last ends", []step{
			{do: "busy", want: 4},
			{do: "busy", want: 4},
			{do: "done", want: 4},
			{do: "wait", d: 2 * hold, want: 4},
			{do: "done", want: 4},
			{do: "wait", d: hold, want: 1},
		}, []int{1, 4, 1}},
		{"work within the hold keeps it heavy, without switching", []step{
			{do: "busy", want: 4},
			{do: "done", want: 4},
			{do: "wait", d: hold / 2, want: 4},
			{do: "busy", want: 4},
			{do: "wait", d: hold, want: 4},
			{do: "done", want: 4},
			{do: "wait", d: hold, want: 1},
		}, []int{1, 4, 1}},
		{"done twice counts once", []step{
			{do: "busy", want: 4},
			{do: "busy", want: 4},
			{do: "done-twice", want: 4},
			{do: "wait", d: 2 * hold, want: 4},
		}, []int{1, 4}},
		{"close gives every processor back", []step{
			{do: "busy", want: 4},
			{do: "done", want: 4},
			{do: "close", want: 4},
			{do: "wait", d: 2 * hold, want: 4},
		}, []int{1, 4}},
		{"close while light", []step{
			{do: "close", want: 4},
		}, []int{1, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{cur: 4}
			clk := clocktest.New(time.Unix(1000, 0))
			g := New(Options{Hold: hold, Clock: clk, Set: r.set})
			if g == nil {
				t.Fatal("New returned nil with 4 processors")
			}
			var dones []func()
			for i, s := range tc.steps {
				switch s.do {
				case "busy":
					dones = append(dones, g.Busy())
				case "done", "done-twice":
					d := dones[0]
					dones = dones[1:]
					d()
					if s.do == "done-twice" {
						d()
					}
				case "wait":
					clk.Advance(s.d)
				case "close":
					g.Close()
				}
				if r.cur != s.want || g.Procs() != s.want {
					t.Fatalf("step %d (%s): GOMAXPROCS %d, Procs %d, want %d", i, s.do, r.cur, g.Procs(), s.want)
				}
			}
			if !slices.Equal(r.sets, tc.sets) {
				t.Fatalf("changes %v, want %v", r.sets, tc.sets)
			}
		})
	}
}

func TestCloseRestores(t *testing.T) {
	r := &recorder{cur: 4}
	restored := 0
	g := New(Options{Set: r.set, Restore: func() { restored++; r.cur = 4 }})
	g.Busy()
	g.Close()
	g.Close()
	if restored != 1 || r.cur != 4 || g.Procs() != 4 {
		t.Fatalf("after Close: restored %d times, GOMAXPROCS %d, Procs %d", restored, r.cur, g.Procs())
	}
	if !slices.Equal(r.sets, []int{1, 4}) {
		t.Fatalf("changes %v, want [1 4] (Restore, not Set, at Close)", r.sets)
	}
}

func TestNothingToGovern(t *testing.T) {
	for _, heavy := range []int{1, 0} {
		r := &recorder{cur: 1}
		g := New(Options{Heavy: heavy, Set: r.set})
		if g != nil {
			t.Fatalf("heavy %d: got a Governor on one processor", heavy)
		}
		g.Busy()() // a nil Governor is a no-op
		g.Close()
		if len(r.sets) != 0 || g.Procs() != 0 {
			t.Fatalf("heavy %d: a nil Governor changed GOMAXPROCS: %v", heavy, r.sets)
		}
	}
}
