package input

import (
	"assist/internal/xconn"
	"assist/internal/xgblog"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"
)

// The X11 backend injects through the XTEST extension on one connection of
// its own (jezek/xgb, pure Go): every key, character and pointer action of
// every controller goes through it in order, so a Ctrl held by one message
// is held for the click of the next. robotgo's X11 path is not used here:
// measured on X events it sends a junk keycode for super/win/meta, wrong
// characters for the keypad operators and KP_Enter, refuses Menu and drops
// characters above U+FFFF; and it keeps one process-wide Xlib display whose
// loss exits the process.

// X core event types for XTEST FakeInput.
const (
	xKeyPress      = 2
	xKeyRelease    = 3
	xButtonPress   = 4
	xButtonRelease = 5
	xMotionNotify  = 6
)

// Core modifier masks.
const (
	maskShift = 1 << 0
	maskLock  = 1 << 1
)

type x11 struct {
	log  *slog.Logger
	conn *xgb.Conn
	root xproto.Window
	w, h int
	minK int
	maxK int

	stale     atomic.Bool // the server's mapping changed: reload before the next key
	drainDone chan struct{}

	// Guarded by the Desktop's lock (all methods run under it).
	per    int      // keysyms per keycode
	syms   []Keysym // (maxK-minK+1)*per
	modmap [8][]byte
	free   []byte          // keycodes without keysyms when the connection opened
	spare  map[byte]uint64 // spare keycodes this backend mapped -> last use
	use    uint64
}

func openBackend(opts Options) (backend, error) {
	display := opts.Display
	if display == "" {
		display = os.Getenv("DISPLAY")
		if display == "" {
			return nil, errors.New("input: no X display: DISPLAY is not set (Wayland-only sessions are not supported)")
		}
	}
	xgblog.Quiet()
	conn, _, err := xconn.Open(display) // raw I/O: a keystroke does not wake the runtime's monitor
	if err != nil {
		return nil, fmt.Errorf("input: open display %q: %w", display, err)
	}
	x := &x11{log: opts.Logger, conn: conn, drainDone: make(chan struct{}), spare: map[byte]uint64{}}
	go x.drain()
	if err := x.init(); err != nil {
		x.conn.Close()
		<-x.drainDone
		return nil, fmt.Errorf("input: display %q: %w", display, err)
	}
	return x, nil
}

func (x *x11) init() error {
	if err := xtest.Init(x.conn); err != nil {
		return fmt.Errorf("the XTEST extension is missing: %w", err)
	}
	if _, err := xtest.GetVersion(x.conn, 2, 2).Reply(); err != nil {
		return fmt.Errorf("XTEST version: %w", err)
	}
	setup := xproto.Setup(x.conn)
	scr := setup.DefaultScreen(x.conn)
	x.root = scr.Root
	x.w, x.h = int(scr.WidthInPixels), int(scr.HeightInPixels)
	x.minK, x.maxK = int(setup.MinKeycode), int(setup.MaxKeycode)
	if err := x.load(); err != nil {
		return err
	}
	for k := x.minK; k <= x.maxK; k++ {
		empty := true
		for _, s := range x.row(byte(k)) {
			if s != 0 {
				empty = false
			}
		}
		if empty {
			x.free = append(x.free, byte(k))
		}
	}
	if len(x.free) == 0 {
		// No keycode to spare: borrow the last one (a real keyboard never
		// has a key there).
		x.free = []byte{byte(x.maxK)}
	}
	return nil
}

// drain reads the connection's events: mapping changes mark the keymap
// stale; X errors of unchecked requests are logged.
func (x *x11) drain() {
	defer close(x.drainDone)
	for {
		ev, xerr := x.conn.WaitForEvent()
		if ev == nil && xerr == nil {
			return
		}
		if xerr != nil {
			x.log.Warn("X error", "err", xerr)
			continue
		}
		if _, ok := ev.(xproto.MappingNotifyEvent); ok {
			x.stale.Store(true)
		}
	}
}

