package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/jezek/xgb/xproto"

	"assist/internal/xtest"
)

// consoleScreenFeatures checks, in the real console, what a rep sees of
// the screen beyond the first picture: a change shows up pixel-exact, the
// pointer is an overlay where the customer's pointer is, the quality line
// shows the agent's choice, and Screenshot saves exactly the picture.
func consoleScreenFeatures(t *testing.T, b context.Context, x *xtest.Server, win *xtest.Window, step func(string, ...chromedp.Action[chromedp.Void])) {
	t.Helper()
	photo := xtest.PatternLayout(800, 600).Photo

	// A change: text-like pixels somewhere in the document.
	other := xtest.Pattern(800, 600)
	for i := range other.Pix {
		if i%4 != 3 {
			other.Pix[i] = 255 - other.Pix[i]
		}
	}
	win.Update(t, image.Rect(100, 120, 260, 150), other)
	want := x.Screenshot(t)
	step("wait until the canvas shows the change, settled",
		chromedp.Poll[chromedp.Void](`(() => {
			const c = document.getElementById('screen');
			const d = c.getContext('2d').getImageData(100, 120, 1, 1).data;
			return c.dataset.refining === 'false' && d[0] === `+fmt.Sprint(want.Pix[want.PixOffset(100, 120)])+` && d[1] === `+fmt.Sprint(want.Pix[want.PixOffset(100, 120)+1])+`;
		})()`),
	)
	if why := settledMatch(canvasPixels(t, b), want, photo, 20); why != "" {
		t.Fatalf("after a change, the canvas vs the screen: %s", why)
	}

	// A lost screen message spoils the picture; the console asks the agent
	// for a resync (screen_resync) and the whole picture comes again.
	step("spoil the picture; the console resyncs and heals it",
		chromedp.Evaluate[chromedp.Void](`window.__framesAtBreak = window.assistConsole.breakScreen()`),
		chromedp.Poll[chromedp.Void](`(() => {
			const s = window.assistConsole.state();
			return s.resyncs >= 1 && s.frames > window.__framesAtBreak && s.refining === false;
		})()`),
	)
	if why := settledMatch(canvasPixels(t, b), want, photo, 20); why != "" {
		t.Fatalf("after a resync, the canvas vs the screen: %s", why)
	}

	// The pointer: an overlay at the customer's pointer, not in the picture.
	c := x.Conn(t)
	root := xproto.Setup(c).DefaultScreen(c).Root
	if err := xproto.WarpPointerChecked(c, 0, root, 0, 0, 0, 0, 321, 234).Check(); err != nil {
		t.Fatal(err)
	}
	step("the pointer overlay follows the customer's pointer",
		chromedp.Poll[chromedp.Void](`(() => { const e = document.getElementById('cursor'); return !e.hidden && e.dataset.x === '321' && e.dataset.y === '234'; })()`),
	)
	if why := settledMatch(canvasPixels(t, b), want, photo, 20); why != "" {
		t.Fatalf("with the pointer over the picture, the canvas vs the screen: %s", why)
	}
	q, err := chromedp.Run(b, chromedp.Text(chromedp.ID("quality")))
	if err != nil || len(q) < 3 || q[:2] != "Q " || q == "Q –" {
		t.Fatalf("quality line %q (%v), want the agent's quality and frame rate", q, err)
	}

	// Screenshot: the button's PNG is the picture, pixel for pixel.
	step("press Screenshot",
		// Keep the file the browser would save (the page's CSP rightly
		// forbids fetching blob: URLs back).
		chromedp.Evaluate[chromedp.Void](`(() => {
			window.__saved = null;
			const blobs = new Map();
			const make = URL.createObjectURL;
			URL.createObjectURL = (b) => { const u = make(b); blobs.set(u, b); return u; };
			const click = HTMLAnchorElement.prototype.click;
			HTMLAnchorElement.prototype.click = function () {
				if (this.download) { window.__saved = {name: this.download, blob: blobs.get(this.href)}; return; }
				return click.call(this);
			};
		})()`),
		chromedp.Click(chromedp.ID("screenshot")),
		chromedp.Poll[chromedp.Void](`window.__saved !== null`),
	)
	type saved struct {
		Name string
		B64  string
	}
	sv, err := chromedp.Run(b, chromedp.Evaluate[saved](`(async () => {
		const buf = new Uint8Array(await window.__saved.blob.arrayBuffer());
		let bin = '';
		for (let i = 0; i < buf.length; i += 0x8000) bin += String.fromCharCode.apply(null, buf.subarray(i, i + 0x8000));
		return {Name: window.__saved.name, B64: btoa(bin)};
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(sv.B64)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("the screenshot %s is not a PNG: %v", sv.Name, err)
	}
	shot := image.NewRGBA(img.Bounds())
	draw.Draw(shot, shot.Rect, img, img.Bounds().Min, draw.Src)
	if ok, at := equalImages(shot, canvasPixels(t, b)); !ok || shot.Rect.Dx() != 800 {
		t.Fatalf("the screenshot %s (%v) differs from the canvas at %v", sv.Name, shot.Rect, at)
	}
	if dir := os.Getenv("ASSIST_SHOT_DIR"); dir != "" { // for people: what the console looks like
		page, err := chromedp.Run(b, chromedp.FullScreenshot(90))
		if err == nil {
			os.WriteFile(filepath.Join(dir, "console.jpeg"), page, 0o644)
		}
	}
}
