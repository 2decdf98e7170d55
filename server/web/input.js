// Remote hands in the console: the binary input messages (protocol/input.go),
// the control grant, the clipboard in chunks (protocol/remote.go), and
// RemoteInput, which turns the canvas's keyboard, pointer and wheel events
// into input messages once the customer granted control. The pure functions
// are exported for the node tests; RemoteInput touches the DOM only through
// the elements it is given.

export const INPUT_KEY_DOWN = 1;
export const INPUT_KEY_UP = 2;
export const INPUT_TEXT = 3;
export const INPUT_MOVE = 4;
export const INPUT_BUTTON = 5;
export const INPUT_WHEEL = 6;
export const INPUT_PING = 7;

export const MOD_SHIFT = 1 << 0;
export const MOD_CTRL = 1 << 1;
export const MOD_ALT = 1 << 2;
export const MOD_META = 1 << 3;
export const MOD_ALTGRAPH = 1 << 4;
export const MOD_CAPSLOCK = 1 << 5;
export const MOD_NUMLOCK = 1 << 6;
export const MOD_LOCKS_KNOWN = 1 << 7;
export const MOD_REPEAT = 1 << 8;

export const MAX_INPUT_TEXT = 4095;
export const MAX_KEY_FIELD = 64;
export const MAX_DIMENSION = 16384;
export const MAX_WHEEL = 1000;
export const MAX_CLIPBOARD = 1 << 20;
export const CLIP_CHUNK = 8 << 10;

const utf8 = new TextEncoder();

/** The flags of a KeyboardEvent (modifiers, locks, auto-repeat). */
export function flagsOf(e) {
  const mod = (name) => (typeof e.getModifierState === 'function' ? e.getModifierState(name) : false);
  let f = 0;
  if (e.shiftKey) f |= MOD_SHIFT;
  if (e.ctrlKey) f |= MOD_CTRL;
  if (e.altKey) f |= MOD_ALT;
  if (e.metaKey) f |= MOD_META;
  if (mod('AltGraph')) f |= MOD_ALTGRAPH;
  if (typeof e.getModifierState === 'function') {
    f |= MOD_LOCKS_KNOWN;
    if (mod('CapsLock')) f |= MOD_CAPSLOCK;
    if (mod('NumLock')) f |= MOD_NUMLOCK;
  }
  if (e.repeat) f |= MOD_REPEAT;
  return f;
}

/** A key-down or key-up message, or null when the event cannot be sent. */
export function encodeKey(down, code, key, flags) {
  code = /^[A-Za-z0-9]{0,64}$/.test(code || '') ? code || '' : '';
  const k = utf8.encode(key || '');
  if ((!code && k.length === 0) || k.length > MAX_KEY_FIELD) return null;
  const b = new Uint8Array(5 + code.length + k.length);
  b[0] = down ? INPUT_KEY_DOWN : INPUT_KEY_UP;
  b[1] = (flags >> 8) & 0xff;
  b[2] = flags & 0xff;
  b[3] = code.length;
  for (let i = 0; i < code.length; i++) b[4 + i] = code.charCodeAt(i);
  b[4 + code.length] = k.length;
  b.set(k, 5 + code.length);
  return b;
}

/** Text messages for text, split at character boundaries. */
export function encodeText(text) {
  const out = [];
  let part = '';
  let size = 0;
  for (const ch of String(text)) {
    const n = utf8.encode(ch).length;
    if (size + n > MAX_INPUT_TEXT) {
      out.push(part);
      part = '';
      size = 0;
    }
    part += ch;
    size += n;
  }
  if (part) out.push(part);
  return out.map((p) => {
    const bytes = utf8.encode(p);
    const b = new Uint8Array(1 + bytes.length);
    b[0] = INPUT_TEXT;
    b.set(bytes, 1);
    return b;
  });
}

function xy(v, at, x, y) {
  v.setUint16(at, x);
  v.setUint16(at + 2, y);
}

export function encodeMove(x, y) {
  const v = new DataView(new ArrayBuffer(5));
  v.setUint8(0, INPUT_MOVE);
  xy(v, 1, x, y);
  return new Uint8Array(v.buffer);
}

