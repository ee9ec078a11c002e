// dom.js owns how the dashboard builds its DOM: h() makes an element from a
// tag, its properties and children; mount() replaces an element's children.
// Pages build with these and re-render a part by mounting into it again.

// Keys set as DOM properties rather than attributes.
const PROPS = new Set(['value', 'checked', 'selected', 'disabled', 'hidden', 'open', 'multiple', 'indeterminate']);

// h('button', {class: 'primary', onClick: run}, 'Run') → <button>.
// Children may be strings, numbers, nodes, arrays of them, null or false.
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === 'class') el.className = v;
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (PROPS.has(k)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

// mount(el, ...children) replaces el's children.
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}
