// pages/paths.js: where sessions go after (or came from before) an event
// (POST /api/v1/paths), by event name, page path or screen, as a Sankey.
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { html, num } from '../format.js';
import { jsonParam, params, setParams } from '../router.js';
import { chart } from '../charts.js';
import { cleanWhere, eventFilters } from '../filters.js';
import { analysisPage, pick } from '../analysis.js';
import { card, field, kpis, select, table } from '../ui.js';

const stripStep = (name) => name.replace(/^-?\d+ /, '');

export default {
  path: '/paths',
  nav: 'nav.paths',
  render(root, ctx) {
    const p = params();
    const num0 = (k, d, max) => Math.min(max, Math.max(1, Number(p.get(k)) || d));
    const state = {
      anchor: p.get('anchor') === 'end' ? 'end' : 'start',
      anchorEvent: { event: p.get('event') || 'page_view', where: jsonParam('where', []) },
      by: ['event', 'page_path', 'screen_name'].includes(p.get('by')) ? p.get('by') : 'page_path',
      depth: num0('depth', 5, 20),
      limit: num0('limit', 10, 50),
    };
    const numberInput = (key, max) => h('input', { type: 'number', min: '1', max: String(max), value: String(state[key]), onInput: (e) => { state[key] = Math.min(max, Math.max(1, Number(e.target.value) || 1)); } });

    analysisPage(root, ctx, {
      nav: 'nav.paths',
      endpoint: '/api/v1/paths',
      keep: (push) => setParams({
        anchor: state.anchor === 'start' ? null : state.anchor, event: state.anchorEvent.event,
        where: cleanWhere(state.anchorEvent.where).length ? cleanWhere(state.anchorEvent.where) : null,
        by: state.by, depth: String(state.depth), limit: String(state.limit),
      }, { push }),
      request: () => ({
        [state.anchor]: { event: state.anchorEvent.event, ...(cleanWhere(state.anchorEvent.where).length ? { where: cleanWhere(state.anchorEvent.where) } : {}) },
        by: state.by, depth: state.depth, limit: state.limit,
      }),
      controls: (catalog, redraw) => {
        state.anchorEvent.event = pick(catalog, state.anchorEvent.event);
        return [
          field(t('paths.anchor'), select([['start', t('paths.start')], ['end', t('paths.end')]], state.anchor, (v) => { state.anchor = v; })),
          eventFilters(t('col.event'), state.anchorEvent, catalog, redraw),
          field(t('paths.by'), select([['event', t('by.event')], ['page_path', t('by.page_path')], ['screen_name', t('by.screen_name')]], state.by, (v) => { state.by = v; })),
          field(t('paths.depth'), numberInput('depth', 20), 'narrow'),
          field(t('paths.limit'), numberInput('limit', 50), 'narrow'),
        ];
      },
      draw: (d, res) => {
        if (!d.sessions || !d.links.length) { res.empty(); return; }
        const el = h('div', { class: 'chart chart-lg' });
        const nodes = [...d.nodes].sort((a, b) => a.step - b.step || b.sessions - a.sessions);
        res.show(
          kpis([['sessions', t('col.sessions'), d.sessions]]),
          card(null, el),
          card(t('paths.nodes'), h('details', null, h('summary', null, t('paths.showNodes', { n: num(nodes.length) })),
            table([
              { label: t('paths.step'), value: (n) => n.step, num: true },
              { label: t('paths.value'), value: (n) => n.value },
              { label: t('col.sessions'), value: (n) => num(n.sessions), num: true },
            ], nodes, { 'data-table': 'path-nodes' }))));
        chart(el, {
          tooltip: {
            trigger: 'item',
            formatter: (x) => (x.dataType === 'edge'
              ? `${html(stripStep(x.data.source))} → ${html(stripStep(x.data.target))}<br>${num(x.data.value)} ${html(t('col.sessions'))}`
              : `${html(stripStep(x.name))}<br>${num(x.value)} ${html(t('col.sessions'))}`),
          },
          series: [{
            type: 'sankey', left: 8, right: 120, top: 8, bottom: 8, nodeAlign: 'left', nodeGap: 10, draggable: false,
            emphasis: { focus: 'adjacency' },
            lineStyle: { color: 'gradient', opacity: 0.35 },
            label: { formatter: (x) => stripStep(x.name), fontSize: 11 },
            data: d.nodes.map((n) => ({ name: n.name })),
            links: d.links,
          }],
        });
      },
    });
  },
};