export function encodeButton(button, down, x, y) {
  const v = new DataView(new ArrayBuffer(7));
  v.setUint8(0, INPUT_BUTTON);
  v.setUint8(1, button);
  v.setUint8(2, down ? 1 : 0);
  xy(v, 3, x, y);
  return new Uint8Array(v.buffer);
}

export function encodeWheel(dx, dy, x, y) {
  const v = new DataView(new ArrayBuffer(9));
  v.setUint8(0, INPUT_WHEEL);
  v.setInt16(1, dx);
  v.setInt16(3, dy);
  xy(v, 5, x, y);
  return new Uint8Array(v.buffer);
}

/** The X11 button for a PointerEvent.button (0 left, 1 middle, 2 right, 3 back, 4 forward). */
export function xButton(b) {
  return { 0: 1, 1: 2, 2: 3, 3: 8, 4: 9 }[b] || 0;
}

/**
 * The customer's screen pixel under (clientX, clientY) on a canvas drawn at
 * rect (its CSS box) holding a width x height picture; clamped to the picture.
 */
export function screenPoint(rect, width, height, clientX, clientY) {
  const clamp = (v, max) => Math.min(max - 1, Math.max(0, v));
  const x = Math.floor(((clientX - rect.left) * width) / rect.width);
  const y = Math.floor(((clientY - rect.top) * height) / rect.height);
  return { x: clamp(x, width), y: clamp(y, height) };
}

/**
 * Turns wheel deltas into whole notches: 100 pixels or 3 lines a notch, a
 * page 3 notches; the remainder carries over to the next event, so a
 * touchpad's small steps add up.
 */
export class WheelAccumulator {
  constructor() {
    this.x = 0;
    this.y = 0;
  }

  add(deltaX, deltaY, deltaMode = 0) {
    const per = deltaMode === 1 ? 1 / 3 : deltaMode === 2 ? 3 : 1 / 100;
    this.x += deltaX * per;
    this.y += deltaY * per;
    const dx = Math.trunc(this.x);
    const dy = Math.trunc(this.y);
    this.x -= dx;
    this.y -= dy;
    const lim = (n) => Math.max(-MAX_WHEEL, Math.min(MAX_WHEEL, n));
    return { dx: lim(dx), dy: lim(dy) };
  }
}

function utf8Len(s) {
  return utf8.encode(s).length;
}

/** The clipboard messages carrying text as clipboard text id; throws when text is over 1 MiB. */
export function clipChunks(id, text) {
  const total = utf8Len(text);
  if (total > MAX_CLIPBOARD) {
    throw new Error(`The text is ${(total / (1 << 20)).toFixed(1)} MiB; at most 1 MiB goes to the customer's clipboard.`);
  }
  const parts = [];
  let part = '';
  let size = 0;
  for (const ch of text) {
    const n = utf8Len(ch);
    if (size + n > CLIP_CHUNK) {
      parts.push(part);
      part = '';
      size = 0;
    }
    part += ch;
    size += n;
  }
  parts.push(part);
  return parts.map((p, i) => ({
    type: 'clipboard',
    clip: { id, seq: i, total, text: p, ...(i === parts.length - 1 ? { last: true } : {}) },
  }));
}

/** Puts clipboard texts back together from their chunks (one text at a time). */
export class ClipAssembler {
  constructor() {
    this.reset();
  }

  reset() {
    this.id = 0;
    this.next = 0;
    this.parts = [];
    this.size = 0;
  }

  /** Returns the whole text when clip completes one, else null; throws on a broken sequence. */
  add(clip) {
    if (!clip || typeof clip.text !== 'string') throw new Error('a clipboard chunk without text');
    if (clip.seq === 0) {
      this.reset();
      this.id = clip.id;
    }
    if (clip.id !== this.id || clip.seq !== this.next || clip.total > MAX_CLIPBOARD) {
      this.reset();
      throw new Error('a clipboard text arrived out of order');
    }
    this.parts.push(clip.text);
    this.size += utf8Len(clip.text);
    this.next++;
    if (this.size > clip.total) {
      this.reset();
      throw new Error('a clipboard text is longer than announced');
    }
    if (!clip.last) return null;
    const text = this.parts.join('');
    const ok = this.size === clip.total;
    this.reset();
    if (!ok) throw new Error('a clipboard text is shorter than announced');
    return text;
  }
}

