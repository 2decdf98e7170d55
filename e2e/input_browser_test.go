package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"assist/internal/xtest"
)

// browserKey presses and releases one key in the page as a keyboard would.
func browserKey(code, key string, vk int64, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeRawKeyDown, Code: code, Key: key, WindowsVirtualKeyCode: vk}
		if text != "" {
			down.Type, down.Text = input.DispatchKeyEventTypeKeyDown, text
		}
		if strings.HasPrefix(code, "Numpad") {
			down.Location = 3
		}
		if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, down); err != nil {
			return err
		}
		up := down
		up.Type, up.Text = input.DispatchKeyEventTypeKeyUp, ""
		_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, up)
		return err
	})
}

// TestConsoleRemoteControl is the rep's remote control in a real browser:
// the rep requests control, the agent (--yes) grants it, a click on the
// scaled-down canvas lands on the exact screen pixel, keys typed with the
// canvas focused (letters, arrows, the numeric keypad, F5, Tab, Backspace,
// PageDown) reach the customer's X server and none of them acts on the
// console page; the clipboard goes both ways through the remote-clipboard
// box; the Ctrl+Alt+Del button sends the chord.
func TestConsoleRemoteControl(t *testing.T) {
	x := xtest.Start(t, xtest.Size(1600, 1000))
	t.Setenv("DISPLAY", x.Display)
	xev := x.StartXev(t, 0, 0, 1600, 1000)
	ctx := deadline(t, 120*time.Second)
	s := startStack(t, ctx, x)
	b := browser(t)
	step := stepper(t, b, 30*time.Second, "")
	code := s.newCode(t, ctx)
	ag := s.join(t, code)
	if _, err := ag.waitLine(ctx, sharingRe); err != nil {
		t.Fatal(err)
	}
	step("open the console",
		chromedp.EmulateViewport(1200, 800),
		chromedp.Navigate(s.url+"/console"),
		chromedp.WaitReady(chromedp.ID("token")),
	)
	// The console's clipboard, where the browser allows it.
	origin := s.url
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		chromedp.Do(b, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, chromedp.FromContext(ctx).Browser, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
				Permission: &cdpbrowser.PermissionDescriptor{Name: name}, Setting: cdpbrowser.PermissionSettingGranted, Origin: origin})
			return err
		}))
	}
	step("attach",
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`window.assistConsole.attach(%q, {token: %q}).then(() => { window.__notReloaded = true; })`, code, s.token)),
		chromedp.Poll[chromedp.Void](`window.__notReloaded && Number(document.getElementById('screen').dataset.frames || 0) >= 1`),
	)
	step("request control",
		chromedp.Click(chromedp.ID("request-control")),
		chromedp.Poll[chromedp.Void](`window.assistConsole.state().input.control === 'granted'`),
		chromedp.Poll[chromedp.Void](`/Release control/.test(document.getElementById('request-control').textContent)`),
	)

	// A click on the canvas, drawn smaller than the screen, lands on the
	// screen pixel under it.
	type box struct{ L, T, W, H, CW, CH float64 }
	r, err := chromedp.Run(b, chromedp.Evaluate[box](`(() => { const c = document.getElementById('screen'); const r = c.getBoundingClientRect();
		return {L: r.left, T: r.top, W: r.width, H: r.height, CW: c.width, CH: c.height}; })()`))
	if err != nil {
		t.Fatal(err)
	}
	if r.W >= r.CW || r.CW != 1600 {
		t.Fatalf("the canvas is drawn at %vx%v for a %vx%v screen: the test wants it scaled down", r.W, r.H, r.CW, r.CH)
	}
	cx, cy := r.L+r.W*0.3+0.5, r.T+r.H*0.6+0.5
	wantX, wantY := int((cx-r.L)*r.CW/r.W), int((cy-r.T)*r.CH/r.H)
	xev.Skip()
	step("click the canvas", chromedp.MouseClickXY(cx, cy))
	evs, err := xev.WaitFor(ctx, func(e xtest.Event) bool { return e.Type == "ButtonRelease" })
	if err != nil {
		t.Fatal(err)
	}
	if e := evs[len(evs)-1]; e.Button != 1 || e.X != wantX || e.Y != wantY {
		t.Fatalf("the click arrived as %s, want button 1 at (%d,%d)", e, wantX, wantY)
	}

	// Keys typed on the focused canvas.
	step("type on the canvas",
		chromedp.Poll[chromedp.Void](`document.activeElement === document.getElementById('screen')`),
		chromedp.Evaluate[chromedp.Void](`document.body.style.minHeight = '5000px'`), // a page that could scroll
		browserKey("KeyA", "a", 65, "a"),
		browserKey("ArrowUp", "ArrowUp", 38, ""),
		browserKey("ArrowLeft", "ArrowLeft", 37, ""),
		browserKey("Numpad1", "1", 97, "1"),
		browserKey("NumpadAdd", "+", 107, "+"),
		browserKey("NumpadEnter", "Enter", 13, "\r"),
		browserKey("F5", "F5", 116, ""),
		browserKey("Tab", "Tab", 9, ""),
		browserKey("Backspace", "Backspace", 8, ""),
		browserKey("PageDown", "PageDown", 34, ""),
		browserKey("Space", " ", 32, " "),
	)
	want := []string{"a", "Up", "Left", "KP_1", "KP_Add", "KP_Enter", "F5", "Tab", "BackSpace", "Next", "space"}
	var got []string
	for len(got) < len(want) {
		e := nextKey(t, ctx, xev)
		if e.Name != "Num_Lock" { // switched on to make the keypad's digit
			got = append(got, e.Name)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("the customer's X server received %v, want %v", got, want)
	}
	type pageState struct {
		ScrollY      float64
		Focused      bool
		NotReloaded  bool
		Held         int
		ControlState string
	}
	ps, err := chromedp.Run(b, chromedp.Evaluate[pageState](`({ScrollY: window.scrollY + document.querySelector('.stage').scrollTop,
		Focused: document.activeElement === document.getElementById('screen'), NotReloaded: !!window.__notReloaded,
		Held: window.assistConsole.state().input.held.length, ControlState: window.assistConsole.state().input.control})`))
	if err != nil {
		t.Fatal(err)
	}
	if ps.ScrollY != 0 || !ps.Focused || !ps.NotReloaded || ps.Held != 0 {
		t.Fatalf("the keys acted on the console page: %+v", ps)
	}

	// Ctrl+Alt+Del from its button.
	step("Ctrl+Alt+Del", chromedp.Click(chromedp.ID("ctrl-alt-del")))
	got = got[:0]
	for len(got) < 3 {
		e := nextKey(t, ctx, xev)
		got = append(got, fmt.Sprintf("%s/%#x", e.Name, e.State&^0x10)) // NumLock is on since the keypad's digit
	}
	if strings.Join(got, " ") != "Control_L/0x0 Alt_L/0x4 Delete/0xc" {
		t.Fatalf("Ctrl+Alt+Del arrived as %v", got)
	}

	// The customer copies: it shows in the remote clipboard box.
	fromCustomer := "del cliente: ñandú 中文 😀\r\nsegunda línea"
	xclipSet(t, x, fromCustomer)
	t.Cleanup(func() {
		if t.Failed() {
			dbg, _ := chromedp.Run(b, chromedp.Evaluate[string](`JSON.stringify(window.assistConsole.state())`))
			t.Logf("console state: %s", dbg)
		}
	})
	step("the customer's clipboard reaches the console",
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`window.assistConsole.state().input.remoteClipboard === %q`, fromCustomer)),
		// A textarea shows CRLF as LF; the text itself is kept exactly.
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.getElementById('remote-clipboard').value === %q`, strings.ReplaceAll(fromCustomer, "\r\n", "\n"))),
	)
	if clip, err := chromedp.Run(b, chromedp.Evaluate[string](`navigator.clipboard.readText().catch((e) => 'unavailable: ' + e.message)`, chromedp.EvalAwaitPromise)); err == nil {
		t.Logf("the rep's own clipboard now holds %q", clip)
	}

	// The rep sends text: it lands in the customer's clipboard.
	fromRep := "de la consola: ¿qué tal? €\r\n👍🏽"
	step("send to the customer's clipboard",
		// The rep pastes into the box (Ctrl+V there), then presses Send.
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const box = document.getElementById('remote-clipboard');
			box.focus(); box.select(); const dt = new DataTransfer(); dt.setData('text/plain', %q);
			box.dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true})); })()`, fromRep)),
		chromedp.Click(chromedp.ID("clip-send")),
		chromedp.Poll[chromedp.Void](`/in the customer/.test(document.getElementById('clip-status').textContent)`),
	)
	if got := xclip(t, x, "-o"); got != fromRep {
		t.Fatalf("the customer's clipboard holds %q, want %q", got, fromRep)
	}

	if dir := os.Getenv("ASSIST_SCREENSHOTS"); dir != "" {
		var png []byte
		step("screenshot",
			chromedp.Evaluate[chromedp.Void](`document.getElementById('clipboard-panel').open = true`),
			chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
				r, err := cdp.Call(ctx, t, page.CaptureScreenshot, page.CaptureScreenshotParams{})
				png = r.Data
				return err
			}),
		)
		if err := os.WriteFile(filepath.Join(dir, "console-remote-control.png"), png, 0o644); err != nil {
			t.Log(err)
		}
	}

	// The customer takes control back... from the rep's side: Release.
	step("release control",
		chromedp.Click(chromedp.ID("request-control")),
		chromedp.Poll[chromedp.Void](`window.assistConsole.state().input.control === 'view'`),
	)
	if _, err := ag.waitLine(ctx, regexp.MustCompile(`gave back control`)); err != nil {
		t.Fatal(err)
	}
}
