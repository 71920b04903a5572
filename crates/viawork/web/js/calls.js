// Calls: placing a Call Via Work call, the call panel (its status in words, a running
// timer, hang up / hold / resume / mute / keypad / transfer / add a person) and the
// incoming-call notification with Accept and Decline, which closes by itself when the call
// is answered elsewhere or ends. Every change arrives as call.incoming / call.updated
// events; the answers of the control requests are shown at once too (the events confirm
// them). Adding a person turns the call into a Meet Now meeting: from then on the call is
// shown, and hung up, in the meetings area.

import { ApiError, api, errorText } from './api.js';
import { $, el, setError, show } from './dom.js';
import { callStatus, formatNumber, peerName } from './format.js';
import { chosenCallback } from './callback.js';
import { notifyIfHidden } from './notify.js';
import { nameOf, state } from './state.js';
import { t } from './i18n.js';

const calls = new Map(); // id → the call as the server last described it
const names = new Map(); // id → the other party's name as the user picked it
let current = null; // id of the call in the panel
let incomingId = null; // id of the call in the notification
let browserNote = null; // the browser's notification of it, while the tab is hidden
let ticker = null;
let onEnded = () => {};
// Meeting joins are calls too, shown in the meetings area: their events go there.
let meetingHooks = { update: () => {}, reloaded: () => {}, escalated: () => {} };
// Calls that became meetings (Add person): their events go to the meetings area too.
const escalated = new Set();
let peopleSeq = 0;

/** Where meeting calls (direction `meeting`) go: `update(call)` for each view,
 * `reloaded(liveIds)` after the live calls were read again, and `escalated(meeting, call)`
 * when a call became a meeting. */
export function setMeetingHooks(hooks) {
  meetingHooks = hooks;
}

const LIVE = new Set(['connecting_your_phone', 'your_phone_ringing', 'connecting', 'ringing', 'connected', 'on_hold']);

/** Wires the panel and the notification; `ended()` runs when a call ends (history). */
export function initCalls({ ended }) {
  onEnded = ended;
  $('call-hangup').addEventListener('click', () => control('DELETE', ''));
  $('call-hold').addEventListener('click', () => {
    const c = calls.get(current);
    control('POST', c?.state === 'on_hold' ? '/resume' : '/hold');
  });
  $('call-mute').addEventListener('click', () => {
    const c = calls.get(current);
    control('POST', c?.muted ? '/unmute' : '/mute');
  });
  $('call-keypad-toggle').addEventListener('click', () => toggle('call-keypad-toggle', 'call-keypad'));
  $('call-transfer-toggle').addEventListener('click', () => {
    toggle('call-transfer-toggle', 'call-transfer');
    if (!$('call-transfer').hidden) $('call-transfer-to').focus();
  });
  const keypad = $('call-keypad');
  for (const d of ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#']) {
    const b = el('button', 'key', d);
    b.type = 'button';
    b.setAttribute('aria-label', t('Send {key}', { key: d === '*' ? t('star') : d === '#' ? t('pound') : d }));
    b.addEventListener('click', () => control('POST', '/dtmf', { digits: d }));
    keypad.append(b);
  }
  $('call-add-toggle').addEventListener('click', () => {
    toggle('call-add-toggle', 'call-add');
    if (!$('call-add').hidden) $('call-add-to').focus();
  });
  $('call-add-to').addEventListener('input', suggestPeople);
  $('call-add').addEventListener('submit', (e) => {
    e.preventDefault();
    const to = $('call-add-to').value.trim();
    if (to) addPerson(to);
  });
  $('call-transfer').addEventListener('submit', (e) => {
    e.preventDefault();
    const to = $('call-transfer-to').value.trim();
    if (to) control('POST', '/transfer', { to });
  });
  $('call-close').addEventListener('click', () => {
    current = null;
    show($('call'), false);
    pickCurrent();
  });
  $('incoming-accept').addEventListener('click', () => answer('accept'));
  $('incoming-decline').addEventListener('click', () => answer('decline'));
  // Escape declines only from within the notification: not while typing elsewhere.
  $('incoming').addEventListener('keydown', (e) => {
    if (e.key === 'Escape') answer('decline');
  });
}

function toggle(buttonId, panelId) {
  const panel = $(panelId);
  panel.hidden = !panel.hidden;
  $(buttonId).setAttribute('aria-expanded', String(!panel.hidden));
}

