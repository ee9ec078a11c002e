// pages/overview.js: the morning page. Events per minute over the last hour
// (refreshed every 10 s while the tab is visible, alone), active members today,
// events and members in the range, accepted against rejected, the top events
// and pages, and the consumer lag when actlog reads from Kafka.
import { h, mount } from '../dom.js';
import { api, isAbort } from '../api.js';
import { t } from '../i18n.js';
import { clock, num, pct } from '../format.js';
import { currentRange } from '../range.js';
import { chart } from '../charts.js';
import { card, kpis, pageHead, results, table } from '../ui.js';

const REFRESH_MS = 10000;

export default {
  path: '/',
  nav: 'nav.overview',
  render(root, ctx) {
    const res = results();
    let line = null; // the per-minute chart, kept across refreshes
    const figures = h('div');
    const rest = h('div');
    let seq = 0; // the latest load; an older answer is dropped
    let busy = false;

    const lineOption = (perMinute) => ({
      grid: { left: 48, right: 16, top: 16, bottom: 28 },
      tooltip: { trigger: 'axis', valueFormatter: num },
      xAxis: { type: 'category', data: perMinute.map((p) => clock(p.t)), boundaryGap: false },
      yAxis: { type: 'value', minInterval: 1 },
      series: [{ type: 'line', name: t('overview.events'), data: perMinute.map((p) => p.events), showSymbol: false, areaStyle: { opacity: 0.12 } }],
    });

    function fill(d) {
      const total = d.events + d.rejected;
      mount(figures, kpis([
        ['active_today', t('overview.activeToday'), d.active_members_today],
        ['events', t('overview.events'), d.events],
        ['members', t('overview.members'), d.members],
        ['accepted', t('overview.accepted'), d.events, total ? pct(d.events / total) : null],
        ['rejected', t('overview.rejected'), d.rejected, total ? pct(d.rejected / total) : null],
      ]));
      mount(rest,
        d.kafka ? card(t('overview.kafka'),
          kpis([['lag', t('overview.lag'), d.kafka.lag]]),
          table([
            { label: t('overview.topic'), value: (p) => p.topic },
            { label: t('overview.partition'), value: (p) => p.partition, num: true },
            { label: t('overview.lag'), value: (p) => num(p.lag), num: true },
          ], d.kafka.partitions || [])) : null,
        d.events === 0 ? h('div', { class: 'state empty' }, t('state.empty')) : h('div', { class: 'grid2' },
          card(t('overview.topEvents'), table([
            { label: t('col.event'), value: (r) => r.value },
            { label: t('col.count'), value: (r) => num(r.count), num: true },
          ], d.top_events || [], { 'data-table': 'top-events' })),
          card(t('overview.topPages'), table([
            { label: t('col.page'), value: (r) => r.value ?? t('value.none') },
            { label: t('col.count'), value: (r) => num(r.count), num: true },
          ], d.top_pages || [], { 'data-table': 'top-pages' }))));
    }

    async function load(refresh) {
      if (refresh && busy) return;
      const mine = ++seq;
      busy = true;
      const r = currentRange();
      if (!refresh) res.loading();
      try {
        if (refresh) { // only the last hour moves: ask for it alone
          const m = await api('/api/v1/overview/minutes', { signal: ctx.signal });
          if (mine === seq && line) line.setOption(lineOption(m.per_minute || []));
          return;
        }
        const d = await api('/api/v1/overview', { query: { from: r.from, to: r.to }, signal: ctx.signal });
        if (mine !== seq) return;
        fill(d);
        const lineEl = h('div', { class: 'chart chart-sm' });
        res.show(figures, card(t('overview.perMinute'), lineEl), rest);
        line = chart(lineEl, lineOption(d.per_minute || []));
      } catch (e) {
        if (!isAbort(e) && !refresh && mine === seq) res.error(e.message);
      } finally {
        if (mine === seq) busy = false;
      }
    }

    mount(root, pageHead('nav.overview', () => { line = null; load(false); }), res.el);
    load(false);
    const timer = setInterval(() => { if (document.visibilityState === 'visible') load(true); }, REFRESH_MS);
    ctx.onCleanup(() => clearInterval(timer));
  },
};
