// filters.js owns the filter editor of the builders: rows of field, operator
// and value that become an analysis's `where` list, an event with its
// filters (a step, a conversion), and the window input (a number and a unit)
// that becomes window_seconds.
import { h, mount } from './dom.js';
import { t } from './i18n.js';
import { fieldsFor } from './catalog.js';
import { button, field, select } from './ui.js';

const OPS = ['eq', 'neq', 'in', 'contains', 'gt', 'lt'];

// toValue turns the typed text into the request's value: a list for `in`,
// a number for gt/lt when it reads as one, text otherwise.
function toValue(op, text) {
  if (op === 'in') return text.split(',').map((s) => s.trim()).filter(Boolean);
  if ((op === 'gt' || op === 'lt') && text.trim() !== '' && !Number.isNaN(Number(text))) return Number(text);
  return text;
}
const toText = (v) => (Array.isArray(v) ? v.join(', ') : v == null ? '' : String(v));

// filterEditor edits where (a list it changes in place) over fields (names)
// and calls onChange after each edit.
export function filterEditor(where, fields, onChange, label = t('filter.add')) {
  const el = h('div', { class: 'filters' });
  const draw = () => mount(el,
    where.map((f, i) => h('div', { class: 'filter-row' },
      select(fields, f.field, (v) => { f.field = v; onChange(); }, { 'aria-label': t('filter.field') }),
      select(OPS.map((o) => [o, t('op.' + o)]), f.op, (v) => { f.op = v; f.value = toValue(v, toText(f.value)); onChange(); }, { 'aria-label': t('filter.op'), class: 'op' }),
      h('input', {
        type: 'text', value: toText(f.value), 'aria-label': t('filter.value'),
        placeholder: f.op === 'in' ? t('filter.list') : '',
        onInput: (e) => { f.value = toValue(f.op, e.target.value); onChange(); },
      }),
      button('✕', () => { where.splice(i, 1); draw(); onChange(); }, { class: 'icon', 'aria-label': t('filter.remove'), title: t('filter.remove') }))),
    button('+ ' + label, () => { where.push({ field: fields[0] || 'page_path', op: 'eq', value: '' }); draw(); onChange(); }, { class: 'link' }));
  draw();
  return el;
}

// eventFilters edits an {event, where} from the catalog's events; a new
// event redraws the form (its properties differ).
export const eventFilters = (label, spec, catalog, redraw) => h('div', { class: 'event-filters' },
  field(label, select(catalog.events, spec.event, (v) => { spec.event = v; redraw(); })),
  filterEditor(spec.where, fieldsFor(catalog, [spec.event]), () => {}));

// cleanWhere drops rows with no field or an empty value.
export const cleanWhere = (where) => (where || []).filter((f) => f.field && !(f.value === '' || (Array.isArray(f.value) && !f.value.length)));

const UNITS = { m: 60, h: 3600, d: 86400 };

// parseWindow('2h') → 7200; fallback for anything else.
export function parseWindow(text, fallback) {
  const m = /^(\d+)([mhd])$/.exec(text || '');
  return m ? Number(m[1]) * UNITS[m[2]] : fallback;
}
// windowText(7200) → '2h', in the largest unit that divides it.
export function windowText(seconds) {
  for (const u of ['d', 'h', 'm']) if (seconds % UNITS[u] === 0) return `${seconds / UNITS[u]}${u}`;
  return `${Math.max(1, Math.round(seconds / 60))}m`;
}

// windowInput edits a window in seconds; onChange gets the new seconds.
export function windowInput(seconds, onChange) {
  let [n, unit] = ['d', 'h', 'm'].map((u) => [seconds / UNITS[u], u]).find(([v]) => Number.isInteger(v)) || [Math.round(seconds / 60), 'm'];
  const emit = () => onChange(Math.max(1, n) * UNITS[unit]);
  return h('span', { class: 'window' },
    h('input', { type: 'number', min: '1', value: String(n), 'aria-label': t('window.amount'), onInput: (e) => { n = Number(e.target.value) || 1; emit(); } }),
    select([['m', t('window.minutes')], ['h', t('window.hours')], ['d', t('window.days')]], unit, (v) => { unit = v; emit(); }, { 'aria-label': t('window.unit') }));
}
