// Meetings: my meetings (scheduled first, Meet Now last) with their conference ID, dial-in
// numbers and join link; scheduling, editing and deleting one; Meet Now; joining by
// dial-out (ViaWork rings my phone and puts me in the meeting or its lobby); while I am in
// one, its roster live from `meeting.roster` events with the leaders' controls; my dial-in
// PIN. A meeting opened by its join URL (`/meet/{id}`) offers Join after sign-in.
// Recording: everyone in the meeting sees when it is being recorded, leaders start and
// stop it, and the meeting's recordings are listed (in the meeting panel and under each of
// my meetings) to play or download — fetched with the token as a Blob, since neither a
// link nor an `<audio>` can send it — and, for the organizer, to delete.
//
// The join is a call (direction `meeting`, `to` = `meeting:{id}`): its states arrive as
// call events, which calls.js hands here instead of showing them in the call panel.

import { ApiError, api, apiBlob, errorText } from './api.js';
import { chosenCallback } from './callback.js';
import { $, el, setError, show } from './dom.js';
import { formatDuration, formatNumber, meetingStatus } from './format.js';
import { clearErrors, confirmAction, controls, showError } from './forms.js';
import { key, state } from './state.js';
import { t } from './i18n.js';

let meetings = []; // GET /api/v1/meetings, as last read
let editing = null; // the meeting being edited, or null when scheduling
let opened = null; // the meeting offered by its join URL: { id, subject }
/** The meeting I joined: { callId, meetingId, subject, call, roster }. */
let live = null;
let onEnded = () => {};
let placeCall = () => {};

/** Wires the area; `ended(call)` runs when a meeting call ends (recent calls), `call(to,
 * name)` places a Call Via Work call (to a bridge number). */
export function initMeetings({ ended, call }) {
  onEnded = ended;
  placeCall = call;
  $('meet-open').addEventListener('click', () => {
    if ($('meet').hidden) openArea();
    else closeArea();
  });
  $('meet-close').addEventListener('click', closeArea);
  $('meet-now').addEventListener('click', meetNow);
  $('meet-new').addEventListener('click', () => openForm(null));
  $('meet-form-cancel').addEventListener('click', () => {
    closeForm();
    $('meet-new').focus();
  });
  $('meet-form').addEventListener('submit', (e) => {
    e.preventDefault();
    saveForm();
  });
  $('meet-form').addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      closeForm();
      $('meet-new').focus();
    }
  });
  $('meet-hangup').addEventListener('click', hangUp);
  $('meet-mute-me').addEventListener('click', () => {
    const me = myParticipant();
    if (me) act(`/participants/${me.id}/${me.muted ? 'unmute' : 'mute'}`);
  });
  $('meet-lock').addEventListener('click', () => act(live?.roster?.locked ? '/unlock' : '/lock'));
  $('meet-record').addEventListener('click', () => act('/recording', live?.roster?.recording ? 'DELETE' : 'POST'));
  $('meet-live-close').addEventListener('click', () => {
    live = null;
    renderLive();
    $('meet-now').focus();
  });
  $('meet-open-join').addEventListener('click', () => {
    const m = opened;
    closeOpened();
    if (m) join(m.id, m.subject);
  });
  $('meet-open-cancel').addEventListener('click', closeOpened);
  $('meet-pin-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const pin = $('meet-pin').value;
    if (!pin) {
      setError($('meet-pin-error'), t('Type a PIN, or choose Generate a PIN.'));
      $('meet-pin').focus();
      return;
    }
    setPin({ pin });
  });
  $('meet-pin-generate').addEventListener('click', () => setPin(undefined));
}

function openArea() {
  show($('meet'), true);
  $('meet-open').setAttribute('aria-expanded', 'true');
  $('meet-title').focus();
  refresh();
}

function closeArea() {
  show($('meet'), false);
  $('meet-open').setAttribute('aria-expanded', 'false');
  $('meet-open').focus();
}

/** Reads my meetings and my dial-in state again. */
async function refresh() {
  setError($('meet-error'), '');
  await Promise.all([loadMeetings(), loadDialIn()]);
}

async function loadMeetings() {
  try {
    const r = await api('GET', '/api/v1/meetings');
    meetings = r.meetings ?? [];
  } catch (err) {
    setError($('meet-error'), errorText(err));
    return;
  }
  renderList();
  // Delete is for the organizer, known from this list: redrawn (which stops a recording
  // playing) only when that changed.
  const organizer = String(meetings.find((x) => x.id === live?.meetingId)?.role === 'organizer');
  if (live?.recordings && $('meet-recs').dataset.organizer !== organizer) {
    renderRecordings(live.meetingId, $('meet-recs'), live.recordings);
  }
}