/** Places a Call Via Work call to `to` (a SIP URI of a person, or a number). */
export async function placeCall(to, name) {
  setError($('call-error'), '');
  try {
    const body = { to };
    const mine = chosenCallback();
    if (mine) body.callback_number = mine;
    const call = await api('POST', '/api/v1/calls', body);
    names.set(call.id, name);
    current = call.id;
    // The event stream may already have told a later state: never go back to this one.
    if (calls.has(call.id)) render();
    else update(call);
  } catch (err) {
    // Show the refusal in the panel, where the user looks for the call.
    current = null;
    show($('call'), true);
    $('call-peer').textContent = name || formatNumber(to) || to;
    $('call-status').textContent = t("The call couldn't be placed");
    showControls(null);
    setError($('call-error'), errorText(err));
  }
}

/** Shows a call placed elsewhere (Add audio in a conversation) in the panel. */
export function trackCall(call, name) {
  names.set(call.id, name);
  current = call.id;
  if (calls.has(call.id)) render();
  else update(call);
}

/** Reloads the live calls (at start and after a resync). */
export async function reloadCalls() {
  const r = await api('GET', '/api/v1/calls');
  const live = new Set();
  for (const c of r.calls ?? []) {
    live.add(c.id);
    update(c);
  }
  meetingHooks.reloaded(live);
  // Calls that ended while we were away: forget them, and close a stale notification.
  for (const [id, c] of calls) {
    if (!live.has(id) && c.state !== 'ended') {
      calls.delete(id);
      if (incomingId === id) closeIncoming();
      if (current === id) current = null;
    }
  }
  pickCurrent();
}

/** A call event's data (call.incoming or call.updated). */
export function update(call) {
  if (call.direction === 'meeting' || escalated.has(call.id)) {
    meetingHooks.update(call);
    return;
  }
  const before = calls.get(call.id);
  if (before?.state === 'ended' && call.state !== 'ended') return; // a late, older view
  calls.set(call.id, call);
  if (call.state === 'incoming' && call.links) {
    openIncoming(call);
    return;
  }
  if (incomingId === call.id) closeIncoming();
  if (call.state === 'incoming') return; // ringing elsewhere and no longer offered here
  if (call.state === 'ended' && before?.state !== 'ended') onEnded(call);
  if (!current || current === call.id || (calls.get(current)?.state === 'ended' && call.state !== 'ended')) {
    current = call.id;
  }
  render();
}

function pickCurrent() {
  if (current && calls.has(current)) return render();
  const live = [...calls.values()].filter((c) => LIVE.has(c.state));
  current = live.length ? live[live.length - 1].id : null;
  render();
}

function peerOf(call) {
  const picked = names.get(call.id);
  if (picked) return picked;
  if (call.direction !== 'inbound' && /^sips?:/i.test(call.to) && !/^sips?:\+?\d+@/i.test(call.to)) {
    return nameOf(call.to);
  }
  return peerName(call);
}

/** The call's status line. An accepted incoming call carries no callback number: the
 * one from my profile is the number rung. */
function statusOf(call) {
  const cb = call.callback_number || state.me?.callViaWork?.callbackNumber || '';
  return callStatus({ ...call, callback_number: cb }, peerOf(call), Date.now(), state.me?.lineUri);
}

function render() {
  clearInterval(ticker);
  ticker = null;
  const call = current ? calls.get(current) : null;
  if (!call) {
    show($('call'), false);
    return;
  }
  show($('call'), true);
  const peer = peerOf(call);
  $('call-peer').textContent = peer;
  $('call-status').textContent = statusOf(call);
  if (call.state === 'connected' || call.state === 'on_hold') {
    // The timer's text is not announced every second: only the status line changes.
    ticker = setInterval(() => {
      const c = calls.get(current);
      if (c) $('call-status').textContent = statusOf(c);
    }, 1000);
  }
  const failed = call.transfer_failed ? t('The transfer failed ({code}); the call is still up.', { code: call.transfer_failed }) : '';
  setError($('call-error'), failed);
  showControls(call);
}

function showControls(call) {
  const ended = !call || call.state === 'ended';
  show($('call-controls'), !ended);
  show($('call-close'), ended);
  // In-call controls are for Call Via Work calls; incoming calls answer NotSupported.
  const full = !!call && call.direction !== 'inbound' && (call.state === 'connected' || call.state === 'on_hold');
  for (const id of ['call-hold', 'call-mute', 'call-keypad-toggle', 'call-transfer-toggle']) {
    show($(id), full);
  }
  // Adding a person needs the call connected (not on hold).
  const addable = full && call.state === 'connected';
  show($('call-add-toggle'), addable);
  if (!addable) {
    show($('call-add'), false);
    $('call-add-toggle').setAttribute('aria-expanded', 'false');
  }
  if (!full) {
    show($('call-keypad'), false);
    show($('call-transfer'), false);
    $('call-keypad-toggle').setAttribute('aria-expanded', 'false');
    $('call-transfer-toggle').setAttribute('aria-expanded', 'false');
  }
  if (call) {
    const held = call.state === 'on_hold';
    $('call-hold').textContent = held ? t('Resume') : t('Hold');
    $('call-hold').setAttribute('aria-pressed', String(held));
    $('call-mute').textContent = call.muted ? t('Unmute') : t('Mute');
    $('call-mute').setAttribute('aria-pressed', String(!!call.muted));
    $('call-hangup').textContent = call.state === 'connected' || call.state === 'on_hold' ? t('Hang up') : t('Cancel call');
  }
}

