// The browser client in headless Chromium (Debian's `chromium`, driven by playwright-core),
// one phase per run against a ViaWork server that crates/viawork/tests/web_client.rs
// started with a SIPp PBX on loopback. Usage: node client.spec.mjs PHASE
//
// Environment: VIAWORK_URL (http://127.0.0.1:PORT), PASSWORD (every user's), ARTIFACTS (a
// directory for screenshots), CHROMIUM (default /usr/bin/chromium).
// A phase that needs the orchestrator to act prints `READY <what>` on its own line.
// Every wait is on state visible in the page, bounded by a timeout; the first failure
// exits with status 1 and a message.

import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const URL = need('VIAWORK_URL');
const PASSWORD = need('PASSWORD');
const ARTIFACTS = need('ARTIFACTS');
const ALICE = 'sip:alice@example.com';
const BOB = 'sip:bob@example.com';
const WAIT = 15_000;

function need(name) {
  const v = process.env[name];
  if (!v) fail(`${name} is not set`);
  return v;
}

function fail(msg) {
  console.error(`web test failed: ${msg}`);
  process.exit(1);
}

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

/** Problems the pages reported: script errors and CSP violations fail the phase. */
const problems = [];
/** Set by a phase that takes the server away: failed connections are expected then. */
let expectDrops = false;

async function signIn(browser, user, prepare = async () => {}, path = '/') {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await prepare(context);
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`[${user}] page error: ${e.message}`));
  page.on('console', (m) => {
    // A refusal (4xx) is the app's to show, and the tests check it does; a 5xx is not.
    const refusal = /Failed to load resource: the server responded with a status of 4\d\d/.test(m.text());
    const network = /Failed to load resource|WebSocket connection to .* failed/.test(m.text());
    if (m.type() === 'error' && !refusal && !(network && expectDrops)) problems.push(`[${user}] console: ${m.text()}`);
    if (/Content Security Policy/i.test(m.text())) problems.push(`[${user}] CSP: ${m.text()}`);
  });
  const resp = await page.goto(`${URL}${path}`);
  check(resp.ok(), `GET ${path} answered ${resp.status()}`);
  check((resp.headers()['content-security-policy'] ?? '').includes("script-src 'self'"), `GET ${path} has no strict CSP`);
  await page.getByLabel('Sign-in address').fill(user);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('Password', { exact: true }).press('Enter');
  await page.locator('body[data-ready="true"]').waitFor({ timeout: WAIT });
  await page.locator('body[data-stream="connected"]').waitFor({ timeout: WAIT });
  return page;
}

/** Waits until `selector`'s text matches `re`. */
async function waitText(page, selector, re, what) {
  try {
    await page.locator(selector).filter({ hasText: re }).first().waitFor({ timeout: WAIT });
  } catch {
    const now = await page.locator(selector).allTextContents().catch(() => []);
    throw new Error(`${what}: ${selector} never matched ${re}; it shows ${JSON.stringify(now)}`);
  }
}

/** Records every text the call status line (or another element) shows, in order. */
async function recordStatuses(page, id = 'call-status') {
  await page.evaluate((id) => {
    window.statuses = [];
    const node = document.getElementById(id);
    new MutationObserver(() => {
      const t = node.textContent;
      if (window.statuses.at(-1) !== t) window.statuses.push(t);
    }).observe(node, { childList: true, characterData: true, subtree: true });
  }, id);
}

/** `path` of the API as the page's user (its token), JSON. */
async function apiAs(page, method, path) {
  return page.evaluate(async ({ method, path }) => {
    const r = await fetch(path, { method, headers: { authorization: `Bearer ${sessionStorage.getItem('viawork.token')}` } });
    return { status: r.status, body: r.status === 204 ? null : await r.json() };
  }, { method, path });
}

async function shot(page, name, fullPage = false) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage });
}

/** A person from the search box: types the query key by key, opens the result's card. */
async function findAndOpen(page, query, name) {
  await page.getByLabel('Find someone').pressSequentially(query, { delay: 40 });
  await page.locator('#search-results').getByRole('button', { name: new RegExp(name) }).click();
  await waitText(page, '#card-name', new RegExp(name), 'the card');
}

// ---- phases ----

/** Alice searches Bob, adds him, calls him, watches the call connect, uses the in-call
 * controls and hangs up. */
async function call(browser) {
  const page = await signIn(browser, ALICE);
  await waitText(page, '#me-callback', /your work phone \+1 425 555 0101/, 'my callback number');
  await findAndOpen(page, 'bo', 'Bob Jones');
  await page.getByRole('button', { name: 'Add to contacts', exact: true }).click();
  await page.getByRole('button', { name: 'Remove from contacts', exact: true }).waitFor({ timeout: WAIT });
  await page.getByLabel('Find someone').fill('');
  await waitText(page, '#contacts', /Bob Jones/, 'the contact list');

  await recordStatuses(page);
  await page.getByRole('button', { name: 'Call Bob Jones', exact: true }).click();
  await waitText(page, '#call-status', /^Connected 00:0[1-9]/, 'the call connects and its timer runs');
  const statuses = await page.evaluate(() => window.statuses);
  check(statuses[0] === 'Calling your work phone +1 425 555 0101…', `the first status was ${JSON.stringify(statuses)}`);
  check(!statuses.some((s) => /undefined|null/.test(s)), `a status reads badly: ${JSON.stringify(statuses)}`);
  console.log(`statuses seen: ${JSON.stringify(statuses)}`);
  await shot(page, 'connected-call');
  // Phone width: one column, nothing wider than the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `at phone width the page is ${overflow}px too wide`);
  await shot(page, 'phone-width');
  await page.setViewportSize({ width: 1280, height: 800 });

  await page.getByRole('button', { name: 'Hold', exact: true }).click();
  await waitText(page, '#call-status', /^Bob Jones is on hold/, 'hold');
  await page.getByRole('button', { name: 'Resume', exact: true }).click();
  await waitText(page, '#call-status', /^Connected/, 'resume');
  await page.getByRole('button', { name: 'Mute', exact: true }).click();
  await waitText(page, '#call-status', /\(muted\)$/, 'mute');
  await page.getByRole('button', { name: 'Unmute', exact: true }).click();
  await waitText(page, '#call-status', /^Connected \d\d:\d\d$/, 'unmute');
  // Add person: colleagues are suggested from the directory (adding one is the
  // `add-person` phase); closing the form leaves the call as it was.
  await page.getByRole('button', { name: 'Add person', exact: true }).click();
  check(await page.getByLabel('Add to the call').evaluate((e) => e === document.activeElement), 'the person field has the focus');
  await page.getByLabel('Add to the call').pressSequentially('bon', { delay: 40 });
  await page.locator('#call-add-people option[value="sip:bonnie@example.com"]').waitFor({ state: 'attached', timeout: WAIT });
  await page.getByRole('button', { name: 'Add person', exact: true }).click();
  check(await page.locator('#call-add').isHidden(), 'the Add person form closes');
  await waitText(page, '#call-status', /^Connected/, 'the call goes on');
  await page.getByRole('button', { name: 'Keypad', exact: true }).click();
  await page.getByRole('button', { name: 'Send 5', exact: true }).click();
  check(await page.locator('#call-error').isHidden(), `DTMF failed: ${await page.locator('#call-error').textContent()}`);

  await page.getByRole('button', { name: 'Hang up', exact: true }).click();
  await waitText(page, '#call-status', /^You hung up$/, 'hang up');
  await waitText(page, '#history', /\+1 425 555 0102/, 'the call in the call log');

  // Another number to ring first (the Global policy lets users choose).
  await page.getByRole('button', { name: 'Change', exact: true }).click();
  await page.getByLabel('Ring this number first').fill('+1 425 555 0100');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await waitText(page, '#me-callback', /ring your phone \+1 425 555 0100 first/, 'the chosen callback number');

  // A phone link (/call?to=, where tel: and sip: links lead): confirmed, then called.
  await page.getByRole('button', { name: 'Use ViaWork for phone links', exact: true }).click();
  await page.goto(`${URL}/call?to=${encodeURIComponent('tel:+1-425-555-0199')}`);
  await page.locator('body[data-ready="true"]').waitFor({ timeout: WAIT });
  await recordStatuses(page);
  await waitText(page, '#dial-confirm-text', /^Call \+1 425 555 0199\?$/, 'the link asks to confirm');
  check(new globalThis.URL(page.url()).pathname === '/', `the address stays ${page.url()}`);
  check(await page.locator('#call').isHidden(), 'a link placed a call before it was confirmed');
  await page.getByRole('button', { name: 'Call', exact: true }).click();
  await waitText(page, '#call-status', /^Connected/, 'the linked call connects');
  const linked = await page.evaluate(() => window.statuses);
  check(linked[0] === 'Calling your phone +1 425 555 0100…', `the linked call rang ${JSON.stringify(linked)}`);
  await page.getByRole('button', { name: 'Hang up', exact: true }).click();
  await waitText(page, '#call-status', /^You hung up$/, 'the linked call hangs up');
  await page.getByRole('button', { name: 'Change', exact: true }).click();
  await page.getByRole('button', { name: 'Use my work phone', exact: true }).click();
  await waitText(page, '#me-callback', /ring your work phone \+1 425 555 0101/, 'back to the work phone');
  await page.context().close();
}

