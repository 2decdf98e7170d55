// The chat window's file picker: a dialog that lists the customer's folders
// through the agent (list_dir / dir on the page's WebSocket; the browser
// cannot hand a local path to the page) and offers the chosen files to the
// support technician (offer_files / offer_done).

import { formatSize, formatModified, listingSummary, crumbs, sendLabel } from './files.js';

const $ = (id) => document.getElementById(id);

/** The most files one Send offers (chatwin.MaxOfferFiles). */
export const MAX_FILES = 100;

/**
 * Creates the picker on the page's #picker dialog. send(message) sends on
 * the WebSocket and reports whether it could; canSend() says whether a
 * support technician is connected.
 */
export function createPicker(send, canSend) {
  let seq = 0;
  let want = 0; // the id of the listing asked for last
  let offering = 0; // the id of the running offer
  let listing = null;
  let error = '';
  let busy = false;
  let lastPath = '';
  const selected = new Set();

  function list(path) {
    want = ++seq;
    busy = true;
    error = '';
    if (!send({ type: 'list_dir', id: want, path, hidden: $('picker-hidden').checked })) {
      busy = false;
      error = 'This window is not connected to the assist program.';
    }
    render();
  }

  function onDir(m) {
    if (m.id !== want) return; // an answer to an older request
    busy = false;
    error = m.error || '';
    if (m.listing) {
      if (!m.error || !listing) listing = m.listing;
      else listing = { ...listing, places: m.listing.places }; // stay where the customer was
      if (!m.error) {
        lastPath = listing.path;
        selected.clear();
      }
    }
    render();
  }

  function offer() {
    if (!listing || selected.size === 0 || offering) return;
    offering = ++seq;
    error = '';
    if (!send({ type: 'offer_files', id: offering, path: listing.path, names: [...selected] })) {
      offering = 0;
      error = 'This window is not connected to the assist program.';
    }
    render();
  }

  function onOfferDone(m) {
    if (m.id !== offering) return;
    offering = 0;
    if (m.error) {
      error = m.error;
      render();
      return;
    }
    selected.clear();
    $('picker').close();
  }

  function toggle(name, on) {
    if (on && selected.size >= MAX_FILES) {
      error = `At most ${MAX_FILES} files at a time.`;
      render();
      return;
    }
    if (on) selected.add(name);
    else selected.delete(name);
    error = '';
    renderFooter();
  }

  function open() {
    error = '';
    selected.clear();
    $('picker').showModal();
    list(lastPath);
  }

  function renderPlaces() {
    const nav = $('picker-places');
    nav.replaceChildren();
    for (const p of (listing && listing.places) || []) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'secondary place';
      b.textContent = p.name;
      b.dataset.path = p.path;
      if (listing && listing.path === p.path) b.setAttribute('aria-current', 'location');
      b.onclick = () => list(p.path);
      nav.append(b);
    }
  }

  function renderPath() {
    const where = $('picker-path');
    where.replaceChildren();
    const steps = crumbs(listing ? listing.path : '');
    steps.forEach((c, i) => {
      if (i > 0 && steps[i - 1].name !== '/') where.append(document.createTextNode(' / '));
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'crumb';
      b.textContent = c.name;
      b.onclick = () => list(c.path);
      if (i === steps.length - 1) b.setAttribute('aria-current', 'location');
      where.append(b);
    });
    $('picker-up').disabled = !listing || !listing.parent || busy;
  }

  function row(e) {
    const tr = document.createElement('tr');
    tr.dataset.name = e.name;
    tr.dataset.kind = e.dir ? 'dir' : 'file';
    const name = document.createElement('td');
    if (e.dir) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'entry folder';
      b.textContent = e.name;
      b.title = `Open ${e.name}`;
      b.onclick = () => list(joinPath(listing.path, e.name));
      name.append(b);
    } else {
      const label = document.createElement('label');
      label.className = 'entry file';
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.value = e.name;
      box.checked = selected.has(e.name);
      box.onchange = () => toggle(e.name, box.checked);
      label.append(box, document.createTextNode(` ${e.name}`));
      name.append(label);
    }
    if (e.link) name.append(Object.assign(document.createElement('span'), { className: 'muted small', textContent: ' (link)' }));
    const size = document.createElement('td');
    size.className = 'size';
    size.textContent = e.dir ? '' : formatSize(e.size);
    const mod = document.createElement('td');
    mod.className = 'modified';
    mod.textContent = formatModified(e.modified);
    tr.append(name, size, mod);
    return tr;
  }

  function renderFooter() {
    $('picker-send').textContent = sendLabel(selected.size);
    $('picker-send').disabled = selected.size === 0 || Boolean(offering) || !canSend();
    $('picker-note').textContent = canSend() ? '' : 'No support technician is connected right now.';
    $('picker-error').textContent = error;
    $('picker-error').hidden = !error;
  }

  function render() {
    renderPlaces();
    renderPath();
    const body = $('picker-rows');
    body.replaceChildren();
    if (listing) for (const e of listing.entries || []) body.append(row(e));
    $('picker-summary').textContent = busy ? 'Loading…' : listingSummary(listing);
    $('picker').setAttribute('aria-busy', String(busy));
    renderFooter();
  }

  $('picker-up').addEventListener('click', () => listing && listing.parent && list(listing.parent));
  $('picker-hidden').addEventListener('change', () => listing && list(listing.path));
  $('picker-send').addEventListener('click', offer);
  $('picker-cancel').addEventListener('click', () => $('picker').close());

  return {
    open,
    /** handle takes the WebSocket's dir and offer_done messages; false for others. */
    handle(m) {
      if (m.type === 'dir') onDir(m);
      else if (m.type === 'offer_done') onOfferDone(m);
      else return false;
      return true;
    },
    /** refresh re-renders (a technician connected or left). */
    refresh() {
      if ($('picker').open) renderFooter();
    },
    state: () => ({
      open: $('picker').open, busy, error, path: listing ? listing.path : '',
      entries: listing ? (listing.entries || []).map((e) => e.name) : [], selected: [...selected],
    }),
  };
}

/** joinPath appends a name to a folder path, either separator. */
function joinPath(dir, name) {
  const sep = /^[A-Za-z]:\\/.test(dir) || dir.startsWith('\\\\') ? '\\' : '/';
  return dir.endsWith(sep) ? dir + name : dir + sep + name;
}
