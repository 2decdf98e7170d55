//go:build linux

package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"assist/agent"
	"assist/internal/xtest"
	"assist/rep"
	"assist/transfer"
)

// TestConsoleTransfers drives the real console in chromium against the real
// agent: a file dropped on the customer's screen lands verified in the
// customer's Downloads folder, and a file the rep asks for comes back
// through the browser's download, both with the same SHA-256.
func TestConsoleTransfers(t *testing.T) {
	x := xtest.Start(t, xtest.Size(640, 480))
	x.Show(t, xtest.Pattern(640, 480))
	ctx := deadline(t, 150*time.Second)
	s, code, cust := sharing(t, ctx, x, "")

	b := browser(t)
	downloads := t.TempDir()
	progress := chromedp.Events(b, cdpbrowser.DownloadProgress)
	step := transferSteps(t, b)
	step("open the session", append(consoleAttach(s.url, s.token, code), allowDownloads(downloads), consoleShowing)...)

	// Drop a 24 MiB file on the customer's screen, as a person drags one in.
	step("drop a file on the screen",
		chromedp.Evaluate[chromedp.Void](`(async () => {
			const size = 24 * 1048576 + 321;
			const bytes = new Uint8Array(size);
			for (let o = 0; o < size; o += 65536) crypto.getRandomValues(bytes.subarray(o, Math.min(size, o + 65536)));
			window.dropped = new File([bytes], 'dropped report.bin');
			window.droppedSHA = [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');
			const dt = new DataTransfer();
			dt.items.add(window.dropped);
			const stage = document.getElementById('screen').parentElement;
			for (const type of ['dragenter', 'dragover', 'drop']) {
				stage.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dt }));
			}
		})()`, chromedp.EvalAwaitPromise),
		chromedp.Poll[chromedp.Void](`assistConsole.state().transfers.some((t) => t.send && t.state === 'running' && t.bytes > 0)`),
	)
	shot, err := chromedp.Run(b, chromedp.CaptureScreenshot())
	if err == nil {
		os.WriteFile(filepath.Join(os.TempDir(), "assist-console-transfer-running.png"), shot, 0o644)
	}
	step("the drop arrives",
		chromedp.Poll[chromedp.Void](`assistConsole.state().transfers.some((t) => t.send && (t.state === 'done' || t.state === 'failed'))`),
	)
	type tstate struct {
		Name, State, Error, SHA256 string
		Size                       int64
	}
	sent, err := chromedp.Run(b, chromedp.Evaluate[tstate](`(() => { const t = assistConsole.state().transfers.find((t) => t.send); return {Name: t.name, State: t.state, Error: t.error, SHA256: t.sha256, Size: t.size}; })()`))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := chromedp.Run(b, chromedp.Evaluate[string](`window.droppedSHA`))
	got, err := os.ReadFile(filepath.Join(cust.downloads, "dropped report.bin"))
	if err != nil {
		t.Fatalf("the dropped file is not in the customer's Downloads: %v (console: %+v)", err, sent)
	}
	if sent.State != "done" || sent.SHA256 != want || hexSHA(got) != want || int64(len(got)) != sent.Size {
		t.Fatalf("dropped file: console %+v, browser's own SHA-256 %s, customer's copy %s", sent, want, hexSHA(got))
	}

	// Ask for a customer's file through the panel's form.
	data := randomBytes(5<<20+99, 9)
	src := writeFile(t, t.TempDir(), "customer notes.txt", data)
	step("ask for a file",
		chromedp.SendKeys(chromedp.ID("pull-path"), src+"\r"), // Enter submits the form
		chromedp.Poll[chromedp.Void](`assistConsole.state().transfers.some((t) => !t.send && (t.state === 'done' || t.state === 'failed'))`),
	)
	pulled, err := chromedp.Run(b, chromedp.Evaluate[tstate](`(() => { const t = assistConsole.state().transfers.find((t) => !t.send); return {Name: t.name, State: t.state, Error: t.error, SHA256: t.sha256, Size: t.size}; })()`))
	if err != nil || pulled.State != "done" || pulled.SHA256 != hexSHA(data) {
		t.Fatalf("pulled: %+v %v", pulled, err)
	}
	for ev, err := range progress {
		if err != nil {
			t.Fatal(err)
		}
		if ev.State == cdpbrowser.DownloadProgressStateCompleted {
			break
		}
		if ev.State == cdpbrowser.DownloadProgressStateCanceled {
			t.Fatal("the browser cancelled the download")
		}
	}
	saved, err := os.ReadFile(filepath.Join(downloads, "customer notes.txt"))
	if err != nil || hexSHA(saved) != hexSHA(data) {
		t.Fatalf("the browser's download: %v, sha %s", err, hexSHA(saved))
	}
	shot, err = chromedp.Run(b, chromedp.CaptureScreenshot())
	if err == nil {
		os.WriteFile(filepath.Join(os.TempDir(), "assist-console-transfers-done.png"), shot, 0o644)
	}
}

