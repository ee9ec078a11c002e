// Runs the built dist/actlog.js in a node vm with a minimal simulated browser
// (document, location, history, localStorage, fetch, sendBeacon, timers under
// the test's control). Not a substitute for the chromium tests of issue 4, but
// it checks the wiring of the bundle: snippet replay, batching, retries with
// the same messageIds, persistence across reloads, SPA page views, clicks,
// sessions, opt-out, and that nothing throws or leaks globals.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import vm from 'node:vm';
import { readFileSync } from 'node:fs';
import { buildTracker, outfile } from '../build.mjs';

let code;
before(async () => {
  await buildTracker();
  code = readFileSync(outfile, 'utf8');
});

function storage(map = new Map()) {
  return {
    map,
    getItem: (k) => (map.has(k) ? map.get(k) : null),
    setItem: (k, v) => { map.set(k, String(v)); },
    removeItem: (k) => { map.delete(k); },
  };
}

// load runs the tracker once. opts: data (script data attributes), store (a
// Map shared across "reloads"), url, respond (fetch answer function), pre
// (window.actlog before load), noBeacon.
function load(opts = {}) {
  const sent = [];
  const beacons = [];
  const timers = [];
  const listeners = {};
  const on = (t, f) => { (listeners[t] = listeners[t] || []).push(f); };
  const loc = {};
  const setUrl = (u) => {
    const x = new URL(u, loc.href || undefined);
    loc.href = x.href; loc.pathname = x.pathname; loc.origin = x.origin; loc.search = x.search; loc.hash = x.hash;
  };
  setUrl(opts.url || 'https://books.example.com/home');
  const respond = opts.respond || (() => ({ status: 200 }));
  const doc = {
    title: 'Home',
    referrer: 'https://search.example/',
    visibilityState: 'visible',
    currentScript: opts.noTag ? null : { src: 'https://collect.example.com/actlog.js', dataset: { writeKey: 'wk_test', flushInterval: '100000', ...opts.data } },
    querySelector: () => null,
    addEventListener: on,
  };
  const win = {
    document: doc,
    location: loc,
    navigator: {
      language: 'ko-KR',
      sendBeacon: opts.noBeacon ? undefined : (u, b) => { beacons.push({ url: u, body: b }); return true; },
    },
    screen: { width: 390, height: 844 },
    devicePixelRatio: 3,
    history: {
      pushState(s, t, u) { setUrl(u); },
      replaceState(s, t, u) { setUrl(u); },
    },
    addEventListener: on,
    fetch: opts.noFetch ? undefined : (u, init) => {
      const req = { url: u, init, body: JSON.parse(init.body) };
      sent.push(req);
      const r = respond(req, sent.length);
      if (r instanceof Error) return Promise.reject(r);
      return Promise.resolve({ ok: r.status >= 200 && r.status < 300, status: r.status, headers: { get: (h) => (r.headers || {})[h] ?? null } });
    },
    setTimeout: (f, t) => timers.push({ f, t }),
    clearTimeout: () => {},
    setInterval: (f, t) => { win.intervalFn = f; win.intervalMs = t; },
    URL, TextEncoder, crypto: globalThis.crypto, Intl, console,
    actlog: opts.pre,
  };
  Object.defineProperty(win, 'localStorage', opts.badStorage
    ? { get() { throw new Error('SecurityError'); } }
    : { value: storage(opts.store) });
  win.window = win;
  win.self = win;
  const before = new Set(Object.keys(win));
  vm.createContext(win);
  vm.runInContext(code, win);
  const fire = (t, e = {}) => (listeners[t] || []).forEach((f) => f(e));
  const tick = () => new Promise((r) => setImmediate(r));
  const events = () => sent.flatMap((s) => s.body.batch);
  const queued = () => JSON.parse(win.localStorage.getItem('actlog_q') || '[]');
  return { win, sent, beacons, timers, fire, tick, events, queued, setUrl, before, doc };
}

