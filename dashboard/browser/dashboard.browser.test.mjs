// Browser tests of the dashboard: Debian's chromium driven by playwright-core
// against a real `actlog serve` (ACTLOG_BIN, else built from this
// repository) whose store is first filled by `actlog loadgen --to-store`.
// Every page is opened signed in through the cookie session; the figures it
// shows are compared with the API's answer to the same request, asked with
// the Bearer token; no page may log a console error or throw. A full-page
// screenshot of each page is saved to browser/artifacts/<page>.png.
// Run with `npm test` (or `make test-browser`).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { chromium } from 'playwright-core';

const root = new URL('../../', import.meta.url).pathname;
const artifacts = new URL('artifacts/', import.meta.url).pathname;
const launch = {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic'],
};
const token = 'dashboard-test-token';
const writeKey = 'wk_dashboard_test';
let dir, server, base, browser;

// The range every page is opened with: the 14 days loadgen filled, in whole
// UTC days up to the end of today.
const day = 86400000;
const toTime = new Date(Math.ceil(Date.now() / day) * day);
const fromTime = new Date(toTime - 15 * day);
const rfc = (d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const range = { from: rfc(fromTime), to: rfc(toTime) };
const rangeQuery = `from=${range.from}&to=${range.to}`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const freePort = () => new Promise((resolve, reject) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  s.on('error', reject);
});

// api asks actlog with the admin token: a GET without body, else a POST.
async function api(path, body) {
  const r = await fetch(base + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const j = await r.json();
  if (!r.ok) throw new Error(`${path}: ${r.status} ${j.error}`);
  return j;
}

// The numbers and percentages as the page writes them (English).
const fmtNum = (n) => new Intl.NumberFormat('en').format(n);
const fmtPct = (x) => new Intl.NumberFormat('en', { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(x);

// column reads the cells of column i of the table marked data-table=name.
const column = (page, name, i) => page.$$eval(`[data-table="${name}"] tbody tr`, (rows, i) => rows.map((r) => r.cells[i].textContent.trim()), i);
const kpi = (page, key) => page.textContent(`[data-kpi="${key}"] .kpi-value`).then((s) => s.trim());

// open gives a page signed in through the cookie session (as the sign-in
// form does), with its console errors and uncaught exceptions collected.
async function open(path, { lang = 'en' } = {}) {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'en-US', acceptDownloads: true });
  await context.addInitScript((l) => { if (!localStorage.getItem('actlog.lang')) localStorage.setItem('actlog.lang', l); }, lang);
  const r = await context.request.post(base + '/api/v1/session', { data: { token } });
  assert.equal(r.status(), 204);
  const page = await context.newPage();
  const errors = watch(page);
  if (path) await page.goto(base + path);
  return { page, errors, context };
}

function watch(page) {
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push('uncaught: ' + e.message));
  return errors;
}

// answerOf waits for the page's request to endpoint and asks the API the
// same body with the Bearer token: the figures to expect.
async function answerOf(page, endpoint, action) {
  const [req] = await Promise.all([page.waitForRequest((r) => r.url().endsWith(endpoint) && r.method() === 'POST'), action()]);
  const body = req.postDataJSON();
  return { body, answer: await api(endpoint, body) };
}

