// Unit tests for screen.js (the screen channel decoder and renderer).
// Run: node --test server/web/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import {
  decodeScreen, ScreenRenderer, ScreenError, FpsMeter, rgbToRGBA,
  SCREEN_INFO, SCREEN_RECTS, SCREEN_FRAME_END, SCREEN_RECTS_END, ENC_SOLID, ENC_PNG, ENC_RAW, MAX_SCREEN_MESSAGE,
  SCREEN_CURSOR, SCREEN_CURSOR_SHAPE, SCREEN_QUALITY, ENC_JPEG, ENC_COPY,
  ENC_ZLIB, StreamInflater, paletteToRGBA, SCREEN_RESYNC, RESYNC_RETRY_MS,
} from './screen.js';

// Encoders mirroring protocol.AppendScreenInfo / AppendRects / AppendFrameEnd.
function info(w, h) {
  const b = new DataView(new ArrayBuffer(5));
  b.setUint8(0, SCREEN_INFO);
  b.setUint16(1, w);
  b.setUint16(3, h);
  return b.buffer;
}

function resync(serial) {
  const b = new DataView(new ArrayBuffer(5));
  b.setUint8(0, SCREEN_RESYNC);
  b.setUint32(1, serial);
  return b.buffer;
}

function frameEnd(seq) {
  const b = new DataView(new ArrayBuffer(5));
  b.setUint8(0, SCREEN_FRAME_END);
  b.setUint32(1, seq);
  return b.buffer;
}

function rects(list) {
  const size = 3 + list.reduce((n, r) => n + 13 + r.data.length, 0);
  const buf = new ArrayBuffer(size);
  const v = new DataView(buf);
  const u = new Uint8Array(buf);
  v.setUint8(0, SCREEN_RECTS);
  v.setUint16(1, list.length);
  let p = 3;
  for (const r of list) {
    v.setUint16(p, r.x);
    v.setUint16(p + 2, r.y);
    v.setUint16(p + 4, r.w);
    v.setUint16(p + 6, r.h);
    v.setUint8(p + 8, r.enc);
    v.setUint32(p + 9, r.data.length);
    u.set(r.data, p + 13);
    p += 13 + r.data.length;
  }
  return buf;
}

// rectsEnd is a SCREEN_RECTS_END message: the end of frame seq, then a
// whole SCREEN_RECTS message.
function rectsEnd(seq, refining, list) {
  const inner = new Uint8Array(rects(list));
  const u = new Uint8Array(6 + inner.length);
  const v = new DataView(u.buffer);
  v.setUint8(0, SCREEN_RECTS_END);
  v.setUint32(1, seq);
  v.setUint8(5, refining ? 1 : 0);
  u.set(inner, 6);
  return u.buffer;
}

const solid = (x, y, w, h, rgb) => ({ x, y, w, h, enc: ENC_SOLID, data: Uint8Array.from(rgb) });
const png = (x, y, w, h, tag) => ({ x, y, w, h, enc: ENC_PNG, data: Uint8Array.from([0x89, tag]) });
const raw = (x, y, w, h, fill = 7) => ({ x, y, w, h, enc: ENC_RAW, data: new Uint8Array(w * h * 3).fill(fill) });

test('decodeScreen decodes each kind', () => {
  assert.deepEqual(decodeScreen(info(1920, 1080)), { kind: SCREEN_INFO, width: 1920, height: 1080 });
  assert.deepEqual(decodeScreen(frameEnd(0xfffffffe)), { kind: SCREEN_FRAME_END, seq: 0xfffffffe, refining: false });
  const m = decodeScreen(rects([solid(1, 2, 3, 4, [10, 20, 30]), raw(0, 0, 2, 1), png(5, 6, 7, 8, 9)]));
  assert.equal(m.kind, SCREEN_RECTS);
  assert.equal(m.rects.length, 3);
  assert.deepEqual({ ...m.rects[0], data: [...m.rects[0].data] }, { x: 1, y: 2, w: 3, h: 4, enc: ENC_SOLID, data: [10, 20, 30] });
  assert.deepEqual([...m.rects[1].data], [7, 7, 7, 7, 7, 7]);
  assert.deepEqual({ ...m.rects[2], data: [...m.rects[2].data] }, { x: 5, y: 6, w: 7, h: 8, enc: ENC_PNG, data: [0x89, 9] });
  assert.deepEqual(decodeScreen(rects([])), { kind: SCREEN_RECTS, rects: [] });
});

