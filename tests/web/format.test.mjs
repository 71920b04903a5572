// Unit tests of the client's words (crates/viawork/web/js/format.js): `node --test tests/web`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  callStatus, callTarget, endText, sameNumber, formatDuration, formatNumber, logSummary, meetingStatus, peerName, presenceText,
} from '../../crates/viawork/web/js/format.js';

test('numbers read as people write them', () => {
  assert.equal(formatNumber('+14255550101'), '+1 425 555 0101');
  assert.equal(formatNumber('tel:+14255550101;ext=101'), '+1 425 555 0101 ext. 101');
  assert.equal(formatNumber('sip:+14255550101@example.com;user=phone'), '+1 425 555 0101');
  assert.equal(formatNumber('+4930123456789'), '+4930123456789');
  assert.equal(formatNumber('101'), '101');
  assert.equal(formatNumber(''), '');
  assert.equal(formatNumber(null), '');
});

test('durations are mm:ss, then h:mm:ss', () => {
  assert.equal(formatDuration(0), '00:00');
  assert.equal(formatDuration(42_900), '00:42');
  assert.equal(formatDuration(61_000), '01:01');
  assert.equal(formatDuration(3_723_000), '1:02:03');
  assert.equal(formatDuration(-5), '00:00');
});

test('presence in words', () => {
  assert.equal(presenceText({ availability: 'Busy', activity: 'in_a_call' }), 'Busy — In a call');
  assert.equal(presenceText({ availability: 'Away', activity: 'off_work' }), 'Off work');
  assert.equal(presenceText({ availability: 'DoNotDisturb' }), 'Do not disturb');
  assert.equal(presenceText({ availability: 'Online' }), 'Available');
  assert.equal(presenceText(undefined), 'Presence unknown');
});

const base = { id: 'c1', direction: 'outbound', to: 'sip:bob@example.com', to_number: '+14255550102', callback_number: '+14255550101', muted: false };

test('each state of a Call Via Work call is a sentence', () => {
  const at = (state, extra = {}) => callStatus({ ...base, state, ...extra }, 'Bob Jones', 1_000_000);
  assert.equal(at('connecting_your_phone'), 'Calling your work phone +1 425 555 0101…');
  assert.match(at('your_phone_ringing'), /^Your work phone is ringing/);
  assert.equal(at('connecting'), 'Calling Bob Jones…');
  assert.equal(at('ringing'), 'Ringing Bob Jones…');
  assert.equal(at('connected', { connected_at: 958_000 }), 'Connected 00:42');
  assert.equal(at('connected', { connected_at: 958_000, muted: true }), 'Connected 00:42 (muted)');
  assert.equal(at('on_hold', { connected_at: 958_000 }), 'Bob Jones is on hold 00:42');
  assert.equal(at('ended', { end_reason: 'far_end_busy' }), 'Bob Jones is busy');
  assert.equal(at('ended', { end_reason: 'completed', hung_up_by: 'user' }), 'You hung up');
});

test('an incoming call says where it was answered and who calls', () => {
  const inbound = { ...base, direction: 'inbound', from: '+14255550123', from_name: 'Carol', state: 'connected', connected_at: 1_000_000 };
  assert.equal(callStatus({ ...inbound, answered_on: 'desk_phone' }, 'Carol', 1_005_000), 'Answered on your desk phone · Connected 00:05');
  assert.equal(callStatus({ ...inbound, answered_on: 'client' }, 'Carol', 1_005_000), 'Connected 00:05');
  assert.equal(peerName(inbound), 'Carol');
  assert.equal(peerName({ ...inbound, from_name: undefined }), '+1 425 555 0123');
  assert.equal(endText({ end_reason: 'missed' }, 'Carol'), 'Missed call from Carol');
  assert.equal(endText({ ...inbound, state: 'ended', end_reason: 'completed', hung_up_by: 'your_phone' }, 'Carol'), 'Call ended');
  assert.equal(endText({ ...inbound, state: 'ended', end_reason: 'completed', hung_up_by: 'user' }, 'Carol'), 'You hung up');
});