async function control(method, suffix, body) {
  const id = current;
  if (!id) return;
  setError($('call-error'), '');
  try {
    // 202: the change is under way; its result arrives as call.updated events.
    await api(method, `/api/v1/calls/${encodeURIComponent(id)}${suffix}`, body);
    if (suffix === '/transfer') $('call-transfer-to').value = '';
  } catch (err) {
    setError($('call-error'), errorText(err));
  }
}

/** Suggests colleagues from the directory as the person to add is typed (a number or a
 * SIP URI may be typed as well). */
async function suggestPeople() {
  const q = $('call-add-to').value.trim();
  const seq = ++peopleSeq;
  const list = $('call-add-people');
  if (q.length < 2 || /^[+\d\s().-]+$/.test(q) || /^sips?:/i.test(q)) {
    list.replaceChildren();
    return;
  }
  let r;
  try {
    r = await api('GET', `/api/v1/people?query=${encodeURIComponent(q)}&limit=10`);
  } catch {
    return; // no suggestions: a number or address can still be typed
  }
  if (seq !== peopleSeq) return;
  list.replaceChildren();
  for (const p of r.results ?? []) {
    const o = el('option');
    o.value = p.uri;
    o.label = p.name ? `${p.name}${p.title ? `, ${p.title}` : ''}` : p.uri;
    list.append(o);
  }
}

/** Adds `to` (a colleague's SIP URI or a number) to the call in the panel: the call
 * becomes a Meet Now meeting, shown in the meetings area, and ViaWork rings them. */
async function addPerson(to) {
  const id = current;
  if (!id) return;
  setError($('call-error'), '');
  try {
    const r = await api('POST', `/api/v1/calls/${encodeURIComponent(id)}/participants`, { to });
    $('call-add-to').value = '';
    escalated.add(id);
    const call = calls.get(id);
    calls.delete(id); // shown in the meetings area from now on
    current = null;
    pickCurrent();
    meetingHooks.escalated(r.meeting, call ?? { id, state: 'connected', direction: 'outbound' });
  } catch (err) {
    const anchored = err instanceof ApiError && err.code === 'MediaNotAnchored';
    setError(
      $('call-error'),
      anchored
        ? t("A person can't be added: this call's audio runs phone to phone. Your administrator can enable adding people by anchoring media.")
        : errorText(err),
    );
  }
}

function openIncoming(call) {
  incomingId = call.id;
  const who = call.from_name ? `${call.from_name} (${formatNumber(call.from)})` : formatNumber(call.from) || t('Unknown caller');
  const name = call.from_name || formatNumber(call.from);
  $('incoming-title').textContent = name ? t('Incoming call from {name}', { name }) : t('Incoming call');
  $('incoming-from').textContent = t('{who} is calling you.', { who });
  const box = $('incoming');
  const wasHidden = box.hidden;
  show(box, true);
  if (wasHidden) {
    $('incoming-accept').focus();
    browserNote = notifyIfHidden($('incoming-title').textContent, t('Open ViaWork to accept or decline.'), `call-${call.id}`);
  }
}

function closeIncoming() {
  incomingId = null;
  browserNote?.close();
  browserNote = null;
  show($('incoming'), false);
}

async function answer(what) {
  const call = calls.get(incomingId);
  const href = call?.links?.[what];
  if (!href) return closeIncoming();
  closeIncoming();
  try {
    const r = await api('POST', href);
    if (what === 'accept' && r?.id) {
      names.set(r.id, peerName(r));
      current = r.id;
      if (calls.get(r.id)?.state === 'incoming') update(r);
      else render();
    }
  } catch (err) {
    current = call.id;
    show($('call'), true);
    setError($('call-error'), errorText(err));
  }
}

/** Forgets every call (sign-out). */
export function resetCalls() {
  calls.clear();
  names.clear();
  escalated.clear();
  current = null;
  closeIncoming();
  render();
}