func ptr[T any](v T) *T { return &v }

// TestChatWindowFiles drives the customer's chat window in chromium while
// the rep sends files: the window asks about each file, shows its progress,
// and its Cancel stops the transfer on both sides with nothing left behind;
// a file that arrives is shown with where it was saved.
func TestChatWindowFiles(t *testing.T) {
	x := xtest.Start(t, xtest.Size(320, 240))
	ctx := deadline(t, 150*time.Second)
	s := startStack(t, ctx, x)
	code := s.newCode(t, ctx)
	downloads := t.TempDir()
	env := append(append([]string(nil), s.env...), "ASSIST_STATE_DIR="+t.TempDir(), "XDG_DOWNLOAD_DIR="+downloads)
	agent := startProc(t, env, filepath.Join(s.bin, "assist"), "join", code, "--server", s.url, "--no-browser", "--chat-grace", "5s")
	m, err := agent.waitLine(ctx, chatURLRe)
	if err != nil {
		t.Fatal(err)
	}
	page := browser(t)
	step := stepper(t, page, 60*time.Second, "")
	step("allow viewing", chromedp.EmulateViewport(720, 900), chromedp.Navigate(m[1]),
		chromedp.WaitVisible(`.prompt[data-kind="view"] button.allow`),
		chromedp.Click(`.prompt[data-kind="view"] button.allow`))
	c, err := rep.Attach(ctx, s.repConfig(), code)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	big, err := c.Push(ctx, sparseFile(t, 4<<30), "disk image.iso")
	if err != nil {
		t.Fatal(err)
	}
	step("the window asks about the file", chromedp.WaitVisible(`.prompt[data-kind="file"] button.allow`))
	screenshotTo(t, page, "chat-window-file-prompt.png")
	step("allow it, then it runs with progress", chromedp.Click(`.prompt[data-kind="file"] button.allow`),
		chromedp.Poll[chromedp.Void](`(() => { const t = window.assistChat.state().transfers[0]; return t && t.state === 'running' && t.bytes > 0; })()`))
	screenshotTo(t, page, "chat-window-file-running.png")
	step("cancel it in the window", chromedp.Click(`#file-list li[data-state="running"] button`))
	if _, err := big.Wait(ctx); !errors.Is(err, transfer.ErrCancelled) {
		t.Fatalf("the rep's transfer after the customer's Cancel: %v", err)
	}
	step("the window says cancelled", chromedp.Poll[chromedp.Void](`window.assistChat.state().transfers[0].state === 'cancelled'`))
	dirHolds(t, downloads)

	data := randomBytes(1<<20+3, 12)
	small, err := c.Push(ctx, writeFile(t, t.TempDir(), "notes.txt", data), "")
	if err != nil {
		t.Fatal(err)
	}
	step("allow the second file", chromedp.WaitVisible(`.prompt[data-kind="file"] button.allow`),
		chromedp.Click(`.prompt[data-kind="file"] button.allow`))
	if st, err := small.Wait(ctx); err != nil || st.SHA256 != hexSHA(data) {
		t.Fatalf("second file: %v %+v", err, st)
	}
	step("the window says where it was saved",
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('#file-list .detail')].some((e) => e.textContent.includes(`+jsString(filepath.Join(downloads, "notes.txt"))+`))`))
	screenshotTo(t, page, "chat-window-files.png")
	dirHolds(t, downloads, "notes.txt")
}

// TestConsoleReceivesCustomerOffer: the customer offers a file (through
// agent.Files, as the chat window would); the console shows it with Save
// and Decline, the rep saves it and the browser's download holds the same
// bytes.
func TestConsoleReceivesCustomerOffer(t *testing.T) {
	p := startInProcess(t)
	ctx := deadline(t, 90*time.Second)
	in, err := rep.NewSession(ctx, p.cfg)
	if err != nil {
		t.Fatal(err)
	}
	files := agent.NewFiles()
	p.runFilesAgent(t, ctx, in.Code, files)

	b := browser(t)
	downloads := t.TempDir()
	progress := chromedp.Events(b, cdpbrowser.DownloadProgress)
	step := transferSteps(t, b)
	step("open the session", append(consoleAttach(p.url, "tok", in.Code), allowDownloads(downloads), consoleShowing)...)
	data := randomBytes(2<<20+17, 13)
	ids, err := files.Offer(writeFile(t, t.TempDir(), "crash report.zip", data))
	if err != nil {
		t.Fatal(err)
	}
	step("the console shows the offer with Save and Decline",
		chromedp.WaitVisible(`#transfers li[data-state="asking"] button[data-action="save"]`))
	shot, err := chromedp.Run(b, chromedp.CaptureScreenshot())
	if err == nil && os.Getenv("ASSIST_SCREENSHOTS") != "" {
		os.WriteFile(filepath.Join(os.Getenv("ASSIST_SCREENSHOTS"), "console-customer-offer.png"), shot, 0o644)
	}
	step("save it (as a download)",
		chromedp.Evaluate[chromedp.Void](`assistConsole.acceptFile(`+jsString(ids[0])+`)`),
		chromedp.Poll[chromedp.Void](`assistConsole.state().transfers.some((t) => t.state === 'done')`),
	)
	for ev, err := range progress {
		if err != nil {
			t.Fatal(err)
		}
		if ev.State == cdpbrowser.DownloadProgressStateCompleted {
			break
		}
	}
	got, err := os.ReadFile(filepath.Join(downloads, "crash report.zip"))
	if err != nil || hexSHA(got) != hexSHA(data) {
		t.Fatalf("the browser's download: %v (sha %s, want %s)", err, hexSHA(got), hexSHA(data))
	}
	var st transfer.Status
	for _, s := range files.List() {
		st = s
	}
	if st.State != transfer.StateDone || st.SHA256 != hexSHA(data) {
		t.Fatalf("the customer's side: %+v", st)
	}
}

// transferSteps runs a step of a console test with a deadline; a failing step
// reports the console's transfers.
func transferSteps(t *testing.T, b context.Context) func(string, ...chromedp.Action[chromedp.Void]) {
	return stepper(t, b, 60*time.Second, `JSON.stringify(assistConsole.state().transfers)`)
}

// allowDownloads lets the tab save downloads into dir and report their progress.
func allowDownloads(dir string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
			Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir, EventsEnabled: ptr(true),
		})
		return err
	})
}

// consoleAttach signs the console at url in with token and attaches it to
// the session code (the console's own functions, as its sign-in and
// session list call them).
func consoleAttach(url, token, code string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.EmulateViewport(1280, 720),
		chromedp.Navigate(url + "/console"),
		chromedp.Evaluate[chromedp.Void](`assistConsole.login(`+jsString(token)+`).then(() => assistConsole.attach(`+jsString(code)+`))`, chromedp.EvalAwaitPromise),
	}
}

// consoleShowing is true once the console has the agent's hello and a frame.
var consoleShowing = chromedp.Poll[chromedp.Void](`Number(document.getElementById('screen').dataset.frames || 0) >= 1 && assistConsole.state().hello`)
