// pages/retention.js: of the members who did a start event in a day or week,
// how many came back with a return event in each later period (POST
// /api/v1/retention), as a cohort grid coloured by rate; periods that had
// not begun by the range's end stay blank.
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { num, pct } from '../format.js';
import { params, setParams } from '../router.js';
import { analysisPage, pick } from '../analysis.js';
import { card, field, select } from '../ui.js';

// cellStyle shades a rate from white to the accent colour.
const cellStyle = (rate) => ({ background: `rgba(59, 111, 216, ${(0.08 + 0.82 * rate).toFixed(3)})`, color: rate > 0.5 ? '#fff' : 'inherit' });

export default {
  path: '/retention',
  nav: 'nav.retention',
  render(root, ctx) {
    const p = params();
    const state = {
      start: p.get('start') || 'identify',
      ret: p.get('return') || 'page_view',
      period: p.get('period') === 'week' ? 'week' : 'day',
      periods: Math.min(100, Math.max(1, Number(p.get('periods')) || 8)),
    };
    analysisPage(root, ctx, {
      nav: 'nav.retention',
      endpoint: '/api/v1/retention',
      keep: (push) => setParams({ start: state.start, return: state.ret, period: state.period, periods: String(state.periods) }, { push }),
      request: () => ({ start_event: state.start, return_event: state.ret, period: state.period, periods: state.periods }),
      controls: (catalog) => {
        state.start = pick(catalog, state.start);
        state.ret = pick(catalog, state.ret);
        return [
          field(t('retention.start'), select(catalog.events, state.start, (v) => { state.start = v; })),
          field(t('retention.return'), select(catalog.events, state.ret, (v) => { state.ret = v; })),
          field(t('retention.period'), select([['day', t('retention.day')], ['week', t('retention.week')]], state.period, (v) => { state.period = v; })),
          field(t('retention.periods'), h('input', { type: 'number', min: '1', max: '100', value: String(state.periods), onInput: (e) => { state.periods = Math.min(100, Math.max(1, Number(e.target.value) || 1)); } }), 'narrow'),
        ];
      },
      draw: (d, res) => {
        if (!d.cohorts.length) { res.empty(); return; }
        const n = Math.max(...d.cohorts.map((c) => c.values.length));
        const unit = d.period === 'week' ? t('retention.weekN') : t('retention.dayN');
        // The mean rate of each period, weighted by cohort size, over the
        // cohorts that reached it.
        const mean = Array.from({ length: n }, (_, i) => {
          const known = d.cohorts.filter((c) => c.values[i] != null);
          const actors = known.reduce((a, c) => a + c.actors, 0);
          return actors ? known.reduce((a, c) => a + c.values[i], 0) / actors : null;
        });
        const total = d.cohorts.reduce((a, c) => a + c.actors, 0);
        const cell = (value, rate) => (value == null
          ? h('td', { class: 'num blank' })
          : h('td', { class: 'num heat', style: cellStyle(rate), title: `${num(value)} · ${pct(rate)}` }, pct(rate)));
        res.show(card(t('retention.grid'), h('div', { class: 'table-wrap' }, h('table', { class: 'cohorts', 'data-table': 'retention' },
          h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('retention.cohort')), h('th', { scope: 'col', class: 'num' }, t('col.members')),
            Array.from({ length: n }, (_, i) => h('th', { scope: 'col', class: 'num' }, unit.replace('{n}', i))))),
          h('tbody', null,
            h('tr', { class: 'mean' }, h('th', { scope: 'row' }, t('retention.mean')), h('td', { class: 'num' }, num(total)),
              mean.map((m) => (m == null ? h('td', { class: 'num blank' }) : h('td', { class: 'num heat', style: cellStyle(m) }, pct(m))))),
            d.cohorts.map((c) => h('tr', null, h('th', { scope: 'row' }, c.start), h('td', { class: 'num' }, num(c.actors)),
              c.values.map((v, i) => cell(v, c.rates[i]))))))),
        h('p', { class: 'muted small' }, t('retention.note'))));
      },
    });
  },
};
