// Administration, for users with the admin role (the /api/v1/admin routes, which answer
// 403 to anyone else): trunk status and live calls, the global Call Via Work caller ID,
// Call Via Work policies, the dial-plan test, the call log as CSV, and people — create,
// enable or disable, grant a policy.

import { api, apiBlob, apiUpload, errorText, uriPath } from './api.js';
import { $, el, setError, show } from './dom.js';
import { formatNumber } from './format.js';
import { t } from './i18n.js';
import { state } from './state.js';

let policies = [];

/** Wires the page; the button shows for administrators only (see showAdminButton). */
export function initAdmin() {
  $('admin-open').addEventListener('click', openAdmin);
  $('admin-close').addEventListener('click', () => show($('admin'), false));
  $('admin-refresh').addEventListener('click', () => guard(loadTrunk));
  $('admin-routing').addEventListener('submit', (e) => {
    e.preventDefault();
    guard(async () => {
      await api('PUT', '/api/v1/admin/routing', { callViaWorkCallerId: $('admin-caller-id').value.trim() || null });
      $('admin-routing-saved').textContent = t('Saved.');
    });
  });
  $('admin-policy-form').addEventListener('submit', (e) => {
    e.preventDefault();
    guard(async () => {
      await api('POST', '/api/v1/admin/policies', {
        identity: $('admin-policy-identity').value.trim(),
        enabled: $('admin-policy-enabled').checked,
      });
      $('admin-policy-identity').value = '';
      await loadPolicies();
      await loadUsers();
    });
  });
  $('admin-dialplan').addEventListener('submit', (e) => {
    e.preventDefault();
    guard(async () => {
      const body = { number: $('admin-dialplan-number').value.trim() };
      const user = $('admin-dialplan-user').value.trim();
      if (user) body.user = user;
      $('admin-dialplan-result').textContent = dialPlanText(await api('POST', '/api/v1/admin/dialplan/test', body));
    });
  });
  $('admin-log-csv').addEventListener('click', () => guard(async () => {
    const blob = await apiBlob('/api/v1/admin/call-log.csv');
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = 'viawork-call-log.csv';
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60000);
  }));
  $('admin-import-pick').addEventListener('click', () => $('admin-import').click());
  $('admin-import').addEventListener('change', importUsers);
  $('admin-user-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const body = {
      sipUri: $('admin-user-uri').value.trim(),
      displayName: $('admin-user-name').value.trim(),
      enterpriseVoice: $('admin-user-ev').checked,
    };
    const password = $('admin-user-password').value;
    if (password) body.password = password;
    const line = $('admin-user-line').value.trim();
    if (line) body.lineUri = line;
    guard(async () => {
      await api('POST', '/api/v1/admin/users', body);
      $('admin-user-form').reset();
      await loadUsers();
    });
  });
}

/** Shows the Administration button to administrators. */
export function showAdminButton() {
  show($('admin-open'), state.me?.role === 'admin');
  if (state.me?.role !== 'admin') show($('admin'), false);
}

/** Runs `fn`, showing its failure (a 4xx names the field) at the top of the page. */
async function guard(fn) {
  setError($('admin-error'), '');
  try {
    await fn();
  } catch (err) {
    setError($('admin-error'), errorText(err));
  }
}

function openAdmin() {
  $('admin-routing-saved').textContent = '';
  show($('admin'), true);
  $('admin-title').tabIndex = -1;
  $('admin-title').focus();
  guard(async () => {
    await Promise.all([loadTrunk(), loadRouting(), loadPolicies()]);
    await loadUsers();
  });
}

async function loadTrunk() {
  const [trunk, live] = await Promise.all([api('GET', '/api/v1/admin/trunk'), api('GET', '/api/v1/admin/calls')]);
  let text;
  if (!trunk.configured) text = t('No trunk is configured (pbx.address).');
  else {
    const ago = trunk.last_ok_secs_ago == null ? '' : ` ${t('last answered {secs} s ago', { secs: trunk.last_ok_secs_ago })}`;
    text = `${trunk.up ? t('Trunk up') : t('Trunk down')}: ${trunk.address ?? ''}${ago}`;
  }
  $('admin-trunk').textContent = text;
  const list = $('admin-calls');
  list.replaceChildren();
  const calls = live.calls ?? [];
  list.append(el('li', 'muted', t('Live calls: {count}', { count: calls.length })));
  for (const c of calls) {
    list.append(el('li', '', `${c.owner ?? ''} → ${formatNumber(c.to_number) || c.to} (${c.state})`));
  }
}

async function loadRouting() {
  const r = await api('GET', '/api/v1/admin/routing');
  $('admin-caller-id').value = r.callViaWorkCallerId ?? '';
}

