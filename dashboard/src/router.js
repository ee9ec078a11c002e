// router.js owns navigation: which page a path shows, moving between pages
// with the History API, and the page state kept in the URL's query string.
// Pages read their state with params() and write it with setParams(); only
// navigate() and the browser's back/forward render a page anew.

let onChange = () => {};

// start calls render on every navigation (and once now), and turns clicks on
// same-origin links into navigations.
export function start(render) {
  onChange = render;
  window.addEventListener('popstate', () => onChange());
  document.addEventListener('click', (e) => {
    const a = e.target.closest && e.target.closest('a[href]');
    if (!a || a.target || a.hasAttribute('download') || e.defaultPrevented || e.button !== 0 ||
        e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const url = new URL(a.href);
    if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
    e.preventDefault();
    navigate(url.pathname + url.search);
  });
  onChange();
}

// navigate shows the page at url (a path with its query).
export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  onChange();
}

export const path = () => location.pathname;
export const params = () => new URLSearchParams(location.search);

// setParams writes the page's state into the URL without rendering: values
// that are null, undefined or '' are removed. push makes a history entry
// (after a run), otherwise the current one is replaced (while editing).
export function setParams(values, { push = false } = {}) {
  const p = params();
  for (const [k, v] of Object.entries(values)) {
    if (v == null || v === '') p.delete(k);
    else p.set(k, typeof v === 'string' ? v : JSON.stringify(v));
  }
  const q = p.toString();
  const url = location.pathname + (q ? '?' + q : '');
  if (url === location.pathname + location.search) return;
  if (push) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
}

// jsonParam reads a JSON query parameter, or fallback when it is missing or
// not valid JSON.
export function jsonParam(name, fallback) {
  const v = params().get(name);
  if (v == null) return fallback;
  try { return JSON.parse(v); } catch { return fallback; }
}
