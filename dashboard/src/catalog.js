// catalog.js owns what the builders offer in their dropdowns: the known
// event names (most frequent first), each event's property names and the
// filterable columns, from GET /api/v1/catalog over the page's range (kept
// per range for the session).
import { api } from './api.js';

const cache = new Map();

export function loadCatalog(range, signal) {
  const key = range.from + range.to;
  if (!cache.has(key)) {
    const p = api('/api/v1/catalog', { query: { from: range.from, to: range.to }, signal }).then((c) => ({
      events: (c.events || []).map((e) => e.value),
      properties: c.properties || {},
      fields: c.fields || [],
    }));
    p.catch(() => cache.delete(key));
    cache.set(key, p);
  }
  return cache.get(key);
}

// fieldsFor lists the columns and then the properties of the given events.
export function fieldsFor(catalog, events) {
  const props = new Set();
  for (const e of events) for (const p of catalog.properties[e] || []) props.add('properties.' + p);
  return [...catalog.fields, ...[...props].sort()];
}