// ---- the list ----

function subjectOf(m) {
  if (m.subject) return m.subject;
  return m.ad_hoc ? t('Meet Now') : t('Untitled meeting');
}

const dateTime = (iso) => new Date(iso).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
const timeOnly = (iso) => new Date(iso).toLocaleTimeString([], { timeStyle: 'short' });

/** When a meeting is, in words. */
function whenOf(m) {
  if (m.ad_hoc || !m.start_time) return t('Meet Now, kept until {time}', { time: dateTime(m.expiration_time) });
  const start = new Date(m.start_time);
  const end = new Date(m.end_time);
  const sameDay = start.toDateString() === end.toDateString();
  return `${dateTime(m.start_time)} – ${sameDay ? timeOnly(m.end_time) : dateTime(m.end_time)}`;
}

function bridgeText(b) {
  const ext = b.extension ? ` (${t('ext. {ext}', { ext: b.extension })})` : '';
  const name = b.name ? ` — ${b.name}` : '';
  return `${formatNumber(b.number)}${ext}${name}`;
}

function detail(dl, term, value) {
  dl.append(el('dt', '', term));
  const dd = el('dd');
  if (value instanceof Node) dd.append(value);
  else dd.textContent = value;
  dl.append(dd);
  return dd;
}

/** A meeting's join URL as people can open it. Without `meetings.join_url_base` the
 * server builds it from its listening address, which may be unspecified (0.0.0.0, [::])
 * or port 0: then this browser's origin, which reached the server, is used instead. */
export function joinUrlOf(m) {
  let u;
  try {
    u = new URL(m.join_url);
  } catch {
    return m.join_url;
  }
  const unspecified = ['0.0.0.0', '[::]', '::'].includes(u.hostname) || u.port === '0';
  return unspecified ? `${location.origin}${u.pathname}` : m.join_url;
}

/** The join link, read-only, with a Copy button (the clipboard, else the text selected). */
function joinLink(m) {
  const url = joinUrlOf(m);
  const box = el('div', 'meet-link');
  const input = el('input');
  input.type = 'text';
  input.readOnly = true;
  input.value = url;
  input.id = `meet-link-${m.id}`;
  input.setAttribute('aria-label', t('Join link of {subject}', { subject: subjectOf(m) }));
  const copy = el('button', 'small', t('Copy'));
  copy.type = 'button';
  copy.setAttribute('aria-label', t('Copy the join link of {subject}', { subject: subjectOf(m) }));
  const said = el('span', 'muted small');
  said.setAttribute('role', 'status');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(url);
      said.textContent = t('Copied');
    } catch {
      input.select();
      said.textContent = t('Press Ctrl+C to copy');
    }
  });
  box.append(input, copy, said);
  return box;
}

function renderList() {
  const list = $('meet-list');
  list.replaceChildren();
  if (!meetings.length) {
    list.append(el('li', 'muted small', t('No meetings yet. Schedule one, or start one with Meet Now.')));
    return;
  }
  for (const m of meetings) {
    const li = el('li', 'meet-item');
    li.dataset.meeting = m.id;
    const subject = subjectOf(m);
    const h = el('h4', 'meet-subject', subject);
    h.id = `meet-item-${m.id}`;
    li.setAttribute('aria-labelledby', h.id);
    li.append(h, el('div', 'muted small', whenOf(m)));
    const dl = el('dl', 'details small');
    detail(dl, t('Conference ID'), m.conference_id);
    if (m.dial_in?.length) {
      const ul = el('ul', 'plain-list');
      for (const b of m.dial_in) ul.append(el('li', '', bridgeText(b)));
      detail(dl, t('Dial-in numbers'), ul);
    }
    detail(dl, t('Join link'), joinLink(m));
    li.append(dl);
    const actions = el('div', 'actions');
    const joinButton = el('button', 'primary small', t('Join'));
    joinButton.type = 'button';
    joinButton.dataset.join = m.id;
    joinButton.setAttribute('aria-label', t('Join {subject}', { subject }));
    joinButton.addEventListener('click', () => join(m.id, subject));
    actions.append(joinButton);
    if (m.role === 'organizer') {
      const edit = el('button', 'small', t('Edit'));
      edit.type = 'button';
      edit.setAttribute('aria-label', t('Edit {subject}', { subject }));
      edit.addEventListener('click', () => openForm(m));
      const del = el('button', 'small', t('Delete'));
      del.type = 'button';
      del.setAttribute('aria-label', t('Delete {subject}', { subject }));
      del.addEventListener('click', () => remove(m));
      actions.append(edit, del);
    }
    const recs = el('button', 'small', t('Recordings'));
    recs.type = 'button';
    recs.setAttribute('aria-label', t('Recordings of {subject}', { subject }));
    recs.setAttribute('aria-expanded', 'false');
    const recList = el('ul', 'rec-list');
    recList.id = `meet-recs-${m.id}`;
    recList.hidden = true;
    recList.setAttribute('aria-label', t('Recordings of {subject}', { subject }));
    recs.setAttribute('aria-controls', recList.id);
    recs.addEventListener('click', () => {
      recList.hidden = !recList.hidden;
      recs.setAttribute('aria-expanded', String(!recList.hidden));
      if (!recList.hidden) loadRecordings(m.id, recList);
    });
    actions.append(recs);
    li.append(actions, recList);
    list.append(li);
  }
  showJoinButtons();
}

