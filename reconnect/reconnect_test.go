package reconnect

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"assist/internal/clock/clocktest"
)

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Min: 250 * time.Millisecond, Max: 8 * time.Second}
	for _, tc := range []struct {
		attempt int
		jitter  float64
		want    time.Duration
	}{
		{0, 0, 125 * time.Millisecond},
		{0, 0.5, 250 * time.Millisecond},
		{1, 0.5, 500 * time.Millisecond},
		{4, 0.5, 4 * time.Second},
		{5, 0.5, 8 * time.Second},
		{50, 0.5, 8 * time.Second}, // capped, no overflow
		{50, 0.999, 8*time.Second/2 + time.Duration(float64(8*time.Second)*0.999)},
	} {
		b.Jitter = func() float64 { return tc.jitter }
		if got := b.Delay(tc.attempt); got != tc.want {
			t.Errorf("Delay(%d) with jitter %v = %v, want %v", tc.attempt, tc.jitter, got, tc.want)
		}
	}
	// Real jitter stays in [d/2, 3d/2).
	b.Jitter = nil
	for i := 0; i < 100; i++ {
		if d := b.Delay(2); d < 500*time.Millisecond || d >= 1500*time.Millisecond {
			t.Fatalf("Delay(2) = %v, outside [0.5s, 1.5s)", d)
		}
	}
}

// TestRetryWindowCloses runs Retry on a fake clock: attempts fail, the test
// advances the clock through the ten-minute window, and Retry gives up with
// ErrWindowClosed without anyone waiting ten minutes.
func TestRetryWindowCloses(t *testing.T) {
	clk := clocktest.New(time.Unix(1000, 0))
	p := Policy{Clock: clk, Backoff: Backoff{Min: time.Second, Max: 30 * time.Second, Jitter: func() float64 { return 0.5 }}}
	deadline := clk.Now().Add(DefaultWindow)
	attempts := make(chan struct{})
	waiting := make(chan time.Duration)
	done := make(chan error, 1)
	go func() {
		done <- p.Retry(context.Background(), deadline, func(ctx context.Context) error {
			attempts <- struct{}{}
			return errors.New("connection refused")
		}, func(_ int, _ error, wait time.Duration) { waiting <- wait })
	}()
	n := 0
	for {
		select {
		case <-attempts:
			n++
		case err := <-done:
			if !errors.Is(err, ErrWindowClosed) || !strings.Contains(err.Error(), "connection refused") {
				t.Fatalf("Retry = %v, want ErrWindowClosed with the last failure", err)
			}
			if got := clk.Now(); got.Before(deadline) {
				t.Fatalf("gave up at %v, before the deadline %v", got, deadline)
			}
			if n < 20 || n > 40 {
				t.Fatalf("%d attempts in 10 minutes with a 30 s cap", n)
			}
			return
		}
		wait := <-waiting
		if wait > 30*time.Second {
			t.Fatalf("waited %v, above the cap", wait)
		}
		// Retry sleeps on the clock (its deadline timer plus the backoff
		// timer) before time moves.
		clk.BlockUntil(2, nil)
		clk.Advance(wait)
	}
}

func TestRetrySucceedsAndPermanent(t *testing.T) {
	clk := clocktest.New(time.Unix(1000, 0))
	p := Policy{Clock: clk, Backoff: Backoff{Jitter: func() float64 { return 0 }}}
	calls := 0
	err := p.Retry(context.Background(), clk.Now().Add(time.Minute), func(ctx context.Context) error {
		calls++
		return nil
	}, nil)
	if err != nil || calls != 1 {
		t.Fatalf("Retry = %v after %d calls", err, calls)
	}
	refused := errors.New("unauthorized")
	err = p.Retry(context.Background(), clk.Now().Add(time.Minute), func(ctx context.Context) error {
		return Permanent(refused)
	}, nil)
	if err != refused {
		t.Fatalf("Retry = %v, want the permanent error itself", err)
	}
	// A deadline already past: no attempt at all.
	err = p.Retry(context.Background(), clk.Now(), func(ctx context.Context) error {
		t.Fatal("attempted after the deadline")
		return nil
	}, nil)
	if !errors.Is(err, ErrWindowClosed) {
		t.Fatalf("Retry past the deadline = %v", err)
	}
}

func TestWithDeadlineOnFakeClock(t *testing.T) {
	clk := clocktest.New(time.Unix(0, 0))
	ctx, cancel := WithDeadline(context.Background(), clk, clk.Now().Add(time.Minute))
	defer cancel()
	clk.Advance(59 * time.Second)
	if ctx.Err() != nil {
		t.Fatal("cancelled early")
	}
	clk.Advance(time.Second)
	<-ctx.Done()
	if !errors.Is(context.Cause(ctx), ErrWindowClosed) {
		t.Fatalf("cause %v", context.Cause(ctx))
	}
}

func newStore(t *testing.T) (*Store, *clocktest.Fake) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	return &Store{Dir: filepath.Join(t.TempDir(), "state", "assist"), Clock: clk}, clk
}

func sample(clk *clocktest.Fake) Ticket {
	return Ticket{Session: "s1", Secret: "sec", Server: "http://127.0.0.1:8200", Code: "123456789",
		Deadline: clk.Now().Add(DefaultWindow), Window: DefaultWindow, Data: []byte(`{"chat":[1,2]}`)}
}