test('snippet calls are replayed, then the autocaptured page view; batch body shape', async () => {
  const t = load({ pre: [['identify', 'member-1', { plan: 'monthly' }], ['track', 'early', { a: 1 }]] });
  t.win.actlog.flush();
  await t.tick();
  assert.equal(t.sent.length, 1);
  const r = t.sent[0];
  assert.equal(r.url, 'https://collect.example.com/v1/batch');
  assert.equal(r.init.method, 'POST');
  assert.equal(r.init.keepalive, true);
  assert.equal(r.init.headers['Content-Type'], 'text/plain');
  assert.equal(r.body.writeKey, 'wk_test');
  assert.ok(!Number.isNaN(Date.parse(r.body.sentAt)));
  const b = r.body.batch;
  assert.deepEqual(b.map((e) => e.type), ['identify', 'track', 'page']);
  assert.equal(b[0].traits.plan, 'monthly');
  assert.equal(b[1].event, 'early');
  assert.ok(b.every((e) => e.userId === 'member-1' && e.anonymousId === b[0].anonymousId));
  assert.deepEqual(b.map((e) => e.context.seq), [1, 2, 3]);
  assert.equal(new Set(b.map((e) => e.context.sessionId)).size, 1);
  assert.equal(b[2].context.page.referrer, 'https://search.example/');
  assert.equal(b[2].properties.path, '/home');
  assert.equal(b[2].context.library.name, 'actlog.js');
  assert.equal(b[2].context.screen.width, 390);
  assert.deepEqual(t.queued(), [], 'acknowledged events leave the persisted queue');
});

test('only window.actlog is added to the page', () => {
  const t = load();
  const added = Object.keys(t.win).filter((k) => !t.before.has(k) && !['intervalFn', 'intervalMs'].includes(k));
  assert.deepEqual(added, []);
  assert.equal(typeof t.win.actlog.track, 'function');
  assert.equal(t.intervalMs, undefined);
  assert.equal(t.win.intervalMs, 100000, 'data-flush-interval');
});

test('flush at N events', async () => {
  const t = load({ data: { flushAt: '3', autocapture: 'off' } });
  t.win.actlog.track('a');
  t.win.actlog.track('b');
  assert.equal(t.sent.length, 0);
  t.win.actlog.track('c');
  assert.equal(t.sent.length, 1);
  assert.deepEqual(t.sent[0].body.batch.map((e) => e.event), ['a', 'b', 'c']);
});

test('the interval flushes', async () => {
  const t = load({ data: { autocapture: 'off' } });
  t.win.actlog.track('a');
  t.win.intervalFn();
  assert.equal(t.sent.length, 1);
});

test('5xx and 429: retried with backoff and the same messageIds; Retry-After honoured', async () => {
  const t = load({ respond: (req, n) => (n === 1 ? { status: 503, headers: { 'Retry-After': '7' } } : n === 2 ? { status: 429 } : { status: 200 }) });
  t.win.actlog.track('buy');
  t.win.actlog.flush();
  await t.tick();
  assert.equal(t.timers.length, 1);
  assert.equal(t.timers[0].t, 7000, 'Retry-After 7 s');
  assert.equal(t.queued().length, 2, 'still persisted');
  t.win.actlog.flush(); // during the backoff: nothing is sent
  assert.equal(t.sent.length, 1);
  t.timers[0].f();
  await t.tick();
  assert.equal(t.sent.length, 2);
  assert.equal(t.timers.length, 2);
  assert.ok(t.timers[1].t >= 1000 && t.timers[1].t <= 2000, `second backoff ${t.timers[1].t}`);
  t.timers[1].f();
  await t.tick();
  assert.equal(t.sent.length, 3);
  const ids = t.sent.map((s) => s.body.batch.map((e) => e.messageId).join());
  assert.equal(ids[0], ids[1]);
  assert.equal(ids[1], ids[2]);
  assert.deepEqual(t.queued(), []);
});

test('other 4xx: dropped, not retried', async () => {
  const t = load({ respond: () => ({ status: 400 }) });
  t.win.actlog.flush();
  await t.tick();
  assert.equal(t.timers.length, 0);
  assert.deepEqual(t.queued(), []);
});

