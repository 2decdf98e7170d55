//go:build linux

package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"assist/internal/xtest"
	"assist/rep"
	"assist/transfer"
)

// TestChatWindowOffersFile: the customer sends a file from the chat window
// in chromium. The real agent's picker opens in the home folder with
// dot-files hidden, the customer goes to Documents through the shortcut,
// opens a folder that has just vanished (a clear error, the picker goes
// on), goes into another, up and back, ticks the file and presses Send;
// the rep receives it with the same SHA-256, and the window shows it sent.
func TestChatWindowOffersFile(t *testing.T) {
	x := xtest.Start(t, xtest.Size(320, 240))
	ctx := deadline(t, 150*time.Second)
	s := startStack(t, ctx, x)
	code := s.newCode(t, ctx)

	home := t.TempDir()
	docs := filepath.Join(home, "Documents")
	for _, d := range []string{"Downloads", "Documents/reports", "Documents/old stuff"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, home, ".hidden notes", []byte("not for the picker's first look"))
	data := randomBytes(3<<20+7, 21)
	writeFile(t, filepath.Join(docs, "reports"), "crash log.bin", data)
	env := append(append([]string(nil), s.env...), "ASSIST_STATE_DIR="+t.TempDir(), "HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "XDG_DOWNLOAD_DIR="+filepath.Join(home, "Downloads"),
		"XDG_DESKTOP_DIR=", "XDG_DOCUMENTS_DIR=")
	agent := startProc(t, env, filepath.Join(s.bin, "assist"), "join", code, "--server", s.url, "--yes", "--no-browser")
	m, err := agent.waitLine(ctx, chatURLRe)
	if err != nil {
		t.Fatal(err)
	}
	repDir := t.TempDir()
	cfg := s.repConfig()
	cfg.Downloads = repDir // the rep accepts what the customer offers
	c, err := rep.Attach(ctx, cfg, code)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	page := browser(t)
	step := stepper(t, page, 60*time.Second, `JSON.stringify(window.assistChat && window.assistChat.state())`)
	entries := func(names ...string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](`(() => { const p = window.assistChat.state().picker;
			return !p.busy && p.entries.join('|') === ` + jsString(strings.Join(names, "|")) + `; })()`)
	}
	step("the window can send a file once the technician is connected", chromedp.EmulateViewport(720, 900), chromedp.Navigate(m[1]),
		chromedp.Poll[chromedp.Void](`window.assistChat.state().reps.some((r) => r.connected) && !document.getElementById('offer-open').disabled`))
	step("the picker opens in the home folder, dot-files hidden",
		chromedp.Click(chromedp.ID("offer-open")),
		chromedp.Poll[chromedp.Void](`window.assistChat.state().picker.open && window.assistChat.state().picker.path === `+jsString(home)),
		entries("Documents", "Downloads"),
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('#picker-places button')].map((b) => b.textContent).join('|') === 'Home|Documents|Downloads'`),
		chromedp.Poll[chromedp.Void](`/1 hidden item/.test(document.getElementById('picker-summary').textContent)`))
	screenshotTo(t, page, "chat-window-picker-home.png")
	step("hidden files on request", chromedp.Click(chromedp.ID("picker-hidden")), entries("Documents", "Downloads", ".hidden notes"),
		chromedp.Click(chromedp.ID("picker-hidden")), entries("Documents", "Downloads"))
	step("the Documents shortcut", chromedp.Click(`#picker-places button[data-path=`+jsString(docs)+`]`), entries("old stuff", "reports"))

	if err := os.RemoveAll(filepath.Join(docs, "old stuff")); err != nil {
		t.Fatal(err)
	}
	step("a folder that vanished says so",
		chromedp.Click(`#picker-rows tr[data-name="old stuff"] button.folder`),
		chromedp.Poll[chromedp.Void](`/old stuff is not there/.test(document.getElementById('picker-error').textContent) && !document.getElementById('picker-error').hidden`),
		entries("old stuff", "reports")) // still where the customer was
	screenshotTo(t, page, "chat-window-picker-error.png")
	step("into a folder, up, and back in",
		chromedp.Click(`#picker-rows tr[data-name="reports"] button.folder`), entries("crash log.bin"),
		chromedp.Click(chromedp.ID("picker-up")), entries("reports"),
		chromedp.Click(`#picker-rows tr[data-name="reports"] button.folder`), entries("crash log.bin"))
	step("tick the file and send it",
		chromedp.Click(`#picker-rows tr[data-name="crash log.bin"] input[type=checkbox]`),
		chromedp.Poll[chromedp.Void](`document.getElementById('picker-send').textContent === 'Send 1 file' && !document.getElementById('picker-send').disabled`))
	screenshotTo(t, page, "chat-window-picker-chosen.png")
	step("the window shows it going, then sent",
		chromedp.Click(chromedp.ID("picker-send")),
		chromedp.Poll[chromedp.Void](`!window.assistChat.state().picker.open`),
		chromedp.Poll[chromedp.Void](`window.assistChat.state().transfers.some((t) => t.send && t.name === 'crash log.bin' && t.state === 'done')`),
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('#file-list .detail')].some((e) => /^Sent \(3\.15 MB\)\.$/.test(e.textContent))`))
	screenshotTo(t, page, "chat-window-picker-sent.png")

	got, err := os.ReadFile(filepath.Join(repDir, "crash log.bin"))
	if err != nil || hexSHA(got) != hexSHA(data) {
		t.Fatalf("the rep's copy: %v, sha256 %s, want %s", err, hexSHA(got), hexSHA(data))
	}
	var st transfer.Status
	for _, x := range c.Transfers() {
		st = x
	}
	if len(c.Transfers()) != 1 || st.Send || st.State != transfer.StateDone || st.SHA256 != hexSHA(data) {
		t.Fatalf("the rep's transfers: %+v", c.Transfers())
	}
	sent, err := agent.waitLine(ctx, regexp.MustCompile(`Sent crash log\.bin \(.*SHA-256 ([0-9a-f]{64})\)`))
	if err != nil || sent[1] != hexSHA(data) {
		t.Fatalf("the agent's line: %v %v", sent, err)
	}
}
