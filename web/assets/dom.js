// Small DOM and formatting helpers. Text always goes in as text nodes (never innerHTML),
// so job names, labels and log lines from the server cannot inject markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// h('a', {href: '#/jobs', class: 'x'}, 'text', otherNode, [more])
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

export function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

export function parseTime(text) {
  if (!text) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms;
}

// "850 ms", "12.3 s", "4 min 05 s", "2 h 03 min", "3 d 4 h"
export function formatDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
  ms = Math.max(0, ms);
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const total = Math.round(s);
  const pad = (n) => String(n).padStart(2, '0');
  if (total < 3600) return `${Math.floor(total / 60)} min ${pad(total % 60)} s`;
  if (total < 86400) return `${Math.floor(total / 3600)} h ${pad(Math.floor((total % 3600) / 60))} min`;
  return `${Math.floor(total / 86400)} d ${Math.floor((total % 86400) / 3600)} h`;
}

// "12 s ago"; "—" for no time.
export function formatAgo(ms, now = Date.now()) {
  if (ms === null || ms === undefined) return '—';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function formatBytes(n) {
  if (n === null || n === undefined || n <= 0) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return `${n >= 10 || i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}

// "$0.0123" (four decimals below $10, as the runner's log prints it), "$12.35"; "—" for
// no cost (Codex reports none).
export function formatCost(usd) {
  if (typeof usd !== 'number' || Number.isNaN(usd)) return '—';
  return `$${usd.toFixed(Math.abs(usd) < 10 ? 4 : 2)}`;
}

// "12,345"; "—" for no number.
export function formatCount(n) {
  if (typeof n !== 'number' || Number.isNaN(n)) return '—';
  return n.toLocaleString('en-US');
}

export function formatDateTime(ms) {
  if (ms === null || ms === undefined) return '—';
  return new Date(ms).toLocaleString(undefined, {
    month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
}

// A time that keeps itself current: the ticker in app.js refreshes every [data-since].
export function agoElement(ms, prefix = '') {
  return h('span', {class: 'ago', title: ms ? new Date(ms).toISOString() : null,
    dataset: ms ? {since: String(ms), prefix} : {}}, prefix + formatAgo(ms));
}

export function refreshAgo(root = document) {
  const now = Date.now();
  for (const el of root.querySelectorAll('[data-since]')) {
    el.textContent = (el.dataset.prefix ?? '') + formatAgo(Number(el.dataset.since), now);
  }
}

export const ENDED_STATES = new Set(['succeeded', 'failed', 'canceled']);

export function statePill(state) {
  return h('span', {class: `pill state-${state}`, 'data-state': state}, state);
}

export function labelChips(labels) {
  if (!labels || labels.length === 0) return h('span', {class: 'muted'}, '—');
  return h('span', {class: 'chips'}, labels.map((l) => h('span', {class: 'chip'}, l)));
}

// A <thead> row; columns named in numeric are right-aligned like their cells.
export function tableHead(columns, numeric = []) {
  return h('thead', {}, h('tr', {}, columns.map((c) => h('th', {class: numeric.includes(c) ? 'num' : null}, c))));
}

export function tableWrap(table) {
  return h('div', {class: 'table-wrap'}, table);
}

// A notice above a page's content: kind is 'error', 'warn' or 'info'.
export function notice(kind, ...children) {
  return h('div', {class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status'}, children);
}

// A "Copy" button for the text of source (an element) or of source() (a function). The
// clipboard API needs a secure context (https, or localhost); elsewhere the text is
// selected so that Ctrl+C copies it, and the button says so.
// what names the text for screen readers ("Copy the command line"), as every such button
// reads "Copy".
export function copyButton(source, {label = 'Copy', what} = {}) {
  const text = () => (typeof source === 'function' ? source() : source.textContent);
  const name = what ? `${label} ${what}` : null;
  const button = h('button', {class: 'btn btn-small copy', type: 'button', 'aria-label': name, onclick: async () => {
    let copied = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text());
        copied = true;
      }
    } catch {
      copied = false;
    }
    if (!copied && typeof source !== 'function') {
      const range = document.createRange();
      range.selectNodeContents(source);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
    button.textContent = copied ? 'Copied' : 'Selected: press Ctrl+C';
    if (name) button.setAttribute('aria-label', button.textContent);
    button.dataset.copied = String(copied);
    setTimeout(() => {
      button.textContent = label;
      if (name) button.setAttribute('aria-label', name);
    }, 2000);
  }}, label);
  return button;
}

// A button that acts on the second click within a few seconds, so a stray click changes
// nothing (revoke a token, restart a runner). onConfirm may be async; the button is
// disabled while it runs.
export function confirmButton({label, armedLabel = `Click again: ${label.toLowerCase()}`, className = 'btn btn-small btn-danger',
  onConfirm, attrs = {}}) {
  const ARM_MS = 4000;
  let armedUntil = 0;
  let timer = null;
  const button = h('button', {class: className, type: 'button', ...attrs, onclick: async () => {
    if (Date.now() >= armedUntil) {
      armedUntil = Date.now() + ARM_MS;
      button.textContent = armedLabel;
      button.dataset.armed = 'true';
      clearTimeout(timer);
      timer = setTimeout(() => {
        button.textContent = label;
        delete button.dataset.armed;
      }, ARM_MS);
      return;
    }
    armedUntil = 0;
    clearTimeout(timer);
    delete button.dataset.armed;
    button.disabled = true;
    try {
      await onConfirm();
    } finally {
      button.disabled = false;
      button.textContent = label;
    }
  }}, label);
  return button;
}

// A page's 403 (a user token on an admin route) as a clear notice.
export function forbiddenNotice(message) {
  return h('div', {class: 'empty forbidden', role: 'status'}, h('p', {}, message));
}
