// Unit tests for transfer.js: SHA-256 against node's, the binary messages,
// and two Transfers talking over fake data channels (send, verify, a
// corrupted chunk sent again, resume after the link drops, cancel).
// Run: node --test server/web/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  BLOCK, CHUNK, HIGH_WATER, PendingStore, Sha256, Transfers, decodeFileMsg, encodeBlock, encodeData, encodeEnd, formatSize,
  resumeMismatch, safeName,
} from './transfer.js';

const nodeSha = (b) => createHash('sha256').update(b).digest('hex');

test('Sha256 equals node crypto for any size and chunking', () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 100003]) {
    const data = randomBytes(n);
    const h = new Sha256();
    for (let i = 0; i < n; ) {
      const step = 1 + ((i * 7919) % 97);
      h.update(data.subarray(i, i + step));
      i += step;
    }
    assert.equal(h.hex(), nodeSha(data), `size ${n}`);
    assert.equal(h.hex(), nodeSha(data), 'digest leaves the state unchanged');
  }
  const a = new Sha256().update(Buffer.from('abc'));
  const b = a.clone();
  b.update(Buffer.from('def'));
  assert.equal(a.hex(), nodeSha('abc'));
  assert.equal(b.hex(), nodeSha('abcdef'));
});

test('file messages round-trip and bad ones are refused', () => {
  const d = decodeFileMsg(encodeData(BLOCK, new Uint8Array([1, 2, 3])));
  assert.equal(d.offset, BLOCK);
  assert.deepEqual([...d.data], [1, 2, 3]);
  const h = new Uint8Array(32).fill(7);
  assert.equal(decodeFileMsg(encodeBlock(5, h)).index, 5);
  assert.equal(decodeFileMsg(encodeEnd(12345, h)).size, 12345);
  assert.throws(() => decodeFileMsg(new Uint8Array(0)), /empty/);
  assert.throws(() => decodeFileMsg(new Uint8Array([9])), /unknown/);
  assert.throws(() => decodeFileMsg(encodeData(0, new Uint8Array(CHUNK + 1))), /file data/);
  assert.throws(() => decodeFileMsg(encodeData(BLOCK - 1, new Uint8Array(2))), /crosses/);
  assert.throws(() => decodeFileMsg(encodeBlock(1, h).subarray(0, 20)), /block/);
});

test('safeName and formatSize', () => {
  assert.equal(safeName('../../etc/passwd'), 'passwd');
  assert.equal(safeName('C:\\x\\evil\u202Etxt.exe'), 'eviltxt.exe');
  assert.equal(safeName('..'), 'file');
  assert.equal(safeName('a<b>.txt. '), 'a_b_.txt');
  assert.equal(formatSize(999), '999 B');
  assert.equal(formatSize(80_000_000), '80.0 MB');
  assert.equal(formatSize(4_294_967_296), '4.29 GB');
});

// A data channel pair: messages arrive asynchronously, in order;
// bufferedAmount counts what has not arrived yet.
class FakeChannel {
  constructor(label) {
    this.label = label;
    this.readyState = 'open';
    this.bufferedAmount = 0;
    this.bufferedAmountLowThreshold = 0;
    this.maxBuffered = 0;
    this.tamper = null;
    this.sent = 0;
  }
  send(data) {
    if (this.readyState !== 'open') throw new Error('closed');
    const copy = new Uint8Array(data).slice();
    if (this.tamper) this.tamper(this.sent, copy);
    if (this.sent === 0) this.firstSent = copy.slice().buffer;
    this.sent++;
    this.bufferedAmount += copy.length;
    this.maxBuffered = Math.max(this.maxBuffered, this.bufferedAmount);
    setImmediate(() => {
      const before = this.bufferedAmount;
      this.bufferedAmount -= copy.length;
      if (this.readyState === 'open' && this.peer.readyState === 'open') this.peer.onmessage?.({ data: copy.buffer });
      if (before > this.bufferedAmountLowThreshold && this.bufferedAmount <= this.bufferedAmountLowThreshold) {
        this.onbufferedamountlow?.();
      }
    });
  }
  close() {
    this.readyState = this.peer.readyState = 'closed';
  }
}