/** Join is offered for every meeting but the one I am in. */
function showJoinButtons() {
  const inId = live?.call && live.call.state !== 'ended' ? live.meetingId : null;
  for (const b of document.querySelectorAll('#meet-list [data-join]')) b.hidden = b.dataset.join === inId;
}

async function remove(m) {
  const ok = await confirmAction(
    t('Delete the meeting "{subject}"? Its link and conference ID stop working.', { subject: subjectOf(m) }),
    t('Delete meeting'),
  );
  if (!ok) return;
  try {
    await api('DELETE', `/api/v1/meetings/${encodeURIComponent(m.id)}`);
    if (editing?.id === m.id) closeForm();
  } catch (err) {
    setError($('meet-error'), errorText(err));
  }
  await loadMeetings();
}

// ---- the schedule form ----

const pad = (n) => String(n).padStart(2, '0');

/** An RFC 3339 time as a `datetime-local` value in this browser's time zone. */
function toLocalInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A `datetime-local` value as RFC 3339 (UTC); what cannot be read is sent as typed, for
 * the server to refuse naming the field. */
function fromLocalInput(value) {
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? value : d.toISOString();
}

const uris = (text) => text.split(/[\s,;]+/).filter(Boolean);

function openForm(m) {
  editing = m;
  const form = $('meet-form');
  clearErrors(form, $('meet-form-error'));
  const c = controls(form);
  if (m) {
    c.get('subject').value = m.subject;
    c.get('description').value = m.description;
    c.get('start_time').value = toLocalInput(m.start_time);
    c.get('end_time').value = toLocalInput(m.end_time);
    c.get('expiration_time').value = toLocalInput(m.expiration_time);
    c.get('attendees').value = m.attendees.join('\n');
    c.get('leaders').value = m.leaders.join('\n');
    c.get('access_level').value = m.access_level;
    c.get('automatic_leader_assignment').value = m.automatic_leader_assignment;
    c.get('entry_exit_announcement').checked = m.entry_exit_announcement;
    c.get('lobby_bypass_for_phone_users').checked = m.lobby_bypass_for_phone_users;
    c.get('phone_user_admission').checked = m.phone_user_admission;
  } else {
    // The next half hour, for half an hour.
    const start = new Date(Math.ceil(Date.now() / 1800000) * 1800000);
    const end = new Date(start.getTime() + 1800000);
    for (const name of ['subject', 'description', 'attendees', 'leaders', 'expiration_time']) c.get(name).value = '';
    c.get('start_time').value = toLocalInput(start.toISOString());
    c.get('end_time').value = toLocalInput(end.toISOString());
    c.get('access_level').value = 'same_enterprise';
    c.get('automatic_leader_assignment').value = 'disabled';
    c.get('entry_exit_announcement').checked = true;
    c.get('lobby_bypass_for_phone_users').checked = false;
    c.get('phone_user_admission').checked = true;
  }
  // A Meet Now meeting has no times; giving it some makes it a scheduled one.
  $('meet-form-h').textContent = m ? t('Edit {subject}', { subject: subjectOf(m) }) : t('Schedule a meeting');
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  $('meet-form-zone').textContent = zone ? t('Times are in your time zone, {zone}.', { zone }) : '';
  $('meet-form-submit').textContent = m ? t('Save changes') : t('Schedule');
  form.classList.toggle('editing', !!m);
  show(form, true);
  $('meet-new').setAttribute('aria-expanded', 'true');
  c.get('subject').focus();
}

