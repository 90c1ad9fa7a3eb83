// The harness of Gatehouse's browser tests: settings, a shared headless Chromium,
// and helpers (pages with problem collection, screenshots, form submission, the
// JSON API, mail from the test SMTP server). Imported by every *.test.mjs here.
//
// Run through scripts/e2e.sh, which builds and starts a server and sets:
//   GATEHOUSE_E2E_BASE_URL     the server's origin, e.g. http://127.0.0.1:41234
//   GATEHOUSE_E2E_SCREENSHOTS  where to put full-page screenshots
//                              (default: <repo>/test-output/screenshots)
//   GATEHOUSE_E2E_CHROMIUM     the browser (default /usr/bin/chromium)
//   GATEHOUSE_E2E_MAIL_DIR     where the test SMTP server (Postfix's smtp-sink)
//                              dumps the messages it receives
//   GATEHOUSE_E2E_APP_URL      the example app's origin (crates/example-app),
//                              registered as a third-party client of the server
//
// Each test uses its own browser context (own cookies) and its own account,
// so the tests do not depend on each other's order.
//
// Accessibility: every HTML page a test's browser receives (GET or the answer
// to a form POST, not redirects) is kept, and when the test ends each one is
// checked with axe-core against the WCAG 2.0/2.1/2.2 A and AA rules, in light
// and in dark colour scheme, and for reflow at 320 and 640 CSS px (no sideways
// scrolling); any violation fails the test. The check replays
// the page's HTML as received (at its own URL, with the real style sheet), so
// it sees exactly what the person saw, even for a page the test left at once.
// Results go to test-output/axe-results.jsonl, one line per page checked.

import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { simpleParser } from 'mailparser';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const BASE = (process.env.GATEHOUSE_E2E_BASE_URL ?? '').replace(/\/$/, '');
if (!BASE) {
  throw new Error('GATEHOUSE_E2E_BASE_URL is not set: run the tests with scripts/e2e.sh');
}
export const SHOTS = resolve(
  process.env.GATEHOUSE_E2E_SCREENSHOTS ?? join(here, '..', 'test-output', 'screenshots'),
);
export const MAIL_DIR = process.env.GATEHOUSE_E2E_MAIL_DIR;
// The example app (crates/example-app), signing people in through Gatehouse;
// its pages get the same accessibility check as Gatehouse's.
export const APP = (process.env.GATEHOUSE_E2E_APP_URL ?? '').replace(/\/$/, '');
export const CHROMIUM = process.env.GATEHOUSE_E2E_CHROMIUM ?? '/usr/bin/chromium';
const AXE_RESULTS = join(SHOTS, '..', 'axe-results.jsonl');

// axe-core's browser bundle, injected into each page checked.
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const AXE_VERSION = JSON.parse(
  readFileSync(createRequire(import.meta.url).resolve('axe-core/package.json'), 'utf8'),
).version;
// WCAG 2.x, levels A and AA (2.2 added only AA rules to axe's set, so no wcag22a tag).
export const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

// Flags: no sandbox (root), and no background traffic (closed network).
export const LAUNCH_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

// A password long enough for the default policy (15 characters).
export const PASSWORD = 'correct horse battery staple';
export const NEW_PASSWORD = 'purple elephant umbrella sunrise';
export const WRONG_PASSWORD = 'not the password at all, really';

// The login throttle counts failures per client address, for an hour, in the
// database. So that runs on a reused database (GATEHOUSE_E2E_DATABASE_URL) do not
// add up, and so that sign-ups (limited per network) do not either, each browser
// context poses as its own client: scripts/e2e.sh trusts X-Forwarded-For from
// loopback, and each context's requests carry a random address from the
// benchmarking range 198.18.0.0/15. (Without that trust the header is ignored
// and the client is 127.0.0.1.)
const rnd = (n) => Math.floor(Math.random() * n);
// Always the same length, like the fresh addresses below: pages that
// differ only in these then look alike to the accessibility check's list of pages
// that passed (pageShape), so each is checked once.
export const clientHeaders = () => ({ 'x-forwarded-for': `198.${18 + rnd(2)}.${100 + rnd(156)}.${100 + rnd(155)}` });

/** The browser every test shares (launched in `before`). */
export let browser;
let counter = 0;

/** A fresh address for each account, unique across runs on the same database. */
export function freshEmail(tag) {
  counter += 1;
  const stamp = `${Date.now().toString(36)}${process.pid.toString(36).padStart(5, '0')}${String(counter).padStart(3, '0')}`;
  return `e2e-${tag}-${stamp}@example.org`;
}

