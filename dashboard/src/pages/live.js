// pages/live.js: the live tail. Events stored from now on stream in through
// GET /api/v1/events/stream (server-sent events), filtered by event name and
// field filters kept in the URL; newest first, at most 500 kept. Pause holds
// new events back until resume; a row opens a panel with all its fields.
import { h, mount } from '../dom.js';
import { t } from '../i18n.js';
import { time } from '../format.js';
import { jsonParam, params, setParams } from '../router.js';
import { currentRange } from '../range.js';
import { loadCatalog, fieldsFor } from '../catalog.js';
import { cleanWhere, filterEditor } from '../filters.js';
import { button, card, field, pageHead, pre, select } from '../ui.js';

const MAX_ROWS = 500;

const actorOf = (e) => e.user_id || e.anonymous_id || '';
const placeOf = (e) => e.page_path || e.screen_name || '';

export default {
  path: '/live',
  nav: 'nav.live',
  render(root, ctx) {
    let eventName = params().get('event') || '';
    const where = jsonParam('where', []);
    let source = null;
    let paused = false;
    let held = []; // events that came while paused, newest last
    let count = 0;
    let selected = null;

    const status = h('span', { class: 'status', role: 'status' });
    const list = h('ol', { class: 'live-list', 'aria-label': t('live.list') });
    const panel = h('aside', { class: 'live-panel card', 'aria-label': t('live.details') });
    const pauseBtn = button(t('live.pause'), () => togglePause(), { 'aria-pressed': 'false' });
    const counter = h('span', { class: 'muted' });
    const eventBox = h('span');
    const filterBox = h('div');

    const setStatus = (key, cls) => { status.textContent = t(key); status.className = 'status ' + cls; };
    const showCount = () => { counter.textContent = t('live.count', { n: list.children.length }); };

    function showDetails(e, row) {
      if (selected) selected.removeAttribute('aria-selected');
      selected = row;
      row.setAttribute('aria-selected', 'true');
      const actor = e.user_id || e.anonymous_id;
      mount(panel,
        h('div', { class: 'panel-head' }, h('h2', null, e.event || e.type),
          button('✕', () => { mount(panel); panel.classList.remove('open'); if (selected) selected.removeAttribute('aria-selected'); selected = null; },
            { class: 'icon', 'aria-label': t('action.close') })),
        actor ? h('p', null, h('a', { href: '/journey?id=' + encodeURIComponent(actor) }, t('live.journey'))) : null,
        pre(e));
      panel.classList.add('open');
    }

    function addRow(e) {
      const row = h('li', null, h('button', { type: 'button', class: 'live-row', onClick: (ev) => showDetails(e, ev.currentTarget.parentElement) },
        h('time', { datetime: e.ts }, time(e.ts)),
        h('span', { class: 'ev-name' }, e.event || e.type),
        h('span', { class: 'ev-place' }, placeOf(e)),
        h('span', { class: 'tags' }, [e.section, e.banner].filter(Boolean).map((x) => h('span', { class: 'tag' }, x))),
        h('span', { class: 'ev-actor muted' }, actorOf(e))));
      list.prepend(row);
      while (list.children.length > MAX_ROWS) list.lastElementChild.remove();
    }

    function togglePause() {
      paused = !paused;
      pauseBtn.setAttribute('aria-pressed', String(paused));
      if (!paused) { held.forEach(addRow); held = []; showCount(); }
      pauseBtn.textContent = paused ? t('live.resume') : t('live.pause');
    }

    function connect() {
      if (source) source.close();
      const w = cleanWhere(where);
      const all = eventName ? [{ field: 'event', op: 'eq', value: eventName }, ...w] : w;
      setParams({ event: eventName || null, where: w.length ? w : null });
      source = new EventSource('/api/v1/events/stream' + (all.length ? '?where=' + encodeURIComponent(JSON.stringify(all)) : ''));
      setStatus('live.connecting', 'wait');
      source.onopen = () => setStatus('live.connected', 'ok');
      source.onerror = () => setStatus(source.readyState === EventSource.CLOSED ? 'live.closed' : 'live.reconnecting', 'bad');
      source.onmessage = (m) => {
        let e;
        try { e = JSON.parse(m.data); } catch { return; }
        count++;
        if (paused) {
          held.push(e);
          if (held.length > MAX_ROWS) held.shift();
          pauseBtn.textContent = t('live.resumeHeld', { n: held.length });
        } else {
          addRow(e);
          showCount();
        }
      };
    }
    ctx.onCleanup(() => { if (source) source.close(); });

    const apply = h('button', { type: 'submit', class: 'primary' }, t('live.apply'));
    const clear = button(t('live.clear'), () => { mount(list); held = []; showCount(); });
    mount(root,
      pageHead('nav.live'),
      card(null, h('form', { class: 'controls', onSubmit: (e) => { e.preventDefault(); mount(list); showCount(); connect(); } },
        eventBox, h('div', { class: 'field grow' }, h('span', null, t('live.filters')), filterBox),
        h('div', { class: 'actions' }, apply))),
      h('div', { class: 'live-bar' }, status, counter, h('span', { class: 'spacer' }), pauseBtn, clear),
      h('div', { class: 'live' }, h('div', { class: 'card live-list-wrap' }, list, h('p', { class: 'live-empty muted' }, t('live.waiting'))), panel));
    showCount();

    loadCatalog(currentRange(), ctx.signal).then((c) => {
      mount(eventBox, field(t('col.event'), select([['', t('live.allEvents')], ...c.events], eventName, (v) => { eventName = v; })));
      mount(filterBox, filterEditor(where, fieldsFor(c, eventName ? [eventName] : c.events), () => {}));
    }, () => {
      mount(eventBox, field(t('col.event'), h('input', { type: 'text', value: eventName, onInput: (e) => { eventName = e.target.value.trim(); } })));
      mount(filterBox, filterEditor(where, ['event', 'page_path', 'screen_name', 'section', 'banner'], () => {}));
    });
    connect();
  },
};
