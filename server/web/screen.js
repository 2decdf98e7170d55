// The "screen" data channel: a pure decoder for its binary messages
// (protocol/screen.go is the contract) and a renderer that applies them to a
// canvas strictly in order. No DOM access at import time, so node --test can
// import this file.

/** Message kinds: the first byte of every screen message. */
export const SCREEN_INFO = 1;
export const SCREEN_RECTS = 2;
export const SCREEN_FRAME_END = 3;
export const SCREEN_CURSOR = 4;
export const SCREEN_CURSOR_SHAPE = 5;
export const SCREEN_QUALITY = 6;
export const SCREEN_RESYNC = 7;
export const SCREEN_RECTS_END = 8;

/**
 * How long the renderer waits for the agent's answer to a resync request
 * before it asks again (protocol/resync.go).
 */
export const RESYNC_RETRY_MS = 3000;

/** ScreenFrameEnd flag: lossy areas will be refined. */
export const FRAME_REFINING = 1;

/** Rectangle encodings. */
export const ENC_SOLID = 1;
export const ENC_PNG = 2;
export const ENC_RAW = 3;
export const ENC_JPEG = 4;
export const ENC_COPY = 5;
export const ENC_ZLIB = 6;
export const ENC_CACHED = 7;

/** The tile cache (protocol/cache.go). */
export const CACHE_SLOTS = 2048;
export const CACHE_TILE = 64;
const CACHE_COLS = 64; // slots per row of the cache canvas
const CACHEABLE = new Set([ENC_PNG, ENC_RAW, ENC_JPEG, ENC_ZLIB]);

/** Whether the receiver stores r's tiles (the cache rule) on a picture of width x height. */
export function cacheable(r, width, height) {
  return CACHEABLE.has(r.enc) && r.x % CACHE_TILE === 0 && r.y % CACHE_TILE === 0 &&
    (r.w % CACHE_TILE === 0 || r.x + r.w === width) && (r.h % CACHE_TILE === 0 || r.y + r.h === height);
}

/** Limits, as in protocol/doc.go and protocol/screen.go. */
export const MAX_SCREEN_MESSAGE = 64 << 10;
export const MAX_DIMENSION = 16384;
/** The most pixels a screen may have (protocol.MaxPixels): 256 MiB of RGBA at most. */
export const MAX_PIXELS = 2 ** 26;
export const MAX_CURSOR_SIZE = 256;

const RECT_HEADER = 2 * 4 + 1 + 4;

/** A screen message that does not decode, or cannot be applied. */
export class ScreenError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ScreenError';
  }
}

function fail(message) {
  throw new ScreenError(message);
}

/**
 * Decodes one screen message. It returns one of
 *   {kind: SCREEN_INFO, width, height}
 *   {kind: SCREEN_RECTS, rects: [{x, y, w, h, enc, data: Uint8Array}]}
 *   {kind: SCREEN_RECTS, rects, end: {seq, refining}}  (a SCREEN_RECTS_END message: the rects, then the frame end)
 *   {kind: SCREEN_FRAME_END, seq, refining}
 *   {kind: SCREEN_CURSOR, visible, x, y}
 *   {kind: SCREEN_CURSOR_SHAPE, hotX, hotY, png: Uint8Array}
 *   {kind: SCREEN_QUALITY, quality, fps, bytesPerSec, rttMs}
 *   {kind: SCREEN_RESYNC, serial}
 * (copy rects carry srcX, srcY) and throws ScreenError on a malformed message, with the same checks as
 * protocol.DecodeScreen. Rect data are views into buf (no copy).
 */
