// The number Call Via Work rings first. Shown on my card; when my policy lets people choose
// (enabled, without UseAdminCallbackNumber) it can be changed here. The choice is kept in
// this browser for this user and sent with each call as `callback_number`; the server
// still checks it (its toll-fraud guard), and a refusal shows on the call.

import { $, show } from './dom.js';
import { formatNumber } from './format.js';
import { state } from './state.js';
import { t } from './i18n.js';

const storeKey = () => `viawork.callback.${String(state.me?.sipUri ?? '').toLowerCase()}`;

/** My chosen number, or '' for the policy's default. */
export function chosenCallback() {
  if (!editable()) return '';
  return localStorage.getItem(storeKey()) ?? '';
}

function editable() {
  const policy = state.me?.callViaWork?.policy;
  return !!policy?.enabled && !policy.useAdminCallbackNumber;
}

/** Shows the number on my card (after sign-in and after a change). */
export function renderCallback() {
  const cvw = state.me?.callViaWork ?? {};
  const chosen = chosenCallback();
  const number = formatNumber(chosen || cvw.callbackNumber);
  const reason = cvw.unavailableReason ? `: ${cvw.unavailableReason}` : '';
  if (!number) $('me-callback').textContent = `${t('Call Via Work is unavailable')}${reason}`;
  else if (chosen) $('me-callback').textContent = t('Your calls ring your phone {number} first', { number });
  else $('me-callback').textContent = t('Your calls ring your work phone {number} first', { number });
  show($('callback-change'), editable());
}

/** Wires the Change form. */
export function initCallback() {
  const form = $('callback-form');
  const toggle = (open) => {
    show(form, open);
    $('callback-change').setAttribute('aria-expanded', String(open));
    if (open) {
      $('callback-number').value = chosenCallback();
      $('callback-number').focus();
    }
  };
  $('callback-change').addEventListener('click', () => toggle(form.hidden));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const value = $('callback-number').value.trim();
    if (value) localStorage.setItem(storeKey(), value);
    else localStorage.removeItem(storeKey());
    toggle(false);
    renderCallback();
  });
  $('callback-reset').addEventListener('click', () => {
    localStorage.removeItem(storeKey());
    toggle(false);
    renderCallback();
  });
}
