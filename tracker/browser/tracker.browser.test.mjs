// Browser tests of actlog.js: Debian's chromium driven by playwright-core
// against a real `actlog serve --demo` (built from this repository), checked
// through the SQL API. Run with `make test-browser` (installs chromium), which
// `make test` runs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, connect } from 'node:net';
import { createServer as httpServer } from 'node:http';
import { chromium } from 'playwright-core';

const root = new URL('../../', import.meta.url).pathname;
const launch = {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic'],
};
let dir, bin, server, base, host, hostServer, browser;
const token = 'browser-test-token';
const writeKey = 'wk_browser_test';

const freePort = () => new Promise((resolve, reject) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  s.on('error', reject);
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// collector starts `actlog serve` on port with its data in name (kept across
// restarts); the host pages' origin and the collector's own are allowed.
function collector(name, port, extra = []) {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  const cfg = join(d, 'actlog.yaml');
  const origin = `http://127.0.0.1:${port}`;
  writeFileSync(cfg, `admin_token: ${token}\nsources:\n  - name: web\n    write_key: ${writeKey}\n` +
    `    allowed_origins: ["${host}", "${origin}"]\n`);
  const proc = spawn(bin, ['serve', '--config', cfg, '--listen', `127.0.0.1:${port}`,
    '--data-dir', join(d, 'data'), '--log-level', 'warn', ...extra], { stdio: 'ignore' });
  return { proc, base: origin };
}

async function ready(base) {
  for (let i = 0; i < 300; i++) {
    try { if ((await fetch(base + '/readyz')).ok) return; } catch (e) { /* not yet */ }
    await sleep(100);
  }
  throw new Error(base + ' not ready');
}

async function sql(q, at = base) {
  const r = await fetch(at + '/api/v1/sql', { method: 'POST', headers: { Authorization: 'Bearer ' + token }, body: JSON.stringify({ sql: q }) });
  const j = await r.json();
  if (!r.ok) throw new Error(j.error);
  return j.rows;
}

// waitRows polls q until check(rows) holds, for at most ms.
async function waitRows(q, check, { ms = 10000, at = base } = {}) {
  let rows = [];
  for (const end = Date.now() + ms; Date.now() < end;) {
    rows = await sql(q, at);
    if (check(rows)) return rows;
    await sleep(100);
  }
  return rows;
}

// The host pages: a site on its own origin (another port) that loads the
// tracker from the collector, configured by the query: c is the collector's
// origin, every other parameter becomes a data- attribute of the script tag.
function hostPage(req, res) {
  const u = new URL(req.url, 'http://x');
  if (u.pathname !== '/page') { res.writeHead(404).end(); return; }
  const c = u.searchParams.get('c');
  const attrs = [...u.searchParams].filter(([k]) => k !== 'c').map(([k, v]) => `data-${k}="${v}"`).join(' ');
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html><head><title>Host page</title>
<script>window.actlog=window.actlog||[];['track','page','identify','reset','optOut','optIn','flush'].forEach(function(m){actlog[m]=actlog[m]||function(){actlog.push([m].concat([].slice.call(arguments)))}});</script>
<script src="${c}/actlog.js" data-write-key="${writeKey}" ${attrs}></script>
</head><body><h1>Host page</h1><main id="main"></main></body></html>`);
}
const pageAt = (c, attrs = {}) => `${host}/page?` + new URLSearchParams({ c, ...attrs });
const anonOf = (page) => page.evaluate(() => JSON.parse(localStorage.getItem('actlog_a')));
// quiet: only the test's own calls (and the hide/leave under test) send.
const quiet = { 'flush-interval': '600000', 'flush-at': '100' };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'actlog-browser-'));
  // make test-browser passes the binary it built; otherwise build one.
  bin = process.env.ACTLOG_BIN;
  if (!bin) {
    bin = join(dir, 'actlog');
    execFileSync('go', ['build', '-o', bin, './cmd/actlog'], { cwd: root, stdio: 'inherit' });
  }
  const hostPort = await freePort();
  host = `http://127.0.0.1:${hostPort}`;
  hostServer = httpServer(hostPage);
  await new Promise((r) => hostServer.listen(hostPort, '127.0.0.1', r));
  const c = collector('main', await freePort(), ['--demo', '--demo-rate', '0.2']);
  server = c.proc;
  base = c.base;
  await ready(base);
  browser = await chromium.launch(launch);
});

after(async () => {
  if (browser) await browser.close();
  if (server) server.kill('SIGTERM');
  if (hostServer) hostServer.close();
  await sleep(500);
  rmSync(dir, { recursive: true, force: true });
});

