package input_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"assist/input"
	"assist/internal/xtest"
)

// rig is a private Xvfb with xev's window at (0,0)-(600,400) under the
// pointer, and a Controller driving it.
type rig struct {
	x   *xtest.Server
	xev *xtest.Xev
	d   *input.Desktop
	c   *input.Controller
}

func newRig(t *testing.T) *rig {
	t.Helper()
	x := xtest.Start(t, xtest.Size(1024, 768))
	r := &rig{x: x}
	r.xev = x.StartXev(t, 0, 0, 600, 400)
	d, err := input.Open(input.Options{Display: x.Display, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	r.d, r.c = d, d.NewController()
	if err := r.c.Move(300, 200); err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, 10*time.Second)
	if _, err := r.xev.WaitFor(ctx, func(e xtest.Event) bool { return e.Type == "MotionNotify" && e.X == 300 && e.Y == 200 }); err != nil {
		t.Fatal(err)
	}
	r.xev.Skip()
	return r
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// key is one key event of a table row.
type key struct {
	down      bool
	code, key string
	flags     input.Mods
}

func press(code, k string, flags ...input.Mods) []key {
	var f input.Mods
	for _, m := range flags {
		f |= m
	}
	return []key{{true, code, k, f}, {false, code, k, f}}
}

func down(code, k string, flags ...input.Mods) key {
	var f input.Mods
	for _, m := range flags {
		f |= m
	}
	return key{true, code, k, f}
}

func up(code, k string) key { return key{false, code, k, 0} }

func seq(parts ...any) []key {
	var out []key
	for _, p := range parts {
		switch v := p.(type) {
		case key:
			out = append(out, v)
		case []key:
			out = append(out, v...)
		}
	}
	return out
}

// sent is a KeyPress as xev must report it.
type sent struct {
	sym   uint32
	state uint16
}

// Keysyms and states the table expects (keysymdef.h; Xvfb's default map:
// Lock 0x2, Control 0x4, Mod1 (Alt) 0x8, Mod2 (NumLock) 0x10, Mod4 (Super)
// 0x40, Mod5 (ISO_Level3_Shift) 0x80).
const (
	stShift, stLock, stCtrl, stAlt, stNum, stSuper = 0x1, 0x2, 0x4, 0x8, 0x10, 0x40
)

func k(sym uint32, state uint16) sent { return sent{sym, state} }

// runRow sends keys, then the sentinel key Help, and returns the KeyPress
// events that arrived before the sentinel's.
func (r *rig) runRow(t *testing.T, keys []key) ([]xtest.Event, []xtest.Event) {
	t.Helper()
	for _, kk := range keys {
		if err := r.c.Key(kk.down, kk.code, kk.key, kk.flags); err != nil {
			t.Fatalf("Key(%v): %v", kk, err)
		}
	}
	if err := r.c.Key(true, "Help", "Help", 0); err != nil {
		t.Fatal(err)
	}
	if err := r.c.Key(false, "Help", "Help", 0); err != nil {
		t.Fatal(err)
	}
	evs, err := r.xev.WaitFor(ctxFor(t, 10*time.Second), func(e xtest.Event) bool {
		return e.Type == "KeyRelease" && e.Name == "Help"
	})
	if err != nil {
		t.Fatal(err)
	}
	var presses, all []xtest.Event
	for _, e := range evs[:len(evs)-2] { // the sentinel's press and release
		switch e.Type {
		case "KeyPress":
			presses = append(presses, e)
			all = append(all, e)
		case "KeyRelease":
			all = append(all, e)
		}
	}
	return presses, all
}

// TestKeysReachX presses every key of the table through a Controller and
// reads the KeyPress events back from xev, a real X client: keysym and
// modifier state must be exactly the expected ones, and every key must be
// released at the end of its row.
func TestKeysReachX(t *testing.T) {
	r := newRig(t)
	type row struct {
		name string
		keys []key
		want []sent
	}
	rows := []row{
		{"a", press("KeyA", "a"), []sent{k('a', 0)}},
		{"shift a", seq(down("ShiftLeft", "Shift"), press("KeyA", "A", input.ModShift), up("ShiftLeft", "Shift")),
			[]sent{k(0xffe1, 0), k('A', stShift)}},
		{"A without shift (the rep's CapsLock)", press("KeyA", "A"), []sent{k(0xffe1, 0), k('A', stShift)}},
		{"z", press("KeyZ", "z"), []sent{k('z', 0)}},
		{"digit", press("Digit1", "1"), []sent{k('1', 0)}},
		{"shift digit", seq(down("ShiftLeft", "Shift"), press("Digit1", "!", input.ModShift), up("ShiftLeft", "Shift")),
			[]sent{k(0xffe1, 0), k('!', stShift)}},
		{"digit from a shifted layout", seq(down("ShiftLeft", "Shift"), press("Digit1", "1", input.ModShift), up("ShiftLeft", "Shift")),
			[]sent{k(0xffe1, 0), k('1', 0), k(0xffe1, 0)}}, // Shift let go for the "1", then held again
		{"code only", press("KeyQ", "Unidentified"), []sent{k('q', 0)}},
	}
	for _, p := range []struct {
		code string
		ch   rune
	}{{"Minus", '-'}, {"Equal", '='}, {"BracketLeft", '['}, {"BracketRight", ']'}, {"Backslash", '\\'},
		{"Semicolon", ';'}, {"Quote", '\''}, {"Backquote", '`'}, {"Comma", ','}, {"Period", '.'},
		{"Slash", '/'}, {"Space", ' '}, {"IntlBackslash", '<'}} {
		rows = append(rows, row{p.code, press(p.code, string(p.ch)), []sent{k(uint32(p.ch), 0)}})
	}
	named := []struct {
		code, key string
		sym       uint32
	}{
		{"ArrowUp", "ArrowUp", 0xff52}, {"ArrowDown", "ArrowDown", 0xff54}, {"ArrowLeft", "ArrowLeft", 0xff51},
		{"ArrowRight", "ArrowRight", 0xff53}, {"Home", "Home", 0xff50}, {"End", "End", 0xff57},
		{"PageUp", "PageUp", 0xff55}, {"PageDown", "PageDown", 0xff56}, {"Insert", "Insert", 0xff63},
		{"Delete", "Delete", 0xffff}, {"Escape", "Escape", 0xff1b}, {"Tab", "Tab", 0xff09},
		{"Backspace", "Backspace", 0xff08}, {"Enter", "Enter", 0xff0d}, {"PrintScreen", "PrintScreen", 0xff61},
		{"Pause", "Pause", 0xff13}, {"ContextMenu", "ContextMenu", 0xff67}, {"ScrollLock", "ScrollLock", 0xff14},
		{"ShiftLeft", "Shift", 0xffe1}, {"ShiftRight", "Shift", 0xffe2}, {"ControlLeft", "Control", 0xffe3},
		{"ControlRight", "Control", 0xffe4}, {"AltLeft", "Alt", 0xffe9}, {"AltRight", "Alt", 0xffea},
		{"AltRight", "AltGraph", 0xfe03}, {"MetaLeft", "Meta", 0xffeb}, {"MetaRight", "Meta", 0xffec},
		{"NumpadAdd", "+", 0xffab}, {"NumpadSubtract", "-", 0xffad}, {"NumpadMultiply", "*", 0xffaa},
		{"NumpadDivide", "/", 0xffaf}, {"NumpadEnter", "Enter", 0xff8d}, {"NumpadEqual", "=", 0xffbd},
	}
	for i := 1; i <= 24; i++ {
		named = append(named, struct {
			code, key string
			sym       uint32
		}{fmt.Sprintf("F%d", i), fmt.Sprintf("F%d", i), 0xffbe + uint32(i-1)})
	}
	for _, n := range named {
		rows = append(rows, row{n.code + " " + n.key, press(n.code, n.key), []sent{k(n.sym, 0)}})
	}
	// The numeric keypad with NumLock on, then off, then a digit while the
	// customer's NumLock is off (it is switched on to make the digit).
	rows = append(rows, row{"NumLock on", press("NumLock", "NumLock"), []sent{k(0xff7f, 0)}})
	for i := 0; i <= 9; i++ {
		rows = append(rows, row{fmt.Sprintf("Numpad%d numlock", i), press(fmt.Sprintf("Numpad%d", i), fmt.Sprint(i), input.ModNumLock),
			[]sent{k(0xffb0+uint32(i), stNum)}})
	}
	rows = append(rows,
		row{"NumpadDecimal numlock", press("NumpadDecimal", ".", input.ModNumLock), []sent{k(0xffae, stNum)}},
		row{"KP_Enter numlock", press("NumpadEnter", "Enter", input.ModNumLock), []sent{k(0xff8d, stNum)}},
		row{"KP_Add numlock", press("NumpadAdd", "+", input.ModNumLock), []sent{k(0xffab, stNum)}},
		row{"NumLock off", press("NumLock", "NumLock", input.ModNumLock), []sent{k(0xff7f, stNum)}},
	)
	for i, nav := range []struct {
		key string
		sym uint32
	}{{"Insert", 0xff9e}, {"End", 0xff9c}, {"ArrowDown", 0xff99}, {"PageDown", 0xff9b}, {"ArrowLeft", 0xff96},
		{"Clear", 0xff9d}, {"ArrowRight", 0xff98}, {"Home", 0xff95}, {"ArrowUp", 0xff97}, {"PageUp", 0xff9a}} {
		rows = append(rows, row{fmt.Sprintf("Numpad%d %s", i, nav.key), press(fmt.Sprintf("Numpad%d", i), nav.key), []sent{k(nav.sym, 0)}})
	}
	rows = append(rows,
		row{"NumpadDecimal Delete", press("NumpadDecimal", "Delete"), []sent{k(0xff9f, 0)}},
		row{"Numpad5 while the customer's NumLock is off", press("Numpad5", "5", input.ModNumLock),
			[]sent{k(0xff7f, 0), k(0xffb5, stNum)}},
		row{"NumLock off again", press("NumLock", "NumLock", input.ModNumLock), []sent{k(0xff7f, stNum)}},
		// Locks and chords.
		row{"CapsLock then a", seq(press("CapsLock", "CapsLock"), press("KeyA", "A", input.ModCapsLock), press("KeyB", "b"),
			press("CapsLock", "CapsLock", input.ModCapsLock)),
			[]sent{k(0xffe5, 0), k('A', stLock), k(0xffe1, stLock), k('b', stLock|stShift), k(0xffe5, stLock)}},
		row{"ctrl+alt+t", seq(down("ControlLeft", "Control"), down("AltLeft", "Alt", input.ModCtrl),
			press("KeyT", "t", input.ModCtrl, input.ModAlt), up("AltLeft", "Alt"), up("ControlLeft", "Control")),
			[]sent{k(0xffe3, 0), k(0xffe9, stCtrl), k('t', stCtrl|stAlt)}},
		row{"ctrl+shift+esc", seq(down("ControlLeft", "Control"), down("ShiftLeft", "Shift", input.ModCtrl),
			press("Escape", "Escape", input.ModCtrl, input.ModShift), up("ShiftLeft", "Shift"), up("ControlLeft", "Control")),
			[]sent{k(0xffe3, 0), k(0xffe1, stCtrl), k(0xff1b, stCtrl|stShift)}},
		row{"super+e", seq(down("MetaLeft", "Meta"), press("KeyE", "e", input.ModMeta), up("MetaLeft", "Meta")),
			[]sent{k(0xffeb, 0), k('e', stSuper)}},
		row{"ctrl+c", seq(down("ControlLeft", "Control"), press("KeyC", "c", input.ModCtrl), up("ControlLeft", "Control")),
			[]sent{k(0xffe3, 0), k('c', stCtrl)}},
		row{"shift+arrow stays shifted", seq(down("ShiftLeft", "Shift"), press("ArrowRight", "ArrowRight", input.ModShift), up("ShiftLeft", "Shift")),
			[]sent{k(0xffe1, 0), k(0xff53, stShift)}},
		row{"auto-repeat", seq(down("KeyX", "x"), down("KeyX", "x", input.ModRepeat), down("KeyX", "x", input.ModRepeat), up("KeyX", "x")),
			[]sent{k('x', 0), k('x', 0), k('x', 0)}},
		// Text with no key on the customer's keyboard: typed as Unicode.
		row{"é", press("KeyE", "é"), []sent{k(0xe9, 0)}},
		row{"ñ", press("Semicolon", "ñ"), []sent{k(0xf1, 0)}},
		row{"Ñ", seq(down("ShiftLeft", "Shift"), press("Semicolon", "Ñ", input.ModShift), up("ShiftLeft", "Shift")),
			[]sent{k(0xffe1, 0), k(0xd1, stShift)}},
		row{"dead key then é", seq(press("Quote", "Dead"), press("KeyE", "é")), []sent{k(0xe9, 0)}},
		row{"€ with AltGr", seq(down("AltRight", "AltGraph"), press("KeyE", "€", input.ModAltGraph), up("AltRight", "AltGraph")),
			[]sent{k(0xfe03, 0), k(0x10020ac, 0), k(0xfe03, 0)}}, // AltGr let go for the "€", then held again
		row{"emoji", press("", "😀"), []sent{k(0x101f600, 0)}},
		row{"CJK", press("", "中"), []sent{k(0x1004e2d, 0)}},
	)
	for _, tt := range rows {
		t.Run(tt.name, func(t *testing.T) {
			presses, all := r.runRow(t, tt.keys)
			var got []sent
			for _, e := range presses {
				got = append(got, k(e.Keysym, e.State))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("X received%s\nwant %x", xtest.Events(presses), tt.want)
			}
			balance := map[int]int{}
			for _, e := range all {
				if e.Type == "KeyPress" {
					balance[e.Keycode]++
				} else {
					balance[e.Keycode] = 0
				}
			}
			for kc, n := range balance {
				if n != 0 {
					t.Errorf("keycode %d is still down after the row:%s", kc, xtest.Events(all))
				}
			}
			if n := r.c.Held(); n != 0 {
				t.Errorf("the controller still holds %d keys", n)
			}
		})
	}
	r.checkNothingDown(t)
}

// checkNothingDown asks the X server itself which keys are down.
func (r *rig) checkNothingDown(t *testing.T) {
	t.Helper()
	c := r.x.Conn(t)
	km, err := xproto.QueryKeymap(c).Reply()
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range km.Keys {
		if b != 0 {
			t.Errorf("keys down on the X server: byte %d = %08b", i, b)
		}
	}
	p, err := xproto.QueryPointer(c, xproto.Setup(c).DefaultScreen(c).Root).Reply()
	if err != nil {
		t.Fatal(err)
	}
	if p.Mask&0x1f00 != 0 {
		t.Errorf("pointer buttons down: state %#x", p.Mask)
	}
}

// TestPointerReachesX moves, clicks, double-clicks, drags and scrolls, and
// reads the pointer events back from xev with exact coordinates.
func TestPointerReachesX(t *testing.T) {
	r := newRig(t)
	ctx := ctxFor(t, 20*time.Second)
	expect := func(what string, want ...string) {
		t.Helper()
		var got []string
		for len(got) < len(want) {
			e, err := r.xev.Next(ctx)
			if err != nil {
				t.Fatalf("%s: %v; got %q", what, err, got)
			}
			switch e.Type {
			case "ButtonPress", "ButtonRelease":
				got = append(got, fmt.Sprintf("%s %d (%d,%d) %#x", e.Type, e.Button, e.X, e.Y, e.State))
			case "MotionNotify":
				got = append(got, fmt.Sprintf("Motion (%d,%d) %#x", e.X, e.Y, e.State))
			}
		}
		if strings.Join(got, "; ") != strings.Join(want, "; ") {
			t.Fatalf("%s: X received\n\t%s\nwant\n\t%s", what, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(r.c.Move(123, 45))
	expect("move", "Motion (123,45) 0x0")
	must(r.c.Button(input.ButtonLeft, true, 10, 20))
	must(r.c.Button(input.ButtonLeft, false, 10, 20))
	expect("left click", "Motion (10,20) 0x0", "ButtonPress 1 (10,20) 0x0", "ButtonRelease 1 (10,20) 0x100")
	must(r.c.Button(input.ButtonMiddle, true, 10, 20))
	must(r.c.Button(input.ButtonMiddle, false, 10, 20))
	expect("middle click", "ButtonPress 2 (10,20) 0x0", "ButtonRelease 2 (10,20) 0x200")
	must(r.c.Button(input.ButtonRight, true, 599, 399))
	must(r.c.Button(input.ButtonRight, false, 599, 399))
	expect("right click", "Motion (599,399) 0x0", "ButtonPress 3 (599,399) 0x0", "ButtonRelease 3 (599,399) 0x400")
	for i := 0; i < 2; i++ {
		must(r.c.Button(input.ButtonLeft, true, 300, 300))
		must(r.c.Button(input.ButtonLeft, false, 300, 300))
	}
	expect("double click", "Motion (300,300) 0x0", "ButtonPress 1 (300,300) 0x0", "ButtonRelease 1 (300,300) 0x100",
		"ButtonPress 1 (300,300) 0x0", "ButtonRelease 1 (300,300) 0x100")
	must(r.c.Button(input.ButtonLeft, true, 50, 50))
	must(r.c.Move(80, 90))
	must(r.c.Button(input.ButtonLeft, false, 120, 130))
	expect("drag", "Motion (50,50) 0x0", "ButtonPress 1 (50,50) 0x0", "Motion (80,90) 0x100", "Motion (120,130) 0x100",
		"ButtonRelease 1 (120,130) 0x100")
	must(r.c.Wheel(0, 2, 200, 100))
	expect("wheel down", "Motion (200,100) 0x0", "ButtonPress 5 (200,100) 0x0", "ButtonRelease 5 (200,100) 0x1000",
		"ButtonPress 5 (200,100) 0x0", "ButtonRelease 5 (200,100) 0x1000")
	must(r.c.Wheel(0, -1, 200, 100))
	expect("wheel up", "ButtonPress 4 (200,100) 0x0", "ButtonRelease 4 (200,100) 0x800")
	must(r.c.Wheel(1, 0, 200, 100))
	expect("wheel right", "ButtonPress 7 (200,100) 0x0", "ButtonRelease 7 (200,100) 0x0")
	must(r.c.Wheel(-1, 0, 200, 100))
	expect("wheel left", "ButtonPress 6 (200,100) 0x0", "ButtonRelease 6 (200,100) 0x0")
	must(r.c.Move(5000, -7))
	c := r.x.Conn(t)
	p, err := xproto.QueryPointer(c, xproto.Setup(c).DefaultScreen(c).Root).Reply()
	if err != nil || p.RootX != 1023 || p.RootY != 0 {
		t.Fatalf("a move off the screen put the pointer at (%d,%d) (%v), want (1023,0)", p.RootX, p.RootY, err)
	}
	r.checkNothingDown(t)
}

// TestReleaseAll holds a chord and a button, then releases everything as
// the end of control or a dropped link does.
func TestReleaseAll(t *testing.T) {
	r := newRig(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(r.c.Key(true, "ControlLeft", "Control", 0))
	must(r.c.Key(true, "ShiftLeft", "Shift", input.ModCtrl))
	must(r.c.Key(true, "KeyK", "K", input.ModCtrl|input.ModShift))
	must(r.c.Button(input.ButtonLeft, true, 40, 40))
	if n := r.c.Held(); n != 4 {
		t.Fatalf("holding %d, want 4", n)
	}
	must(r.c.ReleaseAll())
	evs, err := r.xev.WaitFor(ctxFor(t, 10*time.Second), func(e xtest.Event) bool {
		return e.Type == "KeyRelease" && (e.Name == "Control_L" || e.Name == "Shift_L") && e.State&^(stCtrl|stShift) == 0 && e.State&(stCtrl|stShift) != stCtrl|stShift
	})
	if err != nil {
		t.Fatal(err)
	}
	r.checkNothingDown(t)
	if r.c.Held() != 0 {
		t.Fatal("the controller still holds keys")
	}
	t.Logf("events:%s", xtest.Events(evs))
}

// TestXtermReceivesText types Spanish text and an emoji into a real xterm
// running `cat > file`, then Ctrl+D: the file must hold exactly the text.
func TestXtermReceivesText(t *testing.T) {
	x := xtest.Start(t, xtest.Size(1024, 768))
	path, err := exec.LookPath("xterm")
	if err != nil {
		t.Fatalf("xterm not installed (make deps installs it): %v", err)
	}
	file := filepath.Join(t.TempDir(), "typed.txt")
	ctx := ctxFor(t, 60*time.Second)
	cmd := exec.CommandContext(ctx, path, "-geometry", "80x10+0+0", "-e", "sh", "-c", "stty -echo; exec cat > "+file)
	cmd.Env = append(x.Env(), "LC_ALL=C.UTF-8")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	waitMapped(t, ctx, x)

	d, err := input.Open(input.Options{Display: x.Display})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c := d.NewController()
	if err := c.Move(100, 50); err != nil {
		t.Fatal(err)
	}
	text := "Él añadió: «¿Qué tal, señor Muñoz?» ¡Olé! 5 € 😀\n"
	if err := c.Text(text); err != nil {
		t.Fatal(err)
	}
	for _, kk := range seq(down("ControlLeft", "Control"), press("KeyD", "d", input.ModCtrl), up("ControlLeft", "Control")) {
		if err := c.Key(kk.down, kk.code, kk.key, kk.flags); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-done:
		if waitErr != nil {
			t.Fatalf("xterm: %v", waitErr)
		}
	case <-ctx.Done():
		got, _ := os.ReadFile(file)
		t.Fatalf("xterm did not end after Ctrl+D; the file holds %q", got)
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != text {
		t.Fatalf("xterm received %q, want %q", got, text)
	}
}

// waitMapped waits until a top-level window is viewable on x.
func waitMapped(t *testing.T, ctx context.Context, x *xtest.Server) {
	t.Helper()
	c, err := xgb.NewConnDisplay(x.Display)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	root := xproto.Setup(c).DefaultScreen(c).Root
	if err := xproto.ChangeWindowAttributesChecked(c, root, xproto.CwEventMask, []uint32{xproto.EventMaskSubstructureNotify}).Check(); err != nil {
		t.Fatal(err)
	}
	viewable := func() bool {
		tree, err := xproto.QueryTree(c, root).Reply()
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range tree.Children {
			if a, err := xproto.GetWindowAttributes(c, w).Reply(); err == nil && a.MapState == xproto.MapStateViewable {
				return true
			}
		}
		return false
	}
	events := make(chan struct{}, 64)
	go func() {
		for {
			ev, err := c.WaitForEvent()
			if ev == nil && err == nil {
				return
			}
			select {
			case events <- struct{}{}:
			default:
			}
		}
	}()
	for !viewable() {
		select {
		case <-ctx.Done():
			t.Fatal("no window was mapped")
		case <-events:
		}
	}
}
