// pages/quality.js: the events actlog refused in the range (GET
// /api/v1/rejected), by reason and source, each with a few samples of what
// was sent, to find the client that sends them; and the tracking plan's
// violations (GET /api/v1/plan/violations), flagged and rejected, by event
// and rule.
import { h, mount } from '../dom.js';
import { api } from '../api.js';
import { t } from '../i18n.js';
import { dateTime, num, pct } from '../format.js';
import { currentRange } from '../range.js';
import { card, kpis, pageHead, pre, results, runner, table } from '../ui.js';

export default {
  path: '/quality',
  nav: 'nav.quality',
  render(root, ctx) {
    const res = results();
    const run = runner(ctx, null, res, async (signal) => {
      const r = currentRange();
      const query = { from: r.from, to: r.to };
      const [rejected, plan] = await Promise.all([
        api('/api/v1/rejected', { query, signal }),
        api('/api/v1/plan/violations', { query, signal }),
      ]);
      return { ...rejected, plan };
    }, (d) => {
      const v = d.plan;
      if (!d.total && !v.rules.length) { res.empty(t('quality.none')); return; }
      res.show(
        v.plan || v.rules.length ? card(t('quality.plan'), h('div', null,
          v.plan ? h('p', { class: 'muted small', 'data-plan': v.plan.file }, t('quality.planInForce', { n: v.plan.events, mode: v.plan.enforcement.default }), ' · ', dateTime(v.plan.loaded_at)) : null,
          kpis([['flagged', t('quality.flagged'), v.flagged_events], ['plan-rejected', t('quality.planRejected'), v.rejected_events]]),
          v.rules.length ? table([
            { label: t('quality.event'), value: (x) => x.event },
            { label: t('quality.rule'), value: (x) => h('span', { class: 'tag' }, x.rule) },
            { label: t('quality.path'), value: (x) => h('code', null, x.path || '—') },
            { label: t('quality.flagged'), num: true, value: (x) => num(x.flagged) },
            { label: t('quality.planRejected'), num: true, value: (x) => num(x.rejected) },
            { label: t('quality.sources'), value: (x) => x.sources.join(', ') },
            { label: t('quality.example'), value: (x) => h('span', { class: 'muted small' }, x.example) },
          ], v.rules, { 'data-table': 'violations' }) : h('p', { class: 'muted' }, t('quality.noViolations')))) : null,
        !d.total ? null : h('div', null,
        kpis([['rejected', t('quality.total'), d.total], ['reasons', t('quality.reasons'), d.reasons.length]]),
        card(t('quality.byReason'), h('ul', { class: 'reasons', 'data-table': 'rejected' }, d.reasons.map((r) => h('li', null,
          h('details', null,
            h('summary', null,
              h('span', { class: 'reason' }, r.reason),
              h('span', { class: 'tag' }, r.source),
              h('span', { class: 'count num' }, num(r.count)),
              h('span', { class: 'muted share' }, pct(r.count / d.total))),
            (r.samples || []).length ? h('ol', { class: 'samples' }, r.samples.map((s) => h('li', null,
              h('div', { class: 'muted small' }, dateTime(s.received_at), ' · ', t('quality.index', { n: s.index }), s.message_id ? ' · ' + s.message_id : ''),
              pre(s.raw)))) : h('p', { class: 'muted' }, t('quality.noSamples')))))))));
    });
    mount(root, pageHead('nav.quality', run), res.el);
    run();
  },
};