test('decodeScreen accepts typed-array views at an offset', () => {
  const whole = new Uint8Array(8);
  whole.set(new Uint8Array(info(3, 4)), 3);
  assert.deepEqual(decodeScreen(whole.subarray(3)), { kind: SCREEN_INFO, width: 3, height: 4 });
});

test('decodeScreen rejects malformed messages with ScreenError', () => {
  const trailing = new Uint8Array(rects([solid(0, 0, 1, 1, [1, 2, 3])]).byteLength + 1);
  trailing.set(new Uint8Array(rects([solid(0, 0, 1, 1, [1, 2, 3])])));
  const claims = new Uint8Array(rects([solid(0, 0, 1, 1, [1, 2, 3])]));
  claims[3 + 12] = 200; // length claims 200 bytes
  const cases = {
    empty: new ArrayBuffer(0),
    'too large': new ArrayBuffer(MAX_SCREEN_MESSAGE + 1),
    'unknown kind': Uint8Array.from([9, 0, 0, 0, 0]).buffer,
    'short info': Uint8Array.from([SCREEN_INFO, 0, 1, 0]).buffer,
    'long info': Uint8Array.from([SCREEN_INFO, 0, 1, 0, 1, 0]).buffer,
    'zero width': info(0, 10),
    'too wide': info(16385, 10),
    'too many pixels (1 GiB of RGBA)': info(16384, 16384),
    'short frame end': Uint8Array.from([SCREEN_FRAME_END, 0, 0, 1]).buffer,
    'rects without count': Uint8Array.from([SCREEN_RECTS, 0]).buffer,
    'count beyond data': Uint8Array.from([SCREEN_RECTS, 0, 2, ...new Array(13).fill(0)]).buffer,
    'rect claims too much': claims.buffer,
    'trailing bytes': trailing.buffer,
    'empty rect': rects([solid(0, 0, 0, 1, [1, 2, 3])]),
    'solid of 4 bytes': rects([{ ...solid(0, 0, 1, 1, [1, 2, 3, 4]) }]),
    'raw of wrong size': rects([{ ...raw(0, 0, 2, 2), data: new Uint8Array(11) }]),
    'empty png': rects([{ x: 0, y: 0, w: 1, h: 1, enc: ENC_PNG, data: new Uint8Array(0) }]),
    'unknown encoding': rects([{ x: 0, y: 0, w: 1, h: 1, enc: 9, data: new Uint8Array(1) }]),
    'not binary': 'hello',
  };
  for (const [name, buf] of Object.entries(cases)) {
    assert.throws(() => decodeScreen(buf), ScreenError, name);
  }
});

test('decodeScreen never throws anything but ScreenError on random input', () => {
  let seed = 1;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed >>> 16;
  };
  for (let i = 0; i < 5000; i++) {
    const n = rand() % 64;
    const b = new Uint8Array(n);
    for (let j = 0; j < n; j++) b[j] = rand() & 0xff;
    if (n > 0) b[0] = 1 + (b[0] % 3);
    try {
      decodeScreen(b.buffer);
    } catch (err) {
      assert.ok(err instanceof ScreenError, `${err}`);
    }
  }
});

// A canvas double that records what is drawn.
function fakeCanvas() {
  const ops = [];
  const ctx = {
    fillStyle: '',
    imageSmoothingEnabled: true,
    fillRect: (x, y, w, h) => ops.push(['fill', ctx.fillStyle, x, y, w, h]),
    drawImage: (img, x, y) => {
      assert.equal(ctx.imageSmoothingEnabled, false);
      ops.push(['image', img.tag, x, y]);
    },
    putImageData: (img, x, y) => ops.push(['put', img.width, img.height, x, y, [...img.data.slice(0, 4)]]),
  };
  const canvas = {
    width: 0,
    height: 0,
    dataset: {},
    getContext: (kind, opts) => {
      assert.equal(kind, '2d');
      assert.deepEqual(opts, { alpha: false });
      return ctx;
    },
  };
  return { canvas, ctx, ops };
}

