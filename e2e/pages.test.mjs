// End-to-end tests of Gatehouse's account pages in a real headless Chromium:
// sign-up, sign-in, settings, password recovery and /verify.
// Run through scripts/e2e.sh (see harness.mjs for the settings it passes).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE,
  PASSWORD,
  NEW_PASSWORD,
  WRONG_PASSWORD,
  browser,
  freshEmail,
  newPage,
  assertNoProblems,
  screenshot,
  submit,
  api,
  signUpInBrowser,
  logInInBrowser,
  signedInAs,
  noticeText,
  errorText,
  sessionRows,
  mailTo,
} from './harness.mjs';

describe('Gatehouse pages', () => {
  test('sign up through the form lands on settings showing the e-mail', async (t) => {
    const { context, page, problems } = await newPage(t);
    const email = freshEmail('signup');

    await page.goto(`${BASE}/signup`);
    assert.equal(await page.title(), 'Create an account · Gatehouse');
    await screenshot(page, 'signup');

    await signUpInBrowser(page, email);
    const url = new URL(page.url());
    assert.equal(url.pathname, '/settings');
    assert.equal(url.searchParams.get('done'), 'welcome');
    assert.equal(await page.locator('h1').textContent(), 'Settings');
    assert.equal(await signedInAs(page), email);
    assert.equal(await noticeText(page), 'Your account is ready.');

    // The one session is this browser's, and there is nothing else to sign out.
    const rows = await sessionRows(page);
    assert.equal(rows.length, 1, `sessions: ${JSON.stringify(rows)}`);
    assert.equal(rows[0][4], 'This device');
    assert.equal(await page.getByRole('button', { name: 'Sign out all other sessions' }).count(), 0);

    // The session cookie is out of reach of scripts and not sent cross-site.
    const cookies = await context.cookies(BASE);
    const session = cookies.find((c) => c.name === 'gatehouse_session');
    assert.ok(session, `no session cookie among ${cookies.map((c) => c.name).join(', ')}`);
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Lax');
    assert.equal(session.path, '/');

    // The account exists: the API accepts the same credentials.
    const s = await api('POST', '/api/v1/sessions', { body: { email, password: PASSWORD } });
    assert.equal(s.status, 201, s.text);
    assert.ok(s.json?.token, s.text);

    // Reloading keeps the visitor signed in (the cookie works).
    await page.goto(`${BASE}/settings`);
    assert.equal(await signedInAs(page), email);
    assert.equal(await noticeText(page), null);
    assertNoProblems(problems);
  });

  test('sign out, wrong password is refused neutrally, right password signs in', async (t) => {
    const { context, page, problems } = await newPage(t);
    const email = freshEmail('login');
    await signUpInBrowser(page, email);

    // Sign out from the header.
    const out = await submit(page, 'Sign out');
    assert.equal(out.status(), 303);
    let url = new URL(page.url());
    assert.equal(url.pathname, '/login');
    assert.equal(url.searchParams.get('done'), 'logout');
    assert.equal(await noticeText(page), 'You are signed out.');
    assert.equal(await page.locator('h1').textContent(), 'Sign in');
    await screenshot(page, 'login');

    // The cookie is gone, and settings now sends the visitor to the login page.
    const cookies = await context.cookies(BASE);
    assert.equal(cookies.find((c) => c.name === 'gatehouse_session' && c.value), undefined);
    await page.goto(`${BASE}/settings`);
    assert.equal(new URL(page.url()).pathname, '/login');

    // A wrong password: same page, 401, the neutral message, the e-mail kept.
    const wrong = await logInInBrowser(page, email, WRONG_PASSWORD);
    assert.equal(wrong.status(), 401);
    assert.equal(new URL(page.url()).pathname, '/login');
    assert.match(await errorText(page), /the e-mail address or password is not correct/i);
    assert.equal(await page.getByLabel('E-mail address', { exact: true }).inputValue(), email);
    assert.equal(await page.getByLabel('Password', { exact: true }).inputValue(), '');

    // An unknown address gets exactly the same message (no account enumeration).
    const wrongErr = await errorText(page);
    const unknown = await logInInBrowser(page, freshEmail('nobody'), WRONG_PASSWORD);
    assert.equal(unknown.status(), 401);
    assert.equal(await errorText(page), wrongErr);

    // The right password: settings, signed in as that address.
    const right = await logInInBrowser(page, email, PASSWORD);
    assert.equal(right.status(), 303);
    url = new URL(page.url());
    assert.equal(url.pathname, '/settings');
    assert.equal(await signedInAs(page), email);
    assert.equal(await errorText(page), null);
    assertNoProblems(problems);
  });

  test('changing the password ends the other session and replaces the old password', async (t) => {
    const { page, problems } = await newPage(t);
    const email = freshEmail('change');
    await signUpInBrowser(page, email);

    // A second session, as another device would have it.
    const other = await api('POST', '/api/v1/sessions', { body: { email, password: PASSWORD } });
    assert.equal(other.status, 201, `POST /api/v1/sessions: ${other.text}`);
    const token = other.json.token;
    assert.ok(token, other.text);
    const meBefore = await api('GET', '/api/v1/me', { token });
    assert.equal(meBefore.status, 200, meBefore.text);

    // Settings lists both sessions, with a way to end the other one.
    await page.goto(`${BASE}/settings`);
    let rows = await sessionRows(page);
    assert.equal(rows.length, 2, `sessions: ${JSON.stringify(rows)}`);
    assert.equal(rows.filter((r) => r[4] === 'This device').length, 1);
    assert.equal(rows.filter((r) => r[4] === 'Sign out').length, 1);
    assert.equal(await page.getByRole('button', { name: 'Sign out all other sessions' }).count(), 1);
    await screenshot(page, 'settings');

    // "Sign out everywhere else" is on by default.
    const everywhere = page.getByLabel('Sign out everywhere else', { exact: true });
    assert.equal(await everywhere.isChecked(), true);

    await page.getByLabel('Current password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel('Repeat the new password', { exact: true }).fill(NEW_PASSWORD);
    const changed = await submit(page, 'Change password');
    assert.equal(changed.status(), 303);
    const url = new URL(page.url());
    assert.equal(url.pathname, '/settings');
    assert.equal(url.searchParams.get('done'), 'password');
    assert.equal(await noticeText(page), 'Your password was changed.');

    // This browser stays signed in; the other session is gone from the list...
    assert.equal(await signedInAs(page), email);
    rows = await sessionRows(page);
    assert.equal(rows.length, 1, `sessions after the change: ${JSON.stringify(rows)}`);
    assert.equal(rows[0][4], 'This device');
    // ...and its token no longer works.
    const meAfter = await api('GET', '/api/v1/me', { token });
    assert.equal(meAfter.status, 401, meAfter.text);

    // The old password no longer signs in; the new one does.
    await submit(page, 'Sign out');
    const old = await logInInBrowser(page, email, PASSWORD);
    assert.equal(old.status(), 401);
    assert.match(await errorText(page), /the e-mail address or password is not correct/i);
    const fresh = await logInInBrowser(page, email, NEW_PASSWORD);
    assert.equal(fresh.status(), 303);
    assert.equal(new URL(page.url()).pathname, '/settings');
    assert.equal(await signedInAs(page), email);
    assertNoProblems(problems);
  });

  test('settings: a wrong current password changes nothing; ending sessions from the table', async (t) => {
    const { page, problems } = await newPage(t);
    const email = freshEmail('sessions');
    await signUpInBrowser(page, email);
    const newToken = async () => {
      const r = await api('POST', '/api/v1/sessions', { body: { email, password: PASSWORD } });
      assert.equal(r.status, 201, r.text);
      return r.json.token;
    };
    const a = await newToken();
    const b = await newToken();
    const c = await newToken();

    // A wrong current password: an error on the page, still signed in, nothing ended.
    await page.goto(`${BASE}/settings`);
    await page.getByLabel('Current password', { exact: true }).fill(WRONG_PASSWORD);
    await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel('Repeat the new password', { exact: true }).fill(NEW_PASSWORD);
    const refused = await submit(page, 'Change password');
    assert.equal(refused.status(), 403);
    assert.ok(await errorText(page), 'no error message after a wrong current password');
    assert.equal(await noticeText(page), null);
    assert.equal(await signedInAs(page), email);
    assert.equal((await sessionRows(page)).length, 4);
    assert.equal((await api('GET', '/api/v1/me', { token: a })).status, 200);

    // New passwords that differ: refused, nothing changed.
    await page.getByLabel('Current password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel('Repeat the new password', { exact: true }).fill(`${NEW_PASSWORD}!`);
    const differ = await submit(page, 'Change password');
    assert.equal(differ.status(), 400);
    assert.equal(await errorText(page), 'The two new passwords are not the same.');
    assert.equal((await api('POST', '/api/v1/sessions', { body: { email, password: NEW_PASSWORD } })).status, 401);

    // Unticking "Sign out everywhere else" keeps the other sessions.
    await page.goto(`${BASE}/settings`);
    await page.getByLabel('Current password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel('Repeat the new password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel('Sign out everywhere else', { exact: true }).uncheck();
    const kept = await submit(page, 'Change password');
    assert.equal(kept.status(), 303);
    assert.equal(await noticeText(page), 'Your password was changed.');
    assert.equal((await sessionRows(page)).length, 4);
    for (const token of [a, b, c]) {
      assert.equal((await api('GET', '/api/v1/me', { token })).status, 200);
    }

    // "Sign out" on one row ends exactly that session.
    const otherRow = page.locator('table tbody tr').filter({ hasNotText: 'This device' }).first();
    const rowButton = otherRow.getByRole('button');
    // The button says "Sign out" and tells screen readers which session it ends.
    assert.equal((await rowButton.textContent()).trim(), 'Sign out');
    assert.match(await rowButton.getAttribute('aria-label'), /^Sign out the session from /);
    const endOne = await submit(page, rowButton);
    assert.equal(endOne.status(), 303);
    assert.equal(await noticeText(page), 'That session was signed out.');
    assert.equal((await sessionRows(page)).length, 3);
    const alive = [];
    for (const token of [a, b, c]) alive.push((await api('GET', '/api/v1/me', { token })).status);
    assert.deepEqual(alive.sort(), [200, 200, 401]);

    // "Sign out all other sessions" ends the rest and keeps this one.
    const endAll = await submit(page, 'Sign out all other sessions');
    assert.equal(endAll.status(), 303);
    assert.equal(await noticeText(page), 'All other sessions were signed out.');
    const rows = await sessionRows(page);
    assert.equal(rows.length, 1);
    assert.equal(rows[0][4], 'This device');
    assert.equal(await page.getByRole('button', { name: 'Sign out all other sessions' }).count(), 0);
    for (const token of [a, b, c]) {
      assert.equal((await api('GET', '/api/v1/me', { token })).status, 401);
    }
    assert.equal(await signedInAs(page), email);
    assertNoProblems(problems);
  });

  test('a form posted from another site is refused', async (t) => {
    const { page, problems } = await newPage(t);
    const email = freshEmail('csrf');
    await signUpInBrowser(page, email);
    const r = await api('POST', '/api/v1/sessions', { body: { email, password: PASSWORD } });
    assert.equal(r.status, 201, r.text);
    const token = r.json.token;

    // A page on another site that posts to Gatehouse (served by the test, never fetched).
    const evil = 'http://evil.example/';
    await page.route(evil, (route) =>
      route.fulfill({
        contentType: 'text/html',
        body: `<!doctype html><title>Win a prize</title>
          <form method="post" action="${BASE}/settings/sessions/end-others">
          <button type="submit">Claim</button></form>`,
      }),
    );
    await page.goto(evil);
    const refused = await submit(page, 'Claim');
    assert.equal(refused.status(), 403);
    assert.equal((await api('GET', '/api/v1/me', { token })).status, 200, 'the cross-site post ended a session');
    // The person sees a page in plain words (not the API's JSON), with a way back.
    assert.match(refused.headers()['content-type'], /^text\/html/);
    assert.equal(await page.locator('h1').textContent(), 'This form came from another site');
    assert.match(await errorText(page), /nothing was changed/);
    assert.equal(await page.getByRole('link', { name: 'Go to the start page' }).count(), 1);

    // The same action from Gatehouse's own page works.
    await page.goto(`${BASE}/settings`);
    const ok = await submit(page, 'Sign out all other sessions');
    assert.equal(ok.status(), 303);
    assert.equal((await api('GET', '/api/v1/me', { token })).status, 401);
    assertNoProblems(problems);
  });

  test('the signup form refuses mismatched passwords and keeps the e-mail', async (t) => {
    const { context, page, problems } = await newPage(t);
    const email = freshEmail('mismatch');

    await page.goto(`${BASE}/signup`);
    await page.getByLabel('E-mail address', { exact: true }).fill(email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Repeat the password', { exact: true }).fill(`${PASSWORD} typo`);
    const r = await submit(page, 'Create account');

    assert.equal(r.status(), 400);
    assert.equal(new URL(page.url()).pathname, '/signup');
    assert.equal(await errorText(page), 'The two passwords are not the same.');
    assert.equal(await page.getByLabel('E-mail address', { exact: true }).inputValue(), email);
    // Passwords are never echoed back into the page.
    assert.equal(await page.getByLabel('Password', { exact: true }).inputValue(), '');
    assert.equal(await page.getByLabel('Repeat the password', { exact: true }).inputValue(), '');
    assert.ok(!(await page.content()).includes(PASSWORD), 'the page contains the typed password');

    // No account and no session came of it.
    const cookies = await context.cookies(BASE);
    assert.equal(cookies.find((c) => c.name === 'gatehouse_session'), undefined);
    const s = await api('POST', '/api/v1/sessions', { body: { email, password: PASSWORD } });
    assert.equal(s.status, 401, s.text);

    // Fixing the repeat on the same page then works.
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Repeat the password', { exact: true }).fill(PASSWORD);
    const ok = await submit(page, 'Create account');
    assert.equal(ok.status(), 303);
    assert.equal(await signedInAs(page), email);
    assertNoProblems(problems);
  });

  // Server-side validation messages on pages name no internal field
  // (the API's "email: …" form stays in the JSON error).
  test('a server-side validation message names no internal field', async (t) => {
    const { page } = await newPage(t);
    await page.goto(`${BASE}/signup`);
    // The browser's own e-mail check accepts a one-label domain; the server does not.
    await page.getByLabel('E-mail address', { exact: true }).fill('someone@localhost');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Repeat the password', { exact: true }).fill(PASSWORD);
    const r = await submit(page, 'Create account');
    assert.equal(r.status(), 400);
    const message = await errorText(page);
    assert.ok(message, 'no error message');
    assert.doesNotMatch(message, /^(email|password|password_confirm):/, `message shown: ${message}`);
    assert.match(message, /^The domain after '@' is not valid/, `message shown: ${message}`);
  });

  test('the signup form will not send a password shorter than the policy', async (t) => {
    const { page } = await newPage(t);
    await page.goto(`${BASE}/signup`);
    await page.getByLabel('E-mail address', { exact: true }).fill(freshEmail('short'));
    await page.getByLabel('Password', { exact: true }).fill('short pw');
    await page.getByLabel('Repeat the password', { exact: true }).fill('short pw');
    let posted = false;
    page.on('request', (r) => {
      if (r.method() === 'POST') posted = true;
    });
    await page.getByRole('button', { name: 'Create account', exact: true }).click();
    await page.waitForTimeout(300);
    assert.equal(posted, false, 'the browser sent a too-short password');
    const tooShort = await page
      .getByLabel('Password', { exact: true })
      .evaluate((el) => el.validity.tooShort);
    assert.equal(tooShort, true);
    assert.match(await page.locator('#password-help').textContent(), /At least 15 characters/);
  });

  test('keyboard: the login form is reachable with Tab in order, and every input is labelled', async (t) => {
    const { page, problems } = await newPage(t);
    const email = freshEmail('keys');
    const made = await api('POST', '/api/v1/accounts', { body: { email, password: PASSWORD } });
    assert.equal(made.status, 201, `POST /api/v1/accounts: ${made.text}`);

    await page.goto(`${BASE}/login`);
    // Walk the page with Tab from the top, recording what gets focus.
    const order = [];
    for (let i = 0; i < 12; i += 1) {
      await page.keyboard.press('Tab');
      const d = await page.evaluate(() => {
        const el = document.activeElement;
        if (!el || el === document.body) return null;
        return { tag: el.tagName.toLowerCase(), id: el.id, text: el.textContent.trim() };
      });
      if (!d) break; // wrapped to the browser's chrome
      const key = d.id ? `#${d.id}` : `${d.tag}:${d.text}`;
      if (order.includes(key)) break;
      order.push(key);
    }
    const i = order.indexOf('#email');
    assert.ok(i >= 0, `Tab never reached the e-mail field: ${order.join(' → ')}`);
    assert.deepEqual(order.slice(i, i + 3), ['#email', '#password', 'button:Sign in'], order.join(' → '));

    // And the form works from the keyboard alone.
    await page.goto(`${BASE}/login`);
    await page.keyboard.press('Tab');
    while ((await page.evaluate(() => document.activeElement?.id)) !== 'email') {
      await page.keyboard.press('Tab');
    }
    await page.keyboard.type(email);
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent.trim()), 'Sign in');
    const nav = page.waitForURL((u) => u.pathname === '/settings');
    await page.keyboard.press('Enter');
    await nav;
    assert.equal(await signedInAs(page), email);

    // Every visible input on each page has a label (label[for]) and that label is
    // its accessible name (so screen readers announce it).
    const expected = {
      '/signup': { email: 'E-mail address', password: 'Password', password_confirm: 'Repeat the password' },
      '/login': { email: 'E-mail address', password: 'Password' },
      '/settings': {
        current_password: 'Current password',
        new_password: 'New password',
        new_password_confirm: 'Repeat the new password',
        end_other_sessions: 'Sign out everywhere else',
      },
    };
    for (const [path, fields] of Object.entries(expected)) {
      await page.goto(`${BASE}${path}`);
      assert.equal(new URL(page.url()).pathname, path);
      const inputs = await page.locator('input:not([type=hidden]), select, textarea').evaluateAll((els) =>
        els.map((el) => ({
          id: el.id,
          name: el.name,
          labels: [...(el.labels ?? [])].map((l) => l.textContent.trim()),
          forMatches: !!el.id && !!document.querySelector(`label[for="${CSS.escape(el.id)}"]`),
        })),
      );
      assert.deepEqual(
        inputs.map((x) => x.name).sort(),
        Object.keys(fields).sort(),
        `${path}: unexpected set of inputs`,
      );
      for (const input of inputs) {
        assert.ok(input.forMatches, `${path}: input ${input.name} has no label[for=${input.id}]`);
        assert.deepEqual(input.labels, [fields[input.name]], `${path}: labels of ${input.name}`);
        // Accessible name, as computed by Chromium's accessibility tree.
        const byLabel = page.getByLabel(fields[input.name], { exact: true });
        assert.equal(await byLabel.count(), 1, `${path}: "${fields[input.name]}" names ${await byLabel.count()} elements`);
        assert.equal(await byLabel.getAttribute('id'), input.id, `${path}: "${fields[input.name]}" names another element`);
      }
      // Buttons have names too.
      const unnamed = await page.locator('button').evaluateAll((bs) =>
        bs.filter((b) => !(b.textContent.trim() || b.getAttribute('aria-label'))).length,
      );
      assert.equal(unnamed, 0, `${path}: buttons without a name`);
    }
    assertNoProblems(problems);
  });

  test('keyboard: focus is visible, and a refused form announces its error tied to the fields', async (t) => {
    const { page, problems } = await newPage(t);
    const email = freshEmail('keyerr');
    const made = await api('POST', '/api/v1/accounts', { body: { email, password: PASSWORD } });
    assert.equal(made.status, 201, `POST /api/v1/accounts: ${made.text}`);

    // Sign in with a wrong password, from the keyboard alone.
    await page.goto(`${BASE}/login`);
    await tabTo(page, 'email');
    assert.ok(await focusVisible(page), 'the focused e-mail field shows a focus outline');
    await page.keyboard.type(email);
    await page.keyboard.press('Tab');
    await page.keyboard.type(WRONG_PASSWORD);
    const posted = page.waitForResponse((r) => r.request().method() === 'POST');
    await page.keyboard.press('Enter');
    assert.equal((await posted).status(), 401);
    await page.waitForLoadState('load');
    await assertErrorTiedTo(page, ['email', 'password']);

    // The same for changing the password with a wrong current one.
    await page.goto(`${BASE}/login`);
    await tabTo(page, 'email');
    await page.keyboard.type(email);
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    const signedIn = page.waitForURL((u) => u.pathname === '/settings');
    await page.keyboard.press('Enter');
    await signedIn;
    await tabTo(page, 'current_password');
    assert.ok(await focusVisible(page), 'the focused password field shows a focus outline');
    await page.keyboard.type(WRONG_PASSWORD);
    await page.keyboard.press('Tab');
    await page.keyboard.type(NEW_PASSWORD);
    await page.keyboard.press('Tab');
    await page.keyboard.type(NEW_PASSWORD);
    // The checkbox, then the button: Space toggles nothing we need, Enter on the button submits.
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'end_other_sessions');
    assert.ok(await focusVisible(page), 'the focused checkbox shows a focus outline');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent.trim()), 'Change password');
    assert.ok(await focusVisible(page), 'the focused button shows a focus outline');
    const changed = page.waitForResponse((r) => r.request().method() === 'POST');
    await page.keyboard.press('Enter');
    assert.ok((await changed).status() >= 400);
    await page.waitForLoadState('load');
    await assertErrorTiedTo(page, ['current_password', 'new_password', 'new_password_confirm']);

    // The sessions table shows times for people, with the machine form in <time>.
    const time = page.locator('table tbody tr').first().locator('time').first();
    assert.match(await time.getAttribute('datetime'), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
    assert.match(await time.textContent(), /^\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} UTC$/);
    assert.match(await page.locator('table tbody tr').first().textContent(), /\((just now|\d+ minutes? ago)\)/);
    assertNoProblems(problems.filter((p) => !/^40[01] /.test(p)));
  });
});

