// api.js owns every call to actlog's /api/v1: the signed-in cookie session
// (same-origin credentials), the X-Actlog header the server asks of cookie
// callers, JSON in and out, and errors as ApiError carrying the server's
// message. A 401 outside the sign-in calls means the session ended.

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let signedOut = () => {};
// onSignedOut sets what happens when the server no longer knows the session.
export const onSignedOut = (fn) => { signedOut = fn; };

// api('/api/v1/funnel', {body, signal}) posts body as JSON; without a body it
// GETs, with query (an object, empty values left out) as the query string.
export async function api(path, { method, body, query, signal } = {}) {
  let url = path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v != null && v !== '') q.set(k, typeof v === 'string' ? v : JSON.stringify(v));
    if ([...q].length) url += '?' + q;
  }
  const headers = { 'X-Actlog': '1' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(url, {
    method: method || (body !== undefined ? 'POST' : 'GET'),
    credentials: 'same-origin',
    headers,
    body: body !== undefined ? JSON.stringify(body) : undefined,
    signal,
  });
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    if (res.status === 401 && path !== '/api/v1/session') signedOut();
    throw new ApiError(res.status, (data && data.error) || `${res.status} ${res.statusText}`);
  }
  return data;
}

// isAbort tells a request cancelled by leaving the page from a failure.
export const isAbort = (e) => e && e.name === 'AbortError';
