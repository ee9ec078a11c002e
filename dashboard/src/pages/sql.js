// pages/sql.js: the SQL console (POST /api/v1/sql): a query box (Ctrl or
// Cmd+Enter runs it), the rows as a table with their count and time, and a
// CSV download of them. The query is kept in the URL.
import { h, mount } from '../dom.js';
import { api } from '../api.js';
import { t } from '../i18n.js';
import { csv, num } from '../format.js';
import { params, setParams } from '../router.js';
import { button, pageHead, results, runButton, runner, table } from '../ui.js';

const EXAMPLE = `SELECT event, count(*) AS events, count(DISTINCT coalesce(user_id, anonymous_id)) AS actors
FROM events
WHERE ts >= now() - INTERVAL 7 DAY
GROUP BY 1
ORDER BY 2 DESC`;

const cellText = (v) => (v == null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

function download(text, name) {
  const url = URL.createObjectURL(new Blob(['\ufeff' + text], { type: 'text/csv;charset=utf-8' }));
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export default {
  path: '/sql',
  nav: 'nav.sql',
  render(root, ctx) {
    const res = results();
    const btn = runButton();
    const box = h('textarea', { id: 'sql', rows: '8', spellcheck: 'false', class: 'code', value: params().get('q') || EXAMPLE });
    let started = 0;
    const run = runner(ctx, btn, res, (signal) => {
      started = performance.now();
      return api('/api/v1/sql', { body: { sql: box.value }, signal });
    }, (d) => {
      const ms = performance.now() - started;
      const cols = d.columns.map((c, i) => ({ label: c, value: (r) => cellText(r[i]), num: /INT|DOUBLE|DECIMAL|FLOAT|REAL|NUMERIC/.test((d.types || [])[i] || '') }));
      res.show(
        h('div', { class: 'sql-bar' },
          h('span', { class: 'sql-meta', 'data-rows': String(d.rows.length) }, t('sql.meta', { n: num(d.rows.length), ms: num(Math.round(ms)) })),
          d.truncated ? h('span', { class: 'note' }, t('sql.truncated')) : null,
          h('span', { class: 'spacer' }),
          button(t('sql.csv'), () => download(csv(d.columns, d.rows), 'actlog-query.csv'), { disabled: !d.columns.length })),
        d.rows.length ? table(cols, d.rows, { 'data-table': 'sql', class: 'sql-table' }) : h('div', { class: 'state empty' }, t('sql.noRows')));
    });
    const submit = () => { setParams({ q: box.value }, { push: true }); run(); };
    box.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); submit(); }
    });
    mount(root,
      pageHead('nav.sql'),
      h('form', { class: 'card sql-form', onSubmit: (e) => { e.preventDefault(); submit(); } },
        h('label', { for: 'sql' }, t('sql.label')),
        box,
        h('div', { class: 'actions' }, h('span', { class: 'muted small' }, t('sql.hint')), btn)),
      res.el);
    if (params().get('q')) run();
    else res.empty(t('sql.start'));
  },
};
