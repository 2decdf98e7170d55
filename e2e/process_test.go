package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"assist/internal/xtest"
	"assist/protocol"
	"assist/rep"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// TestMain removes the binaries built for this run (when ASSIST_BIN was
// not given): every run used to leave 45 MB in the temporary directory.
func TestMain(m *testing.M) {
	m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}

// binaries returns the directory holding assist, assist-server and
// assist-rep: $ASSIST_BIN when set (make test builds them there), else a
// fresh build into a temporary directory.
func binaries(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("ASSIST_BIN"); d != "" {
		for _, b := range []string{"assist", "assist-server", "assist-rep"} {
			if _, err := os.Stat(filepath.Join(d, b)); err != nil {
				t.Fatalf("ASSIST_BIN=%s lacks %s: %v", d, b, err)
			}
		}
		return d
	}
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "assist-bin-")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+"/", "./cmd/...")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// proc is a started binary whose output lines are collected.
type proc struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	added chan struct{} // closed and replaced on every line
	done  chan struct{}
	err   error
}

func startProc(t testing.TB, env []string, bin string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	// Its own process group, so that cleanup also ends what it started (nsenter's
	// child in a container, helpers); and a bounded wait for its output pipes,
	// which such a child may still hold.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	p := &proc{cmd: cmd, added: make(chan struct{}), done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// done closes once the process exited and all its output is in lines:
	// a test that checks the output after the exit code sees the last line.
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			close(p.added)
			p.added = make(chan struct{})
			p.mu.Unlock()
		}
		io.Copy(io.Discard, pr) // past a line too long to scan
	}()
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		<-scanned
		close(p.done)
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("output of %s:\n%s", filepath.Base(bin), p.output())
		}
	})
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// waitLine waits for an output line matching re and returns its submatches.
func (p *proc) waitLine(ctx context.Context, re *regexp.Regexp) ([]string, error) {
	seen := 0
	for {
		p.mu.Lock()
		lines, ch := p.lines, p.added
		p.mu.Unlock()
		for ; seen < len(lines); seen++ {
			if m := re.FindStringSubmatch(lines[seen]); m != nil {
				return m, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no line matching %s: %w", re, ctx.Err())
		case <-p.done:
			return nil, fmt.Errorf("process exited (%v) before a line matching %s", p.err, re)
		case <-ch:
		}
	}
}

// exitCode waits for the process and returns its exit status.
func (p *proc) exitCode(ctx context.Context) (int, error) {
	select {
	case <-ctx.Done():
		return -1, ctx.Err()
	case <-p.done:
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode(), nil
	}
	return 0, p.err
}

// stack is a support server plus what a test needs to talk to it.
type stack struct {
	bin, url, token string
	env             []string
	server          *proc
}

var servingRe = regexp.MustCompile(`msg=serving addr=(\S+)`)

// startStack starts assist-server (with extra flags, if any) on the
// private X server's environment.
func startStack(t testing.TB, ctx context.Context, x *xtest.Server, extra ...string) *stack {
	t.Helper()
	bin := binaries(t)
	// Agents keep their resume tickets in the test's own directory.
	// ASSIST_NO_BROWSER: the agent prints its chat window's address instead
	// of starting the desktop's browser (tests open it themselves).
	env := append(x.Env(), "ASSIST_ICE_LOOPBACK=1", "ASSIST_NO_BROWSER=1", "ASSIST_STATE_DIR="+filepath.Join(t.TempDir(), "agent-state"))
	s := &stack{bin: bin, token: "e2e-token", env: env}
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--rep-token", s.token}, extra...)
	s.server = startProc(t, env, filepath.Join(bin, "assist-server"), args...)
	m, err := s.server.waitLine(ctx, servingRe)
	if err != nil {
		t.Fatal(err)
	}
	s.url = "http://" + m[1]
	return s
}

// rep runs assist-rep to completion and returns its stdout, stderr and exit code.
func (s *stack) rep(t testing.TB, ctx context.Context, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, "assist-rep"), append([]string{"--server", s.url, "--token", s.token}, args...)...)
	cmd.Env = s.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("assist-rep %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

func (s *stack) newCode(t testing.TB, ctx context.Context) string {
	t.Helper()
	out, errOut, code := s.rep(t, ctx, "new")
	code9 := strings.TrimSpace(out)
	if code != 0 || !protocol.IsCode(code9) || out != code9+"\n" {
		t.Fatalf("assist-rep new: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	return code9
}

func (s *stack) join(t *testing.T, code string, extra ...string) *proc {
	return startProc(t, s.env, filepath.Join(s.bin, "assist"), append([]string{"join", code, "--server", s.url, "--yes"}, extra...)...)
}

func (s *stack) repConfig() rep.Config {
	return rep.Config{Server: s.url, Token: s.token, Loopback: true, Logger: quietLogger()}
}

var sharingRe = regexp.MustCompile(`Sharing your screen`)

func readPNG(t *testing.T, file string) *image.RGBA {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	rgba := image.NewRGBA(img.Bounds())
	draw.Draw(rgba, rgba.Rect, img, img.Bounds().Min, draw.Src)
	return rgba
}

// TestBinariesScreenshotMatchesX runs the three real binaries on a private
// Xvfb showing a known pattern: the rep's screenshot must equal the X
// server's own image pixel for pixel.
func TestBinariesScreenshotMatchesX(t *testing.T) {
	x := xtest.Start(t, xtest.Size(1280, 720))
	x.Show(t, xtest.Pattern(1280, 720))
	ctx := deadline(t, 90*time.Second)
	s := startStack(t, ctx, x)
	code := s.newCode(t, ctx)
	agent := s.join(t, code)
	if _, err := agent.waitLine(ctx, sharingRe); err != nil {
		t.Fatal(err)
	}

	file := filepath.Join(t.TempDir(), "shot.png")
	if _, errOut, rc := s.rep(t, ctx, "screenshot", code, file, "--timeout", "30s"); rc != 0 {
		t.Fatalf("assist-rep screenshot: exit %d: %s", rc, errOut)
	}
	// Text, lines, solids, gradients exact; the pattern's noise "photo"
	// settles as JPEG (make bench checks a natural photo at >= 35 dB).
	got := readPNG(t, file)
	want := x.Screenshot(t)
	if why := settledMatch(got, want, xtest.PatternLayout(1280, 720).Photo, 28); why != "" {
		t.Fatalf("screenshot vs the X server's image: %s", why)
	}

	out, errOut, rc := s.rep(t, ctx, "stats", code, "--for", "2s")
	if rc != 0 {
		t.Fatalf("assist-rep stats: exit %d: %s", rc, errOut)
	}
	var st struct {
		BytesTotal int64            `json:"bytes_total"`
		Bytes      map[string]int64 `json:"bytes"`
		Updates    int64            `json:"updates"`
		Tiles      int64            `json:"tiles"`
		FPS        *float64         `json:"fps"`
		RTTms      *float64         `json:"rtt_ms"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("stats output %q: %v", out, err)
	}
	if st.Bytes["screen"] == 0 || st.BytesTotal < st.Bytes["screen"] || st.Updates < 1 || st.Tiles < 1 || st.FPS == nil || st.RTTms == nil || *st.RTTms <= 0 {
		t.Fatalf("stats %s: want screen bytes, at least one update and tile, and a measured RTT", out)
	}

	// Ctrl+C at the agent ends the session on the rep's side, and the agent
	// exits 0.
	c, err := rep.Attach(ctx, s.repConfig(), code)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	agent.cmd.Process.Signal(syscall.SIGINT)
	if rc, err := agent.exitCode(ctx); rc != 0 || err != nil {
		t.Fatalf("agent after SIGINT: exit %d %v", rc, err)
	}
	select {
	case <-c.Ended():
	case <-ctx.Done():
		t.Fatal("the rep never saw the session end")
	}
	if _, reason := c.State(); !strings.Contains(reason, "customer ended") {
		t.Fatalf("end reason %q", reason)
	}
}

// TestBinariesFailures checks the clear errors: a wrong code, a used code,
// and an agent killed with -9 (the rep sees the session suspended, not a hang).
func TestBinariesFailures(t *testing.T) {
	x := xtest.Start(t, xtest.Size(640, 480))
	ctx := deadline(t, 90*time.Second)
	s := startStack(t, ctx, x)
	code := s.newCode(t, ctx)
	wrong := "000000001"
	if code == wrong {
		wrong = "000000002"
	}
	bad := s.join(t, wrong)
	if rc, _ := bad.exitCode(ctx); rc != 3 {
		t.Fatalf("wrong code: exit %d, want 3\n%s", rc, bad.output())
	}
	if !strings.Contains(bad.output(), "no session has this code") {
		t.Fatalf("wrong code said %q", bad.output())
	}
	if _, errOut, rc := s.rep(t, ctx, "screenshot", wrong, filepath.Join(t.TempDir(), "x.png")); rc == 0 || !strings.Contains(errOut, "no session has this code") {
		t.Fatalf("rep screenshot of a wrong code: exit %d, %q", rc, errOut)
	}

	agent := s.join(t, code)
	if _, err := agent.waitLine(ctx, sharingRe); err != nil {
		t.Fatal(err)
	}
	c, err := rep.Attach(ctx, s.repConfig(), code)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WaitFrame(ctx, false); err != nil {
		t.Fatal(err)
	}
	again := s.join(t, code)
	if rc, _ := again.exitCode(ctx); rc != 3 || !strings.Contains(again.output(), "already been used") {
		t.Fatalf("reused code: exit %d: %s", rc, again.output())
	}

	agent.cmd.Process.Kill()
	if err := c.WaitState(ctx, protocol.StateSuspended); err != nil {
		t.Fatal(err)
	}
	out, _, rc := s.rep(t, ctx, "list")
	if rc != 0 || !strings.Contains(out, `"state":"suspended"`) {
		t.Fatalf("assist-rep list after kill -9: exit %d: %s", rc, out)
	}
	// The server is still healthy: a new session works.
	s.newCode(t, ctx)
}
