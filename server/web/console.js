// The rep console: sign in with the rep token, create and list sessions,
// and view one session's screen. Talks to the server's /api endpoints and,
// through RepSession, to /ws/rep. window.assistConsole is the test hook.

import { formatCode, isCode, normalizeCode, osName, statusText } from './format.js';
import { RepSession, SessionError } from './session.js';
import { ScreenRenderer } from './screen.js';
import { ChatPanel } from './chat.js';
import { PendingStore, Transfers } from './transfer.js';
import { renderTransfers, saveDownload, wireTransfers } from './transfer_ui.js';
import { monitorOptions, placeCursor, qualityText, qualityTitle, saveScreenshot } from './screenui.js';
import { RemoteInput, RemoteControls } from './input.js';

const TOKEN_KEY = 'assist.token';
const ATTACH_KEY = 'assist.attach';
const POLL_MS = 2500;
const NOTICE_MS = 10000;

const $ = (id) => document.getElementById(id);

const ui = {
  login: $('login-view'),
  dashboard: $('dashboard-view'),
  session: $('session-view'),
};

let token = sessionStorage.getItem(TOKEN_KEY) || '';
let pollTimer = 0;
let polling = false;
let current = null; // {session: RepSession, renderer: ScreenRenderer}
let notice = { text: '', until: 0 };
let lastCreated = null;
let chat = null; // ChatPanel, created in wire()

// --- the server's HTTP API ---

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, tok = token) {
  let res;
  try {
    res = await fetch(path, { method, headers: { Authorization: `Bearer ${tok}` } });
  } catch (err) {
    throw new ApiError(0, 'network', `Cannot reach the server (${err.message}).`);
  }
  if (res.status === 204) return null;
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const code = (body && body.error) || `http_${res.status}`;
    const message = (body && body.message) || `The server answered HTTP ${res.status}.`;
    throw new ApiError(res.status, code, message);
  }
  return body;
}

// --- views ---

function show(view) {
  for (const [name, el] of Object.entries(ui)) el.hidden = name !== view;
  $('logout').hidden = view === 'login';
  $('topbar').hidden = view === 'session';
  document.body.classList.toggle('in-session', view === 'session');
  if (view === 'dashboard') startPolling();
  else stopPolling();
}

function showLogin(message = '') {
  show('login');
  $('login-error').textContent = message;
  $('token').value = '';
  $('token').setAttribute('aria-invalid', message ? 'true' : 'false');
  $('token').focus();
}

function showDashboard() {
  show('dashboard');
  $('dashboard-error').textContent = '';
}

// --- sign in ---

async function login(tok) {
  tok = String(tok || '').trim();
  if (!tok) {
    showLogin('Enter your rep token.');
    return false;
  }
  try {
    const list = await api('GET', '/api/sessions', tok);
    token = tok;
    sessionStorage.setItem(TOKEN_KEY, tok);
    showDashboard();
    renderSessions(list);
    return true;
  } catch (err) {
    showLogin(err.status === 401 ? err.message || 'That token is not accepted.' : err.message);
    return false;
  }
}

function logout(message = '') {
  leaveSession();
  token = '';
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(ATTACH_KEY);
  $('new-session-panel').hidden = true;
  showLogin(message);
}

function signedOutBy(err) {
  if (err instanceof ApiError && err.status === 401) {
    logout(`Signed out: ${err.message}`);
    return true;
  }
  return false;
}

// --- sessions list ---

function startPolling() {
  if (pollTimer) return;
  poll();
  pollTimer = setInterval(poll, POLL_MS);
}

function stopPolling() {
  clearInterval(pollTimer);
  pollTimer = 0;
}

async function poll() {
  if (polling || !token) return;
  polling = true;
  try {
    renderSessions(await api('GET', '/api/sessions'));
    $('dashboard-error').textContent = '';
  } catch (err) {
    if (!signedOutBy(err)) $('dashboard-error').textContent = err.message;
  } finally {
    polling = false;
  }
}

const stateLabels = {
  waiting: 'Waiting for customer',
  active: 'Customer connected',
  suspended: 'Customer reconnecting',
  ended: 'Ended',
};

