// Unit tests for format.js (codes, countdowns, platform detection, status line).
// Run: node --test server/web/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  normalizeCode, isCode, formatCode, formatCountdown, formatSize, detectPlatform, pickDownloads, joinCommand, statusText,
} from './format.js';

test('codes', () => {
  assert.equal(normalizeCode(' 123-456 789 '), '123456789');
  assert.ok(isCode('123456789'));
  assert.ok(!isCode('12345678'));
  assert.ok(!isCode('12345678a'));
  assert.ok(!isCode('１２３４５６７８９'));
  assert.equal(formatCode('123456789'), '123 456 789');
  assert.equal(formatCode('123-456-789'), '123 456 789');
  assert.equal(joinCommand('123456789', 'http://h:8200'), 'assist join 123456789 --server http://h:8200');
});

test('formatCountdown', () => {
  assert.equal(formatCountdown(600000), '10:00');
  assert.equal(formatCountdown(61001), '1:02');
  assert.equal(formatCountdown(500), '0:01');
  assert.equal(formatCountdown(-5), '0:00');
});

test('formatSize', () => {
  assert.equal(formatSize(512), '512 bytes');
  assert.equal(formatSize(9_400_000), '9.4 MB');
  assert.equal(formatSize(undefined), '');
});

test('detectPlatform', () => {
  const cases = [
    [{ platform: 'Win32', userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64)' }, { os: 'windows', arch: 'amd64' }],
    [{ platform: 'MacIntel', userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)' }, { os: 'darwin', arch: 'amd64' }],
    [{ uaPlatform: 'macOS', architecture: 'arm', bitness: '64' }, { os: 'darwin', arch: 'arm64' }],
    [{ platform: 'Linux x86_64', userAgent: 'Mozilla/5.0 (X11; Linux x86_64)' }, { os: 'linux', arch: 'amd64' }],
    [{ platform: 'Linux aarch64', userAgent: 'Mozilla/5.0 (X11; Linux aarch64)' }, { os: 'linux', arch: 'arm64' }],
    [{ platform: 'Linux armv8l', userAgent: 'Mozilla/5.0 (Linux; Android 14)' }, { os: '', arch: '' }],
  ];
  for (const [ua, want] of cases) assert.deepEqual(detectPlatform(ua), want, JSON.stringify(ua));
});

test('pickDownloads', () => {
  const d = [
    { os: 'linux', arch: 'arm64', url: '/download/a' },
    { os: 'windows', arch: 'amd64', url: '/download/b' },
    { os: 'linux', arch: 'amd64', url: '/download/c' },
  ];
  const p = pickDownloads(d, { os: 'linux', arch: 'amd64' });
  assert.equal(p.recommended.url, '/download/c');
  assert.deepEqual(p.sameOS.map((x) => x.url), ['/download/c', '/download/a']);
  assert.deepEqual(p.others.map((x) => x.url), ['/download/b']);
  assert.equal(pickDownloads(d, { os: 'darwin', arch: 'arm64' }).recommended, null);
  assert.equal(pickDownloads(null, { os: 'linux' }).recommended, null);
});

test('statusText', () => {
  const base = { phase: 'attached', code: '123456789', error: null, fatal: false };
  assert.equal(statusText({ ...base, state: 'waiting' }, 0), 'Waiting for the customer to join with code 123 456 789');
  assert.match(statusText({ ...base, state: 'active', peer: '' }, 0), /^Customer connected/);
  assert.equal(statusText({ ...base, state: 'active', peer: 'connected', screen: true }, 0), 'Customer connected: viewing the screen');
  assert.equal(statusText({ ...base, state: 'suspended', deadline: 125000 }, 0), 'Customer reconnecting (2:05 left)');
  assert.equal(statusText({ ...base, phase: 'closed', state: 'ended', reason: 'customer left' }, 0), 'Session ended: customer left');
  assert.equal(statusText({ ...base, phase: 'closed', fatal: true, error: { code: 'bad_code', message: 'No such code.' } }, 0), 'No such code.');
  assert.equal(statusText({ ...base, phase: 'retrying', retryAt: 2500 }, 0), 'Connection to the server lost; retrying in 3 s…');
  assert.equal(statusText({ ...base, phase: 'connecting', state: '' }, 0), 'Connecting to the server…');
});