/** Each test page's received HTML pages (bodies being read), for the accessibility check. */
const receivedBy = new WeakMap();

/** A new browser context and page; collects console errors (CSP violations show up there). */
export async function newPage(t) {
  const context = await browser.newContext({
    viewport: { width: 1024, height: 768 },
    extraHTTPHeaders: clientHeaders(),
  });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.setDefaultNavigationTimeout(15_000);
  const problems = [];
  page.on('console', (m) => {
    // "Failed to load resource" is a status of 400 or more: judged below, by URL.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) {
      problems.push(`console: ${m.text()}`);
    }
  });
  page.on('response', (r) => {
    // Documents' statuses are asserted by the tests; a failing style sheet is a problem.
    // Chromium asks for /favicon.ico on its own; the pages do not link one.
    const path = new URL(r.url()).pathname;
    if (r.status() >= 400 && !r.request().isNavigationRequest() && path !== '/favicon.ico') {
      problems.push(`${r.status()} for ${r.request().method()} ${path}`);
    }
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  const received = [];
  receivedBy.set(page, received);
  page.on('response', (r) => {
    const req = r.request();
    if (!req.isNavigationRequest() || req.frame() !== page.mainFrame()) return;
    // Only Gatehouse's own pages and the example app's (a test may also visit a
    // page of its own making).
    if (!r.url().startsWith(`${BASE}/`) && !(APP && r.url().startsWith(`${APP}/`))) return;
    if (r.status() >= 300 && r.status() < 400) return;
    if (!(r.headers()['content-type'] ?? '').startsWith('text/html')) return;
    // Read the body now: once the page has moved on the browser may drop it.
    // If it already has (a test that goes on at once), a GET is asked again
    // with the same cookies; a POST's answer cannot be, and fails the check.
    const seen = { url: r.url(), method: req.method(), status: r.status() };
    received.push(
      r.text().then(
        (body) => ({ ...seen, body }),
        (e) =>
          req.method() === 'GET'
            ? context.request.get(r.url(), { maxRedirects: 0 }).then(
                async (again) => ({ ...seen, status: again.status(), body: await again.text() }),
                (e2) => ({ ...seen, error: `${e.message}; asked again: ${e2.message}` }),
              )
            : { ...seen, error: e.message },
      ),
    );
  });
  t.after(async () => {
    try {
      await assertAccessible(await Promise.all(received));
    } finally {
      await context.close();
    }
  });
  return { context, page, problems };
}

/**
 * Runs axe-core on each received page (each distinct body once), in light and
 * dark colour scheme, and fails listing every WCAG A/AA violation.
 */
async function assertAccessible(pages) {
  const seen = new Set();
  const failures = [];
  const context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
  try {
    for (const p of pages) {
      const where = `${p.method} ${new URL(p.url).pathname}${new URL(p.url).search} (${p.status})`;
      if (p.error) {
        failures.push(`${where}: the page could not be read to check it: ${p.error}`);
        continue;
      }
      const key = createHash('sha256').update(p.url).update('\0').update(p.body).digest('hex');
      if (seen.has(key)) continue;
      seen.add(key);
      const shape = pageShape(p);
      if (passedBefore().has(shape)) {
        appendFileSync(AXE_RESULTS, `${JSON.stringify({ page: where, passedBefore: true })}\n`);
        continue;
      }
      const failed = failures.length;
      // WCAG 1.4.10 (reflow): at 320 CSS px (1280 px at 400 %) and 640 (1280 px
      // at 200 %) the page scrolls only vertically; a data table may scroll
      // inside its own box (.table-wrap), which 1.4.10 allows.
      for (const width of [320, 640]) {
        const overflow = await horizontalOverflow(context, p, width);
        if (overflow) failures.push(`${where} [${width} px wide]: ${overflow}`);
      }
      for (const colorScheme of ['light', 'dark']) {
        const violations = await axeViolations(context, p, colorScheme);
        mkdirSync(dirname(AXE_RESULTS), { recursive: true });
        appendFileSync(
          AXE_RESULTS,
          `${JSON.stringify({ page: where, colorScheme, violations: violations.map((v) => v.id) })}\n`,
        );
        for (const v of violations) {
          const nodes = v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ');
          failures.push(`${where} [${colorScheme}]: ${v.id} (${v.impact}): ${v.help} — at ${nodes}`);
        }
      }
      if (failures.length === failed) rememberPassed(shape);
    }
  } finally {
    await context.close();
  }
  assert.deepEqual(failures, [], 'axe-core found WCAG 2.x A/AA violations');
}

// Pages that passed every check earlier in this run (AXE_PASSED: one key a line).
// The same page comes back in many tests (the sign-in form, settings after
// sign-up …) differing only in what is random per request; checking it again
// costs four page loads and finds nothing new. scripts/e2e.sh empties the file
// at the start of a run unless the caller shares one between runs
// (scripts/test.sh does, for its SQLite and PostgreSQL runs: one binary, one
// style sheet). A page that failed is not remembered, so it fails again.
const AXE_PASSED =
  process.env.GATEHOUSE_E2E_AXE_PASSED ?? join(SHOTS, '..', 'axe-passed.txt');
let passed;
function passedBefore() {
  if (!passed) {
    let text = '';
    try {
      text = readFileSync(AXE_PASSED, 'utf8');
    } catch (e) {
      if (e.code !== 'ENOENT') throw e;
    }
    passed = new Set(text.split('\n').filter(Boolean));
  }
  return passed;
}
function rememberPassed(shape) {
  passedBefore().add(shape);
  appendFileSync(AXE_PASSED, `${shape}\n`);
}

/**
 * A page as the checks see it: its URL and HTML with what is random per request
 * or per test blanked. Hidden inputs' values (CSRF and form tokens) and <time>'s
 * machine-readable datetime are not rendered: emptied. The tests' fresh
 * addresses and ids (UUIDs, long tokens) become as many x's, and every digit
 * (times, client addresses, counts) a 0, so the layout the reflow check
 * measures is the same.
 */
function pageShape(p) {
  const same = (m) => m.replace(/[A-Za-z0-9]/g, 'x');
  const blank = (s) =>
    s
      .replace(/(<input\b[^>]*\btype="hidden"[^>]*\bvalue=")[^"]*"/g, '$1"')
      .replace(/(<time datetime=")[^"]*"/g, '$1"')
      .replace(/e2e-[a-z0-9-]+@example\.org/g, same)
      .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g, same)
      .replace(/[A-Za-z0-9_-]{20,}/g, same)
      .replace(/[0-9]/g, '0');
  return createHash('sha256')
    .update(`${AXE_VERSION} ${WCAG_TAGS.join(',')}\0${p.method} ${p.status} ${blank(p.url)}\0`)
    .update(blank(p.body))
    .digest('hex');
}

/** The page's HTML served again at its own URL, with the real style sheet. */
async function replay(context, p) {
  const page = await context.newPage();
  await page.route('**/*', (route) =>
    route.request().url() === p.url && route.request().isNavigationRequest()
      ? route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: p.body })
      : route.continue(),
  );
  await page.goto(p.url);
  return page;
}

