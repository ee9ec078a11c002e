// Browser tests of actlog.js: Debian's chromium driven by playwright-core
// against a real `actlog serve --demo` (built from this repository), checked
// through the SQL API. Run with `make test-browser` (needs /usr/bin/chromium).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { chromium } from 'playwright-core';

const root = new URL('../../', import.meta.url).pathname;
const launch = {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic'],
};
let dir, server, base, browser;
const token = 'browser-test-token';

const freePort = () => new Promise((resolve, reject) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  s.on('error', reject);
});

async function sql(q) {
  const r = await fetch(base + '/api/v1/sql', { method: 'POST', headers: { Authorization: 'Bearer ' + token }, body: JSON.stringify({ sql: q }) });
  const j = await r.json();
  if (!r.ok) throw new Error(j.error);
  return j.rows;
}

// waitRows polls q until check(rows) holds, for at most 10 s.
async function waitRows(q, check) {
  let rows = [];
  for (let i = 0; i < 100; i++) {
    rows = await sql(q);
    if (check(rows)) return rows;
    await new Promise((r) => setTimeout(r, 100));
  }
  return rows;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'actlog-browser-'));
  const bin = join(dir, 'actlog');
  execFileSync('go', ['build', '-o', bin, './cmd/actlog'], { cwd: root, stdio: 'inherit' });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(bin, ['serve', '--demo', '--demo-rate', '0.2', '--listen', `127.0.0.1:${port}`,
    '--data-dir', join(dir, 'data'), '--admin-token', token, '--log-level', 'warn'], { stdio: 'ignore' });
  for (let i = 0; i < 300; i++) {
    try { if ((await fetch(base + '/readyz')).ok) break; } catch (e) { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  browser = await chromium.launch(launch);
});

after(async () => {
  if (browser) await browser.close();
  if (server) server.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  rmSync(dir, { recursive: true, force: true });
});

test('page views, SPA navigation, banner clicks, impressions and engaged time', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(base + '/demo?utm_source=newsletter&utm_medium=email&utm_campaign=summer_sale');
  const anon = await page.evaluate(() => JSON.parse(localStorage.getItem('actlog_a')));
  await page.waitForTimeout(1500); // banners visible for more than a second
  await page.click('text=See the offer');
  await page.mouse.move(50, 50);
  await page.click('nav >> text=Books');
  await page.waitForTimeout(300);
  await page.close({ runBeforeUnload: true });

  const rows = await waitRows(
    `SELECT event, page_url, referrer, section, banner, utm_campaign, session_id, seq, (properties->>'engaged_ms')::INT
     FROM events WHERE anonymous_id = '${anon}' ORDER BY seq`,
    (r) => r.some((x) => x[0] === 'page_leave') && r.filter((x) => x[0] === 'page_view').length === 2);
  const events = rows.map((r) => r[0]);
  assert.deepEqual(errors, []);
  assert.equal(events[0], 'page_view');
  assert.ok(events.includes('banner_impression') && events.includes('section_impression'), events.join());
  const click = rows.find((r) => r[0] === 'banner_click');
  assert.deepEqual([click[3], click[4]], ['feed', 'summer_sale_2026']);
  const views = rows.filter((r) => r[0] === 'page_view');
  assert.equal(views.length, 2);
  assert.equal(views[1][2], views[0][1], 'the SPA page view has the previous URL as referrer');
  const leave = rows.find((r) => r[0] === 'page_leave');
  assert.ok(leave[8] >= 1000 && leave[8] <= 10000, `engaged_ms ${leave[8]}`);
  assert.ok(rows.every((r) => r[5] === 'summer_sale' && r[6] === rows[0][6]), 'one session, one campaign');
  assert.deepEqual(rows.map((r) => r[7]), rows.map((_, i) => i + 1), 'seq 1..n');
});

test('every event arrives once when the collector is down for a while', async () => {
  const page = await browser.newPage();
  await page.goto(base + '/demo');
  const anon = await page.evaluate(() => JSON.parse(localStorage.getItem('actlog_a')));
  // The collector answers 503 (as when its store cannot commit) for a while.
  let down = true;
  await page.route('**/v1/batch', (route) => (down
    ? route.fulfill({ status: 503, headers: { 'Retry-After': '1' }, body: '{"error":"retry"}' })
    : route.continue()));
  for (let i = 0; i < 5; i++) await page.evaluate((n) => actlog.track('offline_event', { n }), i);
  await page.evaluate(() => actlog.flush());
  await page.waitForTimeout(500);
  down = false;
  const rows = await waitRows(
    `SELECT (properties->>'n')::INT, count(*) FROM events WHERE anonymous_id = '${anon}' AND event = 'offline_event' GROUP BY 1 ORDER BY 1`,
    (r) => r.length === 5);
  await page.close();
  assert.deepEqual(rows, [[0, 1], [1, 1], [2, 1], [3, 1], [4, 1]]);
});