test('every end reason has words', () => {
  const reasons = ['completed', 'cancelled', 'your_phone_busy', 'far_end_busy', 'your_phone_declined', 'far_end_declined',
    'your_phone_no_answer', 'far_end_no_answer', 'your_phone_unreachable', 'far_end_unreachable', 'trunk_unavailable',
    'transferred', 'failed', 'missed', 'declined', 'busy'];
  const seen = new Set();
  for (const r of reasons) {
    const t = endText({ end_reason: r, hung_up_by: 'far_end' }, 'Bob');
    assert.notEqual(t, 'Call ended', r);
    seen.add(t);
  }
  assert.equal(seen.size, reasons.length);
});

test('call log rows summarise direction, party and outcome', () => {
  const row = { direction: 'outbound', to: 'Bob Jones', to_number: '+14255550102', state: 'ended', end_reason: 'completed', duration_secs: 61 };
  assert.deepEqual(logSummary(row), {
    arrow: '↗', direction: 'Outgoing', label: 'Bob Jones (+1 425 555 0102)', title: 'Bob Jones', number: '+1 425 555 0102', outcome: '01:01',
  });
  const byUri = { ...row, to: 'sip:bob@example.com' };
  assert.equal(logSummary(byUri, () => 'Bob Jones').label, 'Bob Jones (+1 425 555 0102)');
  assert.equal(logSummary(byUri).label, 'bob@example.com (+1 425 555 0102)');
  const missed = { direction: 'inbound', to: '+14255550123', to_number: '+14255550123', state: 'ended', end_reason: 'missed' };
  assert.deepEqual(logSummary(missed), {
    arrow: '↙', direction: 'Incoming', label: '+1 425 555 0123', title: '+1 425 555 0123', number: '', outcome: 'Missed',
  });
});

test('phone links name what to call, or nothing', () => {
  assert.equal(callTarget('tel:+1-425-555-0199'), '+1-425-555-0199');
  assert.equal(callTarget('tel:+14255550199;phone-context=example.com'), '+14255550199');
  assert.equal(callTarget('callto://+14255550199'), '+14255550199');
  assert.equal(callTarget('callto:%2B1%20425%20555%200199'), '+1 425 555 0199');
  assert.equal(callTarget('web+callto:+14255550199'), '+14255550199');
  assert.equal(callTarget('sip:bob@example.com'), 'sip:bob@example.com');
  assert.equal(callTarget('+1 (425) 555-0199'), '+1 (425) 555-0199');
  assert.equal(callTarget('101'), '101');
  assert.equal(callTarget(''), '');
  assert.equal(callTarget('javascript:alert(1)'), '');
  assert.equal(callTarget('tel:'), '');
  assert.equal(callTarget('sip:bob@example.com\n'), 'sip:bob@example.com');
  assert.equal(callTarget('tel:+1425\u0000555'), '');
  assert.equal(callTarget('x'.repeat(300)), '');
});

test('a callback to another number than my line is "your phone"', () => {
  const call = { ...base, state: 'connecting_your_phone', callback_number: '+14255550100' };
  assert.equal(callStatus(call, 'Bob', 0, 'tel:+14255550101;ext=101'), 'Calling your phone +1 425 555 0100…');
  assert.equal(callStatus({ ...call, state: 'your_phone_ringing' }, 'Bob', 0, 'tel:+14255550101'), 'Your phone is ringing — pick it up to talk to Bob');
  assert.equal(callStatus({ ...call, callback_number: '+14255550101' }, 'Bob', 0, 'tel:+14255550101;ext=101'), 'Calling your work phone +1 425 555 0101…');
  assert.ok(sameNumber('tel:+14255550101;ext=101', '+1 (425) 555-0101'));
  assert.ok(!sameNumber('', ''));
});