function renderSessions(list) {
  if (!ui.dashboard || ui.dashboard.hidden) return;
  const sessions = Array.isArray(list) ? list : [];
  const tbody = $('sessions');
  const rows = new Map([...tbody.rows].map((tr) => [tr.dataset.code, tr]));
  let before = tbody.firstElementChild;
  for (const s of sessions) {
    let tr = rows.get(s.code);
    if (tr) rows.delete(s.code);
    else tr = newSessionRow(s.code);
    fillSessionRow(tr, s);
    if (tr !== before) tbody.insertBefore(tr, before);
    before = tr.nextElementSibling;
  }
  for (const tr of rows.values()) tr.remove();
  $('sessions-empty').hidden = sessions.length > 0;
  $('sessions-updated').textContent = `Updated ${new Date().toLocaleTimeString()}`;
}

function newSessionRow(code) {
  const tr = document.createElement('tr');
  tr.dataset.code = code;
  tr.innerHTML = '<td class="code"></td><td class="state"><span class="badge"></span></td>' +
    '<td class="customer"></td><td class="created"></td><td class="reps"></td>' +
    '<td class="actions"><button type="button" class="connect small">Connect</button>' +
    '<button type="button" class="end-session danger small">End</button></td>';
  tr.querySelector('.connect').addEventListener('click', () => attachFromUI(code));
  tr.querySelector('.end-session').addEventListener('click', () => endFromList(code, tr));
  return tr;
}

