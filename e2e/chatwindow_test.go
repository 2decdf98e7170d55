package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"assist/internal/xtest"
)

// screenshotTo saves a PNG of the tab to $ASSIST_SCREENSHOTS/name, when
// that directory is set (for people to look at; nothing is compared).
func screenshotTo(t *testing.T, tab context.Context, name string) {
	dir := os.Getenv("ASSIST_SCREENSHOTS")
	if dir == "" {
		return
	}
	b, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, name), b, 0o644)
}

// TestChatWindowInBrowser drives both sides in chromium: the rep's console
// and the customer's chat window. The customer allows viewing with the
// page's Allow button, both chat, the customer pauses sharing and the
// console says so, the page reloads without ending anything, and closing
// the customer's page ends the session on the console.
func TestChatWindowInBrowser(t *testing.T) {
	x := xtest.Start(t, xtest.Size(640, 400))
	x.Show(t, xtest.Pattern(640, 400))
	ctx := deadline(t, 150*time.Second)
	s := startStack(t, ctx, x)
	console := browser(t)
	step := func(tab context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		stepper(t, tab, 30*time.Second, "")(what, actions...)
	}
	step(console, "sign in", chromedp.EmulateViewport(1280, 760), chromedp.Navigate(s.url+"/console"),
		chromedp.Poll[chromedp.Void](`typeof window.assistConsole === 'object'`),
		chromedp.Evaluate[chromedp.Void](`window.assistConsole.login(`+jsString(s.token)+`)`),
		chromedp.WaitVisible(chromedp.ID("new-session")),
	)
	code := s.newCode(t, ctx)
	step(console, "open the session", chromedp.Evaluate[chromedp.Void](`window.assistConsole.attach('`+code+`')`),
		chromedp.WaitVisible(chromedp.ID("chat-panel")))

	state := filepath.Join(t.TempDir(), "state")
	env := append(append([]string(nil), s.env...), "ASSIST_STATE_DIR="+state)
	agent := startProc(t, env, filepath.Join(s.bin, "assist"), "join", code, "--server", s.url, "--no-browser", "--chat-grace", "2s")
	m, err := agent.waitLine(ctx, chatURLRe)
	if err != nil {
		t.Fatal(err)
	}
	customer, closeCustomer := chromedp.NewContext(console) // a second tab
	defer closeCustomer()
	// The tab's first Run creates it: without a timeout, which would close it.
	if err := chromedp.Do(customer); err != nil {
		t.Fatal(err)
	}
	step(customer, "the customer's chat window asks to view the screen", chromedp.Navigate(m[1]),
		chromedp.WaitVisible(`.prompt[data-kind="view"] button.allow`),
	)
	screenshotTo(t, customer, "chat-window-consent.png")
	step(customer, "allow", chromedp.Click(`.prompt[data-kind="view"] button.allow`))
	step(console, "the screen arrives", chromedp.Poll[chromedp.Void](`Number(document.getElementById('screen').dataset.frames || 0) >= 1`))
	step(customer, "the page says the screen is shared",
		chromedp.Poll[chromedp.Void](`/being shared/.test(document.getElementById('banner-text').textContent) && document.querySelector('#reps .tag.viewing') !== null`))

	step(console, "the rep writes", chromedp.Poll[chromedp.Void](`window.assistConsole.chat('Hola, ¿me ve? 👋')`))
	step(customer, "the customer reads and answers",
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('#log li.rep .text')].some(e => e.textContent === 'Hola, ¿me ve? 👋')`),
		chromedp.SendKeys(chromedp.ID("chat-text"), "Yes, I can see you"),
		chromedp.Click(chromedp.ID("chat-send")),
	)
	step(console, "the console shows the answer",
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('#chat-log li.customer .text')].some(e => e.textContent === 'Yes, I can see you')`))

	step(customer, "pause sharing", chromedp.Click(chromedp.ID("pause")),
		chromedp.Poll[chromedp.Void](`document.getElementById('pause').textContent === 'Resume sharing'`))
	step(console, "the console says the customer paused",
		chromedp.Poll[chromedp.Void](`/paused by the customer/.test(document.getElementById('status-text').textContent) && !document.getElementById('chat-paused').hidden`))
	screenshotTo(t, customer, "chat-window-paused.png")
	screenshotTo(t, console, "console-chat-paused.png")
	step(customer, "resume sharing", chromedp.Click(chromedp.ID("pause")))
	step(console, "sharing again", chromedp.Poll[chromedp.Void](`document.getElementById('chat-paused').hidden`))

	// Remote control is asked for in the chat window, and taken back there.
	step(console, "the rep requests control", chromedp.Click(chromedp.ID("request-control")))
	step(customer, "the customer allows control",
		chromedp.WaitVisible(`.prompt[data-kind="control"] button.allow`),
		chromedp.Click(`.prompt[data-kind="control"] button.allow`))
	step(console, "the console has control",
		chromedp.Poll[chromedp.Void](`window.assistConsole.state().input.control === 'granted'`))
	step(customer, "the page shows who controls and offers to take it back",
		chromedp.Poll[chromedp.Void](`document.querySelector('#reps .tag.controlling') !== null && !document.getElementById('revoke').hidden`),
		chromedp.Click(chromedp.ID("revoke")))
	step(console, "the console is view-only again",
		chromedp.Poll[chromedp.Void](`window.assistConsole.state().input.control === 'view'`))
	step(customer, "the page shows viewing again",
		chromedp.Poll[chromedp.Void](`document.querySelector('#reps .tag.controlling') === null && document.getElementById('revoke').hidden`))

	// A reload is not a close: the reloaded page gets the whole chat back.
	step(customer, "reload", chromedp.Reload(),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('#log li').length === 2 && window.assistChat.state().open`))

	// Closing the page ends the session, on the console too.
	closeCustomer()
	step(console, "the console says the session ended",
		chromedp.Poll[chromedp.Void](`/ended/i.test(document.getElementById('status-text').textContent) && /closed the chat window/.test(document.getElementById('status-text').textContent)`))
	if rc, err := agent.exitCode(ctx); rc != 0 || err != nil {
		t.Fatalf("agent after the chat window closed: exit %d %v\n%s", rc, err, agent.output())
	}
	if left := entries(t, state); len(left) != 0 {
		t.Fatalf("ticket files left: %v", left)
	}
	screenshotTo(t, console, "console-ended.png")
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