async function done({ page, errors, context }, name) {
  await sleep(1200); // charts draw in (a Sankey takes about a second)
  await page.screenshot({ path: join(artifacts, name + '.png'), fullPage: true });
  assert.deepEqual(errors, [], `console errors on ${name}`);
  await context.close();
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'actlog-dashboard-'));
  mkdirSync(artifacts, { recursive: true });
  // The binary embeds the dashboard as last built (npm run build).
  let bin = process.env.ACTLOG_BIN || join(root, 'bin/actlog');
  if (!existsSync(bin)) {
    bin = join(dir, 'actlog');
    execFileSync('go', ['build', '-o', bin, './cmd/actlog'], { cwd: root, stdio: 'inherit' });
  }
  const data = join(dir, 'data');
  execFileSync(bin, ['loadgen', '--to-store', data, '--events', '50000', '--days', '14', '--seed', '7', '--quiet'], { stdio: 'ignore' });
  const cfg = join(dir, 'actlog.yaml');
  // A tracking plan that flags web's purchases without a valid plan.
  const plan = join(dir, 'plan.yaml');
  writeFileSync(plan, 'enforcement:\n  default: flag\nevents:\n  - name: plan_purchase\n    properties:\n      type: object\n' +
    '      required: [plan]\n      properties:\n        plan: {type: string, enum: [monthly, yearly]}\n');
  writeFileSync(cfg, `admin_token: ${token}\nsources:\n  - name: web\n    write_key: ${writeKey}\ntracking_plan:\n  file: ${plan}\n`);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(bin, ['serve', '--config', cfg, '--listen', `127.0.0.1:${port}`, '--data-dir', data, '--log-level', 'warn'], { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    try { if ((await fetch(base + '/readyz')).ok) break; } catch { /* not yet */ }
    if (i > 300) throw new Error('actlog serve did not start');
    await sleep(100);
  }
  // A few refused events for the data quality page: one without an event
  // name, two with a negative seq.
  const bad = [
    { type: 'track', anonymousId: 'bad-1', messageId: 'bad-1' },
    { type: 'track', event: 'x', anonymousId: 'bad-2', messageId: 'bad-2', context: { seq: -1 } },
    { type: 'track', event: 'x', anonymousId: 'bad-3', messageId: 'bad-3', context: { seq: -2 } },
    // Stored, flagged by the tracking plan: a wrong plan, a missing one.
    { type: 'track', event: 'plan_purchase', anonymousId: 'flag-1', messageId: 'flag-1', properties: { plan: 'daily' } },
    { type: 'track', event: 'plan_purchase', anonymousId: 'flag-2', messageId: 'flag-2', properties: {} },
  ];
  await fetch(base + '/v1/batch', {
    method: 'POST',
    headers: { Authorization: 'Basic ' + Buffer.from(writeKey + ':').toString('base64'), 'Content-Type': 'application/json' },
    body: JSON.stringify({ batch: bad }),
  });
  browser = await chromium.launch(launch);
});

after(async () => {
  if (browser) await browser.close();
  if (server) server.kill('SIGTERM');
  await sleep(300);
  rmSync(dir, { recursive: true, force: true });
});

test('sign-in: a wrong token is refused, the right one opens Overview, sign-out ends the session', async () => {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'en-US' });
  const page = await context.newPage();
  const errors = watch(page);
  await page.goto(base + '/funnels');
  await page.waitForSelector('form.signin');
  assert.match(page.url(), /\/signin\?next=%2Ffunnels$/);
  await page.screenshot({ path: join(artifacts, 'signin.png'), fullPage: true });
  await page.fill('#token', 'not-the-token');
  await page.click('form.signin button[type=submit]');
  await page.waitForSelector('.form-error:not(:empty)');
  assert.match(await page.textContent('.form-error'), /wrong admin token/);

  await page.fill('#token', token);
  await page.click('form.signin button[type=submit]');
  await page.waitForSelector('nav.side a[aria-current=page]');
  assert.equal(new URL(page.url()).pathname, '/funnels', 'back to the page asked for');
  await page.click('nav.side >> text=Overview');
  await page.waitForSelector('[data-kpi=events]');
  assert.equal(new URL(page.url()).pathname, '/');
  assert.equal(await page.evaluate(() => document.cookie), '', 'the session cookie is HttpOnly');
  assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing stored');

  await page.click('button.signout');
  await page.waitForSelector('form.signin');
  assert.equal(new URL(page.url()).pathname, '/signin');
  const status = await page.evaluate(() => fetch('/api/v1/overview', { headers: { 'X-Actlog': '1' } }).then((r) => r.status));
  assert.equal(status, 401);
  // The browser reports the refused requests (the session check at first,
  // the wrong token, the call after sign-out); nothing else may be logged.
  assert.deepEqual(errors.filter((e) => !/status of 401/.test(e)), []);
  await context.close();
});

