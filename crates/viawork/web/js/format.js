// Words and numbers as a person reads them: phone numbers, durations, presence and
// what a call is doing, in the language in use (i18n.js). No DOM, so tests/web runs them
// under node.

import { t } from './i18n.js';

/** A number for people: "+14255550101" → "+1 425 555 0101"; `tel:`/`sip:` forms
 * and extensions are read; other numbers are shown as written. */
export function formatNumber(raw) {
  if (!raw) return '';
  let s = String(raw).trim();
  let ext = '';
  const extMatch = s.match(/;ext=(\w+)/i);
  if (extMatch) ext = ` ext. ${extMatch[1]}`;
  s = s.replace(/^(tel|sip|sips):/i, '').replace(/[;@].*$/, '');
  const digits = s.replace(/[^\d+]/g, '');
  const nanp = digits.match(/^\+1(\d{3})(\d{3})(\d{4})$/);
  if (nanp) return `+1 ${nanp[1]} ${nanp[2]} ${nanp[3]}${ext}`;
  // Elsewhere grouping needs each country's plan: show E.164 as it is.
  if (/^\+\d{8,15}$/.test(digits)) return `${digits}${ext}`;
  return `${s}${ext}`;
}

/** "mm:ss", or "h:mm:ss" from an hour on. */
export function formatDuration(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  const pad = (n) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(sec)}` : `${pad(m)}:${pad(sec)}`;
}

const AVAILABILITY = {
  Online: 'Available',
  Busy: 'Busy',
  DoNotDisturb: 'Do not disturb',
  BeRightBack: 'Be right back',
  Away: 'Away',
  IdleOnline: 'Available (inactive)',
  IdleBusy: 'Busy (inactive)',
  Offline: 'Offline',
};

const ACTIVITY = {
  in_a_call: 'In a call',
  in_a_conference: 'In a conference call',
  on_the_phone: 'On the phone',
  in_a_meeting: 'In a meeting',
  presenting: 'Presenting',
  off_work: 'Off work',
  inactive: 'Inactive',
};

/** A presence as words: "Busy — In a call", "Away — Off work", "Offline". */
export function presenceText(p) {
  if (!p || !p.availability) return t('Presence unknown');
  const base = AVAILABILITY[p.availability] ? t(AVAILABILITY[p.availability]) : p.availability;
  const act = p.activity ? (ACTIVITY[p.activity] ? t(ACTIVITY[p.activity]) : p.activity.replaceAll('_', ' ')) : '';
  if (!act || act === base) return base;
  if (p.activity === 'off_work') return act;
  return `${base} — ${act}`;
}

/** The colour class of a presence dot. */
export function presenceClass(p) {
  switch (p?.availability) {
    case 'Online': return 'p-online';
    case 'IdleOnline': return 'p-idle';
    case 'Busy': case 'IdleBusy': return 'p-busy';
    case 'DoNotDisturb': return 'p-dnd';
    case 'BeRightBack': case 'Away': return 'p-away';
    default: return 'p-offline';
  }
}

/** Who the other party of a call is, in words: a known name, the caller, or the number. */
export function peerName(call, knownName) {
  if (knownName) return knownName;
  if (call.direction === 'inbound') {
    if (call.from_name) return call.from_name;
    return formatNumber(call.from) || t('Unknown caller');
  }
  return formatNumber(call.to_number || call.to) || call.to || t('Unknown');
}

/** Why a call ended, from the user's point of view. */
export function endText(call, peer) {
  const r = call.end_reason;
  const by = call.hung_up_by;
  switch (r) {
    case 'completed':
      // On incoming calls the server's hung_up_by names its legs (the caller's leg is
      // its "your_phone"), so who hung up is not said for them.
      if (call.direction === 'inbound') return by === 'user' ? t('You hung up') : t('Call ended');
      if (by === 'far_end') return t('{peer} hung up', { peer });
      if (by === 'your_phone') return t('You hung up on your desk phone');
      if (by === 'user') return t('You hung up');
      return t('Call ended');
    case 'cancelled': return t('Call cancelled before it connected');
    case 'your_phone_busy': return t('Your work phone is busy');
    case 'far_end_busy': return t('{peer} is busy', { peer });
    case 'your_phone_declined': return t('Your work phone declined the call');
    case 'far_end_declined': return t('{peer} declined the call', { peer });
    case 'your_phone_no_answer': return t("Your work phone wasn't answered");
    case 'far_end_no_answer': return t("{peer} didn't answer", { peer });
    case 'your_phone_unreachable': return t("Your work phone couldn't be reached");
    case 'far_end_unreachable': return t("{peer} couldn't be reached", { peer });
    case 'trunk_unavailable': return t("The phone system can't be reached right now");
    case 'transferred': return t('Call transferred');
    case 'missed': return t('Missed call from {peer}', { peer });
    case 'declined': return t('You declined the call');
    case 'busy': return t('All your phones were busy');
    case 'failed': return t('The call failed');
    default: return t('Call ended');
  }
}

const ANSWERED_ON = {
  desk_phone: 'Answered on your desk phone',
  sip_client: 'Answered on another device',
  simultaneous_ring: 'Answered on your simultaneous-ring phone',
  forward: 'Forwarded',
};

/** Whether two numbers are the same line (digits compared, extensions ignored). */
export function sameNumber(a, b) {
  const digits = (n) => String(n ?? '').replace(/^(tel|sips?):/i, '').replace(/[;@].*$/, '').replace(/\D/g, '');
  return digits(a) !== '' && digits(a) === digits(b);
}

/** What a call is doing now, as a sentence. `now` is Date.now(), `peer` the other party's
 * name, `workNumber` my line: a callback to another number is "your phone". */
export function callStatus(call, peer, now, workNumber) {
  const number = formatNumber(call.callback_number);
  const work = !workNumber || !call.callback_number || sameNumber(call.callback_number, workNumber);
  const time = formatDuration(now - (call.connected_at ?? now));
  switch (call.state) {
    case 'incoming': return t('{peer} is calling…', { peer });
    case 'connecting_your_phone':
      if (!number) return t('Calling your work phone…');
      return work ? t('Calling your work phone {number}…', { number }) : t('Calling your phone {number}…', { number });
    case 'your_phone_ringing':
      return work
        ? t('Your work phone is ringing — pick it up to talk to {peer}', { peer })
        : t('Your phone is ringing — pick it up to talk to {peer}', { peer });
    case 'connecting': return t('Calling {peer}…', { peer });
    case 'ringing': return t('Ringing {peer}…', { peer });
    case 'connected': {
      const where = call.direction === 'inbound' && ANSWERED_ON[call.answered_on] ? t(ANSWERED_ON[call.answered_on]) : '';
      const head = where ? `${where} · ` : '';
      const line = call.muted ? t('Connected {time} (muted)', { time }) : t('Connected {time}', { time });
      return `${head}${line}`;
    }
    case 'on_hold': return t('{peer} is on hold {time}', { peer, time });
    case 'ended': return endText(call, peer);
    default: return call.state;
  }
}

const SHORT_END = {
  cancelled: 'Cancelled',
  your_phone_busy: 'Your phone was busy',
  far_end_busy: 'Busy',
  your_phone_declined: 'Declined on your phone',
  far_end_declined: 'Declined',
  your_phone_no_answer: "Your phone wasn't answered",
  far_end_no_answer: 'No answer',
  your_phone_unreachable: "Your phone couldn't be reached",
  far_end_unreachable: 'Unreachable',
  trunk_unavailable: 'Phone system unavailable',
  transferred: 'Transferred',
  missed: 'Missed',
  declined: 'Declined',
  busy: 'Busy',
  failed: 'Failed',
};

/** A call log row's one-line summary; `nameFor(uri)` names a directory user. */
export function logSummary(row, nameFor = (uri) => uri.replace(/^sips?:/i, '')) {
  const inbound = row.direction === 'inbound';
  if (row.direction === 'meeting' || /^meeting:/i.test(row.to ?? '')) {
    const outcome = row.state !== 'ended' ? t('in progress')
      : row.end_reason === 'completed' ? formatDuration((row.duration_secs ?? 0) * 1000) : t(SHORT_END[row.end_reason] ?? 'Ended');
    return { arrow: '↗', direction: t('Meeting'), label: t('Meeting'), title: t('Meeting'), number: '', outcome };
  }
  const who = formatNumber(row.to_number) || row.to || '';
  let name = row.to && !/^[+\d\s()./-]+$/.test(row.to) && !/^tel:/i.test(row.to) ? row.to : '';
  if (/^sips?:/i.test(name)) name = /^sips?:\+?\d+@/i.test(name) ? '' : nameFor(name);
  const label = name && name !== who ? `${name} (${who})` : who;
  const title = name || who;
  const number = name && name !== who ? who : '';
  let outcome;
  if (row.state !== 'ended') outcome = t('in progress');
  else if (row.end_reason === 'completed') outcome = formatDuration((row.duration_secs ?? 0) * 1000);
  else outcome = t(SHORT_END[row.end_reason] ?? 'Ended');
  return { arrow: inbound ? '↙' : '↗', direction: inbound ? t('Incoming') : t('Outgoing'), label, title, number, outcome };
}

/** What a phone link asks to call (`/call?to=…`, where `tel:`, `sip:` and `callto:` links
 * lead): a `sip:` address as it is (the server finds the person or reads the number), the
 * number of a `tel:` or `callto:` link as written (its visual separators are fine), or ''
 * for nothing callable. */
export function callTarget(raw) {
  let s = String(raw ?? '').trim();
  // eslint-disable-next-line no-control-regex
  if (!s || s.length > 256 || /[\u0000-\u001f\u007f]/.test(s)) return '';
  s = s.replace(/^web\+[a-z]+:/i, '');
  if (/^sips?:/i.test(s)) return /^sips?:[^@\s]+(@[^\s]+)?$/i.test(s) ? s : '';
  s = s.replace(/^(tel|callto):(\/\/)?/i, '').replace(/[;?].*$/, '');
  try { s = decodeURIComponent(s); } catch { return ''; }
  return /^\+?[\d\s().\-/]{2,}\d*$/.test(s) && /\d/.test(s) ? s.trim() : '';
}

/** What my dial-out join of a meeting is doing, as a sentence: `place` is where the
 * roster has me (`in`, `lobby`, or nothing yet) and whether it has me `muted`,
 * `fallbackNumber` the number rung when the call names none. */
export function meetingStatus(call, place, fallbackNumber, muted = false) {
  const number = formatNumber(call.callback_number || fallbackNumber);
  switch (call.state) {
    case 'connecting_your_phone':
    case 'your_phone_ringing':
      return number ? t('Dialing out to {number}…', { number }) : t('Dialing out to your phone…');
    case 'connected':
    case 'on_hold':
      if (place === 'lobby') return t('In the lobby — a leader will let you in');
      if (place === 'in') return muted ? t('In the meeting (muted)') : t('In the meeting');
      return t('Joining the meeting…');
    case 'ended':
      if (call.end_reason === 'completed') {
        if (call.hung_up_by === 'user' || call.hung_up_by === 'your_phone') return t('You left the meeting');
        return t('The meeting ended your call');
      }
      if (call.end_reason === 'cancelled') return t('You cancelled joining the meeting');
      return endText(call, t('The meeting'));
    default:
      return call.state;
  }
}
