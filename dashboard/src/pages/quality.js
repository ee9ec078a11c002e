// pages/quality.js: the events actlog refused in the range (GET
// /api/v1/rejected), by reason and source, each with a few samples of what
// was sent, to find the client that sends them.
import { h, mount } from '../dom.js';
import { api } from '../api.js';
import { t } from '../i18n.js';
import { dateTime, num, pct } from '../format.js';
import { currentRange } from '../range.js';
import { card, kpis, pageHead, pre, results, runner } from '../ui.js';

export default {
  path: '/quality',
  nav: 'nav.quality',
  render(root, ctx) {
    const res = results();
    const run = runner(ctx, null, res, (signal) => {
      const r = currentRange();
      return api('/api/v1/rejected', { query: { from: r.from, to: r.to }, signal });
    }, (d) => {
      if (!d.total) { res.empty(t('quality.none')); return; }
      res.show(
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
              pre(s.raw)))) : h('p', { class: 'muted' }, t('quality.noSamples'))))))));
    });
    mount(root, pageHead('nav.quality', run), res.el);
    run();
  },
};
