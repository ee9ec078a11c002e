// actlog.js: the actlog web tracker. esbuild bundles this file and core.js
// into one IIFE (dist/actlog.js) that defines nothing but window.actlog and
// never throws into the host page.
import {
  MAX_BODY, shouldRotate, pushBounded, split, parseRetryAfter, backoff,
  utm, campaignKey, uuid, message, clickData, utf8Length,
} from './core.js';

const w = window;
const d = document;
const nav = navigator;
const ls = (() => { try { return w.localStorage; } catch (e) { return null; } })();
const P = 'actlog_';
const get = (k) => { try { return JSON.parse(ls.getItem(P + k)); } catch (e) { return null; } };
const set = (k, v) => { try { v == null ? ls.removeItem(P + k) : ls.setItem(P + k, JSON.stringify(v)); return 1; } catch (e) { /* full or blocked */ } };
// safe wraps an entry point so that nothing ever throws into the host page.
const safe = (f) => function () { try { return f.apply(this, arguments); } catch (e) { /* never throw */ } };

const tag = d.currentScript || d.querySelector('script[data-write-key]') || { dataset: {} };
const ds = tag.dataset;
const num = (v, def) => (v = parseFloat(v), v > 0 ? v : def);
let host = ds.host;
try { host = host || new URL(tag.src).origin; } catch (e) { host = location.origin; }
const url = host.replace(/\/$/, '') + '/v1/batch';
const key = ds.writeKey;
const timeout = num(ds.sessionTimeout, 30) * 60000;
const flushAt = num(ds.flushAt, 20);
const maxQueue = num(ds.maxQueue, 1000);
const auto = ds.autocapture !== 'off';

// The queue of unsent events, oldest first, lives in localStorage and is
// shared by the tabs of the origin: every change reads it, changes it and
// writes it back in one task, so one tab never overwrites another's events.
// Two tabs may send the same event; actlog stores it once (messageId).
// Without storage (blocked or full) the queue lives in memory.
let mem = [];
let inMem = !ls;
const load = () => (inMem ? mem : get('q') || []);
const store = (q) => { mem = q; if (!inMem && !set('q', q.length ? q : null)) inMem = true; };
const fly = {}; // messageIds in flight
let attempt = 0;
let waitUntil = 0;
let retryTimer;
let anon = get('a');
if (!anon) set('a', anon = uuid());
let userId = get('u');
let ref = d.referrer;
let lastUrl = location.href;
let tz;
try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { /* old browser */ }

const out = () => get('o') || (ds.respectDnt === 'on' && (nav.doNotTrack === '1' || nav.globalPrivacyControl));

function send(body, events, leaving) {
  events.forEach((e) => { fly[e.messageId] = 1; });
  const done = (drop) => {
    events.forEach((e) => { delete fly[e.messageId]; });
    if (drop) {
      const ids = {};
      events.forEach((e) => { ids[e.messageId] = 1; });
      store(load().filter((e) => !ids[e.messageId]));
    }
  };
  const retry = (ra) => {
    done();
    const t = backoff(attempt++, ra);
    waitUntil = Date.now() + t;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(safe(() => { waitUntil = 0; flush(); }), t);
  };
  const beacon = () => { try { nav.sendBeacon(url, body); } catch (e) { /* events stay queued */ } };
  let p;
  try {
    // A request that hangs is given up after 10 s (then retried): its
    // events would otherwise stay in flight until the page is left.
    const ac = w.AbortController && new w.AbortController();
    if (ac) setTimeout(() => ac.abort(), 10000);
    p = fetch(url, { method: 'POST', body, keepalive: utf8Length(body) <= MAX_BODY, credentials: 'omit', headers: { 'Content-Type': 'text/plain' }, signal: ac && ac.signal });
  } catch (e) {
    if (leaving) beacon();
    return retry(0);
  }
  return p.then((r) => {
    if (r.ok || (r.status < 500 && r.status !== 429 && r.status !== 408)) {
      // 2xx: committed (rejected events are kept by the server); other 4xx:
      // retrying the same body cannot succeed.
      attempt = 0;
      waitUntil = 0;
      done(1);
    } else retry(parseRetryAfter(r.headers.get('Retry-After'), Date.now()));
  }, () => {
    if (leaving) beacon();
    retry(0);
  });
}

// flush sends the queued events not yet in flight. Events leave the queue only
// when the server answered; when leaving the page they are also handed to
// sendBeacon if fetch fails, and stay queued (the server deduplicates by
// messageId) until a later page confirms them.
function flush(leaving) {
  if (!key || (!leaving && Date.now() < waitUntil)) return;
  const evs = load().filter((e) => !fly[e.messageId]);
  if (!evs.length) return;
  split(evs, { writeKey: key, sentAt: new Date().toISOString() }, MAX_BODY)
    .forEach((b) => send(b.body, b.events, leaving));
}

// enqueue adds an event to the queue; href is the page it happened on (the
// current one unless given: a page_leave after an SPA navigation names the
// page left).
function enqueue(type, fields, href = location.href) {
  if (out()) return;
  const now = Date.now();
  const c = utm(href);
  const ck = campaignKey(c);
  let s = get('s');
  if (shouldRotate(now, s, timeout, ck)) {
    flush(); // the old session's buffer goes out before the new one starts
    s = { id: uuid(), seq: 0, camp: ck, c };
  }
  s.last = now;
  s.seq++;
  set('s', s);
  const dropped = get('d');
  const m = message(type, fields, {
    now,
    anonymousId: anon,
    userId,
    sessionId: s.id,
    seq: s.seq,
    page: { url: href, path: new URL(href).pathname, title: d.title, referrer: ref },
    campaign: c || s.c,
    locale: nav.language,
    timezone: tz,
    screen: { width: screen.width, height: screen.height, density: w.devicePixelRatio },
    extra: dropped ? { dropped } : undefined,
  });
  const q = load();
  const n = pushBounded(q, m, maxQueue);
  set('d', n || null);
  store(q);
  if (q.filter((e) => !fly[e.messageId]).length >= flushAt) flush();
}