// Two Transfers linked like the console and an agent.
function link(opts = {}) {
  const saved = [];
  const channels = [];
  let up = true;
  const mk = (name, other) => new Transfers({
    sendControl: (m) => {
      if (!up) return false;
      const copy = JSON.parse(JSON.stringify(m, (k, v) => (v === 0 || v === false || v === '' ? undefined : v))); // as Go's omitempty
      setImmediate(() => up && other().handleControl(copy));
      return true;
    },
    openChannel: (label) => {
      const a = new FakeChannel(label);
      const b = new FakeChannel(label);
      a.peer = b;
      b.peer = a;
      a.tamper = opts.tamper || null;
      channels.push(a);
      setImmediate(() => other().adoptChannel(b));
      return a;
    },
    save: (f) => saved.push(f),
    store: name === 'rep' ? opts.store : null,
    session: () => 's1',
  });
  let rep = null;
  let agent = null;
  rep = mk('rep', () => agent);
  agent = mk('agent', () => rep);
  return {
    get rep() { return rep; },
    agent, saved, channels,
    /** The console's page reloads: its connection and its Transfers go, a new one comes up. */
    reload() {
      up = false;
      for (const c of channels) c.close();
      agent.linkDown();
      rep = mk('rep', () => agent);
      up = true;
      rep.restore('s1');
      rep.linkUp();
      agent.linkUp();
    },
    drop() {
      up = false;
      for (const c of channels) c.close();
      rep.linkDown();
      agent.linkDown();
    },
    restore() {
      up = true;
      rep.linkUp();
      agent.linkUp();
    },
  };
}