/** Alice and Bob, each in their own browser, see each other's presence change and
 * exchange instant messages. */
async function im(browser) {
  const alice = await signIn(browser, ALICE);
  const bob = await signIn(browser, BOB);
  // Alice added Bob in the call phase; Bob adds Alice now.
  await findAndOpen(bob, 'alice', 'Alice Smith');
  await bob.getByRole('button', { name: 'Add to contacts', exact: true }).click();
  await bob.getByLabel('Find someone').fill('');
  const aliceRowAtBob = '#contacts [data-uri="sip:alice@example.com"]';
  const bobRowAtAlice = '#contacts [data-uri="sip:bob@example.com"]';
  await waitText(bob, aliceRowAtBob, /Available/, "Bob sees Alice's presence");
  await waitText(alice, bobRowAtAlice, /Available/, "Alice sees Bob's presence");

  await bob.getByLabel('My presence').selectOption('Busy');
  await waitText(alice, bobRowAtAlice, /Busy/, 'Bob turns Busy');
  await alice.getByLabel('My presence').selectOption('BeRightBack');
  await alice.getByLabel('My note').fill('Back at 3');
  await alice.getByLabel('My note').press('Enter');
  await waitText(bob, aliceRowAtBob, /Be right back · Back at 3/, 'Alice turns Be right back with a note');
  await waitText(alice, '#history', /Bob Jones/, "Alice's recent calls");
  await shot(alice, 'main-window');

  await alice.locator(bobRowAtAlice).getByRole('button').click();
  await alice.getByRole('button', { name: 'Send Bob Jones an instant message', exact: true }).click();
  await alice.getByLabel('Message', { exact: true }).fill('Hello Bob, lunch at noon?');
  await alice.getByLabel('Message', { exact: true }).press('Enter');
  await waitText(bob, '#conv-messages', /Hello Bob, lunch at noon\?/, 'Bob gets the message');
  await waitText(bob, '#conv-title', /Alice Smith/, "Bob's window names Alice");
  await bob.getByLabel('Message', { exact: true }).pressSequentially('Sure', { delay: 30 });
  await waitText(alice, '#conv-typing', /Bob Jones is typing/, 'Alice sees Bob typing');
  await bob.getByLabel('Message', { exact: true }).press('Enter');
  await waitText(alice, '#conv-messages', /Sure/, 'Alice gets the answer');
  await shot(alice, 'conversation');

  // A file, sent by Alice and downloaded by Bob.
  const content = 'Agenda: lunch at noon\n';
  await alice.locator('#conv-file').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from(content) });
  await waitText(bob, '#conv-messages', /File: notes\.txt \(22 bytes\)/, 'Bob gets the file');
  const [file] = await Promise.all([
    bob.waitForEvent('download', { timeout: WAIT }),
    bob.getByRole('button', { name: 'Download notes.txt', exact: true }).click(),
  ]);
  check(readFileSync(await file.path(), 'utf8') === content, 'the downloaded file differs');

  // Add audio: a Call Via Work call to Bob from the conversation.
  await alice.getByRole('button', { name: 'Add audio', exact: true }).click();
  await waitText(alice, '#call-peer', /^Bob Jones$/, 'the call is with Bob');
  await waitText(alice, '#call-status', /^Connected/, 'the added audio connects');
  await alice.getByRole('button', { name: 'Hang up', exact: true }).click();
  await waitText(alice, '#call-status', /^You hung up$/, 'the added audio hangs up');

  // A message with markup is shown as text, never run.
  await bob.getByLabel('Message', { exact: true }).fill('<img src=x onerror="window.pwned=1"><b>bold</b>');
  await bob.getByLabel('Message', { exact: true }).press('Enter');
  await waitText(alice, '#conv-messages', /<img src=x onerror/, 'markup arrives as text');
  check(!(await alice.evaluate(() => window.pwned)), 'a message ran code');

  await bob.getByLabel('My presence').selectOption('');
  await waitText(alice, bobRowAtAlice, /Available/, 'Bob turns back to automatic');
  await bob.getByRole('button', { name: 'Sign out', exact: true }).click();
  await waitText(alice, bobRowAtAlice, /Offline/, 'Bob signs out and goes Offline');
  // A message to Bob while he is away waits for him, and Alice sees when he gets it.
  await alice.getByLabel('Message', { exact: true }).fill('Call me when you are back');
  await alice.getByLabel('Message', { exact: true }).press('Enter');
  await waitText(alice, '#conv-messages li:last-child .msg-status', /^Waiting for Bob Jones to sign in$/, 'the message waits');
  const bobAgain = await signIn(browser, BOB);
  await waitText(bobAgain, '#conv-messages', /Call me when you are back/, 'Bob gets it when he signs in');
  await waitText(alice, '#conv-messages li:last-child .msg-status', /^Delivered$/, 'Alice sees it delivered');
  await bobAgain.context().close();
  await waitText(alice, bobRowAtAlice, /Offline/, 'Bob is away again');
  // Someone else signs in in Bob's tab and sees nothing of his.
  await bob.getByLabel('Sign-in address').fill('sip:bonnie@example.com');
  await bob.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await bob.getByLabel('Password', { exact: true }).press('Enter');
  await waitText(bob, '#me-name', /^Bonnie Tyler$/, 'another user signs in in the same tab');
  await waitText(bob, '#contacts', /No contacts yet/, "Bob's contacts are gone");
  check(await bob.locator('#card').isHidden(), "Bob's contact card is still shown");
  check(await bob.locator('#conv').isHidden(), "Bob's conversation is still shown");
  check((await bob.locator('#history').textContent()).includes('No calls yet'), "Bob's calls are still shown");
  // In Russian: the page reloads in it, still signed in.
  await bob.locator('#lang').selectOption('ru');
  await bob.locator('html[lang="ru"]').waitFor({ state: 'attached', timeout: WAIT });
  await bob.locator('body[data-ready="true"]').waitFor({ timeout: WAIT });
  await waitText(bob, '#signout', /^Выйти$/, 'the page in Russian');
  await waitText(bob, '#contacts', /^Контактов пока нет/, 'the contact list in Russian');
  await waitText(bob, '#me-callback', /^Сначала звонит ваш рабочий телефон \+1 425 555 0103/, 'my card in Russian');
  await shot(bob, 'russian');
  await alice.getByLabel('My presence').selectOption('');
  await alice.context().close();
  await bob.context().close();
}

/** Alice sets simultaneous ring in one tab and her other tab shows it; a bad number is
 * refused with the field named; she turns it off again. */
