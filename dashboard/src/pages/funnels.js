// pages/funnels.js: the funnel builder and its answer (POST /api/v1/funnel).
// Steps are catalog events, each with property filters; window, counting by
// member or session and a breakdown field complete the request. The whole
// builder lives in the URL (steps, window, by, breakdown, saved). Funnels can
// be saved by name, listed, reopened (which runs them), renamed and deleted
// through /api/v1/saved/funnels; a saved funnel keeps its definition, not a
// time range: it runs over the range the page shows.
import { h, mount } from '../dom.js';
import { api } from '../api.js';
import { t } from '../i18n.js';
import { date, duration, html, num, pct } from '../format.js';
import { jsonParam, params, setParams } from '../router.js';
import { currentRange } from '../range.js';
import { chart } from '../charts.js';
import { fieldsFor, loadCatalog } from '../catalog.js';
import { cleanWhere, filterEditor, parseWindow, windowInput, windowText } from '../filters.js';
import { button, card, field, kpis, pageHead, results, runButton, runner, select, table } from '../ui.js';

const DEFAULT_WINDOW = 86400;

function readState() {
  const p = params();
  const steps = jsonParam('steps', []);
  return {
    steps: Array.isArray(steps) ? steps.map((s) => ({ event: String(s.event || ''), where: Array.isArray(s.where) ? s.where : [] })) : [],
    window: parseWindow(p.get('window'), DEFAULT_WINDOW),
    by: p.get('by') === 'session' ? 'session' : 'user',
    breakdown: p.get('breakdown') || '',
    saved: p.get('saved') || '',
  };
}

// body is the funnel request without its range (what a saved funnel keeps).
const body = (s) => ({
  steps: s.steps.map((st) => ({ event: st.event, ...(cleanWhere(st.where).length ? { where: cleanWhere(st.where) } : {}) })),
  window_seconds: s.window,
  by: s.by,
  ...(s.breakdown ? { breakdown: s.breakdown } : {}),
});

const stepLabel = (st) => st.event + (cleanWhere(st.where).length
  ? ' (' + cleanWhere(st.where).map((f) => `${f.field} ${t('op.' + f.op)} ${Array.isArray(f.value) ? f.value.join(', ') : f.value}`).join('; ') + ')' : '');

