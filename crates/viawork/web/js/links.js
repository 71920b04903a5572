// Phone links: `/call?to=…` is where a tel: or sip: link leads once ViaWork is the
// browser's handler for them ("Use ViaWork for phone links"), and what an intranet page or
// a CRM can link to. The call is placed only after the person confirms it here, so a link
// on some page cannot start a call by itself.

import { $, show } from './dom.js';
import { callTarget, formatNumber } from './format.js';
import { nameOf } from './state.js';
import { t } from './i18n.js';

let pending = '';
let place = () => {};

/** `call(to, name)` places the confirmed call. */
export function initLinks({ call }) {
  place = call;
  $('dial-confirm-call').addEventListener('click', () => {
    const to = pending;
    close();
    if (to) place(to, label(to));
  });
  $('dial-confirm-cancel').addEventListener('click', close);
  const button = $('register-links');
  if (typeof navigator.registerProtocolHandler !== 'function') {
    button.hidden = true;
    return;
  }
  button.addEventListener('click', () => {
    const url = `${location.origin}/call?to=%s`;
    try {
      // The browser asks the person; `callto:` is not among the schemes a page may claim.
      navigator.registerProtocolHandler('tel', url);
      navigator.registerProtocolHandler('sip', url);
      button.textContent = t('Phone links: asked the browser');
    } catch (err) {
      button.textContent = t('Phone links: not allowed here');
      button.title = String(err?.message ?? err);
    }
  });
}

function label(to) {
  return /^sips?:/i.test(to) && !/^sips?:\+?\d/i.test(to) ? nameOf(to) : formatNumber(to) || to;
}

function close() {
  pending = '';
  show($('dial-confirm'), false);
}

/** After sign-in: if the page was opened as `/call?to=…`, ask to confirm that call. The
 * address bar goes back to `/`, so reloading does not ask again. */
export function offerLinkedCall() {
  if (location.pathname !== '/call') return;
  const to = callTarget(new URLSearchParams(location.search).get('to'));
  history.replaceState(null, '', '/');
  if (!to) return;
  pending = to;
  $('dial-confirm-text').textContent = t('Call {target}?', { target: label(to) });
  show($('dial-confirm'), true);
  $('dial-confirm-call').focus();
}
