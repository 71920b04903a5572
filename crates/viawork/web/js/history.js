// Recent calls: the user's call log (GET /api/v1/call-log), newest first, each with a
// button to call the number again.

import { api, errorText } from './api.js';
import { $, el } from './dom.js';
import { logSummary } from './format.js';
import { nameOf } from './state.js';
import { t } from './i18n.js';

let callAgain = () => {};
let joinAgain = () => {};

/** `call(to, name)` places a call from a history row; `join(meetingId, subject)` joins
 * the meeting of a meeting row again. */
export function initHistory({ call, join }) {
  callAgain = call;
  joinAgain = join;
}

/** Reloads the list after `call` ended: the server completes its log row off the call's
 * path, so a row still open is read again, a few times, a second apart. */
export async function historyAfterEnd(call, tries = 3) {
  const rows = await loadHistory();
  const row = rows.find((r) => r.id === call.id);
  if (row && row.state !== 'ended' && tries > 1) setTimeout(() => historyAfterEnd(call, tries - 1), 1000);
}

/** Reloads the list; resolves to its rows. */
export async function loadHistory() {
  const list = $('history');
  let r;
  try {
    r = await api('GET', '/api/v1/call-log?limit=20');
  } catch (err) {
    list.replaceChildren(el('li', 'error', errorText(err)));
    return [];
  }
  list.replaceChildren();
  const rows = r.calls ?? [];
  if (!rows.length) list.append(el('li', 'muted small', t('No calls yet.')));
  for (const row of rows) {
    const s = logSummary(row, nameOf);
    const li = el('li', 'history-row');
    const arrow = el('span', `arrow ${row.direction === 'inbound' ? 'in' : 'out'}`, s.arrow);
    arrow.setAttribute('aria-label', s.direction);
    arrow.setAttribute('role', 'img');
    const text = el('div', 'history-text');
    const when = row.created_at ? new Date(row.created_at) : null;
    const time = el('time', 'muted small', when ? when.toLocaleString([], { dateStyle: 'short', timeStyle: 'short' }) : '');
    if (when) time.dateTime = when.toISOString();
    const detail = [s.number, s.outcome].filter(Boolean).join(' · ');
    text.append(el('div', 'history-who', s.title), el('div', 'small', detail), time);
    li.append(arrow, text);
    const meeting = /^meeting:(.+)$/i.exec(row.to ?? '');
    if (meeting) {
      // A meeting's row: its to_number is my own phone, rung by the dial-out.
      const b = el('button', 'small', t('Join'));
      b.type = 'button';
      b.setAttribute('aria-label', t('Join the meeting again'));
      b.addEventListener('click', () => joinAgain(meeting[1]));
      li.append(b);
    } else if (row.to_number) {
      const b = el('button', 'small', t('Call'));
      b.type = 'button';
      b.setAttribute('aria-label', t('Call {name} again', { name: s.label }));
      b.addEventListener('click', () => callAgain(row.to_number, s.label));
      li.append(b);
    }
    list.append(li);
  }
  return rows;
}
