// Unit tests for input.js (input messages, pointer scaling, wheel, clipboard chunks, RemoteInput).
// Run: node --test server/web/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodeKey, encodeText, encodeMove, encodeButton, encodeWheel, flagsOf, xButton, screenPoint,
  WheelAccumulator, clipChunks, ClipAssembler, chordMessages, RemoteInput, SPECIAL_KEYS,
  MOD_SHIFT, MOD_CTRL, MOD_ALT, MOD_LOCKS_KNOWN, MOD_NUMLOCK, MOD_REPEAT, MOD_ALTGRAPH,
  MAX_INPUT_TEXT, MAX_CLIPBOARD, CLIP_CHUNK,
} from './input.js';

const hex = (b) => Buffer.from(b).toString('hex');

test('key messages match protocol.AppendInput', () => {
  // Go: AppendInput(InputEvent{Kind: InputKeyDown, Flags: ModShift, Code: "KeyA", Key: "A"})
  assert.equal(hex(encodeKey(true, 'KeyA', 'A', MOD_SHIFT)), '0100010' + '44b657941' + '0141');
  assert.equal(hex(encodeKey(false, 'Numpad1', 'End', 0)), '020000074e756d7061643103456e64');
  assert.equal(hex(encodeKey(true, '', '😀', 0)), '01000000' + '04f09f9880');
  assert.equal(encodeKey(true, '', '', 0), null);
  assert.equal(encodeKey(true, 'KeyA', 'x'.repeat(65), 0), null);
  assert.equal(hex(encodeKey(true, 'Bad Code', 'a', 0)), '0100000001' + '61');
});

test('pointer and wheel messages', () => {
  assert.equal(hex(encodeMove(1919, 1079)), '04077f0437');
  assert.equal(hex(encodeButton(3, true, 3, 4)), '050301' + '00030004');
  assert.equal(hex(encodeWheel(-2, 3, 10, 20)), '06fffe0003000a0014');
  assert.deepEqual([0, 1, 2, 3, 4, 5].map(xButton), [1, 2, 3, 8, 9, 0]);
});

test('text is split at character boundaries', () => {
  const text = 'añ😀中'.repeat(1000);
  const msgs = encodeText(text);
  assert.ok(msgs.length > 1);
  let back = '';
  for (const m of msgs) {
    assert.equal(m[0], 3);
    assert.ok(m.length - 1 <= MAX_INPUT_TEXT);
    back += new TextDecoder('utf-8', { fatal: true }).decode(m.subarray(1));
  }
  assert.equal(back, text);
});

test('flags of a keyboard event', () => {
  const e = {
    shiftKey: true, ctrlKey: true, altKey: false, metaKey: false, repeat: true,
    getModifierState: (m) => m === 'NumLock' || m === 'AltGraph',
  };
  assert.equal(flagsOf(e), MOD_SHIFT | MOD_CTRL | MOD_LOCKS_KNOWN | MOD_NUMLOCK | MOD_REPEAT | MOD_ALTGRAPH);
  assert.equal(flagsOf({ altKey: true }), MOD_ALT);
});

test('pointer positions scale from the CSS box to screen pixels', () => {
  const rect = { left: 10, top: 20, width: 960, height: 540 };
  assert.deepEqual(screenPoint(rect, 1920, 1080, 10, 20), { x: 0, y: 0 });
  assert.deepEqual(screenPoint(rect, 1920, 1080, 490, 290), { x: 960, y: 540 });
  assert.deepEqual(screenPoint(rect, 1920, 1080, 969.9, 559.9), { x: 1919, y: 1079 });
  assert.deepEqual(screenPoint(rect, 1920, 1080, 5000, -3), { x: 1919, y: 0 });
});

test('wheel deltas add up to notches', () => {
  const w = new WheelAccumulator();
  assert.deepEqual(w.add(0, 100), { dx: 0, dy: 1 });
  assert.deepEqual(w.add(0, 40), { dx: 0, dy: 0 });
  assert.deepEqual(w.add(0, 60), { dx: 0, dy: 1 });
  assert.deepEqual(w.add(-300, 0), { dx: -3, dy: 0 });
  assert.deepEqual(w.add(0, 3, 1), { dx: 0, dy: 1 });
  assert.deepEqual(w.add(0, -1, 2), { dx: 0, dy: -3 });
});

test('clipboard chunks round trip, 1 MiB limit', () => {
  const unit = 'Línea ñ 中文 😀 <&>\r\n';
  let text = unit.repeat(Math.floor(MAX_CLIPBOARD / Buffer.byteLength(unit)));
  text += 'z'.repeat(MAX_CLIPBOARD - Buffer.byteLength(text));
  const msgs = clipChunks(5, text);
  const a = new ClipAssembler();
  let got = null;
  for (const m of msgs) {
    assert.ok(Buffer.byteLength(m.clip.text) <= CLIP_CHUNK);
    assert.ok(JSON.stringify(m).length < 64 << 10);
    got = a.add(JSON.parse(JSON.stringify(m)).clip);
  }
  assert.equal(got, text);
  assert.equal(new ClipAssembler().add(clipChunks(1, '')[0].clip), '');
  assert.throws(() => clipChunks(1, text + 'x'), /1 MiB/);
  assert.throws(() => new ClipAssembler().add({ id: 1, seq: 1, total: 1, text: 'x', last: true }), /order/);
});

