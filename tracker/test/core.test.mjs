import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  VERSION, MAX_BODY, shouldRotate, pushBounded, utf8Length, split, parseRetryAfter,
  backoff, utm, campaignKey, uuid, message, clickData,
} from '../src/core.js';

const MIN = 60000;

test('shouldRotate: no session starts one', () => {
  assert.equal(shouldRotate(1000, null, 30 * MIN, ''), true);
  assert.equal(shouldRotate(1000, {}, 30 * MIN, ''), true);
  assert.equal(shouldRotate(1000, { last: 0 }, 30 * MIN, ''), true, 'a session without id');
});

test('shouldRotate: idle timeout boundary', () => {
  const s = { id: 's1', last: 1_000_000, camp: '' };
  assert.equal(shouldRotate(s.last, s, 30 * MIN, ''), false);
  assert.equal(shouldRotate(s.last + 30 * MIN - 1, s, 30 * MIN, ''), false);
  assert.equal(shouldRotate(s.last + 30 * MIN, s, 30 * MIN, ''), false, 'exactly the timeout continues');
  assert.equal(shouldRotate(s.last + 30 * MIN + 1, s, 30 * MIN, ''), true);
  assert.equal(shouldRotate(s.last + 2000, s, 1000, ''), true, 'a short timeout');
  assert.equal(shouldRotate(s.last, { id: 's1', last: 'junk' }, 30 * MIN, ''), true, 'corrupt last activity');
});

test('shouldRotate: campaign change', () => {
  const s = { id: 's1', last: 1000, camp: 'naver|cpc|summer' };
  assert.equal(shouldRotate(2000, s, 30 * MIN, 'naver|cpc|summer'), false, 'same campaign');
  assert.equal(shouldRotate(2000, s, 30 * MIN, ''), false, 'a page without UTM keeps the session');
  assert.equal(shouldRotate(2000, s, 30 * MIN, 'google|cpc|winter'), true, 'another campaign');
  assert.equal(shouldRotate(2000, { id: 's1', last: 1000, camp: '' }, 30 * MIN, 'naver|cpc|summer'), true,
    'a campaign arriving in a session without one');
});

test('pushBounded: keeps the newest, counts drops', () => {
  const q = [];
  for (let i = 0; i < 5; i++) assert.equal(pushBounded(q, i, 5), 0);
  assert.deepEqual(q, [0, 1, 2, 3, 4]);
  assert.equal(pushBounded(q, 5, 5), 1);
  assert.deepEqual(q, [1, 2, 3, 4, 5]);
  let dropped = 0;
  for (let i = 6; i < 1006; i++) dropped += pushBounded(q, i, 5);
  assert.equal(dropped, 1000);
  assert.deepEqual(q, [1001, 1002, 1003, 1004, 1005]);
  const big = [1, 2, 3, 4, 5, 6, 7];
  assert.equal(pushBounded(big, 8, 3), 5, 'a queue already over the bound (a smaller max)');
  assert.deepEqual(big, [6, 7, 8]);
});

test('utf8Length counts bytes', () => {
  assert.equal(utf8Length('abc'), 3);
  assert.equal(utf8Length('é'), 2);
  assert.equal(utf8Length('한'), 3);
  assert.equal(utf8Length('😀'), 4);
});

const ev = (i, pad) => ({ type: 'track', messageId: 'm' + i, event: 'e', properties: { pad: 'x'.repeat(pad) } });
const head = { writeKey: 'wk_test', sentAt: '2026-03-01T09:00:00.000Z' };

test('split: small batches make one body, equal to the plain encoding', () => {
  const evs = [ev(1, 10), ev(2, 10), ev(3, 10)];
  const parts = split(evs, head, MAX_BODY);
  assert.equal(parts.length, 1);
  assert.equal(parts[0].body, JSON.stringify({ ...head, batch: evs }));
  assert.deepEqual(parts[0].events, evs);
  assert.deepEqual(split([], head, MAX_BODY), []);
});