const pageFields = (props) => ({
  properties: Object.assign({ url: location.href, path: location.pathname, title: d.title, referrer: ref }, props),
});

const api = {
  track: (event, properties) => enqueue('track', { event: String(event), properties: properties || {} }),
  page: (properties) => enqueue('page', pageFields(properties)),
  identify: (id, traits) => {
    if (id != null) set('u', userId = String(id));
    enqueue('identify', { traits: traits || {} });
  },
  reset: () => {
    set('u', userId = null);
    set('a', anon = uuid());
    set('s', null);
  },
  optOut: () => {
    set('o', 1);
    store([]);
  },
  optIn: () => set('o', null),
  flush: () => flush(),
};

// Engaged time: visible time, counting at most 30 s after each sign of
// activity, sent as engaged_ms on page_leave when the page is left, hidden or
// replaced by an SPA navigation (then path is the page left).
let engaged = 0;
let mark = 0;
const visible = () => d.visibilityState !== 'hidden';
const tick = () => {
  const now = Date.now();
  if (mark) engaged += Math.min(now - mark, 30000);
  mark = visible() ? now : 0;
};
// A visit engaged for less than a second sends no page_leave: its page_view
// says enough.
function leavePage(href) {
  tick();
  if (engaged >= 1000) enqueue('track', { event: 'page_leave', properties: { engaged_ms: Math.round(engaged), path: new URL(href).pathname } }, href);
  engaged = 0;
}

// Impressions: an element with data-track-banner or data-track-section at
// least half visible for a second, once per page view, also when it is added
// to the page later (MutationObserver).
let seen;
const pending = new Map();
const propsOf = (el, name) => {
  const outer = [];
  for (let a = el.parentElement; a; a = a.parentElement) if (a.dataset) outer.push(a.dataset);
  return clickData(Object.assign({}, el.dataset, { trackEvent: name }), outer);
};
const io = w.IntersectionObserver && new w.IntersectionObserver(safe((entries) => entries.forEach((en) => {
  const el = en.target;
  if (en.intersectionRatio >= 0.5) {
    if (!pending.has(el) && !seen.has(el)) {
      pending.set(el, setTimeout(safe(() => {
        pending.delete(el);
        seen.add(el);
        const c = propsOf(el, el.dataset.trackBanner ? 'banner_impression' : 'section_impression');
        api.track(c.event, c.properties);
      }), 1000));
    }
  } else {
    clearTimeout(pending.get(el));
    pending.delete(el);
  }
})), { threshold: 0.5 });
const SEL = '[data-track-banner],[data-track-section]';
const watch = (n) => {
  if (n.matches) {
    if (n.matches(SEL)) io.observe(n);
    n.querySelectorAll(SEL).forEach((el) => io.observe(el));
  }
};
function observe() {
  if (!io) return;
  seen = new Set();
  pending.forEach(clearTimeout);
  pending.clear();
  io.disconnect();
  watch(d.documentElement);
}

// Autocapture: page views, SPA navigations, clicks on [data-track-event].
function navigated() {
  if (location.href === lastUrl) return;
  leavePage(lastUrl);
  ref = lastUrl;
  lastUrl = location.href;
  api.page();
  setTimeout(safe(observe), 0); // after the new view rendered
}

function init() {
  const queued = Array.isArray(w.actlog) ? w.actlog : [];
  const a = {};
  for (const k in api) a[k] = safe(api[k]);
  a.push = safe((c) => a[c[0]] && a[c[0]].apply(null, c.slice(1)));
  w.actlog = a;

  setInterval(safe(() => flush()), num(ds.flushInterval, 5000));
  const leave = safe(() => {
    if (auto) leavePage(location.href);
    flush(1);
  });
  // Back online: send at once, backoff reset.
  w.addEventListener('online', safe(() => {
    attempt = waitUntil = 0;
    flush();
  }));
  d.addEventListener('visibilitychange', safe(() => (visible() ? tick() : leave())));
  w.addEventListener('pagehide', leave);

  if (auto) {
    const h = w.history;
    ['pushState', 'replaceState'].forEach((k) => {
      const orig = h[k];
      h[k] = function () {
        const r = orig.apply(this, arguments);
        safe(navigated)();
        return r;
      };
    });
    w.addEventListener('popstate', safe(navigated));
    w.addEventListener('hashchange', safe(navigated));
    d.addEventListener('click', safe((e) => {
      const el = e.target.closest && e.target.closest('[data-track-event]');
      const outer = [];
      for (let a = el && el.parentElement; a; a = a.parentElement) if (a.dataset) outer.push(a.dataset);
      const c = el && clickData(el.dataset, outer);
      if (c) api.track(c.event, c.properties);
    }), true);
  }
  if (load().length) flush(); // events left by an earlier page or another tab
  queued.forEach(a.push); // calls made through the snippet before the script loaded
  if (auto) {
    api.page();
    tick();
    ['pointerdown', 'keydown', 'scroll', 'mousemove', 'touchstart'].forEach((t) => w.addEventListener(t, safe(tick), { passive: true, capture: true }));
    observe();
    if (io && w.MutationObserver) {
      new w.MutationObserver(safe((ms) => ms.forEach((m) => m.addedNodes.forEach(watch))))
        .observe(d.documentElement, { childList: true, subtree: true });
    }
  }
}

safe(init)();