async function forwarding(browser) {
  const page = await signIn(browser, ALICE);
  const other = await signIn(browser, ALICE);
  await page.getByRole('button', { name: 'Call forwarding', exact: true }).click();
  await page.getByLabel('Also ring another phone').check();
  await page.locator('#fwd-sim-to').fill('+1 425 555 0177');
  await page.locator('#fwd-sim-delay').fill('5');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await waitText(page, '#fwd-saved', /Saved/, 'the settings are saved');
  const summary = /^Calls also ring \+1 425 555 0177 after 5 s$/;
  await waitText(page, '#me-forwarding', summary, 'my card says so');
  await waitText(other, '#me-forwarding', summary, 'my other tab hears of it');
  await shot(page, 'call-forwarding');

  await page.getByLabel('Forward my calls', { exact: true }).check();
  await page.locator('#fwd-immediate-to').fill('not a number');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await waitText(page, '#fwd-error', /immediate_forward/, 'a bad number is refused, naming the field');
  await waitText(page, '#me-forwarding', summary, 'nothing refused is kept');

  await page.getByLabel('Ring my phones and this client').check();
  await page.locator('#fwd-immediate-to').fill('');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await waitText(page, '#fwd-saved', /Saved/, 'forwarding off is saved');
  await other.locator('#me-forwarding:empty').waitFor({ state: 'attached', timeout: WAIT });
  check((await page.locator('#me-forwarding').textContent()) === '', 'my card still shows forwarding');
  await page.context().close();
  await other.context().close();
}

/** Administration: a user has none; the administrator sees the trunk and the caller ID,
 * adds, edits (a bad pattern refused at its field) and deletes a dial-plan rule with the
 * test box following each step; creates a policy with its callback settings, edits them,
 * imports policies and deletes one still granted; creates a person, grants a policy, edits
 * every kind of field (bad values refused at their field) and finds them after a reload;
 * imports people from CSV and deletes one after a confirmation; the new person signs in. */
