// Pure logic of actlog.js: no DOM, no storage, no timers. Everything here is
// unit-tested with node's test runner (test/core.test.mjs) and bundled into
// dist/actlog.js by esbuild.

export const VERSION = '0.1.0';

// The byte limit of one request body: browsers refuse keepalive fetches
// (and sendBeacon) above 64 KiB in flight.
export const MAX_BODY = 65536;

// shouldRotate tells whether the next event starts a new session.
// session is {id, last, camp} or null; last is the time of the last activity
// in ms; timeout in ms; camp is the campaign key of the current page ('' when
// the page carries no UTM campaign). A session expires when more than
// `timeout` ms passed since its last activity (exactly `timeout` still
// continues it), or when the page brings a campaign different from the
// session's. A page without UTM parameters never rotates the session.
export function shouldRotate(now, session, timeout, camp) {
  return !session || !session.id || !(now - session.last <= timeout) ||
    (!!camp && camp !== session.camp);
}

// pushBounded appends item to queue (in place), dropping the oldest entries
// beyond max. It answers how many were dropped.
export function pushBounded(queue, item, max) {
  queue.push(item);
  const n = queue.length > max ? queue.length - max : 0;
  queue.splice(0, n);
  return n;
}

// utf8Length answers the UTF-8 byte length of a string.
export const utf8Length = (s) => new TextEncoder().encode(s).length;

// split cuts events into request bodies, each under `limit` bytes once
// encoded as {"writeKey":…,"batch":[…],"sentAt":…}. head is the envelope
// without the batch, enc the JSON encoder. An event that alone exceeds the
// limit gets a body of its own (its request cannot use keepalive; the server
// decides on it). Answers [{body, events}] in order.
export function split(events, head, limit, enc = JSON.stringify) {
  const out = [];
  const base = utf8Length(enc({ ...head, batch: [] }));
  let cur = [];
  let size = base;
  const close = () => {
    if (cur.length) out.push({ body: enc({ ...head, batch: cur }), events: cur });
    cur = [];
    size = base;
  };
  for (const e of events) {
    const n = utf8Length(enc(e));
    if (cur.length && size + 1 + n > limit) close();
    size += (cur.length ? 1 : 0) + n;
    cur.push(e);
    if (size > limit) close();
  }
  close();
  return out;
}

// parseRetryAfter reads a Retry-After header (seconds or an HTTP date) into
// milliseconds; 0 when absent or unreadable.
export function parseRetryAfter(v, now) {
  if (v == null || v === '') return 0;
  const s = +v;
  if (s === s) return s > 0 ? s * 1000 : 0;
  const t = Date.parse(v);
  return t === t && t > now ? t - now : 0;
}

// backoff answers the delay before retry number `attempt` (0 for the first
// retry): exponential from `base` ms, with "equal jitter" (a uniform value in
// [d/2, d]) from rnd() in [0,1), at least retryAfter ms, never above cap.
export function backoff(attempt, retryAfter, rnd = Math.random, base = 1000, cap = 60000) {
  const d = Math.min(cap, base * 2 ** Math.min(attempt, 30));
  return Math.min(cap, Math.max(d / 2 + rnd() * d / 2, retryAfter || 0));
}

const UTM = { source: 'utm_source', medium: 'utm_medium', name: 'utm_campaign', term: 'utm_term', content: 'utm_content' };

// utm extracts Segment's context.campaign from a URL: {source, medium, name,
// term, content}, only the parameters present; null when there are none.
export function utm(url) {
  let q;
  try { q = new URL(url).searchParams; } catch (e) { return null; }
  let c = null;
  for (const k in UTM) {
    const v = q.get(UTM[k]);
    if (v) (c = c || {})[k] = v;
  }
  return c;
}

// campaignKey is what identifies a campaign for session rotation.
export const campaignKey = (c) => c ? [c.source, c.medium, c.name].join('|') : '';

// uuid answers a random UUID v4: crypto.randomUUID when available, else one
// made from crypto.getRandomValues, else from Math.random.
export function uuid(c = globalThis.crypto) {
  if (c && c.randomUUID) return c.randomUUID();
  const b = new Uint8Array(16);
  if (c && c.getRandomValues) c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.random() * 256;
  b[6] = (b[6] & 15) | 64;
  b[8] = (b[8] & 63) | 128;
  const h = [...b].map((x) => (x + 256).toString(16).slice(1)).join('');
  return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
}

// message builds one Segment message. fields are the type-specific fields
// (event, name, properties, traits); env describes the environment:
// {now, id, anonymousId, userId, sessionId, seq, page:{url,path,title,referrer},
// campaign, locale, timezone, screen:{width,height,density}, extra}.
export function message(type, fields, env) {
  const ctx = {
    page: env.page,
    library: { name: 'actlog.js', version: VERSION },
    locale: env.locale,
    timezone: env.timezone,
    screen: env.screen,
    sessionId: env.sessionId,
    seq: env.seq,
  };
  if (env.campaign) ctx.campaign = env.campaign;
  Object.assign(ctx, env.extra);
  const m = {
    type,
    messageId: env.id || uuid(),
    anonymousId: env.anonymousId,
    timestamp: new Date(env.now).toISOString(),
    context: ctx,
    ...fields,
  };
  if (env.userId != null) m.userId = env.userId;
  return m;
}

// clickData reads an element's dataset (a plain object of data-* attributes
// in camelCase) into the event name and properties of a tracked click:
// data-track-event names the event, every other data-track-foo-bar becomes
// property foo_bar. Answers null when there is no data-track-event.
export function clickData(ds, outer) {
  const ev = ds && ds.trackEvent;
  if (!ev) return null;
  const p = {};
  // The element's own data-track-* first, then its ancestors' (the banner
  // or section a button sits in); the nearest value wins.
  [ds].concat(outer || []).forEach((d) => {
    for (const k in d) {
      if (k !== 'trackEvent' && /^track[A-Z]/.test(k)) {
        const name = k.slice(5).replace(/[A-Z]/g, (c) => '_' + c.toLowerCase()).slice(1);
        if (!(name in p)) p[name] = d[k];
      }
    }
  });
  return { event: ev, properties: p };
}
