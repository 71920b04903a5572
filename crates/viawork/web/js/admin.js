// Administration, for users with the admin role (the /api/v1/admin routes, which answer
// 403 to anyone else): trunk status and live calls, the global Call Via Work caller ID,
// the call log as CSV, Call Via Work policies (create, edit every setting, delete, import
// a CSV), the dial plan (rules listed, added, edited, deleted, and a test box), and people
// (create, edit every field, enable or disable, grant a policy, delete, import a CSV).
// A refusal is shown next to the field the API names.

import { api, apiBlob, apiUpload, errorText, uriPath } from './api.js';
import { $, el, setError, show } from './dom.js';
import { formatNumber } from './format.js';
import { clearErrors, confirmAction, fillForm, readForm, showError } from './forms.js';
import { t } from './i18n.js';
import { state } from './state.js';

let policies = [];
let users = [];
/** The person in the form (GET /users/{uri}), or null while it creates one. */
let editingUser = null;
/** The policy in the form, or null while it creates one. */
let editingPolicy = null;
/** The rule in the form, or null while it adds one. */
let editingRule = null;
/** Whose rules are listed: '' for the global dial plan, else a user's SIP address. */
let ruleScope = '';

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
    savePolicy();
  });
  $('admin-policy-cancel').addEventListener('click', () => newPolicy(true));
  $('admin-policy-use-admin').addEventListener('change', policyGuardState);
  $('admin-policy-delete').addEventListener('click', deletePolicy);
  $('admin-policy-import-pick').addEventListener('click', () => $('admin-policy-import').click());
  $('admin-policy-import').addEventListener('change', () => importCsv($('admin-policy-import'), '/api/v1/admin/policies/import', $('admin-policy-import-skip').checked, $('admin-policy-import-result'), loadPolicies));
  $('admin-dialplan-scope').addEventListener('submit', (e) => {
    e.preventDefault();
    ruleScope = $('admin-dialplan-user').value.trim();
    newRule(false);
    guard(loadRules);
  });
  $('admin-rule-form').addEventListener('submit', (e) => {
    e.preventDefault();
    saveRule();
  });
  $('admin-rule-cancel').addEventListener('click', () => newRule(true));
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
  $('admin-users-more').addEventListener('click', () => guard(moreUsers));
  $('admin-import-pick').addEventListener('click', () => $('admin-import').click());
  $('admin-import').addEventListener('change', () => importCsv($('admin-import'), '/api/v1/admin/users/import', $('admin-import-skip').checked, $('admin-import-result'), loadUsers));
  $('admin-user-form').addEventListener('submit', (e) => {
    e.preventDefault();
    savePerson();
  });
  $('admin-user-cancel').addEventListener('click', () => newPerson(true));
  $('admin-user-delete').addEventListener('click', deletePerson);
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
  // Each visit starts from the server's state: the forms create, the global plan is shown.
  ruleScope = '';
  $('admin-dialplan-user').value = '';
  for (const id of ['admin-import-result', 'admin-policy-import-result']) $(id).replaceChildren();
  for (const id of ['admin-user-status', 'admin-policy-status', 'admin-dialplan-result']) $(id).textContent = '';
  guard(async () => {
    await Promise.all([loadTrunk(), loadRouting(), loadPolicies(), loadRules()]);
    await loadUsers();
    newPerson(false);
    newPolicy(false);
    newRule(false);
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
    tr.dataset.identity = p.identity;
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
      p.enabled = box.checked;
      if (editingPolicy?.identity === p.identity) $('admin-policy-enabled').checked = box.checked;
    }));
    enabled.append(box);
    const guardText = p.useAdminCallbackNumber
      ? '—'
      : [p.allowInternationalCallback ? t('also abroad') : '', p.allowPremiumCallback ? t('also premium-rate') : '']
        .filter(Boolean).join(', ') || t('in their own country, not premium-rate');
    tr.append(el('td', '', p.identity), enabled, el('td', '', cb), el('td', 'small', guardText), rowActions(
      [t('Edit'), t('Edit {policy}', { policy: p.identity }), () => editPolicy(p)],
    ));
    body.append(tr);
  }
  fillGrantOptions();
}