async function admin(browser) {
  const alice = await signIn(browser, ALICE);
  check(await alice.locator('#admin-open').isHidden(), 'a user sees Administration');
  await alice.context().close();

  const page = await signIn(browser, 'sip:admin@example.com');
  await page.getByRole('button', { name: 'Administration', exact: true }).click();
  await waitText(page, '#admin-trunk', /^Trunk (up|down): 127\.0\.0\.1:\d+/, 'the trunk');
  await waitText(page, '#admin-calls', /Live calls: 0/, 'no live calls');
  await waitText(page, '#admin-policies', /Global/, 'the Global policy');
  check(await page.locator('#admin-caller-id').inputValue() === '+15551234567', 'the caller ID');
  await page.locator('#admin-routing').getByRole('button', { name: 'Save', exact: true }).click();
  await waitText(page, '#admin-routing-saved', /Saved/, 'the caller ID saved');

  // Dial plan: none yet; a rule is added, edited and deleted, and the test box follows.
  await waitText(page, '#admin-rules-caption', /^The global dial plan has no rules/, 'no rules yet');
  await page.getByLabel('Whose dial plan').fill(ALICE);
  await page.getByLabel('Number to test').fill('+1 (425) 555-0199');
  await page.getByRole('button', { name: 'Test', exact: true }).click();
  await waitText(page, '#admin-dialplan-result', /→ \+14255550199 \(already E\.164\)$/, 'the dial-plan test');
  await page.getByLabel('Number to test').fill('call me');
  await page.getByRole('button', { name: 'Test', exact: true }).click();
  await waitText(page, '#admin-dialplan-result', /^No rule of the global dial plan normalises “call me”\.$/, 'a number no rule reads (Alice has no plan of her own)');
  await page.getByLabel('Whose dial plan').fill('');
  await page.getByRole('button', { name: 'Show rules', exact: true }).click();
  const testNumber = async (number, re, what) => {
    await page.getByLabel('Number to test').fill(number);
    await page.getByRole('button', { name: 'Test', exact: true }).click();
    await waitText(page, '#admin-dialplan-result', re, what);
  };
  await page.getByLabel('Rule name').fill('Local-7');
  await page.getByLabel('Pattern').fill('^(\\d{7})$');
  await page.getByLabel('Translation').fill('+1425$1');
  await page.getByRole('button', { name: 'Add rule', exact: true }).click();
  await waitText(page, '#admin-rules tr[data-rule="Local-7"]', /^1Local-7\^\(\\d\{7\}\)\$\+1425\$1/, 'the new rule');
  await testNumber('555 0199', /555 0199 → \+14255550199 \(rule Local-7 of the global dial plan\)$/, 'the new rule reads 7 digits');
  const save = (form) => page.locator(form).getByRole('button', { name: 'Save changes', exact: true }).click();
  await page.getByRole('button', { name: 'Edit rule Local-7', exact: true }).click();
  await page.getByLabel('Pattern').fill('(');
  await save('#admin-rule-form');
  await waitText(page, '#admin-rule-form .field-error', /./, 'a bad pattern is refused');
  check(await page.getByLabel('Pattern').getAttribute('aria-invalid') === 'true', 'the bad pattern is not marked');
  check(await page.locator('#admin-rule-pattern-error').isVisible(), 'the refusal is not next to Pattern');
  await page.getByLabel('Rule name').fill('Local');
  await page.getByLabel('Pattern').fill('^(\\d{7})$');
  await page.getByLabel('Translation').fill('+1206$1');
  await save('#admin-rule-form');
  await waitText(page, '#admin-rules tr[data-rule="Local"]', /\+1206\$1/, 'the edited rule');
  check(await page.locator('#admin-rules tr').count() === 1, 'editing a rule added one');
  await testNumber('555 0199', /555 0199 → \+12065550199 \(rule Local of the global dial plan\)$/, 'the edited rule');
  await page.getByRole('button', { name: 'Delete rule Local', exact: true }).click();
  const dialog = page.getByRole('dialog');
  await waitText(page, '#confirm-text', /^Delete rule Local\?/, 'the rule deletion asks first');
  await dialog.getByRole('button', { name: 'Delete rule', exact: true }).click();
  await page.locator('#admin-rules tr').first().waitFor({ state: 'detached', timeout: WAIT });
  await testNumber('555 0199', /^No rule of the global dial plan normalises “555 0199”\.$/, 'the deleted rule reads nothing');

  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: WAIT }),
    page.getByRole('button', { name: 'Download the call log (CSV)', exact: true }).click(),
  ]);
  const csv = readFileSync(await download.path(), 'utf8');
  check(download.suggestedFilename() === 'viawork-call-log.csv', download.suggestedFilename());
  check(csv.split('\n').length > 2 && csv.includes('+14255550102'), `the CSV: ${csv.slice(0, 300)}`);

  // Policies: created with its callback settings, edited (a bad number refused at its field).
  const policyRow = (id) => `#admin-policies tr[data-identity="${id}"]`;
  await page.getByLabel('Identity').fill('Tag:Sales');
  await page.getByLabel('Admin callback number', { exact: true }).fill('+14255550100');
  await page.getByLabel('Always ring the admin callback number first').check();
  await page.getByRole('button', { name: 'Create policy', exact: true }).click();
  await waitText(page, policyRow('Tag:Sales'), /Always \+1 425 555 0100/, 'the new policy');
  await page.getByRole('button', { name: 'Edit Tag:Sales', exact: true }).click();
  check(await page.getByLabel('Identity').inputValue() === 'Tag:Sales', 'the policy form');
  check(await page.getByLabel('Users may choose a number abroad').isDisabled(), 'what users may choose, while they may not choose');
  await page.getByLabel('Admin callback number', { exact: true }).fill('not a number');
  await save('#admin-policy-form');
  await waitText(page, '#admin-policy-number-error', /./, 'a bad callback number is refused next to it');
  await page.getByLabel('Admin callback number', { exact: true }).fill('');
  await page.getByLabel('Always ring the admin callback number first').uncheck();
  await page.getByLabel('Users may choose a number abroad').check();
  await save('#admin-policy-form');
  await waitText(page, '#admin-policy-status', /^Saved\.$/, 'the policy saved');
  await waitText(page, policyRow('Tag:Sales'), /User's choice.*also abroad/, 'the edited policy');
  check(await page.locator('#admin-policy-number-error').count() === 0, 'the refusal stays after a good save');
  const header = 'Identity,Enabled,UseAdminCallbackNumber,AdminCallbackNumber\n';
  await page.locator('#admin-policy-import').setInputFiles({ name: 'policies.csv', mimeType: 'text/csv', buffer: Buffer.from(`${header}Tag:Temp,True,False,\nTag:Support,True,True,+14255550100\n`) });
  await waitText(page, '#admin-policy-import-result', /^Imported 2 of 2\.$/, 'the policies import');
  await waitText(page, policyRow('Tag:Support'), /Always \+1 425 555 0100/, 'an imported policy');

  // People: created, granted, edited.
  await page.getByLabel('SIP address').fill('sip:dana@example.com');
  await page.getByLabel('Name', { exact: true }).fill('Dana Scully');
  await page.locator('#admin-user-password').fill(PASSWORD);
  await page.getByLabel('Line URI').fill('tel:+14255550104');
  await page.getByLabel('Enterprise Voice').check();
  await page.getByRole('button', { name: 'Create person', exact: true }).click();
  const dana = '#admin-users tr[data-uri="sip:dana@example.com"]';
  await waitText(page, dana, /Dana Scully/, 'the new person');
  await page.getByLabel('Policy of Dana Scully').selectOption('Tag:Sales');
  check(await page.locator('#admin-error').isHidden(), `granting failed: ${await page.locator('#admin-error').textContent()}`);
  await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().includes('/api/v1/admin/policies/'), { timeout: WAIT }),
    page.getByLabel('Tag:Sales is enabled').uncheck(),
  ]);

  await page.getByRole('button', { name: 'Edit Dana Scully', exact: true }).click();
  await waitText(page, '#admin-user-info', /Policy in effect: Tag:Sales \(granted\)/, 'her effective policy');
  check(await page.getByLabel('SIP address').inputValue() === 'sip:dana@example.com', 'the person form');
  await page.getByLabel('Email', { exact: true }).fill('not an email');
  await save('#admin-user-form');
  await waitText(page, '#admin-user-email-error', /./, 'a bad email is refused next to it');
  check(await page.getByLabel('Email', { exact: true }).evaluate((e) => e === document.activeElement), 'the refused field has the focus');
  await page.getByLabel('Email', { exact: true }).fill('dana@example.com');
  await page.getByLabel('Line URI').fill('tel:+14255550114;ext=114');
  await page.getByLabel('Title', { exact: true }).fill('Special Agent');
  await page.getByLabel('Department').fill('X-Files');
  await page.getByLabel('Office').fill('Basement');
  await page.getByLabel('Mobile').fill('+1 425 555 0190');
  await page.getByLabel('Site', { exact: true }).fill('Seattle');
  await page.getByLabel('Role', { exact: true }).selectOption('admin');
  await page.getByLabel('May forward calls').uncheck();
  await page.getByLabel('Call Via Work policy').selectOption('Tag:Temp');
  await save('#admin-user-form');
  await waitText(page, '#admin-user-status', /^Saved\.$/, 'the person saved');
  await waitText(page, dana, /\+1 425 555 0114/, 'the new line in the list');
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, 'admin', true);

  // CSV import: a bad row refuses the whole file, naming its line; skipping bad rows
  // imports the others.
  const people = 'SipAddress,DisplayName,LineURI,EnterpriseVoiceEnabled\n';
  const erin = 'sip:erin@example.com,Erin Hale,tel:+14255550105,True\n';
  await page.locator('#admin-import').setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from(`${people}${erin}sip:frank@example.com,,,\n`) });
  await waitText(page, '#admin-import-result', /^1 bad row\(s\); nothing imported\.Line 3:/, 'a bad row refuses the file');
  check(await page.locator('#admin-users tr[data-uri="sip:erin@example.com"]').count() === 0, 'a refused file imported Erin');
  await page.locator('#admin-import-skip').check();
  await page.locator('#admin-import').setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from(`${people}${erin}sip:frank@example.com,,,\n`) });
  await waitText(page, '#admin-import-result', /^Imported 1 of 2; 1 bad row\(s\) skipped\.Line 3:/, 'skipping the bad row imports the good one');
  await page.locator('#admin-import-skip').uncheck();
  const erinRow = '#admin-users tr[data-uri="sip:erin@example.com"]';
  await waitText(page, erinRow, /Erin Hale/, 'Erin in the list');

  // Erin is deleted after a confirmation (Cancel first keeps her).
  await page.getByRole('button', { name: 'Edit Erin Hale', exact: true }).click();
  await page.getByRole('button', { name: 'Delete person', exact: true }).click();
  await waitText(page, '#confirm-text', /^Delete Erin Hale \(erin@example\.com\)\?/, 'deleting asks first');
  check(await dialog.getByRole('button', { name: 'Cancel', exact: true }).evaluate((b) => b === document.activeElement), 'Cancel has the focus');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden', timeout: WAIT });
  check(await page.locator(erinRow).count() === 1, 'Escape deleted Erin');
  await page.getByRole('button', { name: 'Delete person', exact: true }).click();
  await dialog.getByRole('button', { name: 'Delete person', exact: true }).click();
  await waitText(page, '#admin-user-status', /^Erin Hale deleted\.$/, 'Erin deleted');
  await page.locator(erinRow).waitFor({ state: 'detached', timeout: WAIT });

  // More people than a page: the rest come with Show more people.
  const bulk = Array.from({ length: 200 }, (_, i) => `sip:zz-bulk-${String(i + 1).padStart(3, '0')}@example.com,Bulk Person ${i + 1}\n`).join('');
  await page.locator('#admin-import').setInputFiles({ name: 'bulk.csv', mimeType: 'text/csv', buffer: Buffer.from(`SipAddress,DisplayName\n${bulk}`) });
  await waitText(page, '#admin-import-result', /^Imported 200 of 200\.$/, 'the bulk import');
  await page.waitForFunction(() => document.querySelectorAll('#admin-users tr').length === 200, null, { timeout: WAIT });
  await page.getByRole('button', { name: 'Show more people', exact: true }).click();
  await page.waitForFunction(() => document.querySelectorAll('#admin-users tr').length === 206, null, { timeout: WAIT });
  await waitText(page, '#admin-users tr:last-child', /Bulk Person 200/, 'the last person');
  check(await page.locator('#admin-users-more').isHidden(), 'Show more people after the last page');

  // Tag:Temp is deleted while Dana holds it: she returns to her site or global policy.
  await page.getByRole('button', { name: 'Edit Tag:Temp', exact: true }).click();
  await page.getByRole('button', { name: 'Delete policy', exact: true }).click();
  await waitText(page, '#confirm-text', /^Delete Tag:Temp\? People granted it \(1 of those listed\)/, 'deleting a granted policy warns');
  await dialog.getByRole('button', { name: 'Delete policy', exact: true }).click();
  await waitText(page, '#admin-policy-status', /^Tag:Temp deleted; 1 people returned/, 'the policy deleted');
  await page.locator(policyRow('Tag:Temp')).waitFor({ state: 'detached', timeout: WAIT });

  // Seen again from the server after a reload: every field, the grant and the disabled
  // policy hold.
  await page.reload();
  await page.locator('body[data-ready="true"]').waitFor({ timeout: WAIT });
  await page.getByRole('button', { name: 'Administration', exact: true }).click();
  await page.getByRole('button', { name: 'Edit Dana Scully', exact: true }).click();
  await waitText(page, '#admin-user-form-h', /^Edit Dana Scully$/, 'Dana in the form');
  const values = await page.locator('#admin-user-form').evaluate((f) => Object.fromEntries(
    [...f.querySelectorAll('[data-field]')].map((c) => [c.dataset.field, c.type === 'checkbox' ? c.checked : c.value])));
  const expected = {
    sipUri: 'sip:dana@example.com', displayName: 'Dana Scully', email: 'dana@example.com',
    lineUri: 'tel:+14255550114;ext=114', title: 'Special Agent', department: 'X-Files', office: 'Basement',
    phoneMobile: '+1 425 555 0190', site: 'Seattle', role: 'admin', policy: '', enterpriseVoice: true, enabled: true,
    allowCallForwarding: false, allowSimultaneousRing: true, password: '',
  };
  for (const [k, v] of Object.entries(expected)) check(values[k] === v, `after a reload ${k} is ${JSON.stringify(values[k])}, not ${JSON.stringify(v)}`);
  await page.getByLabel('Call Via Work policy').selectOption('Tag:Sales');
  await page.getByLabel('Line URI').fill('tel:+14255550104');
  await save('#admin-user-form');
  await waitText(page, '#admin-user-status', /^Saved\.$/, 'Dana back on her line');
  await page.waitForFunction((sel) => document.querySelector(sel)?.value === 'Tag:Sales', `${dana} select`, { timeout: WAIT });
  check(!(await page.getByLabel('Tag:Sales is enabled').isChecked()), 'the policy is still enabled');
  await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().includes('/api/v1/admin/policies/'), { timeout: WAIT }),
    page.getByLabel('Tag:Sales is enabled').check(),
  ]);
  // Phone width: the admin page fits too.
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  const wide = await page.evaluate(() => [...document.querySelectorAll('body *')]
    .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
    .slice(0, 8).map((e) => `${e.tagName}#${e.id}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`));
  check(overflow <= 0, `at phone width the admin page is ${overflow}px too wide: ${wide.join(', ')}`);
  await page.context().close();

  const danaPage = await signIn(browser, 'sip:dana@example.com');
  await waitText(danaPage, '#me-callback', /\+1 425 555 0104/, "Dana's card");
  await danaPage.context().close();
}

