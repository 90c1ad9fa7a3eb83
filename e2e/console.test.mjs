// End-to-end tests of the operator console in a real headless Chromium: two
// operators run a small forced-reset campaign through the pages (preview,
// approval by the second operator, staged run by the server's worker), trip
// the breaker, publish the incident draft it wrote, undo the campaign; the
// owners get the forced-reset mail and then the correction; the public status
// page and its feed show the incident.
//
// Run through scripts/e2e.sh, which creates the two operators with the CLI and
// passes them as GATEHOUSE_E2E_OPERATORS="email:password,email:password".

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE,
  PASSWORD,
  freshEmail,
  newPage,
  assertNoProblems,
  screenshot,
  submit,
  api,
  signUpInBrowser,
  logInInBrowser,
  noticeText,
  mailTo,
} from './harness.mjs';

const OPERATORS = (process.env.GATEHOUSE_E2E_OPERATORS ?? '')
  .split(',')
  .filter(Boolean)
  .map((pair) => {
    const at = pair.indexOf(':');
    return { email: pair.slice(0, at), password: pair.slice(at + 1) };
  });

async function consoleSignIn(page, op) {
  await page.goto(`${BASE}/console`);
  // Not signed in: the console sends the operator to its own sign-in page.
  assert.equal(new URL(page.url()).pathname, '/console/login');
  await page.getByLabel('Operator e-mail', { exact: true }).fill(op.email);
  await page.getByLabel('Password', { exact: true }).fill(op.password);
  const r = await submit(page, 'Sign in');
  assert.equal(r.status(), 303);
  assert.equal(new URL(page.url()).pathname, '/console');
}