test('leaving while offline: sendBeacon fallback, events survive the reload and are resent with the same ids', async () => {
  const store = new Map();
  const t = load({ store, respond: () => new TypeError('Failed to fetch') });
  t.win.actlog.track('read', { book: 'b1' });
  t.doc.visibilityState = 'hidden';
  t.fire('visibilitychange');
  await t.tick();
  assert.equal(t.beacons.length, 1);
  assert.equal(JSON.parse(t.beacons[0].body).writeKey, 'wk_test');
  const ids = t.sent[0].body.batch.map((e) => e.messageId);
  assert.deepEqual(JSON.parse(t.beacons[0].body).batch.map((e) => e.messageId), ids);
  assert.equal(t.queued().length, 2);

  const t2 = load({ store, data: { autocapture: 'off' } });
  await t2.tick();
  assert.equal(t2.sent.length, 1, 'resent on load');
  assert.deepEqual(t2.sent[0].body.batch.map((e) => e.messageId), ids);
  assert.deepEqual(t2.queued(), []);
  assert.equal(t2.sent[0].body.batch[0].anonymousId, t.sent[0].body.batch[0].anonymousId, 'anonymousId persisted');
});

test('pagehide flushes', async () => {
  const t = load();
  t.fire('pagehide');
  assert.equal(t.sent.length, 1);
});

test('bounded persisted queue drops the oldest and reports the count', async () => {
  const t = load({ data: { maxQueue: '5', autocapture: 'off' }, respond: () => ({ status: 503 }) });
  for (let i = 0; i < 8; i++) t.win.actlog.track('e' + i);
  assert.deepEqual(t.queued().map((e) => e.event), ['e3', 'e4', 'e5', 'e6', 'e7']);
  t.win.actlog.track('e8');
  const q = t.queued();
  assert.equal(q[4].context.dropped, 1);
});

test('SPA navigation: page views with the previous URL as referrer', async () => {
  const t = load();
  t.win.history.pushState({}, '', '/books/1');
  t.win.history.replaceState({ x: 1 }, '', '/books/1'); // same URL: no page view
  t.setUrl('/books/1#reviews');
  t.fire('hashchange');
  t.setUrl('/books/1');
  t.fire('popstate');
  t.win.actlog.flush();
  await t.tick();
  const pages = t.events().filter((e) => e.type === 'page');
  assert.deepEqual(pages.map((e) => e.context.page.path), ['/home', '/books/1', '/books/1', '/books/1']);
  assert.deepEqual(pages.map((e) => e.context.page.referrer), [
    'https://search.example/', 'https://books.example.com/home',
    'https://books.example.com/books/1', 'https://books.example.com/books/1#reviews']);
  assert.equal(pages[1].properties.referrer, 'https://books.example.com/home');
});

test('clicks on [data-track-event] and its children', async () => {
  const t = load({ data: { autocapture: 'on' } });
  const banner = { dataset: { trackEvent: 'banner_click', trackSection: 'new_releases', trackBanner: 'summer_sale', trackPosition: '2' } };
  const child = { closest: (s) => (s === '[data-track-event]' ? banner : null) };
  t.fire('click', { target: child });
  t.fire('click', { target: { closest: () => null } });
  t.fire('click', { target: {} });
  t.win.actlog.flush();
  await t.tick();
  const clicks = t.events().filter((e) => e.type === 'track');
  assert.equal(clicks.length, 1);
  assert.equal(clicks[0].event, 'banner_click');
  assert.deepEqual(clicks[0].properties, { section: 'new_releases', banner: 'summer_sale', position: '2' });
});

test('autocapture off: no page view, no click capture', async () => {
  const t = load({ data: { autocapture: 'off' } });
  t.win.history.pushState({}, '', '/x');
  t.win.actlog.flush();
  assert.equal(t.sent.length, 0);
});