/** History beyond a page: 61 messages to Carl, of which the window shows the newest 50 and
 * loads the rest on scrolling up. A group conversation: Alice writes to Bonnie and Bob at
 * once, Bob gets it and adds Carl, and Alice sees him join. */
async function group(browser) {
  const alice = await signIn(browser, ALICE);
  // Seeded through the API with Alice's token (Carl is not signed in: they wait for him).
  const total = 61;
  await alice.evaluate(async (n) => {
    const auth = { authorization: `Bearer ${sessionStorage.getItem('viawork.token')}`, 'content-type': 'application/json' };
    const post = async (path, body) => {
      const r = await fetch(path, { method: 'POST', headers: auth, body: JSON.stringify(body) });
      if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
      return r.json();
    };
    const conv = await post('/api/v1/conversations', { to: ['sip:carl@example.com'], message: `Carl, message 1 of ${n}` });
    for (let i = 2; i <= n; i += 1) await post(`/api/v1/conversations/${conv.id}/messages`, { text: `Carl, message ${i} of ${n}` });
  }, total);
  await findAndOpen(alice, 'carl', 'Carl Boyd');
  await alice.getByRole('button', { name: 'Send Carl Boyd an instant message', exact: true }).click();
  await waitText(alice, '#conv-messages li', new RegExp(`message ${total} of ${total}`), 'the newest message');
  const msgs = alice.locator('#conv-messages li');
  check(await msgs.count() === 50, `the first page holds ${await msgs.count()} messages`);
  check(await alice.locator('#conv-older').isVisible(), 'no Load older messages');
  await alice.locator('#conv-messages').evaluate((l) => { l.scrollTop = 0; });
  await alice.waitForFunction((n) => document.querySelectorAll('#conv-messages li').length === n, total, { timeout: WAIT });
  const first = await msgs.first().locator('.msg-text').textContent();
  check(first === `Carl, message 1 of ${total}`, `the oldest message is ${first}`);
  const texts = await alice.locator('#conv-messages .msg-text').allTextContents();
  check(texts.every((t, i) => t === `Carl, message ${i + 1} of ${total}`), 'the messages are out of order');
  check(await alice.locator('#conv-messages').evaluate((l) => l.scrollTop > 0), 'loading older messages jumped to the top');
  check(await alice.locator('#conv-older').isHidden(), 'Load older messages stays after the last page');
  await alice.getByLabel('Find someone').fill('');

  // A group conversation started with two people.
  const bob = await signIn(browser, BOB);
  await findAndOpen(alice, 'bonnie', 'Bonnie Tyler');
  await alice.getByRole('button', { name: 'Send Bonnie Tyler an instant message', exact: true }).click();
  await alice.getByRole('button', { name: 'Add people', exact: true }).click();
  await alice.getByLabel('Add someone').pressSequentially('bob', { delay: 30 });
  await alice.getByRole('button', { name: 'Add Bob Jones', exact: true }).click();
  await waitText(alice, '#conv-people', /^Your first message starts a conversation with Bonnie Tyler, Bob Jones$/, 'whom it starts with');
  await alice.getByLabel('Message', { exact: true }).fill('Team lunch on Friday?');
  await alice.getByLabel('Message', { exact: true }).press('Enter');
  await waitText(bob, '#conv-messages', /Team lunch on Friday\?/, 'Bob gets the group message');
  await waitText(bob, '#conv-people', /^In this conversation: (?=.*Alice Smith)(?=.*Bonnie Tyler)(?=.*you)/, 'Bob sees who is in it');
  await waitText(alice, '#conv-people', /^In this conversation: (?=.*you)(?=.*Bonnie Tyler)(?=.*Bob Jones)/, 'Alice sees who is in it');
  check(await alice.getByRole('button', { name: 'Add audio', exact: true }).isDisabled(), 'Add audio is offered in a group');

  // Bob adds Carl with the keyboard: Alice sees him join.
  await bob.getByRole('button', { name: 'Add people', exact: true }).click();
  check(await bob.getByLabel('Add someone').evaluate((e) => e === document.activeElement), 'the search has the focus');
  // Enter right after typing: the search runs then, not after the typing pause.
  await bob.keyboard.type('carl', { delay: 20 });
  await bob.keyboard.press('Enter');
  await waitText(bob, '#conv-people', /Carl Boyd/, 'Carl added');
  await waitText(alice, '#conv-people', /Carl Boyd/, 'Alice sees Carl join');
  await bob.getByLabel('Message', { exact: true }).fill('Carl is coming too');
  await bob.getByLabel('Message', { exact: true }).press('Enter');
  await waitText(alice, '#conv-messages', /Carl is coming too/, "Alice gets Bob's message");
  await waitText(alice, '#conv-title', /Bonnie Tyler, Bob Jones, Carl Boyd|Carl Boyd/, 'the title names everyone');
  await shot(alice, 'group-conversation');
  await alice.context().close();
  await bob.context().close();
}

/** A call to Alice from the PBX side: the notification, Accept, connected. */
async function incoming(browser) {
  const page = await signIn(browser, ALICE);
  await recordStatuses(page);
  console.log('READY incoming');
  const note = page.getByRole('alertdialog');
  await note.waitFor({ timeout: WAIT });
  await waitText(page, '#incoming', /Carol/, 'the notification names the caller');
  check(await page.getByRole('button', { name: 'Accept', exact: true }).evaluate((b) => b === document.activeElement), 'Accept has the focus');
  await shot(page, 'incoming-call');
  await page.getByRole('button', { name: 'Accept', exact: true }).click();
  await note.waitFor({ state: 'hidden', timeout: WAIT });
  // Carol hangs up 1 s after the answer: wait for the end, then read what was shown.
  await waitText(page, '#call-status', /^Call ended$/, 'the caller hangs up');
  const statuses = await page.evaluate(() => window.statuses);
  check(statuses.some((s) => /^Connected 00:0\d$/.test(s)), `the accepted call never showed Connected: ${JSON.stringify(statuses)}`);
  check(statuses.some((s) => /^Calling your work phone \+1 425 555 0101/.test(s)) || statuses[0].startsWith('Your work phone'),
    `accepting rings the work phone first: ${JSON.stringify(statuses)}`);
  console.log(`statuses seen: ${JSON.stringify(statuses)}`);
  await page.context().close();
}

