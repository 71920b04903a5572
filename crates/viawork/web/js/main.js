// The browser client's entry point: sign-in, my card (presence, note, callback number),
// the event stream and who handles each event. See docs/web-client.md.

import { initAdmin, showAdminButton } from './admin.js';
import { api, errorText, setUnauthorizedHandler, signIn, signOut, token } from './api.js';
import { initCallback, renderCallback } from './callback.js';
import { initCalls, placeCall, reloadCalls, resetCalls, setMeetingHooks, update as updateCall } from './calls.js';
import { $, setError, show } from './dom.js';
import { EventStream } from './events.js';
import { presenceClass, presenceText } from './format.js';
import { initForwarding, loadForwarding, onForwarding, resetForwarding } from './forwarding.js';
import { historyAfterEnd, initHistory, loadHistory } from './history.js';
import { initLinks, offerLinkedCall } from './links.js';
import { initMeetings, join, meetingCallsReloaded, offerMeeting, onMeetingCall, onRoster, onMeetingChanged, resetMeetings, showEscalated } from './meetings.js';
import { askPermission } from './notify.js';
import { initIm, onConversation, onMessage, onMessageStatus, onTyping, openWith, reloadConversation, resetIm } from './im.js';
import { initPeople, loadContacts, onPresence, resetPeople } from './people.js';
import { key, rememberName, state } from './state.js';
import { LANGUAGES, language, setLanguage, t, translatePage } from './i18n.js';

const stream = new EventStream({
  onEvent: handle,
  onState: (s) => {
    $('conn').textContent = s === 'connected' ? '' : t('Reconnecting…');
    document.body.dataset.stream = s;
  },
  onLost: checkSignedIn,
});

function handle(event) {
  const d = event.data;
  switch (event.type) {
    case 'call.incoming':
    case 'call.updated':
      updateCall(d);
      break;
    case 'presence.updated':
      if (key(d.uri) === key(state.me?.sipUri)) renderMyPresence(d);
      else onPresence(d);
      break;
    case 'message.received':
      onMessage(d);
      break;
    case 'typing':
      onTyping(d);
      break;
    case 'conversation.updated':
      onConversation(d);
      break;
    case 'resync':
      reloadAll();
      break;
    case 'call_forwarding.updated':
      onForwarding(d);
      break;
    case 'message.status':
      onMessageStatus(d);
      break;
    case 'meeting.roster':
      onRoster(d);
      break;
    case 'meeting.updated':
    case 'meeting.deleted':
      onMeetingChanged();
      break;
    default:
      break;
  }
}

async function reloadAll() {
  try {
    // The call log after the contacts: its rows name people from them.
    await Promise.all([loadMyPresence(), loadContacts().then(loadHistory), reloadCalls(), reloadConversation(), loadForwarding()]);
  } catch (err) {
    $('conn').textContent = errorText(err);
  }
}

async function start() {
  try {
    state.me = await api('GET', '/api/v1/me');
  } catch {
    return showSignIn();
  }
  show($('signin'), false);
  show($('app'), true);
  rememberName(state.me.sipUri, state.me.displayName);
  renderMe();
  showAdminButton();
  stream.open();
  await reloadAll();
  offerLinkedCall();
  await offerMeeting();
  document.body.dataset.ready = 'true';
}

function renderMe() {
  const me = state.me;
  $('me-name').textContent = me.displayName || me.sipUri;
  renderCallback();
}

async function loadMyPresence() {
  renderMyPresence(await api('GET', '/api/v1/me/presence'));
}

function renderMyPresence(p) {
  $('me-dot').className = `dot ${presenceClass(p)}`;
  $('me-dot').title = presenceText(p);
  if (p.chosen !== undefined) $('me-presence').value = p.chosen ?? '';
  // Do not overwrite what the user is typing.
  if (document.activeElement !== $('me-note')) $('me-note').value = p.note ?? '';
}

async function savePresence() {
  const availability = $('me-presence').value || null;
  try {
    renderMyPresence(await api('PUT', '/api/v1/me/presence', { availability, note: $('me-note').value.trim() }));
  } catch (err) {
    $('conn').textContent = errorText(err);
  }
}

function showSignIn() {
  stream.close();
  resetCalls();
  resetIm();
  resetPeople();
  resetForwarding();
  resetMeetings();
  showAdminButton();
  $('history').replaceChildren();
  state.me = null;
  delete document.body.dataset.ready;
  show($('app'), false);
  show($('signin'), true);
  $('signin-user').focus();
}

async function checkSignedIn() {
  try {
    await api('GET', '/api/v1/me');
  } catch {
    // 401 has already shown sign-in; a network error: keep retrying the stream.
  }
}

let lastActivity = 0;
function activity() {
  // UCWA's reportMyActivity: at most once a minute while the person uses the page.
  const now = Date.now();
  if (!state.me || now - lastActivity < 60000) return;
  lastActivity = now;
  api('POST', '/api/v1/me/activity').catch(() => {});
}

/** The language selectors: choosing one reloads the page in it (the state comes back
 * from the server). */
function initLanguage() {
  translatePage();
  for (const select of document.querySelectorAll('.lang-select')) {
    for (const [code, name] of Object.entries(LANGUAGES)) {
      const option = document.createElement('option');
      option.value = code;
      option.textContent = name;
      option.lang = code;
      select.append(option);
    }
    select.value = language();
    select.addEventListener('change', () => {
      setLanguage(select.value);
      location.reload();
    });
  }
}

function init() {
  initLanguage();
  setUnauthorizedHandler(() => {
    sessionStorage.clear();
    showSignIn();
  });
  $('signin-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const user = $('signin-user').value.trim();
    const password = $('signin-password').value;
    if (!user || !password) {
      setError($('signin-error'), t('Enter your sign-in address and password.'));
      return;
    }
    setError($('signin-error'), '');
    try {
      await signIn(user, password);
      askPermission();
      $('signin-password').value = '';
      await start();
    } catch (err) {
      setError($('signin-error'), err.status === 401 || err.status === 400 ? t('That sign-in address and password do not match.') : errorText(err));
    }
  });
  $('signout').addEventListener('click', async () => {
    stream.close();
    await signOut();
    showSignIn();
  });
  $('me-presence').addEventListener('change', savePresence);
  $('me-note').addEventListener('change', savePresence);
  $('me-note').addEventListener('keydown', (e) => {
    if (e.key === 'Enter') $('me-note').blur();
  });
  for (const ev of ['keydown', 'pointerdown']) document.addEventListener(ev, activity, { passive: true });

  initCalls({ ended: historyAfterEnd });
  initPeople({ call: placeCall, im: openWith });
  initIm();
  initHistory({ call: placeCall, join });
  initLinks({ call: placeCall });
  initCallback();
  initForwarding();
  initAdmin();
  initMeetings({ ended: historyAfterEnd, call: placeCall });
  setMeetingHooks({ update: onMeetingCall, reloaded: meetingCallsReloaded, escalated: showEscalated });

  if (token()) start();
  else showSignIn();
}

init();
