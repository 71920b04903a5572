// Instant messaging: one conversation window with its history (older pages loaded on
// scrolling up), a composer, the typing indicator, incoming messages, and who is in it. A
// 1:1 conversation with a person is found among my conversations, or created by the
// first message sent to them; adding people to it before then starts a group
// conversation with all of them, and adding people to a conversation that exists adds
// them there (POST .../participants).

import { api, apiBlob, apiUpload, errorText } from './api.js';
import { chosenCallback } from './callback.js';
import { trackCall } from './calls.js';
import { $, el, setError, show } from './dom.js';
import { notifyIfHidden } from './notify.js';
import { key, nameOf, rememberName, state } from './state.js';
import { t } from './i18n.js';

// The open conversation: {id|null, peer (the one other person, else null), name,
// seen: Set of message ids, participants: [{uri, name, state}], pending: [uri] (whom a
// conversation not yet started will be with), next: the older page's URL or null}.
let open = null;
let addSeq = 0;
let loadingOlder = false;
let typingSent = 0;
let typingTimer = null;

/** Wires the composer and the window. */
export function initIm() {
  $('conv-form').addEventListener('submit', (e) => {
    e.preventDefault();
    send();
  });
  $('conv-text').addEventListener('keydown', (e) => {
    // Enter sends, Shift+Enter starts a new line, as in every chat client.
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      send();
    }
  });
  $('conv-text').addEventListener('input', typing);
  $('conv-close').addEventListener('click', close);
  $('conv-audio').addEventListener('click', addAudio);
  $('conv-file-pick').addEventListener('click', () => $('conv-file').click());
  $('conv-file').addEventListener('change', sendFile);
  $('conv-add-toggle').addEventListener('click', () => toggleAdd($('conv-add').hidden));
  let debounce = null;
  $('conv-add-query').addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(findToAdd, 150);
  });
  $('conv-add-query').addEventListener('keydown', (e) => {
    if (e.key === 'Escape') toggleAdd(false);
  });
  $('conv-add').addEventListener('submit', async (e) => {
    e.preventDefault();
    // Enter adds a typed SIP address, else the first match of what is typed now (searched
    // at once, not after the typing pause).
    const typed = $('conv-add-query').value.trim();
    if (/^sips?:[^@\s]+@\S+$/i.test(typed)) {
      addPerson(typed, '');
      return;
    }
    clearTimeout(debounce);
    await findToAdd();
    const first = $('conv-add-results').querySelector('button[data-uri]');
    if (first) addPerson(first.dataset.uri, first.dataset.name);
  });
  $('conv-older').addEventListener('click', loadOlder);
  $('conv-messages').addEventListener('scroll', () => {
    if ($('conv-messages').scrollTop < 40) loadOlder();
  }, { passive: true });
}

/** Shows or hides the Add people form. */
function toggleAdd(visible) {
  show($('conv-add'), visible);
  $('conv-add-toggle').setAttribute('aria-expanded', String(visible));
  if (visible) {
    $('conv-add-query').value = '';
    $('conv-add-results').replaceChildren();
    $('conv-add-query').focus();
  } else {
    addSeq += 1;
    $('conv-add-toggle').focus();
  }
}

/** People to add, from the directory as you type (not those already in). */
async function findToAdd() {
  const q = $('conv-add-query').value.trim();
  const seq = ++addSeq;
  const list = $('conv-add-results');
  if (!q) {
    list.replaceChildren();
    return;
  }
  let r;
  try {
    r = await api('GET', `/api/v1/people?query=${encodeURIComponent(q)}&limit=8`);
  } catch (err) {
    if (seq === addSeq) list.replaceChildren(el('li', 'error', errorText(err)));
    return;
  }
  if (seq !== addSeq || !open) return;
  list.replaceChildren();
  const inside = new Set(members().map(key));
  const results = (r.results ?? []).filter((p) => !inside.has(key(p.uri)));
  if (!results.length) list.append(el('li', 'muted small', t('Nobody found for “{query}”.', { query: q })));
  for (const person of results) {
    rememberName(person.uri, person.name);
    const b = el('button', 'person-btn', t('Add {name}', { name: person.name || person.uri }));
    b.type = 'button';
    b.dataset.uri = person.uri;
    b.dataset.name = person.name || '';
    b.addEventListener('click', () => addPerson(person.uri, person.name));
    const li = el('li');
    li.append(b);
    list.append(li);
  }
}

/** Everyone in the open conversation (or to be in it), me included. */
function members() {
  if (!open) return [];
  if (!open.id) return [state.me?.sipUri, ...open.pending];
  return open.participants.filter((p) => p.state !== 'left').map((p) => p.uri);
}

