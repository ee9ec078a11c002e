// format.js owns how figures read: numbers, percentages, durations and times
// in the chosen language (Intl), and CSV for downloads.
import { lang, t } from './i18n.js';

const formats = new Map();
function nf(key, opts) {
  const k = lang() + key;
  if (!formats.has(k)) formats.set(k, key.startsWith('dt') ? new Intl.DateTimeFormat(lang(), opts) : new Intl.NumberFormat(lang(), opts));
  return formats.get(k);
}

const DASH = '–';

export const num = (n) => (n == null ? DASH : nf('n', {}).format(n));
export const pct = (x) => (x == null ? DASH : nf('p', { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(x));

// duration(63000) → "1m 03s"; under 10 s with a tenth ("4.5s"), under 1 s in ms.
export function duration(ms) {
  if (ms == null) return DASH;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 10000) return `${(ms / 1000).toFixed(1)}${t('unit.s')}`;
  let s = Math.round(ms / 1000);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const hr = Math.floor(s / 3600); s -= hr * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const pad = (n) => String(n).padStart(2, '0');
  if (d) return `${d}${t('unit.d')} ${hr}${t('unit.h')}`;
  if (hr) return `${hr}${t('unit.h')} ${pad(m)}${t('unit.m')}`;
  if (m) return `${m}${t('unit.m')} ${pad(s)}${t('unit.s')}`;
  return `${s}${t('unit.s')}`;
}

export const dateTime = (iso) => (iso ? nf('dt-full', { dateStyle: 'medium', timeStyle: 'medium' }).format(new Date(iso)) : DASH);
export const date = (iso) => (iso ? nf('dt-date', { dateStyle: 'medium' }).format(new Date(iso)) : DASH);
export const time = (iso) => (iso ? nf('dt-time', { timeStyle: 'medium' }).format(new Date(iso)) : DASH);
export const clock = (iso) => nf('dt-clock', { hour: '2-digit', minute: '2-digit', hour12: false }).format(new Date(iso));

// csv quotes every field that needs it (RFC 4180): rows of values, objects
// as JSON, null as empty; lines end with CRLF.
// html escapes text for the few places that take HTML: chart tooltips,
// where event names and page paths (sent by anyone holding a write key)
// appear.
export const html = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function csv(columns, rows) {
  const field = (v) => {
    if (v == null) return '';
    const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
    return /[",\r\n]|^\s|\s$/.test(s) ? '"' + s.replaceAll('"', '""') + '"' : s;
  };
  return [columns, ...rows].map((r) => r.map(field).join(',')).join('\r\n') + '\r\n';
}