/** Presses Tab until the element with this id has focus (at most 30 times). */
async function tabTo(page, id) {
  for (let i = 0; i < 30; i += 1) {
    await page.keyboard.press('Tab');
    if ((await page.evaluate(() => document.activeElement?.id)) === id) return;
  }
  assert.fail(`Tab never reached #${id}`);
}

/** Presses Tab until the focused element's text is `text` (a link or button; at most 30 times). */
async function tabToText(page, text) {
  for (let i = 0; i < 30; i += 1) {
    await page.keyboard.press('Tab');
    if ((await page.evaluate(() => document.activeElement?.textContent.trim())) === text) return;
  }
  assert.fail(`Tab never reached "${text}"`);
}

/**
 * Walks the page with Tab from the top and returns `n` stops from `first` on
 * (ids as "#id", others as "tag:text").
 */
async function tabOrder(page, first, n) {
  await page.evaluate(() => document.activeElement?.blur());
  const order = [];
  for (let i = 0; i < 30; i += 1) {
    await page.keyboard.press('Tab');
    const key = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      return el.id ? `#${el.id}` : `${el.tagName.toLowerCase()}:${el.textContent.trim()}`;
    });
    if (!key || order.includes(key)) break;
    order.push(key);
  }
  const i = order.indexOf(first);
  assert.ok(i >= 0, `Tab never reached ${first}: ${order.join(' → ')}`);
  return order.slice(i, i + n);
}