// A PNG decoder double: bytes [0x89, tag] decode to a w x h bitmap named tag
// after a delay chosen per tag, so later messages can finish decoding first.
function fakeDecoder(sizes, delays = {}) {
  const closed = [];
  const decode = (data) => new Promise((resolve, reject) => {
    const tag = data[1];
    setTimeout(() => {
      if (!sizes[tag]) reject(new Error('bad png'));
      else resolve({ tag, width: sizes[tag][0], height: sizes[tag][1], close: () => closed.push(tag) });
    }, delays[tag] || 0);
  });
  return { decode, closed };
}

test('ScreenRenderer draws in arrival order although PNGs decode out of order', async () => {
  const { canvas, ops } = fakeCanvas();
  const { decode, closed } = fakeDecoder({ 1: [4, 4], 2: [2, 2], 3: [1, 1] }, { 1: 30, 2: 10, 3: 0 });
  const errors = [];
  const frames = [];
  const r = new ScreenRenderer({ canvas, decodePNG: decode, onError: (e) => errors.push(e), onFrame: (f) => frames.push(f), now: () => 0 });
  r.push(info(10, 8));
  r.push(rects([png(0, 0, 4, 4, 1), solid(4, 0, 2, 2, [1, 2, 3]), png(6, 0, 2, 2, 2)]));
  r.push(rects([png(9, 7, 1, 1, 3)]));
  r.push(rects([raw(0, 4, 2, 2, 5)]));
  await r.push(frameEnd(42));
  assert.deepEqual(errors, []);
  assert.equal(canvas.width, 10);
  assert.equal(canvas.height, 8);
  assert.deepEqual(ops, [
    ['fill', '#000', 0, 0, 10, 8],
    ['image', 1, 0, 0],
    ['fill', 'rgb(1,2,3)', 4, 0, 2, 2],
    ['image', 2, 6, 0],
    ['image', 3, 9, 7],
    ['put', 2, 2, 0, 4, [5, 5, 5, 255]],
  ]);
  assert.deepEqual(frames, [{ frames: 1, seq: 42, refining: false }]);
  assert.equal(canvas.dataset.frames, '1');
  assert.equal(canvas.dataset.seq, '42');
  assert.deepEqual(closed.sort(), [1, 2, 3]);
});

test('SCREEN_RECTS_END: the rects are drawn, then the frame ends; malformed ones are rejected', async () => {
  const m = decodeScreen(rectsEnd(7, true, [solid(1, 2, 3, 4, [10, 20, 30])]));
  assert.equal(m.kind, SCREEN_RECTS);
  assert.equal(m.rects.length, 1);
  assert.deepEqual(m.end, { seq: 7, refining: true });
  const good = new Uint8Array(rectsEnd(9, false, [solid(0, 0, 1, 1, [1, 2, 3])]));
  const bad = [
    good.slice(0, 6), // no rects message
    Uint8Array.from([...good.slice(0, 5), 2, ...good.slice(6)]), // unknown flag
    Uint8Array.from([...good.slice(0, 6), ...new Uint8Array(frameEnd(1))]), // not rects inside
    good.slice(0, good.length - 1), // rects cut short
  ];
  for (const b of bad) assert.throws(() => decodeScreen(b), ScreenError);

  const { canvas, ops } = fakeCanvas();
  const { decode } = fakeDecoder({}, {});
  const frames = [];
  const errors = [];
  const r = new ScreenRenderer({ canvas, decodePNG: decode, onError: (e) => errors.push(e), onFrame: (f) => frames.push(f), now: () => 0 });
  r.push(info(10, 8));
  r.push(rects([solid(0, 0, 2, 2, [1, 2, 3])]));
  await r.push(rectsEnd(5, true, [solid(4, 4, 2, 2, [4, 5, 6])]));
  assert.deepEqual(errors, []);
  assert.deepEqual(ops, [
    ['fill', '#000', 0, 0, 10, 8],
    ['fill', 'rgb(1,2,3)', 0, 0, 2, 2],
    ['fill', 'rgb(4,5,6)', 4, 4, 2, 2],
  ]);
  assert.deepEqual(frames, [{ frames: 1, seq: 5, refining: true }]);
});

