// Small pure helpers shared by the support page and the rep console.
// No DOM access here, so node --test can import this file.

/** Strips the spaces and dashes people type inside a code (as protocol.NormalizeCode). */
export function normalizeCode(s) {
  return String(s ?? '').replace(/[\s-]/g, '');
}

/** Reports whether s is a session code: nine ASCII digits (as protocol.IsCode). */
export function isCode(s) {
  return /^[0-9]{9}$/.test(s);
}

/** Formats a nine-digit code for reading aloud: "123 456 789". */
export function formatCode(code) {
  const c = normalizeCode(code);
  return isCode(c) ? `${c.slice(0, 3)} ${c.slice(3, 6)} ${c.slice(6)}` : c;
}

/** Formats a duration in milliseconds as m:ss, never negative. */
export function formatCountdown(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const m = Math.floor(total / 60);
  const s = total % 60;
  return `${m}:${String(s).padStart(2, '0')}`;
}

/** Formats a byte count for people: "4.2 MB". */
export function formatSize(n) {
  if (!Number.isFinite(n) || n <= 0) return '';
  const units = ['bytes', 'KB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${n.toFixed(1)} ${units[i]}`;
}

const osNames = { linux: 'Linux', windows: 'Windows', darwin: 'macOS', freebsd: 'FreeBSD' };
const archNames = { amd64: '64-bit Intel/AMD', arm64: '64-bit ARM', '386': '32-bit Intel/AMD', arm: '32-bit ARM' };

/** Names a Go GOOS value for people. */
export function osName(goos) {
  return osNames[goos] || goos || 'unknown system';
}

/** Names a Go GOARCH value for people. */
export function archName(goarch) {
  return archNames[goarch] || goarch || '';
}

/**
 * Guesses the customer's GOOS and GOARCH from what the browser tells.
 * ua is {platform, userAgent, uaPlatform, architecture, bitness} (any may be missing).
 */
export function detectPlatform(ua) {
  const text = `${ua.uaPlatform || ''} ${ua.platform || ''} ${ua.userAgent || ''}`.toLowerCase();
  let os = '';
  if (/android|iphone|ipad|cros/.test(text)) os = '';
  else if (/win/.test(text)) os = 'windows';
  else if (/mac|darwin/.test(text)) os = 'darwin';
  else if (/linux|x11/.test(text)) os = 'linux';
  else if (/freebsd/.test(text)) os = 'freebsd';
  let arch = '';
  const a = String(ua.architecture || '').toLowerCase();
  if (a === 'arm') arch = ua.bitness === '32' ? 'arm' : 'arm64';
  else if (a === 'x86') arch = ua.bitness === '32' ? '386' : 'amd64';
  else if (/aarch64|arm64/.test(text)) arch = 'arm64';
  else if (/x86_64|x64|amd64|win64|wow64|intel/.test(text)) arch = 'amd64';
  return { os, arch };
}

/**
 * Orders downloads for a platform: the ones for os first (the matching arch
 * first among them); returns {recommended, sameOS, others}.
 */
export function pickDownloads(downloads, platform) {
  const list = Array.isArray(downloads) ? downloads.filter((d) => d && d.url) : [];
  const sameOS = list.filter((d) => d.os === platform.os);
  sameOS.sort((a, b) => (b.arch === platform.arch) - (a.arch === platform.arch));
  const others = list.filter((d) => d.os !== platform.os);
  return { recommended: sameOS[0] || null, sameOS, others };
}

/** The command the customer runs. */
export function joinCommand(code, serverURL) {
  return `assist join ${code} --server ${serverURL}`;
}

/**
 * The status line of the rep console, from a snapshot of the session
 * (see RepSession.snapshot). now is Date.now().
 */
export function statusText(s, now) {
  if (s.error && s.fatal) return s.error.message || `Error: ${s.error.code}`;
  switch (s.phase) {
    case 'idle':
      return 'Not connected';
    case 'connecting':
      return 'Connecting to the server…';
    case 'retrying':
      return `Connection to the server lost; retrying in ${Math.max(1, Math.ceil((s.retryAt - now) / 1000))} s…`;
    default:
  }
  switch (s.state) {
    case 'waiting':
      return `Waiting for the customer to join with code ${formatCode(s.code)}`;
    case 'active':
      return `Customer connected${peerText(s)}`;
    case 'suspended':
      return s.deadline
        ? `Customer reconnecting (${formatCountdown(s.deadline - now)} left)`
        : 'Customer reconnecting';
    case 'ended':
      return `Session ended: ${s.reason || 'no reason given'}`;
    default:
      return 'Connecting to the server…';
  }
}

function peerText(s) {
  if (s.bye) return `: the customer stopped sharing (${s.bye})`;
  switch (s.peer) {
    case '':
    case undefined:
      return ': waiting for the customer to allow screen sharing';
    case 'new':
    case 'connecting':
      return ': connecting to the customer’s screen…';
    case 'connected':
      return s.screen ? ': viewing the screen' : ': waiting for the screen…';
    case 'disconnected':
      return ': connection interrupted, waiting for it to recover…';
    case 'failed':
      return ': the connection to the customer failed; waiting for them to retry';
    case 'closed':
      return ': connection closed';
    default:
      return '';
  }
}