function closeForm() {
  editing = null;
  show($('meet-form'), false);
  $('meet-new').setAttribute('aria-expanded', 'false');
}

function formBody() {
  const c = controls($('meet-form'));
  const body = {
    subject: c.get('subject').value.trim(),
    description: c.get('description').value.trim(),
    attendees: uris(c.get('attendees').value),
    leaders: uris(c.get('leaders').value),
    access_level: c.get('access_level').value,
    automatic_leader_assignment: c.get('automatic_leader_assignment').value,
    entry_exit_announcement: c.get('entry_exit_announcement').checked,
    lobby_bypass_for_phone_users: c.get('lobby_bypass_for_phone_users').checked,
    phone_user_admission: c.get('phone_user_admission').checked,
  };
  // Empty times are left out: required when scheduling (the server says so, naming the
  // field), unchanged when editing.
  for (const name of ['start_time', 'end_time']) {
    const v = c.get(name).value;
    if (v) body[name] = fromLocalInput(v);
  }
  // The expiry only when set (scheduling) or changed (editing): else the server's default
  // (the end plus 14 days) stands.
  const exp = c.get('expiration_time').value;
  if (exp && (!editing || exp !== toLocalInput(editing.expiration_time))) body.expiration_time = fromLocalInput(exp);
  return body;
}

async function saveForm() {
  const form = $('meet-form');
  const box = $('meet-form-error');
  clearErrors(form, box);
  try {
    const body = formBody();
    if (editing) await api('PATCH', `/api/v1/meetings/${encodeURIComponent(editing.id)}`, body);
    else await api('POST', '/api/v1/meetings', body);
    closeForm();
    await loadMeetings();
    $('meet-list-h').tabIndex = -1;
    $('meet-list-h').focus();
  } catch (err) {
    showError(form, box, err);
  }
}

// ---- joining ----

/** Meet Now: a new ad-hoc meeting, joined at once by dial-out. */
async function meetNow() {
  setError($('meet-error'), '');
  let m;
  try {
    m = await api('POST', '/api/v1/meetings/now');
  } catch (err) {
    setError($('meet-error'), errorText(err));
    return;
  }
  await join(m.id, subjectOf(m));
  loadMeetings();
}

/** Joins meeting `id` by dial-out: ViaWork rings my phone (the number chosen in this
 * browser, else my usual one). Without a `subject`, the meeting is named when known. */
export async function join(id, subject) {
  setError($('meet-error'), '');
  const known = meetings.find((x) => x.id === id);
  const unnamed = !subject && !known;
  if (!subject) subject = known ? subjectOf(known) : t('Meeting');
  const body = {};
  const mine = chosenCallback();
  if (mine) body.callback_number = mine;
  try {
    const call = await api('POST', `/api/v1/meetings/${encodeURIComponent(id)}/join`, body);
    // The event stream may have told a later state already.
    const seen = live?.callId === call.id ? live : null;
    live = { callId: call.id, meetingId: id, subject, call: seen?.call ?? call, roster: seen?.roster ?? null };
    showLive();
    renderLive();
    if (live.call.state === 'connected' && !live.roster) loadRoster();
    if (unnamed) nameLive(id);
  } catch (err) {
    live = { callId: null, meetingId: id, subject, call: null, roster: null, error: errorText(err) };
    showLive();
    renderLive();
  }
  // The panel is where the join goes on: keyboard and screen-reader users land there.
  $('meet-live-title').focus();
}

function showLive() {
  if ($('meet').hidden) {
    show($('meet'), true);
    $('meet-open').setAttribute('aria-expanded', 'true');
    refresh();
  }
}

const meetingOf = (call) => String(call.to ?? '').replace(/^meeting:/, '');