test('sessions: idle timeout and campaign change rotate, seq restarts, old buffer flushed', async () => {
  const t = load({ data: { sessionTimeout: '0.0005', flushAt: '100' } }); // 30 ms
  t.win.actlog.track('a');
  const s1 = t.queued()[1].context.sessionId;
  assert.equal(t.sent.length, 0);
  await new Promise((r) => setTimeout(r, 60));
  t.win.actlog.track('b');
  assert.equal(t.sent.length, 1, 'the expiring session flushed its buffer');
  const q = t.queued();
  const b = q[q.length - 1];
  assert.notEqual(b.context.sessionId, s1);
  assert.equal(b.context.seq, 1);

  const u = load({ data: { flushAt: '100' }, url: 'https://books.example.com/?utm_source=naver&utm_medium=cpc&utm_campaign=summer' });
  u.win.actlog.track('x');
  u.win.history.pushState({}, '', '/books'); // no UTM: same session, keeps its campaign
  u.win.history.pushState({}, '', '/?utm_source=naver&utm_medium=cpc&utm_campaign=winter');
  const e = u.queued();
  assert.deepEqual(e.map((m) => m.context.seq), [1, 2, 3, 1]);
  assert.equal(e[0].context.sessionId, e[2].context.sessionId);
  assert.notEqual(e[2].context.sessionId, e[3].context.sessionId);
  assert.deepEqual(e[2].context.campaign, { source: 'naver', medium: 'cpc', name: 'summer' });
  assert.equal(e[3].context.campaign.name, 'winter');
});

test('sessions are shared through localStorage (tabs)', () => {
  const store = new Map();
  const a = load({ store, data: { flushAt: '100' } });
  const b = load({ store, data: { flushAt: '100' } });
  a.win.actlog.track('x');
  const s = JSON.parse(store.get('actlog_s'));
  assert.equal(s.seq, 3);
  assert.equal(a.queued().length + b.queued().length >= 2, true);
});

test('tabs share one queue: a tab closed offline leaves its events to the others, each sent once', async () => {
  const store = new Map();
  const offline = () => new TypeError('Failed to fetch');
  const a = load({ store, respond: offline, noBeacon: true, data: { autocapture: 'off' } });
  a.win.actlog.track('a1');
  const b = load({ store, respond: offline, noBeacon: true, data: { autocapture: 'off' } });
  b.win.actlog.track('b1');
  a.win.actlog.track('a2'); // a tab writing after another must not drop the other's events
  b.win.actlog.track('b2');
  await a.tick();
  assert.deepEqual(a.queued().map((e) => e.event), ['a1', 'b1', 'a2', 'b2']);
  // Both tabs close while offline; a later page sends everything.
  const c = load({ store, data: { autocapture: 'off' } });
  await c.tick();
  assert.deepEqual(c.events().map((e) => e.event), ['a1', 'b1', 'a2', 'b2']);
  assert.deepEqual(c.queued(), []);
});

test('optOut stops and clears; optIn resumes; reset forgets the user', async () => {
  const t = load({ data: { autocapture: 'off', flushAt: '100' } });
  t.win.actlog.identify('member-9');
  t.win.actlog.optOut();
  t.win.actlog.track('hidden');
  assert.deepEqual(t.queued(), []);
  t.win.actlog.optIn();
  t.win.actlog.track('seen');
  const anon = t.queued()[0].anonymousId;
  assert.equal(t.queued()[0].userId, 'member-9');
  t.win.actlog.reset();
  t.win.actlog.track('after');
  const q = t.queued();
  assert.equal(q[1].userId, undefined);
  assert.notEqual(q[1].anonymousId, anon);
  assert.notEqual(q[1].context.sessionId, q[0].context.sessionId);
});

test('Do-Not-Track / GPC respected when asked', () => {
  const t = load({ data: { respectDnt: 'on' } });
  t.win.navigator.globalPrivacyControl = true;
  t.win.actlog.track('x');
  assert.equal(t.queued().filter((e) => e.event === 'x').length, 0);
});

test('never throws: blocked storage, no fetch, no script tag, bad arguments', async () => {
  const a = load({ badStorage: true, noFetch: true });
  a.win.actlog.track('x', { y: 1 });
  a.win.actlog.flush();
  a.fire('pagehide');
  a.win.actlog.identify(null);
  a.win.actlog.push(['nope']);
  a.win.actlog.push(null);
  assert.equal(a.beacons.length, 1, 'beacon when fetch is missing on leave');
  const b = load({ noTag: true });
  b.win.actlog.track('x');
  b.win.actlog.flush();
  assert.equal(b.sent.length, 0, 'no write key: nothing sent');
  const c = load({ noBeacon: true, respond: () => new TypeError('x') });
  c.fire('pagehide');
  await c.tick();
  const circ = {};
  circ.self = circ;
  c.win.actlog.track('circular', circ);
  c.win.actlog.flush();
});