/** What sticks out sideways at this viewport width, or null when the page fits. */
async function horizontalOverflow(context, p, width) {
  const page = await replay(context, p);
  try {
    await page.setViewportSize({ width, height: 800 });
    return await page.evaluate(() => {
      const doc = document.documentElement;
      if (doc.scrollWidth <= doc.clientWidth + 1) return null;
      // The culprits: elements outside any scrolling box that stick out, or
      // whose text does (a long word in a heading widens the page, not the heading).
      const inScroller = (el) => {
        for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
          if (getComputedStyle(a).overflowX !== 'visible') return true;
        }
        return false;
      };
      const wide = [...document.body.querySelectorAll('*')]
        .filter((el) => !inScroller(el))
        .filter(
          (el) =>
            el.getBoundingClientRect().right > doc.clientWidth + 1 ||
            (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1),
        )
        .slice(-3)
        .map((el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.className ? `.${[...el.classList].join('.')}` : ''}`);
      return `the page is ${doc.scrollWidth} px wide in a ${doc.clientWidth} px window (${wide.join(', ')})`;
    });
  } finally {
    await page.close();
  }
}

/** The page's HTML served again at its own URL (the style sheet from the server), checked by axe. */
async function axeViolations(context, p, colorScheme) {
  const page = await replay(context, p);
  try {
    await page.emulateMedia({ colorScheme });
    await page.addScriptTag({ content: AXE_SOURCE });
    const result = await page.evaluate(
      (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] }),
      WCAG_TAGS,
    );
    return result.violations;
  } finally {
    await page.close();
  }
}

/** Fails if the browser logged errors (CSP violations, script errors) or a sub-resource failed. */
export function assertNoProblems(problems) {
  assert.deepEqual(problems, [], 'the browser reported problems');
}

export async function screenshot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  // The same page on a 1280 px screen, on a phone (375 px) in dark mode, and on a 1280 px screen
  // zoomed to 200 % (640 CSS px at twice the pixel density), for people to look at;
  // that nothing is lost at those widths is asserted by the accessibility check.
  const viewport = page.viewportSize();
  try {
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.screenshot({ path: join(SHOTS, `${name}-1280.png`), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.setViewportSize({ width: 375, height: 812 });
    await page.screenshot({ path: join(SHOTS, `${name}-375-dark.png`), fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 640, height: 400 });
    await page.screenshot({ path: join(SHOTS, `${name}-1280-zoom200.png`), fullPage: true });
  } finally {
    await page.emulateMedia({ colorScheme: null });
    await page.setViewportSize(viewport);
  }
}

/**
 * Clicks a submit button (given by its exact accessible name, or as a locator)
 * and waits for the POST's response and the page it leads to. Returns the
 * POST's response (before any redirect).
 */
export async function submit(page, button) {
  const response = page.waitForResponse(
    (r) => r.request().method() === 'POST' && r.request().isNavigationRequest(),
  );
  const target = typeof button === 'string' ? page.getByRole('button', { name: button, exact: true }) : button;
  await target.click();
  const r = await response;
  await page.waitForLoadState('load');
  // Keep the answer's HTML for the accessibility check before the test moves on
  // (a POST's answer cannot be asked for again).
  await Promise.all(receivedBy.get(page) ?? []);
  return r;
}

export async function api(method, path, { body, token } = {}) {
  const headers = clientHeaders();
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(`${BASE}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: r.status, json, text };
}

export async function signUpInBrowser(page, email, password = PASSWORD) {
  await page.goto(`${BASE}/signup`);
  await page.getByLabel('E-mail address', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByLabel('Repeat the password', { exact: true }).fill(password);
  const r = await submit(page, 'Create account');
  assert.equal(r.status(), 303, `POST /signup answered ${r.status()}: ${await r.text().catch(() => '')}`);
  assert.equal(new URL(page.url()).pathname, '/settings');
}

export async function logInInBrowser(page, email, password) {
  await page.goto(`${BASE}/login`);
  await page.getByLabel('E-mail address', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  return submit(page, 'Sign in');
}

export async function signedInAs(page) {
  const p = page.locator('main p', { hasText: 'Signed in as' });
  return (await p.locator('strong').textContent())?.trim();
}

export async function noticeText(page) {
  const n = page.locator('main [role="status"]');
  return (await n.count()) ? (await n.first().textContent()).trim() : null;
}

export async function errorText(page) {
  const e = page.locator('main [role="alert"]');
  return (await e.count()) ? (await e.first().textContent()).trim() : null;
}

/** The rows of the sessions table, as [device, address, signed in, last active, action] texts. */
export async function sessionRows(page) {
  return page
    .locator('table tbody tr')
    .evaluateAll((rows) => rows.map((r) => [...r.cells].map((c) => c.textContent.trim())));
}

/**
 * The newest message the SMTP server received for `to` whose subject matches,
 * parsed; waits up to 30 s. smtp-sink writes one file per message, headed by
 * X-Rcpt-Args with the envelope recipient.
 */
export async function mailTo(to, subject) {
  assert.ok(MAIL_DIR, 'GATEHOUSE_E2E_MAIL_DIR is not set: run the tests with scripts/e2e.sh');
  const deadline = Date.now() + 30_000;
  for (;;) {
    for (const name of readdirSync(MAIL_DIR).sort().reverse()) {
      const raw = readFileSync(join(MAIL_DIR, name));
      if (!raw.includes(`X-Rcpt-Args: <${to}>`)) continue;
      const mail = await simpleParser(raw);
      // A file still being written has no complete text part yet.
      if (subject.test(mail.subject ?? '') && /Reference: GH-/.test(mail.text ?? '')) return mail;
    }
    assert.ok(Date.now() < deadline, `no mail to ${to} matching ${subject} within 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
  const h = await api('GET', '/healthz');
  assert.equal(h.status, 200, `the server at ${BASE} is not healthy: ${h.text}`);
});

after(async () => {
  await browser?.close();
});