function fillSessionRow(tr, s) {
  const pretty = formatCode(s.code);
  tr.dataset.state = s.state || '';
  setText(tr.querySelector('.code'), pretty);
  const badge = tr.querySelector('.badge');
  badge.className = `badge ${s.state || ''}`;
  setText(badge, stateLabels[s.state] || s.state || '?');
  setText(tr.querySelector('.customer'), customerText(s.agent) || '—');
  setText(tr.querySelector('.created'), timeText(s.created));
  setText(tr.querySelector('.reps'), String(s.reps ?? 0));
  const ended = s.state === 'ended';
  tr.querySelector('.connect').disabled = ended;
  tr.querySelector('.end-session').disabled = ended;
  tr.querySelector('.connect').setAttribute('aria-label', `Connect to session ${pretty}`);
  tr.querySelector('.end-session').setAttribute('aria-label', `End session ${pretty}`);
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function customerText(agent) {
  if (!agent) return '';
  const who = [agent.user, agent.hostname].filter(Boolean).join(' on ');
  const os = agent.os ? osName(agent.os) : '';
  return [who, os].filter(Boolean).join(', ');
}

function timeText(rfc3339) {
  const d = new Date(rfc3339);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

async function endFromList(code, tr) {
  tr.querySelector('.end-session').disabled = true;
  try {
    await api('DELETE', `/api/sessions/${encodeURIComponent(code)}`);
    if (lastCreated && lastCreated.code === code) $('new-session-panel').hidden = true;
  } catch (err) {
    if (!signedOutBy(err)) $('dashboard-error').textContent = `Could not end session ${formatCode(code)}: ${err.message}`;
  }
  poll();
}

// --- new session ---

async function newSession() {
  const button = $('new-session');
  button.disabled = true;
  try {
    const s = await api('POST', '/api/sessions');
    lastCreated = s;
    showNewCode(s);
    poll();
    return s;
  } catch (err) {
    if (!signedOutBy(err)) $('dashboard-error').textContent = `Could not create a session: ${err.message}`;
    throw err;
  } finally {
    button.disabled = false;
  }
}

function showNewCode(s) {
  const el = $('code');
  el.textContent = formatCode(s.code);
  el.dataset.code = s.code;
  el.setAttribute('aria-label', `Code ${s.code.split('').join(' ')}`);
  const expires = timeText(s.expires);
  $('code-expires').textContent = expires ? `The code works until ${expires}.` : '';
  $('copy-code').textContent = 'Copy code';
  $('new-session-panel').hidden = false;
}

// --- one session ---

function wsURL() {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws/rep`;
}

/**
 * Opens the session view for code and attaches to it. The promise resolves
 * with the session's snapshot once attached and rejects with a SessionError
 * (code, message) when the server refuses.
 */
function attach(code, opts = {}) {
  code = normalizeCode(code);
  if (!isCode(code)) return Promise.reject(new SessionError('bad_code', 'A session code is nine digits.'));
  const tok = opts.token || token;
  if (!tok) return Promise.reject(new SessionError('unauthorized', 'Sign in with your rep token first.'));
  if (current && current.session.code === code && current.session.phase !== 'closed') {
    show('session');
    return current.session.ready;
  }
  leaveSession();
  if (opts.token && opts.token !== token) {
    token = opts.token;
    sessionStorage.setItem(TOKEN_KEY, token);
  }
  sessionStorage.setItem(ATTACH_KEY, code);
  current = openSession(code, tok);
  show('session');
  renderSession();
  $('back').focus(); // never the destructive End button
  return current.session.start();
}

function openSession(code, tok) {
  const canvas = $('screen');
  canvas.width = 0;
  canvas.height = 0;
  canvas.dataset.frames = '0';
  delete canvas.dataset.seq;
  notice = { text: '', until: 0 };
  fitScreen();
  const renderer = new ScreenRenderer({
    canvas,
    onError: setNotice,
    onResize: fitScreen,
    onCursor: () => drawCursor(),
    onQuality: () => renderSession(),
    // A failed screen message: the agent sends the whole picture again.
    onResync: (r) => session && session.requestResync(r),
  });
  let session = null;
  const transfers = new Transfers({
    sendControl: (m) => session.sendControl(m),
    openChannel: (label) => session.openChannel(label),
    onChange: () => renderTransfers($('transfers'), transfers),
    save: saveDownload,
    // Unfinished uploads survive a reload, a crash or a closed tab: the
    // rep chooses the file again and it continues where the customer is.
    store: pendingStore(),
    session: () => session.session,
  });
  const remote = new RemoteInput({
    canvas,
    sendInput: (b) => session.sendInput(b),
    sendControl: (m) => session.sendControl(m),
    onChange: renderSession,
    clipboard: navigator.clipboard,
    windowsKeys: () => $('windows-keys').checked,
  });
  remote.attach();
  const controls = new RemoteControls($, remote);
  session = new RepSession({
    code,
    token: tok,
    url: wsURL(),
    onChange: renderSession,
    onScreen: (data) => renderer.push(data),
    onPeerReset: () => {
      renderer.reset();
      remote.reset();
    },
    onNotice: setNotice,
    onControl: (msg) => remote.handleControl(msg) || chat.handle(msg),
    onFileControl: (m) => transfers.handleControl(m),
    onFileChannel: (ch) => transfers.adoptChannel(ch),
    onLinkUp: () => transfers.linkUp(),
    onLinkDown: () => transfers.linkDown(),
  });
  chat.reset();
  session.ready.then((snap) => transfers.restore(snap.session), () => {});
  session.ended.then(() => {
    sessionStorage.removeItem(ATTACH_KEY);
    if (session.session) transfers.store?.forgetSession(session.session);
  });
  const ticker = setInterval(renderSession, 1000);
  renderTransfers($('transfers'), transfers);
  return { session, renderer, ticker, transfers, remote, controls };
}

function pendingStore() {
  try {
    return new PendingStore(localStorage);
  } catch {
    return null; // storage disabled: transfers are not remembered
  }
}

function leaveSession() {
  if (!current) return;
  const { session, renderer, ticker, transfers, remote, controls } = current;
  current = null;
  $('cursor').hidden = true;
  clearInterval(ticker);
  for (const t of transfers.list()) transfers.cancel(t.id); // before the connection goes
  remote.detach();
  controls.detach();
  session.close();
  renderer.reset(); // its queued messages must not draw on the next session's canvas
  sessionStorage.removeItem(ATTACH_KEY);
}

function back() {
  leaveSession();
  showDashboard();
  $('new-session').focus();
}

async function endCurrent(reason) {
  if (!current) return;
  const { session } = current;
  $('end').disabled = true;
  try {
    await session.end(reason);
  } catch (err) {
    setNotice(`Could not end the session: ${err.message}`);
    $('end').disabled = false;
    throw err;
  }
}

// fitScreen sizes the canvas on the page: the whole customer screen in the
// stage, aspect ratio kept, never larger than one CSS pixel per customer
// pixel. The backing store stays at full resolution.
function fitScreen() {
  const canvas = $('screen');
  const stage = $('screen-box').parentElement;
  const { width: w, height: h } = canvas;
  const scale = w && h ? Math.min(1, stage.clientWidth / w, stage.clientHeight / h) : 0;
  canvas.style.width = `${Math.floor(w * scale)}px`;
  canvas.style.height = `${Math.floor(h * scale)}px`;
  drawCursor();
}

// drawCursor places the customer's pointer over the picture, at the
// picture's scale.
function drawCursor() {
  const canvas = $('screen');
  const scale = canvas.width ? parseFloat(canvas.style.width) / canvas.width : 0;
  placeCursor($('cursor'), current && current.renderer.cursor, scale);
}

function renderMonitors(s) {
  const select = $('monitor');
  const list = s.monitors || [];
  select.hidden = list.length < 2;
  const opts = monitorOptions(list);
  const key = JSON.stringify(opts);
  if (select.dataset.key !== key) {
    select.dataset.key = key;
    select.replaceChildren(...opts.map((o) => new Option(o.label, String(o.value))));
  }
  if (select.value !== String(s.monitor || 0)) select.value = String(s.monitor || 0);
}

async function takeScreenshot() {
  if (!current) return null;
  try {
    const saved = await saveScreenshot($('screen'), current.session.code);
    setNotice(`Saved ${saved.name}`);
    return saved;
  } catch (err) {
    setNotice(`Could not save a screenshot: ${err.message}`);
    throw err;
  }
}

function setNotice(text) {
  notice = { text, until: Date.now() + NOTICE_MS };
  renderSession();
}

function renderSession() {
  if (!current) return;
  const { session, renderer } = current;
  const s = session.snapshot();
  const now = Date.now();
  const status = $('status');
  status.dataset.state = s.state || s.phase;
  status.dataset.fatal = String(Boolean(s.fatal));
  setText($('status-text'), statusText(s, now) + (chat.state.paused && s.state === 'active' ? ' · sharing paused by the customer' : ''));
  setText($('status-notice'), notice.until > now ? notice.text : '');
  setText($('session-title'), `Session ${formatCode(s.code)}`);
  setText($('session-agent'), customerText(s.agent));
  setText($('rtt'), s.rtt == null ? 'RTT –' : `RTT ${Math.round(s.rtt)} ms`);
  setText($('fps'), `${Math.round(renderer.fps())} fps`);
  setText($('quality'), qualityText(renderer.quality));
  $('quality').title = qualityTitle(renderer.quality);
  $('screenshot').disabled = !(renderer.width > 0);
  renderMonitors(s);
  $('end').disabled = s.state === 'ended' || (s.fatal && s.phase === 'closed');
  renderTransfers($('transfers'), current.transfers);
  $('placeholder').hidden = renderer.width > 0;
  chat.setLive(s.state === 'active' && s.channels.control === 'open');
  current.controls.render();
}

function state() {
  if (!current) return { phase: 'idle', state: '', signedIn: Boolean(token) };
  const { session, renderer } = current;
  return {
    ...session.snapshot(),
    signedIn: Boolean(token),
    status: $('status').textContent,
    notice: notice.until > Date.now() ? notice.text : '',
    width: renderer.width,
    height: renderer.height,
    frames: renderer.frames,
    seq: renderer.seq,
    fps: renderer.fps(),
    screenErrors: renderer.errors,
    resyncRequests: renderer.resyncRequests,
    resyncs: renderer.resyncs,
    chat: chat.snapshot(),
    transfers: current.transfers.list(),
    quality: renderer.quality,
    refining: renderer.refining,
    cursor: { visible: renderer.cursor.visible, x: renderer.cursor.x, y: renderer.cursor.y, shape: Boolean(renderer.cursor.image) },
    input: current.remote.snapshot(),
  };
}

// --- wiring ---

function attachFromUI(code) {
  attach(code).catch((err) => {
    // The status line shows it; leave a trace for whoever debugs.
    console.warn('assist: attach failed', err);
  });
}

function wire() {
  chat = new ChatPanel({
    log: $('chat-log'), form: $('chat-form'), input: $('chat-text'), send: $('chat-send'),
    reboot: $('reboot'), rebootStatus: $('reboot-status'), paused: $('chat-paused'),
    sendControl: (msg) => Boolean(current && current.session.sendControl(msg)),
  });
  new ResizeObserver(fitScreen).observe($('screen-box').parentElement);
  $('screenshot').addEventListener('click', () => takeScreenshot().catch(() => {}));
  $('monitor').addEventListener('change', (e) => {
    if (current) current.session.selectMonitor(Number(e.target.value) || 0);
  });
  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    login($('token').value);
  });
  $('logout').addEventListener('click', () => logout());
  $('new-session').addEventListener('click', () => newSession().catch(() => {}));
  $('connect-new').addEventListener('click', () => lastCreated && attachFromUI(lastCreated.code));
  $('copy-code').addEventListener('click', async () => {
    if (!lastCreated) return;
    try {
      await navigator.clipboard.writeText(lastCreated.code);
      $('copy-code').textContent = 'Copied';
    } catch {
      $('copy-code').textContent = 'Copy failed: select the code instead';
    }
  });
  $('join-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const code = normalizeCode($('join-code').value);
    if (!isCode(code)) {
      $('dashboard-error').textContent = 'A session code is nine digits, like 123 456 789.';
      $('join-code').setAttribute('aria-invalid', 'true');
      return;
    }
    $('join-code').setAttribute('aria-invalid', 'false');
    $('join-code').value = '';
    attachFromUI(code);
  });
  $('back').addEventListener('click', back);
  $('end').addEventListener('click', () => endCurrent().catch(() => {}));
  wireTransfers({ stage: $('screen-box').parentElement, panel: $('transfers'), current: () => current && current.transfers });
}

async function boot() {
  wire();
  // A reload or a closed tab: the interrupted uploads keep their progress.
  window.addEventListener('pagehide', () => current && current.transfers.rememberAll());
  if (!token) {
    showLogin();
    return;
  }
  const resume = sessionStorage.getItem(ATTACH_KEY);
  if (resume && isCode(resume)) {
    attachFromUI(resume);
    return;
  }
  if (!(await login(token))) sessionStorage.removeItem(TOKEN_KEY);
}

window.assistConsole = {
  /** Opens the session view for code (digits, spaces or dashes) and attaches; resolves with state() once attached. */
  attach: (code, opts) => attach(code, opts).then(() => state()),
  /** The console's current session as plain data (see README in the report). */
  state,
  /** Ends the current session for everyone. */
  end: (reason) => endCurrent(reason),
  /** Signs in with a rep token; resolves to true when the server accepts it. */
  login,
  /** Creates a session (as the New session button); resolves with the server's answer. */
  newSession,
  /** Leaves the session view without ending the session. */
  back,
  /** Sends a chat line to the customer; true when it left. */
  chat: (text) => chat.sendText(text),
  /** Asks the customer to restart and reconnect (as the button). */
  reboot: () => chat.requestReboot(),
  /** Sends a File (or Blob) to the customer, as a drop would; returns the transfer id. */
  sendFile: (file, name) => current.transfers.send(file, name),
  /** Asks the customer for the file at path; returns the transfer id. */
  pullFile: (path) => current.transfers.pull(path),
  /** Accepts an offered file (saved through a download link); false if there is no such offer. */
  acceptFile: (id) => current.transfers.accept(id),
  /** Cancels a transfer. */
  cancelFile: (id) => current.transfers.cancel(id),
  /** Continues an interrupted transfer with a File chosen again; '' or why it was refused. */
  resumeFile: (id, file) => current.transfers.resumeWith(id, file),
  /** Drops an interrupted transfer (the customer's agent removes the partial file). */
  discardFile: (id) => current.transfers.discard(id),
  /** Saves the picture as PNG (the Screenshot button); resolves with {name, size}. */
  screenshot: () => takeScreenshot(),
  /** Shares monitor n (1-based) or all (0), as the monitor picker does. */
  selectMonitor: (n) => Boolean(current && current.session.selectMonitor(n)),
  /**
   * Tests: spoils the picture as a lost screen message would (the top-left
   * 64x64 turns black, then a rects message that does not decode), in
   * order with the messages queued; the renderer must heal it with a
   * resync. Returns the frames counted so far.
   */
  breakScreen: () => {
    if (!current) return -1;
    const r = current.renderer;
    r.queue = r.queue.then(() => {
      r.ctx.fillStyle = '#000';
      r.ctx.fillRect(0, 0, 64, 64);
    });
    r.push(Uint8Array.from([2, 0]).buffer);
    return r.frames;
  },
};

boot();