/** Key sequences for the special-keys menu: what the rep's own OS or browser keeps for itself. */
export const SPECIAL_KEYS = {
  'ctrl-alt-del': ['ControlLeft:Control', 'AltLeft:Alt', 'Delete:Delete'],
  'ctrl-shift-esc': ['ControlLeft:Control', 'ShiftLeft:Shift', 'Escape:Escape'],
  'alt-tab': ['AltLeft:Alt', 'Tab:Tab'],
  'alt-f4': ['AltLeft:Alt', 'F4:F4'],
  win: ['MetaLeft:Meta'],
  'win-r': ['MetaLeft:Meta', 'KeyR:r'],
  'win-l': ['MetaLeft:Meta', 'KeyL:l'],
  'win-d': ['MetaLeft:Meta', 'KeyD:d'],
  'win-e': ['MetaLeft:Meta', 'KeyE:e'],
  'ctrl-alt-t': ['ControlLeft:Control', 'AltLeft:Alt', 'KeyT:t'],
  'ctrl-w': ['ControlLeft:Control', 'KeyW:w'],
  'ctrl-t': ['ControlLeft:Control', 'KeyT:t'],
  'ctrl-n': ['ControlLeft:Control', 'KeyN:n'],
  printscreen: ['PrintScreen:PrintScreen'],
  'alt-printscreen': ['AltLeft:Alt', 'PrintScreen:PrintScreen'],
  'ctrl-alt-f1': ['ControlLeft:Control', 'AltLeft:Alt', 'F1:F1'],
  'ctrl-alt-f2': ['ControlLeft:Control', 'AltLeft:Alt', 'F2:F2'],
  'ctrl-alt-f7': ['ControlLeft:Control', 'AltLeft:Alt', 'F7:F7'],
  f11: ['F11:F11'],
  f12: ['F12:F12'],
};

const MOD_OF = { Control: MOD_CTRL, Alt: MOD_ALT, Shift: MOD_SHIFT, Meta: MOD_META };

/** The key messages of a chord: down in order, up in reverse, modifier flags as a browser sets them. */
export function chordMessages(keys) {
  const parsed = keys.map((k) => {
    const [code, key] = k.split(':');
    return { code, key };
  });
  const out = [];
  let flags = 0;
  for (const k of parsed) {
    out.push(encodeKey(true, k.code, k.key, flags));
    flags |= MOD_OF[k.key] || 0;
  }
  for (const k of [...parsed].reverse()) {
    flags &= ~(MOD_OF[k.key] || 0);
    out.push(encodeKey(false, k.code, k.key, flags));
  }
  return out;
}

const META_CODES = new Set(['MetaLeft', 'MetaRight', 'OSLeft', 'OSRight']);

/**
 * RemoteInput drives the customer's keyboard, pointer and clipboard from
 * the canvas. opts: canvas, sendInput(Uint8Array) -> bool, sendControl(msg)
 * -> bool, onChange(), clipboard (navigator.clipboard or null), and
 * windowsKeys() -> bool (whether the Windows/Meta keys go through).
 */
export class RemoteInput {
  constructor(opts) {
    this.canvas = opts.canvas;
    this.sendInput = opts.sendInput;
    this.sendControl = opts.sendControl;
    this.onChange = opts.onChange || (() => {});
    this.clipboard = opts.clipboard || null;
    this.windowsKeys = opts.windowsKeys || (() => false);
    this.state = 'view'; // view | asking | granted
    this.reason = '';
    this.held = new Map(); // code -> key, keys down on the customer's side
    this.buttons = new Set();
    this.wheel = new WheelAccumulator();
    this.assembler = new ClipAssembler();
    this.remoteClip = null; // the customer's clipboard text, last received
    this.clipStatus = '';
    this.clipID = 0;
    this.sentClip = null; // the text last sent to the customer
    this.pendingMove = null;
    this.moveFrame = 0;
    this.listeners = [];
  }

