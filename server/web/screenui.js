// Console pieces for the screen beyond the picture: the pointer overlay,
// the quality line, the Screenshot button and the monitor picker. No DOM
// access at import time (node --test imports it).

/** "Q 80 · 20 fps max" for the agent's last quality report, or "Q –". */
export function qualityText(q) {
  if (!q) return 'Q –';
  return `Q ${q.quality} · ${q.fps} fps max`;
}

/** A tooltip with what the agent measured of the link. */
export function qualityTitle(q) {
  if (!q) return 'Photo quality and highest frame rate the customer’s agent chose for this link';
  const rate = q.bytesPerSec ? `${Math.round(q.bytesPerSec / 1024)} KiB/s measured` : 'link not saturated';
  const rtt = q.rttMs ? `, RTT ${q.rttMs} ms` : '';
  return `Photo (JPEG) quality ${q.quality}, at most ${q.fps} frames per second: ${rate}${rtt}`;
}

/** The file name of a screenshot taken now of session code. */
export function screenshotName(code, date = new Date()) {
  const pad = (n) => String(n).padStart(2, '0');
  const stamp = `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}-${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`;
  return `assist-${code}-${stamp}.png`;
}

/**
 * Saves the canvas at full resolution as a PNG download. Resolves with
 * {name, size} once the browser has the file, rejects when the canvas is
 * empty or cannot be encoded.
 */
export function saveScreenshot(canvas, code, doc = document) {
  return new Promise((resolve, reject) => {
    if (!canvas.width || !canvas.height) {
      reject(new Error('there is no picture yet'));
      return;
    }
    canvas.toBlob((blob) => {
      if (!blob) {
        reject(new Error('the browser could not encode the picture'));
        return;
      }
      const name = screenshotName(code);
      const url = URL.createObjectURL(blob);
      const a = doc.createElement('a');
      a.href = url;
      a.download = name;
      doc.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      resolve({ name, size: blob.size });
    }, 'image/png');
  });
}

/** The labels of the monitor picker: all monitors first, then each. */
export function monitorOptions(monitors) {
  const list = Array.isArray(monitors) ? monitors : [];
  const opts = [{ value: 0, label: 'All monitors' }];
  list.forEach((m, i) => {
    opts.push({ value: i + 1, label: `Monitor ${i + 1} (${m.w}×${m.h}${m.primary ? ', primary' : ''})` });
  });
  return opts;
}

/**
 * Places the pointer overlay: cursor is the renderer's {visible, x, y,
 * hotX, hotY, image}; scale the picture's CSS pixels per customer pixel.
 */
export function placeCursor(el, cursor, scale) {
  if (!cursor || !cursor.visible || !cursor.image || !scale) {
    el.hidden = true;
    return;
  }
  const img = cursor.image;
  if (el.shape !== img) { // a new shape: draw it once
    el.shape = img;
    el.width = img.width;
    el.height = img.height;
    const ctx = el.getContext('2d');
    ctx.clearRect(0, 0, img.width, img.height);
    ctx.drawImage(img, 0, 0);
  }
  el.style.width = `${img.width * scale}px`;
  el.style.height = `${img.height * scale}px`;
  el.style.transform = `translate(${(cursor.x - cursor.hotX) * scale}px, ${(cursor.y - cursor.hotY) * scale}px)`;
  el.dataset.x = String(cursor.x);
  el.dataset.y = String(cursor.y);
  el.hidden = false;
}