/** Adds a person: to the conversation if it exists, else to whom it will start with. */
async function addPerson(uri, name) {
  if (!open) return;
  rememberName(uri, name);
  setError($('conv-error'), '');
  try {
    if (open.id) {
      const conv = await api('POST', `/api/v1/conversations/${encodeURIComponent(open.id)}/participants`, { uri });
      applyConversation(conv);
    } else if (!open.pending.some((u) => key(u) === key(uri))) {
      open.pending.push(uri);
      open.peer = open.pending.length === 1 ? open.pending[0] : null;
      open.name = open.pending.map(nameOf).join(', ');
      renderHeader();
    }
    toggleAdd(false);
  } catch (err) {
    setError($('conv-error'), errorText(err));
  }
}

/** Takes a conversation's participants (from the server) into the open window. */
function applyConversation(conv) {
  if (!open || open.id !== conv.id) return;
  for (const p of conv.participants ?? []) rememberName(p.uri, p.name);
  open.participants = conv.participants ?? [];
  const others = open.participants.filter((p) => key(p.uri) !== key(state.me?.sipUri) && p.state !== 'left');
  open.peer = others.length === 1 ? others[0].uri : null;
  open.name = conv.subject || others.map((p) => p.name || nameOf(p.uri)).join(', ') || t('Conversation');
  renderHeader();
}

/** Add audio: a Call Via Work call to the other person, linked to the conversation. */
async function addAudio() {
  if (!open?.id) return;
  setError($('conv-error'), '');
  try {
    const body = {};
    const mine = chosenCallback();
    if (mine) body.callback_number = mine;
    const call = await api('POST', `/api/v1/conversations/${encodeURIComponent(open.id)}/audio`, body);
    trackCall(call, open.name);
  } catch (err) {
    setError($('conv-error'), errorText(err));
  }
}

async function sendFile() {
  const input = $('conv-file');
  const file = input.files?.[0];
  input.value = '';
  if (!file || !open?.id) return;
  setError($('conv-error'), '');
  try {
    const m = await apiUpload(`/api/v1/conversations/${encodeURIComponent(open.id)}/files?name=${encodeURIComponent(file.name)}`, file);
    append(m);
  } catch (err) {
    setError($('conv-error'), errorText(err));
  }
}

/** Downloads a file of a message (the link needs the token, so it is fetched). */
async function download(file) {
  try {
    const blob = await apiBlob(file.href);
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = file.name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60000);
  } catch (err) {
    setError($('conv-error'), errorText(err));
  }
}

function close() {
  open = null;
  toggleAddHidden();
  show($('conv-notice'), false);
  show($('conv'), false);
}

/** Opens the 1:1 conversation with `uri` (an existing one, or a new one on first send). */
export async function openWith(uri, name) {
  rememberName(uri, name);
  setError($('conv-error'), '');
  let found = null;
  try {
    const r = await api('GET', '/api/v1/conversations?limit=200');
    found = (r.conversations ?? []).find((c) => isOneToOneWith(c, uri));
  } catch (err) {
    setError($('conv-error'), errorText(err));
  }
  if (found) return openConversation(found);
  open = { id: null, peer: uri, name: nameOf(uri), seen: new Set(), participants: [], pending: [uri], next: null };
  toggleAddHidden();
  show($('conv-older'), false);
  renderHeader();
  $('conv-messages').replaceChildren();
  show($('welcome'), false);
  show($('conv'), true);
  $('conv-text').focus();
}

function isOneToOneWith(conv, uri) {
  const ps = conv.participants ?? [];
  return ps.length === 2 && ps.some((p) => key(p.uri) === key(uri)) && ps.some((p) => key(p.uri) === key(state.me?.sipUri));
}

async function openConversation(conv) {
  for (const p of conv.participants ?? []) rememberName(p.uri, p.name);
  const others = (conv.participants ?? []).filter((p) => key(p.uri) !== key(state.me?.sipUri));
  open = {
    id: conv.id,
    peer: others.length === 1 ? others[0].uri : null,
    name: conv.subject || others.map((p) => p.name || nameOf(p.uri)).join(', ') || t('Conversation'),
    seen: new Set(),
    participants: conv.participants ?? [],
    pending: [],
    next: null,
  };
  toggleAddHidden();
  show($('conv-older'), false);
  applyConversation(conv);
  $('conv-messages').replaceChildren();
  show($('welcome'), false);
  show($('conv'), true);
  await loadHistory();
}