/** A cell of buttons: each [text, accessible name, action]. */
function rowActions(...buttons) {
  const td = el('td');
  const box = el('div', 'row-actions');
  for (const [text, label, action] of buttons) {
    const b = el('button', 'small', text);
    b.type = 'button';
    b.setAttribute('aria-label', label);
    b.addEventListener('click', action);
    box.append(b);
  }
  td.append(box);
  return td;
}

function grantable() {
  return policies.filter((p) => p.identity.startsWith('Tag:')).map((p) => p.identity);
}

/** The policy choices of a select: none (site or global), then the `Tag:` policies. */
function grantOptions(select) {
  const keep = select.value;
  select.replaceChildren();
  const none = el('option', '', t('Site or Global'));
  none.value = '';
  select.append(none);
  for (const id of grantable()) {
    const o = el('option', '', id);
    o.value = id;
    select.append(o);
  }
  select.value = keep;
  if (select.selectedIndex < 0) select.value = '';
}

function fillGrantOptions() {
  grantOptions($('admin-user-grant'));
}

/** People listed per request; the API gives at most 1000. */
const USERS_PAGE = 200;

/** Reloads the people list, as many as were shown (at least a page). */
async function loadUsers() {
  const want = Math.min(1000, Math.max(USERS_PAGE, users.length));
  const list = await api('GET', `/api/v1/admin/users?limit=${want}`);
  users = list;
  $('admin-users').replaceChildren(...list.map(userRow));
  show($('admin-users-more'), list.length === want);
}

/** The next page of people, after the last one listed. */
async function moreUsers() {
  const last = users.at(-1)?.sipUri;
  if (!last) return;
  const page = await api('GET', `/api/v1/admin/users?limit=${USERS_PAGE}&after=${encodeURIComponent(last)}`);
  users.push(...page);
  $('admin-users').append(...page.map(userRow));
  show($('admin-users-more'), page.length === USERS_PAGE);
}

/** A row of the people list. */
function userRow(u) {
  const name = u.displayName || u.sipUri;
  const tr = el('tr');
  tr.dataset.uri = u.sipUri;
  const who = el('td');
  who.append(el('div', '', name), el('div', 'muted small', u.sipUri.replace(/^sip:/, '')));
  const line = el('td', '', `${formatNumber(u.lineUri)}${u.enterpriseVoice ? '' : ` ${t('(no Enterprise Voice)')}`}`);

  const enabledCell = el('td');
  const toggle = el('input');
  toggle.type = 'checkbox';
  toggle.checked = u.enabled;
  toggle.setAttribute('aria-label', t('{name} is enabled', { name }));
  toggle.disabled = u.sipUri === state.me?.sipUri; // not oneself out of the page
  toggle.addEventListener('change', () => guard(async () => {
    await api('PATCH', `/api/v1/admin/users/${uriPath(u.sipUri)}`, { enabled: toggle.checked });
    u.enabled = toggle.checked;
    if (editingUser?.sipUri === u.sipUri) {
      editingUser.enabled = toggle.checked;
      $('admin-user-enabled').checked = toggle.checked;
    }
  }));
  enabledCell.append(toggle);

  const grantCell = el('td');
  const select = el('select');
  select.setAttribute('aria-label', t('Policy of {name}', { name }));
  grantOptions(select);
  select.value = u.policyGrant ?? '';
  select.addEventListener('change', () => guard(async () => {
    await api('PUT', `/api/v1/admin/users/${uriPath(u.sipUri)}/policy`, { policy: select.value || null });
    u.policyGrant = select.value || null;
    // The form keeps what is typed in it; only its grant follows.
    if (editingUser?.sipUri === u.sipUri) {
      editingUser.policyGrant = u.policyGrant;
      $('admin-user-grant').value = select.value;
    }
  }));
  grantCell.append(select);

  tr.append(who, line, enabledCell, grantCell, rowActions([t('Edit'), t('Edit {name}', { name }), () => guard(() => editPerson(u.sipUri, true))]));
  return tr;
}

