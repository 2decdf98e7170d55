//go:build linux

package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"assist/internal/xtest"
)

// TestConsoleReloadResumesUpload reloads the console in chromium in the
// middle of a large upload to the real agent: the console lists the
// transfer as interrupted, refuses another file, and with the same file
// chosen again the upload continues from the customer's last verified
// block and arrives with the same SHA-256. A second upload interrupted the
// same way and discarded leaves no partial file at the customer.
func TestConsoleReloadResumesUpload(t *testing.T) {
	x := xtest.Start(t, xtest.Size(320, 240))
	ctx := deadline(t, 240*time.Second)
	s, code, cust := sharing(t, ctx, x, "")
	dir := t.TempDir()
	data := randomBytes(200<<20+123, 21)
	src := writeFile(t, dir, "big upload.bin", data)
	impostor := writeFile(t, dir, "other.bin", randomBytes(len(data), 22))
	small := writeFile(t, dir, "second.bin", randomBytes(96<<20+5, 23))

	b := browser(t)
	step := transferSteps(t, b)
	attached := chromedp.Poll[chromedp.Void](`assistConsole.state().hello && assistConsole.state().channels.control === 'open'`)
	step("open the session", append(consoleAttach(s.url, s.token, code), attached)...)
	// interrupt sends path with "Send files…", lets a few blocks arrive,
	// and reloads the page: the console comes back attached and lists it.
	interrupt := func(name, path string) {
		t.Helper()
		step("send "+name,
			chromedp.SetUploadFiles(`#transfers .send-input`, []string{path}),
			chromedp.Poll[chromedp.Void](`assistConsole.state().transfers.some((t) => t.send && t.name === `+jsString(name)+` && t.bytes >= 2 * 1048576)`),
			chromedp.Reload(),
			attached,
			chromedp.Poll[chromedp.Void](`assistConsole.state().transfers.some((t) => t.name === `+jsString(name)+` && t.state === 'interrupted') &&
				document.querySelector('#transfers li[data-state=interrupted] [data-action=choose]').hidden === false`),
		)
		re := regexp.MustCompile(`The transfer of ` + regexp.QuoteMeta(name) + ` is waiting for the support technician to come back`)
		if _, err := cust.waitLine(ctx, re); err != nil {
			t.Fatalf("the agent does not keep the transfer for the technician: %v", err)
		}
	}
	interrupt("big upload.bin", src)
	before, err := chromedp.Run(b, chromedp.Evaluate[int64](`assistConsole.state().transfers.find((t) => t.state === 'interrupted').bytes`))
	if err != nil {
		t.Fatal(err)
	}
	if before <= 0 || before >= int64(len(data)) {
		t.Fatalf("interrupted after %d of %d bytes: not mid-transfer", before, len(data))
	}
	step("another file is refused",
		chromedp.SetUploadFiles(`#transfers li[data-state=interrupted] .resume-input`, []string{impostor}),
		chromedp.Poll[chromedp.Void](`assistConsole.state().transfers.some((t) => t.state === 'interrupted' && t.error.includes('not the interrupted file'))`),
	)
	step("the same file continues",
		chromedp.SetUploadFiles(`#transfers li[data-state=interrupted] .resume-input`, []string{src}),
		chromedp.Poll[chromedp.Void](`assistConsole.state().transfers.some((t) => t.name === 'big upload.bin' && ['done', 'failed', 'cancelled'].includes(t.state))`),
	)
	type tstate struct {
		State, Error, SHA256 string
		From                 int64
		Resumed              bool
	}
	got, err := chromedp.Run(b, chromedp.Evaluate[tstate](`(() => { const t = assistConsole.state().transfers.find((t) => t.name === 'big upload.bin'); return {State: t.state, Error: t.error, SHA256: t.sha256, From: t.from, Resumed: t.resumed}; })()`))
	if err != nil {
		t.Fatal(err)
	}
	want := hexSHA(data)
	if got.State != "done" || got.SHA256 != want || !got.Resumed || got.From <= 0 || got.From%(1<<20) != 0 {
		t.Fatalf("after the reload: %+v, want done, resumed from a verified block > 0, SHA-256 %s", got, want)
	}
	t.Logf("reloaded after %d bytes; continued from %d of %d", before, got.From, len(data))
	saved, err := os.ReadFile(filepath.Join(cust.downloads, "big upload.bin"))
	if err != nil || hexSHA(saved) != want {
		t.Fatalf("the customer's copy: %v, SHA-256 %s, want %s", err, hexSHA(saved), want)
	}

	interrupt("second.bin", small)
	step("discard it",
		chromedp.Click(`#transfers li[data-state=interrupted] [data-action=discard]`),
		chromedp.Poll[chromedp.Void](`!assistConsole.state().transfers.some((t) => t.name === 'second.bin') && localStorage.getItem('assist.transfers') === null`),
	)
	if _, err := cust.waitLine(ctx, regexp.MustCompile(`The transfer of second\.bin was cancelled`)); err != nil {
		t.Fatal(err)
	}
	dirHolds(t, cust.downloads, "big upload.bin")
}
