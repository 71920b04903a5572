// The user's one event stream (GET /api/v1/events over a WebSocket). It remembers the
// last `seq` it saw and, after a drop, reconnects with `?since=` so no event is lost;
// when the server says `resync` (the gap was too long, or the server restarted) the
// app reloads its state. Reconnects back off from 1 s to 15 s.

import { token } from './api.js';

export class EventStream {
  /** `onEvent(event)` gets every event; `onState('connected'|'reconnecting')` the link's
   * state; `onLost()` is called when a reconnect is refused (the token may be gone). */
  constructor({ onEvent, onState, onLost }) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.onLost = onLost;
    this.lastSeq = null;
    this.socket = null;
    this.closed = false;
    this.delay = 1000;
    this.timer = null;
  }

  open() {
    this.closed = false;
    const t = token();
    if (!t) return;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const params = new URLSearchParams({ access_token: t });
    if (this.lastSeq !== null) params.set('since', String(this.lastSeq));
    const socket = new WebSocket(`${proto}//${location.host}/api/v1/events?${params}`);
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      this.delay = 1000;
      this.onState('connected');
    };
    socket.onmessage = (msg) => {
      let event;
      try { event = JSON.parse(msg.data); } catch { return; }
      if (typeof event.seq === 'number') this.lastSeq = event.seq;
      this.onEvent(event);
    };
    socket.onclose = () => {
      if (this.socket !== socket || this.closed) return;
      this.socket = null;
      this.onState('reconnecting');
      // A stream refused at once may mean the token expired: let the app check.
      if (!opened) this.onLost();
      this.timer = setTimeout(() => this.open(), this.delay);
      this.delay = Math.min(this.delay * 2, 15000);
    };
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.socket) this.socket.close();
    this.socket = null;
    this.lastSeq = null;
  }
}