/** A call to Alice declined in the browser: the notification closes, the caller is
 * refused and the panel says so. */
async function decline(browser) {
  const page = await signIn(browser, ALICE);
  console.log('READY decline');
  const note = page.getByRole('alertdialog');
  await note.waitFor({ timeout: WAIT });
  await page.getByRole('button', { name: 'Decline', exact: true }).click();
  await note.waitFor({ state: 'hidden', timeout: WAIT });
  await waitText(page, '#call-status', /^You declined the call$/, 'the declined call');
  await waitText(page, '#history', /Declined/, 'the declined call in the call log');
  await page.context().close();
}

/** A call to Alice answered on her desk phone: the notification closes by itself; with the
 * tab hidden, the browser's notification is shown and closed too. */
async function deskPhone(browser) {
  const page = await signIn(browser, ALICE, async (context) => {
    await context.grantPermissions(['notifications']);
    // The tab is behind another one, and the browser's notifications are recorded.
    await context.addInitScript(() => {
      Object.defineProperty(document, 'visibilityState', { get: () => 'hidden' });
      window.shown = [];
      window.Notification = class {
        static permission = 'granted';
        static requestPermission() { return Promise.resolve('granted'); }
        constructor(title, options) {
          this.entry = { title, body: options?.body, closed: false };
          window.shown.push(this.entry);
        }
        close() { this.entry.closed = true; }
      };
    });
  });
  await page.evaluate(() => {
    window.noteShown = false;
    const box = document.getElementById('incoming');
    new MutationObserver(() => { if (!box.hidden) window.noteShown = true; })
      .observe(box, { attributes: true, attributeFilter: ['hidden'] });
  });
  await recordStatuses(page);
  console.log('READY desk-phone');
  // Carol hangs up 1 s after the answer: wait for the end, then read what was shown.
  await waitText(page, '#call-status', /^Call ended$/, 'the call ends');
  const statuses = await page.evaluate(() => window.statuses);
  check(statuses.some((s) => /^Answered on your desk phone · Connected 00:0\d$/.test(s)),
    `never shown as answered on the desk phone: ${JSON.stringify(statuses)}`);
  check(await page.evaluate(() => window.noteShown), 'the notification was never shown');
  check(await page.locator('#incoming').isHidden(), 'the notification stayed open');
  const shown = await page.evaluate(() => window.shown);
  check(shown.length === 1 && shown[0].title === 'Incoming call from Carol' && shown[0].closed,
    `the browser's notification: ${JSON.stringify(shown)}`);
  await page.context().close();
}

/** The server restarts under Alice and Bob: both show Reconnecting…, come back with
 * `since=`, get `resync` (the new server has none of the old events), reload and
 * subscribe again, so Bob's next presence change reaches Alice. */
async function reconnect(browser) {
  const alice = await signIn(browser, ALICE);
  const bob = await signIn(browser, BOB);
  const bobRowAtAlice = '#contacts [data-uri="sip:bob@example.com"]';
  await waitText(alice, bobRowAtAlice, /Available/, "Alice sees Bob's presence");
  await alice.evaluate(() => {
    window.resyncs = 0;
    const box = document.getElementById('contacts');
    // A reload re-renders the contact list: count those renders.
    new MutationObserver(() => { window.resyncs += 1; }).observe(box, { childList: true });
  });
  expectDrops = true;
  console.log('READY restart');
  await alice.locator('body[data-stream="reconnecting"]').waitFor({ timeout: WAIT });
  await waitText(alice, '#conn', /Reconnecting…/, 'the drop is shown');
  await alice.locator('body[data-stream="connected"]').waitFor({ timeout: 30_000 });
  await bob.locator('body[data-stream="connected"]').waitFor({ timeout: 30_000 });
  await alice.waitForFunction(() => window.resyncs > 0, null, { timeout: WAIT });
  check(await alice.locator('#conn').textContent() === '', 'Reconnecting… stays after the reconnect');
  await bob.getByLabel('My presence').selectOption('DoNotDisturb');
  await waitText(alice, bobRowAtAlice, /Do not disturb/, "Bob's change after the restart reaches Alice");
  await bob.getByLabel('My presence').selectOption('');
  await alice.context().close();
  await bob.context().close();
}


/** Alice's meetings: her dial-in PIN, a meeting scheduled, edited and deleted, Meet Now
 * joined by dial-out with its roster live; Bob joins by the join URL into the lobby and
 * Alice leads (lock, admit, mute, remove), mutes herself and hangs up. */