/** Closes the Add people form without moving the focus. */
function toggleAddHidden() {
  addSeq += 1;
  show($('conv-add'), false);
  $('conv-add-toggle').setAttribute('aria-expanded', 'false');
}

function renderHeader() {
  // Add audio needs one other person; both need the conversation to exist.
  $('conv-audio').disabled = !open.id || !open.peer;
  $('conv-file-pick').disabled = !open.id;
  $('conv-title').textContent = t('Conversation with {name}', { name: open.name });
  $('conv-typing').textContent = '';
  const me = key(state.me?.sipUri);
  const line = [];
  if (open.id) {
    const joined = open.participants.filter((p) => p.state !== 'left').map((p) => (key(p.uri) === me ? t('you') : p.name || nameOf(p.uri)));
    const left = open.participants.filter((p) => p.state === 'left').map((p) => p.name || nameOf(p.uri));
    line.push(t('In this conversation: {names}', { names: joined.join(', ') }));
    if (left.length) line.push(t('Left: {names}', { names: left.join(', ') }));
  } else if (open.pending.length > 1) {
    line.push(t('Your first message starts a conversation with {names}', { names: open.pending.map(nameOf).join(', ') }));
  }
  $('conv-people').textContent = line.join(' · ');
}

async function loadHistory() {
  if (!open?.id) return;
  const id = open.id;
  try {
    const r = await api('GET', `/api/v1/conversations/${encodeURIComponent(id)}/messages?limit=50`);
    if (open?.id !== id) return;
    const older = (r.messages ?? []).slice().reverse();
    const list = $('conv-messages');
    const fresh = [...list.children];
    list.replaceChildren();
    open.seen.clear();
    for (const m of older) append(m);
    // Messages that arrived while history loaded stay, after it.
    for (const li of fresh) {
      if (!open.seen.has(Number(li.dataset.id))) {
        list.append(li);
        open.seen.add(Number(li.dataset.id));
      }
    }
    setNext(r.next);
  } catch (err) {
    setError($('conv-error'), errorText(err));
  }
}

function setNext(next) {
  open.next = next || null;
  show($('conv-older'), Boolean(open.next));
}

/** The page of messages before the oldest shown (scrolling up, or Load older messages),
 * put above them without moving what is on screen. */
async function loadOlder() {
  if (!open?.next || loadingOlder) return;
  const id = open.id;
  loadingOlder = true;
  const list = $('conv-messages');
  list.setAttribute('aria-busy', 'true');
  try {
    const r = await api('GET', open.next);
    if (open?.id !== id) return;
    const fromBottom = list.scrollHeight - list.scrollTop;
    const first = list.firstElementChild;
    // Newest first in the answer: each goes above the one after it.
    for (const m of (r.messages ?? []).slice().reverse()) {
      if (open.seen.has(m.id)) continue;
      open.seen.add(m.id);
      list.insertBefore(messageItem(m), first);
      if (m.recipients) showDelivery(m.id, m.recipients);
    }
    list.scrollTop = list.scrollHeight - fromBottom;
    setNext(r.next);
  } catch (err) {
    setError($('conv-error'), errorText(err));
  } finally {
    loadingOlder = false;
    list.removeAttribute('aria-busy');
  }
}

/** Reloads the open conversation's history (after a resync). */
export function reloadConversation() {
  return loadHistory();
}

function append(m) {
  if (!open || open.seen.has(m.id)) return;
  open.seen.add(m.id);
  const li = messageItem(m);
  $('conv-messages').append(li);
  if (m.recipients) showDelivery(m.id, m.recipients);
  li.scrollIntoView({ block: 'nearest' });
}

/** A message as a list item. */
function messageItem(m) {
  const mine = key(m.from) === key(state.me?.sipUri);
  const li = el('li', mine ? 'msg mine' : 'msg');
  li.dataset.id = String(m.id);
  const meta = el('div', 'msg-meta small muted');
  const when = m.time ? new Date(m.time) : new Date();
  meta.append(el('span', 'msg-from', mine ? t('You') : nameOf(m.from)), ' · ', el('time', '', when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })));
  meta.querySelector('time').dateTime = when.toISOString();
  li.append(meta, el('div', 'msg-text', messageText(m)));
  if (m.format === 'file' && m.file?.href) {
    const b = el('button', 'small', t('Download {name}', { name: m.file.name }));
    b.type = 'button';
    b.addEventListener('click', () => download(m.file));
    li.append(b);
  }
  if (mine) li.append(el('div', 'msg-status small muted'));
  return li;
}

/** Under a message I sent: who has not got it yet (they are not signed in; it waits for
 * them), or nothing once everyone has. */
