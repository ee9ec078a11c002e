// main.js starts the dashboard: it checks the session, draws the frame
// (header with language switch and sign-out, left navigation) and shows the
// page of the current path, cleaning up the previous one (its requests,
// timers, streams and charts).
import './style.css';
import { h, mount } from './dom.js';
import { api, onSignedOut } from './api.js';
import { LANGS, lang, setLang, t } from './i18n.js';
import { navigate, path, params, start } from './router.js';
import { disposeCharts } from './charts.js';
import { select } from './ui.js';
import signin from './pages/signin.js';
import overview from './pages/overview.js';
import live from './pages/live.js';
import journey from './pages/journey.js';
import funnels from './pages/funnels.js';
import paths from './pages/paths.js';
import attribution from './pages/attribution.js';
import dwell from './pages/dwell.js';
import dropoff from './pages/dropoff.js';
import retention from './pages/retention.js';
import quality from './pages/quality.js';
import sql from './pages/sql.js';

const PAGES = [overview, live, journey, funnels, paths, attribution, dwell, dropoff, retention, quality, sql];

const app = document.getElementById('app');
let signedIn = null; // unknown until the server is asked
let leave = () => {};

async function checkSession() {
  try {
    const s = await api('/api/v1/session');
    return Boolean(s && s.signed_in);
  } catch {
    return false;
  }
}

function langSwitch() {
  return select(LANGS.map((l) => [l, t('lang.' + l)]), lang(), (l) => { setLang(l); render(); },
    { 'aria-label': t('lang.label'), class: 'lang' });
}

async function signOut() {
  await api('/api/v1/session', { method: 'DELETE' }).catch(() => {});
  signedIn = false;
  navigate('/signin', { replace: true });
}

async function render() {
  leave();
  disposeCharts(true);
  document.documentElement.lang = lang();
  if (signedIn === null) signedIn = await checkSession();

  const controller = new AbortController();
  const cleanups = [];
  leave = () => { controller.abort(); cleanups.splice(0).forEach((f) => f()); };
  const ctx = { signal: controller.signal, onCleanup: (f) => cleanups.push(f) };

  if (!signedIn) {
    if (path() !== '/signin') {
      const here = location.pathname + location.search;
      history.replaceState(null, '', '/signin' + (here !== '/' ? '?next=' + encodeURIComponent(here) : ''));
    }
    document.title = `${t('signin.title')} · actlog`;
    const main = h('main', { class: 'signin-main' });
    mount(app, h('div', { class: 'signin-top' }, langSwitch()), main);
    signin.render(main, ctx, () => {
      signedIn = true;
      const next = params().get('next');
      navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : '/', { replace: true });
    });
    return;
  }
  if (path() === '/signin') { navigate('/', { replace: true }); return; }

  const page = PAGES.find((p) => p.path === path()) || overview;
  document.title = `${t(page.nav)} · actlog`;
  const main = h('main', { id: 'main', class: 'page', tabindex: '-1' });
  mount(app,
    h('a', { class: 'skip', href: '#main', onClick: (e) => { e.preventDefault(); main.focus(); } }, t('nav.skip')),
    h('header', { class: 'top' },
      h('a', { class: 'brand', href: '/' }, 'actlog'),
      h('span', { class: 'spacer' }),
      langSwitch(),
      h('button', { type: 'button', class: 'signout', onClick: signOut }, t('action.signout'))),
    h('nav', { class: 'side', 'aria-label': t('nav.label') },
      h('ul', null, PAGES.map((p) => h('li', null,
        h('a', { href: p.path, 'aria-current': p === page ? 'page' : null }, t(p.nav)))))),
    main);
  page.render(main, ctx);
}

onSignedOut(() => {
  if (!signedIn) return;
  signedIn = false;
  render();
});

start(render);