test('overview: figures and top lists are the API\'s', async () => {
  const s = await open(`/?${rangeQuery}`);
  await s.page.waitForSelector('[data-table=top-events] tbody tr');
  const want = await api(`/api/v1/overview?from=${range.from}&to=${range.to}`);
  assert.ok(want.events > 0);
  assert.equal(await kpi(s.page, 'events'), fmtNum(want.events));
  assert.equal(await kpi(s.page, 'members'), fmtNum(want.members));
  assert.equal(await kpi(s.page, 'rejected'), fmtNum(want.rejected));
  assert.deepEqual(await column(s.page, 'top-events', 0), want.top_events.map((e) => e.value));
  assert.deepEqual(await column(s.page, 'top-events', 1), want.top_events.map((e) => fmtNum(e.count)));
  assert.deepEqual(await column(s.page, 'top-pages', 1), want.top_pages.map((e) => fmtNum(e.count)));
  assert.ok(await s.page.$('.chart canvas'), 'the per-minute chart is drawn');
  await done(s, 'overview');
});

test('an empty range says so', async () => {
  const s = await open('/attribution?from=2001-01-01T00:00:00Z&to=2001-01-02T00:00:00Z');
  await s.page.waitForSelector('.state.empty');
  assert.equal((await s.page.textContent('.state.empty')).trim(), 'No events in this range');
  await done(s, 'empty');
});

test('live events: an event sent while the page is open appears, and opens its fields', async () => {
  const s = await open('/live');
  await s.page.waitForSelector('.status.ok');
  const id = 'live-check-' + Date.now();
  const r = await fetch(base + '/v1/track', {
    method: 'POST',
    headers: { Authorization: 'Basic ' + Buffer.from(writeKey + ':').toString('base64'), 'Content-Type': 'application/json' },
    body: JSON.stringify({ type: 'track', event: 'dashboard_live_check', anonymousId: id, properties: { section: 'feed', n: 1 } }),
  });
  assert.ok(r.ok);
  const row = s.page.locator('.live-row', { hasText: 'dashboard_live_check' });
  await row.waitFor({ timeout: 10000 });
  assert.match(await row.textContent(), new RegExp(id));
  await row.click();
  const details = JSON.parse(await s.page.textContent('.live-panel pre'));
  assert.equal(details.event, 'dashboard_live_check');
  assert.equal(details.anonymous_id, id);
  assert.equal(details.section, 'feed');
  await done(s, 'live');
});

test('journey: the timeline holds every event of the member', async () => {
  const { rows } = await api('/api/v1/sql', {
    sql: `SELECT user_id FROM events WHERE user_id IS NOT NULL AND ts >= '${range.from}' AND ts < '${range.to}'
          GROUP BY 1 HAVING count(DISTINCT session_id) > 1 ORDER BY count(*) DESC, 1 LIMIT 1`,
  });
  const member = rows[0][0];
  const s = await open(`/journey?id=${encodeURIComponent(member)}&${rangeQuery}`);
  await s.page.waitForSelector('.timeline');
  const want = await api(`/api/v1/users/${encodeURIComponent(member)}/journey?from=${range.from}&to=${range.to}`);
  assert.ok(want.events.length > 0);
  assert.equal(await kpi(s.page, 'events'), fmtNum(want.events.length));
  assert.equal(await s.page.locator('.timeline .step').count(), want.events.length);
  const sessions = new Set(want.events.map((e) => e.session_id));
  assert.equal(await s.page.locator('.timeline .session').count(), sessions.size);
  assert.equal(await kpi(s.page, 'sessions'), fmtNum(sessions.size));
  await done(s, 'journey');
});