// ---- the person form: creates, or edits the person chosen with Edit ----

/** The form's members that PATCH takes as they are (not the address, secrets or grant). */
const PERSON_MEMBERS = ['displayName', 'lineUri', 'email', 'title', 'department', 'office', 'phoneWork',
  'phoneMobile', 'phoneHome', 'phoneOther', 'site', 'role', 'enterpriseVoice', 'enabled',
  'allowCallForwarding', 'allowSimultaneousRing', 'dialInConferencing'];

/** Back to creating a person (`focus`: to its first field). */
function newPerson(focus) {
  editingUser = null;
  const form = $('admin-user-form');
  clearErrors(form, $('admin-user-error'));
  form.classList.remove('editing');
  // A new person's defaults are the server's: may sign in, forward, ring others, dial in.
  fillForm(form, { role: 'user', policy: '', enabled: true, allowCallForwarding: true, allowSimultaneousRing: true, dialInConferencing: true });
  $('admin-user-form-h').textContent = t('New person');
  $('admin-user-uri').readOnly = false;
  $('admin-user-password-label').textContent = t('Initial password');
  $('admin-user-pin-label').textContent = t('Dial-in PIN');
  $('admin-user-submit').textContent = t('Create person');
  show($('admin-user-info'), false);
  show($('admin-user-cancel'), false);
  show($('admin-user-delete'), false);
  $('admin-user-enabled').disabled = false;
  if (focus) $('admin-user-uri').focus();
}

/** Loads a person into the form from the server (`focus`: brings the form into view). */
async function editPerson(uri, focus) {
  const u = await api('GET', `/api/v1/admin/users/${uriPath(uri)}`);
  editingUser = u;
  const form = $('admin-user-form');
  clearErrors(form, $('admin-user-error'));
  form.classList.add('editing');
  fillGrantOptions();
  fillForm(form, { ...u, site: u.site ?? '', policy: u.policyGrant ?? '', password: '', pin: '' });
  const name = u.displayName || u.sipUri;
  $('admin-user-form-h').textContent = t('Edit {name}', { name });
  $('admin-user-uri').readOnly = true;
  $('admin-user-password-label').textContent = t('New password (empty keeps it)');
  $('admin-user-pin-label').textContent = u.pinSet ? t('New dial-in PIN (empty keeps it)') : t('Dial-in PIN');
  $('admin-user-submit').textContent = t('Save changes');
  const me = u.sipUri === state.me?.sipUri;
  $('admin-user-enabled').disabled = me;
  show($('admin-user-cancel'), true);
  show($('admin-user-delete'), !me);
  const info = $('admin-user-info');
  const policy = t('Policy in effect: {policy} ({source})', {
    policy: u.effectivePolicy?.identity ?? '',
    source: u.effectivePolicySource === 'user' ? t('granted') : u.effectivePolicySource === 'site' ? t('site') : t('global'),
  });
  const rings = u.callbackNumber
    ? t('Call Via Work rings {number} first', { number: formatNumber(u.callbackNumber) })
    : t('No callback number: {reason}', { reason: u.callbackUnavailable ?? '' });
  info.textContent = `${policy} · ${rings}`;
  show(info, true);
  if (focus) {
    $('admin-user-form-h').scrollIntoView({ block: 'start' });
    $('admin-user-form-h').focus();
  }
}

