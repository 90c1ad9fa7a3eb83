// The example app of the site (crates/example-app: the `openidconnect` crate as
// relying party) in a real headless Chromium: a person signs in to the app
// through Gatehouse's own pages (login, then consent: scripts/e2e.sh registers
// the app as a third-party client), comes back signed in with their e-mail
// shown, and signs out, which ends their Gatehouse session too (RP-initiated
// logout) and lands on the app, signed out. Every page of both, Gatehouse's and
// the app's, passes the harness's axe-core check.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  APP,
  BASE,
  api,
  PASSWORD,
  assertNoProblems,
  errorText,
  freshEmail,
  newPage,
  screenshot,
  signUpInBrowser,
  signedInAs,
  submit,
} from './harness.mjs';

test('a person signs in to the example app through Gatehouse, consents, and signs out', async (t) => {
  assert.ok(APP, 'GATEHOUSE_E2E_APP_URL is not set: run the tests with scripts/e2e.sh');
  const { context, page, problems } = await newPage(t);
  const email = freshEmail('app');
  await signUpInBrowser(page, email);
  // Signed out of Gatehouse, so the app's sign-in goes through its login page.
  await context.clearCookies();

  await page.goto(`${APP}/`);
  assert.match(await page.locator('main').textContent(), /You are not signed in/);
  await screenshot(page, 'example-app-signed-out');
  await page.getByRole('link', { name: 'Sign in', exact: true }).click();
  await page.waitForLoadState('load');
  // Gatehouse's login page, which returns to the authorization request.
  assert.equal(new URL(page.url()).origin, BASE);
  assert.equal(new URL(page.url()).pathname, '/login');
  await page.getByLabel('E-mail address', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  let r = await submit(page, 'Sign in');
  assert.equal(r.status(), 303);

  // A third-party app: Gatehouse asks first.
  assert.equal(new URL(page.url()).origin, BASE);
  assert.match(await page.locator('h1').textContent(), /^Allow Example app to sign you in\?$/);
  await screenshot(page, 'example-app-consent');
  r = await submit(page, 'Allow');
  assert.equal(r.status(), 303);
  // Back through the app's /callback (code exchanged, ID token validated) to its home page.
  assert.equal(page.url(), `${APP}/`);
  assert.equal(await errorText(page), null);
  assert.equal(await signedInAs(page), email);
  await screenshot(page, 'example-app-signed-in');

  // A reload keeps the app's session (its own cookie).
  await page.goto(`${APP}/`);
  assert.equal(await signedInAs(page), email);

  r = await submit(page, 'Sign out');
  assert.equal(r.status(), 303);
  // Gatehouse ended its session (the ID token named it) and sent the person
  // back to the registered post-logout URI: the app, signed out.
  assert.equal(page.url(), `${APP}/`);
  assert.match(await page.locator('main').textContent(), /You are not signed in/);
  await page.goto(`${BASE}/settings`);
  assert.equal(new URL(page.url()).pathname, '/login', 'the Gatehouse session ended too');

  // The callback cannot be replayed or forged: without the sign-in it started
  // there is nothing to finish, and the person is told so.
  const forged = await page.goto(`${APP}/callback?code=x&state=y&iss=${encodeURIComponent(BASE)}`);
  assert.equal(forged.status(), 400);
  assert.match(await errorText(page), /not started here/);
  assertNoProblems(problems);
});

// Issue 17: a forced reset reaches the app. A person signed in to the app is
// signed out of it by a campaign (Gatehouse posts a logout token to the app's
// back-channel logout URI, registered by scripts/e2e.sh); an undo gives back
// the old password, with which they sign in to the app again.
const OPERATOR_KEYS = (process.env.GATEHOUSE_E2E_OPERATOR_KEYS ?? '').split(',').filter(Boolean);

async function signInToApp(page, email, password) {
  await page.goto(`${APP}/`);
  await page.getByRole('link', { name: 'Sign in', exact: true }).click();
  await page.waitForLoadState('load');
  if (new URL(page.url()).pathname === '/login') {
    await page.getByLabel('E-mail address', { exact: true }).fill(email);
    await page.getByLabel('Password', { exact: true }).fill(password);
    assert.equal((await submit(page, 'Sign in')).status(), 303);
  }
  if (new URL(page.url()).origin === BASE && (await page.locator('h1').textContent()).startsWith('Allow ')) {
    assert.equal((await submit(page, 'Allow')).status(), 303);
  }
  assert.equal(page.url(), `${APP}/`);
  assert.equal(await signedInAs(page), email);
}

/** Polls `probe` (true when done) for up to 30 s; fails with `what`. */
async function eventually(probe, what) {
  const deadline = Date.now() + 30_000;
  while (!(await probe())) {
    assert.ok(Date.now() < deadline, `${what} within 30 s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function asOperator(i, method, path, body, expect = [200]) {
  const r = await api(method, `/api/v1${path}`, { body, token: OPERATOR_KEYS[i] });
  assert.ok(expect.includes(r.status), `${method} ${path}: ${r.status} ${r.text}`);
  return r.json;
}

test('a forced reset signs the person out of the app at once; an undo lets them back in with the old password', async (t) => {
  assert.ok(APP, 'GATEHOUSE_E2E_APP_URL is not set: run the tests with scripts/e2e.sh');
  assert.equal(OPERATOR_KEYS.length, 2, 'GATEHOUSE_E2E_OPERATOR_KEYS must hold two keys: run scripts/e2e.sh');
  const { context, page, problems } = await newPage(t);
  const email = freshEmail('reset');
  await signUpInBrowser(page, email);
  await context.clearCookies();
  await signInToApp(page, email, PASSWORD);

  // Two operators: one drafts and starts a one-account campaign, the other approves it.
  const c = await asOperator(0, 'POST', '/admin/campaigns', {
    name: 'E2E app sign-out',
    reason: 'your password appeared in a list of stolen credentials',
    accounts: [email],
    bake_secs: 0,
  }, [201]);
  const preview = await asOperator(0, 'POST', `/admin/campaigns/${c.id}/preview`, {});
  await asOperator(1, 'POST', `/admin/campaigns/${c.id}/approve`, { snapshot: preview.snapshot });
  await asOperator(0, 'POST', `/admin/campaigns/${c.id}/start`, {});

  // The app learns it server to server: its page shows the person signed out
  // without anything done in this browser.
  await eventually(async () => {
    await page.goto(`${APP}/`);
    return /You are not signed in/.test(await page.locator('main').textContent());
  }, 'the app showing the person signed out after the forced reset');
  await screenshot(page, 'example-app-signed-out-by-reset');

  // Undo: the old password (and session) come back.
  await asOperator(0, 'POST', `/admin/campaigns/${c.id}/undo`, undefined, [202]);
  await eventually(
    async () => (await asOperator(0, 'GET', `/admin/campaigns/${c.id}`)).state === 'undone',
    'the undo completing',
  );
  await context.clearCookies();
  await signInToApp(page, email, PASSWORD);
  assertNoProblems(problems);
});