// load reads the keyboard and modifier mappings.
func (x *x11) load() error {
	km, err := xproto.GetKeyboardMapping(x.conn, xproto.Keycode(x.minK), byte(x.maxK-x.minK+1)).Reply()
	if err != nil {
		return fmt.Errorf("keyboard mapping: %w", err)
	}
	mm, err := xproto.GetModifierMapping(x.conn).Reply()
	if err != nil {
		return fmt.Errorf("modifier mapping: %w", err)
	}
	x.per = int(km.KeysymsPerKeycode)
	x.syms = x.syms[:0]
	for _, s := range km.Keysyms {
		x.syms = append(x.syms, Keysym(s))
	}
	n := int(mm.KeycodesPerModifier)
	for i := range x.modmap {
		x.modmap[i] = x.modmap[i][:0]
		for _, k := range mm.Keycodes[i*n : (i+1)*n] {
			if k != 0 {
				x.modmap[i] = append(x.modmap[i], byte(k))
			}
		}
	}
	// Forget spare keycodes someone else remapped meanwhile.
	for k := range x.spare {
		if x.sym(k, 0) == 0 {
			delete(x.spare, k)
		}
	}
	return nil
}

func (x *x11) refresh() error {
	if x.stale.Swap(false) {
		return x.load()
	}
	return nil
}

func (x *x11) row(k byte) []Keysym {
	i := (int(k) - x.minK) * x.per
	if i < 0 || i+x.per > len(x.syms) {
		return nil
	}
	return x.syms[i : i+x.per]
}

func (x *x11) sym(k byte, col int) Keysym {
	r := x.row(k)
	if col >= len(r) {
		return 0
	}
	return r[col]
}

// find returns the keycode and column (0: plain, 1: with Shift) holding sym
// in the first group. Characters also match their other keysym name.
func (x *x11) find(sym Keysym, char bool) (byte, int, bool) {
	for col := 0; col < 2 && col < x.per; col++ {
		for k := x.minK; k <= x.maxK; k++ {
			s := x.sym(byte(k), col)
			if s == sym || char && s != 0 && sameChar(s, sym) {
				return byte(k), col, true
			}
		}
	}
	return 0, 0, false
}

// assign maps sym onto a spare keycode (the least recently used one) as
// xdotool does for keysyms the keyboard lacks (emoji, accented letters of
// other layouts, F13-F24 on most keymaps). Spare keycodes keep their
// keysym until they are reused or the backend closes, so that a client
// that reads the new mapping late still sees the right keysym.
func (x *x11) assign(sym Keysym, held func(byte) bool) (byte, int, error) {
	lower, upper, cased := caseOf(sym)
	var pick byte
	var oldest uint64 = ^uint64(0)
	for _, k := range x.free {
		if held(k) {
			continue
		}
		last, used := x.spare[k]
		if !used {
			pick = k
			break
		}
		if last < oldest {
			pick, oldest = k, last
		}
	}
	if pick == 0 {
		return 0, 0, errors.New("input: no spare keycode for a character the keyboard lacks")
	}
	row := make([]xproto.Keysym, x.per)
	for i := 0; i < len(row) && i < 4; i++ {
		row[i] = xproto.Keysym(sym)
		if cased {
			row[i] = xproto.Keysym(lower)
			if i%2 == 1 {
				row[i] = xproto.Keysym(upper)
			}
		}
	}
	if err := xproto.ChangeKeyboardMappingChecked(x.conn, 1, xproto.Keycode(pick), byte(x.per), row).Check(); err != nil {
		return 0, 0, fmt.Errorf("input: map keysym %#x on keycode %d: %w", sym, pick, err)
	}
	copy(x.row(pick), func() []Keysym {
		out := make([]Keysym, len(row))
		for i, s := range row {
			out[i] = Keysym(s)
		}
		return out
	}())
	x.use++
	x.spare[pick] = x.use
	col := 0
	if cased && sym == upper {
		col = 1
	}
	return pick, col, nil
}

// keycode returns the keycode and column to press for sym, mapping a spare
// keycode when the keyboard has none.
func (x *x11) keycode(sym Keysym, char bool, held func(byte) bool) (byte, int, error) {
	if err := x.refresh(); err != nil {
		return 0, 0, err
	}
	if k, col, ok := x.find(sym, char); ok {
		if _, spare := x.spare[k]; spare {
			x.use++
			x.spare[k] = x.use
		}
		return k, col, nil
	}
	return x.assign(sym, held)
}

