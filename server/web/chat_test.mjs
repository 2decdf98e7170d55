// Unit tests for chat.js's ChatState (no DOM). Run: node --test server/web/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatState } from './chat.js';

test('chat lines merge by id, history sorts by time', () => {
  const s = new ChatState();
  assert.equal(s.handle({ type: 'chat', chat: { id: 'a-2', from: 'customer', text: 'second', time: 2 } }), true);
  s.handle({ type: 'chat_history', history: [
    { id: 'a-1', from: 'rep', text: 'first', time: 1 },
    { id: 'a-2', from: 'customer', text: 'second', time: 2 },
  ] });
  assert.deepEqual(s.lines.map((l) => l.text), ['first', 'second']);
  s.handle({ type: 'chat', chat: { id: 'a-1', from: 'rep', text: 'first', time: 1 } });
  assert.equal(s.lines.length, 2);
  s.handle({ type: 'chat', chat: { text: '' } });
  s.handle({ type: 'chat' });
  assert.equal(s.lines.length, 2);
});

test('sharing and reboot states', () => {
  const s = new ChatState();
  s.handle({ type: 'sharing', state: 'paused' });
  assert.equal(s.paused, true);
  s.handle({ type: 'sharing', state: 'on' });
  assert.equal(s.paused, false);
  assert.equal(s.rebootText(), '');
  s.handle({ type: 'reboot', state: 'declined' });
  assert.match(s.rebootText(), /declined/);
  s.handle({ type: 'reboot', state: 'failed', message: 'no service' });
  assert.match(s.rebootText(), /no service/);
  assert.equal(s.handle({ type: 'pong' }), false);
});
