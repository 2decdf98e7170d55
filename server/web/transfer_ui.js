// The console's transfers panel: drag and drop onto the customer's screen,
// "Send files…", "Get a file…", one row per transfer with a progress bar
// (bytes, rate, time left), Save/Decline for files the customer offers,
// Cancel. Received files are saved through the File System Access API when
// the browser has it (written block by block, committed only when
// verified), else through a download link.

import { formatDuration, formatSize } from './transfer.js';

const stateText = {
  offered: 'Waiting for the customer to accept…',
  asking: 'The customer offers this file.',
  running: '',
  waiting: 'Paused: reconnecting to the customer…',
  interrupted: 'Interrupted — choose the file again to resume',
  done: 'Done',
  failed: 'Failed',
  cancelled: 'Cancelled',
  refused: 'Declined',
};

/** Renders transfers.list() into panel's list, updating rows in place. */
export function renderTransfers(panel, transfers) {
  if (!panel || !transfers) return;
  const list = panel.querySelector('.transfer-list');
  const items = transfers.list();
  panel.querySelector('.transfer-empty').hidden = items.length > 0;
  const rows = new Map([...list.children].map((li) => [li.dataset.id, li]));
  let before = list.firstElementChild;
  for (const t of items) {
    let li = rows.get(t.id);
    if (li) rows.delete(t.id);
    else li = newRow(t);
    fillRow(li, t);
    if (li !== before) list.insertBefore(li, before);
    before = li.nextElementSibling;
  }
  for (const li of rows.values()) li.remove();
}

function newRow(t) {
  const li = document.createElement('li');
  li.dataset.id = t.id;
  li.innerHTML = '<div class="transfer-head"><span class="dir"></span> <span class="name"></span></div>' +
    '<progress max="1" value="0"></progress><div class="transfer-detail"></div>' +
    '<div class="transfer-actions"><button type="button" class="small" data-action="save">Save</button>' +
    '<button type="button" class="secondary small" data-action="decline">Decline</button>' +
    '<button type="button" class="secondary small" data-action="cancel">Cancel</button>' +
    '<button type="button" class="small" data-action="choose">Choose file…</button>' +
    '<button type="button" class="secondary small" data-action="discard">Discard</button>' +
    '<input type="file" class="resume-input" hidden></div>';
  return li;
}

function detail(t) {
  if (t.state === 'failed' || t.state === 'refused' || t.state === 'cancelled') return `${stateText[t.state]}: ${t.error}`;
  if (t.state === 'done') return `${formatSize(t.size)} · SHA-256 ${t.sha256}`;
  if (t.state === 'interrupted') {
    const s = `${stateText.interrupted} (${formatSize(t.bytes)} of ${formatSize(t.size)} sent, or drop it here).`;
    return t.error ? `${s} ${t.error}` : s;
  }
  if (t.state !== 'running') return stateText[t.state] || t.state;
  let s = `${formatSize(t.bytes)} of ${formatSize(t.size)}`;
  if (t.rate > 0) s += ` · ${formatSize(Math.round(t.rate))}/s · ${formatDuration(t.eta)} left`;
  if (t.resumed) s += ' · resumed';
  return s;
}

function fillRow(li, t) {
  li.dataset.state = t.state;
  const set = (sel, text) => {
    const el = li.querySelector(sel);
    if (el.textContent !== text) el.textContent = text;
  };
  set('.dir', t.send ? '↑ To customer' : '↓ From customer');
  set('.name', t.name);
  set('.transfer-detail', detail(t));
  const bar = li.querySelector('progress');
  bar.max = Math.max(t.size, 1);
  bar.value = t.state === 'done' ? bar.max : t.bytes;
  bar.setAttribute('aria-label', `${t.name}: ${Math.round((100 * bar.value) / bar.max)}%`);
  const final = ['done', 'failed', 'cancelled', 'refused'].includes(t.state);
  li.querySelector('[data-action=save]').hidden = t.state !== 'asking';
  li.querySelector('[data-action=decline]').hidden = t.state !== 'asking';
  li.querySelector('[data-action=cancel]').hidden = final || t.state === 'asking' || t.state === 'interrupted';
  li.querySelector('[data-action=choose]').hidden = t.state !== 'interrupted';
  li.querySelector('[data-action=discard]').hidden = t.state !== 'interrupted';
  li.querySelector('[data-action=choose]').setAttribute('aria-label', `Choose ${t.name} again to resume sending it`);
}

