// RepSession: one rep console's connection to one support session. It owns
// the signalling WebSocket to /ws/rep (re-attaching with backoff when it
// drops), the RTCPeerConnection to the customer's agent (replaced whenever
// the agent sends a new offer) and the data channels the agent opens on it.
// It touches no DOM: the console renders snapshot() after every onChange,
// and feeds the screen channel's messages to a ScreenRenderer via onScreen.

export const PROTOCOL_VERSION = 1;

/**
 * What this console understands beyond the protocol version, told in its
 * hello: 'frame_in_rects', a frame's last rects and its end in one screen
 * message (SCREEN_RECTS_END, screen.js).
 */
export const FEATURES = ['frame_in_rects'];

/** Signalling error codes after which re-attaching cannot help. */
const FATAL_ERRORS = new Set(['bad_code', 'expired', 'used', 'unauthorized', 'ended', 'malformed', 'version']);

const PING_INTERVAL_MS = 2000;
const MAX_CONTROL_SIZE = 64 << 10;
const END_FALLBACK_MS = 3000;

/** The retry delay after the n-th failed connection (n from 0): 0.5 s doubling to 10 s, with jitter. */
export function backoff(n, random = Math.random) {
  const base = Math.min(10000, 500 * 2 ** Math.min(n, 10));
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** An error reported by the server: code is a protocol error code. */
export class SessionError extends Error {
  constructor(code, message) {
    super(message || code);
    this.name = 'SessionError';
    this.code = code;
  }
}

export class RepSession {
  /**
   * opts: code, token, url (the /ws/rep WebSocket URL), onChange(),
   * onScreen(ArrayBuffer), onPeerReset() (a new PeerConnection replaced the
   * old one), onNotice(text) (a non-fatal problem to show), onControl(msg)
   * (a control message session.js does not handle; returns true when
   * handled), and for tests
   * WebSocket, RTCPeerConnection, fetch, now.
   */
  constructor(opts) {
    this.code = opts.code;
    this.token = opts.token;
    this.url = opts.url;
    this.onChange = opts.onChange || (() => {});
    this.onScreen = opts.onScreen || (() => {});
    this.onPeerReset = opts.onPeerReset || (() => {});
    this.onNotice = opts.onNotice || (() => {});
    this.onControl = opts.onControl || (() => false); // other control messages (input.js, chat.js); true when handled
    // File transfers (transfer.js): file_* control messages, file:<id>
    // channels, and the link going up (agent's hello) or down.
    this.onFileControl = opts.onFileControl || (() => {});
    this.onFileChannel = opts.onFileChannel || ((ch) => ch.close());
    this.onLinkUp = opts.onLinkUp || (() => {});
    this.onLinkDown = opts.onLinkDown || (() => {});
    this.WebSocket = opts.WebSocket || globalThis.WebSocket;
    this.RTCPeerConnection = opts.RTCPeerConnection || globalThis.RTCPeerConnection;
    this.fetch = opts.fetch || ((...a) => globalThis.fetch(...a));
    this.now = opts.now || (() => performance.now());

    this.phase = 'idle'; // idle | connecting | attached | retrying | closed
    this.state = ''; // the server's session state: waiting | active | suspended | ended
    this.session = '';
    this.rep = '';
    this.agent = null;
    this.reason = '';
    this.deadline = 0;
    this.error = null; // {code, message}
    this.fatal = false;
    this.iceServers = [];
    this.attempts = 0;
    this.retryAt = 0;
    this.ws = null;
    this.retryTimer = 0;
    this.endTimer = 0;
    this.resetPeer();

    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => {}); // callers may not wait on it
    this.ended = new Promise((resolve) => {
      this.resolveEnded = resolve;
    });
  }

  resetPeer() {
    this.pc = null;
    this.peerRep = '';
    this.peerQueue = Promise.resolve();
    this.channels = { control: null, screen: null, input: null };
    this.hello = null;
    this.rtt = null;
    this.bye = '';
    this.screen = false;
    this.pingTimer = 0;
    this.monitors = [];
    this.monitor = 0;
  }

  /** Connects and attaches; the promise resolves on the first "attached" and rejects on a fatal error. */
  start() {
    if (this.phase === 'idle') this.connect();
    return this.ready;
  }

  /** A plain-data picture of the session, for the UI and for tests. */
  snapshot() {
    const ch = (c) => (c ? c.readyState : '');
    return {
      phase: this.phase,
      state: this.state,
      code: this.code,
      session: this.session,
      rep: this.rep,
      agent: this.agent,
      reason: this.reason,
      deadline: this.deadline,
      error: this.error,
      fatal: this.fatal,
      retryAt: this.retryAt,
      peer: this.pc ? this.pc.connectionState : '',
      channels: { control: ch(this.channels.control), screen: ch(this.channels.screen), input: ch(this.channels.input) },
      hello: this.hello,
      rtt: this.rtt,
      bye: this.bye,
      screen: this.screen,
      monitors: this.monitors,
      monitor: this.monitor,
    };
  }

  /** Asks the agent to share monitor n (1-based, as in snapshot().monitors) or all of them (0). */
  selectMonitor(n) {
    const ok = this.sendControl({ type: 'monitor', monitor: n });
    if (ok) this.monitor = n;
    this.changed();
    return ok;
  }

  /**
   * Ends the session for everyone: an "end" message over the WebSocket, or a
   * DELETE when it is not attached (or the server does not confirm in time).
   */
  async end(reason = 'ended by the support technician') {
    if (this.state === 'ended') return;
    if (this.phase === 'attached' && this.send({ type: 'end', reason })) {
      const confirmed = await Promise.race([
        this.ended.then(() => true),
        new Promise((resolve) => {
          this.endTimer = setTimeout(() => resolve(false), END_FALLBACK_MS);
        }),
      ]);
      clearTimeout(this.endTimer);
      if (confirmed) return;
    }
    const res = await this.fetch(`/api/sessions/${encodeURIComponent(this.code)}`, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${this.token}` },
    });
    if (!res.ok && res.status !== 404) {
      const body = await res.json().catch(() => ({}));
      throw new SessionError(body.error || `http_${res.status}`, body.message || `The server refused to end the session (HTTP ${res.status}).`);
    }
    this.finish(reason);
  }

  /** Leaves the session without ending it (the console's Back). */
  close() {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.teardown();
    this.rejectReady(new SessionError('closed', 'The console left the session.'));
    this.changed();
  }

  // --- signalling ---

  connect() {
    this.phase = 'connecting';
    this.retryAt = 0;
    let ws;
    try {
      ws = new this.WebSocket(this.url);
    } catch (err) {
      this.notice(`Cannot open the connection to the server: ${err.message}`);
      this.retry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (ws !== this.ws) return;
      this.send({ type: 'attach', version: PROTOCOL_VERSION, token: this.token, code: this.code });
    };
    ws.onmessage = (e) => {
      if (ws !== this.ws) return;
      try {
        this.handleSignal(JSON.parse(e.data));
      } catch (err) {
        this.notice(`Ignored a message from the server: ${err.message}`);
      }
    };
    ws.onclose = () => {
      if (ws !== this.ws) return;
      this.ws = null;
      if (this.phase === 'closed') return;
      this.retry();
    };
    ws.onerror = () => {}; // onclose follows
    this.changed();
  }

  retry() {
    if (this.phase === 'closed') return;
    const delay = backoff(this.attempts++);
    this.phase = 'retrying';
    this.retryAt = Date.now() + delay;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (this.phase === 'retrying') this.connect();
    }, delay);
    this.changed();
  }

  send(msg) {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return false;
    ws.send(JSON.stringify(msg));
    return true;
  }

  handleSignal(msg) {
    if (!msg || typeof msg.type !== 'string') throw new Error('no message type');
    switch (msg.type) {
      case 'attached':
        return this.handleAttached(msg);
      case 'state':
        return this.handleState(msg);
      case 'offer':
        return this.handleOffer(msg);
      case 'candidate':
        return this.handleCandidate(msg);
      case 'error':
        return this.handleError(msg);
      case 'end':
        return this.finish(msg.reason);
      default:
        console.debug('assist: ignoring signalling message', msg.type);
    }
  }

  handleAttached(msg) {
    this.phase = 'attached';
    this.attempts = 0;
    this.error = null;
    this.session = msg.session || this.session;
    this.rep = msg.rep || '';
    if (msg.code) this.code = msg.code;
    if (msg.agent) this.agent = msg.agent;
    this.iceServers = Array.isArray(msg.ice_servers) ? msg.ice_servers : [];
    this.setState(msg.state, msg.reason, msg.deadline);
    this.resolveReady(this.snapshot());
    this.changed();
  }

  handleState(msg) {
    this.setState(msg.state, msg.reason, msg.deadline);
    if (msg.agent) this.agent = msg.agent;
    this.changed();
  }

  setState(state, reason, deadline) {
    if (state === 'ended') {
      this.finish(reason);
      return;
    }
    this.state = state || this.state;
    this.reason = reason || '';
    this.deadline = state === 'suspended' ? Number(deadline) || 0 : 0;
  }

  handleError(msg) {
    const code = msg.error || 'error';
    const message = msg.message || `The server reported an error (${code}).`;
    if (code === 'ended') {
      this.finish(msg.message);
      return;
    }
    this.error = { code, message };
    if (FATAL_ERRORS.has(code)) {
      this.fatal = true;
      this.phase = 'closed';
      this.teardown();
      this.rejectReady(new SessionError(code, message));
    } else if (this.phase !== 'attached' && this.ws) {
      // The attach failed for a passing reason (rate limit, server trouble): try again later.
      const ws = this.ws;
      this.ws = null;
      ws.close();
      this.retry();
    } else {
      this.notice(message);
    }
    this.changed();
  }

  finish(reason) {
    this.state = 'ended';
    this.reason = reason || this.reason || '';
    this.deadline = 0;
    this.phase = 'closed';
    this.teardown();
    this.rejectReady(new SessionError('ended', `Session ended: ${this.reason || 'no reason given'}`));
    this.resolveEnded();
    this.changed();
  }

  teardown() {
    clearTimeout(this.retryTimer);
    this.retryAt = 0;
    this.closePeer();
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close();
    }
  }

  // --- the PeerConnection ---

  handleOffer(msg) {
    if (typeof msg.sdp !== 'string' || msg.sdp === '') throw new Error('offer without sdp');
    this.closePeer();
    const pc = new this.RTCPeerConnection({ iceServers: this.iceServers });
    const rep = msg.rep || this.rep;
    this.pc = pc;
    this.peerRep = rep;
    this.onPeerReset();
    pc.onicecandidate = (e) => {
      if (pc !== this.pc || !e.candidate || !e.candidate.candidate) return;
      this.send({ type: 'candidate', rep, candidate: e.candidate.toJSON() });
    };
    pc.onconnectionstatechange = () => {
      if (pc === this.pc) this.changed();
    };
    pc.ondatachannel = (e) => {
      if (pc === this.pc) this.adoptChannel(e.channel);
    };
    this.peerQueue = this.peerQueue
      .then(async () => {
        await pc.setRemoteDescription({ type: 'offer', sdp: msg.sdp });
        const answer = await pc.createAnswer();
        await pc.setLocalDescription(answer);
        if (pc === this.pc) this.send({ type: 'answer', rep, sdp: pc.localDescription.sdp });
      })
      .catch((err) => {
        if (pc === this.pc) this.notice(`Could not answer the customer’s connection offer: ${err.message}`);
      });
    this.changed();
  }

  handleCandidate(msg) {
    const pc = this.pc;
    if (!pc || !msg.candidate) return;
    this.peerQueue = this.peerQueue
      .then(() => pc.addIceCandidate(msg.candidate))
      .catch((err) => {
        if (pc === this.pc) console.warn('assist: ignoring ICE candidate', err);
      });
  }

  closePeer() {
    clearInterval(this.pingTimer);
    const pc = this.pc;
    if (pc) this.onLinkDown();
    const { control, screen, input } = this.channels;
    this.resetPeer();
    for (const ch of [control, screen, input]) {
      if (ch) ch.onmessage = ch.onopen = ch.onclose = null;
    }
    if (pc) {
      pc.onicecandidate = pc.onconnectionstatechange = pc.ondatachannel = null;
      pc.close();
    }
  }

  adoptChannel(ch) {
    const pc = this.pc;
    const mine = () => pc === this.pc && this.channels[ch.label] === ch;
    switch (ch.label) {
      case 'control':
        ch.onmessage = (e) => mine() && this.handleControl(e.data);
        break;
      case 'screen':
        ch.binaryType = 'arraybuffer';
        ch.onmessage = (e) => {
          if (!mine()) return;
          this.screen = true;
          this.onScreen(e.data);
        };
        break;
      case 'input':
        ch.binaryType = 'arraybuffer';
        break;
      default:
        if (ch.label.startsWith('file:')) {
          this.onFileChannel(ch);
          return;
        }
        console.debug('assist: ignoring data channel', ch.label);
        return;
    }
    this.channels[ch.label] = ch;
    ch.onopen = ch.onclose = () => mine() && this.changed();
    this.changed();
  }

  // --- the control channel ---

  handleControl(data) {
    let msg;
    try {
      if (typeof data !== 'string') throw new Error('binary data');
      if (data.length > MAX_CONTROL_SIZE) throw new Error(`${data.length} bytes is too large`);
      msg = JSON.parse(data);
      if (!msg || typeof msg.type !== 'string') throw new Error('no message type');
    } catch (err) {
      this.notice(`Ignored a malformed control message: ${err.message}`);
      return;
    }
    if (this.onControl(msg)) {
      this.changed();
      return;
    }
    switch (msg.type) {
      case 'hello':
        this.handleHello(msg);
        break;
      case 'pong':
        if (typeof msg.t === 'number') this.rtt = Math.max(0, this.now() - msg.t);
        break;
      case 'ping':
        this.sendControl({ type: 'pong', t: msg.t });
        break;
      case 'error':
        this.notice(`The customer’s agent reported: ${msg.message || msg.error}`);
        break;
      case 'monitors':
        this.monitors = Array.isArray(msg.monitors) ? msg.monitors : [];
        this.monitor = Number(msg.monitor) || 0;
        break;
      case 'bye':
        this.bye = msg.reason || 'no reason given';
        clearInterval(this.pingTimer);
        break;
      default:
        if (msg.type.startsWith('file_')) {
          this.onFileControl(msg);
          return;
        }
        if (!this.onControl(msg)) {
          console.debug('assist: ignoring control message', msg.type);
          return;
        }
    }
    this.changed();
  }

  /** Opens a reliable, ordered data channel to the agent (a file to send). */
  openChannel(label) {
    if (!this.pc) throw new Error('not connected to the customer');
    return this.pc.createDataChannel(label, { ordered: true });
  }

  handleHello(msg) {
    if (msg.version !== PROTOCOL_VERSION) {
      const text = `The customer’s agent speaks protocol version ${msg.version}; this console speaks ${PROTOCOL_VERSION}.`;
      this.sendControl({ type: 'error', error: 'version', message: text });
      this.notice(text);
      return;
    }
    this.hello = { version: msg.version, agent: msg.agent || null, width: msg.width || 0, height: msg.height || 0 };
    if (msg.agent) this.agent = msg.agent;
    this.bye = '';
    this.sendControl({ type: 'hello', version: PROTOCOL_VERSION, features: FEATURES });
    this.ping();
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.ping(), PING_INTERVAL_MS);
    this.onLinkUp();
  }

  ping() {
    this.sendControl({ type: 'ping', t: this.now() });
  }

  sendControl(msg) {
    const ch = this.channels.control;
    if (!ch || ch.readyState !== 'open') return false;
    try {
      ch.send(JSON.stringify(msg));
      return true;
    } catch (err) {
      console.warn('assist: control send failed', err);
      return false;
    }
  }

  /**
   * Asks the agent to start this console's screen state over
   * (screen_resync, protocol/resync.go): the ScreenRenderer's onResync.
   * False when the control channel is not open (the renderer asks again).
   */
  requestResync({ serial, reason }) {
    if (!Number.isInteger(serial) || serial < 1 || serial > 0xffffffff) return false;
    return this.sendControl({ type: 'screen_resync', serial, reason: String(reason || '').slice(0, 256) });
  }

  /** Sends one binary input message (input.js); false when the input channel is not open. */
  sendInput(bytes) {
    const ch = this.channels.input;
    if (!ch || ch.readyState !== 'open') return false;
    try {
      ch.send(bytes);
      return true;
    } catch (err) {
      console.warn('assist: input send failed', err);
      return false;
    }
  }

  notice(text) {
    this.onNotice(text);
  }

  changed() {
    try {
      this.onChange(this);
    } catch (err) {
      console.error('assist: change handler failed', err);
    }
  }
}