func (x *x11) fake(typ, detail byte) {
	xtest.FakeInput(x.conn, typ, detail, 0, x.root, 0, 0, 0)
}

// sync waits until the server has processed every request sent so far.
func (x *x11) sync() error {
	if _, err := xproto.GetInputFocus(x.conn).Reply(); err != nil {
		return fmt.Errorf("input: X server: %w", err)
	}
	return nil
}

// state is the server's current modifier and lock state.
func (x *x11) state() (uint16, error) {
	r, err := xproto.QueryPointer(x.conn, x.root).Reply()
	if err != nil {
		return 0, fmt.Errorf("input: query pointer: %w", err)
	}
	return r.Mask, nil
}

// down lists the keycodes of modifier mask bits (1<<i) that are down now.
func (x *x11) down(mask uint16) ([]byte, error) {
	r, err := xproto.QueryKeymap(x.conn).Reply()
	if err != nil {
		return nil, fmt.Errorf("input: query keymap: %w", err)
	}
	var out []byte
	for i, keys := range x.modmap {
		if mask&(1<<i) == 0 {
			continue
		}
		for _, k := range keys {
			if r.Keys[k/8]&(1<<(k%8)) != 0 {
				out = append(out, k)
			}
		}
	}
	return out, nil
}

// maskOf returns the modifier mask bits whose keys include one with sym.
func (x *x11) maskOf(syms ...Keysym) uint16 {
	var m uint16
	for i, keys := range x.modmap {
		for _, k := range keys {
			for col := 0; col < x.per && col < 4; col++ {
				for _, s := range syms {
					if x.sym(k, col) == s {
						m |= 1 << i
					}
				}
			}
		}
	}
	return m
}

// alphabetic reports whether keycode k holds a lower/upper case pair, the
// keys on which CapsLock acts like Shift.
func (x *x11) alphabetic(k byte) bool {
	lo, up := x.sym(k, 0), x.sym(k, 1)
	l, u, cased := caseOf(lo)
	return cased && l == lo && u == up
}

// levelUndo is what a press changed temporarily, to put back after it.
type levelUndo struct {
	pressed  []byte // keys pressed for the stroke: released after
	released []byte // held keys released for the stroke: pressed again after
}

func (x *x11) undo(u levelUndo) {
	for i := len(u.pressed) - 1; i >= 0; i-- {
		x.fake(xKeyRelease, u.pressed[i])
	}
	for _, k := range u.released {
		x.fake(xKeyPress, k)
	}
}

// prepare brings the modifier and lock state to what makes keycode k's
// column col come out, for a stroke of kind kind with the browser's flags.
func (x *x11) prepare(kind StrokeKind, k byte, col int, flags Mods) (levelUndo, error) {
	var u levelUndo
	if kind == Physical {
		return u, nil
	}
	st, err := x.state()
	if err != nil {
		return u, err
	}
	shiftOn := st&maskShift != 0
	want := col == 1
	if kind == Keypad {
		// The keypad: level 2 (the digits) when NumLock XOR Shift. Bring
		// NumLock to the state the rep's keypad is in; it stays so.
		num := x.maskOf(XKNumLock)
		if other := x.sym(k, 1-col); num == 0 || other == 0 || other == x.sym(k, col) {
			return u, nil // a key with one meaning: NumLock does not matter
		}
		if (st&num != 0) != shiftOn != want {
			nk, _, err := x.keycode(XKNumLock, false, func(byte) bool { return false })
			if err != nil {
				return u, err
			}
			x.fake(xKeyPress, nk)
			x.fake(xKeyRelease, nk)
		}
		return u, nil
	}
	// A character: release AltGr (and Ctrl, which Windows adds to AltGr) if
	// the rep's AltGr made it, and set Shift for the column.
	release := x.maskOf(XKLevel3, XKModeSwitch)
	if flags&ModAltGraph != 0 {
		release |= x.maskOf(XKControlL, XKControlR)
	}
	if st&release != 0 {
		keys, err := x.down(release)
		if err != nil {
			return u, err
		}
		for _, key := range keys {
			x.fake(xKeyRelease, key)
		}
		u.released = append(u.released, keys...)
	}
	lockOn := st&maskLock != 0 && x.alphabetic(k)
	if shiftOn != lockOn == want {
		return u, nil
	}
	if !shiftOn {
		sk, _, err := x.keycode(XKShiftL, false, func(byte) bool { return false })
		if err != nil {
			return u, err
		}
		x.fake(xKeyPress, sk)
		u.pressed = append(u.pressed, sk)
		return u, nil
	}
	keys, err := x.down(maskShift)
	if err != nil {
		return u, err
	}
	for _, key := range keys {
		x.fake(xKeyRelease, key)
	}
	u.released = append(u.released, keys...)
	return u, nil
}

