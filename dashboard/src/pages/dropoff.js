// pages/dropoff.js: of the sessions that reached a page (by default the
// payment page), how many converted, and where the others stopped: their
// last event and its share (POST /api/v1/dropoff).
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { num, pct } from '../format.js';
import { jsonParam, params, setParams } from '../router.js';
import { chart } from '../charts.js';
import { cleanWhere, eventFilters, parseWindow, windowInput, windowText } from '../filters.js';
import { analysisPage } from '../analysis.js';
import { card, field, kpis, table } from '../ui.js';

const DEFAULT_PAGE = { event: 'page_view', where: [{ field: 'page_path', op: 'eq', value: '/payment' }] };
const DEFAULT_CONVERSION = { event: 'payment_success', where: [] };
const SESSION_TIMEOUT = 1800; // what the window input shows when the URL names none
const CHART_ROWS = 10;

const anchor = (name, fallback) => {
  const v = jsonParam(name, null);
  return v && typeof v.event === 'string' ? { event: v.event, where: Array.isArray(v.where) ? v.where : [] } : structuredClone(fallback);
};
const spec = (a) => ({ event: a.event, ...(cleanWhere(a.where).length ? { where: cleanWhere(a.where) } : {}) });
const lastLabel = (r) => r.event + (r.page_path ? ` · ${r.page_path}` : '');

export default {
  path: '/dropoff',
  nav: 'nav.dropoff',
  render(root, ctx) {
    const state = {
      page: anchor('page', DEFAULT_PAGE),
      conversion: anchor('conversion', DEFAULT_CONVERSION),
      window: parseWindow(params().get('window'), null),
    };
    analysisPage(root, ctx, {
      nav: 'nav.dropoff',
      endpoint: '/api/v1/dropoff',
      keep: (push) => setParams({ page: spec(state.page), conversion: spec(state.conversion), window: state.window ? windowText(state.window) : null }, { push }),
      request: () => ({ page: spec(state.page), conversion: spec(state.conversion), ...(state.window ? { window_seconds: state.window } : {}) }),
      controls: (catalog, redraw) => [
        eventFilters(t('dropoff.page'), state.page, catalog, redraw),
        eventFilters(t('dropoff.conversion'), state.conversion, catalog, redraw),
        field(t('dropoff.window'), windowInput(state.window || SESSION_TIMEOUT, (s) => { state.window = s; })),
      ],
      draw: (d, res) => {
        if (!d.reached) { res.empty(); return; }
        const el = h('div', { class: 'chart' });
        const top = d.rows.slice(0, CHART_ROWS).reverse();
        res.show(
          kpis([
            ['reached', t('dropoff.reached'), d.reached],
            ['converted', t('dropoff.converted'), d.converted, pct(d.converted / d.reached)],
            ['dropped', t('dropoff.dropped'), d.dropped, pct(d.dropped / d.reached)],
          ]),
          top.length ? card(t('dropoff.chart'), el) : null,
          card(t('dropoff.table'), table([
            { label: t('dropoff.lastEvent'), value: (r) => r.event },
            { label: t('col.page'), value: (r) => r.page_path ?? '' },
            { label: t('col.sessions'), value: (r) => num(r.sessions), num: true },
            { label: t('dropoff.share'), value: (r) => pct(r.share), num: true },
          ], d.rows, { 'data-table': 'dropoff' })));
        if (top.length) {
          chart(el, {
            grid: { left: 8, right: 56, top: 8, bottom: 24, containLabel: true },
            tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: pct },
            xAxis: { type: 'value', axisLabel: { formatter: (v) => pct(v) } },
            yAxis: { type: 'category', data: top.map(lastLabel), axisLabel: { width: 220, overflow: 'truncate' } },
            series: [{ type: 'bar', name: t('dropoff.share'), data: top.map((r) => r.share), itemStyle: { color: '#d9534f' }, label: { show: true, position: 'right', formatter: (x) => pct(x.value) } }],
          });
        }
      },
    });
  },
};