test('split: every body under 64 KB, order and events kept', () => {
  const evs = [];
  for (let i = 0; i < 400; i++) evs.push(ev(i, (i * 37) % 3000));
  const parts = split(evs, head, MAX_BODY);
  assert.ok(parts.length > 1);
  for (const p of parts) {
    assert.ok(utf8Length(p.body) <= MAX_BODY, `body of ${utf8Length(p.body)} bytes`);
    assert.deepEqual(JSON.parse(p.body), { ...head, batch: p.events });
  }
  assert.deepEqual(parts.flatMap((p) => p.events), evs);
  // Bodies are packed: the next body's first event would not have fitted.
  for (let i = 0; i + 1 < parts.length; i++) {
    const more = JSON.stringify({ ...head, batch: [...parts[i].events, parts[i + 1].events[0]] });
    assert.ok(utf8Length(more) > MAX_BODY);
  }
});

test('split: exact limit and multi-byte characters', () => {
  const one = [{ s: 'é'.repeat(100) }];
  const n = utf8Length(JSON.stringify({ ...head, batch: one }));
  assert.equal(split(one, head, n).length, 1);
  const two = [{ s: 'é'.repeat(100) }, { s: 'é'.repeat(100) }];
  const n2 = utf8Length(JSON.stringify({ ...head, batch: two }));
  assert.equal(split(two, head, n2).length, 1, 'exactly at the limit fits');
  assert.equal(split(two, head, n2 - 1).length, 2, 'one byte less splits');
});

test('split: an oversize event gets a body of its own', () => {
  const evs = [ev(1, 100), ev(2, 70000), ev(3, 100), ev(4, 100)];
  const parts = split(evs, head, MAX_BODY);
  assert.deepEqual(parts.map((p) => p.events.map((e) => e.messageId)), [['m1'], ['m2'], ['m3', 'm4']]);
  assert.ok(utf8Length(parts[1].body) > MAX_BODY);
  assert.ok(utf8Length(parts[0].body) <= MAX_BODY && utf8Length(parts[2].body) <= MAX_BODY);
});

test('split: uses the given encoder', () => {
  let calls = 0;
  const enc = (v) => { calls++; return JSON.stringify(v); };
  split([ev(1, 1), ev(2, 1)], head, MAX_BODY, enc);
  assert.ok(calls >= 3);
});

test('backoff: grows exponentially within the jitter range, capped', () => {
  const lo = () => 0;
  const hi = () => 0.999999;
  assert.equal(backoff(0, 0, lo), 500);
  assert.equal(backoff(1, 0, lo), 1000);
  assert.equal(backoff(2, 0, lo), 2000);
  assert.ok(Math.abs(backoff(0, 0, hi) - 1000) < 0.01);
  assert.ok(Math.abs(backoff(3, 0, hi) - 8000) < 0.01);
  for (let a = 0; a < 40; a++) {
    for (let i = 0; i < 50; i++) {
      const d = Math.min(60000, 1000 * 2 ** a);
      const t = backoff(a, 0);
      assert.ok(t >= d / 2 && t <= d, `attempt ${a}: ${t}`);
    }
  }
  assert.equal(backoff(100, 0, hi) <= 60000, true);
  assert.equal(backoff(10, 0, lo), 30000, 'cap halves under jitter');
  assert.equal(backoff(2, 0, lo, 100, 1000), 200, 'custom base');
  assert.equal(backoff(8, 0, hi, 100, 1000) <= 1000, true, 'custom cap');
  const spread = new Set();
  for (let i = 0; i < 20; i++) spread.add(backoff(4, 0));
  assert.ok(spread.size > 1, 'jitter varies');
});

test('backoff: honours Retry-After, within the cap', () => {
  assert.equal(backoff(0, 5000, () => 0), 5000);
  assert.equal(backoff(5, 5000, () => 0), 16000, 'the backoff when longer');
  assert.equal(backoff(0, 120000, () => 0), 60000, 'capped');
});

test('parseRetryAfter: seconds, HTTP date, junk', () => {
  const now = Date.parse('2026-03-01T09:00:00Z');
  assert.equal(parseRetryAfter('1', now), 1000);
  assert.equal(parseRetryAfter('2.5', now), 2500);
  assert.equal(parseRetryAfter('0', now), 0);
  assert.equal(parseRetryAfter(null, now), 0);
  assert.equal(parseRetryAfter('', now), 0);
  assert.equal(parseRetryAfter('soon', now), 0);
  assert.equal(parseRetryAfter('Sun, 01 Mar 2026 09:00:30 GMT', now), 30000);
  assert.equal(parseRetryAfter('Sun, 01 Mar 2026 08:00:00 GMT', now), 0, 'a date in the past');
});

