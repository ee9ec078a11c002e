// analysis.js owns the frame the analysis pages share: the heading with the
// range picker, the builder form (drawn once the catalog is known, and again
// whenever a control asks), the run button, and the results, run once on
// arrival and on each submit or range change; only a submit adds a history
// entry, so that Back leaves the page.
import { h, mount } from './dom.js';
import { api } from './api.js';
import { t } from './i18n.js';
import { currentRange } from './range.js';
import { loadCatalog } from './catalog.js';
import { pageHead, results, runButton, runner } from './ui.js';

// analysisPage: controls(catalog, redraw) → nodes of the form; request() →
// the body without its range; keep(push) writes the state into the URL;
// draw(answer, res) shows the answer.
export function analysisPage(root, ctx, { nav, endpoint, controls, request, keep, draw }) {
  const res = results();
  const btn = runButton();
  const form = h('form', { class: 'card controls', onSubmit: (e) => { e.preventDefault(); go(true); } });
  let catalog = null;
  const redraw = () => mount(form, controls(catalog, redraw), h('div', { class: 'actions' }, btn));
  const run = runner(ctx, btn, res, (signal) => {
    const r = currentRange();
    return api(endpoint, { body: { from: r.from, to: r.to, ...request() }, signal });
  }, (answer) => draw(answer, res));
  // go runs with the state in the URL: a new history entry when the person
  // asked for the run, the same entry when the page runs by itself.
  const go = (push) => { keep(push); run(); };
  mount(root, pageHead(nav, () => go(false)), form, res.el);
  mount(form, h('p', { class: 'muted' }, t('state.loading')));
  res.loading();
  loadCatalog(currentRange(), ctx.signal).then((c) => {
    catalog = c;
    redraw();
    go(false);
  }, (e) => { if (!ctx.signal.aborted) res.error(e.message); });
}

// pick is value when the catalog knows it (or nothing is known), else the
// catalog's first event.
export const pick = (catalog, value) => (!catalog.events.length || catalog.events.includes(value) ? value : catalog.events[0]);