/** Tabs to the first field (#email) and types each value, Tab between them. */
async function fillByKeyboard(page, values) {
  await tabTo(page, 'email');
  for (const [i, v] of values.entries()) {
    if (i > 0) await page.keyboard.press('Tab');
    await page.keyboard.type(v);
  }
}

/** Whether the focused element matches :focus-visible and draws an outline. */
async function focusVisible(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || !el.matches(':focus-visible')) return false;
    const s = getComputedStyle(el);
    return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
  });
}

/** The page's error is in role="alert", and each field names it in aria-describedby. */
async function assertErrorTiedTo(page, fieldIds) {
  const alert = page.locator('main [role="alert"]');
  // The answer to the form is a new page: wait for it to be shown.
  await alert.first().waitFor();
  assert.equal(await alert.count(), 1, 'one error, announced');
  const errorId = await alert.getAttribute('id');
  assert.ok(errorId, 'the error has an id the fields can point to');
  for (const id of fieldIds) {
    const field = page.locator(`#${id}`);
    const described = ((await field.getAttribute('aria-describedby')) ?? '').split(/\s+/);
    assert.ok(described.includes(errorId), `#${id} is not described by #${errorId}`);
    assert.equal(await field.getAttribute('aria-invalid'), 'true', `#${id} is marked invalid`);
  }
}