test('utm: Segment campaign from a URL', () => {
  assert.deepEqual(
    utm('https://books.example.com/event/summer?utm_source=naver&utm_medium=cpc&utm_campaign=summer_sale_2026&utm_term=novel&utm_content=banner%20a&x=1'),
    { source: 'naver', medium: 'cpc', name: 'summer_sale_2026', term: 'novel', content: 'banner a' });
  assert.deepEqual(utm('https://x.example/?utm_campaign=c1#top'), { name: 'c1' });
  assert.equal(utm('https://x.example/?a=1'), null);
  assert.equal(utm('https://x.example/?utm_source='), null, 'empty values are absent');
  assert.equal(utm('not a url'), null);
  assert.equal(campaignKey(null), '');
  assert.equal(campaignKey({ source: 'naver', medium: 'cpc', name: 's', term: 't' }), 'naver|cpc|s');
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('uuid: randomUUID, getRandomValues and Math.random fallbacks', () => {
  assert.match(uuid(), UUID);
  assert.equal(uuid({ randomUUID: () => 'fixed' }), 'fixed');
  const viaGRV = uuid({ getRandomValues: (b) => globalThis.crypto.getRandomValues(b) });
  assert.match(viaGRV, UUID);
  assert.match(uuid(null), UUID);
  assert.match(uuid({ getRandomValues: (b) => b.fill(255) }), /^ffffffff-ffff-4fff-bfff-ffffffffffff$/);
  const seen = new Set();
  for (let i = 0; i < 1000; i++) seen.add(uuid(null));
  assert.equal(seen.size, 1000);
});

test('message: Segment shape', () => {
  const page = { url: 'https://x.example/a?utm_campaign=c', path: '/a', title: 'A', referrer: 'https://ref.example/' };
  const env = {
    now: Date.parse('2026-03-01T09:00:00.123Z'), anonymousId: 'anon-1', userId: 'member-1', sessionId: 's-1', seq: 7,
    page, campaign: { name: 'c' }, locale: 'ko-KR', timezone: 'Asia/Seoul', screen: { width: 390, height: 844, density: 3 },
  };
  const m = message('track', { event: 'banner_click', properties: { banner: 'b1' } }, env);
  assert.match(m.messageId, UUID);
  assert.deepEqual({ ...m, messageId: 'x' }, {
    type: 'track', messageId: 'x', anonymousId: 'anon-1', userId: 'member-1',
    timestamp: '2026-03-01T09:00:00.123Z', event: 'banner_click', properties: { banner: 'b1' },
    context: {
      page, campaign: { name: 'c' }, library: { name: 'actlog.js', version: VERSION },
      locale: 'ko-KR', timezone: 'Asia/Seoul', screen: { width: 390, height: 844, density: 3 }, sessionId: 's-1', seq: 7,
    },
  });
  const anon = message('page', { properties: {} }, { ...env, userId: null, campaign: null, id: 'given', extra: { dropped: 3 } });
  assert.equal('userId' in anon, false);
  assert.equal('campaign' in anon.context, false);
  assert.equal(anon.messageId, 'given');
  assert.equal(anon.context.dropped, 3);
  assert.notEqual(message('page', {}, env).messageId, message('page', {}, env).messageId);
});

test('clickData: data-track-* into event and properties', () => {
  assert.deepEqual(clickData({ trackEvent: 'banner_click', trackSection: 'new_releases', trackBanner: 'summer', trackBannerPos: '3', other: 'x', tracker: 'no' }),
    { event: 'banner_click', properties: { section: 'new_releases', banner: 'summer', banner_pos: '3' } });
  assert.deepEqual(clickData({ trackEvent: 'x' }), { event: 'x', properties: {} });
  assert.equal(clickData({ trackSection: 's' }), null);
  // Ancestors' data-track-* fill what the element does not say; nearest wins.
  assert.deepEqual(clickData({ trackEvent: 'banner_click', trackPos: '1' }, [{ trackBanner: 'summer' }, { trackSection: 'feed', trackBanner: 'outer' }, {}]),
    { event: 'banner_click', properties: { pos: '1', banner: 'summer', section: 'feed' } });
  assert.equal(clickData({ trackEvent: '' }), null);
  assert.equal(clickData(undefined), null);
});
