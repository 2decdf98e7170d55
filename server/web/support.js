// The customer's support page: checks the code, offers the agent download
// for the customer's system and shows the exact command to run. The page
// reads fine without this script; it only fills in the specifics.

import {
  archName, detectPlatform, formatCode, formatSize, isCode, joinCommand, normalizeCode, osName, pickDownloads,
} from './format.js';

const $ = (id) => document.getElementById(id);

let info = { version: '', downloads: [], server_url: location.origin };
let platform = { os: '', arch: '' };
let code = '';

async function loadInfo() {
  try {
    const res = await fetch('/api/info');
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const body = await res.json();
    info = {
      version: body.version || '',
      downloads: Array.isArray(body.downloads) ? body.downloads : [],
      server_url: body.server_url || location.origin,
    };
    return true;
  } catch (err) {
    console.warn('assist: /api/info failed', err);
    return false;
  }
}

async function loadPlatform() {
  const nav = navigator;
  const ua = { platform: nav.platform, userAgent: nav.userAgent };
  const data = nav.userAgentData;
  if (data) {
    ua.uaPlatform = data.platform;
    try {
      const high = await data.getHighEntropyValues(['architecture', 'bitness']);
      ua.architecture = high.architecture;
      ua.bitness = high.bitness;
    } catch {
      // Not allowed here: guess from the user agent string.
    }
  }
  return detectPlatform(ua);
}

// --- the code ---

function checkCode(showError) {
  const input = $('code');
  const c = normalizeCode(input.value);
  const ok = isCode(c);
  let message = '';
  if (!ok && showError) {
    message = c === ''
      ? 'Please enter the code your support technician gave you.'
      : /[^0-9]/.test(c)
        ? 'The code has only digits, like 123 456 789.'
        : `The code has 9 digits; you entered ${c.length}.`;
  }
  $('code-error').textContent = message;
  input.setAttribute('aria-invalid', message ? 'true' : 'false');
  return ok ? c : '';
}

// setCode records a valid code (or '' for none); reformat rewrites the
// input as "123 456 789", which is done on submit only, never mid-typing.
function setCode(c, reformat = true) {
  code = c;
  if (c && reformat) $('code').value = formatCode(c);
  if (c) {
    const url = new URL(location.href);
    url.searchParams.set('code', c);
    history.replaceState(null, '', url);
  }
  renderCommand();
}

// --- downloads ---

function renderDownloads() {
  const box = $('downloads');
  box.replaceChildren();
  const { recommended, sameOS, others } = pickDownloads(info.downloads, platform);
  if (info.downloads.length === 0) {
    box.append(para('No downloads of the assist program are available on this server. ' +
      'Please ask your support technician how to get it.'));
    return;
  }
  if (recommended) {
    box.append(para(`For your computer (${osName(platform.os)}):`));
    box.append(downloadList([recommended], true));
    if (sameOS.length > 1) box.append(para('Other versions for the same system:', 'muted small'), downloadList(sameOS.slice(1)));
  } else {
    const system = platform.os ? osName(platform.os) : 'your system';
    box.append(para(`There is no download for ${system} on this server. Please tell your support technician. ` +
      'If your computer runs one of the systems below, use that one.'));
  }
  if (others.length > 0) {
    const details = document.createElement('details');
    details.open = !recommended;
    const summary = document.createElement('summary');
    summary.textContent = 'Downloads for other systems';
    details.append(summary, downloadList(others));
    box.append(details);
  }
}

function para(text, className = '') {
  const p = document.createElement('p');
  p.textContent = text;
  if (className) p.className = className;
  return p;
}

function downloadList(downloads, primary = false) {
  const ul = document.createElement('ul');
  ul.className = 'downloads';
  for (const d of downloads) {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = d.url;
    a.setAttribute('download', d.name || '');
    a.className = primary ? 'button' : '';
    a.textContent = `Download ${d.name || 'assist'}`;
    const what = [osName(d.os), archName(d.arch), formatSize(d.size)].filter(Boolean).join(', ');
    li.append(a, document.createTextNode(` ${what ? `(${what})` : ''}`));
    ul.append(li);
  }
  return ul;
}

// --- the command ---

function renderCommand() {
  const shown = code || 'YOUR-CODE';
  $('command').textContent = joinCommand(shown, info.server_url);
  $('copy-command').hidden = !code;
  $('copy-status').textContent = '';
  $('run-note').textContent = runNote();
}

function runNote() {
  const { recommended } = pickDownloads(info.downloads, platform);
  const file = recommended && recommended.name;
  if (platform.os === 'windows') {
    return file && file !== 'assist.exe'
      ? `Windows saves the program as ${file}: type that name instead of “assist”.`
      : '';
  }
  if (file && file !== 'assist') {
    return `The program is saved as ${file}: first run “chmod +x ${file}”, then type “./${file}” instead of “assist”.`;
  }
  return '';
}

async function copyCommand() {
  const text = $('command').textContent;
  try {
    await navigator.clipboard.writeText(text);
    $('copy-status').textContent = 'Command copied. Paste it into the terminal and press Enter.';
  } catch {
    const range = document.createRange();
    range.selectNodeContents($('command'));
    const sel = getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    $('copy-status').textContent = 'Could not copy automatically: the command is selected, press Ctrl+C (⌘C on a Mac).';
  }
}

// --- wiring ---

function wire() {
  $('code-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const c = checkCode(true);
    if (!c) {
      $('code').focus();
      return;
    }
    setCode(c);
    const calm = matchMedia('(prefers-reduced-motion: reduce)').matches;
    $('step-download').scrollIntoView({ behavior: calm ? 'auto' : 'smooth', block: 'start' });
  });
  $('code').addEventListener('input', () => {
    const c = checkCode(false);
    if (c !== code) setCode(c, false);
  });
  $('code').addEventListener('blur', () => {
    if ($('code').value.trim() !== '') checkCode(true);
  });
  $('copy-command').addEventListener('click', copyCommand);
}

async function boot() {
  wire();
  const [ok, p] = await Promise.all([loadInfo(), loadPlatform()]);
  platform = p;
  if (ok) renderDownloads();
  else $('downloads').replaceChildren(para('Could not load the downloads from this server. Reload the page, or ask your support technician.'));
  $('version').textContent = info.version ? `assist ${info.version}` : 'assist';
  $('run-intro').textContent = platform.os === 'windows'
    ? 'Open Command Prompt in the folder where you saved the program (usually Downloads), and run:'
    : 'Open a terminal in the folder where you saved the program (usually Downloads), and run:';
  const fromURL = normalizeCode(new URLSearchParams(location.search).get('code') || '');
  if (isCode(fromURL)) setCode(fromURL);
  else {
    if (fromURL) {
      $('code').value = fromURL;
      checkCode(true);
    }
    renderCommand();
  }
}

boot();