async function savePerson() {
  const form = $('admin-user-form');
  const box = $('admin-user-error');
  const status = $('admin-user-status');
  clearErrors(form, box);
  status.textContent = '';
  const v = readForm(form);
  try {
    if (!editingUser) {
      const body = { sipUri: v.sipUri };
      for (const k of PERSON_MEMBERS) {
        if (typeof v[k] === 'boolean' || v[k]) body[k] = v[k];
      }
      if (v.password) body.password = v.password;
      if (v.pin) body.pin = v.pin;
      const created = await api('POST', '/api/v1/admin/users', body);
      const name = created.displayName || created.sipUri;
      await loadUsers();
      if (v.policy) {
        try {
          await api('PUT', `/api/v1/admin/users/${uriPath(created.sipUri)}/policy`, { policy: v.policy });
        } catch (err) {
          // Created, but not granted: the form now edits them, showing why.
          await editPerson(created.sipUri, false);
          status.textContent = t('{name} created.', { name });
          showError(form, box, err);
          return;
        }
        await loadUsers();
      }
      newPerson(false);
      status.textContent = t('{name} created.', { name });
      return;
    }
    const u = editingUser;
    const body = {};
    for (const k of PERSON_MEMBERS) {
      const was = typeof v[k] === 'boolean' ? Boolean(u[k]) : (u[k] ?? '');
      if (v[k] !== was) body[k] = v[k];
    }
    if (v.password) body.password = v.password;
    if (v.pin) body.pin = v.pin;
    if (Object.keys(body).length) await api('PATCH', `/api/v1/admin/users/${uriPath(u.sipUri)}`, body);
    if (v.policy !== (u.policyGrant ?? '')) {
      await api('PUT', `/api/v1/admin/users/${uriPath(u.sipUri)}/policy`, { policy: v.policy || null });
    }
    await Promise.all([loadUsers(), editPerson(u.sipUri, false)]);
    status.textContent = t('Saved.');
  } catch (err) {
    showError(form, box, err);
  }
}

async function deletePerson() {
  const u = editingUser;
  if (!u) return;
  const name = u.displayName || u.sipUri;
  const sure = await confirmAction(
    t('Delete {name} ({address})? They can no longer sign in, and this cannot be undone.', { name, address: u.sipUri.replace(/^sip:/, '') }),
    t('Delete person'),
  );
  if (!sure) return;
  try {
    await api('DELETE', `/api/v1/admin/users/${uriPath(u.sipUri)}`);
    newPerson(false);
    $('admin-user-status').textContent = t('{name} deleted.', { name });
    await loadUsers();
    $('admin-people-h').focus();
  } catch (err) {
    showError($('admin-user-form'), $('admin-user-error'), err);
  }
}

// ---- the policy form ----

const POLICY_MEMBERS = ['enabled', 'useAdminCallbackNumber', 'adminCallbackNumber', 'allowInternationalCallback', 'allowPremiumCallback'];

function newPolicy(focus) {
  editingPolicy = null;
  const form = $('admin-policy-form');
  clearErrors(form, $('admin-policy-error'));
  form.classList.remove('editing');
  fillForm(form, { enabled: true });
  policyGuardState();
  $('admin-policy-form-h').textContent = t('New policy');
  $('admin-policy-identity').readOnly = false;
  $('admin-policy-submit').textContent = t('Create policy');
  show($('admin-policy-cancel'), false);
  show($('admin-policy-delete'), false);
  if (focus) $('admin-policy-identity').focus();
}

/** Which numbers users may choose only matters when they may choose: not while the admin
 * callback number is always rung. */
function policyGuardState() {
  const always = $('admin-policy-use-admin').checked;
  $('admin-policy-intl').disabled = always;
  $('admin-policy-premium').disabled = always;
}

function editPolicy(p) {
  editingPolicy = p;
  const form = $('admin-policy-form');
  clearErrors(form, $('admin-policy-error'));
  $('admin-policy-status').textContent = '';
  form.classList.add('editing');
  fillForm(form, { ...p, adminCallbackNumber: p.adminCallbackNumber ?? '' });
  policyGuardState();
  $('admin-policy-form-h').textContent = t('Edit {policy}', { policy: p.identity });
  $('admin-policy-identity').readOnly = true;
  $('admin-policy-submit').textContent = t('Save changes');
  $('admin-policy-delete').textContent = p.identity === 'Global' ? t('Reset to defaults') : t('Delete policy');
  show($('admin-policy-cancel'), true);
  show($('admin-policy-delete'), true);
  $('admin-policy-form-h').scrollIntoView({ block: 'start' });
  $('admin-policy-form-h').focus();
}

