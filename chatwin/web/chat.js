// The customer's chat window: talks to the agent over a WebSocket on the
// page's own address (127.0.0.1, secret path). window.assistChat is the
// test hook.

import { formatSize as size } from './files.js';
import { createPicker } from './picker.js';

const $ = (id) => document.getElementById(id);
const PING_MS = 2000;
const kindLabels = {
  view: 'See your screen',
  control: 'Control your mouse and keyboard',
  file: 'Receive a file',
  reboot: 'Restart your computer',
  other: 'A question',
};

let ws = null;
let state = { session: 'connecting', reps: [], paused: false };
let ended = '';
let pingTimer = 0;
let transfers = [];
let pickerOn = false; // the agent lets the customer send files
const prompts = new Map();
const seen = new Set();

function connect() {
  ws = new WebSocket(`ws://${location.host}${location.pathname.replace(/[^/]*$/, '')}ws`);
  ws.onmessage = (e) => {
    let m;
    try {
      m = JSON.parse(e.data);
    } catch {
      return;
    }
    handle(m);
  };
  ws.onclose = () => {
    clearInterval(pingTimer);
    if (!ended) showGone();
  };
  ws.onopen = () => {
    pingTimer = setInterval(() => send({ type: 'ping' }), PING_MS);
  };
}

function send(m) {
  if (ws && ws.readyState === WebSocket.OPEN) {
    ws.send(JSON.stringify(m));
    return true;
  }
  return false;
}

function handle(m) {
  if (picker.handle(m)) return;
  switch (m.type) {
    case 'hello':
      state = m.state || state;
      $('log').replaceChildren();
      seen.clear();
      (m.history || []).forEach(addLine);
      prompts.clear();
      $('prompts').replaceChildren();
      (m.prompts || []).forEach(addPrompt);
      transfers = m.transfers || [];
      pickerOn = Boolean(m.picker);
      break;
    case 'transfers':
      transfers = m.transfers || [];
      break;
    case 'state':
      state = m.state || state;
      break;
    case 'chat':
      addLine(m.chat);
      break;
    case 'history':
      (m.history || []).forEach(addLine);
      break;
    case 'prompt':
      addPrompt(m.prompt);
      break;
    case 'prompt_done':
      removePrompt(m.id);
      break;
    case 'ended':
      ended = m.reason || 'The session has ended.';
      state = m.state || { session: 'ended', reps: [] };
      prompts.clear();
      $('prompts').replaceChildren();
      if ($('picker').open) $('picker').close();
      break;
    default:
      return;
  }
  render();
}

function addLine(l) {
  if (!l || !l.text) return;
  if (l.id && seen.has(l.id)) return;
  if (l.id) seen.add(l.id);
  const li = document.createElement('li');
  li.className = l.from === 'customer' ? 'customer' : 'rep';
  const who = document.createElement('span');
  who.className = 'who';
  who.textContent = l.from === 'customer' ? 'You' : 'Support';
  const text = document.createElement('span');
  text.className = 'text';
  text.textContent = l.text;
  li.append(who, text);
  if (l.time) {
    const t = document.createElement('span');
    t.className = 'time';
    t.textContent = new Date(l.time).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    li.append(t);
  }
  const log = $('log');
  const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  log.append(li);
  if (atBottom) log.scrollTop = log.scrollHeight;
}

function addPrompt(p) {
  if (!p || prompts.has(p.id)) return;
  const div = document.createElement('div');
  div.className = 'prompt';
  div.dataset.id = String(p.id);
  div.dataset.kind = p.kind;
  div.setAttribute('role', 'alertdialog');
  div.setAttribute('aria-label', kindLabels[p.kind] || kindLabels.other);
  const q = document.createElement('p');
  q.textContent = p.question;
  const allow = document.createElement('button');
  allow.type = 'button';
  allow.className = 'allow';
  allow.textContent = 'Allow';
  const deny = document.createElement('button');
  deny.type = 'button';
  deny.className = 'deny secondary';
  deny.textContent = 'Deny';
  allow.onclick = () => answer(p.id, true);
  deny.onclick = () => answer(p.id, false);
  div.append(q, allow, document.createTextNode(' '), deny);
  prompts.set(p.id, div);
  $('prompts').append(div);
  allow.focus();
}

function removePrompt(id) {
  const div = prompts.get(id);
  if (div) div.remove();
  prompts.delete(id);
}

function answer(id, allow) {
  if (send({ type: 'answer', id, allow })) removePrompt(id);
}

