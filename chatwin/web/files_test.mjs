// Unit tests for files.js (sizes, times, the picker's summary line, path
// steps). Run: node --test chatwin/web/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSize, formatModified, listingSummary, crumbs, sendLabel } from './files.js';

test('formatSize', () => {
  assert.equal(formatSize(0), '0 B');
  assert.equal(formatSize(999), '999 B');
  assert.equal(formatSize(2_100_000), '2.10 MB');
  assert.equal(formatSize(80_000_000), '80.0 MB');
  assert.equal(formatSize(3e15), '3000.0 TB');
  assert.equal(formatSize(undefined), '');
  assert.equal(formatSize(-1), '');
});

test('formatModified: today a time, this year a day, else the year too', () => {
  const opts = { locale: 'en-GB', timeZone: 'UTC' };
  const now = Date.UTC(2025, 5, 15, 18, 0);
  assert.equal(formatModified(Date.UTC(2025, 5, 15, 9, 5), now, opts), '09:05');
  assert.equal(formatModified(Date.UTC(2025, 0, 2, 9, 5), now, opts), '2 Jan');
  assert.equal(formatModified(Date.UTC(2023, 11, 31, 9, 5), now, opts), '31 Dec 2023');
  assert.equal(formatModified(0, now, opts), '');
});

test('listingSummary says what is left out', () => {
  assert.equal(listingSummary({ entries: [] }), 'This folder is empty.');
  assert.equal(listingSummary({ entries: [{ name: 'a', dir: true }, { name: 'b' }] }), '1 folder, 1 file.');
  const big = { entries: Array.from({ length: 2000 }, (_, i) => ({ name: `f${i}`, dir: i < 3 })), omitted: 1234, hidden: 5, skipped: 1 };
  assert.equal(listingSummary(big),
    '3 folders, 1,997 files; 1,234 more items are not shown (at most 2,000 items at once); 5 hidden items; 1 item that cannot be read or sent.');
  assert.match(listingSummary({ entries: [{ name: 'x' }], partial: true }), /only part of it was read/);
  assert.equal(listingSummary(null), '');
});

test('crumbs: every step of a path, clickable', () => {
  assert.deepEqual(crumbs('/'), [{ name: '/', path: '/' }]);
  assert.deepEqual(crumbs('/home/ana'), [
    { name: '/', path: '/' }, { name: 'home', path: '/home' }, { name: 'ana', path: '/home/ana' },
  ]);
  assert.deepEqual(crumbs('C:\\Users\\ana'), [
    { name: 'C:', path: 'C:\\' }, { name: 'Users', path: 'C:\\Users' }, { name: 'ana', path: 'C:\\Users\\ana' },
  ]);
  assert.deepEqual(crumbs(''), []);
});

test('sendLabel', () => {
  assert.equal(sendLabel(0), 'Send');
  assert.equal(sendLabel(1), 'Send 1 file');
  assert.equal(sendLabel(12), 'Send 12 files');
});