test('special keys are chords with modifier flags', () => {
  const m = chordMessages(SPECIAL_KEYS['ctrl-alt-del']);
  assert.equal(m.length, 6);
  assert.equal(hex(m[2]), hex(encodeKey(true, 'Delete', 'Delete', MOD_CTRL | MOD_ALT)));
  assert.equal(hex(m[5]), hex(encodeKey(false, 'ControlLeft', 'Control', 0)));
});

function fakeCanvas() {
  const listeners = {};
  return {
    width: 1600, height: 1200,
    addEventListener: (t, f) => { listeners[t] = f; },
    removeEventListener: () => {},
    getBoundingClientRect: () => ({ left: 0, top: 0, width: 800, height: 600 }),
    focus() {},
    fire(t, e) { listeners[t]({ preventDefault() { this.prevented = true; }, stopPropagation() {}, ...e }); },
    listeners,
  };
}

test('RemoteInput: view-only until granted, keys and pointer after, released on blur', () => {
  const canvas = fakeCanvas();
  const sent = [];
  const ctl = [];
  const r = new RemoteInput({
    canvas, sendInput: (b) => sent.push(hex(b)), sendControl: (m) => ctl.push(m) || true,
  });
  r.attach();
  let e = { code: 'ArrowUp', key: 'ArrowUp' };
  canvas.fire('keydown', e);
  assert.equal(sent.length, 0, 'no input before the grant');
  r.toggleControl();
  assert.deepEqual(ctl, [{ type: 'request_control' }]);
  assert.equal(r.state, 'asking');
  assert.equal(r.handleControl({ type: 'control_granted' }), true);
  canvas.fire('keydown', { code: 'ShiftLeft', key: 'Shift', shiftKey: true });
  canvas.fire('keydown', { code: 'Numpad1', key: '1', shiftKey: true });
  canvas.fire('keyup', { code: 'Numpad1', key: 'End' });
  assert.equal(sent.length, 3);
  assert.equal(sent[2], hex(encodeKey(false, 'Numpad1', 'End', 0)));
  canvas.fire('pointerdown', { button: 2, clientX: 400, clientY: 300 });
  assert.equal(sent[3], hex(encodeButton(3, true, 800, 600)));
  canvas.fire('wheel', { deltaX: 0, deltaY: 200, deltaMode: 0, clientX: 10, clientY: 10 });
  assert.equal(sent[4], hex(encodeWheel(0, 2, 20, 20)));
  canvas.fire('blur', {});
  assert.ok(sent.includes(hex(encodeKey(false, 'ShiftLeft', 'Shift', 0))), 'held Shift released on blur');
  assert.ok(sent.includes(hex(encodeButton(3, false, 20, 20))), 'held button released on blur');
  // Windows keys only when allowed.
  const n = sent.length;
  canvas.fire('keydown', { code: 'MetaLeft', key: 'Meta' });
  assert.equal(sent.length, n);
  // Revoked: view-only again.
  r.handleControl({ type: 'control_revoked', reason: 'the customer took back control' });
  assert.equal(r.snapshot().reason, 'the customer took back control');
  canvas.fire('keydown', { code: 'KeyA', key: 'a' });
  assert.equal(sent.length, n);
  assert.match(r.snapshot().reason, /Request control/);
});

test('RemoteInput: clipboard both ways', () => {
  const ctl = [];
  const r = new RemoteInput({ canvas: fakeCanvas(), sendInput: () => true, sendControl: (m) => ctl.push(m) || true });
  assert.match(r.sendClipboard('x'), /Request control/);
  r.handleControl({ type: 'control_granted' });
  for (const m of clipChunks(1, 'del cliente\r\n😀')) r.handleControl(m);
  assert.equal(r.snapshot().remoteClipboard, 'del cliente\r\n😀');
  assert.equal(r.sendClipboard('de la consola'), '');
  assert.equal(ctl.at(-1).type, 'clipboard');
  assert.equal(ctl.at(-1).clip.text, 'de la consola');
  r.handleControl({ type: 'clipboard_ack', clip: { id: ctl.at(-1).clip.id } });
  assert.match(r.snapshot().clipStatus, /in the customer/);
  assert.match(r.sendClipboard('x'.repeat(MAX_CLIPBOARD + 1)), /1 MiB/);
});

test('normalizeNewlines is what a textarea does', async () => {
  const { normalizeNewlines } = await import('./input.js');
  assert.equal(normalizeNewlines('a\r\nb\rc\n'), 'a\nb\nc\n');
});
