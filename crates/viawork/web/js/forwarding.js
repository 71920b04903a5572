// Call forwarding and simultaneous ring (GET/PUT /api/v1/me/call-forwarding): what happens
// to calls to me. A summary sits on my card; the form opens from the top bar. Changes made
// elsewhere arrive as call_forwarding.updated events.

import { api, errorText } from './api.js';
import { $, setError, show } from './dom.js';
import { formatNumber } from './format.js';
import { nameOf, state } from './state.js';
import { t } from './i18n.js';

let current = null; // the settings as the server last described them

/** A target as words: a number, a colleague's name, or voicemail. */
function targetText(target) {
  if (!target) return '';
  if (target.target === 'contact') return nameOf(target.to);
  if (target.target === 'voicemail') return t('voicemail');
  return formatNumber(target.to) || target.to;
}

/** One line on what happens to calls, or '' when they simply ring. */
export function forwardingSummary(v) {
  if (!v) return '';
  const parts = [];
  if (v.active === 'immediate_forward' && v.immediate_forward) {
    parts.push(t('Calls forward to {target}', { target: targetText(v.immediate_forward) }));
  }
  const sim = v.simultaneous_ring;
  if (v.active === 'simultaneous_ring' && sim) {
    const target = targetText(sim);
    parts.push(sim.ring_delay_secs
      ? t('Calls also ring {target} after {secs} s', { target, secs: sim.ring_delay_secs })
      : t('Calls also ring {target}', { target }));
  }
  if (v.unanswered && v.unanswered_call_handling !== 'disabled') {
    parts.push(t('Unanswered calls go to {target} after {secs} s', { target: targetText(v.unanswered), secs: v.unanswered.after_secs }));
  }
  return parts.join('; ');
}

/** Wires the form. */
export function initForwarding() {
  $('fwd-open').addEventListener('click', openForm);
  $('fwd-close').addEventListener('click', () => show($('fwd'), false));
  $('fwd-form').addEventListener('submit', (e) => {
    e.preventDefault();
    save();
  });
}

/** Loads the settings after sign-in (only users with Enterprise Voice have them). */
export async function loadForwarding() {
  const ev = !!state.me?.enterpriseVoice;
  show($('fwd-open'), ev);
  if (!ev) {
    $('me-forwarding').textContent = '';
    return;
  }
  onForwarding(await api('GET', '/api/v1/me/call-forwarding'));
}

/** The settings changed (an answer, or a call_forwarding.updated event). */
export function onForwarding(v) {
  current = v;
  $('me-forwarding').textContent = forwardingSummary(v);
  if (!$('fwd').hidden) fill(v);
}

function openForm() {
  setError($('fwd-error'), '');
  $('fwd-saved').textContent = '';
  if (current) fill(current);
  show($('welcome'), false);
  show($('fwd'), true);
  $('fwd-title').tabIndex = -1;
  $('fwd-title').focus();
}

function fill(v) {
  for (const r of document.querySelectorAll('input[name="fwd-active"]')) r.checked = r.value === v.active;
  const allowed = v.allowed ?? {};
  document.querySelector('input[name="fwd-active"][value="immediate_forward"]').disabled = allowed.call_forwarding === false;
  document.querySelector('input[name="fwd-active"][value="simultaneous_ring"]').disabled = allowed.simultaneous_ring === false;
  $('fwd-immediate-kind').value = v.immediate_forward?.target ?? 'number';
  $('fwd-immediate-to').value = v.immediate_forward?.to ?? '';
  $('fwd-sim-kind').value = v.simultaneous_ring?.target ?? 'number';
  $('fwd-sim-to').value = v.simultaneous_ring?.to ?? '';
  $('fwd-sim-delay').value = String(v.simultaneous_ring?.ring_delay_secs ?? 0);
  $('fwd-un').checked = !!v.unanswered;
  $('fwd-un-kind').value = v.unanswered?.target ?? 'voicemail';
  $('fwd-un-to').value = v.unanswered?.to ?? '';
  $('fwd-un-after').value = String(v.unanswered?.after_secs ?? 20);
}

async function save() {
  setError($('fwd-error'), '');
  $('fwd-saved').textContent = '';
  const active = document.querySelector('input[name="fwd-active"]:checked')?.value ?? 'off';
  const body = { active };
  const immediate = $('fwd-immediate-to').value.trim();
  if (immediate) body.immediate_forward = { target: $('fwd-immediate-kind').value, to: immediate };
  const sim = $('fwd-sim-to').value.trim();
  if (sim) body.simultaneous_ring = { target: $('fwd-sim-kind').value, to: sim, ring_delay_secs: Number($('fwd-sim-delay').value) || 0 };
  if ($('fwd-un').checked) {
    body.unanswered = { target: $('fwd-un-kind').value, to: $('fwd-un-to').value.trim(), after_secs: Number($('fwd-un-after').value) || 0 };
  }
  try {
    const v = await api('PUT', '/api/v1/me/call-forwarding', body);
    onForwarding(v);
    fill(v);
    $('fwd-saved').textContent = t('Saved.');
  } catch (err) {
    setError($('fwd-error'), errorText(err));
  }
}

/** Forgets the settings (sign-out). */
export function resetForwarding() {
  current = null;
  $('me-forwarding').textContent = '';
  show($('fwd'), false);
}