test('ScreenRenderer drops a bad message whole, reports it, asks for a resync and drops stale messages until the answer', async () => {
  const { canvas, ops } = fakeCanvas();
  const { decode, closed } = fakeDecoder({ 1: [4, 4], 2: [3, 3] });
  const errors = [];
  const asked = [];
  const r = new ScreenRenderer({ canvas, decodePNG: decode, onError: (e) => errors.push(e), onResync: (q) => asked.push(q), now: () => 0 });
  await r.push(rects([solid(0, 0, 1, 1, [1, 1, 1])])); // before any screen size: no picture to resync
  assert.deepEqual(asked, []);
  r.push(info(8, 8));
  const bad = {
    'rects without count': Uint8Array.from([SCREEN_RECTS, 0]).buffer, // does not decode
    'outside the 8x8 screen': rects([solid(0, 0, 1, 1, [9, 9, 9]), solid(7, 7, 2, 1, [1, 1, 1])]),
    'png of 3x3 in a 4x4 rect': rects([solid(0, 0, 1, 1, [9, 9, 9]), png(0, 0, 4, 4, 2)]),
    'does not decode': rects([solid(0, 0, 1, 1, [9, 9, 9]), png(0, 0, 4, 4, 7)]),
  };
  let serial = 0;
  for (const [text, msg] of Object.entries(bad)) {
    r.push(msg);
    r.push(rects([solid(1, 1, 1, 1, [5, 5, 5])])); // stale: dropped unseen
    await r.push(frameEnd(9)); // stale: no frame
    serial++;
    assert.equal(asked.length, serial, text);
    assert.equal(asked.at(-1).serial, serial);
    assert.match(asked.at(-1).reason, new RegExp(text));
    assert.match(errors.at(-1), new RegExp(text));
    assert.equal(r.frames, 0, text);
    await r.push(resync(serial));
  }
  r.push(rects([png(0, 0, 4, 4, 1)]));
  await r.push(frameEnd(1));
  assert.equal(errors.length, 5, errors.join('\n'));
  assert.match(errors[0], /before the screen size/);
  assert.deepEqual(ops, [['fill', '#000', 0, 0, 8, 8], ['image', 1, 0, 0]]);
  assert.equal(canvas.dataset.frames, '1');
  assert.deepEqual(closed.sort(), [1, 2]);
  assert.equal(r.errors, 5);
  assert.equal(r.resyncRequests, 4);
  assert.equal(r.resyncs, 4);
  assert.equal(r.resync.answered, 4);
});

test('ScreenRenderer.reset forgets queued messages but keeps the count', async () => {
  const { canvas, ops } = fakeCanvas();
  const { decode, closed } = fakeDecoder({ 1: [1, 1] }, { 1: 20 });
  const r = new ScreenRenderer({ canvas, decodePNG: decode, now: () => 0 });
  await r.push(info(2, 2));
  await r.push(frameEnd(1));
  const stale = r.push(rects([png(0, 0, 1, 1, 1)]));
  r.reset();
  await stale;
  await r.push(frameEnd(2));
  assert.deepEqual(ops, [['fill', '#000', 0, 0, 2, 2]]);
  assert.deepEqual(closed, [1]);
  assert.equal(canvas.dataset.frames, '2');
});

test('ScreenRenderer survives a throwing error handler', async () => {
  const { canvas } = fakeCanvas();
  const r = new ScreenRenderer({ canvas, onError: () => { throw new Error('boom'); }, now: () => 0 });
  const orig = console.error;
  console.error = () => {};
  try {
    await r.push(new ArrayBuffer(0));
    await r.push(rects([solid(0, 0, 1, 1, [1, 2, 3])]));
  } finally {
    console.error = orig;
  }
  assert.equal(r.errors, 2);
});

test('FpsMeter counts the frames of the last second', () => {
  const m = new FpsMeter();
  for (let t = 0; t < 1000; t += 100) m.tick(t);
  assert.equal(m.fps(999), 10);
  assert.equal(m.fps(1450), 5);
  assert.equal(m.fps(5000), 0);
});