/** Reloads `url` until `pred(page)` holds (the server's worker moves on its own); 30 s at most. */
async function waitFor(page, url, pred, what) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    await page.goto(url);
    if (await pred(page)) return;
    assert.ok(Date.now() < deadline, `${what} did not happen within 30 s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function fact(page, term) {
  return (await page.locator(`dl.facts dt:text-is("${term}") + dd`).textContent()).trim();
}

/** The campaign's state: as the page says it to people, and the stored word in data-state. */
async function campaignState(page) {
  const dd = page.locator('dl.facts dt:text-is("State") + dd');
  return { words: (await dd.textContent()).trim(), code: await dd.getAttribute('data-state') };
}

describe('Operator console', () => {
  test('a campaign from preview to undo, the kill switch, and the incident on the status page', async (t) => {
    assert.equal(OPERATORS.length, 2, 'GATEHOUSE_E2E_OPERATORS must name two operators (see scripts/e2e.sh)');
    const [ann, bob] = OPERATORS;

    // Two people with accounts, signed in.
    const owners = [];
    for (const tag of ['owner-a', 'owner-b']) {
      const { page } = await newPage(t);
      const email = freshEmail(tag);
      await signUpInBrowser(page, email);
      owners.push({ email, page });
    }

    // An account holder's session is not a console session.
    await owners[0].page.goto(`${BASE}/console`);
    assert.equal(new URL(owners[0].page.url()).pathname, '/console/login');

    // Ann signs in and sees the overview.
    const a = await newPage(t);
    await a.page.goto(`${BASE}/console/login`);
    await screenshot(a.page, 'console-login');
    await consoleSignIn(a.page, ann);
    assert.equal(await a.page.title(), 'Overview · Gatehouse console');
    const cookie = (await a.context.cookies(BASE)).find((c) => c.name === 'gatehouse_console');
    assert.ok(cookie, 'the console cookie');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    await screenshot(a.page, 'console-overview');

    // She finds an owner's account.
    await a.page.getByRole('link', { name: 'Accounts', exact: true }).click();
    await a.page.getByLabel('E-mail address (or its beginning) or account id').fill(owners[0].email);
    await a.page.getByRole('button', { name: 'Search' }).click();
    await a.page.waitForLoadState('load');
    await a.page.getByRole('link', { name: owners[0].email }).click();
    await a.page.waitForLoadState('load');
    assert.equal(await a.page.locator('h1').textContent(), owners[0].email);
    await screenshot(a.page, 'console-account');

    // She drafts a campaign over both accounts and previews it.
    await a.page.goto(`${BASE}/console/campaigns`);
    await a.page.getByLabel('Name', { exact: true }).fill('e2e stolen list');
    await a.page
      .getByLabel('Reason, as the account owners will read it')
      .fill('your password appeared in a list of stolen credentials');
    await a.page
      .getByLabel('Accounts: e-mail addresses or ids, one per line')
      .fill(owners.map((o) => o.email).join('\n'));
    await a.page.getByLabel('Accounts per minute at most (default 60)').fill('600');
    await a.page.getByLabel('Seconds between stages (default 600)').fill('0');
    let r = await submit(a.page, 'Create draft');
    assert.equal(r.status(), 303);
    const campaignUrl = a.page.url().split('?')[0];
    assert.match(new URL(campaignUrl).pathname, /^\/console\/campaigns\/[^/]+$/);
    assert.match(await noticeText(a.page), /Campaign created as a draft/);
    r = await submit(a.page, 'Preview and freeze');
    assert.equal(r.status(), 303);
    assert.equal(await fact(a.page, 'Accounts'), '2');
    assert.match(await fact(a.page, 'Second approval'), /needed/);
    // The state as a person reads it; the stored word only in data-state.
    assert.deepEqual(await campaignState(a.page), { words: 'Previewed — waiting for approval', code: 'previewed' });
    // Its creator cannot approve it: no button, and the page says why.
    assert.equal(await a.page.getByRole('button', { name: /^Approve/ }).count(), 0);
    assert.match(await a.page.locator('main').textContent(), /another operator must approve/);
    await screenshot(a.page, 'console-campaign-preview');

    // Bob approves the snapshot he sees.
    const b = await newPage(t);
    await consoleSignIn(b.page, bob);
    await b.page.goto(campaignUrl);
    r = await submit(b.page, 'Approve these 2 accounts');
    assert.equal(r.status(), 303);
    assert.equal(await fact(b.page, 'Approved by'), bob.email);

    // Ann starts it; the server's worker runs it to the end.
    await a.page.goto(campaignUrl);
    r = await submit(a.page, 'Start');
    assert.equal(r.status(), 303);
    await waitFor(
      a.page,
      campaignUrl,
      async (p) => (await campaignState(p)).code === 'completed',
      'the campaign completing',
    );
    assert.equal(await fact(a.page, 'Progress'), '2 of 2 accounts reset');
    assert.match((await campaignState(a.page)).words, /^Completed — /);
    // The list of campaigns says it the same way.
    await a.page.goto(`${BASE}/console/campaigns`);
    const listed = a.page.locator(`table tbody tr:has(a[href="${new URL(campaignUrl).pathname}"]) td[data-state]`);
    assert.equal(await listed.getAttribute('data-state'), 'completed');
    assert.match((await listed.textContent()).trim(), /^Completed — /);
    await a.page.goto(campaignUrl);
    await screenshot(a.page, 'console-campaign-completed');

    // Each owner is signed out and told, with a reference and the reason.
    for (const o of owners) {
      await o.page.goto(`${BASE}/settings`);
      assert.equal(new URL(o.page.url()).pathname, '/login');
      const mail = await mailTo(o.email, /We reset your/);
      assert.match(mail.text, /stolen credentials/);
    }
    r = await logInInBrowser(owners[0].page, owners[0].email, PASSWORD);
    assert.notEqual(r.status(), 303, 'the old password no longer signs in');

    // Bob trips the breaker (the kill switch).
    await b.page.goto(`${BASE}/console/breaker`);
    await b.page.getByLabel('Reason for stopping everything').fill('The resets look wrong: stopping until we know why.');
    r = await submit(b.page, 'Trip the breaker (kill switch)');
    assert.equal(r.status(), 303);
    assert.match(await b.page.locator('.big').textContent(), /Open \(tripped\)/);
    await screenshot(b.page, 'console-breaker-open');

    // The breaker wrote an incident draft with live figures; Ann rewords and publishes it.
    // Worded as an operator would write it; the time of day keeps it unique
    // among earlier runs on a reused database.
    const title = `Password resets sent in error at ${new Date().toISOString().slice(11, 19)} UTC`;
    await a.page.goto(`${BASE}/console/incidents`);
    await screenshot(a.page, 'console-incidents');
    const drafts = a.page.locator('h2:text-is("Drafts") + div table a');
    assert.ok((await drafts.count()) >= 1, 'a draft from the breaker');
    await drafts.first().click();
    await a.page.waitForLoadState('load');
    assert.match(await a.page.locator('main').textContent(), /Live figures \(not public\)/);
    await screenshot(a.page, 'console-incident-draft');
    await a.page.getByLabel('Title', { exact: true }).fill(title);
    await a.page
      .getByLabel('Text', { exact: true })
      .fill('We reset some passwords by mistake. We are restoring them; no action is needed.');
    r = await submit(a.page, 'Save draft');
    assert.equal(r.status(), 303);
    await a.page.getByLabel('State', { exact: true }).selectOption('identified');
    r = await submit(a.page, 'Publish');
    assert.equal(r.status(), 303);
    assert.match(await noticeText(a.page), /published/);

    // Ann undoes the campaign: preview first, then restore.
    await a.page.goto(campaignUrl);
    await a.page.getByRole('link', { name: 'Undo this campaign…' }).click();
    await a.page.waitForLoadState('load');
    assert.equal(await fact(a.page, 'Can be restored'), '2');
    await screenshot(a.page, 'console-undo-preview');
    r = await submit(a.page, 'Undo: restore 2 and explain to 0');
    assert.equal(r.status(), 303);
    assert.match(await noticeText(a.page), /Undo started/);
    // The server's campaign worker restores them, paced at the campaign's rate.
    await waitFor(
      a.page,
      campaignUrl,
      async (p) => (await campaignState(p)).code === 'undone',
      'the undo finishing',
    );

    // The owners' old passwords work again, and they got a correction.
    r = await logInInBrowser(owners[1].page, owners[1].email, PASSWORD);
    assert.equal(r.status(), 303);
    // "Was I affected?" tells the owner when, for people, with the machine form in <time>.
    const affected = owners[1].page.locator('#affected article').first();
    assert.match(
      (await affected.locator('h3').textContent()).replace(/\s+/g, ' '),
      /^Reset on \d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} UTC \((just now|\d+ minutes? ago)\) — undone$/,
    );
    assert.match(await affected.locator('time').getAttribute('datetime'), /^\d{4}-\d{2}-\d{2}T/);
    await screenshot(owners[1].page, 'settings-affected');
    for (const o of owners) {
      const mail = await mailTo(o.email, /Please disregard/);
      assert.match(mail.text, /Reference: GH-/);
    }

    // The public status page and its feed show the incident.
    const s = await newPage(t);
    await s.page.goto(`${BASE}/status`);
    assert.match(await s.page.locator('main').textContent(), new RegExp(title));
    // Its times are written for people ("3 Dec 2026, 08:18 UTC (2 minutes ago)"), never raw RFC 3339.
    const incident = s.page.locator('article.incident', { hasText: title }).first();
    const published = incident.locator('time').first();
    assert.match(await published.textContent(), /^\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} UTC$/);
    assert.match(await published.getAttribute('datetime'), /^\d{4}-\d{2}-\d{2}T/);
    assert.doesNotMatch(await incident.textContent(), /\d{4}-\d{2}-\d{2}T\d{2}:/);
    await screenshot(s.page, 'status-incident');
    const feed = await api('GET', '/status.atom');
    assert.equal(feed.status, 200);
    assert.ok(feed.text.includes(title), 'the Atom feed has the incident');

    // Only an operator closes the breaker, with a reason.
    await b.page.goto(`${BASE}/console/breaker`);
    await b.page.getByLabel('Why is it safe to close the breaker?').fill('The campaign was undone and the accounts restored.');
    r = await submit(b.page, 'Close the breaker');
    assert.equal(r.status(), 303);
    assert.match(await b.page.locator('.big').textContent(), /Closed/);

    // The audit log holds it all, and its chain verifies.
    await a.page.goto(`${BASE}/console/audit`);
    await a.page.getByRole('button', { name: 'Verify the chain' }).click();
    await a.page.waitForLoadState('load');
    assert.match(await a.page.locator('main [role="status"]').textContent(), /The chain is intact/);
    await screenshot(a.page, 'console-audit');

    // Readable on a phone, and every field labelled, on every console page.
    await a.page.setViewportSize({ width: 375, height: 800 });
    for (const path of [
      '/console',
      '/console/accounts',
      '/console/rules',
      '/console/campaigns',
      new URL(campaignUrl).pathname,
      '/console/breaker',
      '/console/incidents',
      '/console/operators',
      '/console/apps',
      '/console/audit',
    ]) {
      await a.page.goto(`${BASE}${path}`);
      const { overflow, unlabelled } = await a.page.evaluate(() => ({
        overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
        unlabelled: [...document.querySelectorAll('input, select, textarea')]
          .filter((e) => e.type !== 'hidden' && e.labels.length === 0)
          .map((e) => e.name),
      }));
      assert.ok(overflow <= 1, `${path} scrolls sideways by ${overflow}px at 375px`);
      assert.deepEqual(unlabelled, [], `${path} has fields without a label`);
    }
    await a.page.goto(campaignUrl);
    await screenshot(a.page, 'console-campaign-phone');
    await a.page.setViewportSize({ width: 1024, height: 768 });

    // Operators and their keys: listed with state and last use, the actions labelled per operator.
    await a.page.goto(`${BASE}/console/operators`);
    const annCard = a.page.locator('section.operator', { has: a.page.locator('h2', { hasText: ann.email }) });
    assert.match(await annCard.locator('h2').textContent(), /\(you\)/);
    assert.equal(await annCard.locator('dt:text-is("Key") + dd').getAttribute('data-state'), 'active');
    assert.match(await annCard.locator('dt:text-is("Last used") + dd').textContent(), /UTC|Never/);
    assert.equal(await a.page.getByRole('button', { name: `Rotate key of ${bob.email}` }).count(), 1);
    await screenshot(a.page, 'console-operators');

    for (const p of [a, b, s]) assertNoProblems(p.problems);
  });
});
