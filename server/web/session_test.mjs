// Unit tests for session.js (the rep console's signalling and PeerConnection
// handling), with fake WebSocket and RTCPeerConnection classes.
// Run: node --test server/web/
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { RepSession, SessionError, backoff } from './session.js';

class FakeWS {
  static all = [];
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeWS.all.push(this);
  }
  send(s) { this.sent.push(JSON.parse(s)); }
  close() {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({});
  }
  // test side
  open() { this.readyState = 1; this.onopen?.({}); }
  receive(msg) { this.onmessage?.({ data: JSON.stringify(msg) }); }
  drop() { this.close(); }
  static last() { return FakeWS.all[FakeWS.all.length - 1]; }
}

class FakeChannel {
  constructor(label) {
    this.label = label;
    this.readyState = 'open';
    this.sent = [];
    this.binaryType = 'blob';
  }
  send(s) { this.sent.push(JSON.parse(s)); }
  receive(data) { this.onmessage?.({ data }); }
}

class FakePC {
  static all = [];
  constructor(config) {
    this.config = config;
    this.connectionState = 'new';
    this.calls = [];
    this.closed = false;
    FakePC.all.push(this);
  }
  async setRemoteDescription(d) { this.calls.push(['remote', d.type, d.sdp]); }
  async createAnswer() { return { type: 'answer', sdp: `answer-to-${this.calls[0][2]}` }; }
  async setLocalDescription(d) { this.localDescription = d; this.calls.push(['local', d.sdp]); }
  async addIceCandidate(c) { this.calls.push(['candidate', c.candidate]); }
  close() { this.closed = true; this.connectionState = 'closed'; }
  // test side
  gather(candidate) {
    this.onicecandidate?.({ candidate: candidate && { candidate, toJSON: () => ({ candidate, sdpMid: '0', sdpMLineIndex: 0 }) } });
  }
  channel(label) {
    const ch = new FakeChannel(label);
    this.ondatachannel?.({ channel: ch });
    return ch;
  }
  static last() { return FakePC.all[FakePC.all.length - 1]; }
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

function newSession(extra = {}) {
  FakeWS.all = [];
  FakePC.all = [];
  const screens = [];
  const notices = [];
  let resets = 0;
  const s = new RepSession({
    code: '123456789',
    token: 'tok',
    url: 'ws://example.test/ws/rep',
    WebSocket: FakeWS,
    RTCPeerConnection: FakePC,
    onScreen: (d) => screens.push(d),
    onNotice: (n) => notices.push(n),
    onPeerReset: () => resets++,
    now: () => 1000,
    ...extra,
  });
  return { s, screens, notices, resets: () => resets };
}

async function attached(s, state = 'waiting') {
  const ready = s.start();
  const ws = FakeWS.last();
  ws.open();
  assert.deepEqual(ws.sent[0], { type: 'attach', version: 1, token: 'tok', code: '123456789' });
  ws.receive({ type: 'attached', session: 's1', code: '123456789', rep: 'r1', state, ice_servers: [{ urls: ['stun:x'] }] });
  const snap = await ready;
  return { ws, snap };
}

test('attach, then state changes', async () => {
  const { s } = newSession();
  const { ws, snap } = await attached(s);
  assert.equal(snap.phase, 'attached');
  assert.equal(snap.state, 'waiting');
  assert.equal(snap.rep, 'r1');
  ws.receive({ type: 'state', state: 'suspended', reason: 'agent dropped', deadline: 12345 });
  assert.equal(s.snapshot().state, 'suspended');
  assert.equal(s.snapshot().deadline, 12345);
  ws.receive({ type: 'state', state: 'active' });
  assert.equal(s.snapshot().deadline, 0);
});

test('an offer is answered, candidates go both ways', async () => {
  const { s } = newSession();
  const { ws } = await attached(s, 'active');
  ws.receive({ type: 'offer', rep: 'r1', sdp: 'offer-1' });
  ws.receive({ type: 'candidate', rep: 'r1', candidate: { candidate: 'remote-a', sdpMid: '0', sdpMLineIndex: 0 } });
  await settle();
  const pc = FakePC.last();
  assert.deepEqual(pc.config, { iceServers: [{ urls: ['stun:x'] }] });
  assert.deepEqual(pc.calls, [['remote', 'offer', 'offer-1'], ['local', 'answer-to-offer-1'], ['candidate', 'remote-a']]);
  assert.deepEqual(ws.sent[1], { type: 'answer', rep: 'r1', sdp: 'answer-to-offer-1' });
  pc.gather('local-a');
  pc.gather(null); // end of candidates: never sent
  pc.gather('');
  assert.deepEqual(ws.sent.slice(2), [{ type: 'candidate', rep: 'r1', candidate: { candidate: 'local-a', sdpMid: '0', sdpMLineIndex: 0 } }]);
});

test('a new offer replaces the old PeerConnection', async () => {
  const { s, resets } = newSession();
  const { ws } = await attached(s, 'active');
  ws.receive({ type: 'offer', rep: 'r1', sdp: 'offer-1' });
  await settle();
  const first = FakePC.last();
  const oldScreen = first.channel('screen');
  ws.receive({ type: 'offer', rep: 'r1', sdp: 'offer-2' });
  await settle();
  const second = FakePC.last();
  assert.notEqual(first, second);
  assert.ok(first.closed);
  assert.equal(resets(), 2);
  assert.deepEqual(ws.sent.at(-1), { type: 'answer', rep: 'r1', sdp: 'answer-to-offer-2' });
  const n = ws.sent.length;
  first.gather('stale');
  assert.equal(ws.sent.length, n, 'the old connection sends nothing');
  oldScreen.receive(new ArrayBuffer(1));
  assert.equal(s.snapshot().screen, false);
});

test('control hello, ping and pong; screen data is forwarded', async () => {
  const { s, screens } = newSession();
  const { ws } = await attached(s, 'active');
  ws.receive({ type: 'offer', rep: 'r1', sdp: 'offer-1' });
  await settle();
  const pc = FakePC.last();
  const control = pc.channel('control');
  const screen = pc.channel('screen');
  const input = pc.channel('input');
  assert.equal(screen.binaryType, 'arraybuffer');
  assert.equal(s.channels.input, input);
  control.receive(JSON.stringify({ type: 'hello', version: 1, agent: { hostname: 'pc1' }, width: 800, height: 600 }));
  assert.deepEqual(control.sent, [{ type: 'hello', version: 1, features: ['frame_in_rects'] }, { type: 'ping', t: 1000 }]);
  assert.equal(s.snapshot().agent.hostname, 'pc1');
  control.receive(JSON.stringify({ type: 'pong', t: 990 }));
  assert.equal(s.snapshot().rtt, 10);
  const buf = new ArrayBuffer(5);
  screen.receive(buf);
  assert.equal(screens[0], buf);
  assert.equal(s.snapshot().screen, true);
  control.receive(JSON.stringify({ type: 'bye', reason: 'customer stopped sharing' }));
  assert.equal(s.snapshot().bye, 'customer stopped sharing');
  s.close();
});

test('a malformed control message is reported, not thrown', async () => {
  const { s, notices } = newSession();
  const { ws } = await attached(s, 'active');
  ws.receive({ type: 'offer', rep: 'r1', sdp: 'offer-1' });
  await settle();
  const control = FakePC.last().channel('control');
  control.receive('{nope');
  control.receive(JSON.stringify({ type: 'hello', version: 2 }));
  assert.equal(notices.length, 2);
  assert.match(notices[1], /protocol version 2/);
  assert.deepEqual(control.sent, [{ type: 'error', error: 'version', message: notices[1] }]);
  s.close();
});

test('pings every two seconds after the hello', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
  const { s } = newSession();
  const { ws } = await attached(s, 'active');
  ws.receive({ type: 'offer', rep: 'r1', sdp: 'offer-1' });
  await settle();
  const control = FakePC.last().channel('control');
  control.receive(JSON.stringify({ type: 'hello', version: 1 }));
  t.mock.timers.tick(4000);
  assert.equal(control.sent.filter((m) => m.type === 'ping').length, 3);
  s.close();
  t.mock.timers.tick(4000);
  assert.equal(control.sent.filter((m) => m.type === 'ping').length, 3);
});