test('rgbToRGBA makes opaque pixels', () => {
  assert.deepEqual([...rgbToRGBA(Uint8Array.from([1, 2, 3, 4, 5, 6]), new Uint8Array(8))], [1, 2, 3, 255, 4, 5, 6, 255]);
});

// --- JPEG, copy, cursor, quality, refining (protocol/screenext.go) ---

const jpeg = (x, y, w, h, tag) => ({ x, y, w, h, enc: ENC_JPEG, data: Uint8Array.from([0xff, tag]) });
const copyRect = (x, y, w, h, sx, sy) => ({ x, y, w, h, enc: ENC_COPY, data: Uint8Array.from([sx >> 8, sx & 255, sy >> 8, sy & 255]) });

function bytesOf(list) {
  return Uint8Array.from(list).buffer;
}

test('decodeScreen decodes copy rects, cursor, shape, quality and the refining flag', () => {
  const m = decodeScreen(rects([copyRect(1, 2, 3, 4, 300, 5), jpeg(0, 0, 8, 8, 1)]));
  assert.equal(m.rects[0].srcX, 300);
  assert.equal(m.rects[0].srcY, 5);
  assert.equal(m.rects[1].enc, ENC_JPEG);
  assert.deepEqual(decodeScreen(bytesOf([SCREEN_FRAME_END, 0, 0, 0, 7, 1])), { kind: SCREEN_FRAME_END, seq: 7, refining: true });
  assert.deepEqual(decodeScreen(bytesOf([SCREEN_CURSOR, 1, 1, 0, 0, 9])), { kind: SCREEN_CURSOR, visible: true, x: 256, y: 9 });
  const shape = decodeScreen(bytesOf([SCREEN_CURSOR_SHAPE, 0, 2, 0, 3, 0x89, 5]));
  assert.equal(shape.hotX, 2);
  assert.equal(shape.hotY, 3);
  assert.deepEqual([...shape.png], [0x89, 5]);
  assert.deepEqual(decodeScreen(bytesOf([SCREEN_QUALITY, 75, 20, 0, 1, 0, 0, 0, 12])), { kind: SCREEN_QUALITY, quality: 75, fps: 20, bytesPerSec: 65536, rttMs: 12 });
  for (const bad of [
    [SCREEN_FRAME_END, 0, 0, 0, 7, 2],
    [SCREEN_CURSOR, 2, 0, 0, 0, 0],
    [SCREEN_CURSOR, 1, 0, 0],
    [SCREEN_CURSOR_SHAPE, 0, 0, 0, 0],
    [SCREEN_QUALITY, 0, 20, 0, 0, 0, 0, 0, 0],
  ]) {
    assert.throws(() => decodeScreen(bytesOf(bad)), ScreenError, `${bad}`);
  }
  assert.throws(() => decodeScreen(rects([{ x: 0, y: 0, w: 1, h: 1, enc: ENC_COPY, data: Uint8Array.from([1, 2, 3]) }])), ScreenError);
  assert.throws(() => decodeScreen(rects([{ x: 0, y: 0, w: 1, h: 1, enc: ENC_JPEG, data: new Uint8Array(0) }])), ScreenError);
});

