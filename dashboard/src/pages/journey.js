// pages/journey.js: one member's events from A to Z across sessions and
// devices (GET /api/v1/users/{id}/journey), as a timeline: a separator per
// session (its id, start and device), then each event with its time, name,
// page or screen, section and banner tags, and a bar as long as its dwell.
import { h, mount } from '../dom.js';
import { api } from '../api.js';
import { t } from '../i18n.js';
import { dateTime, duration, num, time } from '../format.js';
import { params, setParams } from '../router.js';
import { currentRange } from '../range.js';
import { field, kpis, pageHead, results, runner, runButton } from '../ui.js';

// sessions groups the events by session, in the order the sessions began
// (a member's sessions on two devices may overlap in time).
function sessions(events) {
  const byId = new Map();
  for (const e of events) {
    const key = e.session_id ?? '';
    if (!byId.has(key)) byId.set(key, { id: e.session_id, events: [] });
    byId.get(key).events.push(e);
  }
  return [...byId.values()];
}

const device = (e) => [e.device_type, e.os, e.browser].filter(Boolean).join(' · ');

export default {
  path: '/journey',
  nav: 'nav.journey',
  render(root, ctx) {
    const res = results();
    const input = h('input', { type: 'search', value: params().get('id') || '', placeholder: t('journey.placeholder'), required: true });
    const btn = runButton(t('journey.search'));

    function draw(d) {
      if (!d.events.length) { res.empty(t('journey.none')); return; }
      const groups = sessions(d.events);
      const maxDwell = Math.max(1, ...d.events.map((e) => e.dwell_ms || 0));
      res.show(
        kpis([
          ['member', t('journey.member'), d.member],
          ['events', t('journey.events'), d.events.length],
          ['sessions', t('journey.sessions'), groups.length],
        ]),
        d.truncated ? h('p', { class: 'note' }, t('journey.truncated', { n: num(d.events.length) })) : null,
        h('ol', { class: 'timeline' }, groups.map((g) => h('li', { class: 'session' },
          h('div', { class: 'session-head' },
            h('strong', null, t('journey.session')), ' ', h('code', null, g.id || '–'),
            h('span', { class: 'muted' }, ' · ', dateTime(g.events[0].ts), ' · ', device(g.events[0]) || t('value.unknownDevice'),
              ' · ', t('journey.eventsIn', { n: num(g.events.length) }))),
          h('ol', { class: 'steps' }, g.events.map((e) => h('li', { class: 'step' },
            h('time', { datetime: e.ts }, time(e.ts)),
            h('span', { class: 'ev-name' }, e.event || e.type),
            h('span', { class: 'ev-place' }, e.page_path || e.screen_name || ''),
            h('span', { class: 'tags' },
              e.section ? h('span', { class: 'tag', title: t('col.section') }, e.section) : null,
              e.banner ? h('span', { class: 'tag tag-banner', title: t('col.banner') }, e.banner) : null,
              e.utm_campaign ? h('span', { class: 'tag tag-utm', title: 'utm_campaign' }, e.utm_campaign) : null),
            h('span', { class: 'dwell', title: t('journey.dwell') },
              h('span', { class: 'dwell-track' }, h('span', { class: 'dwell-bar', style: { width: e.dwell_ms ? Math.max(2, 100 * e.dwell_ms / maxDwell) + '%' : '0' } })),
              h('span', { class: 'dwell-text' }, e.dwell_ms == null ? '' : duration(e.dwell_ms))))))))));
    }

    const run = runner(ctx, btn, res, (signal) => {
      const id = input.value.trim();
      const r = currentRange();
      return api(`/api/v1/users/${encodeURIComponent(id)}/journey`, { query: { from: r.from, to: r.to }, signal });
    }, draw);

    const recent = h('div', { class: 'recent' });
    const search = () => { setParams({ id: input.value.trim() }, { push: true }); run(); };
    mount(root,
      pageHead('nav.journey', () => { if (input.value.trim()) run(); }),
      h('form', { class: 'card controls', onSubmit: (e) => { e.preventDefault(); search(); }, role: 'search' },
        field(t('journey.id'), input, 'grow'), h('div', { class: 'actions' }, btn)),
      recent,
      res.el);

    if (input.value.trim()) run();
    else {
      res.empty(t('journey.hint'));
      // Members who signed in lately, to start from.
      api('/api/v1/events', { query: { where: [{ field: 'event', op: 'eq', value: 'identify' }], limit: '50' }, signal: ctx.signal }).then((d) => {
        const ids = [...new Set(d.events.map((e) => e.user_id).filter(Boolean))].slice(0, 8);
        if (ids.length) mount(recent, h('span', { class: 'muted' }, t('journey.recent')), ids.map((id) => h('button', {
          type: 'button', class: 'chip', onClick: () => { input.value = id; mount(recent); search(); },
        }, id)));
      }, () => {});
    }
  },
};
