// File transfers in the rep console, over the same wire as the Go side
// (PROTOCOL.md, "File transfer"): file_* control messages on the control
// channel, one "file:<id>" data channel per file with binary chunks, and
// one running SHA-256: its value at each 1 MiB block's end checks that
// block (and all before it), its final value the whole file. Sending respects the data
// channel's bufferedAmount (a small high-water mark) and the receiver's
// acknowledgements; a receiver verifies every block, asks for a failed
// block again, and saves only a file whose whole SHA-256 matched. It touches
// no DOM: the console renders list() after every onChange.

export const CHUNK = 32 << 10;
export const BLOCK = 1 << 20;
export const WINDOW = 8 << 20;
export const HIGH_WATER = 128 << 10;
const MAX_RETRIES = 3;
const KIND_DATA = 1;
const KIND_BLOCK = 2;
const KIND_END = 3;

// --- SHA-256, incremental (WebCrypto's digest is one-shot only) ---

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

export class Sha256 {
  constructor() {
    this.h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    this.buf = new Uint8Array(64);
    this.n = 0; // bytes in buf
    this.len = 0; // total bytes
    this.w = new Uint32Array(64);
  }

  clone() {
    const c = new Sha256();
    c.h.set(this.h);
    c.buf.set(this.buf);
    c.n = this.n;
    c.len = this.len;
    return c;
  }

  update(data) {
    let i = 0;
    this.len += data.length;
    if (this.n > 0) {
      const take = Math.min(64 - this.n, data.length);
      this.buf.set(data.subarray(0, take), this.n);
      this.n += take;
      i = take;
      if (this.n < 64) return this;
      this.block(this.buf, 0);
      this.n = 0;
    }
    for (; i + 64 <= data.length; i += 64) this.block(data, i);
    if (i < data.length) {
      this.buf.set(data.subarray(i), 0);
      this.n = data.length - i;
    }
    return this;
  }