test('ScreenRenderer copies within the canvas in order, decodes JPEG, and keeps the cursor off the canvas', async () => {
  const { canvas, ctx, ops } = fakeCanvas();
  ctx.drawImage = (img, ...a) => ops.push(['image', img === canvas ? 'self' : img.tag, ...a]);
  const types = [];
  const { decode } = fakeDecoder({ 1: [4, 4], 2: [2, 3] }, { 1: 20 });
  const cursors = [];
  const qualities = [];
  const frames = [];
  const r = new ScreenRenderer({
    canvas,
    decodePNG: (data, type) => { types.push(type); return decode(data); },
    onCursor: (c) => cursors.push({ ...c, image: c.image && c.image.tag }),
    onQuality: (q) => qualities.push(q),
    onFrame: (f) => frames.push(f),
    now: () => 0,
  });
  r.push(info(10, 10));
  r.push(rects([jpeg(0, 0, 4, 4, 1), copyRect(0, 5, 4, 4, 0, 0)]));
  r.push(bytesOf([SCREEN_CURSOR_SHAPE, 0, 1, 0, 2, 0x89, 2]));
  r.push(bytesOf([SCREEN_CURSOR, 1, 0, 3, 0, 4]));
  r.push(bytesOf([SCREEN_QUALITY, 60, 15, 0, 0, 1, 0, 0, 40]));
  await r.push(bytesOf([SCREEN_FRAME_END, 0, 0, 0, 1, 1]));
  await r.push(rects([copyRect(0, 0, 4, 4, 8, 8)])); // source outside: dropped
  assert.deepEqual(types, ['image/jpeg', 'image/png']);
  assert.deepEqual(ops, [
    ['fill', '#000', 0, 0, 10, 10],
    ['image', 1, 0, 0],
    ['image', 'self', 0, 0, 4, 4, 0, 5, 4, 4],
  ]);
  assert.equal(r.errors, 1);
  assert.deepEqual(cursors, [
    { visible: false, x: 0, y: 0, hotX: 1, hotY: 2, image: 2 },
    { visible: true, x: 3, y: 4, hotX: 1, hotY: 2, image: 2 },
  ]);
  assert.deepEqual(qualities, [{ quality: 60, fps: 15, bytesPerSec: 256, rttMs: 40 }]);
  assert.deepEqual(frames, [{ frames: 1, seq: 1, refining: true }]);
  assert.equal(canvas.dataset.refining, 'true');
});

// --- the deflate stream (protocol/zstream.go) ---


// deflateSegments compresses payloads onto one raw deflate stream, each
// ending with a sync flush, as protocol.ZEncoder does.
async function deflateSegments(payloads) {
  const d = zlib.createDeflateRaw();
  const out = [];
  for (const p of payloads) {
    const chunks = [];
    const onData = (c) => chunks.push(c);
    d.on('data', onData);
    d.write(p);
    await new Promise((resolve) => d.flush(zlib.constants.Z_SYNC_FLUSH, resolve));
    d.off('data', onData);
    out.push(new Uint8Array(Buffer.concat(chunks)));
  }
  return out;
}

function zrect(x, y, w, h, segment, rawLen) {
  const data = new Uint8Array(4 + segment.length);
  new DataView(data.buffer).setUint32(0, rawLen);
  data.set(segment, 4);
  return { x, y, w, h, enc: ENC_ZLIB, data };
}

test('paletteToRGBA unpacks 1-bit and 8-bit indexes and rejects bad ones', () => {
  // 2 colours, 3x2: rows 101 / 010 -> bytes 0b10100000, 0b01000000
  const p = Uint8Array.from([1, 0, 0, 0, 255, 255, 255, 0b10100000, 0b01000000]);
  const out = paletteToRGBA(p, 3, 2, new Uint8ClampedArray(24));
  assert.deepEqual([...out.slice(0, 12)], [255, 255, 255, 255, 0, 0, 0, 255, 255, 255, 255, 255]);
  assert.throws(() => paletteToRGBA(p.subarray(0, 8), 3, 2, new Uint8ClampedArray(24)), ScreenError);
  const bad = Uint8Array.from([2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 0b11000000]); // 3 colours, index 3
  assert.throws(() => paletteToRGBA(bad, 1, 1, new Uint8ClampedArray(4)), /palette index 3/);
});

test('StreamInflater keeps the stream across segments; ScreenRenderer draws zlib rects', async () => {
  const tile = Uint8Array.from([1, 10, 20, 30, 200, 210, 220, 0b10000000, 0b01000000]); // 2x2
  const segs = await deflateSegments([tile, tile, tile]);
  assert.ok(segs[1].length < tile.length + 5, 'a repeated payload is a back-reference');
  const inf = new StreamInflater();
  for (const s of segs) assert.deepEqual([...(await inf.inflate(s, tile.length))], [...tile]);
  // A broken stream fails later segments too.
  await assert.rejects(inf.inflate(Uint8Array.from([0xff, 0xff, 0xff]), 9));
  await assert.rejects(inf.inflate(segs[0], 9), /broke earlier/);

  const { canvas, ops } = fakeCanvas();
  {
    const r = new ScreenRenderer({ canvas, now: () => 0 });
    r.push(info(4, 4));
    r.push(rects([zrect(0, 0, 2, 2, segs[0], tile.length)]));
    r.push(info(4, 4)); // restarts the stream
    r.push(rects([zrect(2, 2, 2, 2, segs[0], tile.length), zrect(0, 2, 2, 2, segs[1], tile.length)]));
    await r.push(frameEnd(1));
    assert.equal(r.errors, 0);
    assert.deepEqual(ops.filter((o) => o[0] === 'put'), [
      ['put', 2, 2, 0, 0, [200, 210, 220, 255]],
      ['put', 2, 2, 2, 2, [200, 210, 220, 255]],
      ['put', 2, 2, 0, 2, [200, 210, 220, 255]],
    ]);
  }
});

