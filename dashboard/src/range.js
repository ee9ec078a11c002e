// range.js owns the time range the pages share: the presets (today, the
// last 7 or 30 days, counted in whole local days up to the end of today)
// and a custom from/to, read from and written to the URL (range=7d, or
// from and to in RFC 3339), and the picker that edits it.
import { h, mount } from './dom.js';
import { t } from './i18n.js';
import { date, dateTime } from './format.js';
import { params, setParams } from './router.js';

const PRESETS = { today: 1, '7d': 7, '30d': 30 };
const DEFAULT_PRESET = '7d';

// rfc3339 is a Date in UTC to the second.
const rfc3339 = (d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

function presetBounds(days) {
  const end = new Date();
  end.setHours(0, 0, 0, 0);
  end.setDate(end.getDate() + 1);
  const from = new Date(end);
  from.setDate(from.getDate() - days);
  return { from: rfc3339(from), to: rfc3339(end) };
}

const valid = (s) => s && !Number.isNaN(Date.parse(s));

// currentRange is the range in the URL: {preset, from, to}.
export function currentRange() {
  const p = params();
  if (valid(p.get('from')) && valid(p.get('to'))) {
    return { preset: 'custom', from: rfc3339(new Date(p.get('from'))), to: rfc3339(new Date(p.get('to'))) };
  }
  const preset = p.get('range') in PRESETS ? p.get('range') : DEFAULT_PRESET;
  return { preset, ...presetBounds(PRESETS[preset]) };
}

// The value of a datetime-local input for an RFC 3339 time, in local time.
function localInput(iso) {
  const d = new Date(iso);
  d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
  return d.toISOString().slice(0, 16);
}

// rangePicker edits the range in the URL and calls onChange after each change.
export function rangePicker(onChange) {
  const el = h('div', { class: 'range', role: 'group', 'aria-label': t('range.label') });
  const draw = () => {
    const r = currentRange();
    const choose = (preset) => {
      if (preset === 'custom') { custom = true; draw(); return; }
      custom = false;
      setParams({ range: preset === DEFAULT_PRESET ? null : preset, from: null, to: null }, { push: true });
      draw();
      onChange();
    };
    const showCustom = custom || r.preset === 'custom';
    const fromIn = h('input', { type: 'datetime-local', value: localInput(r.from), 'aria-label': t('range.from') });
    const toIn = h('input', { type: 'datetime-local', value: localInput(r.to), 'aria-label': t('range.to') });
    const apply = (e) => {
      e.preventDefault();
      const from = new Date(fromIn.value), to = new Date(toIn.value);
      if (Number.isNaN(+from) || Number.isNaN(+to)) return;
      setParams({ range: null, from: rfc3339(from), to: rfc3339(to) }, { push: true });
      custom = false;
      draw();
      onChange();
    };
    const last = new Date(Date.parse(r.to) - 1000).toISOString();
    mount(el,
      h('div', { class: 'segmented' },
        ['today', '7d', '30d', 'custom'].map((p) => h('button', {
          type: 'button', 'aria-pressed': String(showCustom ? p === 'custom' : r.preset === p), onClick: () => choose(p),
        }, t('range.' + p)))),
      showCustom
        ? h('form', { class: 'range-custom', onSubmit: apply }, fromIn, h('span', { 'aria-hidden': 'true' }, '→'), toIn,
          h('button', { type: 'submit' }, t('range.apply')))
        : h('span', { class: 'range-text muted' }, r.preset === 'today' ? date(r.from) : `${date(r.from)} – ${date(last)}`),
      showCustom && r.preset === 'custom' ? h('span', { class: 'range-text muted' }, `${dateTime(r.from)} – ${dateTime(r.to)}`) : null);
  };
  let custom = false;
  draw();
  return el;
}