async function savePolicy() {
  const form = $('admin-policy-form');
  const box = $('admin-policy-error');
  const status = $('admin-policy-status');
  clearErrors(form, box);
  status.textContent = '';
  const v = readForm(form);
  try {
    if (!editingPolicy) {
      const body = { identity: v.identity };
      for (const k of POLICY_MEMBERS) {
        if (typeof v[k] === 'boolean' || v[k]) body[k] = v[k];
      }
      const created = await api('POST', '/api/v1/admin/policies', body);
      newPolicy(false);
      status.textContent = t('{policy} created.', { policy: created.identity });
    } else {
      const p = editingPolicy;
      const body = {};
      // An empty admin callback number clears it.
      for (const k of POLICY_MEMBERS) {
        const was = typeof v[k] === 'boolean' ? Boolean(p[k]) : (p[k] ?? '');
        if (v[k] !== was) body[k] = v[k];
      }
      const saved = Object.keys(body).length
        ? await api('PATCH', `/api/v1/admin/policies/${encodeURIComponent(p.identity)}`, body)
        : p;
      editPolicy(saved);
      status.textContent = t('Saved.');
    }
    await loadPolicies();
    await loadUsers();
  } catch (err) {
    showError(form, box, err);
  }
}

async function deletePolicy() {
  const p = editingPolicy;
  if (!p) return;
  const global = p.identity === 'Global';
  const holders = users.filter((u) => u.policyGrant === p.identity).length;
  const sure = await confirmAction(
    global
      ? t('Reset the Global policy to its defaults (Call Via Work off)?')
      : t('Delete {policy}? People granted it ({count} of those listed) return to their site or the global policy.', { policy: p.identity, count: holders }),
    global ? t('Reset to defaults') : t('Delete policy'),
  );
  if (!sure) return;
  try {
    const r = await api('DELETE', `/api/v1/admin/policies/${encodeURIComponent(p.identity)}`);
    newPolicy(false);
    $('admin-policy-status').textContent = r.outcome === 'reset'
      ? t('{policy} reset to its defaults.', { policy: r.identity })
      : t('{policy} deleted; {count} people returned to their site or the global policy.', { policy: r.identity, count: r.grantsCleared ?? 0 });
    await loadPolicies();
    await loadUsers();
    $('admin-policies-h').focus();
  } catch (err) {
    showError($('admin-policy-form'), $('admin-policy-error'), err);
  }
}

// ---- the dial plan: rules and the test box ----

/** `?user=` for the listed plan (none for the global one). */
function scopeQuery() {
  return ruleScope ? `?user=${encodeURIComponent(ruleScope)}` : '';
}

async function loadRules() {
  const scope = ruleScope;
  const list = await api('GET', `/api/v1/admin/dialplan/rules${scopeQuery()}`);
  if (scope !== ruleScope) return; // another plan was asked for meanwhile
  const body = $('admin-rules');
  body.replaceChildren();
  for (const r of list) {
    const tr = el('tr');
    tr.dataset.rule = r.name;
    const pattern = el('td');
    pattern.append(el('code', 'rule', r.pattern));
    const translation = el('td');
    translation.append(el('code', 'rule', r.translation));
    tr.append(el('td', '', String(r.position + 1)), el('td', '', r.name), pattern, translation,
      el('td', '', r.isInternalExtension ? t('yes') : ''),
      rowActions(
        [t('Edit'), t('Edit rule {name}', { name: r.name }), () => editRule(r)],
        [t('Delete'), t('Delete rule {name}', { name: r.name }), () => deleteRule(r)],
      ));
    body.append(tr);
  }
  let caption;
  if (!scope) caption = list.length ? t('The global dial plan, tried in order.') : t('The global dial plan has no rules: only numbers in E.164 (+14255550199) can be called.');
  else caption = list.length ? t('The dial plan of {user}, tried in order.', { user: scope }) : t('{user} has no rules of their own and uses the global dial plan.', { user: scope });
  $('admin-rules-caption').textContent = caption;
}

