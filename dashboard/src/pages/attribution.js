// pages/attribution.js: which banner, section, campaign, source or referrer
// gets the credit for a conversion (POST /api/v1/attribution), first or last
// touch within a window: a bar chart and a ranked table with rates.
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { num, pct } from '../format.js';
import { jsonParam, params, setParams } from '../router.js';
import { chart } from '../charts.js';
import { cleanWhere, eventFilters, parseWindow, windowInput, windowText } from '../filters.js';
import { analysisPage, pick } from '../analysis.js';
import { card, field, kpis, select, table } from '../ui.js';

const TOUCHES = ['banner', 'section', 'utm_campaign', 'utm_source', 'referrer'];
const DEFAULT_WINDOW = 30 * 86400;
const CHART_ROWS = 15;

export default {
  path: '/attribution',
  nav: 'nav.attribution',
  render(root, ctx) {
    const p = params();
    const state = {
      conversion: { event: p.get('event') || 'payment_success', where: jsonParam('where', []) },
      touch: TOUCHES.includes(p.get('touch')) ? p.get('touch') : 'banner',
      model: p.get('model') === 'first' ? 'first' : 'last',
      window: parseWindow(p.get('window'), DEFAULT_WINDOW),
    };
    analysisPage(root, ctx, {
      nav: 'nav.attribution',
      endpoint: '/api/v1/attribution',
      keep: (push) => setParams({
        event: state.conversion.event, where: cleanWhere(state.conversion.where).length ? cleanWhere(state.conversion.where) : null, touch: state.touch,
        model: state.model, window: state.window === DEFAULT_WINDOW ? null : windowText(state.window),
      }, { push }),
      request: () => ({
        conversion: { event: state.conversion.event, ...(cleanWhere(state.conversion.where).length ? { where: cleanWhere(state.conversion.where) } : {}) },
        touch: state.touch, model: state.model, window_seconds: state.window,
      }),
      controls: (catalog, redraw) => {
        state.conversion.event = pick(catalog, state.conversion.event);
        return [
          eventFilters(t('attribution.conversion'), state.conversion, catalog, redraw),
          field(t('attribution.touch'), select(TOUCHES, state.touch, (v) => { state.touch = v; })),
          field(t('attribution.model'), select([['last', t('attribution.last')], ['first', t('attribution.first')]], state.model, (v) => { state.model = v; })),
          field(t('attribution.window'), windowInput(state.window, (s) => { state.window = s; })),
        ];
      },
      draw: (d, res) => {
        if (!d.conversions && !d.rows.length) { res.empty(); return; }
        const el = h('div', { class: 'chart' });
        const top = d.rows.filter((r) => r.conversions > 0).slice(0, CHART_ROWS).reverse();
        const attributed = d.conversions - d.unattributed;
        res.show(
          kpis([
            ['conversions', t('attribution.conversions'), d.conversions],
            ['attributed', t('attribution.attributed'), attributed, d.conversions ? pct(attributed / d.conversions) : null],
            ['unattributed', t('attribution.unattributed'), d.unattributed, d.conversions ? pct(d.unattributed / d.conversions) : null],
          ]),
          top.length ? card(t('attribution.chart', { touch: state.touch }), el) : null,
          card(t('attribution.table'), table([
            { label: '#', value: (_, i) => i + 1, num: true },
            { label: state.touch, value: (r) => r.touch },
            { label: t('col.members'), value: (r) => num(r.actors), num: true },
            { label: t('attribution.conversions'), value: (r) => num(r.conversions), num: true },
            { label: t('attribution.rateCol'), value: (r) => pct(r.conversion_rate), num: true },
          ], d.rows, { 'data-table': 'attribution' })));
        if (top.length) {
          chart(el, {
            grid: { left: 8, right: 48, top: 8, bottom: 24, containLabel: true },
            tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: num },
            xAxis: { type: 'value', minInterval: 1 },
            yAxis: { type: 'category', data: top.map((r) => r.touch), axisLabel: { width: 180, overflow: 'truncate' } },
            series: [{ type: 'bar', name: t('attribution.conversions'), data: top.map((r) => r.conversions), label: { show: true, position: 'right', formatter: (x) => num(x.value) } }],
          });
        }
      },
    });
  },
};