async function meetings(browser) {
  const alice = await signIn(browser, ALICE, (c) => c.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: URL }));
  const open = alice.getByRole('button', { name: 'Meetings', exact: true });
  await open.click();
  check(await open.getAttribute('aria-expanded') === 'true', 'Meetings says it is expanded');
  await waitText(alice, '#meet-list', /No meetings yet/, 'no meetings at first');
  await waitText(alice, '#meet-bridges', /\+1 425 555 0150 \(ext\. 5150\) — Redmond/, 'the bridge numbers');
  await waitText(alice, '#meet-pin-state', /^You have no PIN yet\.$/, 'no PIN yet');

  // A PIN against the policy is refused at its field; a generated one is shown once.
  await alice.getByLabel('New PIN', { exact: true }).fill('1234');
  await alice.getByRole('button', { name: 'Set PIN', exact: true }).click();
  await alice.locator('#meet-pin[aria-invalid="true"]').waitFor({ timeout: WAIT });
  check(await alice.locator('#meet-pin-form .field-error').count() === 1, 'the PIN refusal is at the field');
  await alice.getByRole('button', { name: 'Generate a PIN', exact: true }).click();
  await waitText(alice, '#meet-pin-new', /^Your new PIN is \d{5,}\. Note it now/, 'the generated PIN');
  await waitText(alice, '#meet-pin-state', /^You have a PIN\.$/, 'the PIN is set');
  check(await alice.locator('#meet-pin[aria-invalid]').count() === 0, 'the PIN field is no longer marked');

  // Schedule: Escape leaves the form; an end before the start is refused at Ends; then
  // scheduled and listed.
  await alice.getByRole('button', { name: 'Schedule a meeting', exact: true }).click();
  await alice.keyboard.press('Escape');
  check(await alice.locator('#meet-form').isHidden(), 'Escape closes the form');
  check(await alice.getByRole('button', { name: 'Schedule a meeting', exact: true }).evaluate((b) => b === document.activeElement), 'the focus returns to Schedule a meeting');
  await alice.getByRole('button', { name: 'Schedule a meeting', exact: true }).click();
  check(await alice.getByLabel('Subject', { exact: true }).evaluate((e) => e === document.activeElement), 'Subject has the focus');
  await alice.getByLabel('Subject', { exact: true }).fill('Budget review');
  await alice.getByLabel('Starts', { exact: true }).fill('2031-03-04T10:00');
  await alice.getByLabel('Ends', { exact: true }).fill('2031-03-04T09:00');
  await alice.getByRole('button', { name: 'Schedule', exact: true }).click();
  await alice.locator('#meet-end[aria-invalid="true"]').waitFor({ timeout: WAIT });
  check(await alice.getByLabel('Ends', { exact: true }).evaluate((e) => e === document.activeElement), 'the refused field has the focus');
  await alice.getByLabel('Ends', { exact: true }).fill('2031-03-04T11:00');
  await alice.getByRole('button', { name: 'Schedule', exact: true }).click();
  await waitText(alice, '#meet-list', /Budget review/, 'the scheduled meeting is listed');
  check(await alice.locator('#meet-form').isHidden(), 'the form closes');
  const item = alice.locator('#meet-list .meet-item').filter({ hasText: 'Budget review' });
  await waitText(alice, '#meet-list .meet-item', /Conference ID\d{7,12}/, 'its conference ID');
  await waitText(alice, '#meet-list .meet-item', /\+1 425 555 0150/, 'its dial-in number');
  const scheduledId = await item.getAttribute('data-meeting');
  const link = await item.getByRole('textbox').inputValue();
  // The test server listens on port 0 without join_url_base: the link uses the page's origin.
  check(link === `${URL}/meet/${scheduledId}`, `the join link is ${link}`);
  await item.getByRole('button', { name: 'Copy the join link of Budget review', exact: true }).click();
  await waitText(alice, '#meet-list', /Copied/, 'the link is copied');
  check(await alice.evaluate(() => navigator.clipboard.readText()) === link, 'the clipboard holds the join link');

  // Edit: every kind of field, as the server then has it.
  await item.getByRole('button', { name: 'Edit Budget review', exact: true }).click();
  await alice.getByLabel('Subject', { exact: true }).fill('Budget review Q4');
  await alice.getByLabel(/^Attendees/).fill('sip:bob@example.com, sip:bonnie@example.com');
  await alice.getByLabel('Leaders besides me', { exact: true }).fill('sip:bonnie@example.com');
  await alice.getByLabel('Who gets in without waiting in the lobby').selectOption('invited');
  await alice.getByLabel('Who leads on joining').selectOption('same_enterprise');
  await alice.getByLabel('Description', { exact: true }).fill('Numbers for next year');
  await alice.getByLabel('Announce people as they join and leave').uncheck();
  await alice.getByLabel('Callers by phone skip the lobby').check();
  await alice.getByRole('button', { name: 'Save changes', exact: true }).click();
  await waitText(alice, '#meet-list', /Budget review Q4/, 'the edited subject');
  const saved = await apiAs(alice, 'GET', `/api/v1/meetings/${scheduledId}`);
  const m = saved.body;
  check(saved.status === 200 && m.subject === 'Budget review Q4' && m.description === 'Numbers for next year'
    && m.attendees.join() === 'sip:bob@example.com,sip:bonnie@example.com' && m.leaders.join() === 'sip:bonnie@example.com'
    && m.access_level === 'invited' && m.automatic_leader_assignment === 'same_enterprise'
    && m.entry_exit_announcement === false && m.lobby_bypass_for_phone_users === true && m.phone_user_admission === true
    && new Date(m.start_time).getTime() === new Date('2031-03-04T10:00').getTime()
    && new Date(m.end_time).getTime() === new Date('2031-03-04T11:00').getTime(), `the server has ${JSON.stringify(saved)}`);

  // Delete, after the confirmation.
  await alice.locator('#meet-list .meet-item').filter({ hasText: 'Budget review Q4' })
    .getByRole('button', { name: 'Delete Budget review Q4', exact: true }).click();
  await alice.getByRole('dialog').getByRole('button', { name: 'Delete meeting', exact: true }).click();
  await alice.locator('#meet-list .meet-item').filter({ hasText: 'Budget review' }).waitFor({ state: 'detached', timeout: WAIT });
  check((await apiAs(alice, 'GET', `/api/v1/meetings/${scheduledId}`)).status === 404, 'the meeting is gone');

  // Meet Now: created and joined by dial-out at once.
  await recordStatuses(alice, 'meet-live-status');
  await alice.getByRole('button', { name: 'Meet Now', exact: true }).click();
  await waitText(alice, '#meet-live-status', /^In the meeting$/, 'Alice is in the meeting');
  const statuses = await alice.evaluate(() => window.statuses);
  check(statuses[0] === 'Dialing out to +1 425 555 0101…', `the first status was ${JSON.stringify(statuses)}`);
  console.log(`meeting statuses seen: ${JSON.stringify(statuses)}`);
  const meMine = alice.locator('#meet-in .roster-row').filter({ hasText: 'Alice Smith (you)' });
  await waitText(alice, '#meet-in .roster-row', /Alice Smith \(you\)Leader/, 'the roster has Alice as a leader');
  await meMine.and(alice.locator('[data-speaking="true"]')).waitFor({ timeout: WAIT });
  check(await meMine.getByRole('img', { name: 'Speaking', exact: true }).count() === 1, 'the speaking indicator is labelled');
  await waitText(alice, '#meet-list', /Meet Now, kept until/, 'Meet Now is listed');
  const nowItem = alice.locator('#meet-list .meet-item').filter({ hasText: 'Meet Now, kept until' });
  const nowId = await nowItem.getAttribute('data-meeting');
  check(await nowItem.getByRole('button', { name: 'Join Meet Now', exact: true }).count() === 0, 'Join is not offered for the meeting I am in');

  // Alice locks; Bob opens the join link, signs in and joins: he waits in the lobby.
  await alice.getByRole('button', { name: 'Lock the meeting', exact: true }).click();
  await alice.getByRole('button', { name: 'Unlock the meeting', exact: true }).waitFor({ timeout: WAIT });
  const bob = await signIn(browser, BOB, async () => {}, `/meet/${nowId}`);
  await waitText(bob, '#meet-open-text', /^Join Meeting\?$/, "the join link offers Bob the meeting");
  check(await bob.getByRole('button', { name: 'Join', exact: true }).evaluate((b) => b === document.activeElement), 'Join has the focus');
  check(new globalThis.URL(bob.url()).pathname === '/', `the address stays ${bob.url()}`);
  check(await bob.locator('#meet-live').isHidden(), 'the link joined before Join');
  await bob.keyboard.press('Enter');
  await waitText(bob, '#meet-live-status', /^In the lobby/, 'Bob waits in the lobby');
  const bobRow = alice.locator('#meet-roster .roster-row').filter({ hasText: 'Bob Jones' });
  await waitText(alice, '#meet-lobby', /Bob Jones/, 'Alice sees Bob in the lobby');
  await bobRow.getByRole('button', { name: 'Admit Bob Jones', exact: true }).click();
  await waitText(bob, '#meet-live-status', /^In the meeting$/, 'Bob is admitted');
  await waitText(alice, '#meet-in', /Bob Jones/, 'Alice sees Bob in the meeting');
  check(await alice.locator('#meet-lobby-area').isHidden(), 'the lobby is empty');
  check(await bob.locator('#meet-lock').isHidden() && await bob.locator('#meet-roster button').count() === 0, 'Bob, no leader, has no leader controls');
  // From the keyboard: the roster is rebuilt as it changes, and the focus stays on the
  // control (now Unmute).
  await bobRow.getByRole('button', { name: 'Mute Bob Jones', exact: true }).focus();
  await alice.keyboard.press('Enter');
  await waitText(bob, '#meet-live-status', /^In the meeting \(muted\)$/, 'Bob is muted');
  await waitText(alice, '#meet-in .roster-row', /Bob JonesMuted/, 'Alice sees Bob muted');
  const focused = await alice.evaluate(() => document.activeElement?.getAttribute('aria-label'));
  check(focused === 'Unmute Bob Jones', `the focus went to ${focused}`);

  // Recording: Alice, a leader, records; everyone in the meeting sees it.
  check(await bob.locator('#meet-record').isHidden(), 'Bob, no leader, has no Record');
  await alice.getByRole('button', { name: 'Record', exact: true }).click();
  await alice.getByRole('button', { name: 'Stop recording', exact: true }).waitFor({ timeout: WAIT });
  await waitText(alice, '#meet-rec-on', /^Recording$/, 'Alice sees the meeting is recorded');
  await waitText(bob, '#meet-rec-on', /^Recording$/, 'Bob sees the meeting is recorded');
  await alice.evaluate(() => window.scrollTo(0, 0));
  await shot(alice, 'meetings');
  await alice.getByRole('button', { name: 'Stop recording', exact: true }).click();
  await alice.getByRole('button', { name: 'Record', exact: true }).waitFor({ timeout: WAIT });
  await bob.locator('#meet-rec-on').waitFor({ state: 'hidden', timeout: WAIT });
  // Listed once its file is finished: downloaded as a WAV, played, and Bob (in the meeting
  // then) has it too, without Delete.
  const recRow = alice.locator('#meet-recs .rec-row');
  const download = recRow.getByRole('button', { name: /^Download the recording of / });
  await download.waitFor({ timeout: WAIT });
  check(await recRow.count() === 1, `${await recRow.count()} recordings listed`);
  const [file] = await Promise.all([alice.waitForEvent('download', { timeout: WAIT }), download.click()]);
  check(/^meeting-.+\.wav$/.test(file.suggestedFilename()), `the download is named ${file.suggestedFilename()}`);
  const wav = readFileSync(await file.path());
  check(wav.length > 44 && wav.subarray(0, 4).toString('latin1') === 'RIFF' && wav.subarray(8, 12).toString('latin1') === 'WAVE', `the download is no WAV: ${wav.subarray(0, 12).toString('hex')}`);
  await recRow.getByRole('button', { name: /^Play the recording of / }).click();
  await alice.waitForFunction(() => document.querySelector('#meet-recs audio')?.duration > 0, null, { timeout: WAIT });
  await bob.locator('#meet-recs .rec-row').getByRole('button', { name: /^Download the recording of / }).waitFor({ timeout: WAIT });
  check(await bob.locator('#meet-recs button[aria-label^="Delete"]').count() === 0, 'Bob, not the organizer, has no Delete');
  // The same list under the meeting in My meetings.
  await nowItem.getByRole('button', { name: 'Recordings of Meet Now', exact: true }).click();
  await nowItem.locator('.rec-list .rec-row').getByRole('button', { name: /^Download the recording of / }).waitFor({ timeout: WAIT });
  await nowItem.getByRole('button', { name: 'Recordings of Meet Now', exact: true }).click();
  check(await nowItem.locator('.rec-list').isHidden(), 'Recordings closes the list again');
  // The organizer deletes it, after the confirmation.
  await recRow.getByRole('button', { name: /^Delete the recording of / }).click();
  await alice.getByRole('dialog').getByRole('button', { name: 'Delete recording', exact: true }).click();
  await recRow.waitFor({ state: 'detached', timeout: WAIT });
  check(await alice.locator('#meet-recs-area').isHidden(), 'an empty Recordings list is hidden');
  const recs = await apiAs(alice, 'GET', `/api/v1/meetings/${nowId}/recordings`);
  check(recs.status === 200 && recs.body.recordings.length === 0, `the server still lists ${JSON.stringify(recs)}`);
  await alice.getByRole('button', { name: 'Mute myself', exact: true }).click();
  await waitText(alice, '#meet-live-status', /^In the meeting \(muted\)$/, 'Alice mutes herself');
  await waitText(alice, '#meet-in .roster-row', /Alice Smith \(you\)Leader · Muted/, 'her row says muted');
  check(await alice.getByRole('button', { name: 'Unmute myself', exact: true }).getAttribute('aria-pressed') === 'true', 'Unmute myself is pressed');
  // A reload finds the meeting going on: the panel and its roster come back.
  await alice.reload();
  await alice.locator('body[data-ready="true"]').waitFor({ timeout: WAIT });
  await waitText(alice, '#meet-live-status', /^In the meeting \(muted\)$/, 'after a reload Alice is still in the meeting');
  await waitText(alice, '#meet-live-title', /^Meet Now$/, 'the panel names the meeting');
  await waitText(alice, '#meet-in', /Bob Jones/, 'the roster after a reload');
  // Phone width: one column, nothing wider than the screen.
  await alice.setViewportSize({ width: 390, height: 844 });
  const overflow = await alice.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `at phone width the meetings area is ${overflow}px too wide`);
  await shot(alice, 'meetings-phone-width', true);
  await alice.setViewportSize({ width: 1280, height: 800 });

  // Alice removes Bob, then hangs up: the roster empties.
  await bobRow.getByRole('button', { name: 'Remove Bob Jones', exact: true }).click();
  await bobRow.waitFor({ state: 'detached', timeout: WAIT });
  await bob.locator('#meet-live-controls').waitFor({ state: 'hidden', timeout: WAIT });
  await alice.getByRole('button', { name: 'Hang up', exact: true }).click();
  await waitText(alice, '#meet-live-status', /^You left the meeting$/, 'Alice hangs up');
  await alice.locator('#meet-roster[data-count="0"]').waitFor({ timeout: WAIT });
  await waitText(alice, '#meet-in', /Nobody is in the meeting/, 'the roster is empty');
  // Recent calls lists the meeting, offering to join it again (not to call my own phone).
  const meetingRow = alice.locator('#history .history-row').filter({ hasText: /^↗Meeting/ }).first();
  await meetingRow.waitFor({ timeout: WAIT });
  check(await meetingRow.getByRole('button', { name: 'Join the meeting again', exact: true }).count() === 1
    && await meetingRow.getByRole('button', { name: /^Call/ }).count() === 0, 'the meeting row offers Join, not Call');
  const roster = await apiAs(alice, 'GET', `/api/v1/meetings/${nowId}/roster`);
  check(roster.status === 200 && roster.body.participants.length === 0, `the server's roster: ${JSON.stringify(roster)}`);

  await alice.context().close();
  await bob.context().close();
}