  /** Installs the canvas listeners. */
  attach() {
    const c = this.canvas;
    const on = (el, type, fn, o) => {
      el.addEventListener(type, fn, o);
      this.listeners.push(() => el.removeEventListener(type, fn, o));
    };
    on(c, 'keydown', (e) => this.onKey(e, true));
    on(c, 'keyup', (e) => this.onKey(e, false));
    on(c, 'blur', () => this.releaseAll());
    on(c, 'focus', () => this.syncClipboardFromRep());
    on(c, 'pointermove', (e) => this.onPointerMove(e));
    on(c, 'pointerdown', (e) => this.onPointerButton(e, true));
    on(c, 'pointerup', (e) => this.onPointerButton(e, false));
    on(c, 'contextmenu', (e) => e.preventDefault());
    on(c, 'wheel', (e) => this.onWheel(e), { passive: false });
  }

  detach() {
    this.releaseAll();
    for (const off of this.listeners) off();
    this.listeners = [];
  }

  granted() {
    return this.state === 'granted';
  }

  /** Asks for control, or gives it back when granted. */
  toggleControl() {
    if (this.state === 'granted') {
      this.releaseAll();
      this.sendControl({ type: 'release_control' });
      this.state = 'view';
      this.reason = 'You gave control back.';
    } else if (this.sendControl({ type: 'request_control' })) {
      this.state = 'asking';
      this.reason = '';
    }
    this.onChange();
  }

  /** A new PeerConnection: view-only again. */
  reset() {
    this.held.clear();
    this.buttons.clear();
    this.assembler.reset();
    this.state = 'view';
    this.onChange();
  }

  /** Handles the control messages of remote control; returns true when msg was one. */
  handleControl(msg) {
    switch (msg.type) {
      case 'control_granted':
        this.state = 'granted';
        this.reason = '';
        break;
      case 'control_refused':
      case 'control_revoked':
        this.held.clear();
        this.buttons.clear();
        this.state = 'view';
        this.reason = msg.reason || (msg.type === 'control_refused' ? 'The customer refused.' : 'Control ended.');
        break;
      case 'clipboard':
        try {
          const text = this.assembler.add(msg.clip);
          if (text !== null) this.gotRemoteClipboard(text);
        } catch (err) {
          this.clipStatus = `The customer's clipboard did not arrive whole: ${err.message}`;
        }
        break;
      case 'clipboard_ack':
        if (msg.clip && msg.clip.id === this.clipID) this.clipStatus = 'Sent: it is in the customer’s clipboard.';
        break;
      case 'error':
        if (msg.error === 'too_large' || msg.error === 'clipboard') {
          this.clipStatus = msg.message || 'The clipboard could not be shared.';
        }
        return false; // the console shows errors too
      default:
        return false;
    }
    this.onChange();
    return true;
  }

  gotRemoteClipboard(text) {
    this.remoteClip = text;
    this.sentClip = text; // do not send it back
    const n = [...text].length;
    this.clipStatus = n ? `The customer copied ${n} character${n === 1 ? '' : 's'}.` : 'The customer’s clipboard is empty.';
    if (n && this.clipboard && globalThis.document && document.hasFocus()) {
      this.clipboard.writeText(text).then(
        () => {
          this.clipStatus += ' It is in your clipboard too.';
          this.onChange();
        },
        () => {}, // no permission: the remote clipboard box has it
      );
    }
  }

  /** Sends text to the customer's clipboard; returns an error text or ''. */
  sendClipboard(text) {
    if (!this.granted()) return 'Request control first: the clipboard is shared only with control.';
    let msgs;
    try {
      msgs = clipChunks(++this.clipID, text);
    } catch (err) {
      this.clipStatus = err.message;
      this.onChange();
      return err.message;
    }
    for (const m of msgs) {
      if (!this.sendControl(m)) return 'Not connected to the customer.';
    }
    this.sentClip = text;
    this.clipStatus = 'Sending to the customer’s clipboard…';
    this.onChange();
    return '';
  }