  block(p, o) {
    const w = this.w;
    for (let t = 0; t < 16; t++) {
      w[t] = (p[o + 4 * t] << 24) | (p[o + 4 * t + 1] << 16) | (p[o + 4 * t + 2] << 8) | p[o + 4 * t + 3];
    }
    for (let t = 16; t < 64; t++) {
      const a = w[t - 15];
      const b = w[t - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
    }
    const h = this.h;
    let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (k + S1 + ch + K[t] + w[t]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      k = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
  }

  /** The digest as 32 bytes; the hash itself is left unchanged. */
  digest() {
    const c = this.clone();
    const bits = c.len * 8;
    const pad = new Uint8Array((c.n < 56 ? 56 : 120) - c.n + 8);
    pad[0] = 0x80;
    const hi = Math.floor(bits / 0x100000000);
    const lo = bits >>> 0;
    const e = pad.length - 8;
    pad[e] = hi >>> 24; pad[e + 1] = hi >>> 16; pad[e + 2] = hi >>> 8; pad[e + 3] = hi;
    pad[e + 4] = lo >>> 24; pad[e + 5] = lo >>> 16; pad[e + 6] = lo >>> 8; pad[e + 7] = lo;
    c.len -= pad.length; // padding does not count
    c.update(pad);
    const out = new Uint8Array(32);
    for (let i = 0; i < 8; i++) {
      out[4 * i] = c.h[i] >>> 24; out[4 * i + 1] = c.h[i] >>> 16; out[4 * i + 2] = c.h[i] >>> 8; out[4 * i + 3] = c.h[i];
    }
    return out;
  }

  hex() {
    return toHex(this.digest());
  }
}

export function toHex(bytes) {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// --- the binary file channel messages ---

export function encodeData(offset, bytes) {
  const m = new Uint8Array(9 + bytes.length);
  const v = new DataView(m.buffer);
  m[0] = KIND_DATA;
  v.setBigUint64(1, BigInt(offset));
  m.set(bytes, 9);
  return m;
}

export function encodeBlock(index, hash) {
  const m = new Uint8Array(37);
  m[0] = KIND_BLOCK;
  new DataView(m.buffer).setUint32(1, index);
  m.set(hash, 5);
  return m;
}

export function encodeEnd(size, hash) {
  const m = new Uint8Array(41);
  m[0] = KIND_END;
  new DataView(m.buffer).setBigUint64(1, BigInt(size));
  m.set(hash, 9);
  return m;
}

/** Decodes one file channel message (ArrayBuffer or view); throws on malformed input. */
export function decodeFileMsg(data) {
  const b = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (b.length === 0) throw new Error('empty file message');
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  switch (b[0]) {
    case KIND_DATA: {
      if (b.length < 10 || b.length > 9 + CHUNK) throw new Error(`file data of ${b.length - 9} bytes`);
      const off = Number(v.getBigUint64(1));
      const n = b.length - 9;
      if (!Number.isSafeInteger(off + n)) throw new Error('file data offset out of range');
      if (Math.floor(off / BLOCK) !== Math.floor((off + n - 1) / BLOCK)) throw new Error('file data crosses a block');
      return { kind: KIND_DATA, offset: off, data: b.subarray(9) };
    }
    case KIND_BLOCK:
      if (b.length !== 37) throw new Error('bad block message');
      return { kind: KIND_BLOCK, index: v.getUint32(1), hash: b.slice(5) };
    case KIND_END: {
      if (b.length !== 41) throw new Error('bad end message');
      const size = Number(v.getBigUint64(1));
      if (!Number.isSafeInteger(size)) throw new Error('file size out of range');
      return { kind: KIND_END, size, hash: b.slice(9) };
    }
    default:
      throw new Error(`unknown file message kind ${b[0]}`);
  }
}

export function newId() {
  const b = new Uint8Array(8);
  globalThis.crypto.getRandomValues(b);
  return toHex(b);
}

/** "80.0 MB" — the same decimal units as the Go side. */
export function formatSize(n) {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  let v = n / 1000;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

export function formatDuration(s) {
  if (!Number.isFinite(s) || s < 0) return '';
  s = Math.round(s);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

// --- remembered transfers ---

/**
 * PendingStore remembers the console's unfinished outgoing transfers in
 * localStorage (id, name, size, lastModified, session, bytes acknowledged),
 * so that a reloaded or reopened console can offer to resume them: File
 * objects cannot be stored, the rep chooses the file again. storage is a
 * Web Storage (localStorage); a storage that fails (full, disabled) only
 * loses the memory, never a transfer.
 */
export class PendingStore {
  constructor(storage = globalThis.localStorage, key = 'assist.transfers') {
    this.storage = storage;
    this.key = key;
  }

  all() {
    try {
      const v = JSON.parse(this.storage.getItem(this.key) || '[]');
      return Array.isArray(v) ? v.filter((e) => e && typeof e.id === 'string' && typeof e.session === 'string') : [];
    } catch {
      return [];
    }
  }

  write(list) {
    try {
      if (list.length) this.storage.setItem(this.key, JSON.stringify(list));
      else this.storage.removeItem(this.key);
    } catch (err) {
      console.warn('assist: cannot remember transfers', err);
    }
  }

  /** The entries of session, oldest first. */
  list(session) {
    return this.all().filter((e) => e.session === session);
  }

  /** Adds or replaces the entry with e.id. */
  put(e) {
    this.write([...this.all().filter((x) => x.id !== e.id), e]);
  }

  remove(id) {
    const all = this.all();
    const rest = all.filter((x) => x.id !== id);
    if (rest.length !== all.length) this.write(rest);
  }

  /** Forgets every entry of session (it ended). */
  forgetSession(session) {
    this.write(this.all().filter((x) => x.session !== session));
  }
}

/** Why file cannot resume the interrupted transfer x, or '' when it can (same name, size and, when known, lastModified). */
export function resumeMismatch(x, file) {
  if (!file) return 'No file was chosen.';
  const want = `${x.name} (${formatSize(x.size)})`;
  if (file.name !== x.name) return `That is “${file.name}”, not the interrupted file ${want}. Choose ${x.name} again.`;
  if (file.size !== x.size) return `“${file.name}” is ${formatSize(file.size)} now, the interrupted file was ${formatSize(x.size)}: it changed, send it anew.`;
  if (x.lastModified && file.lastModified && file.lastModified !== x.lastModified) {
    return `“${file.name}” was modified since the transfer began: send it anew.`;
  }
  return '';
}

// --- transfers ---

/**
 * Transfers: the console's file transfers with the customer's agent.
 * opts: sendControl(msg) -> bool, openChannel(label) -> RTCDataChannel,
 * onChange(), save({name, size, parts: Blob parts, sha256}) (deliver a
 * verified file to the rep), now() (ms), store (a PendingStore: outgoing
 * transfers are remembered there until they end) and session() (the
 * session id they are remembered under).
 */
export class Transfers {
  constructor(opts) {
    this.sendControl = opts.sendControl;
    this.openChannel = opts.openChannel;
    this.onChange = opts.onChange || (() => {});
    this.save = opts.save || (() => {});
    this.now = opts.now || (() => performance.now());
    this.store = opts.store || null;
    this.session = opts.session || (() => '');
    this.items = new Map();
    this.linked = false;
  }

  /** Plain data for the panel: newest first. */
  list() {
    return [...this.items.values()].reverse().map((x) => {
      const rate = this.rate(x);
      return {
        id: x.id, name: x.name, size: x.size, bytes: x.bytes, send: x.send, state: x.state,
        error: x.error || '', sha256: x.sha256 || '', rate, eta: rate > 0 ? (x.size - x.bytes) / rate : NaN,
        retries: x.retries, resumed: x.resumed, from: x.from || 0,
      };
    });
  }

  rate(x) {
    const s = x.samples;
    if (s.length < 2 || x.state !== 'running') return 0;
    const [t0, b0] = s[0];
    const [t1, b1] = s[s.length - 1];
    return t1 > t0 ? ((b1 - b0) * 1000) / (t1 - t0) : 0;
  }

  item(id, send, name, size) {
    const x = {
      id, send, name, size, bytes: 0, state: 'offered', error: '', sha256: '', samples: [], retries: 0, resumed: false,
      channel: null, waiters: [],
    };
    this.items.set(id, x);
    return x;
  }

  progress(x, bytes) {
    x.bytes = bytes;
    if (x.send) this.remember(x, false);
    const t = this.now();
    x.samples.push([t, bytes]);
    while (x.samples.length > 2 && t - x.samples[0][0] > 3000) x.samples.shift();
    this.changed();
  }

  finish(x, state, error = '') {
    if (['done', 'failed', 'cancelled', 'refused'].includes(x.state)) return;
    x.state = state;
    x.error = error;
    if (x.channel) {
      x.channel.onmessage = x.channel.onbufferedamountlow = null;
      try { x.channel.close(); } catch { /* already closed */ }
      x.channel = null;
    }
    x.parts = null;
    if (x.writable && state !== 'done') x.writable.abort().catch(() => {});
    if (x.send && this.store) this.store.remove(x.id);
    this.wake(x);
    this.changed();
  }

  changed() {
    try {
      this.onChange();
    } catch (err) {
      console.error('assist: transfers change handler failed', err);
    }
  }

  // --- the link ---

  /** The control channel to the agent is open (again): offer unfinished outgoing files. */
  linkUp() {
    this.linked = true;
    for (const x of this.items.values()) {
      if (x.send && (x.state === 'waiting' || x.state === 'offered' || x.state === 'running')) {
        x.resumed = x.resumed || x.offeredOnce;
        this.offer(x);
      }
    }
    this.changed();
  }

  /** The PeerConnection went away: transfers wait for the next one. */
  linkDown() {
    this.linked = false;
    for (const x of this.items.values()) {
      if (x.state === 'running' || x.state === 'offered') {
        if (x.channel) {
          x.channel.onmessage = x.channel.onbufferedamountlow = null;
          x.channel = null;
        }
        x.state = 'waiting';
        x.gen = (x.gen || 0) + 1; // stops the pump of the old channel
        this.wake(x);
      }
    }
    this.changed();
  }

  // --- sending (rep -> customer) ---

  /** Offers a File (or Blob with a name) to the customer. */
  send(file, name = file.name) {
    const x = this.item(newId(), true, name || 'file', file.size);
    x.lastModified = file.lastModified || 0;
    this.useFile(x, file);
    this.remember(x, true);
    if (this.linked) this.offer(x);
    else x.state = 'waiting';
    this.changed();
    return x.id;
  }

  useFile(x, file) {
    x.file = file;
    x.pos = 0;
    x.acked = 0;
    x.endSent = false;
    x.whole = new Sha256();
    x.snaps = new Map([[0, x.whole.clone()]]);
  }

  /** Writes x to the store: at once (now) or at most every 2 s (progress). */
  remember(x, now) {
    const session = this.session();
    if (!this.store || !session || ['done', 'failed', 'cancelled', 'refused'].includes(x.state)) return;
    const t = this.now();
    if (!now && t - (x.rememberedAt || 0) < 2000) return;
    x.rememberedAt = t;
    this.store.put({ id: x.id, name: x.name, size: x.size, lastModified: x.lastModified || 0, session, bytes: x.bytes });
  }

  /** Writes every unfinished outgoing transfer's progress to the store now (the page is going away). */
  rememberAll() {
    for (const x of this.items.values()) if (x.send && x.state !== 'interrupted') this.remember(x, true);
  }

  /**
   * Lists the remembered unfinished outgoing transfers of session (a
   * reloaded console) as "interrupted": resumeWith() continues one with the
   * file chosen again, discard() drops it.
   */
  restore(session) {
    if (!this.store || !session) return;
    for (const e of this.store.list(session)) {
      if (this.items.has(e.id)) continue;
      const x = this.item(e.id, true, String(e.name || 'file'), Number(e.size) || 0);
      x.lastModified = Number(e.lastModified) || 0;
      x.bytes = Number(e.bytes) || 0;
      x.state = 'interrupted';
    }
    this.changed();
  }

  /**
   * Continues the interrupted transfer id with file, chosen again by the rep:
   * the same name and size (and modification time) or it is refused.
   * Returns '' when it goes on, else why not (also shown on the row).
   */
  resumeWith(id, file) {
    const x = this.items.get(id);
    if (!x || !x.send || x.state !== 'interrupted') return 'There is no interrupted transfer to resume.';
    const why = resumeMismatch(x, file);
    if (why) {
      x.error = why;
      this.changed();
      return why;
    }
    x.error = '';
    this.useFile(x, file);
    x.offeredOnce = true; // the agent knows the id: offer with resume
    x.state = 'waiting';
    if (this.linked) this.offer(x);
    this.changed();
    return '';
  }

  /** Drops the interrupted transfer id and cancels it at the customer's agent, which removes the partial file. */
  discard(id) {
    const x = this.items.get(id);
    if (!x || x.state !== 'interrupted') return false;
    if (!this.sendControl({ type: 'file_cancel', id, reason: 'discarded by the support technician' })) {
      x.error = 'Not connected to the customer: discard it once connected.';
      this.changed();
      return false;
    }
    if (this.store) this.store.remove(id);
    this.items.delete(id);
    this.changed();
    return true;
  }

  offer(x) {
    if (!this.sendControl({ type: 'file_offer', id: x.id, name: x.name, size: x.size, resume: Boolean(x.offeredOnce) })) {
      x.state = 'waiting';
      return;
    }
    x.offeredOnce = true;
    if (x.state !== 'running') x.state = 'offered';
  }

  wake(x) {
    const w = x.waiters;
    x.waiters = [];
    for (const f of w) f();
  }

  waitEvent(x) {
    return new Promise((resolve) => x.waiters.push(resolve));
  }

  /** Rewinds an outgoing transfer to offset (a verified block boundary). */
  seek(x, offset) {
    const snap = x.snaps.get(offset);
    if (snap) {
      x.whole = snap.clone();
      x.pos = offset;
      return true;
    }
    return false;
  }

  async startSending(x, offset) {
    if (!this.seek(x, offset)) {
      // No snapshot (a file chosen again after a reload): hash what the
      // receiver holds, a few blocks at a time.
      const gen = x.gen;
      const whole = new Sha256();
      for (let o = 0; o < offset; o += 8 * BLOCK) {
        whole.update(new Uint8Array(await x.file.slice(o, Math.min(offset, o + 8 * BLOCK)).arrayBuffer()));
        if (x.gen !== gen || x.state !== 'offered') return; // the link dropped or the transfer ended meanwhile
      }
      x.whole = whole;
      x.pos = offset;
      x.snaps.set(offset, whole.clone());
    }
    x.from = offset;
    x.acked = Math.max(x.acked, 0);
    x.resumed = x.resumed || offset > 0;
    let ch;
    try {
      ch = this.openChannel(`file:${x.id}`);
    } catch (err) {
      this.fail(x, `Could not open a channel for the file: ${err.message}`);
      return;
    }
    ch.binaryType = 'arraybuffer';
    ch.bufferedAmountLowThreshold = HIGH_WATER / 2;
    x.channel = ch;
    x.gen = (x.gen || 0) + 1;
    const gen = x.gen;
    x.state = 'running';
    x.samples = [];
    this.progress(x, offset);
    ch.onbufferedamountlow = () => this.wake(x);
    if (ch.readyState !== 'open') {
      await new Promise((resolve) => {
        ch.onopen = resolve;
        ch.onclose = resolve;
      });
    }
    this.pump(x, gen).catch((err) => this.fail(x, `Sending failed: ${err.message}`));
  }

  live(x, gen) {
    return x.gen === gen && x.state === 'running' && x.channel;
  }

  async pump(x, gen) {
    while (this.live(x, gen)) {
      const ch = x.channel;
      if (ch.readyState !== 'open') {
        // Closed under us: the customer's cancel or error, or the link's
        // end, arrives on the control channel.
        await this.waitEvent(x);
        continue;
      }
      if (x.pos >= x.size) {
        if (!x.endSent) {
          x.sum = x.whole.digest();
          ch.send(encodeEnd(x.size, x.sum));
          x.endSent = true;
        }
        await this.waitEvent(x); // file_done, or a resend request
        continue;
      }
      if (ch.bufferedAmount >= HIGH_WATER || x.pos - x.acked >= WINDOW) {
        await this.waitEvent(x);
        continue;
      }
      // One block at a time from the file, sent in chunks.
      const blockEnd = Math.min(x.size, (Math.floor(x.pos / BLOCK) + 1) * BLOCK);
      const start = x.pos;
      const bytes = new Uint8Array(await x.file.slice(start, blockEnd).arrayBuffer());
      if (!this.live(x, gen) || x.pos !== start) continue;
      for (let o = 0; o < bytes.length; o += CHUNK) {
        while (this.live(x, gen) && x.channel.bufferedAmount >= HIGH_WATER) await this.waitEvent(x);
        if (!this.live(x, gen) || x.pos !== start + o || x.channel.readyState !== 'open') break;
        const part = bytes.subarray(o, Math.min(o + CHUNK, bytes.length));
        x.channel.send(encodeData(x.pos, part));
        x.whole.update(part);
        x.pos += part.length;
      }
      if (!this.live(x, gen) || x.pos !== blockEnd || x.channel.readyState !== 'open') continue;
      // A block's check is the SHA-256 of the file up to its end.
      x.channel.send(encodeBlock(Math.floor((blockEnd - 1) / BLOCK), x.whole.digest()));
      x.snaps.set(blockEnd, x.whole.clone());
    }
  }

  // --- receiving (customer -> rep) ---

  /** Asks the customer for the file at path. */
  pull(path) {
    const x = this.item(newId(), false, path.split(/[\\/]/).pop() || 'file', 0);
    x.approved = true;
    if (!this.sendControl({ type: 'file_pull', id: x.id, path })) {
      this.finish(x, 'failed', 'Not connected to the customer.');
      return x.id;
    }
    this.changed();
    return x.id;
  }

  /** The rep accepts an offered file; writable (optional) is a FileSystemWritableFileStream. */
  accept(id, writable = null) {
    const x = this.items.get(id);
    if (!x || x.send || x.state !== 'asking') return false;
    x.writable = writable;
    this.startReceiving(x);
    return true;
  }

  decline(id) {
    const x = this.items.get(id);
    if (!x || x.send || x.state !== 'asking') return false;
    this.sendControl({ type: 'file_refuse', id, error: 'declined', message: 'the support technician declined the file' });
    this.finish(x, 'refused', 'Declined.');
    return true;
  }

  startReceiving(x) {
    x.parts = [];
    x.verified = 0;
    x.written = 0;
    x.whole = new Sha256();
    x.wholeAtVerified = x.whole.clone();
    x.blockParts = [];
    x.state = 'running';
    x.samples = [];
    this.progress(x, 0);
    this.sendControl({ type: 'file_accept', id: x.id, offset: 0 });
  }

  /** A "file:<id>" channel the agent opened. */
  adoptChannel(ch) {
    const id = ch.label.slice('file:'.length);
    const x = this.items.get(id);
    if (!x || x.send || x.state === 'done' || x.state === 'failed' || x.state === 'cancelled') {
      ch.close();
      return;
    }
    ch.binaryType = 'arraybuffer';
    if (x.channel) x.channel.onmessage = null;
    x.channel = ch;
    x.syncing = false; // a new channel starts where we asked
    x.queue = Promise.resolve();
    ch.onmessage = (e) => {
      if (x.channel !== ch) return;
      x.queue = x.queue.then(() => this.receive(x, e.data)).catch((err) => this.fail(x, err.message));
    };
  }

  async receive(x, data) {
    if (x.state !== 'running' || !x.parts) return;
    const m = decodeFileMsg(data);
    if (x.syncing) {
      if ((m.kind === KIND_DATA && m.offset === x.verified) || (m.kind === KIND_END && x.verified === x.size)) x.syncing = false;
      else return;
    }
    switch (m.kind) {
      case KIND_DATA: {
        if (m.offset !== x.written) throw new Error(`file data at ${m.offset}, expected ${x.written}`);
        if (x.written + m.data.length > x.size) throw new Error('more data than offered');
        const copy = m.data.slice();
        x.blockParts.push(copy);
        x.whole.update(copy);
        x.written += copy.length;
        break;
      }
      case KIND_BLOCK: {
        const idx = Math.floor(x.verified / BLOCK);
        const end = Math.min((idx + 1) * BLOCK, x.size);
        if (m.index !== idx || x.written !== end) throw new Error(`hash of block ${m.index} out of order`);
        // A block's check is the SHA-256 of the file up to its end.
        if (!equalBytes(x.whole.digest(), m.hash)) {
          x.retries++;
          if (x.retries > MAX_RETRIES) throw new Error(`block ${idx} failed verification ${x.retries} times`);
          this.rewind(x);
          x.syncing = true;
          this.sendControl({ type: 'file_accept', id: x.id, offset: x.verified });
          this.changed();
          return;
        }
        const blob = new Blob(x.blockParts);
        if (x.writable) await x.writable.write(blob);
        else x.parts.push(blob);
        x.blockParts = [];
        x.verified = end;
        x.wholeAtVerified = x.whole.clone();
        this.sendControl({ type: 'file_progress', id: x.id, offset: x.verified });
        this.progress(x, x.verified);
        break;
      }
      case KIND_END: {
        if (m.size !== x.size || x.verified !== x.size) throw new Error(`end after ${x.verified} of ${x.size} bytes`);
        const sum = x.whole.digest();
        if (!equalBytes(sum, m.hash)) throw new Error('the whole file failed SHA-256 verification');
        x.sha256 = toHex(sum);
        if (x.writable) await x.writable.close();
        else this.save({ name: x.name, size: x.size, parts: x.parts, sha256: x.sha256 });
        this.sendControl({ type: 'file_done', id: x.id, size: x.size, sha256: x.sha256, name: x.name });
        this.finish(x, 'done');
        break;
      }
      default:
    }
  }

  rewind(x) {
    x.written = x.verified;
    x.blockParts = [];
    x.whole = x.wholeAtVerified.clone();
  }

  // --- control messages ---

  handleControl(msg) {
    // The Go side leaves zero numbers out (omitempty).
    msg = { ...msg, offset: msg.offset ?? 0, size: msg.size ?? 0 };
    const x = this.items.get(msg.id);
    switch (msg.type) {
      case 'file_offer':
        return this.onOffer(x, msg);
      case 'file_accept':
        if (x && x.send && (x.state === 'offered' || x.state === 'running')) {
          if (typeof msg.offset !== 'number' || msg.offset < 0 || msg.offset > x.size || msg.offset % BLOCK) {
            this.fail(x, 'The customer asked for a bad offset.');
            return;
          }
          if (x.state === 'running' && x.channel) {
            // A resend from a verified block, on the same channel.
            x.retries++;
            x.endSent = false;
            x.acked = Math.min(x.acked, msg.offset);
            if (!this.seek(x, msg.offset)) this.fail(x, 'Cannot send that part again.');
            this.wake(x);
          } else {
            x.endSent = false;
            this.startSending(x, msg.offset);
          }
          this.changed();
        }
        return;
      case 'file_progress':
        if (x && x.send && msg.offset > x.acked && msg.offset <= x.pos) {
          x.acked = msg.offset;
          for (const k of x.snaps.keys()) if (k < x.acked) x.snaps.delete(k);
          this.progress(x, x.acked);
          this.wake(x);
        }
        return;
      case 'file_done':
        if (x && x.send && x.endSent) {
          if (msg.sha256 !== toHex(x.sum)) {
            this.fail(x, `The customer received a file with another SHA-256 (${msg.sha256}).`);
            return;
          }
          x.sha256 = msg.sha256;
          if (msg.name) x.name = msg.name;
          x.bytes = x.size;
          this.finish(x, 'done');
        }
        return;
      case 'file_refuse':
        if (x) this.finish(x, msg.error === 'declined' ? 'refused' : 'failed', msg.message || msg.error);
        return;
      case 'file_error':
        if (x) this.finish(x, 'failed', msg.message || msg.error);
        return;
      case 'file_cancel':
        if (x) this.finish(x, 'cancelled', `Cancelled by the customer: ${msg.reason || ''}`.trim());
        return;
      default:
    }
  }

  onOffer(x, msg) {
    if (typeof msg.id !== 'string' || typeof msg.size !== 'number' || msg.size < 0) return;
    if (x && !x.send && (x.state === 'running' || x.state === 'waiting') && x.parts && msg.resume) {
      // The agent lost the link: continue from what we verified.
      this.rewind(x);
      x.resumed = true;
      x.syncing = true;
      x.state = 'running';
      x.samples = [];
      this.sendControl({ type: 'file_accept', id: x.id, offset: x.verified });
      this.changed();
      return;
    }
    if (x && !x.send && x.approved && x.state === 'offered') {
      // The file we asked for (pull).
      x.name = safeName(msg.name);
      x.size = msg.size;
      this.startReceiving(x);
      return;
    }
    if (x) return;
    const y = this.item(msg.id, false, safeName(msg.name), msg.size);
    y.state = 'asking';
    this.changed();
  }

  /** Cancels a transfer and tells the customer's agent. */
  cancel(id) {
    const x = this.items.get(id);
    if (!x || ['done', 'failed', 'cancelled', 'refused'].includes(x.state)) return false;
    this.sendControl({ type: 'file_cancel', id, reason: 'cancelled by the support technician' });
    this.finish(x, 'cancelled', 'Cancelled.');
    return true;
  }

  fail(x, message) {
    if (['done', 'failed', 'cancelled', 'refused'].includes(x.state)) return;
    this.sendControl({ type: 'file_error', id: x.id, error: 'io', message });
    this.finish(x, 'failed', message);
  }

  /** Forgets finished transfers. */
  clearFinished() {
    for (const [id, x] of this.items) {
      if (['done', 'failed', 'cancelled', 'refused'].includes(x.state)) this.items.delete(id);
    }
    this.changed();
  }
}

/** A name from the customer, made safe for the rep's download (the browser sanitises again). */
export function safeName(name) {
  let s = String(name || '').split(/[\\/]/).pop();
  // eslint-disable-next-line no-control-regex
  s = s.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '').replace(/[<>:"|?*]/g, '_');
  s = s.trim().replace(/^\.+/, '').replace(/[. ]+$/, '');
  return s || 'file';
}