export default {
  path: '/funnels',
  nav: 'nav.funnels',
  render(root, ctx) {
    const state = readState();
    let catalog = { events: [], properties: {}, fields: [] };
    let saved = [];
    const res = results();
    const builder = h('div', { class: 'builder' });
    const savedBox = h('div', { class: 'saved-list' });
    const saveBox = h('div', { class: 'save-box' });
    const btn = runButton();

    const keep = (push = false) => setParams({
      steps: state.steps.length ? state.steps : null,
      window: state.window === DEFAULT_WINDOW ? null : windowText(state.window),
      by: state.by === 'user' ? null : state.by,
      breakdown: state.breakdown,
      saved: state.saved,
    }, { push });

    function drawBuilder() {
      const events = [['', t('funnel.chooseEvent')], ...catalog.events];
      const move = (i, d) => { const [s] = state.steps.splice(i, 1); state.steps.splice(i + d, 0, s); keep(); drawBuilder(); };
      mount(builder,
        h('ol', { class: 'steps-edit' }, state.steps.map((st, i) => h('li', { class: 'step-edit' },
          h('div', { class: 'step-line' },
            h('span', { class: 'step-no', 'aria-hidden': 'true' }, String(i + 1)),
            select(events, st.event, (v) => { st.event = v; keep(); drawBuilder(); }, { 'aria-label': t('funnel.stepN', { n: i + 1 }), class: 'step-event' }),
            button('↑', () => move(i, -1), { class: 'icon', disabled: i === 0, 'aria-label': t('funnel.up', { n: i + 1 }), title: t('funnel.up', { n: i + 1 }) }),
            button('↓', () => move(i, 1), { class: 'icon', disabled: i === state.steps.length - 1, 'aria-label': t('funnel.down', { n: i + 1 }), title: t('funnel.down', { n: i + 1 }) }),
            button('✕', () => { state.steps.splice(i, 1); keep(); drawBuilder(); }, { class: 'icon', 'aria-label': t('funnel.remove', { n: i + 1 }), title: t('funnel.remove', { n: i + 1 }) })),
          filterEditor(st.where, fieldsFor(catalog, st.event ? [st.event] : []), () => keep())))),
        button('+ ' + t('funnel.addStep'), () => { state.steps.push({ event: '', where: [] }); keep(); drawBuilder(); }, { class: 'add-step', disabled: state.steps.length >= 20 }),
        h('div', { class: 'controls' },
          field(t('funnel.window'), windowInput(state.window, (s) => { state.window = s; keep(); })),
          field(t('funnel.by'), select([['user', t('by.user')], ['session', t('by.session')]], state.by, (v) => { state.by = v; keep(); })),
          field(t('funnel.breakdown'), select([['', t('funnel.noBreakdown')], ...fieldsFor(catalog, state.steps[0] && state.steps[0].event ? [state.steps[0].event] : [])],
            state.breakdown, (v) => { state.breakdown = v; keep(); })),
          h('div', { class: 'actions' }, btn)));
      drawSaveBox();
    }

    function drawResult(d) {
      if (!d.steps.length || d.steps[0].actors === 0) { res.empty(); return; }
      const chartEl = h('div', { class: 'chart' });
      const first = d.steps[0].actors;
      const last = d.steps[d.steps.length - 1].actors;
      const breakdown = d.breakdown && d.breakdown.length ? card(t('funnel.breakdownBy', { field: state.breakdown }), table([
        { label: state.breakdown, value: (b) => (b.value == null ? t('value.none') : String(b.value)) },
        ...d.steps.map((s, i) => ({ label: `${i + 1}. ${s.event}`, value: (b) => num(b.steps[i].actors), num: true })),
        { label: t('funnel.overall'), value: (b) => pct(b.steps[0].actors ? b.steps[b.steps.length - 1].actors / b.steps[0].actors : null), num: true },
      ], d.breakdown, { 'data-table': 'funnel-breakdown' })) : null;
      res.show(
        kpis([
          ['entered', t('funnel.entered'), first],
          ['converted', t('funnel.converted'), last],
          ['rate', t('funnel.rate'), pct(last / first)],
        ]),
        card(null, chartEl),
        card(t('funnel.steps'), table([
          { label: '#', value: (_, i) => i + 1, num: true },
          { label: t('funnel.step'), value: (s) => s.label },
          { label: state.by === 'user' ? t('col.members') : t('col.sessions'), value: (s) => num(s.actors), num: true },
          { label: t('funnel.fromStart'), value: (s) => pct(s.conversion_from_start), num: true },
          { label: t('funnel.fromPrevious'), value: (s) => pct(s.conversion_from_previous), num: true },
          { label: t('funnel.median'), value: (s) => (s.median_seconds_from_previous == null ? '–' : duration(s.median_seconds_from_previous * 1000)), num: true },
        ], d.steps.map((s, i) => ({ ...s, label: stepLabel(state.steps[i] || s) })), { 'data-table': 'funnel-steps' })),
        breakdown);
      chart(chartEl, {
        tooltip: { trigger: 'item', formatter: (p) => `${html(p.name)}<br>${num(p.value)} · ${pct(p.value / first)}` },
        series: [{
          type: 'funnel', sort: 'none', min: 0, max: first, minSize: '4%', gap: 3, left: '4%', width: '62%', top: 16, bottom: 16,
          label: { position: 'right', formatter: (p) => `${p.name}\n${num(p.value)} (${pct(p.value / first)})`, color: '#1d2633', lineHeight: 18, fontSize: 12 },
          labelLine: { length: 16, lineStyle: { color: '#b9c3d3' } },
          data: d.steps.map((s, i) => ({ name: `${i + 1}. ${s.event}`, value: s.actors })),
        }],
      });
    }

    const run = runner(ctx, btn, res, (signal) => {
      const r = currentRange();
      return api('/api/v1/funnel', { body: { from: r.from, to: r.to, ...body(state) }, signal });
    }, drawResult);
    // tryRun runs when every step has its event; push as in analysis.js.
    const tryRun = (push) => {
      keep(push);
      if (state.steps.length && state.steps.every((s) => s.event)) run();
      else res.empty(t('funnel.hint'));
    };

    // Saved funnels.
    async function loadSaved() {
      try {
        saved = (await api('/api/v1/saved/funnels', { signal: ctx.signal })).funnels || [];
        drawSaved();
      } catch (e) {
        if (!ctx.signal.aborted) mount(savedBox, h('p', { class: 'state error', role: 'alert' }, e.message));
      }
    }

    function openSaved(f) {
      const r = f.request || {};
      state.steps = (r.steps || []).map((s) => ({ event: s.event, where: s.where || [] }));
      state.window = r.window_seconds || DEFAULT_WINDOW;
      state.by = r.by === 'session' ? 'session' : 'user';
      state.breakdown = r.breakdown || '';
      state.saved = f.id;
      drawBuilder();
      drawSaved();
      tryRun(true);
    }

    function drawSaved() {
      if (!saved.length) { mount(savedBox, h('p', { class: 'muted' }, t('saved.none'))); return; }
      mount(savedBox, h('ul', null, saved.map((f) => {
        const li = h('li', { class: f.id === state.saved ? 'current' : null });
        const view = () => {
          let armed = false;
          const del = button(t('action.delete'), async () => {
            if (!armed) { armed = true; del.textContent = t('action.confirmDelete'); del.classList.add('danger'); return; }
            try {
              await api('/api/v1/saved/funnels/' + encodeURIComponent(f.id), { method: 'DELETE', signal: ctx.signal });
              if (state.saved === f.id) { state.saved = ''; keep(); }
              await loadSaved();
              drawSaveBox();
            } catch (e) { if (!ctx.signal.aborted) del.replaceWith(h('span', { class: 'form-error', role: 'alert' }, e.message)); }
          }, { class: 'link' });
          mount(li,
            h('button', { type: 'button', class: 'saved-open', onClick: () => openSaved(f) }, f.name),
            h('span', { class: 'muted small' }, date(f.updated_at || f.created_at)),
            h('span', { class: 'saved-actions' }, button(t('action.rename'), rename, { class: 'link' }), del));
        };
        const rename = () => {
          const name = h('input', { type: 'text', value: f.name, required: true, 'aria-label': t('saved.name') });
          const err = h('span', { class: 'form-error', role: 'alert' });
          mount(li, h('form', { class: 'rename', onSubmit: async (e) => {
            e.preventDefault();
            try {
              await api('/api/v1/saved/funnels/' + encodeURIComponent(f.id), { method: 'PUT', body: { name: name.value.trim(), request: f.request }, signal: ctx.signal });
              await loadSaved();
              drawSaveBox();
            } catch (ex) { if (!ctx.signal.aborted) err.textContent = ex.message; }
          } }, name, h('button', { type: 'submit' }, t('action.save')), button(t('action.cancel'), view), err));
          name.focus();
        };
        view();
        return li;
      })));
    }

    function drawSaveBox() {
      const current = saved.find((f) => f.id === state.saved);
      const name = h('input', { type: 'text', required: true, value: current ? current.name : '', placeholder: state.steps.map((s) => s.event).filter(Boolean).join(' → ') });
      const msg = h('span', { class: 'muted', role: 'status' });
      const save = async (asNew) => {
        const n = name.value.trim() || name.placeholder;
        if (!n || !state.steps.length || !state.steps.every((s) => s.event)) { msg.textContent = t('funnel.hint'); return; }
        try {
          const f = current && !asNew
            ? await api('/api/v1/saved/funnels/' + encodeURIComponent(current.id), { method: 'PUT', body: { name: n, request: body(state) }, signal: ctx.signal })
            : await api('/api/v1/saved/funnels', { body: { name: n, request: body(state) }, signal: ctx.signal });
          state.saved = f.id;
          keep();
          await loadSaved();
          drawSaveBox();
          saveBox.querySelector('[role=status]').textContent = t('saved.done', { name: f.name });
        } catch (e) { if (!ctx.signal.aborted) msg.textContent = e.message; }
      };
      mount(saveBox, h('form', { class: 'save-form', onSubmit: (e) => { e.preventDefault(); save(false); } },
        field(t('saved.name'), name, 'grow'),
        h('div', { class: 'actions' },
          h('button', { type: 'submit' }, current ? t('saved.update') : t('action.save')),
          current ? button(t('saved.asNew'), () => save(true)) : null),
        msg));
    }

    mount(root,
      pageHead('nav.funnels', () => tryRun(false)),
      h('div', { class: 'with-side' },
        h('div', null,
          h('form', { class: 'card', onSubmit: (e) => { e.preventDefault(); tryRun(true); } }, h('h2', null, t('funnel.builder')), builder),
          res.el),
        h('aside', { class: 'side-col' }, card(t('saved.title'), saveBox, savedBox))));
    drawBuilder();
    loadSaved();
    res.loading();
    loadCatalog(currentRange(), ctx.signal).then((c) => {
      catalog = c;
      if (!state.steps.length) state.steps = [{ event: '', where: [] }, { event: '', where: [] }];
      drawBuilder();
      tryRun(false);
    }, (e) => { if (!ctx.signal.aborted) res.error(e.message); });
  },
};