  /** When the canvas takes focus, the rep's clipboard goes to the customer (if the browser lets us read it). */
  async syncClipboardFromRep() {
    if (!this.granted() || !this.clipboard || !this.clipboard.readText) return;
    try {
      const text = await this.clipboard.readText();
      if (text && text !== this.sentClip && text !== this.remoteClip) this.sendClipboard(text);
    } catch {
      // No permission: the remote clipboard box is the way.
    }
  }

  sendKey(down, code, key, flags) {
    const msg = encodeKey(down, code, key, flags);
    if (msg) this.sendInput(msg);
  }

  onKey(e, down) {
    // Focus on the canvas captures every key: arrows, the keypad, Tab,
    // Backspace, F-keys never act on the console page.
    e.preventDefault();
    e.stopPropagation();
    if (!this.granted()) {
      if (down && !e.repeat) {
        this.reason = 'Request control to use the customer’s keyboard.';
        this.onChange();
      }
      return;
    }
    if (META_CODES.has(e.code) && !this.windowsKeys()) return;
    if (e.isComposing || e.key === 'Process') return;
    if (down) {
      this.held.set(e.code || `key:${e.key}`, e.key);
    } else if (!this.held.has(e.code || `key:${e.key}`)) {
      return; // its key-down went elsewhere (before the focus, or a Meta key)
    } else {
      this.held.delete(e.code || `key:${e.key}`);
    }
    this.sendKey(down, e.code, e.key, flagsOf(e));
  }

  /** Lets go of every key and button (focus lost, control ended). */
  releaseAll() {
    if (this.granted()) {
      for (const [id, key] of this.held) {
        const code = id.startsWith('key:') ? '' : id;
        this.sendKey(false, code, key, 0);
      }
      for (const b of this.buttons) {
        const p = this.last || { x: 0, y: 0 };
        this.sendInput(encodeButton(b, false, p.x, p.y));
      }
    }
    this.held.clear();
    this.buttons.clear();
  }

  /** Sends a special key chord (see SPECIAL_KEYS). */
  sendSpecial(name) {
    const keys = SPECIAL_KEYS[name];
    if (!keys || !this.granted()) return false;
    for (const m of chordMessages(keys)) this.sendInput(m);
    return true;
  }

  point(e) {
    const c = this.canvas;
    if (!c.width || !c.height) return null;
    const p = screenPoint(c.getBoundingClientRect(), c.width, c.height, e.clientX, e.clientY);
    this.last = p;
    return p;
  }

  onPointerMove(e) {
    if (!this.granted()) return;
    const p = this.point(e);
    if (!p) return;
    // At most one move per animation frame; a button or the wheel sends its
    // own position, so a pending move is simply replaced.
    this.pendingMove = p;
    if (this.moveFrame) return;
    const raf = globalThis.requestAnimationFrame || ((f) => setTimeout(f, 16));
    this.moveFrame = raf(() => {
      this.moveFrame = 0;
      if (this.pendingMove && this.granted()) this.sendInput(encodeMove(this.pendingMove.x, this.pendingMove.y));
      this.pendingMove = null;
    });
  }

  onPointerButton(e, down) {
    this.canvas.focus();
    if (!this.granted()) return;
    e.preventDefault();
    const b = xButton(e.button);
    const p = this.point(e);
    if (!b || !p) return;
    if (down) {
      this.buttons.add(b);
      if (this.canvas.setPointerCapture && e.pointerId !== undefined) {
        try {
          this.canvas.setPointerCapture(e.pointerId); // a drag keeps going outside the canvas
        } catch {
          // not a real pointer (tests)
        }
      }
    } else if (!this.buttons.delete(b)) {
      return;
    }
    this.pendingMove = null;
    this.sendInput(encodeButton(b, down, p.x, p.y));
  }

  onWheel(e) {
    e.preventDefault();
    if (!this.granted()) return;
    const p = this.point(e);
    if (!p) return;
    const { dx, dy } = this.wheel.add(e.deltaX, e.deltaY, e.deltaMode);
    if (dx || dy) this.sendInput(encodeWheel(dx, dy, p.x, p.y));
  }