// --- the tile cache (protocol/cache.go) ---

test('ScreenRenderer stores cacheable rects tile by tile and draws cached ones', async () => {
  const { canvas, ctx, ops } = fakeCanvas();
  ctx.drawImage = (img, ...a) => ops.push(['image', img === canvas ? 'self' : img.tag || 'cache', ...a]);
  const stores = [];
  const makeCanvas = (w, h) => ({
    tag: 'cache', width: w, height: h,
    getContext: () => ({ imageSmoothingEnabled: true, drawImage: (src, ...a) => stores.push([src === canvas ? 'screen' : '?', ...a]) }),
  });
  const r = new ScreenRenderer({ canvas, makeCanvas, now: () => 0 });
  const cached = (x, y, w, h, slot) => ({ x, y, w, h, enc: 7, data: Uint8Array.from([slot >> 8, slot & 255]) });
  r.push(info(200, 100));
  // Cacheable: a 128x64 raw run at the origin (slots 0, 1) and the 8x36
  // bottom-right edge tile (slot 2). Not: a rect off the grid.
  r.push(rects([raw(0, 0, 128, 64), raw(3, 3, 8, 8), raw(192, 64, 8, 36)]));
  r.push(rects([cached(128, 0, 64, 64, 1), cached(0, 64, 8, 36, 2)]));
  await r.push(frameEnd(1));
  await r.push(rects([cached(64, 64, 64, 36, 0)])); // wrong size for slot 0: dropped
  assert.deepEqual(stores, [
    ['screen', 0, 0, 64, 64, 0, 0, 64, 64],
    ['screen', 64, 0, 64, 64, 64, 0, 64, 64],
    ['screen', 192, 64, 8, 36, 128, 0, 8, 36],
  ]);
  assert.equal(r.errors, 1);
  assert.deepEqual(ops.filter((o) => o[1] === 'cache'), [
    ['image', 'cache', 64, 0, 64, 64, 128, 0, 64, 64],
    ['image', 'cache', 128, 0, 8, 36, 0, 64, 8, 36],
  ]);
  // A new screen size empties the cache.
  r.push(info(200, 100));
  await r.push(rects([cached(128, 0, 64, 64, 1)]));
  assert.equal(r.errors, 2);
});

// --- resync (protocol/resync.go) ---

test('decodeScreen decodes and checks SCREEN_RESYNC', () => {
  assert.deepEqual(decodeScreen(resync(7)), { kind: SCREEN_RESYNC, serial: 7 });
  assert.deepEqual(decodeScreen(resync(0xffffffff)), { kind: SCREEN_RESYNC, serial: 0xffffffff });
  assert.throws(() => decodeScreen(resync(0)), /serial 0/);
  assert.throws(() => decodeScreen(Uint8Array.from([SCREEN_RESYNC, 0, 0, 1]).buffer), ScreenError);
  assert.throws(() => decodeScreen(Uint8Array.from([SCREEN_RESYNC, 0, 0, 0, 1, 0]).buffer), ScreenError);
});