test('funnels: built from the dropdowns with a filter, run, saved, reopened after a reload, renamed and deleted', async () => {
  const s = await open(`/funnels?${rangeQuery}`);
  const { page } = s;
  await page.waitForSelector('.step-event');
  await page.selectOption('select[aria-label="Step 1 event"]', 'page_view');
  await page.click('.step-edit:nth-child(1) >> text=+ Filter');
  await page.selectOption('.step-edit:nth-child(1) select[aria-label=Field]', 'page_path');
  await page.selectOption('.step-edit:nth-child(1) select[aria-label=Operator]', 'eq');
  await page.fill('.step-edit:nth-child(1) input[aria-label=Value]', '/event/summer');
  await page.selectOption('select[aria-label="Step 2 event"]', 'subscribe_click');
  await page.click('text=+ Add step');
  await page.selectOption('select[aria-label="Step 3 event"]', 'payment_success');
  await page.selectOption('label:has-text("Breakdown") select', 'utm_source');

  const { body, answer } = await answerOf(page, '/api/v1/funnel', () => page.click('button.primary:has-text("Run")'));
  assert.deepEqual(body, {
    ...range,
    steps: [{ event: 'page_view', where: [{ field: 'page_path', op: 'eq', value: '/event/summer' }] }, { event: 'subscribe_click' }, { event: 'payment_success' }],
    window_seconds: 86400, by: 'user', breakdown: 'utm_source',
  });
  await page.waitForSelector('[data-table=funnel-steps]');
  assert.ok(answer.steps[0].actors > 0);
  const actors = answer.steps.map((x) => fmtNum(x.actors));
  assert.deepEqual(await column(page, 'funnel-steps', 2), actors);
  assert.deepEqual(await column(page, 'funnel-steps', 3), answer.steps.map((x) => fmtPct(x.conversion_from_start)));
  assert.deepEqual(await column(page, 'funnel-breakdown', 1), answer.breakdown.map((b) => fmtNum(b.steps[0].actors)));
  assert.ok(await page.$('.chart canvas'), 'the funnel chart is drawn');
  await page.screenshot({ path: join(artifacts, 'funnels.png'), fullPage: true });

  // Save it, reload the page without the builder in the URL, reopen it.
  const name = 'Summer campaign ' + Date.now();
  await page.getByLabel('Funnel name').fill(name);
  await page.click('.save-form button[type=submit]');
  await page.waitForSelector(`.saved-open:has-text("${name}")`);
  await page.goto(`${base}/funnels?${rangeQuery}`);
  await page.waitForSelector(`.saved-open:has-text("${name}")`);
  const again = await answerOf(page, '/api/v1/funnel', () => page.click(`.saved-open:has-text("${name}")`));
  assert.deepEqual(again.body, body);
  await page.waitForSelector('[data-table=funnel-steps]');
  assert.deepEqual(await column(page, 'funnel-steps', 2), actors);
  assert.equal(await page.inputValue('select[aria-label="Step 3 event"]'), 'payment_success');
  assert.match(page.url(), /saved=/);

  // Rename, then delete (which asks for a second click).
  const li = page.locator('.saved-list li', { hasText: name });
  await li.locator('text=Rename').click();
  await page.fill('.rename input', name + ' (renamed)');
  await page.click('.rename button[type=submit]');
  await page.waitForSelector(`.saved-open:has-text("${name} (renamed)")`);
  const saved = await api('/api/v1/saved/funnels');
  assert.ok(saved.funnels.some((f) => f.name === name + ' (renamed)'));
  const renamed = page.locator('.saved-list li', { hasText: name + ' (renamed)' });
  await renamed.locator('button:has-text("Delete")').click();
  await renamed.locator('button:has-text("Click again to delete")').click();
  await page.waitForSelector(`.saved-open:has-text("${name}")`, { state: 'detached' });
  assert.ok(!(await api('/api/v1/saved/funnels')).funnels.some((f) => f.name.startsWith(name)));
  assert.deepEqual(s.errors, []);
  await s.context.close();
});

test('paths: the Sankey and its nodes are the API\'s', async () => {
  const s = await open();
  const { body, answer } = await answerOf(s.page, '/api/v1/paths', () => s.page.goto(`${base}/paths?${rangeQuery}`));
  await s.page.waitForSelector('[data-table=path-nodes]', { state: 'attached' });
  assert.equal(body.start.event, 'page_view');
  assert.equal(await kpi(s.page, 'sessions'), fmtNum(answer.sessions));
  const nodes = [...answer.nodes].sort((a, b) => a.step - b.step || b.sessions - a.sessions);
  assert.deepEqual(await column(s.page, 'path-nodes', 2), nodes.map((n) => fmtNum(n.sessions)));
  assert.ok(await s.page.$('.chart canvas'));
  await done(s, 'paths');
});