func (x *x11) pressKey(s Stroke, flags Mods, held func(uint32) bool) (uint32, error) {
	k, col, err := x.keycode(s.Sym, s.Kind == Char, func(k byte) bool { return held(uint32(k)) })
	if err != nil {
		return 0, err
	}
	u, err := x.prepare(s.Kind, k, col, flags)
	if err != nil {
		return 0, err
	}
	x.fake(xKeyPress, k)
	x.undo(u)
	return uint32(k), x.sync()
}

func (x *x11) releaseKey(h uint32) error {
	x.fake(xKeyRelease, byte(h))
	return x.sync()
}

func (x *x11) typeText(text string) error {
	if err := x.refresh(); err != nil {
		return err
	}
	// Type with no modifier held (a held Ctrl would turn text into
	// shortcuts); put back what was held afterwards.
	keys, err := x.down(0xff &^ (maskLock | x.maskOf(XKNumLock)))
	if err != nil {
		return err
	}
	for _, k := range keys {
		x.fake(xKeyRelease, k)
	}
	defer func() {
		for _, k := range keys {
			x.fake(xKeyPress, k)
		}
	}()
	never := func(uint32) bool { return false }
	prev := rune(0)
	for _, r := range text {
		if r == '\n' && prev == '\r' {
			prev = r
			continue // CRLF is one Enter
		}
		prev = r
		s := Stroke{Sym: KeysymForRune(r), Kind: Char}
		if _, ok := runeKeys[r]; ok {
			s.Kind = Physical
		}
		h, err := x.pressKey(s, 0, never)
		if err != nil {
			return err
		}
		x.fake(xKeyRelease, byte(h))
	}
	return x.sync()
}

func (x *x11) move(px, py int, always bool) error {
	px, py = clamp(px, x.w), clamp(py, x.h)
	if !always {
		// A click where the pointer already is makes no motion event.
		p, err := xproto.QueryPointer(x.conn, x.root).Reply()
		if err != nil {
			return fmt.Errorf("input: query pointer: %w", err)
		}
		if int(p.RootX) == px && int(p.RootY) == py {
			return nil
		}
	}
	xtest.FakeInput(x.conn, xMotionNotify, 0, 0, x.root, int16(px), int16(py), 0)
	return nil
}

func clamp(v, size int) int {
	if v < 0 {
		return 0
	}
	if v >= size {
		return size - 1
	}
	return v
}

func (x *x11) button(b uint8, down bool) error {
	typ := byte(xButtonRelease)
	if down {
		typ = xButtonPress
	}
	x.fake(typ, b)
	return nil
}

func (x *x11) flush() error { return x.sync() }

func (x *x11) size() (int, int) { return x.w, x.h }

func (x *x11) close() error {
	// Give the spare keycodes back.
	var err error
	for k := range x.spare {
		row := make([]xproto.Keysym, x.per)
		if e := xproto.ChangeKeyboardMappingChecked(x.conn, 1, xproto.Keycode(k), byte(x.per), row).Check(); e != nil && err == nil {
			err = fmt.Errorf("input: restore keycode %d: %w", k, e)
		}
	}
	x.spare = map[byte]uint64{}
	x.conn.Close()
	<-x.drainDone
	return err
}

var _ backend = (*x11)(nil)