test('ScreenRenderer restarts the deflate stream and the cache at the agent\'s answer, not before', async () => {
  const tile = Uint8Array.from([1, 10, 20, 30, 200, 210, 220, 0b10000000, 0b01000000]); // 2x2
  const old = await deflateSegments([tile, tile, tile]); // the agent's stream before the resync
  const fresh = await deflateSegments([tile]); // after it
  const { canvas, ctx, ops } = fakeCanvas();
  ctx.drawImage = (img, ...a) => ops.push(['image', img === canvas ? 'self' : 'cache', ...a]);
  const makeCanvas = (w, h) => ({ width: w, height: h, getContext: () => ({ drawImage: () => {} }) });
  const asked = [];
  const r = new ScreenRenderer({ canvas, makeCanvas, onResync: (q) => asked.push(q), now: () => 0 });
  const cached = (x, y, w, h, slot) => ({ x, y, w, h, enc: 7, data: Uint8Array.from([slot >> 8, slot & 255]) });
  r.push(info(64, 64));
  r.push(rects([raw(0, 0, 64, 64)])); // cached in slot 0
  r.push(rects([zrect(0, 0, 2, 2, old[0], tile.length)]));
  r.push(rects([zrect(0, 0, 2, 2, Uint8Array.from([0xff, 0xff, 0xff]), tile.length)])); // corrupt: the stream breaks
  r.push(rects([zrect(2, 0, 2, 2, old[2], tile.length)])); // in flight from before the resync: dropped
  r.push(frameEnd(1)); // dropped: the picture is not the agent's frame
  await r.push(rects([cached(0, 0, 64, 64, 0)])); // still stale: dropped, though slot 0 holds it
  assert.deepEqual(asked.map((q) => q.serial), [1]);
  assert.match(asked[0].reason, /zlib segment does not inflate/);
  assert.equal(r.frames, 0);
  assert.equal(r.errors, 1);
  const drawn = ops.length;
  r.push(resync(1));
  r.push(rects([zrect(4, 4, 2, 2, fresh[0], tile.length)])); // the fresh stream's first segment
  r.push(frameEnd(2));
  await r.push(rects([cached(0, 0, 64, 64, 0)])); // the cache is empty now
  assert.deepEqual(ops.slice(drawn), [['put', 2, 2, 4, 4, [200, 210, 220, 255]]]);
  assert.equal(r.frames, 1);
  assert.equal(r.resyncs, 1);
  assert.deepEqual(asked.map((q) => q.serial), [1, 2], 'the empty slot is a new failure');
  assert.match(asked[1].reason, /cache slot 0/);
});

test('ScreenRenderer asks once per failure, again only when the answer is overdue', async () => {
  let now = 0;
  const { canvas } = fakeCanvas();
  const asked = [];
  const r = new ScreenRenderer({ canvas, onResync: (q) => asked.push(q), now: () => now });
  r.push(info(8, 8));
  r.push(rects([solid(7, 7, 2, 2, [1, 2, 3])])); // outside
  r.push(rects([solid(7, 7, 2, 2, [1, 2, 3])])); // would fail too, but is stale: dropped
  await r.push(frameEnd(1));
  assert.deepEqual(asked.map((q) => q.serial), [1]);
  now = RESYNC_RETRY_MS - 1;
  await r.push(frameEnd(2));
  assert.equal(asked.length, 1);
  now = RESYNC_RETRY_MS;
  await r.push(frameEnd(3));
  assert.deepEqual(asked.map((q) => q.serial), [1, 2]);
  assert.equal(asked[1].reason, 'no answer to the previous request');
  // A new screen size restarts everything too: no more waiting.
  r.push(info(8, 8));
  r.push(rects([solid(0, 0, 1, 1, [1, 2, 3])]));
  await r.push(frameEnd(4));
  assert.equal(r.frames, 1);
  assert.equal(asked.length, 2);
  assert.equal(r.resyncRequests, 2);
});

test('ScreenRenderer: a reset (new connection) stops waiting; a throwing resync handler is survived', async () => {
  const { canvas } = fakeCanvas();
  const r = new ScreenRenderer({ canvas, onResync: () => { throw new Error('boom'); }, now: () => 0 });
  const orig = console.error;
  console.error = () => {};
  try {
    r.push(info(4, 4));
    await r.push(Uint8Array.from([SCREEN_RECTS, 0]).buffer);
  } finally {
    console.error = orig;
  }
  assert.equal(r.resync.waiting, true);
  r.reset();
  assert.equal(r.resync.waiting, false);
  r.push(info(4, 4));
  await r.push(frameEnd(1));
  assert.equal(r.frames, 1);
});