test('a meeting join in words: dialing out, in the meeting or its lobby, left', () => {
  const call = { id: 'c1', direction: 'meeting', to: 'meeting:m1', state: 'connecting_your_phone' };
  assert.equal(meetingStatus(call, undefined, 'tel:+14255550101;ext=101'), 'Dialing out to +1 425 555 0101 ext. 101…');
  assert.equal(meetingStatus({ ...call, state: 'your_phone_ringing', callback_number: '+14255550100' }, undefined, '+14255550101'), 'Dialing out to +1 425 555 0100…');
  assert.equal(meetingStatus(call, undefined, ''), 'Dialing out to your phone…');
  const up = { ...call, state: 'connected' };
  assert.equal(meetingStatus(up, undefined, ''), 'Joining the meeting…');
  assert.equal(meetingStatus(up, 'in', ''), 'In the meeting');
  assert.equal(meetingStatus(up, 'in', '', true), 'In the meeting (muted)');
  assert.equal(meetingStatus(up, 'lobby', ''), 'In the lobby — a leader will let you in');
  const ended = { ...call, state: 'ended', end_reason: 'completed' };
  assert.equal(meetingStatus({ ...ended, hung_up_by: 'user' }, 'in', ''), 'You left the meeting');
  assert.equal(meetingStatus({ ...ended, hung_up_by: 'your_phone' }, 'in', ''), 'You left the meeting');
  assert.equal(meetingStatus({ ...ended, hung_up_by: 'far_end' }, 'in', ''), 'The meeting ended your call');
  assert.equal(meetingStatus({ ...ended, end_reason: 'your_phone_no_answer' }, undefined, ''), "Your work phone wasn't answered");
  assert.equal(meetingStatus({ ...ended, end_reason: 'cancelled' }, undefined, ''), 'You cancelled joining the meeting');
  const row = logSummary({ direction: 'meeting', to: 'meeting:m1', state: 'ended', end_reason: 'completed', duration_secs: 65 });
  assert.equal(row.title, 'Meeting');
  assert.equal(row.outcome, '01:05');
});

test('every text the client shows has its Russian, with the same placeholders', async () => {
  const { readFileSync, readdirSync } = await import('node:fs');
  const { RU } = await import('../../crates/viawork/web/js/i18n-ru.js');
  const dir = new URL('../../crates/viawork/web/', import.meta.url);
  const used = new Set();
  for (const f of readdirSync(new URL('js/', dir))) {
    const src = readFileSync(new URL(`js/${f}`, dir), 'utf8');
    for (const m of src.matchAll(/\bt\((['"])((?:\\.|(?!\1).)*)\1/g)) used.add(m[2].replaceAll("\\'", "'"));
  }
  // Static text and labels of the page (not addresses, numbers or symbols).
  const page = readFileSync(new URL('index.html', dir), 'utf8').replace(/<(script|style)[\s\S]*?<\/\1>/g, '');
  for (const m of page.matchAll(/>([^<>]+)</g)) used.add(m[1].trim().replace(/\s+/g, ' '));
  for (const m of page.matchAll(/\b(?:placeholder|aria-label|title)="([^"]+)"/g)) used.add(m[1]);
  const missing = [...used].filter((k) => /[a-z]{2}/i.test(k) && !/^(sip:|tel:|Tag:|\+|ViaWork$)/.test(k) && !(k in RU));
  assert.deepEqual(missing, []);
  const names = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join(',');
  for (const [k, v] of Object.entries(RU)) assert.equal(names(v), names(k), k);
});

test('the words in Russian', async () => {
  const { setLanguage } = await import('../../crates/viawork/web/js/i18n.js');
  setLanguage('ru');
  try {
    const call = { ...base, state: 'connecting_your_phone' };
    assert.equal(callStatus(call, 'Bob Jones', 0), 'Звоним на ваш рабочий телефон +1 425 555 0101…');
    assert.equal(callStatus({ ...call, state: 'connected', connected_at: 0 }, 'Bob Jones', 42_000), 'Соединено 00:42');
    assert.equal(presenceText({ availability: 'Busy', activity: 'in_a_call' }), 'Занят — Разговаривает');
    assert.equal(endText({ end_reason: 'far_end_busy' }, 'Bob Jones'), 'Занято: Bob Jones');
  } finally {
    setLanguage('en');
  }
});
