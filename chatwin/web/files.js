// Pure helpers of the chat window's Files section and file picker.
// No DOM access here, so node --test can import this file.

/** Formats a byte count for people: "512 B", "2.10 MB", "80.0 MB". */
export function formatSize(n) {
  if (!Number.isFinite(n) || n < 0) return '';
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1000;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

/**
 * Formats a modification time (unix ms): the time alone for today, day and
 * month for this year, else the whole date. opts: locale, timeZone (tests).
 */
export function formatModified(ms, now = Date.now(), opts = {}) {
  if (!Number.isFinite(ms) || ms <= 0) return '';
  const { locale, timeZone } = opts;
  const d = new Date(ms);
  const day = (t) => new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(t);
  if (day(d) === day(new Date(now))) {
    return new Intl.DateTimeFormat(locale, { timeZone, hour: '2-digit', minute: '2-digit' }).format(d);
  }
  const sameYear = day(d).slice(0, 4) === day(new Date(now)).slice(0, 4);
  const fmt = sameYear ? { day: 'numeric', month: 'short' } : { day: 'numeric', month: 'short', year: 'numeric' };
  return new Intl.DateTimeFormat(locale, { timeZone, ...fmt }).format(d);
}

function plural(n, one, many) {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/** Says what a listing shows and what it leaves out, in one line. */
export function listingSummary(l) {
  if (!l) return '';
  const entries = l.entries || [];
  const dirs = entries.filter((e) => e.dir).length;
  const files = entries.length - dirs;
  const parts = [entries.length === 0 ? 'This folder is empty' : `${plural(dirs, 'folder', 'folders')}, ${plural(files, 'file', 'files')}`];
  if (l.omitted > 0) {
    parts.push(`${plural(l.omitted, 'more item is', 'more items are')} not shown (at most ${plural(entries.length, 'item', 'items')} at once)`);
  }
  if (l.partial) parts.push('the folder is very large: only part of it was read');
  if (l.hidden > 0) parts.push(`${plural(l.hidden, 'hidden item', 'hidden items')}`);
  if (l.skipped > 0) parts.push(`${plural(l.skipped, 'item', 'items')} that cannot be read or sent`);
  return `${parts.join('; ')}.`;
}

/**
 * Splits an absolute path into clickable steps, root first:
 * "/home/ana" -> [{name: "/", path: "/"}, {name: "home", path: "/home"}, {name: "ana", path: "/home/ana"}].
 * Windows paths ("C:\Users\ana") keep their drive as the first step.
 */
export function crumbs(path) {
  if (!path) return [];
  const win = /^[A-Za-z]:\\/.test(path) || path.startsWith('\\\\');
  const sep = win ? '\\' : '/';
  const parts = path.split(sep).filter((p) => p !== '');
  const out = [];
  let acc = '';
  if (!win) {
    out.push({ name: '/', path: '/' });
  }
  for (const p of parts) {
    if (win && out.length === 0) {
      acc = path.startsWith('\\\\') ? `\\\\${p}` : p;
      out.push({ name: p, path: `${acc}\\` });
      continue;
    }
    acc = win ? `${acc}\\${p}` : `${acc}/${p}`;
    out.push({ name: p, path: acc });
  }
  return out;
}

/** The picker's Send button: "Send", "Send 1 file", "Send 3 files". */
export function sendLabel(n) {
  if (!n) return 'Send';
  return `Send ${plural(n, 'file', 'files')}`;
}