test('attribution: conversions per touch are the API\'s', async () => {
  const s = await open();
  const { body, answer } = await answerOf(s.page, '/api/v1/attribution', () => s.page.goto(`${base}/attribution?${rangeQuery}`));
  await s.page.waitForSelector('[data-table=attribution]');
  assert.deepEqual([body.conversion.event, body.touch, body.model], ['payment_success', 'banner', 'last']);
  assert.ok(answer.conversions > 0);
  assert.equal(await kpi(s.page, 'conversions'), fmtNum(answer.conversions));
  assert.equal(await kpi(s.page, 'unattributed'), fmtNum(answer.unattributed));
  assert.deepEqual(await column(s.page, 'attribution', 1), answer.rows.map((r) => r.touch));
  assert.deepEqual(await column(s.page, 'attribution', 3), answer.rows.map((r) => fmtNum(r.conversions)));
  assert.deepEqual(await column(s.page, 'attribution', 4), answer.rows.map((r) => fmtPct(r.conversion_rate)));
  await done(s, 'attribution');
});

test('dwell: views per page are the API\'s, with the distribution chart', async () => {
  const s = await open();
  const { answer } = await answerOf(s.page, '/api/v1/dwell', () => s.page.goto(`${base}/dwell?${rangeQuery}`));
  await s.page.waitForSelector('[data-table=dwell]');
  assert.ok(answer.rows.length > 0);
  assert.deepEqual(await column(s.page, 'dwell', 0), answer.rows.map((r) => r.key));
  assert.deepEqual(await column(s.page, 'dwell', 1), answer.rows.map((r) => fmtNum(r.views)));
  assert.ok(await s.page.$('.chart canvas'), 'the distribution chart is drawn');
  await done(s, 'dwell');
});

test('drop-off: reached, converted and the shares of last events are the API\'s', async () => {
  const s = await open();
  const { body, answer } = await answerOf(s.page, '/api/v1/dropoff', () => s.page.goto(`${base}/dropoff?${rangeQuery}`));
  await s.page.waitForSelector('[data-table=dropoff]');
  assert.deepEqual(body.page, { event: 'page_view', where: [{ field: 'page_path', op: 'eq', value: '/payment' }] });
  assert.deepEqual(body.conversion, { event: 'payment_success' });
  assert.ok(answer.reached > 0);
  assert.equal(await kpi(s.page, 'reached'), fmtNum(answer.reached));
  assert.equal(await kpi(s.page, 'converted'), fmtNum(answer.converted));
  assert.equal(await kpi(s.page, 'dropped'), fmtNum(answer.dropped));
  assert.deepEqual(await column(s.page, 'dropoff', 0), answer.rows.map((r) => r.event));
  assert.deepEqual(await column(s.page, 'dropoff', 3), answer.rows.map((r) => fmtPct(r.share)));
  await done(s, 'dropoff');
});

test('retention: cohort sizes and rates are the API\'s; future periods are blank', async () => {
  const s = await open();
  const { answer } = await answerOf(s.page, '/api/v1/retention', () => s.page.goto(`${base}/retention?${rangeQuery}`));
  await s.page.waitForSelector('[data-table=retention]');
  assert.ok(answer.cohorts.length > 0);
  const rows = await s.page.$$eval('[data-table=retention] tbody tr:not(.mean)', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent.trim())));
  assert.deepEqual(rows.map((r) => r[1]), answer.cohorts.map((c) => fmtNum(c.actors)));
  assert.deepEqual(rows.map((r) => r.slice(2)), answer.cohorts.map((c) => c.rates.map((x) => (x == null ? '' : fmtPct(x)))));
  await done(s, 'retention');
});