/** A meeting call's event (call.updated, or a live call at reload). */
export function onMeetingCall(call) {
  const before = live?.callId === call.id ? live.call : null;
  if (before?.state === 'ended' && call.state !== 'ended') return; // a late, older view
  if (call.state === 'ended' && before?.state !== 'ended') onEnded(call);
  if (!live || live.callId !== call.id) {
    // A join from another tab or device, or a reload: show the one still going.
    if (call.state === 'ended' || (live && live.call?.state !== 'ended' && live.callId)) return;
    const id = meetingOf(call);
    const m = meetings.find((x) => x.id === id);
    live = { callId: call.id, meetingId: id, subject: m ? subjectOf(m) : t('Meeting'), call, roster: null };
    showLive();
    loadRoster();
    if (!m) nameLive(id);
  }
  live.call = call;
  if (call.state === 'connected' && !live.roster) loadRoster();
  if (call.state === 'ended') loadRoster(); // the organizer still sees who is left
  renderLive();
}

/** After the live calls were read again: a meeting call that ended meanwhile is over. */
export function meetingCallsReloaded(liveIds) {
  if (!live?.callId || !live.call || live.call.state === 'ended') return;
  if (!liveIds.has(live.callId)) {
    live.call = { ...live.call, state: 'ended', end_reason: 'completed' };
    renderLive();
  }
  // Roster events may have been missed meanwhile.
  loadRoster();
}

async function nameLive(id) {
  try {
    const m = await api('GET', `/api/v1/meetings/${encodeURIComponent(id)}`);
    if (live?.meetingId === id) {
      live.subject = subjectOf(m);
      renderLive();
    }
  } catch {
    // Not invited, only joined by its link: it stays "Meeting".
  }
}

async function loadRoster() {
  const id = live?.meetingId;
  if (!id) return;
  try {
    const r = await api('GET', `/api/v1/meetings/${encodeURIComponent(id)}/roster`);
    if (live?.meetingId === id) onRoster(r);
  } catch {
    // Not mine to watch any more (I left a meeting I was not invited to).
    if (live?.meetingId === id && live.call?.state === 'ended') {
      live.roster = null;
      renderLive();
    }
  }
}

/** A `meeting.updated` or `meeting.deleted` event: one of my meetings changed in another
 * tab or on another device; the list is read again. */
export function onMeetingChanged() {
  loadMeetings();
}

/** A `meeting.roster` event (or a roster read). */
export function onRoster(view) {
  if (!live || view.meeting_id !== live.meetingId) return;
  const before = live.roster;
  live.roster = view;
  renderLive();
  // The list changes when a recording starts or stops (and is read once per meeting).
  if (!before || !!before.recording !== !!view.recording) loadRecordings(view.meeting_id, $('meet-recs'));
}

/** Me in the roster: my entry in the meeting before one in the lobby. */
function myParticipant() {
  const mine = (live?.roster?.participants ?? []).filter((p) => p.user && key(p.user) === key(state.me?.sipUri));
  if (!live?.call || live.call.state === 'ended') return null;
  return mine.find((p) => p.place === 'in') ?? mine[0] ?? null;
}

function renderLive() {
  if (!live) {
    show($('meet-live'), false);
    return;
  }
  show($('meet-live'), true);
  $('meet-live-title').textContent = live.subject;
  const call = live.call;
  const me = myParticipant();
  const fallback = state.me?.callViaWork?.callbackNumber ?? '';
  if (!call) {
    $('meet-live-status').textContent = t("You couldn't join the meeting");
    setError($('meet-live-error'), live.error ?? '');
  } else {
    $('meet-live-status').textContent = meetingStatus(call, me?.place, fallback, !!me?.muted);
    setError($('meet-live-error'), '');
  }
  const ended = !call || call.state === 'ended';
  show($('meet-live-controls'), !ended);
  show($('meet-live-close'), ended);
  $('meet-hangup').textContent = call?.state === 'connected' ? t('Hang up') : t('Cancel');
  const inIt = !ended && me?.place === 'in';
  show($('meet-mute-me'), inIt);
  if (me) {
    $('meet-mute-me').textContent = me.muted ? t('Unmute myself') : t('Mute myself');
    $('meet-mute-me').setAttribute('aria-pressed', String(!!me.muted));
  }
  const leader = inIt && me.leader;
  show($('meet-lock'), leader);
  const locked = !!live.roster?.locked;
  $('meet-lock').textContent = locked ? t('Unlock the meeting') : t('Lock the meeting');
  $('meet-lock').setAttribute('aria-pressed', String(locked));
  const recording = !ended && !!live.roster?.recording;
  show($('meet-rec-on'), recording);
  show($('meet-record'), leader);
  $('meet-record').textContent = recording ? t('Stop recording') : t('Record');
  $('meet-record').setAttribute('aria-pressed', String(recording));
  show($('meet-recs-area'), !!live.recordings?.length);
  renderRoster(leader, me);
  showJoinButtons();
}