describe('Password recovery and /verify', () => {
  test('keyboard: recovery from request to code to new password, errors announced and tied to their fields', async (t) => {
    const { page, problems } = await newPage(t);
    const email = freshEmail('keyrecover');
    const made = await api('POST', '/api/v1/accounts', { body: { email, password: PASSWORD } });
    assert.equal(made.status, 201, `POST /api/v1/accounts: ${made.text}`);

    // From the sign-in page, by keyboard, to the request form.
    await page.goto(`${BASE}/login`);
    await tabToText(page, 'Forgot your password?');
    assert.ok(await focusVisible(page), 'the focused link shows a focus outline');
    let nav = page.waitForURL((u) => u.pathname === '/recover');
    await page.keyboard.press('Enter');
    await nav;

    // The request form: address, its button, then the way on to the code form.
    assert.deepEqual(await tabOrder(page, '#email', 3), ['#email', 'button:Send me a code', 'a:I already have a code']);

    // An address the server refuses: the error is announced and tied to the field.
    await page.goto(`${BASE}/recover`);
    await tabTo(page, 'email');
    assert.ok(await focusVisible(page), 'the focused e-mail field shows a focus outline');
    await page.keyboard.type('someone@localhost');
    let posted = page.waitForResponse((r) => r.request().method() === 'POST');
    await page.keyboard.press('Enter');
    assert.equal((await posted).status(), 400);
    await page.waitForLoadState('load');
    await assertErrorTiedTo(page, ['email']);
    // The address typed is kept: correct it from the keyboard.
    assert.equal(await page.locator('#email').inputValue(), 'someone@localhost');
    await tabTo(page, 'email');
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type(email);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent.trim()), 'Send me a code');
    assert.ok(await focusVisible(page), 'the focused button shows a focus outline');
    posted = page.waitForResponse((r) => r.request().method() === 'POST');
    await page.keyboard.press('Enter');
    assert.equal((await posted).status(), 202);
    // The answer is a new page at the same address: wait for its notice.
    await page.locator('main [role="status"]').first().waitFor();
    // The answer is announced politely (role="status" is an aria-live region).
    assert.match(await noticeText(page), /^If an account exists for this address/);
    assert.equal(await errorText(page), null);

    const mail = await mailTo(email, /recovery code/);
    const code = mail.text.match(/^\s+([0-9A-Z]{4}-[0-9A-Z]{4})\s*$/m)?.[1];
    assert.ok(code, `no code in: ${mail.text}`);

    // On to the code form by keyboard.
    await tabToText(page, 'I already have a code');
    assert.ok(await focusVisible(page), 'the focused link shows a focus outline');
    nav = page.waitForURL((u) => u.pathname === '/recover/complete');
    await page.keyboard.press('Enter');
    await nav;
    assert.deepEqual(await tabOrder(page, '#email', 5), [
      '#email',
      '#code',
      '#new_password',
      '#new_password_confirm',
      'button:Set the new password',
    ]);

    // A wrong code: one error, tied to the address and the code.
    const wrongCode = code.startsWith('Z') ? 'Y' + code.slice(1) : 'Z' + code.slice(1);
    await page.goto(`${BASE}/recover/complete`);
    await fillByKeyboard(page, [email, wrongCode, NEW_PASSWORD, NEW_PASSWORD]);
    posted = page.waitForResponse((r) => r.request().method() === 'POST');
    await page.keyboard.press('Enter');
    assert.ok((await posted).status() >= 400, 'a wrong code is refused');
    await page.waitForLoadState('load');
    await assertErrorTiedTo(page, ['email', 'code']);
    // The new password is described by its hint, and by nothing wrong.
    assert.equal(await page.locator('#new_password').getAttribute('aria-invalid'), null);

    // New passwords that differ: the error sits at the password fields, the
    // code (not tried) is kept, and the address and code are not marked wrong.
    await page.goto(`${BASE}/recover/complete`);
    await fillByKeyboard(page, [email, code, NEW_PASSWORD, `${NEW_PASSWORD}!`]);
    posted = page.waitForResponse((r) => r.request().method() === 'POST');
    await page.keyboard.press('Enter');
    assert.equal((await posted).status(), 400);
    await page.waitForLoadState('load');
    await assertErrorTiedTo(page, ['new_password', 'new_password_confirm']);
    assert.match(await errorText(page), /not the same/);
    assert.equal(await page.locator('#code').inputValue(), code);
    assert.equal(await page.locator('#email').inputValue(), email);
    assert.equal(await page.locator('#code').getAttribute('aria-invalid'), null);
    // The hint stays tied to the password field next to the error.
    const described = (await page.locator('#new_password').getAttribute('aria-describedby')).split(/\s+/);
    assert.ok(described.includes('pw-hint'), `#new_password is described by ${described}`);

    // Type the passwords again (the page never echoes them) and submit by keyboard.
    await tabTo(page, 'new_password');
    await page.keyboard.type(NEW_PASSWORD);
    await page.keyboard.press('Tab');
    await page.keyboard.type(NEW_PASSWORD);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent.trim()), 'Set the new password');
    assert.ok(await focusVisible(page), 'the focused button shows a focus outline');
    posted = page.waitForResponse((r) => r.request().method() === 'POST');
    await page.keyboard.press('Enter');
    assert.equal((await posted).status(), 303);
    await page.waitForURL((u) => u.pathname === '/login');
    assert.ok(await noticeText(page), 'the sign-in page says the password was changed');

    // The new password signs in, by keyboard.
    await tabTo(page, 'email');
    await page.keyboard.type(email);
    await page.keyboard.press('Tab');
    await page.keyboard.type(NEW_PASSWORD);
    nav = page.waitForURL((u) => u.pathname === '/settings');
    await page.keyboard.press('Enter');
    await nav;
    assert.equal(await signedInAs(page), email);
    assertNoProblems(problems.filter((p) => !/^40[0-9] /.test(p)));
  });

  test('recover a forgotten password with the code from the e-mail, then check its reference', async (t) => {
    const { page, problems } = await newPage(t);
    const email = freshEmail('recover');
    const made = await api('POST', '/api/v1/accounts', { body: { email, password: PASSWORD } });
    assert.equal(made.status, 201, made.text);

    // From the sign-in page to the request form.
    await page.goto(`${BASE}/login`);
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await page.waitForLoadState('load');
    assert.equal(new URL(page.url()).pathname, '/recover');
    assert.equal(await page.title(), 'Recover your password · Gatehouse');
    await page.getByLabel('E-mail address', { exact: true }).fill(email);
    let r = await submit(page, 'Send me a code');
    assert.equal(r.status(), 202);
    assert.match(await noticeText(page), /^If an account exists for this address/);
    await screenshot(page, 'recover');

    // The mail: a code to type, no link, a reference, and why it was sent.
    const mail = await mailTo(email, /recovery code/);
    const code = mail.text.match(/^\s+([0-9A-Z]{4}-[0-9A-Z]{4})\s*$/m)?.[1];
    assert.ok(code, `no code in: ${mail.text}`);
    const reference = mail.text.match(/Reference: (GH-[0-9A-Z]{4}-[0-9A-Z]{4})/)?.[1];
    assert.ok(reference, mail.text);
    assert.doesNotMatch(mail.text, /https?:\/\//, 'no links unless configured');
    assert.match(mail.text, /into your browser/);

    // Typing the code on the site, as the mail says.
    await page.getByRole('link', { name: 'I already have a code' }).click();
    await page.waitForLoadState('load');
    assert.equal(new URL(page.url()).pathname, '/recover/complete');
    await page.getByLabel('E-mail address', { exact: true }).fill(email);
    await page.getByLabel('Code from the e-mail', { exact: true }).fill(code.toLowerCase());
    await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel('New password again', { exact: true }).fill(NEW_PASSWORD);
    await screenshot(page, 'recover-complete');
    r = await submit(page, 'Set the new password');
    assert.equal(r.status(), 303);
    assert.equal(new URL(page.url()).pathname, '/login');
    assert.ok(await noticeText(page), 'the sign-in page says the password was changed');

    // Not signed in automatically; the new password works, the old one does not.
    r = await logInInBrowser(page, email, PASSWORD);
    assert.equal(r.status(), 401);
    r = await logInInBrowser(page, email, NEW_PASSWORD);
    assert.equal(r.status(), 303);
    assert.equal(await signedInAs(page), email);

    // Anyone can check the reference; the answer is masked and holds no action link.
    await page.goto(`${BASE}/verify`);
    await page.getByLabel('Reference', { exact: true }).fill(reference.toLowerCase());
    await page.getByRole('button', { name: 'Check' }).click();
    await page.waitForLoadState('load');
    const result = page.locator('main section[role="status"]');
    assert.match(await result.locator('h2').textContent(), new RegExp(`Yes, we wrote notice ${reference}`));
    const shown = await result.textContent();
    assert.match(shown, /Sent to\s*e\*\*\*@example\.org/);
    assert.ok(!shown.includes(email), 'the address is masked');
    assert.equal(await result.locator('a').count(), 0, 'no links in the answer');
    // When it was written, for people ("3 Dec 2026, 08:18 UTC (just now)"), machine form in <time>.
    const written = result.locator('dt:text-is("Written") + dd');
    assert.match(await written.textContent(), /^\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} UTC \((just now|\d+ minutes? ago)\)$/);
    assert.match(await written.locator('time').getAttribute('datetime'), /^\d{4}-\d{2}-\d{2}T/);
    await screenshot(page, 'verify');

    // A reference Gatehouse never wrote is called out as not ours.
    await page.goto(`${BASE}/verify?reference=GH-0000-0000`);
    assert.match(await page.locator('main section h2').textContent(), /We have no notice with this reference/);

    // And the "password changed" notice arrived too.
    const changed = await mailTo(email, /password was changed/);
    assert.match(changed.text, /password recovery/);
    assertNoProblems(problems.filter((p) => !p.startsWith('401 ')));
  });
});
