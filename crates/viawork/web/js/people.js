// People: the contact list with live presence (subscribed on the event stream), the
// directory search with results as you type, and a person's card with Call and IM.

import { api, errorText, uriPath } from './api.js';
import { $, el, personRow, setError, show } from './dom.js';
import { formatNumber, presenceClass, presenceText } from './format.js';
import { key, nameOf, rememberName, state } from './state.js';
import { t } from './i18n.js';

let contacts = [];
let groups = [];
let shown = null; // the person on the card: {uri, name, person|null, type}
let searchSeq = 0;
let actions = { call: () => {}, im: () => {} };

/** Wires the search box and the card; `call(to, name)` and `im(uri, name)` are the
 * actions of the card's buttons. */
export function initPeople(handlers) {
  actions = handlers;
  let debounce = null;
  $('search').addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(search, 150);
  });
  $('search').addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      $('search').value = '';
      search();
    }
  });
  $('card-call').addEventListener('click', () => {
    if (shown) actions.call(shown.callTo, shown.name);
  });
  $('card-im').addEventListener('click', () => {
    if (shown) actions.im(shown.uri, shown.name);
  });
  $('card-contact').addEventListener('click', toggleContact);
  $('dial-typed').addEventListener('click', () => {
    const typed = $('search').value.trim();
    if (typed) actions.call(typed, formatNumber(typed) || typed);
  });
}

/** Reloads the contact list and subscribes to the presence of its directory users. */
export async function loadContacts() {
  const r = await api('GET', '/api/v1/me/contacts');
  contacts = r.contacts ?? [];
  groups = r.groups ?? [];
  for (const c of contacts) rememberName(c.uri, c.person?.name || c.name);
  const uris = contacts.filter((c) => c.type === 'user' && c.enabled).map((c) => c.uri);
  if (uris.length) {
    const s = await api('POST', '/api/v1/presence/subscriptions', { uris });
    for (const p of s.subscriptions ?? []) state.presence.set(key(p.uri), p);
  }
  renderContacts();
  if (shown) renderCard();
}

/** A presence change from the event stream. */
export function onPresence(p) {
  state.presence.set(key(p.uri), p);
  for (const row of document.querySelectorAll(`[data-uri="${CSS.escape(key(p.uri))}"]`)) {
    row.querySelector('.dot').className = `dot ${presenceClass(p)}`;
    const sub = row.querySelector('.person-sub');
    if (row.dataset.kind === 'user') sub.textContent = presenceLine(p);
  }
  if (shown && key(shown.uri) === key(p.uri)) renderCard();
}

function presenceLine(p) {
  const text = presenceText(p);
  return p?.note ? `${text} · ${p.note}` : text;
}

function renderContacts() {
  const box = $('contacts');
  box.replaceChildren();
  if (!contacts.length) {
    box.append(el('p', 'muted small', t('No contacts yet. Find someone above and add them.')));
    return;
  }
  const byGroup = new Map(groups.map((g) => [g.id, []]));
  for (const c of contacts) {
    for (const g of c.groups?.length ? c.groups : ['other']) {
      if (!byGroup.has(g)) byGroup.set(g, []);
      byGroup.get(g).push(c);
    }
  }
  for (const [gid, members] of byGroup) {
    if (!members.length) continue;
    const g = groups.find((x) => x.id === gid);
    const title = el('h4', 'group-title', !g || g.default ? t('Other Contacts') : g.name);
    const ul = el('ul', 'people-list');
    ul.setAttribute('aria-label', title.textContent);
    for (const c of members) ul.append(contactRow(c));
    box.append(title, ul);
  }
}

function contactRow(c) {
  const isUser = c.type === 'user';
  const name = isUser ? (c.person?.name || nameOf(c.uri)) : (c.name || formatNumber(c.uri));
  const p = state.presence.get(key(c.uri));
  const sub = isUser ? presenceLine(p) : formatNumber(c.uri);
  const li = personRow(name, sub, isUser ? presenceClass(p) : 'p-phone', () => openCard({
    uri: c.uri, name, person: c.person, type: c.type,
  }));
  li.dataset.uri = key(c.uri);
  li.dataset.kind = c.type;
  return li;
}