function newRule(focus) {
  editingRule = null;
  const form = $('admin-rule-form');
  clearErrors(form, $('admin-rule-error'));
  form.classList.remove('editing');
  fillForm(form, {});
  $('admin-rule-form-h').textContent = ruleScope ? t('New rule for {user}', { user: ruleScope }) : t('New rule');
  $('admin-rule-submit').textContent = t('Add rule');
  show($('admin-rule-cancel'), false);
  if (focus) $('admin-rule-name').focus();
}

function editRule(r) {
  editingRule = r;
  const form = $('admin-rule-form');
  clearErrors(form, $('admin-rule-error'));
  form.classList.add('editing');
  fillForm(form, { ...r, position: r.position + 1 });
  $('admin-rule-form-h').textContent = t('Edit rule {name}', { name: r.name });
  $('admin-rule-submit').textContent = t('Save changes');
  show($('admin-rule-cancel'), true);
  $('admin-rule-form-h').focus();
}

async function saveRule() {
  const form = $('admin-rule-form');
  const box = $('admin-rule-error');
  clearErrors(form, box);
  const v = readForm(form);
  const body = { name: v.name, pattern: v.pattern, translation: v.translation, isInternalExtension: v.isInternalExtension };
  // The form counts from 1, the API from 0.
  if (v.position !== null) body.position = v.position - 1;
  try {
    if (editingRule) {
      await api('PUT', `/api/v1/admin/dialplan/rules/${encodeURIComponent(editingRule.name)}${scopeQuery()}`, body);
    } else {
      if (ruleScope) body.user = ruleScope;
      await api('POST', '/api/v1/admin/dialplan/rules', body);
    }
    newRule(false);
    await loadRules();
  } catch (err) {
    showError(form, box, err);
  }
}

async function deleteRule(r) {
  const sure = await confirmAction(t('Delete rule {name}? Numbers it read are then tried against the rules after it.', { name: r.name }), t('Delete rule'));
  if (!sure) return;
  await guard(async () => {
    await api('DELETE', `/api/v1/admin/dialplan/rules/${encodeURIComponent(r.name)}${scopeQuery()}`);
    if (editingRule?.name === r.name) newRule(false);
    await loadRules();
  });
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

/** Imports a CSV file picked in `input` to `path`: all or nothing (any bad row refuses
 * the whole file), or with `skip` the good rows only; each bad row is listed with its line
 * in `box`. */
async function importCsv(input, path, skip, box, reload) {
  const file = input.files?.[0];
  input.value = '';
  if (!file) return;
  box.replaceChildren();
  setError($('admin-error'), '');
  let report;
  try {
    report = await apiUpload(`${path}?skip_bad_rows=${skip}`, file, 'text/csv');
  } catch (err) {
    if (!err.body?.rows) {
      setError($('admin-error'), errorText(err));
      return;
    }
    report = err.body;
  }
  const rows = report.rows ?? [];
  const bad = rows.filter((r) => r.status === 'failed');
  let summary;
  if (!bad.length) summary = t('Imported {count} of {total}.', { count: report.imported ?? 0, total: rows.length });
  else if (report.committed) summary = t('Imported {count} of {total}; {bad} bad row(s) skipped.', { count: report.imported ?? 0, total: rows.length, bad: bad.length });
  else summary = t('{count} bad row(s); nothing imported.', { count: bad.length });
  box.append(el('p', bad.length ? 'error' : '', summary));
  const list = el('ul', 'plain-list small');
  for (const r of bad) {
    list.append(el('li', '', t('Line {line}: {field} {error}', { line: r.line, field: r.field ?? '', error: r.error ?? '' })));
  }
  box.append(list);
  await reload();
}