test('data quality: rejected events by reason are the API\'s, with their samples', async () => {
  const s = await open(`/quality?${rangeQuery}`);
  await s.page.waitForSelector('[data-table=rejected]');
  const want = await api(`/api/v1/rejected?from=${range.from}&to=${range.to}`);
  assert.equal(want.total, 3);
  assert.equal(await kpi(s.page, 'rejected'), fmtNum(want.total));
  const counts = await s.page.$$eval('[data-table=rejected] summary .count', (els) => els.map((e) => e.textContent.trim()));
  assert.deepEqual(counts, want.reasons.map((r) => fmtNum(r.count)));
  await s.page.click('[data-table=rejected] summary');
  const sample = JSON.parse(await s.page.textContent('[data-table=rejected] details[open] pre'));
  assert.ok(sample.anonymousId.startsWith('bad-'));
  // The tracking plan's violations are the API's.
  const plan = await api(`/api/v1/plan/violations?from=${range.from}&to=${range.to}`);
  assert.equal(plan.flagged_events, 2);
  assert.equal(await kpi(s.page, 'flagged'), fmtNum(plan.flagged_events));
  const rows = await s.page.$$eval('[data-table=violations] tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent.trim())));
  assert.deepEqual(rows.map((r) => r.slice(0, 4)), plan.rules.map((x) => [x.event, x.rule, x.path || '—', fmtNum(x.flagged)]));
  assert.deepEqual(rows.map((r) => r[1]).sort(), ['enum', 'required']);
  await done(s, 'quality');
});

test('SQL: a query runs with Ctrl+Enter, its rows download as CSV, an error shows the API\'s message', async () => {
  const s = await open('/sql');
  const { page } = s;
  const q = `SELECT event, count(*) AS "n, events", 'say "hi"' AS quote FROM events GROUP BY 1 ORDER BY 2 DESC, 1`;
  await page.fill('#sql', q);
  await page.press('#sql', 'Control+Enter');
  await page.waitForSelector('[data-table=sql]');
  const want = await api('/api/v1/sql', { sql: q });
  assert.equal(await page.getAttribute('.sql-meta', 'data-rows'), String(want.rows.length));
  assert.deepEqual(await column(page, 'sql', 1), want.rows.map((r) => String(r[1])));

  const [download] = await Promise.all([page.waitForEvent('download'), page.click('text=Download CSV')]);
  assert.equal(download.suggestedFilename(), 'actlog-query.csv');
  const text = readFileSync(await download.path(), 'utf8').replace(/^\ufeff/, '');
  const lines = text.split('\r\n').filter(Boolean);
  assert.equal(lines[0], 'event,"n, events",quote');
  assert.equal(lines.length, want.rows.length + 1);
  assert.equal(lines[1], `${want.rows[0][0]},${want.rows[0][1]},"say ""hi"""`);
  await page.screenshot({ path: join(artifacts, 'sql.png'), fullPage: true });

  await page.fill('#sql', 'DELETE FROM events');
  await page.click('button.primary:has-text("Run")');
  await page.waitForSelector('.state.error');
  assert.match(await page.textContent('.state.error'), /only SELECT statements are allowed/);
  // The refused query is a 400 the browser reports; nothing else may be logged.
  assert.deepEqual(s.errors.filter((e) => !/status of 400/.test(e)), []);
  await s.context.close();
});

test('Korean: the switch changes the navigation and <html lang>, and is remembered', async () => {
  const s = await open(`/?${rangeQuery}`);
  await s.page.waitForSelector('[data-kpi=events]');
  assert.equal(await s.page.textContent('nav.side a[href="/funnels"]'), 'Funnels');
  await s.page.selectOption('select.lang', 'ko');
  await s.page.waitForSelector('nav.side a[href="/funnels"]:has-text("퍼널")');
  assert.equal(await s.page.getAttribute('html', 'lang'), 'ko');
  assert.equal(await s.page.evaluate(() => localStorage.getItem('actlog.lang')), 'ko');
  await s.page.waitForSelector('[data-kpi=events]');
  assert.equal(await s.page.textContent('[data-kpi=events] .kpi-label'), '이벤트');
  await s.page.reload();
  await s.page.waitForSelector('nav.side a[href="/retention"]:has-text("리텐션")');
  await s.page.waitForSelector('[data-kpi=events]');
  await done(s, 'overview-ko');
});
