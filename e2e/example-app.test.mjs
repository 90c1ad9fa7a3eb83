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
