// The rep console's chat panel and the session-lifecycle controls: the
// chat with the customer (history merged by id, so a resumed agent's
// history does not duplicate lines), whether the customer paused sharing,
// and "Reboot and reconnect". It talks to the agent over the control data
// channel through the RepSession (send) and touches only its own elements.

export const MAX_CHAT_TEXT = 4096;

const rebootTexts = {
  asking: 'Asking the customer to allow the restart…',
  declined: 'The customer declined the restart.',
  restarting: 'The customer’s computer is restarting. The session resumes after it.',
  failed: 'The restart could not be arranged',
};

/** Chat and lifecycle state for one session; pure logic, no DOM. */
export class ChatState {
  constructor() {
    this.lines = [];
    this.ids = new Set();
    this.paused = false;
    this.reboot = { state: '', message: '' };
  }

  /** Handles a control message; returns true when it was one of ours. */
  handle(msg) {
    switch (msg.type) {
      case 'chat':
        if (msg.chat) this.add(msg.chat);
        return true;
      case 'chat_history':
        for (const l of msg.history || []) this.add(l);
        this.lines.sort((a, b) => (a.time || 0) - (b.time || 0));
        return true;
      case 'sharing':
        this.paused = msg.state === 'paused';
        return true;
      case 'reboot':
        this.reboot = { state: msg.state || '', message: msg.message || '' };
        return true;
      default:
        return false;
    }
  }

  add(l) {
    if (!l || typeof l.text !== 'string' || l.text === '') return;
    if (l.id) {
      if (this.ids.has(l.id)) return;
      this.ids.add(l.id);
    }
    this.lines.push({ id: l.id || '', from: l.from === 'customer' ? 'customer' : 'rep', text: l.text, time: l.time || 0 });
  }

  /** The status of a reboot request, for people ('' when none). */
  rebootText() {
    const { state, message } = this.reboot;
    if (!state) return '';
    if (state === 'failed') return `${rebootTexts.failed}: ${message || 'no reason given'}`;
    return rebootTexts[state] || message;
  }
}

/**
 * The chat panel in the console's session view. opts: log, form, input,
 * send, reboot, rebootStatus, paused (elements), sendControl(msg) -> bool.
 */
export class ChatPanel {
  constructor(opts) {
    this.el = opts;
    this.sendControl = opts.sendControl;
    this.state = new ChatState();
    this.rendered = 0;
    opts.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.sendText(opts.input.value);
    });
    opts.reboot.addEventListener('click', () => this.requestReboot());
    this.render();
  }

  /** Starts afresh for another session. */
  reset() {
    this.state = new ChatState();
    this.rendered = 0;
    this.el.log.replaceChildren();
    this.render();
  }

  /** Feeds a control message from the agent; returns true when handled. */
  handle(msg) {
    const ok = this.state.handle(msg);
    if (ok) this.render();
    return ok;
  }

  sendText(text) {
    text = String(text || '').trim();
    if (!text) return false;
    if (new TextEncoder().encode(text).length > MAX_CHAT_TEXT) {
      this.el.rebootStatus.textContent = `A message can have at most ${MAX_CHAT_TEXT} bytes.`;
      return false;
    }
    if (!this.sendControl({ type: 'chat', chat: { text } })) {
      this.el.rebootStatus.textContent = 'Not connected to the customer: the message was not sent.';
      return false;
    }
    this.el.input.value = '';
    return true;
  }

  requestReboot() {
    if (this.sendControl({ type: 'reboot' })) {
      this.state.reboot = { state: 'asking', message: '' };
    } else {
      this.state.reboot = { state: 'failed', message: 'not connected to the customer' };
    }
    this.render();
  }

  render() {
    const { log, rebootStatus, paused, reboot } = this.el;
    // A merged history can insert older lines: re-render when the order changed.
    const lines = this.state.lines;
    if (this.rendered > lines.length || [...log.children].some((li, i) => li.dataset.id !== (lines[i] && lines[i].id))) {
      log.replaceChildren();
      this.rendered = 0;
    }
    for (; this.rendered < lines.length; this.rendered++) {
      const l = lines[this.rendered];
      const li = document.createElement('li');
      li.className = l.from;
      li.dataset.id = l.id;
      const who = document.createElement('span');
      who.className = 'who';
      who.textContent = l.from === 'customer' ? 'Customer' : 'You';
      const text = document.createElement('span');
      text.className = 'text';
      text.textContent = l.text;
      li.append(who, text);
      log.append(li);
      log.scrollTop = log.scrollHeight;
    }
    paused.hidden = !this.state.paused;
    const rt = this.state.rebootText();
    if (rt || !rebootStatus.textContent.startsWith('Not connected')) rebootStatus.textContent = rt;
    reboot.disabled = this.state.reboot.state === 'asking' || this.state.reboot.state === 'restarting';
  }

  /** Enables the controls while the control channel to the agent is open. */
  setLive(live) {
    const { input, send, reboot } = this.el;
    input.disabled = !live;
    send.disabled = !live;
    reboot.disabled = !live || this.state.reboot.state === 'asking' || this.state.reboot.state === 'restarting';
  }

  /** Plain data for tests and the console's state(). */
  snapshot() {
    return {
      lines: this.state.lines.map((l) => ({ ...l })),
      paused: this.state.paused,
      reboot: { ...this.state.reboot },
    };
  }
}