test('a dropped WebSocket re-attaches with backoff', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { s } = newSession();
  const { ws } = await attached(s, 'active');
  ws.drop();
  assert.equal(s.snapshot().phase, 'retrying');
  assert.equal(FakeWS.all.length, 1);
  t.mock.timers.tick(300);
  assert.equal(FakeWS.all.length, 1, 'waits before retrying');
  t.mock.timers.tick(1000);
  assert.equal(FakeWS.all.length, 2);
  const ws2 = FakeWS.last();
  ws2.drop(); // the server is still down
  t.mock.timers.tick(700);
  assert.equal(FakeWS.all.length, 2, 'backs off further');
  t.mock.timers.tick(2000);
  const ws3 = FakeWS.last();
  assert.equal(FakeWS.all.length, 3);
  ws3.open();
  assert.equal(ws3.sent[0].type, 'attach');
  ws3.receive({ type: 'attached', session: 's1', code: '123456789', rep: 'r2', state: 'active' });
  assert.equal(s.snapshot().phase, 'attached');
  assert.equal(s.snapshot().rep, 'r2');
  assert.equal(s.attempts, 0);
  s.close();
});

test('a passing error retries, a fatal one stops', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { s } = newSession();
  const ready = s.start();
  FakeWS.last().open();
  FakeWS.last().receive({ type: 'error', error: 'rate_limited', message: 'slow down' });
  assert.equal(s.snapshot().phase, 'retrying');
  t.mock.timers.tick(1000);
  FakeWS.last().open();
  FakeWS.last().receive({ type: 'error', error: 'bad_code', message: 'No session has this code.' });
  await assert.rejects(ready, (err) => err instanceof SessionError && err.code === 'bad_code' && err.message === 'No session has this code.');
  const snap = s.snapshot();
  assert.equal(snap.phase, 'closed');
  assert.equal(snap.fatal, true);
  assert.equal(FakeWS.last().readyState, 3);
  t.mock.timers.tick(60000);
  assert.equal(FakeWS.all.length, 2);
});