/** Saves a verified file through a download link. */
export function saveDownload({ name, parts }) {
  const url = URL.createObjectURL(new Blob(parts, { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

async function save(transfers, id) {
  const t = transfers.list().find((x) => x.id === id);
  if (!t) return;
  if (typeof window.showSaveFilePicker === 'function') {
    let handle;
    try {
      handle = await window.showSaveFilePicker({ suggestedName: t.name });
    } catch (err) {
      if (err && err.name === 'AbortError') return; // the rep closed the dialog: still offered
      transfers.accept(id); // no picker here: a download link
      return;
    }
    transfers.accept(id, await handle.createWritable());
    return;
  }
  transfers.accept(id);
}

/** Wires drag and drop, the buttons and the forms; current() returns the session's Transfers. */
export function wireTransfers({ stage, panel, current }) {
  let depth = 0;
  const over = (on) => stage.classList.toggle('drop-target', on);
  stage.addEventListener('dragenter', (e) => {
    if (!current() || !e.dataTransfer || ![...e.dataTransfer.types].includes('Files')) return;
    e.preventDefault();
    depth++;
    over(true);
  });
  stage.addEventListener('dragover', (e) => {
    if (!current()) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
  });
  stage.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) over(false);
  });
  stage.addEventListener('drop', (e) => {
    e.preventDefault();
    depth = 0;
    over(false);
    const t = current();
    if (!t || !e.dataTransfer) return;
    for (const f of e.dataTransfer.files) t.send(f);
  });
  panel.querySelector('.send-input').addEventListener('change', (e) => {
    const t = current();
    if (t) for (const f of e.target.files) t.send(f);
    e.target.value = '';
  });
  panel.querySelector('.send-button').addEventListener('click', () => panel.querySelector('.send-input').click());
  panel.querySelector('.pull-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = panel.querySelector('.pull-path');
    const path = input.value.trim();
    const t = current();
    if (!t || !path) return;
    t.pull(path);
    input.value = '';
  });
  panel.querySelector('.transfer-list').addEventListener('click', (e) => {
    const button = e.target.closest('button[data-action]');
    const t = current();
    if (!button || !t) return;
    const id = button.closest('li').dataset.id;
    if (button.dataset.action === 'cancel') t.cancel(id);
    if (button.dataset.action === 'decline') t.decline(id);
    if (button.dataset.action === 'save') save(t, id);
    if (button.dataset.action === 'choose') button.closest('li').querySelector('.resume-input').click();
    if (button.dataset.action === 'discard') t.discard(id);
  });
  // An interrupted transfer continues with its file chosen or dropped again.
  const list = panel.querySelector('.transfer-list');
  list.addEventListener('change', (e) => {
    const input = e.target.closest('.resume-input');
    const t = current();
    if (!input || !t) return;
    if (input.files[0]) t.resumeWith(input.closest('li').dataset.id, input.files[0]);
    input.value = '';
  });
  const interruptedRow = (e) => {
    const li = e.target.closest && e.target.closest('li[data-state=interrupted]');
    return li && current() && e.dataTransfer && [...e.dataTransfer.types].includes('Files') ? li : null;
  };
  list.addEventListener('dragover', (e) => {
    if (!interruptedRow(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
  });
  list.addEventListener('drop', (e) => {
    const li = interruptedRow(e);
    if (!li) return;
    e.preventDefault();
    if (e.dataTransfer.files[0]) current().resumeWith(li.dataset.id, e.dataTransfer.files[0]);
  });
  panel.querySelector('.clear-finished').addEventListener('click', () => {
    const t = current();
    if (t) t.clearFinished();
  });
}