function renderRoster(leader, me) {
  const all = live?.roster?.participants ?? [];
  const inList = $('meet-in');
  const lobby = $('meet-lobby');
  // The rows are rebuilt on every change (someone starts speaking many times a minute):
  // a control that had the focus gets it back, so keyboard users are not thrown out.
  const focused = document.activeElement?.closest?.('#meet-roster [data-focus-key]');
  const back = focused ? { pid: focused.closest('[data-participant]')?.dataset.participant, key: focused.dataset.focusKey } : null;
  inList.replaceChildren();
  lobby.replaceChildren();
  for (const p of all) {
    (p.place === 'lobby' ? lobby : inList).append(participantRow(p, leader, me));
  }
  if (back) {
    const row = document.querySelector(`#meet-roster [data-participant="${CSS.escape(back.pid ?? '')}"]`);
    const again = row?.querySelector(`[data-focus-key="${back.key}"]`) ?? row?.querySelector('button');
    (again ?? $('meet-live-title')).focus();
  }
  if (!all.some((p) => p.place !== 'lobby')) inList.append(el('li', 'muted small', t('Nobody is in the meeting.')));
  show($('meet-lobby-area'), all.some((p) => p.place === 'lobby'));
  $('meet-roster').dataset.count = String(all.length);
}

function participantRow(p, leader, me) {
  const li = el('li', 'roster-row');
  li.dataset.participant = String(p.id);
  const isMe = me && p.id === me.id;
  const name = p.name || (p.user ? p.user.replace(/^sips?:/i, '') : t('Guest'));
  const talk = el('span', `speaking${p.speaking ? ' on' : ''}`);
  talk.setAttribute('role', 'img');
  talk.setAttribute('aria-label', p.speaking ? t('Speaking') : t('Not speaking'));
  li.dataset.speaking = String(!!p.speaking);
  const text = el('span', 'roster-name', isMe ? t('{name} (you)', { name }) : name);
  const tags = [];
  if (p.leader) tags.push(t('Leader'));
  if (p.muted) tags.push(t('Muted'));
  li.append(talk, text, el('span', 'muted small roster-tags', tags.join(' · ')));
  if (leader && !isMe) {
    const actions = el('span', 'row-actions');
    const button = (label, aria, path) => {
      const b = el('button', 'small', label);
      b.type = 'button';
      b.dataset.focusKey = path === 'unmute' ? 'mute' : path;
      b.setAttribute('aria-label', aria);
      b.addEventListener('click', () => act(`/participants/${p.id}/${path}`));
      actions.append(b);
    };
    if (p.place === 'lobby') button(t('Admit'), t('Admit {name}', { name }), 'admit');
    else if (p.muted) button(t('Unmute'), t('Unmute {name}', { name }), 'unmute');
    else button(t('Mute'), t('Mute {name}', { name }), 'mute');
    button(t('Remove'), t('Remove {name}', { name }), 'remove');
    li.append(actions);
  }
  return li;
}

/** A roster control (`/lock`, `/participants/3/mute`, `/recording`, …); what it did
 * arrives as a `meeting.roster` event. */
async function act(suffix, method = 'POST') {
  if (!live) return;
  setError($('meet-live-error'), '');
  try {
    await api(method, `/api/v1/meetings/${encodeURIComponent(live.meetingId)}${suffix}`);
  } catch (err) {
    setError($('meet-live-error'), errorText(err));
  }
}

async function hangUp() {
  if (!live?.callId) return;
  setError($('meet-live-error'), '');
  try {
    await api('DELETE', `/api/v1/calls/${encodeURIComponent(live.callId)}`);
  } catch (err) {
    setError($('meet-live-error'), errorText(err));
  }
}

// ---- recordings ----

/** How often an unfinished recording is read again (its file is finished after Stop). */
const RECHECK_MS = 1000;
const RECHECKS = 20;

/** Reads meeting `id`'s recordings into `ul` (the meeting panel's list, or one under a
 * meeting in my list). A recording stopped but not yet finished is read again, a bounded
 * number of times. */