export function decodeScreen(buf) {
  const bytes = toBytes(buf);
  if (bytes.length === 0) fail('empty screen message');
  if (bytes.length > MAX_SCREEN_MESSAGE) fail(`screen message of ${bytes.length} bytes is too large`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const kind = bytes[0];
  switch (kind) {
    case SCREEN_INFO:
      return decodeInfo(view);
    case SCREEN_FRAME_END:
      if (bytes.length !== 5 && (bytes.length !== 6 || (bytes[5] & ~FRAME_REFINING) !== 0)) fail(`frame end of ${bytes.length} bytes`);
      return { kind, seq: view.getUint32(1), refining: bytes.length === 6 && (bytes[5] & FRAME_REFINING) !== 0 };
    case SCREEN_CURSOR:
      if (bytes.length !== 6 || (bytes[1] & ~1) !== 0) fail(`cursor message of ${bytes.length} bytes`);
      return { kind, visible: (bytes[1] & 1) === 1, x: view.getUint16(2), y: view.getUint16(4) };
    case SCREEN_CURSOR_SHAPE:
      if (bytes.length < 6) fail(`cursor shape of ${bytes.length} bytes`);
      return { kind, hotX: view.getUint16(1), hotY: view.getUint16(3), png: bytes.subarray(5) };
    case SCREEN_QUALITY: {
      if (bytes.length !== 9) fail(`quality message of ${bytes.length} bytes`);
      const quality = bytes[1];
      if (quality < 1 || quality > 100) fail(`quality ${quality}`);
      return { kind, quality, fps: bytes[2], bytesPerSec: view.getUint32(3), rttMs: view.getUint16(7) };
    }
    case SCREEN_RECTS:
      return { kind, rects: decodeRects(bytes, view) };
    case SCREEN_RECTS_END: {
      if (bytes.length < 7 || (bytes[5] & ~FRAME_REFINING) !== 0 || bytes[6] !== SCREEN_RECTS) {
        fail(`rects with a frame end of ${bytes.length} bytes`);
      }
      const inner = bytes.subarray(6);
      const rects = decodeRects(inner, new DataView(inner.buffer, inner.byteOffset, inner.byteLength));
      return { kind: SCREEN_RECTS, rects, end: { seq: view.getUint32(1), refining: (bytes[5] & FRAME_REFINING) !== 0 } };
    }
    case SCREEN_RESYNC: {
      if (bytes.length !== 5) fail(`screen resync of ${bytes.length} bytes`);
      const serial = view.getUint32(1);
      if (serial === 0) fail('screen resync with serial 0');
      return { kind, serial };
    }
    default:
      return fail(`unknown screen message kind ${kind}`);
  }
}

function toBytes(buf) {
  if (buf instanceof Uint8Array) return buf;
  if (buf instanceof ArrayBuffer) return new Uint8Array(buf);
  if (ArrayBuffer.isView(buf)) return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  return fail(`screen message is a ${typeof buf}, not binary`);
}

function decodeInfo(view) {
  if (view.byteLength !== 5) fail(`screen info of ${view.byteLength} bytes`);
  const width = view.getUint16(1);
  const height = view.getUint16(3);
  if (width === 0 || height === 0 || width > MAX_DIMENSION || height > MAX_DIMENSION || width * height > MAX_PIXELS) {
    fail(`screen size ${width}x${height} out of range`);
  }
  return { kind: SCREEN_INFO, width, height };
}

function decodeRects(bytes, view) {
  if (bytes.length < 3) fail('rects without count');
  const n = view.getUint16(1);
  let p = 3;
  if (n * RECT_HEADER > bytes.length - p) fail(`${n} rects in ${bytes.length - p} bytes`);
  const rects = [];
  for (let i = 0; i < n; i++) {
    if (bytes.length - p < RECT_HEADER) fail(`rect ${i} truncated`);
    const r = {
      x: view.getUint16(p),
      y: view.getUint16(p + 2),
      w: view.getUint16(p + 4),
      h: view.getUint16(p + 6),
      enc: bytes[p + 8],
      data: null,
    };
    const size = view.getUint32(p + 9);
    p += RECT_HEADER;
    if (size > bytes.length - p) fail(`rect ${i} claims ${size} bytes, ${bytes.length - p} left`);
    r.data = bytes.subarray(p, p + size);
    p += size;
    checkRect(r, i);
    rects.push(r);
  }
  if (p !== bytes.length) fail(`${bytes.length - p} trailing bytes after rects`);
  return rects;
}

function checkRect(r, i) {
  if (r.w === 0 || r.h === 0) fail(`rect ${i}: empty rect`);
  switch (r.enc) {
    case ENC_SOLID:
      if (r.data.length !== 3) fail(`rect ${i}: solid rect with ${r.data.length} bytes`);
      break;
    case ENC_RAW:
      if (r.data.length !== r.w * r.h * 3) fail(`rect ${i}: raw ${r.w}x${r.h} rect with ${r.data.length} bytes`);
      break;
    case ENC_PNG:
      if (r.data.length === 0) fail(`rect ${i}: empty png rect`);
      break;
    case ENC_JPEG:
      if (r.data.length === 0) fail(`rect ${i}: empty jpeg rect`);
      break;
    case ENC_ZLIB:
      if (r.data.length < 5) fail(`rect ${i}: zlib rect with ${r.data.length} bytes`);
      r.rawLen = ((r.data[0] << 24) >>> 0) + (r.data[1] << 16) + (r.data[2] << 8) + r.data[3];
      if (r.rawLen < 4 || r.rawLen > 1 + 3 * 256 + r.w * r.h) fail(`rect ${i}: zlib rect of ${r.w}x${r.h} claims ${r.rawLen} bytes`);
      break;
    case ENC_CACHED:
      if (r.data.length !== 2 || r.w > CACHE_TILE || r.h > CACHE_TILE) fail(`rect ${i}: cached ${r.w}x${r.h} rect with ${r.data.length} bytes`);
      r.slot = (r.data[0] << 8) | r.data[1];
      if (r.slot >= CACHE_SLOTS) fail(`rect ${i}: cache slot ${r.slot}`);
      break;
    case ENC_COPY:
      if (r.data.length !== 4) fail(`rect ${i}: copy rect with ${r.data.length} bytes`);
      r.srcX = (r.data[0] << 8) | r.data[1];
      r.srcY = (r.data[2] << 8) | r.data[3];
      break;
    default:
      fail(`rect ${i}: unknown encoding ${r.enc}`);
  }
}

/** Decodes PNG (or, with type image/jpeg, JPEG) bytes to an ImageBitmap holding exactly the file's pixels. */
export function decodePNG(data, type = 'image/png') {
  const blob = new Blob([data], { type });
  return createImageBitmap(blob, { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
}

const IMAGE_TYPES = { [ENC_PNG]: 'image/png', [ENC_JPEG]: 'image/jpeg' };

/**
 * StreamInflater is the receiving end of the screen channel's one raw
 * deflate stream (protocol/zstream.go): segments go in strictly in order,
 * each ends with a sync flush, so each one's output is complete when its
 * bytes are in. A broken stream fails every later segment (until the
 * renderer makes a new one at the next ScreenInfo).
 */
export class StreamInflater {
  constructor() {
    const ds = new DecompressionStream('deflate-raw');
    this.writer = ds.writable.getWriter();
    this.reader = ds.readable.getReader();
    this.writer.closed.catch(() => {}); // a broken stream is reported by inflate
    this.have = [];
    this.haveLen = 0;
    this.queue = Promise.resolve();
  }

  /** Inflates the next segment, which must give exactly n bytes. */
  inflate(segment, n) {
    const job = this.queue.then(async () => {
      if (this.broken) throw new ScreenError(`the deflate stream broke earlier (${this.broken.message})`);
      try {
        this.writer.write(segment).catch(() => {});
        while (this.haveLen < n) {
          const { value, done } = await this.reader.read();
          if (done) throw new ScreenError('the deflate stream ended');
          this.have.push(value);
          this.haveLen += value.length;
        }
        const all = this.have.length === 1 ? this.have[0] : concat(this.have, this.haveLen);
        if (all.length !== n) throw new ScreenError(`a deflate segment gave ${all.length} bytes, not ${n}`);
        this.have = [];
        this.haveLen = 0;
        return all;
      } catch (err) {
        this.broken = err;
        throw err;
      }
    });
    this.queue = job.catch(() => {});
    return job;
  }
}

function concat(parts, n) {
  const out = new Uint8Array(n);
  let p = 0;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}

/** Draws a palette payload (see protocol.AppendPalettePayload) into RGBA out, checking it. */
export function paletteToRGBA(payload, w, h, out) {
  const n = payload[0] + 1;
  const bits = n <= 2 ? 1 : n <= 4 ? 2 : n <= 16 ? 4 : 8;
  const rowBytes = Math.ceil((w * bits) / 8);
  if (payload.length !== 1 + 3 * n + rowBytes * h) {
    throw new ScreenError(`palette payload of ${payload.length} bytes for ${n} colours in ${w}x${h}`);
  }
  const pal = payload.subarray(1, 1 + 3 * n);
  const idx = payload.subarray(1 + 3 * n);
  const mask = (1 << bits) - 1;
  for (let y = 0; y < h; y++) {
    const row = y * rowBytes;
    let d = y * w * 4;
    for (let x = 0; x < w; x++, d += 4) {
      const bit = x * bits;
      const i = (idx[row + (bit >> 3)] >> (8 - bits - (bit & 7))) & mask;
      if (i >= n) throw new ScreenError(`palette index ${i} of ${n}`);
      out[d] = pal[3 * i];
      out[d + 1] = pal[3 * i + 1];
      out[d + 2] = pal[3 * i + 2];
      out[d + 3] = 255;
    }
  }
  return out;
}

/** Counts completed frames over the last second. */
export class FpsMeter {
  constructor(windowMs = 1000) {
    this.windowMs = windowMs;
    this.times = [];
  }

  tick(now) {
    this.times.push(now);
    this.trim(now);
  }

  fps(now) {
    this.trim(now);
    return this.times.length * (1000 / this.windowMs);
  }

  trim(now) {
    let i = 0;
    while (i < this.times.length && now - this.times[i] >= this.windowMs) i++;
    if (i > 0) this.times.splice(0, i);
  }
}

/**
 * ScreenRenderer applies screen messages to a canvas strictly in the order
 * they arrived. A message's PNG rectangles decode in parallel (and in
 * parallel with earlier messages), but nothing is drawn before every earlier
 * message has been drawn. A message that does not decode, or does not fit the
 * screen, is reported through onError and dropped whole; push never throws.
 *
 * Options: canvas (required), decodePNG ((bytes, type) -> Promise<ImageBitmap-like>),
 * onError(message), onFrame({frames, seq, refining}), onResize(width, height),
 * onCursor(cursor) with cursor {visible, x, y, hotX, hotY, image} (image an
 * ImageBitmap-like, or null before the first shape), onQuality({quality, fps,
 * bytesPerSec, rttMs}), now() (a millisecond clock).
 *
 * Copy rects copy within the canvas, in order with everything else. The
 * pointer is never drawn on the canvas (copies would smear it): onCursor
 * gets it for an overlay.
 *
 * Resync (protocol/resync.go): once a rects message fails, the picture, the
 * deflate stream and the tile cache may differ from what the agent believes.
 * The renderer then calls onResync({serial, reason}) (the console sends the
 * screen_resync control message), keeps the picture, and drops rects and
 * frame ends until the agent's SCREEN_RESYNC (or a SCREEN_INFO) arrives,
 * from which on the stream and the cache start afresh. No answer within
 * RESYNC_RETRY_MS: it asks again with the next serial.
 */
export class ScreenRenderer {
  constructor({ canvas, decodePNG: decode = decodePNG, onError = () => {}, onFrame = () => {}, onResize = () => {}, onCursor = () => {}, onQuality = () => {}, onResync = () => {}, makeCanvas = defaultCanvas, now = () => performance.now() }) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d', { alpha: false });
    this.decode = decode;
    this.onError = onError;
    this.onFrame = onFrame;
    this.onResize = onResize;
    this.onCursor = onCursor;
    this.onQuality = onQuality;
    this.onResync = onResync;
    this.now = now;
    // serial: the latest request; waiting: dropping stale picture messages
    // since a failure; answered: the serial of the last SCREEN_RESYNC.
    this.resync = { serial: 0, waiting: false, askedAt: 0, answered: 0 };
    this.resyncRequests = 0;
    this.resyncs = 0;
    this.cursor = { visible: false, x: 0, y: 0, hotX: 0, hotY: 0, image: null };
    this.inflater = null; // made at each ScreenInfo: the stream restarts there
    this.makeCanvas = makeCanvas;
    this.cache = null; // {ctx, sizes, next}: emptied at each ScreenInfo
    this.quality = null;
    this.refining = false;
    this.queue = Promise.resolve();
    this.generation = 0;
    this.width = 0;
    this.height = 0;
    this.frames = 0;
    this.seq = null;
    this.errors = 0;
    this.meter = new FpsMeter();
  }

  /** Queues one message (an ArrayBuffer) from the screen channel. */
  push(buf) {
    let msg;
    try {
      msg = decodeScreen(buf);
    } catch (err) {
      this.report(err);
      const bytes = buf instanceof ArrayBuffer || ArrayBuffer.isView(buf) ? toBytes(buf) : null;
      if (bytes && (bytes[0] === SCREEN_RECTS || bytes[0] === SCREEN_RECTS_END)) {
        // Its rects are lost: the agent believes we have them. In order
        // with the messages before it.
        const generation = this.generation;
        this.queue = this.queue.then(() => generation === this.generation && this.broken(err));
      }
      return this.queue;
    }
    const generation = this.generation;
    // The agent's stream restarts at these messages: later segments go to
    // a fresh inflater (earlier ones already went to the old one).
    if ((msg.kind === SCREEN_INFO || msg.kind === SCREEN_RESYNC) && typeof DecompressionStream === 'function') this.inflater = new StreamInflater();
    const ready = this.prepare(msg);
    this.queue = this.queue
      .then(() => ready)
      .then((prepared) => {
        if (generation !== this.generation || this.dropping(msg)) {
          closeAll(prepared.bitmaps);
          return;
        }
        this.apply(msg, prepared);
      })
      .catch((err) => {
        this.report(err);
        if (msg.kind === SCREEN_RECTS && generation === this.generation) this.broken(err);
      });
    return this.queue;
  }

  // broken notes that a rects message failed: from here the picture is not
  // what the agent believes. Asks for a resync (unless one is on its way).
  broken(err) {
    if (this.width === 0) return; // no picture yet: a SCREEN_INFO comes first anyway
    if (this.resync.waiting && this.now() - this.resync.askedAt < RESYNC_RETRY_MS) return;
    this.resync.waiting = true;
    this.askResync(err instanceof Error ? err.message : String(err));
  }

  // dropping reports whether msg belongs to the state before a resync (rects
  // and frame ends while waiting for the agent's answer), asking again when
  // the answer is overdue.
  dropping(msg) {
    if (!this.resync.waiting || (msg.kind !== SCREEN_RECTS && msg.kind !== SCREEN_FRAME_END)) return false;
    if (this.now() - this.resync.askedAt >= RESYNC_RETRY_MS) this.askResync('no answer to the previous request');
    return true;
  }

  askResync(reason) {
    this.resync.serial = (this.resync.serial % 0xffffffff) + 1;
    this.resync.askedAt = this.now();
    this.resyncRequests++;
    try {
      this.onResync({ serial: this.resync.serial, reason: reason.slice(0, 256) });
    } catch (e) {
      console.error('assist: resync handler failed', e);
    }
  }

  // resynced applies the agent's SCREEN_RESYNC: the fresh stream (its
  // inflater was made at push) and an empty cache start here; the picture
  // stays until the whole new one has arrived.
  resynced(serial) {
    this.resync.waiting = false;
    this.resync.answered = serial;
    this.resyncs++;
    if (this.cache) {
      this.cache.sizes = [];
      this.cache.next = 0;
    }
  }

  /**
   * Forgets the messages still queued (a new connection replaces the old
   * one). The picture and the frame count stay.
   */
  reset() {
    this.generation++;
    this.resync.waiting = false; // the new connection starts with a SCREEN_INFO
  }

  /** The frames completed in the last second. */
  fps() {
    return this.meter.fps(this.now());
  }

  report(err) {
    this.errors++;
    const text = err instanceof ScreenError ? err.message : `${err && err.message ? err.message : err}`;
    try {
      this.onError(`Screen update dropped: ${text}`);
    } catch (e) {
      console.error('assist: screen error handler failed', e);
    }
  }

  // prepare starts decoding the PNG rectangles of msg. Its promise never
  // rejects: it resolves to {bitmaps} or {error}.
  prepare(msg) {
    if (msg.kind === SCREEN_CURSOR_SHAPE) {
      return Promise.resolve()
        .then(() => this.decode(msg.png, 'image/png'))
        .then(
          (bitmap) => ({ bitmaps: [bitmap] }),
          (err) => ({ bitmaps: [], error: `cursor shape does not decode (${err && err.message ? err.message : err})` }),
        );
    }
    if (msg.kind !== SCREEN_RECTS || !msg.rects.some((r) => IMAGE_TYPES[r.enc] || r.enc === ENC_ZLIB)) {
      return Promise.resolve({ bitmaps: [] });
    }
    const jobs = msg.rects.map((r, i) =>
      r.enc === ENC_ZLIB
        ? this.inflateRect(r, i)
        : IMAGE_TYPES[r.enc]
        ? Promise.resolve()
            .then(() => this.decode(r.data, IMAGE_TYPES[r.enc]))
            .then(
              (bitmap) => ({ bitmap }),
              (err) => ({ error: `rect ${i}: ${r.enc === ENC_JPEG ? 'jpeg' : 'png'} does not decode (${err && err.message ? err.message : err})` }),
            )
        : Promise.resolve({}),
    );
    return Promise.all(jobs).then((results) => {
      const bitmaps = results.map((r) => r.bitmap || null);
      const failed = results.find((r) => r.error);
      if (failed) {
        closeAll(bitmaps);
        return { bitmaps: [], error: failed.error };
      }
      return { bitmaps };
    });
  }

  // inflateRect takes a zlib rect's segment off the stream now (in arrival
  // order) and turns it into pixels.
  inflateRect(r, i) {
    if (!this.inflater) return Promise.resolve({ error: `rect ${i}: zlib rect before the screen size` });
    return this.inflater.inflate(r.data.subarray(4), r.rawLen).then(
      (payload) => {
        try {
          return { bitmap: { pixels: paletteToRGBA(payload, r.w, r.h, new Uint8ClampedArray(r.w * r.h * 4)) } };
        } catch (err) {
          return { error: `rect ${i}: ${err.message}` };
        }
      },
      (err) => ({ error: `rect ${i}: zlib segment does not inflate (${err && err.message ? err.message : err})` }),
    );
  }

  apply(msg, prepared) {
    switch (msg.kind) {
      case SCREEN_INFO:
        this.resync.waiting = false; // everything restarts here
        this.resize(msg.width, msg.height);
        break;
      case SCREEN_RESYNC:
        this.resynced(msg.serial);
        break;
      case SCREEN_RECTS:
        this.drawRects(msg.rects, prepared);
        if (msg.end) {
          this.refining = msg.end.refining;
          this.frameEnd(msg.end.seq);
        }
        break;
      case SCREEN_FRAME_END:
        this.refining = msg.refining;
        this.frameEnd(msg.seq);
        break;
      case SCREEN_CURSOR:
        Object.assign(this.cursor, { visible: msg.visible, x: msg.x, y: msg.y });
        this.cursorChanged();
        break;
      case SCREEN_CURSOR_SHAPE:
        this.cursorShape(msg, prepared);
        break;
      case SCREEN_QUALITY:
        this.quality = { quality: msg.quality, fps: msg.fps, bytesPerSec: msg.bytesPerSec, rttMs: msg.rttMs };
        try {
          this.onQuality(this.quality);
        } catch (e) {
          console.error('assist: quality handler failed', e);
        }
        break;
      default:
    }
  }

  cursorShape(msg, { bitmaps, error }) {
    if (error) throw new ScreenError(error);
    const bitmap = bitmaps[0];
    if (bitmap.width > MAX_CURSOR_SIZE || bitmap.height > MAX_CURSOR_SIZE || msg.hotX >= bitmap.width || msg.hotY >= bitmap.height) {
      closeAll(bitmaps);
      throw new ScreenError(`cursor of ${bitmap.width}x${bitmap.height} with hotspot ${msg.hotX},${msg.hotY}`);
    }
    if (this.cursor.image) closeAll([this.cursor.image]);
    Object.assign(this.cursor, { hotX: msg.hotX, hotY: msg.hotY, image: bitmap });
    this.cursorChanged();
  }

  cursorChanged() {
    try {
      this.onCursor(this.cursor);
    } catch (e) {
      console.error('assist: cursor handler failed', e);
    }
  }

  resize(width, height) {
    this.width = width;
    this.height = height;
    this.canvas.width = width; // resets the context's state too
    this.canvas.height = height;
    this.ctx.imageSmoothingEnabled = false;
    this.ctx.fillStyle = '#000';
    this.ctx.fillRect(0, 0, width, height);
    if (!this.cache) {
      const c = this.makeCanvas(CACHE_COLS * CACHE_TILE, (CACHE_SLOTS / CACHE_COLS) * CACHE_TILE);
      this.cache = c ? { canvas: c, ctx: c.getContext('2d', { alpha: false }), sizes: [], next: 0 } : null;
    }
    if (this.cache) {
      this.cache.sizes = [];
      this.cache.next = 0;
    }
    try {
      this.onResize(width, height);
    } catch (e) {
      console.error('assist: resize handler failed', e);
    }
  }

  drawRects(rects, { bitmaps, error }) {
    try {
      if (error) throw new ScreenError(error);
      if (this.width === 0) throw new ScreenError('rectangles before the screen size');
      rects.forEach((r, i) => this.checkFits(r, i, bitmaps[i]));
      this.ctx.imageSmoothingEnabled = false;
      rects.forEach((r, i) => {
        this.drawRect(r, bitmaps[i]);
        if (this.cache && cacheable(r, this.width, this.height)) this.store(r);
      });
    } finally {
      closeAll(bitmaps);
    }
  }

  // store keeps the tiles of r, just drawn, in the next cache slots.
  store(r) {
    const c = this.cache;
    c.ctx.imageSmoothingEnabled = false;
    for (let y = r.y; y < r.y + r.h; y += CACHE_TILE) {
      for (let x = r.x; x < r.x + r.w; x += CACHE_TILE) {
        const w = Math.min(CACHE_TILE, r.x + r.w - x);
        const h = Math.min(CACHE_TILE, r.y + r.h - y);
        const s = c.next;
        c.ctx.drawImage(this.canvas, x, y, w, h, (s % CACHE_COLS) * CACHE_TILE, Math.floor(s / CACHE_COLS) * CACHE_TILE, w, h);
        c.sizes[s] = `${w}x${h}`;
        c.next = (s + 1) % CACHE_SLOTS;
      }
    }
  }

  checkFits(r, i, bitmap) {
    if (r.enc === ENC_CACHED && (!this.cache || this.cache.sizes[r.slot] !== `${r.w}x${r.h}`)) {
      throw new ScreenError(`rect ${i}: cache slot ${r.slot} holds no ${r.w}x${r.h} tile`);
    }
    if (r.x + r.w > this.width || r.y + r.h > this.height) {
      throw new ScreenError(`rect ${i} (${r.w}x${r.h} at ${r.x},${r.y}) outside the ${this.width}x${this.height} screen`);
    }
    if (r.enc === ENC_COPY && (r.srcX + r.w > this.width || r.srcY + r.h > this.height)) {
      throw new ScreenError(`rect ${i}: copy source (${r.w}x${r.h} at ${r.srcX},${r.srcY}) outside the ${this.width}x${this.height} screen`);
    }
    if (bitmap && !bitmap.pixels && (bitmap.width !== r.w || bitmap.height !== r.h)) {
      const kind = r.enc === ENC_JPEG ? 'jpeg' : 'png';
      throw new ScreenError(`rect ${i}: ${kind} of ${bitmap.width}x${bitmap.height} in a ${r.w}x${r.h} rect`);
    }
  }

  drawRect(r, bitmap) {
    const ctx = this.ctx;
    switch (r.enc) {
      case ENC_SOLID:
        ctx.fillStyle = `rgb(${r.data[0]},${r.data[1]},${r.data[2]})`;
        ctx.fillRect(r.x, r.y, r.w, r.h);
        break;
      case ENC_PNG:
      case ENC_JPEG:
        ctx.drawImage(bitmap, r.x, r.y);
        break;
      case ENC_ZLIB:
        ctx.putImageData(typeof ImageData === 'function' ? new ImageData(bitmap.pixels, r.w, r.h) : { width: r.w, height: r.h, data: bitmap.pixels }, r.x, r.y);
        break;
      case ENC_CACHED:
        ctx.drawImage(this.cache.canvas, (r.slot % CACHE_COLS) * CACHE_TILE, Math.floor(r.slot / CACHE_COLS) * CACHE_TILE, r.w, r.h, r.x, r.y, r.w, r.h);
        break;
      case ENC_COPY:
        // The canvas onto itself: browsers copy through a snapshot, so
        // overlapping areas come out right.
        ctx.drawImage(this.canvas, r.srcX, r.srcY, r.w, r.h, r.x, r.y, r.w, r.h);
        break;
      case ENC_RAW:
        ctx.putImageData(rgbToImageData(r.data, r.w, r.h), r.x, r.y);
        break;
      default:
    }
  }

  frameEnd(seq) {
    this.frames++;
    this.seq = seq;
    this.meter.tick(this.now());
    this.canvas.dataset.frames = String(this.frames);
    this.canvas.dataset.seq = String(seq);
    this.canvas.dataset.refining = String(this.refining);
    try {
      this.onFrame({ frames: this.frames, seq, refining: this.refining });
    } catch (e) {
      console.error('assist: frame handler failed', e);
    }
  }
}

// defaultCanvas makes the tile cache's backing canvas (none under node).
function defaultCanvas(w, h) {
  if (typeof OffscreenCanvas === 'function') return new OffscreenCanvas(w, h);
  if (typeof document !== 'undefined') {
    const c = document.createElement('canvas');
    c.width = w;
    c.height = h;
    return c;
  }
  return null;
}

/** Expands packed RGB to an opaque ImageData of w x h. */
export function rgbToImageData(rgb, w, h) {
  const img = typeof ImageData === 'function' ? new ImageData(w, h) : { width: w, height: h, data: new Uint8ClampedArray(w * h * 4) };
  rgbToRGBA(rgb, img.data);
  return img;
}

/** Copies packed RGB into RGBA with alpha 255. */
export function rgbToRGBA(rgb, out) {
  for (let s = 0, d = 0; s < rgb.length; s += 3, d += 4) {
    out[d] = rgb[s];
    out[d + 1] = rgb[s + 1];
    out[d + 2] = rgb[s + 2];
    out[d + 3] = 255;
  }
  return out;
}

function closeAll(bitmaps) {
  for (const b of bitmaps || []) {
    if (b && typeof b.close === 'function') b.close();
  }
}
