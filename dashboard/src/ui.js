// ui.js owns the pieces every page is made of: the page heading with its
// range picker, labelled fields and selects, the results area with its
// loading, empty and error states, tables, figures (KPIs), and running a
// query with the run button disabled while it runs.
import { h, mount } from './dom.js';
import { t } from './i18n.js';
import { num } from './format.js';
import { rangePicker } from './range.js';
import { isAbort } from './api.js';

// pageHead is the page's title and, when onRange is given, its range picker.
export function pageHead(titleKey, onRange) {
  return h('header', { class: 'page-head' }, h('h1', null, t(titleKey)), onRange ? rangePicker(onRange) : null);
}

// field wraps a control with its visible label.
export const field = (label, control, cls) => h('label', { class: 'field' + (cls ? ' ' + cls : '') }, h('span', null, label), control);

// select: options are values or [value, label] pairs; value is kept as an
// option even when it is not among them (a URL may name an unknown event).
export function select(options, value, onChange, attrs = {}) {
  const pairs = options.map((o) => (Array.isArray(o) ? o : [o, o]));
  if (value != null && value !== '' && !pairs.some(([v]) => v === value)) pairs.push([value, value]);
  return h('select', { ...attrs, onChange: (e) => onChange(e.target.value) },
    pairs.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
}

export const button = (label, onClick, attrs = {}) => h('button', { type: 'button', ...attrs, onClick }, label);

// results is the area a query fills: loading(), error(message), empty(),
// show(...nodes).
export function results() {
  const el = h('section', { class: 'results', 'aria-live': 'polite' });
  return {
    el,
    loading() {
      el.setAttribute('aria-busy', 'true');
      mount(el, h('div', { class: 'state loading' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), t('state.loading')));
    },
    error(message) {
      el.removeAttribute('aria-busy');
      mount(el, h('div', { class: 'state error', role: 'alert' }, h('strong', null, t('state.error')), ' ', message));
    },
    empty(message = t('state.empty')) {
      el.removeAttribute('aria-busy');
      mount(el, h('div', { class: 'state empty' }, message));
    },
    show(...nodes) {
      el.removeAttribute('aria-busy');
      mount(el, ...nodes);
    },
  };
}

// runner returns run(): it calls query(signal) and then draw(answer), with
// the button disabled and the results loading meanwhile; an earlier run still
// going is cancelled, and so is every run when the page is left.
export function runner(ctx, btn, res, query, draw) {
  let current;
  return async function run() {
    if (current) current.abort();
    const mine = new AbortController();
    current = mine;
    const signal = AbortSignal.any([ctx.signal, mine.signal]);
    if (btn) { btn.disabled = true; btn.setAttribute('aria-busy', 'true'); }
    res.loading();
    try {
      const answer = await query(signal);
      if (!signal.aborted) draw(answer);
    } catch (e) {
      if (!isAbort(e) && !signal.aborted) res.error(e.message);
    } finally {
      if (current === mine && btn) { btn.disabled = false; btn.removeAttribute('aria-busy'); }
    }
  };
}

// table: columns are {label, value(row, index) → text or node, num: right-aligned}.
export function table(columns, rows, attrs = {}) {
  return h('div', { class: 'table-wrap' }, h('table', attrs,
    h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)))),
    h('tbody', null, rows.map((r, i) => h('tr', null, columns.map((c) => h('td', { class: c.num ? 'num' : null }, c.value(r, i))))))));
}

// kpis is a row of figures; each carries data-kpi=key for tests and styles.
export const kpis = (items) => h('div', { class: 'kpis' }, items.filter(Boolean).map(([key, label, value, note]) =>
  h('div', { class: 'kpi', dataset: { kpi: key } }, h('div', { class: 'kpi-label' }, label),
    h('div', { class: 'kpi-value' }, typeof value === 'number' ? num(value) : value), note ? h('div', { class: 'kpi-note muted' }, note) : null)));

export const card = (title, ...children) => h('section', { class: 'card' }, title ? h('h2', null, title) : null, ...children);

// runButton is the primary button that runs a page's query.
export const runButton = (label = t('action.run')) => h('button', { type: 'submit', class: 'primary' }, label);

// pre shows a value as pretty JSON (a JSON string is parsed first).
export function pre(value) {
  let v = value;
  if (typeof v === 'string') { try { v = JSON.parse(v); } catch { /* shown as sent */ } }
  return h('pre', { class: 'json' }, typeof v === 'string' ? v : JSON.stringify(v, null, 2));
}