async function search() {
  const q = $('search').value.trim();
  const seq = ++searchSeq;
  const looksLikeNumber = /^[+\d\s().\-/]{3,}$/.test(q) && /\d{3,}/.test(q.replace(/\D/g, ''));
  show($('contacts-area'), !q);
  show($('search-area'), !!q);
  const dial = $('dial-typed');
  dial.textContent = looksLikeNumber ? t('Call {number}', { number: formatNumber(q) || q }) : '';
  show(dial, looksLikeNumber);
  const list = $('search-results');
  if (!q) {
    list.replaceChildren();
    return;
  }
  let r;
  try {
    r = await api('GET', `/api/v1/people?query=${encodeURIComponent(q)}&limit=20`);
  } catch (err) {
    if (seq !== searchSeq) return;
    list.replaceChildren(el('li', 'error', errorText(err)));
    return;
  }
  if (seq !== searchSeq) return; // a newer query is on its way
  list.replaceChildren();
  const results = r.results ?? [];
  if (!results.length) list.append(el('li', 'muted small', t('Nobody found for “{query}”.', { query: q })));
  for (const person of results) {
    rememberName(person.uri, person.name);
    const p = state.presence.get(key(person.uri));
    const sub = [person.title, person.department].filter(Boolean).join(', ') || person.uri.replace(/^sip:/, '');
    const li = personRow(person.name || person.uri, sub, presenceClass(p), () => openCard({
      uri: person.uri, name: person.name, person, type: 'user',
    }));
    li.dataset.uri = key(person.uri);
    li.dataset.kind = 'result';
    list.append(li);
    if (!p) fetchPresence(person.uri);
  }
  if (r.moreResultsAvailable) list.append(el('li', 'muted small', t('More people match: type more to narrow it down.')));
}

async function fetchPresence(uri) {
  try {
    const p = await api('GET', `/api/v1/people/${uriPath(uri)}/presence`);
    onPresence(p);
  } catch {
    // Presence is decoration in a result list; the card fetches it again.
  }
}

/** Shows a person's card. */
export function openCard(who) {
  shown = {
    ...who,
    name: who.name || nameOf(who.uri),
    callTo: who.type === 'phone' ? who.uri : who.uri,
  };
  setError($('card-error'), '');
  renderCard();
  show($('welcome'), false);
  show($('card'), true);
  if (who.type === 'user' && !state.presence.has(key(who.uri))) fetchPresence(who.uri);
  $('card-name').focus();
}

function renderCard() {
  const who = shown;
  const p = state.presence.get(key(who.uri));
  const isUser = who.type === 'user';
  $('card-name').textContent = who.name;
  $('card-name').tabIndex = -1;
  $('card-dot').className = `dot big ${isUser ? presenceClass(p) : 'p-phone'}`;
  $('card-presence').textContent = isUser ? presenceLine(p) : t('Phone number');
  const person = who.person;
  $('card-title').textContent = person ? [person.title, person.department].filter(Boolean).join(', ') : '';
  const dl = $('card-details');
  dl.replaceChildren();
  const add = (label, value) => {
    if (!value) return;
    dl.append(el('dt', '', t(label)), el('dd', '', value));
  };
  if (person) {
    add('Work phone', formatNumber(person.lineUri) || formatNumber(person.phones?.work));
    add('Mobile', formatNumber(person.phones?.mobile));
    add('Email', person.email);
    add('Office', person.office);
    add('Address', person.uri.replace(/^sip:/, ''));
  } else {
    add('Number', formatNumber(who.uri));
  }
  $('card-call').textContent = t('Call {name}', { name: who.name });
  $('card-call').setAttribute('aria-label', t('Call {name}', { name: who.name }));
  $('card-im').hidden = !isUser;
  $('card-im').setAttribute('aria-label', t('Send {name} an instant message', { name: who.name }));
  const listed = contacts.some((c) => key(c.uri) === key(who.uri));
  $('card-contact').textContent = listed ? t('Remove from contacts') : t('Add to contacts');
  $('card-contact').hidden = key(who.uri) === key(state.me?.sipUri);
}

async function toggleContact() {
  if (!shown) return;
  const listed = contacts.some((c) => key(c.uri) === key(shown.uri));
  try {
    if (listed) await api('DELETE', `/api/v1/me/contacts/${uriPath(shown.uri)}`);
    else await api('POST', '/api/v1/me/contacts', { uri: shown.uri });
    await loadContacts();
  } catch (err) {
    setError($('card-error'), errorText(err));
  }
}

/** Forgets everything about people (sign-out, before another user signs in here). */
export function resetPeople() {
  contacts = [];
  groups = [];
  shown = null;
  searchSeq += 1;
  state.presence.clear();
  state.names.clear();
  $('search').value = '';
  $('search-results').replaceChildren();
  $('contacts').replaceChildren();
  show($('search-area'), false);
  show($('contacts-area'), true);
  show($('card'), false);
  show($('welcome'), true);
}
