// Unit tests for screenui.js. Run: node --test server/web/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { monitorOptions, placeCursor, qualityText, screenshotName } from './screenui.js';

test('qualityText and screenshotName', () => {
  assert.equal(qualityText(null), 'Q –');
  assert.equal(qualityText({ quality: 70, fps: 12 }), 'Q 70 · 12 fps max');
  assert.equal(screenshotName('123456789', new Date(2026, 0, 2, 3, 4, 5)), 'assist-123456789-20260102-030405.png');
});

test('monitorOptions lists all monitors first', () => {
  assert.deepEqual(monitorOptions([{ w: 1920, h: 1080, primary: true }, { w: 1280, h: 1024 }]), [
    { value: 0, label: 'All monitors' },
    { value: 1, label: 'Monitor 1 (1920×1080, primary)' },
    { value: 2, label: 'Monitor 2 (1280×1024)' },
  ]);
  assert.deepEqual(monitorOptions(undefined), [{ value: 0, label: 'All monitors' }]);
});

test('placeCursor scales, offsets by the hotspot, draws a shape once, hides', () => {
  let draws = 0;
  const el = { hidden: true, width: 0, height: 0, style: {}, dataset: {}, getContext: () => ({ clearRect() {}, drawImage() { draws++; } }) };
  const image = { width: 16, height: 24 };
  placeCursor(el, { visible: true, x: 100, y: 50, hotX: 2, hotY: 4, image }, 0.5);
  assert.equal(el.hidden, false);
  assert.equal(el.style.transform, 'translate(49px, 23px)');
  assert.equal(el.style.width, '8px');
  placeCursor(el, { visible: true, x: 10, y: 10, hotX: 2, hotY: 4, image }, 0.5);
  assert.equal(draws, 1);
  placeCursor(el, { visible: false, x: 10, y: 10, hotX: 2, hotY: 4, image }, 0.5);
  assert.equal(el.hidden, true);
});