func TestTicketRoundTrip(t *testing.T) {
	s, clk := newStore(t)
	if _, err := s.Load(); !errors.Is(err, ErrNoTicket) {
		t.Fatalf("Load of nothing = %v", err)
	}
	id, err := s.Save(sample(clk))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{ticketFile, keyFile} {
		fi, err := os.Stat(filepath.Join(s.Dir, n))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v mode %v, want 0600", n, err, fi.Mode())
		}
	}
	if fi, _ := os.Stat(s.Dir); fi.Mode().Perm() != 0o700 {
		t.Fatalf("state dir mode %v, want 0700", fi.Mode().Perm())
	}
	got, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	want := sample(clk)
	if got.ID != id || got.Session != want.Session || got.Secret != want.Secret || got.Server != want.Server ||
		!got.Deadline.Equal(want.Deadline) || got.Window != want.Window || string(got.Data) != string(want.Data) {
		t.Fatalf("loaded %+v, want %+v", got, want)
	}
	// Rewritten with a rotated secret: a new ID, the old one marked used.
	if err := s.MarkUsed(id); err != nil {
		t.Fatal(err)
	}
	next := sample(clk)
	next.Secret = "sec2"
	id2, err := s.Save(next)
	if err != nil || id2 == id {
		t.Fatalf("second save: %v, id %q", err, id2)
	}
	if got, err := s.Load(); err != nil || got.Secret != "sec2" {
		t.Fatalf("after rotation: %+v %v", got, err)
	}
	if err := s.Clear(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		ents, _ := os.ReadDir(s.Dir)
		t.Fatalf("Clear left the directory (%v): %v", err, ents)
	}
}

func TestTicketRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		harm func(t *testing.T, s *Store, clk *clocktest.Fake, id string)
		want error
	}{
		{"past its deadline", func(t *testing.T, s *Store, clk *clocktest.Fake, id string) {
			clk.Advance(DefaultWindow)
		}, ErrExpired},
		{"a byte changed", func(t *testing.T, s *Store, clk *clocktest.Fake, id string) {
			p := filepath.Join(s.Dir, ticketFile)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.Replace(string(b), `"sec"`, `"sex"`, 1)), 0o600)
		}, ErrTampered},
		{"the deadline moved", func(t *testing.T, s *Store, clk *clocktest.Fake, id string) {
			p := filepath.Join(s.Dir, ticketFile)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.Replace(string(b), "2023", "2099", 1)), 0o600)
		}, ErrTampered},
		{"the key is gone", func(t *testing.T, s *Store, clk *clocktest.Fake, id string) {
			os.Remove(filepath.Join(s.Dir, keyFile))
		}, ErrTampered},
		{"garbage", func(t *testing.T, s *Store, clk *clocktest.Fake, id string) {
			os.WriteFile(filepath.Join(s.Dir, ticketFile), []byte("{not json"), 0o600)
		}, ErrTampered},
		{"used already", func(t *testing.T, s *Store, clk *clocktest.Fake, id string) {
			s.MarkUsed(id)
		}, ErrReused},
		{"readable by others", func(t *testing.T, s *Store, clk *clocktest.Fake, id string) {
			os.Chmod(filepath.Join(s.Dir, ticketFile), 0o644)
		}, ErrUnsafe},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, clk := newStore(t)
			id, err := s.Save(sample(clk))
			if err != nil {
				t.Fatal(err)
			}
			tc.harm(t, s, clk, id)
			if _, err := s.Load(); !errors.Is(err, tc.want) {
				t.Fatalf("Load = %v, want %v", err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(s.Dir, ticketFile)); !os.IsNotExist(err) {
				t.Fatalf("the refused ticket is still there (%v)", err)
			}
			if _, err := s.Load(); !errors.Is(err, ErrNoTicket) {
				t.Fatalf("second Load = %v, want ErrNoTicket", err)
			}
		})
	}
}

func TestSaveLeavesNoTemporaryFileOnFailure(t *testing.T) {
	s, clk := newStore(t)
	if _, err := s.Save(sample(clk)); err != nil {
		t.Fatal(err)
	}
	// The ticket's name is taken by a directory: the rename fails.
	os.Remove(filepath.Join(s.Dir, ticketFile))
	os.Mkdir(filepath.Join(s.Dir, ticketFile), 0o700)
	os.WriteFile(filepath.Join(s.Dir, ticketFile, "x"), nil, 0o600)
	if _, err := s.Save(sample(clk)); err == nil {
		t.Fatal("Save over a directory succeeded")
	}
	tmps, _ := filepath.Glob(filepath.Join(s.Dir, ".*.tmp"))
	if len(tmps) != 0 {
		t.Fatalf("temporary files left: %v", tmps)
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(`{"ticket":{"id":"a","session":"s","secret":"x","server":"h"},"mac":"00"}`))
	f.Add([]byte(`{"ticket":1}`))
	f.Add([]byte(``))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		s := &Store{Dir: dir}
		s.key(true)
		if err := os.WriteFile(filepath.Join(dir, ticketFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Load(); err == nil {
			t.Fatalf("forged ticket accepted: %q", b)
		}
	})
}

func TestLockIsExclusive(t *testing.T) {
	s, _ := newStore(t)
	unlock, err := s.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&Store{Dir: s.Dir}).Lock(); !errors.Is(err, ErrBusy) {
		t.Fatalf("second Lock = %v, want ErrBusy", err)
	}
	unlock()
	unlock2, err := s.Lock()
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	unlock2()
}