function showDelivery(id, recipients) {
  const li = $('conv-messages').querySelector(`li[data-id="${CSS.escape(String(id))}"]`);
  const line = li?.querySelector('.msg-status');
  if (!line) return;
  const waiting = recipients.filter((r) => r.status === 'pending').map((r) => nameOf(r.uri));
  line.textContent = waiting.length ? t('Waiting for {names} to sign in', { names: waiting.join(', ') }) : t('Delivered');
}

/** A message.status event: a pending message reached someone. */
export function onMessageStatus(data) {
  if (open?.id === data.conversation_id) showDelivery(data.message_id, data.recipients ?? []);
}

function sizeText(bytes) {
  if (bytes < 1024) return t('{n} bytes', { n: bytes });
  if (bytes < 1024 * 1024) return t('{n} KB', { n: Math.round(bytes / 1024) });
  return t('{n} MB', { n: (bytes / 1024 / 1024).toFixed(1) });
}

/** What a message says, as plain text: HTML (already sanitised by the server) is reduced
 * to its text in an inert document, so nothing in it runs or loads. */
function messageText(m) {
  if (m.format === 'file') {
    return t('File: {name} ({size})', { name: m.file?.name ?? m.text, size: sizeText(m.file?.size ?? 0) });
  }
  if (m.format === 'html') {
    return new DOMParser().parseFromString(m.text, 'text/html').body.textContent ?? '';
  }
  return m.text;
}

async function send() {
  const box = $('conv-text');
  const text = box.value.trim();
  if (!text || !open) return;
  setError($('conv-error'), '');
  try {
    if (open.id) {
      const m = await api('POST', `/api/v1/conversations/${encodeURIComponent(open.id)}/messages`, { text, format: 'plain' });
      append(m);
    } else {
      const conv = await api('POST', '/api/v1/conversations', { to: open.pending, message: text, format: 'plain' });
      open.id = conv.id;
      open.pending = [];
      applyConversation(conv);
      if (conv.message) append(conv.message);
    }
    box.value = '';
    typingSent = 0;
  } catch (err) {
    setError($('conv-error'), errorText(err));
  }
}

function typing() {
  if (!open?.id) return;
  const now = Date.now();
  if (now - typingSent < 3000) return;
  typingSent = now;
  api('POST', `/api/v1/conversations/${encodeURIComponent(open.id)}/typing`).catch(() => {});
}

/** A message.received event. An incoming message for a conversation that is not open
 * opens it (this client shows one conversation at a time). */
export async function onMessage(data) {
  const m = data.message;
  if (!m) return;
  if (data.direction === 'incoming') {
    notifyIfHidden(t('Message from {name}', { name: nameOf(m.from) }), messageText(m).slice(0, 200), `im-${m.conversation_id}`);
  }
  if (open?.id === m.conversation_id) {
    append(m);
    $('conv-typing').textContent = '';
    return;
  }
  if (data.direction !== 'incoming') return;
  // Someone writing in the open window keeps it: a button offers the new conversation
  // instead of swapping the window (and the draft) under them.
  if (open && $('conv-text').value.trim()) {
    const notice = $('conv-notice');
    notice.textContent = t('New message from {name}: open it', { name: nameOf(m.from) });
    notice.onclick = () => {
      show(notice, false);
      switchTo(m);
    };
    show(notice, true);
    return;
  }
  await switchTo(m);
}

async function switchTo(m) {
  try {
    const conv = await api('GET', `/api/v1/conversations/${encodeURIComponent(m.conversation_id)}`);
    await openConversation(conv);
    append(m);
  } catch (err) {
    setError($('conv-error'), errorText(err));
  }
}

/** A typing event. */
export function onTyping(data) {
  if (open?.id !== data.conversation_id || key(data.from) === key(state.me?.sipUri)) return;
  $('conv-typing').textContent = t('{name} is typing…', { name: nameOf(data.from) });
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => { $('conv-typing').textContent = ''; }, 6000);
}

/** A conversation.updated event: names of participants, who joined or left the open
 * conversation, and a conversation I created from another tab. */
export function onConversation(data) {
  const conv = data.conversation;
  for (const p of conv?.participants ?? []) rememberName(p.uri, p.name);
  if (!conv || !open) return;
  if (open.id === conv.id) {
    applyConversation(conv);
  } else if (!open.id && open.pending.length === 1 && isOneToOneWith(conv, open.pending[0])) {
    open.id = conv.id;
    open.pending = [];
    applyConversation(conv);
  }
}

/** Closes the window (sign-out). */
export function resetIm() {
  close();
}
