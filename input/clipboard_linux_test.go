package input_test

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"

	"assist/input"
	"assist/internal/xtest"
)

// xclipOut reads the X clipboard with xclip itself, independently of the
// code under test.
func xclipOut(t *testing.T, x *xtest.Server) string {
	t.Helper()
	cmd := exec.Command("xclip", "-o", "-selection", "clipboard")
	cmd.Env = x.Env()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("xclip -o: %v", err)
	}
	return string(out)
}

// xclipIn puts text in the X clipboard the way a customer's application
// would, and returns once xclip owns the selection.
func xclipIn(t *testing.T, x *xtest.Server, text string) {
	t.Helper()
	cmd := exec.Command("xclip", "-i", "-selection", "clipboard")
	cmd.Env = x.Env()
	cmd.Stdin = strings.NewReader(text)
	// No output pipes: the fork that keeps the selection would hold them open.
	if err := cmd.Run(); err != nil {
		t.Fatalf("xclip -i: %v", err)
	}
	// xclip's fork takes the selection a moment after the command returns.
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for xclipOut(t, x) != text {
		if time.Now().After(deadline) {
			t.Fatal("xclip did not take the selection within 10 s")
		}
		<-tick.C
	}
}

// TestClipboardX11 writes and reads the real X clipboard through
// atotto/clipboard: any script, CRLF and 1 MiB come back exactly; changes
// made by others are reported once; what was written is not echoed; and
// Close leaves no helper process behind.
func TestClipboardX11(t *testing.T) {
	x := xtest.Start(t, xtest.Size(640, 480))
	t.Setenv("DISPLAY", x.Display)
	ctx := ctxFor(t, 60*time.Second)
	c, err := input.OpenClipboard()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })

	for _, text := range []string{
		"hola ñandú ¿qué? ¡olé! €",
		"línea 1\r\nlínea 2\r\n",
		"中文 日本語 한국어 Ελληνικά русский עברית العربية 😀👍🏽",
		strings.Repeat("0123456789abcdeñ\r\n", (1<<20)/19) + "end",
	} {
		if err := c.Write(ctx, text); err != nil {
			t.Fatal(err)
		}
		if got := xclipOut(t, x); got != text {
			t.Fatalf("the X clipboard holds %d bytes, want %d (%.40q)", len(got), len(text), got)
		}
		if _, changed, err := c.Changed(ctx); err != nil || changed {
			t.Fatalf("our own write came back as a change (%v)", err)
		}
	}
	if n := len(input.Helpers()); n != 1 {
		t.Errorf("%d helpers own the clipboard, want 1 (each write's helper exits when the next takes over)", n)
	}

	xclipIn(t, x, "copied by the customer\r\n😀")
	got, changed, err := c.Changed(ctx)
	if err != nil || !changed || got != "copied by the customer\r\n😀" {
		t.Fatalf("Changed = %q, %v, %v", got, changed, err)
	}
	if _, changed, _ := c.Changed(ctx); changed {
		t.Fatal("the same text was reported twice")
	}
	if s, err := c.Read(ctx); err != nil || s != got {
		t.Fatalf("Read = %q, %v", s, err)
	}
	c.Forget()
	if s, changed, _ := c.Changed(ctx); !changed || s != got {
		t.Fatal("after Forget, the clipboard was not reported")
	}

	if err := c.Write(ctx, "the rep's text"); err != nil {
		t.Fatal(err)
	}
	if len(input.Helpers()) == 0 {
		t.Fatal("no helper owns the clipboard after a write")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if h := input.Helpers(); len(h) != 0 {
		t.Fatalf("helpers left after Close: %v", h)
	}
	// Nothing of ours owns the clipboard any more.
	cmd := exec.Command("xclip", "-o", "-selection", "clipboard")
	cmd.Env = x.Env()
	if out, err := cmd.Output(); err == nil && bytes.Equal(out, []byte("the rep's text")) {
		t.Fatal("the rep's text outlived Close")
	}
}
