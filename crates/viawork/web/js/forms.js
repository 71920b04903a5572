// Forms of the admin pages: reading and filling the controls named by `data-field` (the
// admin API's camelCase member names), showing the API's refusal next to the control it
// names, and a confirmation dialog for what cannot be undone.

import { ApiError, errorText } from './api.js';
import { $, el, setError } from './dom.js';

/** The controls of `form` that carry an API member, by member name. */
export function controls(form) {
  const map = new Map();
  for (const c of form.querySelectorAll('[data-field]')) map.set(c.dataset.field, c);
  return map;
}

/** The values of `form`'s controls: checkboxes as booleans, numbers as numbers (or null
 * when empty), the rest as trimmed text (passwords as typed). */
export function readForm(form) {
  const values = {};
  for (const [name, c] of controls(form)) {
    if (c.type === 'checkbox') values[name] = c.checked;
    else if (c.type === 'number') values[name] = c.value.trim() === '' ? null : Number(c.value);
    else if (c.type === 'password') values[name] = c.value;
    else values[name] = c.value.trim();
  }
  return values;
}

/** Puts `values` into `form`'s controls (absent members empty or unchecked). */
export function fillForm(form, values) {
  for (const [name, c] of controls(form)) {
    const v = values[name];
    if (c.type === 'checkbox') c.checked = Boolean(v);
    else c.value = v == null ? '' : String(v);
  }
}

/** Removes the errors shown in `form` (and its error line `box`). */
export function clearErrors(form, box) {
  for (const e of form.querySelectorAll('.field-error')) e.remove();
  for (const c of form.querySelectorAll('[aria-invalid]')) {
    c.removeAttribute('aria-invalid');
    c.removeAttribute('aria-describedby');
  }
  if (box) setError(box, '');
}

/** Shows a failure: next to the control of the member the API named (its `field`, or the
 * part before a dot, `aliases` mapping other names), and focuses it; else in `box`. */
export function showError(form, box, err, aliases = {}) {
  clearErrors(form, box);
  const named = err instanceof ApiError ? err.field : '';
  const name = aliases[named] ?? named.split('.')[0];
  const control = name ? controls(form).get(name) : null;
  if (!control) {
    setError(box, errorText(err));
    return;
  }
  const msg = el('span', 'field-error', err.message);
  msg.id = `${control.id}-error`;
  msg.setAttribute('role', 'alert');
  const check = control.closest('.check');
  if (check) check.after(msg);
  else (control.closest('.field') ?? control.parentElement).append(msg);
  control.setAttribute('aria-invalid', 'true');
  control.setAttribute('aria-describedby', msg.id);
  control.focus();
}

/** Asks "are you sure" in a modal dialog (Cancel has the focus; Escape cancels); resolves
 * to true when `okLabel` is chosen. */
export function confirmAction(text, okLabel) {
  const dialog = $('confirm');
  const ok = $('confirm-ok');
  const cancel = $('confirm-cancel');
  const back = document.activeElement;
  $('confirm-text').textContent = text;
  ok.textContent = okLabel;
  return new Promise((resolve) => {
    let settled = false;
    const done = (answer) => {
      if (settled) return;
      settled = true;
      ok.removeEventListener('click', yes);
      cancel.removeEventListener('click', no);
      dialog.removeEventListener('close', no);
      if (dialog.open) dialog.close();
      if (back instanceof HTMLElement && back.isConnected) back.focus();
      resolve(answer);
    };
    const yes = () => done(true);
    const no = () => done(false);
    ok.addEventListener('click', yes);
    cancel.addEventListener('click', no);
    dialog.addEventListener('close', no);
    dialog.showModal();
    cancel.focus();
  });
}