async function loadRecordings(id, ul, tries = 0) {
  let r;
  try {
    r = await api('GET', `/api/v1/meetings/${encodeURIComponent(id)}/recordings`);
  } catch (err) {
    ul.replaceChildren(el('li', 'error', errorText(err)));
    return;
  }
  const list = r.recordings ?? [];
  const forLive = ul === $('meet-recs');
  if (forLive) {
    if (live?.meetingId !== id) return;
    live.recordings = list;
    show($('meet-recs-area'), list.length > 0);
  }
  if (!ul.isConnected) return;
  renderRecordings(id, ul, list);
  const stillRecording = forLive && live?.roster?.recording;
  if (list.some((x) => !x.ended_at) && !stillRecording && tries < RECHECKS) {
    setTimeout(() => loadRecordings(id, ul, tries + 1), RECHECK_MS);
  }
}

function renderRecordings(id, ul, list) {
  ul.replaceChildren();
  if (!list.length) {
    ul.append(el('li', 'muted small', t('No recordings of this meeting.')));
    return;
  }
  const organizer = meetings.find((x) => x.id === id)?.role === 'organizer';
  ul.dataset.organizer = String(organizer);
  for (const rec of list) ul.append(recordingRow(id, ul, rec, organizer));
}

function recordingRow(id, ul, rec, organizer) {
  const li = el('li', 'rec-row');
  li.dataset.recording = rec.id;
  const when = dateTime(rec.started_at);
  const what = rec.ended_at
    ? t('{when}, {duration}', { when, duration: formatDuration(rec.duration_ms) })
    : t('{when}, being recorded…', { when });
  li.append(el('span', 'rec-what', what));
  if (!rec.ended_at) return li;
  const button = (label, aria, onClick) => {
    const b = el('button', 'small', label);
    b.type = 'button';
    b.setAttribute('aria-label', aria);
    b.addEventListener('click', () => onClick(b));
    li.append(b);
    return b;
  };
  const said = el('span', 'error small');
  said.setAttribute('role', 'alert');
  said.hidden = true;
  button(t('Play'), t('Play the recording of {when}', { when }), async (b) => {
    if (li.querySelector('audio')) return li.querySelector('audio').play().catch(() => {});
    const url = await blobUrl(rec, said);
    if (!url) return;
    const audio = el('audio');
    audio.controls = true;
    audio.src = url;
    audio.setAttribute('aria-label', t('The recording of {when}', { when }));
    li.append(audio);
    b.hidden = true;
    audio.play().catch(() => {});
  });
  button(t('Download'), t('Download the recording of {when}', { when }), async () => {
    const url = await blobUrl(rec, said);
    if (!url) return;
    const a = el('a');
    a.href = url;
    a.download = `meeting-${rec.meeting_id ?? id}-${rec.id}.wav`;
    document.body.append(a);
    a.click();
    a.remove();
  });
  if (organizer) {
    button(t('Delete'), t('Delete the recording of {when}', { when }), async () => {
      const ok = await confirmAction(
        t('Delete the recording of {when}? It cannot be brought back.', { when }),
        t('Delete recording'),
      );
      if (!ok) return;
      try {
        await api('DELETE', `/api/v1/recordings/${encodeURIComponent(rec.id)}`);
      } catch (err) {
        setError(said, errorText(err));
        return;
      }
      loadRecordings(id, ul);
    });
  }
  li.append(said);
  return li;
}

/** Object URLs of the recordings fetched, by id: each WAV is fetched once per page. */
const blobUrls = new Map();

async function blobUrl(rec, said) {
  setError(said, '');
  if (blobUrls.has(rec.id)) return blobUrls.get(rec.id);
  try {
    const blob = await apiBlob(rec.links.audio);
    const url = URL.createObjectURL(blob);
    blobUrls.set(rec.id, url);
    return url;
  } catch (err) {
    setError(said, errorText(err));
    return null;
  }
}

/** Shows the meeting a call became (Add person in the call panel): `call` is my call, now
 * my place in the meeting, whose roster arrives as `meeting.roster` events. */
export function showEscalated(meeting, call) {
  live = { callId: call.id, meetingId: meeting.id, subject: subjectOf(meeting), call, roster: null };
  showLive();
  renderLive();
  loadRoster();
  $('meet-live-title').focus();
}

// ---- a meeting opened by its join URL ----

/** After sign-in: if the page was opened as `/meet/{id}`, show that meeting with Join.
 * The address bar goes back to `/`. */