test('page views, SPA navigation, banner clicks, impressions and engaged time', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const opened = Date.now();
  await page.goto(base + '/demo?utm_source=newsletter&utm_medium=email&utm_campaign=summer_sale');
  const anon = await anonOf(page);
  await page.waitForTimeout(1500); // banners visible for more than a second
  await page.click('text=See the offer');
  await page.mouse.move(50, 50);
  await page.click('nav >> text=Books');
  await page.waitForTimeout(300);
  await page.close({ runBeforeUnload: true });
  const visibleMs = Date.now() - opened;

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
  assert.equal(leave[1], views[0][1], 'page_leave names the page left, not the SPA page that replaced it');
  // The page was visible and active from load to close: engaged_ms is that
  // time, less what passed before the tracker started.
  assert.ok(leave[8] <= visibleMs && leave[8] >= visibleMs / 2, `engaged_ms ${leave[8]}, visible ${visibleMs} ms`);
  assert.ok(rows.every((r) => r[5] === 'summer_sale' && r[6] === rows[0][6]), 'one session, one campaign');
  assert.deepEqual(rows.map((r) => r[7]), rows.map((_, i) => i + 1), 'seq 1..n');
});

test('every event arrives once when the collector is down for a while', async () => {
  const page = await browser.newPage();
  await page.goto(base + '/demo');
  const anon = await anonOf(page);
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

test('session rotation after idle: the old session is flushed, the new one starts at seq 1', async () => {
  const page = await browser.newPage();
  await page.goto(pageAt(base, { 'session-timeout': '0.02', ...quiet })); // 1.2 s
  const anon = await anonOf(page);
  await page.evaluate(() => actlog.track('before_idle'));
  await sleep(1600);
  await page.evaluate(() => actlog.track('after_idle'));
  const q = `SELECT event, session_id, seq FROM events WHERE anonymous_id = '${anon}' ORDER BY received_at, seq`;
  const first = await waitRows(q, (r) => r.length >= 2);
  assert.deepEqual(first.map((r) => [r[0], r[2]]), [['page_view', 1], ['before_idle', 2]], 'the expired session was flushed');
  await sleep(300);
  assert.equal((await sql(q)).length, 2, 'the new session stays queued until a flush');
  await page.evaluate(() => actlog.flush());
  const rows = await waitRows(q, (r) => r.length === 3);
  await page.close();
  assert.deepEqual(rows[2].slice(0, 1).concat(rows[2][2]), ['after_idle', 1]);
  assert.equal(rows[0][1], rows[1][1]);
  assert.notEqual(rows[2][1], rows[0][1], 'a new session id after the idle timeout');
});

test('hiding the tab flushes', async () => {
  const page = await browser.newPage();
  await page.goto(pageAt(base, quiet));
  const anon = await anonOf(page);
  for (let i = 0; i < 3; i++) await page.evaluate((n) => actlog.track('before_hide', { n }), i);
  const q = `SELECT event FROM events WHERE anonymous_id = '${anon}' ORDER BY seq`;
  await sleep(700);
  assert.deepEqual(await sql(q), [], 'nothing sent before the tab is hidden');
  // Headless chromium keeps every page visible (a second tab, a minimised
  // window and CDP lifecycle states change nothing), so the tab switch is
  // emulated in the page: visibilityState reads hidden and visibilitychange
  // fires, as when the user switches tabs. The delivery is real.
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  const rows = await waitRows(q, (r) => r.length >= 4);
  await page.close();
  assert.deepEqual(rows.map((r) => r[0]).slice(0, 4), ['page_view', 'before_hide', 'before_hide', 'before_hide']);
});

test('navigating away flushes (to a page of another site, which cannot resend)', async () => {
  const page = await browser.newPage();
  await page.goto(pageAt(base, quiet));
  const anon = await anonOf(page);
  for (let i = 0; i < 3; i++) await page.evaluate((n) => actlog.track('before_leave', { n }), i);
  await page.goto(base + '/healthz');
  const rows = await waitRows(`SELECT event, count(*) FROM events WHERE anonymous_id = '${anon}' GROUP BY 1 ORDER BY 1`,
    (r) => r.length === 2);
  await page.close();
  assert.deepEqual(rows, [['before_leave', 3], ['page_view', 1]]);
});

test('impressions of elements added after the page view started', async () => {
  const page = await browser.newPage();
  await page.goto(pageAt(base, quiet));
  const anon = await anonOf(page);
  await sleep(200);
  await page.evaluate(() => {
    document.getElementById('main').insertAdjacentHTML('beforeend',
      '<section data-track-section="late_shelf" style="height:200px"><a data-track-banner="late_banner" style="display:block;height:100px">Late</a></section>');
  });
  await sleep(1500);
  await page.evaluate(() => actlog.flush());
  const rows = await waitRows(
    `SELECT event, section, banner FROM events WHERE anonymous_id = '${anon}' AND event LIKE '%impression' ORDER BY event`,
    (r) => r.length === 2);
  await page.close();
  assert.deepEqual(rows, [['banner_impression', 'late_shelf', 'late_banner'], ['section_impression', 'late_shelf', null]]);
});

// relay forwards TCP connections to port while up; down() closes the
// listener and every open connection, so the browser meets a real network
// error (connection refused), as when the user goes offline.
async function relay(port) {
  const rport = await freePort();
  const socks = new Set();
  let srv;
  const up = () => new Promise((r) => {
    srv = createServer((s) => {
      const t = connect(port, '127.0.0.1');
      socks.add(s).add(t);
      const end = () => { s.destroy(); t.destroy(); socks.delete(s); socks.delete(t); };
      s.on('error', end).on('close', end);
      t.on('error', end).on('close', end);
      s.pipe(t).pipe(s);
    });
    srv.listen(rport, '127.0.0.1', r);
  });
  const down = () => new Promise((r) => { socks.forEach((s) => s.destroy()); srv.close(() => r()); });
  return { base: `http://127.0.0.1:${rport}`, up, down };
}

test('two tabs offline: the events of a tab closed offline are sent by the other, each once', async () => {
  const net = await relay(new URL(base).port);
  const ctx = await browser.newContext();
  const a = await ctx.newPage();
  await a.goto(pageAt(base, { host: net.base, ...quiet }));
  const b = await ctx.newPage();
  await b.goto(pageAt(base, { host: net.base, ...quiet }));
  const anon = await anonOf(a);
  // Chrome passes localStorage between tab processes asynchronously: writes
  // of two tabs within a few milliseconds can still overwrite each other
  // (see README, Limits), so the tabs take turns as a person would.
  for (let i = 0; i < 3; i++) {
    await a.evaluate((n) => actlog.track('tab_a', { n }), i);
    await sleep(150);
    await b.evaluate((n) => actlog.track('tab_b', { n }), i);
    await sleep(150);
  }
  await a.close({ runBeforeUnload: true }); // its leave-time fetch and beacon fail: offline
  await sleep(500);
  await net.up();
  await b.evaluate(() => actlog.flush());
  const q = `SELECT event, (properties->>'n')::INT, count(*) FROM events WHERE anonymous_id = '${anon}' AND event LIKE 'tab_%' GROUP BY ALL ORDER BY ALL`;
  const rows = await waitRows(q, (r) => r.length === 6, { ms: 40000 });
  await sleep(1000); // later retries must not store anything twice
  const again = await sql(q);
  await ctx.close();
  await net.down();
  const want = [0, 1, 2].map((n) => ['tab_a', n, 1]).concat([0, 1, 2].map((n) => ['tab_b', n, 1]));
  assert.deepEqual(rows, want);
  assert.deepEqual(again, want);
});

test('collector killed and restarted while events are tracked: every event stored exactly once', async () => {
  const port = await freePort();
  let c = collector('restart', port);
  await ready(c.base);
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(pageAt(c.base, { 'flush-interval': '1000' }));
  const anon = await anonOf(page);
  const q = `SELECT event, (properties->>'n')::INT, count(*) FROM events WHERE anonymous_id = '${anon}' AND event IN ('acked', 'while_down') GROUP BY ALL ORDER BY ALL`;
  for (let i = 0; i < 3; i++) await page.evaluate((n) => actlog.track('acked', { n }), i);
  await page.evaluate(() => actlog.flush());
  await waitRows(q, (r) => r.length === 3, { at: c.base });
  const exited = new Promise((r) => c.proc.once('exit', r));
  c.proc.kill('SIGKILL');
  await exited;
  for (let i = 0; i < 5; i++) {
    await page.evaluate((n) => actlog.track('while_down', { n }), i);
    await sleep(300);
  }
  c = collector('restart', port);
  try {
    await ready(c.base);
    const want = [0, 1, 2].map((n) => ['acked', n, 1]).concat([0, 1, 2, 3, 4].map((n) => ['while_down', n, 1]));
    const rows = await waitRows(q, (r) => r.length === 8, { ms: 40000, at: c.base });
    await page.close();
    assert.deepEqual(rows, want);
    assert.deepEqual(errors, []);
  } finally {
    c.proc.kill('SIGTERM');
  }
});