function left(sec) {
  const s = Math.ceil(sec);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function fileDetail(t) {
  switch (t.state) {
    case 'done':
      return t.send ? `Sent (${size(t.size)}).` : `Saved to ${t.path} (${size(t.size)}).`;
    case 'failed':
      return `Failed: ${t.error}`;
    case 'cancelled':
      return 'Cancelled.';
    case 'refused':
      return t.error || 'Declined.';
    case 'waiting':
      return t.away ? 'Waiting for the technician to come back…' : 'Paused until the connection is back…';
    case 'asking':
    case 'offered':
      return 'Waiting for an answer…';
    default: {
      let s = `${size(t.bytes)} of ${size(t.size)}`;
      if (t.rate > 0) s += ` · ${size(Math.round(t.rate))}/s`;
      if (t.eta > 0) s += ` · ${left(t.eta)} left`;
      return s;
    }
  }
}

function live() {
  return !ended && ws && ws.readyState === WebSocket.OPEN;
}

/** A support technician is connected: a file can go to them. */
function canOffer() {
  return Boolean(live() && state.reps && state.reps.some((r) => r.connected));
}

function renderFiles() {
  $('files').hidden = transfers.length === 0 && !pickerOn;
  $('offer-open').hidden = !pickerOn || Boolean(ended);
  $('offer-open').disabled = !canOffer();
  $('offer-open').title = canOffer() ? '' : 'No support technician is connected right now.';
  const list = $('file-list');
  list.replaceChildren();
  for (const t of transfers) {
    const li = document.createElement('li');
    li.dataset.id = t.id;
    li.dataset.state = t.state;
    const name = document.createElement('div');
    name.className = 'name';
    name.textContent = `${t.send ? 'To support: ' : 'From support: '}${t.name}`;
    const bar = document.createElement('progress');
    bar.max = Math.max(t.size, 1);
    bar.value = t.state === 'done' ? bar.max : t.bytes;
    const detail = document.createElement('div');
    detail.className = 'detail';
    detail.textContent = fileDetail(t);
    li.append(name, bar, detail);
    if (['running', 'waiting', 'offered'].includes(t.state)) {
      const cancel = document.createElement('button');
      cancel.type = 'button';
      cancel.className = 'secondary';
      cancel.textContent = 'Cancel';
      cancel.onclick = () => send({ type: 'cancel_file', text: t.id });
      li.append(cancel);
    }
    list.append(li);
  }
}

function bannerText() {
  if (ended) return `Session ended: ${ended}`;
  switch (state.session) {
    case 'active':
      if (state.paused) return 'Session active · sharing paused';
      return state.reps.some((r) => r.controlling)
        ? 'Session active · your computer is being controlled'
        : state.reps.some((r) => r.viewing)
          ? 'Session active · your screen is being shared'
          : 'Session active';
    case 'reconnecting': {
      const left = state.deadline ? Math.max(0, Math.ceil((state.deadline - Date.now()) / 1000)) : 0;
      const mmss = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`;
      return state.deadline ? `Session active · reconnecting (${mmss} left)` : 'Session active · reconnecting…';
    }
    case 'ended':
      return 'Session ended';
    default:
      return state.message || 'Connecting…';
  }
}

function render() {
  const banner = $('banner');
  const cls = ended ? 'ended' : state.session === 'active' && state.paused ? 'paused' : state.session;
  banner.className = `banner ${cls}`;
  banner.dataset.state = ended ? 'ended' : state.session;
  $('banner-text').textContent = bannerText();
  document.title = ended ? 'assist: session ended' : 'assist: session active';

  const reps = $('reps');
  reps.replaceChildren();
  if (!state.reps || state.reps.length === 0) {
    const li = document.createElement('li');
    li.className = 'muted';
    li.textContent = ended ? 'Nobody.' : 'Nobody yet.';
    reps.append(li);
  } else {
    for (const r of state.reps) {
      const li = document.createElement('li');
      li.textContent = r.name || 'Support technician';
      const tag = document.createElement('span');
      const what = r.controlling ? 'controlling' : r.viewing ? 'viewing' : r.connected && state.paused ? 'sharing paused' : 'connecting';
      tag.className = `tag ${what.replace(' ', '-')}`;
      tag.textContent = what;
      li.append(tag);
      reps.append(li);
    }
  }
  const isLive = live();
  // Someone controls the mouse and keyboard: one click takes it back.
  $('revoke').hidden = !state.reps.some((r) => r.controlling);
  $('revoke').disabled = !isLive;
  $('pause').textContent = state.paused ? 'Resume sharing' : 'Pause sharing';
  $('pause').disabled = !isLive;
  $('end').disabled = !isLive;
  $('chat-text').disabled = !isLive;
  $('chat-send').disabled = !isLive;
  if (!isLive) $('end-confirm').hidden = true;
  renderFiles();
  picker.refresh();
}

function showGone() {
  ended = ended || 'the assist program stopped. If it starts again, it opens a new window.';
  render();
}

function wire() {
  $('chat-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = $('chat-text').value.trim();
    if (text && send({ type: 'chat', text })) $('chat-text').value = '';
  });
  $('pause').addEventListener('click', () => send({ type: state.paused ? 'unpause' : 'pause' }));
  $('revoke').addEventListener('click', () => send({ type: 'revoke' }));
  $('end').addEventListener('click', () => {
    $('end-confirm').hidden = false;
    $('end-no').focus();
  });
  $('end-no').addEventListener('click', () => {
    $('end-confirm').hidden = true;
  });
  $('end-yes').addEventListener('click', () => send({ type: 'end' }));
  $('offer-open').addEventListener('click', () => picker.open());
  setInterval(() => {
    if (state.session === 'reconnecting') render();
  }, 1000);
}

window.assistChat = {
  state: () => ({
    ...state, ended, prompts: [...prompts.keys()], lines: $('log').children.length, open: Boolean(ws && ws.readyState === 1), transfers,
    picker: picker.state(),
  }),
};

const picker = createPicker(send, canOffer);
wire();
render();
connect();