test('an ended session stops everything and is not re-attached', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { s } = newSession();
  const { ws } = await attached(s, 'active');
  ws.receive({ type: 'offer', rep: 'r1', sdp: 'offer-1' });
  await settle();
  ws.receive({ type: 'state', state: 'ended', reason: 'customer ended the session' });
  assert.equal(s.snapshot().state, 'ended');
  assert.equal(s.snapshot().reason, 'customer ended the session');
  assert.ok(FakePC.last().closed);
  t.mock.timers.tick(60000);
  assert.equal(FakeWS.all.length, 1);
});

test('end() sends end over the WebSocket and waits for the ended state', async () => {
  const { s } = newSession();
  const { ws } = await attached(s, 'active');
  const done = s.end('done');
  assert.deepEqual(ws.sent.at(-1), { type: 'end', reason: 'done' });
  ws.receive({ type: 'state', state: 'ended', reason: 'ended by the support technician' });
  await done;
  assert.equal(s.snapshot().state, 'ended');
});

test('end() uses DELETE when not attached', async () => {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push([url, init.method, init.headers.Authorization]);
    return { ok: true, status: 204, json: async () => ({}) };
  };
  const { s } = newSession({ fetch });
  await s.end('bye');
  assert.deepEqual(calls, [['/api/sessions/123456789', 'DELETE', 'Bearer tok']]);
  assert.equal(s.snapshot().state, 'ended');
  assert.equal(s.snapshot().reason, 'bye');
});

test('backoff grows to ten seconds', () => {
  const mid = () => 0.5;
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 20].map((n) => backoff(n, mid)), [500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
  assert.ok(backoff(0, () => 0) >= 400 && backoff(0, () => 0.999) <= 600);
});

test('requestResync sends screen_resync on the control channel, and only a valid serial', async () => {
  const { s } = newSession();
  assert.equal(s.requestResync({ serial: 1, reason: 'x' }), false, 'nothing to send on before a connection');
  const { ws } = await attached(s, 'active');
  ws.receive({ type: 'offer', rep: 'r1', sdp: 'offer-1' });
  await settle();
  const control = FakePC.last().channel('control');
  control.sent.length = 0;
  assert.equal(s.requestResync({ serial: 3, reason: 'rect 0: zlib segment does not inflate' }), true);
  assert.equal(s.requestResync({ serial: 4, reason: 'y'.repeat(2000) }), true);
  assert.equal(s.requestResync({ serial: 0, reason: 'z' }), false);
  assert.equal(s.requestResync({ serial: 1.5 }), false);
  assert.deepEqual(control.sent[0], { type: 'screen_resync', serial: 3, reason: 'rect 0: zlib segment does not inflate' });
  assert.equal(control.sent[1].reason.length, 256);
  assert.equal(control.sent.length, 2);
  s.close();
});