async function loadPolicies() {
  policies = await api('GET', '/api/v1/admin/policies');
  const body = $('admin-policies');
  body.replaceChildren();
  for (const p of policies) {
    const tr = el('tr');
    const cb = p.useAdminCallbackNumber
      ? t('Always {number}', { number: formatNumber(p.adminCallbackNumber) })
      : p.adminCallbackNumber ? t('Default {number}', { number: formatNumber(p.adminCallbackNumber) }) : t("User's choice");
    const enabled = el('td');
    const box = el('input');
    box.type = 'checkbox';
    box.checked = p.enabled;
    box.setAttribute('aria-label', t('{policy} is enabled', { policy: p.identity }));
    box.addEventListener('change', () => guard(async () => {
      await api('PATCH', `/api/v1/admin/policies/${encodeURIComponent(p.identity)}`, { enabled: box.checked });
    }));
    enabled.append(box);
    tr.append(el('td', '', p.identity), enabled, el('td', '', cb));
    body.append(tr);
  }
}

async function loadUsers() {
  const users = await api('GET', '/api/v1/admin/users?limit=200');
  const body = $('admin-users');
  body.replaceChildren();
  const grantable = policies.filter((p) => p.identity.startsWith('Tag:')).map((p) => p.identity);
  for (const u of users) {
    const tr = el('tr');
    tr.dataset.uri = u.sipUri;
    const who = el('td');
    who.append(el('div', '', u.displayName || u.sipUri), el('div', 'muted small', u.sipUri.replace(/^sip:/, '')));
    const line = el('td', '', `${formatNumber(u.lineUri)}${u.enterpriseVoice ? '' : ` ${t('(no Enterprise Voice)')}`}`);

    const enabledCell = el('td');
    const toggle = el('input');
    toggle.type = 'checkbox';
    toggle.checked = u.enabled;
    toggle.setAttribute('aria-label', t('{name} is enabled', { name: u.displayName || u.sipUri }));
    toggle.disabled = u.sipUri === state.me?.sipUri; // not oneself out of the page
    toggle.addEventListener('change', () => guard(async () => {
      await api('PATCH', `/api/v1/admin/users/${uriPath(u.sipUri)}`, { enabled: toggle.checked });
    }));
    enabledCell.append(toggle);

    const grantCell = el('td');
    const select = el('select');
    select.setAttribute('aria-label', t('Policy of {name}', { name: u.displayName || u.sipUri }));
    const none = el('option', '', t('Site or Global'));
    none.value = '';
    select.append(none);
    for (const id of grantable) {
      const o = el('option', '', id);
      o.value = id;
      select.append(o);
    }
    select.value = u.policyGrant ?? '';
    select.addEventListener('change', () => guard(async () => {
      await api('PUT', `/api/v1/admin/users/${uriPath(u.sipUri)}/policy`, { policy: select.value || null });
    }));
    grantCell.append(select);

    tr.append(who, line, enabledCell, grantCell);
    body.append(tr);
  }
}

/** A dial-plan test's outcome in words. */
function dialPlanText(r) {
  const plan = r.dialPlan === 'global' ? t('the global dial plan') : t('the dial plan of {user}', { user: r.dialPlan });
  const n = r.normalized;
  if (!n) return t('No rule of {plan} normalises “{input}”.', { plan, input: r.input });
  const number = n.result?.value ?? '';
  return n.ruleName
    ? t('{input} → {number} (rule {rule} of {plan})', { input: r.input, number, rule: n.ruleName, plan })
    : t('{input} → {number} (already E.164)', { input: r.input, number });
}

/** Imports a Get-CsUser CSV; any bad row refuses the whole file (nothing is imported),
 * and each bad row is listed with its line. */
async function importUsers() {
  const input = $('admin-import');
  const file = input.files?.[0];
  input.value = '';
  if (!file) return;
  const box = $('admin-import-result');
  box.replaceChildren();
  setError($('admin-error'), '');
  let report;
  try {
    report = await apiUpload('/api/v1/admin/users/import?skip_bad_rows=false', file, 'text/csv');
  } catch (err) {
    if (!err.body?.rows) {
      setError($('admin-error'), errorText(err));
      return;
    }
    report = err.body;
  }
  const rows = report.rows ?? [];
  const bad = rows.filter((r) => r.status === 'failed');
  box.append(el('p', bad.length ? 'error' : '', bad.length
    ? t('{count} bad row(s); nothing imported.', { count: bad.length })
    : t('Imported {count} of {total}.', { count: report.imported ?? 0, total: rows.length })));
  const list = el('ul', 'plain-list small');
  for (const r of bad) {
    list.append(el('li', '', t('Line {line}: {field} {error}', { line: r.line, field: r.field ?? '', error: r.error ?? '' })));
  }
  box.append(list);
  await loadUsers();
}