  /** Plain data for the UI and tests. */
  snapshot() {
    return {
      control: this.state,
      reason: this.reason,
      held: [...this.held.keys()],
      remoteClipboard: this.remoteClip,
      clipStatus: this.clipStatus,
    };
  }
}

/** What a textarea makes of text: every CRLF or lone CR becomes LF. */
export function normalizeNewlines(s) {
  return s.replace(/\r\n?/g, '\n');
}

/**
 * RemoteControls wires the console's remote-control bar (Request control,
 * Send Windows keys, Ctrl+Alt+Del, the special-keys menu and the remote
 * clipboard box) to a RemoteInput. $ finds elements by id.
 */
export class RemoteControls {
  constructor($, remote) {
    this.$ = $;
    this.remote = remote;
    this.offs = [];
    const on = (id, type, fn) => {
      const el = $(id);
      if (!el) return;
      el.addEventListener(type, fn);
      this.offs.push(() => el.removeEventListener(type, fn));
    };
    on('request-control', 'click', () => remote.toggleControl());
    on('ctrl-alt-del', 'click', () => {
      remote.sendSpecial('ctrl-alt-del');
      remote.canvas.focus();
    });
    on('special-keys', 'change', (e) => {
      if (e.target.value) remote.sendSpecial(e.target.value);
      e.target.value = '';
      remote.canvas.focus();
    });
    // A textarea turns CRLF into LF: the exact text pasted or received is
    // kept beside it and sent while the box still shows it.
    this.raw = null;
    on('remote-clipboard', 'paste', (e) => {
      const text = e.clipboardData && e.clipboardData.getData('text/plain');
      if (typeof text !== 'string') return;
      e.preventDefault();
      const box = $('remote-clipboard');
      const whole = box.selectionStart === 0 && box.selectionEnd === box.value.length;
      box.setRangeText(text, box.selectionStart, box.selectionEnd, 'end');
      this.raw = whole ? text : null;
    });
    on('clip-send', 'click', () => {
      const err = remote.sendClipboard(this.boxText());
      if (err) {
        remote.clipStatus = err;
        remote.onChange();
      }
    });
    on('clip-copy', 'click', async () => {
      const text = this.boxText();
      try {
        await remote.clipboard.writeText(text);
        remote.clipStatus = 'Copied to your clipboard.';
      } catch {
        $('remote-clipboard').select();
        remote.clipStatus = 'The browser did not allow it: the text is selected, press Ctrl+C.';
      }
      remote.onChange();
    });
    this.shownClip = null;
  }

  /** The box's text, with the line ends of the text pasted or received when the box still shows it. */
  boxText() {
    const value = this.$('remote-clipboard').value;
    return this.raw !== null && normalizeNewlines(this.raw) === value ? this.raw : value;
  }

  render() {
    const { $, remote } = this;
    const s = remote.snapshot();
    const button = $('request-control');
    button.textContent = { view: 'Request control', asking: 'Waiting for the customer…', granted: 'Release control' }[s.control];
    button.disabled = s.control === 'asking';
    button.setAttribute('aria-pressed', String(s.control === 'granted'));
    const state = { view: 'View only', asking: 'Asking the customer for control…', granted: 'You control the keyboard, mouse and clipboard' }[s.control];
    const text = s.reason && s.control !== 'granted' ? `${state}: ${s.reason}` : state;
    if ($('control-state').textContent !== text) $('control-state').textContent = text;
    $('control-bar').dataset.control = s.control;
    for (const id of ['ctrl-alt-del', 'special-keys', 'clip-send']) $(id).disabled = s.control !== 'granted';
    // A new text from the customer replaces the box, unless the rep is editing it.
    const box = $('remote-clipboard');
    if (s.remoteClipboard !== null && s.remoteClipboard !== this.shownClip && document.activeElement !== box) {
      box.value = s.remoteClipboard;
      this.shownClip = s.remoteClipboard;
      this.raw = s.remoteClipboard;
      if (s.remoteClipboard) $('clipboard-panel').open = true;
    }
    if ($('clip-status').textContent !== s.clipStatus) $('clip-status').textContent = s.clipStatus;
  }

  detach() {
    for (const off of this.offs) off();
    this.offs = [];
  }
}