const until = async (cond, what) => {
  for (let i = 0; i < 200000; i++) {
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  assert.fail(`never: ${what}`);
};

const stateOf = (t, id) => t.list().find((x) => x.id === id);

async function received(l, id) {
  await until(() => stateOf(l.agent, id)?.state === 'asking', 'offer arrives');
  assert.ok(l.agent.accept(id));
  await until(() => stateOf(l.rep, id).state === 'done' || stateOf(l.rep, id).state === 'failed', 'transfer ends');
  return { sender: stateOf(l.rep, id), receiver: stateOf(l.agent, id) };
}

async function blobBytes(parts) {
  return Buffer.from(await new Blob(parts).arrayBuffer());
}

test('a file crosses verified, block by block, within the high-water mark', async () => {
  for (const size of [0, 1, CHUNK, BLOCK, BLOCK + 1, 2 * BLOCK + 777]) {
    const l = link();
    l.rep.linkUp();
    l.agent.linkUp();
    const data = randomBytes(size);
    const id = l.rep.send(new Blob([data]), 'data.bin');
    const { sender, receiver } = await received(l, id);
    assert.equal(sender.state, 'done', sender.error);
    assert.equal(receiver.state, 'done');
    assert.equal(sender.sha256, nodeSha(data));
    assert.equal(receiver.sha256, nodeSha(data));
    assert.equal(l.saved.length, 1);
    assert.ok((await blobBytes(l.saved[0].parts)).equals(data), `content of ${size} bytes`);
    for (const c of l.channels) assert.ok(c.maxBuffered <= HIGH_WATER + CHUNK + 64, `buffered ${c.maxBuffered}`);
  }
});

test('each block check is the SHA-256 of the file up to its end, as the Go side sends and expects', async () => {
  const checks = [];
  const l = link({
    tamper: (n, m) => {
      if (m[0] === 2 || m[0] === 3) checks.push(decodeFileMsg(m.slice().buffer));
    },
  });
  l.rep.linkUp();
  l.agent.linkUp();
  const size = 2 * BLOCK + 999;
  const data = randomBytes(size);
  const id = l.rep.send(new Blob([data]), 'p.bin');
  const { sender } = await received(l, id);
  assert.equal(sender.state, 'done', sender.error);
  assert.equal(checks.length, 4, 'three blocks and the end');
  checks.slice(0, 3).forEach((m, i) => {
    assert.equal(m.index, i);
    assert.equal(Buffer.from(m.hash).toString('hex'), nodeSha(data.subarray(0, Math.min((i + 1) * BLOCK, size))), `block ${i}`);
  });
  assert.equal(Buffer.from(checks[3].hash).toString('hex'), nodeSha(data));
});

test('a corrupted chunk is detected and its block sent again', async () => {
  let flipped = false;
  const l = link({
    tamper: (n, m) => {
      if (n === 40 && m[0] === 1 && !flipped) {
        m[200] ^= 1;
        flipped = true;
      }
    },
  });
  l.rep.linkUp();
  l.agent.linkUp();
  const data = randomBytes(3 * BLOCK);
  const id = l.rep.send(new Blob([data]), 'c.bin');
  const { sender, receiver } = await received(l, id);
  assert.ok(flipped);
  assert.equal(sender.state, 'done', sender.error);
  assert.equal(receiver.retries, 1);
  assert.ok((await blobBytes(l.saved[0].parts)).equals(data));
});

test('a corrupted stream fails with a clear error and saves nothing', async () => {
  const l = link({ tamper: (n, m) => { if (m[0] === 1) m[20] ^= 1; } });
  l.rep.linkUp();
  l.agent.linkUp();
  const id = l.rep.send(new Blob([randomBytes(BLOCK)]), 'c.bin');
  const { sender, receiver } = await received(l, id);
  assert.equal(receiver.state, 'failed');
  assert.match(receiver.error, /failed verification/);
  assert.equal(sender.state, 'failed');
  assert.equal(l.saved.length, 0);
});

test('the transfer resumes from the last verified block after the link drops', async () => {
  const l = link();
  l.rep.linkUp();
  l.agent.linkUp();
  const data = randomBytes(5 * BLOCK + 3);
  const id = l.rep.send(new Blob([data]), 'r.bin');
  await until(() => stateOf(l.agent, id)?.state === 'asking', 'offer');
  l.agent.accept(id);
  await until(() => stateOf(l.agent, id).bytes >= 2 * BLOCK, '2 blocks');
  l.drop();
  assert.equal(stateOf(l.rep, id).state, 'waiting');
  l.restore();
  await until(() => ['done', 'failed'].includes(stateOf(l.rep, id).state), 'done');
  const s = stateOf(l.rep, id);
  assert.equal(s.state, 'done', s.error);
  assert.ok(s.resumed);
  assert.ok((await blobBytes(l.saved[0].parts)).equals(data));
  const first = decodeFileMsg(new Uint8Array(randomSent(l.channels[1])));
  assert.ok(first.offset >= 2 * BLOCK, `the second channel started at ${first.offset}`);
});

const randomSent = (ch) => ch.firstSent;

test('either side cancels; declined and refused offers end clearly', async () => {
  const l = link();
  l.rep.linkUp();
  l.agent.linkUp();
  const id = l.rep.send(new Blob([randomBytes(32 * BLOCK)]), 'x.bin');
  await until(() => stateOf(l.agent, id)?.state === 'asking', 'offer');
  l.agent.accept(id);
  await until(() => stateOf(l.agent, id).bytes >= BLOCK, 'a block');
  assert.ok(l.agent.cancel(id));
  await until(() => stateOf(l.rep, id).state === 'cancelled', 'cancelled at the sender');
  assert.equal(l.saved.length, 0);

  const id2 = l.rep.send(new Blob([randomBytes(10)]), 'y.bin');
  await until(() => stateOf(l.agent, id2)?.state === 'asking', 'offer');
  l.agent.decline(id2);
  await until(() => stateOf(l.rep, id2).state === 'refused', 'refused');

  l.agent.handleControl({ type: 'file_offer', id: 'zz', name: '../../evil', size: 3 });
  assert.equal(stateOf(l.agent, 'zz').name, 'evil');
});

// A Web Storage in memory; broken() makes every call throw (storage disabled or full).
class MemoryStorage {
  constructor() { this.m = new Map(); this.fail = false; }
  getItem(k) { if (this.fail) throw new Error('denied'); return this.m.has(k) ? this.m.get(k) : null; }
  setItem(k, v) { if (this.fail) throw new Error('quota'); this.m.set(k, String(v)); }
  removeItem(k) { if (this.fail) throw new Error('denied'); this.m.delete(k); }
}

test('PendingStore keeps entries per session and survives broken storage', () => {
  const mem = new MemoryStorage();
  const st = new PendingStore(mem);
  st.put({ id: 'a', name: 'a.bin', size: 5, lastModified: 1, session: 's1', bytes: 0 });
  st.put({ id: 'b', name: 'b.bin', size: 6, lastModified: 2, session: 's2', bytes: 0 });
  st.put({ id: 'a', name: 'a.bin', size: 5, lastModified: 1, session: 's1', bytes: BLOCK });
  assert.deepEqual(st.list('s1').map((e) => [e.id, e.bytes]), [['a', BLOCK]]);
  assert.deepEqual(new PendingStore(mem).list('s2').map((e) => e.id), ['b'], 'another page reads the same entries');
  st.forgetSession('s2');
  assert.deepEqual(st.all().map((e) => e.id), ['a']);
  st.remove('a');
  assert.equal(mem.getItem('assist.transfers'), null, 'nothing left behind');
  mem.setItem('assist.transfers', '{not json');
  assert.deepEqual(st.list('s1'), []);
  mem.setItem('assist.transfers', JSON.stringify([{ id: 1 }, null, { id: 'ok', session: 's1' }]));
  assert.deepEqual(st.list('s1').map((e) => e.id), ['ok']);
  mem.fail = true;
  assert.deepEqual(st.list('s1'), []);
  st.put({ id: 'c', session: 's1' }); // does not throw
  st.remove('c');
});

test('resumeMismatch accepts only the same file', () => {
  const x = { name: 'big.iso', size: 3 * BLOCK, lastModified: 1700000000000 };
  const file = (name, size, lastModified) => ({ name, size, lastModified });
  for (const [f, want] of [
    [file('big.iso', 3 * BLOCK, 1700000000000), ''],
    [file('big.iso', 3 * BLOCK, 0), ''], // the browser did not say
    [file('other.iso', 3 * BLOCK, 1700000000000), /not the interrupted file big\.iso/],
    [file('big.iso', 3 * BLOCK + 1, 1700000000000), /changed, send it anew/],
    [file('big.iso', 3 * BLOCK, 1700000000001), /modified since/],
    [null, /No file/],
  ]) {
    const got = resumeMismatch(x, f);
    if (want === '') assert.equal(got, '', JSON.stringify(f));
    else assert.match(got, want, JSON.stringify(f));
  }
  assert.equal(resumeMismatch({ ...x, lastModified: 0 }, file('big.iso', 3 * BLOCK, 5)), '', 'no remembered time: name and size decide');
});

test('after a reload the rep chooses the file again and it continues from the last verified block', async () => {
  const store = new PendingStore(new MemoryStorage());
  const l = link({ store });
  l.rep.linkUp();
  l.agent.linkUp();
  const data = randomBytes(6 * BLOCK + 11);
  const file = new File([data], 'big.bin', { lastModified: 1700000000000 });
  const id = l.rep.send(file);
  assert.deepEqual(store.list('s1').map((e) => [e.id, e.name, e.size, e.lastModified]), [[id, 'big.bin', data.length, 1700000000000]]);
  await until(() => stateOf(l.agent, id)?.state === 'asking', 'offer');
  l.agent.accept(id);
  await until(() => stateOf(l.agent, id).bytes >= 2 * BLOCK, '2 blocks');
  l.reload();
  const x = stateOf(l.rep, id);
  assert.equal(x.state, 'interrupted');
  assert.equal(x.send, true);

  const other = new File([data], 'other.bin', { lastModified: 1700000000000 });
  assert.match(l.rep.resumeWith(id, other), /not the interrupted file/);
  assert.equal(stateOf(l.rep, id).state, 'interrupted');
  assert.match(stateOf(l.rep, id).error, /other\.bin/);
  const changed = new File([data.subarray(1)], 'big.bin', { lastModified: 1700000000000 });
  assert.match(l.rep.resumeWith(id, changed), /changed/);

  const again = new File([data], 'big.bin', { lastModified: 1700000000000 });
  assert.equal(l.rep.resumeWith(id, again), '');
  await until(() => ['done', 'failed'].includes(stateOf(l.rep, id).state), 'done');
  const s = stateOf(l.rep, id);
  assert.equal(s.state, 'done', s.error);
  assert.ok(s.resumed);
  assert.ok(s.from >= 2 * BLOCK, `continued from ${s.from}`);
  assert.equal(s.sha256, nodeSha(data));
  assert.ok((await blobBytes(l.saved[0].parts)).equals(data));
  const first = decodeFileMsg(new Uint8Array(l.channels.at(-1).firstSent));
  assert.equal(first.offset, s.from, 'the new channel starts at the verified block, not at 0');
  assert.deepEqual(store.all(), [], 'a finished transfer is forgotten');
});

test('an interrupted transfer can be discarded: the receiver cancels it', async () => {
  const store = new PendingStore(new MemoryStorage());
  const l = link({ store });
  l.rep.linkUp();
  l.agent.linkUp();
  const id = l.rep.send(new File([randomBytes(4 * BLOCK)], 'd.bin'));
  await until(() => stateOf(l.agent, id)?.state === 'asking', 'offer');
  l.agent.accept(id);
  await until(() => stateOf(l.agent, id).bytes >= BLOCK, 'a block');
  l.reload();
  assert.equal(stateOf(l.rep, id).state, 'interrupted');
  assert.ok(l.rep.discard(id));
  assert.equal(stateOf(l.rep, id), undefined);
  await until(() => stateOf(l.agent, id).state === 'cancelled', 'cancelled at the receiver');
  assert.deepEqual(store.all(), []);
  assert.equal(l.saved.length, 0);
});