export async function offerMeeting() {
  const m = location.pathname.match(/^\/meet\/([^/]+)\/?$/);
  if (!m) return;
  history.replaceState(null, '', '/');
  let id;
  try {
    id = decodeURIComponent(m[1]);
  } catch {
    return;
  }
  let subject = t('Meeting');
  let when = '';
  try {
    const meeting = await api('GET', `/api/v1/meetings/${encodeURIComponent(id)}`);
    subject = subjectOf(meeting);
    when = whenOf(meeting);
  } catch (err) {
    // Only those invited may read a meeting; anyone with its link may ask to join, and
    // the meeting's access level decides between it and its lobby.
    if (!(err instanceof ApiError && err.status === 404)) when = errorText(err);
  }
  opened = { id, subject };
  show($('meet'), true);
  $('meet-open').setAttribute('aria-expanded', 'true');
  refresh();
  $('meet-open-text').textContent = t('Join {subject}?', { subject });
  $('meet-open-detail').textContent = when;
  $('meet-open-card').dataset.meeting = id;
  show($('meet-open-card'), true);
  $('meet-open-join').focus();
}

function closeOpened() {
  opened = null;
  show($('meet-open-card'), false);
}

// ---- dial-in ----

async function loadDialIn() {
  let d;
  try {
    d = await api('GET', '/api/v1/meetings/dial-in');
  } catch (err) {
    setError($('meet-pin-error'), errorText(err));
    return;
  }
  const dl = $('meet-bridges');
  dl.replaceChildren();
  if (d.bridge_numbers.length) {
    // Dialing the bridge from here is a Call Via Work call: my phone rings first, and the
    // conference ID and PIN are typed on it (or on the call panel's keypad).
    const ul = el('ul', 'plain-list');
    for (const b of d.bridge_numbers) {
      const li = el('li', 'bridge', bridgeText(b));
      const number = formatNumber(b.number);
      const call = el('button', 'small', t('Call'));
      call.type = 'button';
      call.setAttribute('aria-label', t('Call the bridge {number}', { number }));
      call.addEventListener('click', () => placeCall(b.number, t('Conference bridge {number}', { number })));
      li.append(' ', call);
      ul.append(li);
    }
    detail(dl, t('Bridge numbers'), ul);
  } else {
    detail(dl, t('Bridge numbers'), t('None: this server takes no dial-in calls.'));
  }
  const lines = [];
  if (!d.dial_in_conferencing) {
    lines.push(t('Dial-in with a PIN is not enabled for you: join with Join, and ViaWork calls you.'));
  } else {
    lines.push(d.pin_set ? t('You have a PIN.') : t('You have no PIN yet.'));
    if (d.pin_locked === 'until_unlocked') lines.push(t('Your PIN is locked after too many wrong attempts: set a new one.'));
    else if (d.pin_locked) lines.push(t('Your PIN is locked until {time} after wrong attempts.', { time: dateTime(d.pin_locked) }));
    if (d.pin_failed_attempts > 0) lines.push(t('Wrong PINs typed since your last right one: {count}.', { count: d.pin_failed_attempts }));
  }
  $('meet-pin-state').textContent = lines.join(' ');
  show($('meet-pin-form'), d.dial_in_conferencing);
  $('meet-pin').placeholder = t('At least {count} digits', { count: d.pin_min_length });
}

async function setPin(body) {
  const form = $('meet-pin-form');
  clearErrors(form, $('meet-pin-error'));
  show($('meet-pin-new'), false);
  try {
    const r = await api('PUT', '/api/v1/me/dial-in-pin', body);
    $('meet-pin').value = '';
    $('meet-pin-new').textContent = r?.pin
      ? t('Your new PIN is {pin}. Note it now: it is not shown again.', { pin: r.pin })
      : t('Your PIN is saved.');
    show($('meet-pin-new'), true);
    await loadDialIn();
  } catch (err) {
    showError(form, $('meet-pin-error'), err);
  }
}

/** Forgets everything (sign-out). */
export function resetMeetings() {
  meetings = [];
  for (const url of blobUrls.values()) URL.revokeObjectURL(url);
  blobUrls.clear();
  editing = null;
  opened = null;
  live = null;
  show($('meet'), false);
  $('meet-open').setAttribute('aria-expanded', 'false');
  show($('meet-form'), false);
  show($('meet-open-card'), false);
  show($('meet-pin-new'), false);
  $('meet-pin-new').textContent = '';
  $('meet-list').replaceChildren();
  renderLive();
}