/** Dialing the bridge from the Meetings area is a Call Via Work call to its number, shown
 * in the call panel. */
async function bridge(browser) {
  const alice = await signIn(browser, ALICE);
  await alice.getByRole('button', { name: 'Meetings', exact: true }).click();
  await alice.getByRole('button', { name: 'Call the bridge +1 425 555 0150', exact: true }).click();
  await waitText(alice, '#call-peer', /^Conference bridge \+1 425 555 0150$/, 'the bridge call');
  await waitText(alice, '#call-status', /^Connected/, 'the bridge call connects');
  await alice.locator('#call').getByRole('button', { name: 'Hang up', exact: true }).click();
  await waitText(alice, '#call-status', /^You hung up$/, 'the bridge call hangs up');
  await alice.context().close();
}

/** On a server anchoring media: Alice calls a number, adds a third person, and the call
 * becomes a meeting shown in the meeting panel with the three of them; she removes the
 * others and hangs up. */
async function addPerson(browser) {
  const alice = await signIn(browser, ALICE);
  await alice.getByLabel('Find someone').fill('+14255550199');
  await alice.getByRole('button', { name: 'Call +1 425 555 0199', exact: true }).click();
  await waitText(alice, '#call-status', /^Connected/, 'the call connects');
  await alice.getByRole('button', { name: 'Add person', exact: true }).click();
  await alice.getByLabel('Add to the call').fill('+1 425 555 0188');
  await alice.locator('#call-add').getByRole('button', { name: 'Add', exact: true }).click();
  await waitText(alice, '#meet-live-title', /^Call with /, 'the meeting the call became');
  check(await alice.locator('#call').isHidden(), 'the call panel gave way to the meeting');
  await alice.locator('#meet-roster[data-count="3"]').waitFor({ timeout: WAIT });
  await waitText(alice, '#meet-live-status', /^In the meeting$/, 'Alice is in the meeting');
  check(await alice.locator('#meet-lobby-area').isHidden(), 'nobody waits in the lobby');
  for (let left = 2; left > 0; left--) {
    await alice.locator('#meet-in').getByRole('button', { name: /^Remove / }).first().click();
    await alice.locator(`#meet-roster[data-count="${left}"]`).waitFor({ timeout: WAIT });
  }
  await alice.locator('#meet-live').getByRole('button', { name: 'Hang up', exact: true }).click();
  await waitText(alice, '#meet-live-status', /^You left the meeting$/, 'Alice hangs up');
  await alice.context().close();
}

const phases = { call, im, forwarding, admin, group, meetings, bridge, incoming, decline, 'desk-phone': deskPhone, reconnect, 'add-person': addPerson };
const phase = phases[process.argv[2]];
if (!phase) fail(`usage: node client.spec.mjs ${Object.keys(phases).join('|')}`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  timeout: 30_000,
});
try {
  await phase(browser);
  if (problems.length) throw new Error(problems.join('\n'));
  console.log(`PASSED ${process.argv[2]}`);
} catch (e) {
  console.error(e.stack || String(e));
  process.exitCode = 1;
} finally {
  await browser.close();
}
