// pages/dwell.js: how long people stay on each page, screen or event (POST
// /api/v1/dwell): views, median and 90th percentile, the tracker's engaged
// time, and the distribution of dwell times of the most viewed keys.
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { duration, num, pct } from '../format.js';
import { jsonParam, params, setParams } from '../router.js';
import { chart } from '../charts.js';
import { cleanWhere, filterEditor } from '../filters.js';
import { analysisPage } from '../analysis.js';
import { card, field, select, table } from '../ui.js';

const CHART_KEYS = 10;

// bucketLabels names the buckets between bounds: "< 1s", "1s–5s", …, "≥ 10m".
function bucketLabels(bounds) {
  const d = (ms) => (ms < 60000 ? `${ms / 1000}${t('unit.s')}` : ms < 3600000 ? `${ms / 60000}${t('unit.m')}` : `${ms / 3600000}${t('unit.h')}`);
  return [...bounds.map((b, i) => (i === 0 ? `< ${d(b)}` : `${d(bounds[i - 1])}–${d(b)}`)), `≥ ${d(bounds[bounds.length - 1])}`];
}

export default {
  path: '/dwell',
  nav: 'nav.dwell',
  render(root, ctx) {
    const p = params();
    const state = {
      by: ['page_path', 'screen_name', 'event'].includes(p.get('by')) ? p.get('by') : 'page_path',
      until: p.get('until') === 'next_view' ? 'next_view' : 'next_event',
      where: jsonParam('where', []),
      limit: Math.min(1000, Math.max(1, Number(p.get('limit')) || 25)),
    };
    analysisPage(root, ctx, {
      nav: 'nav.dwell',
      endpoint: '/api/v1/dwell',
      keep: (push) => setParams({
        by: state.by, until: state.until === 'next_event' ? null : state.until,
        where: cleanWhere(state.where).length ? cleanWhere(state.where) : null, limit: String(state.limit),
      }, { push }),
      request: () => ({ by: state.by, until: state.until, limit: state.limit, ...(cleanWhere(state.where).length ? { where: cleanWhere(state.where) } : {}) }),
      controls: (catalog) => [
        field(t('dwell.by'), select([['page_path', t('by.page_path')], ['screen_name', t('by.screen_name')], ['event', t('by.event')]], state.by, (v) => { state.by = v; })),
        field(t('dwell.until'), select([['next_event', t('dwell.nextEvent')], ['next_view', t('dwell.nextView')]], state.until, (v) => { state.until = v; })),
        h('div', { class: 'field grow' }, h('span', null, t('filter.title')), filterEditor(state.where, catalog.fields, () => {})),
        field(t('dwell.limit'), h('input', { type: 'number', min: '1', max: '1000', value: String(state.limit), onInput: (e) => { state.limit = Math.min(1000, Math.max(1, Number(e.target.value) || 1)); } }), 'narrow'),
      ],
      draw: (d, res) => {
        if (!d.rows.length) { res.empty(); return; }
        const withBuckets = d.bucket_bounds_ms && d.rows.some((r) => r.buckets);
        const el = h('div', { class: 'chart' });
        res.show(
          withBuckets ? card(t('dwell.distribution', { n: Math.min(CHART_KEYS, d.rows.length) }), el) : null,
          card(t('dwell.table'), table([
            { label: t('col.' + state.by), value: (r) => r.key ?? t('value.none') },
            { label: t('dwell.views'), value: (r) => num(r.views), num: true },
            { label: t('dwell.p50'), value: (r) => duration(r.p50_ms), num: true },
            { label: t('dwell.p90'), value: (r) => duration(r.p90_ms), num: true },
            state.by === 'page_path' ? { label: t('dwell.engaged'), value: (r) => duration(r.avg_engaged_ms), num: true } : null,
          ].filter(Boolean), d.rows, { 'data-table': 'dwell' })));
        if (!withBuckets) return;
        const top = d.rows.slice(0, CHART_KEYS).reverse();
        const labels = bucketLabels(d.bucket_bounds_ms);
        const share = (r, i) => { const total = (r.buckets || []).reduce((a, b) => a + b, 0); return total ? (r.buckets[i] || 0) / total : 0; };
        chart(el, {
          grid: { left: 8, right: 16, top: 36, bottom: 24, containLabel: true },
          legend: { top: 0, type: 'scroll' },
          tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: pct },
          xAxis: { type: 'value', max: 1, axisLabel: { formatter: (v) => pct(v) } },
          yAxis: { type: 'category', data: top.map((r) => r.key ?? t('value.none')), axisLabel: { width: 180, overflow: 'truncate' } },
          color: ['#14a37f', '#5cc19a', '#a3d9a5', '#f3d27a', '#f0a32f', '#e0713c', '#d9534f', '#9b2d2a'],
          series: labels.map((name, i) => ({ type: 'bar', stack: 'dwell', name, data: top.map((r) => share(r, i)) })),
        });
      },
    });
  },
};
