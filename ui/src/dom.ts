/** Tiny DOM helpers: elements from tag, attributes and children; tables from rows. */

type Child = Node | string | number | null | undefined | false;

/** `h('a', { href: '#/x', class: 'y' }, 'text', child)`: an element; `on*` attributes that are functions become listeners. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, unknown> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v as EventListener);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

/** Appends children (strings become text nodes; null, undefined and false are skipped). */
export function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'number' ? String(c) : c);
  }
}

/** A cell's text: null as an empty cell, objects as JSON. */
export function cellText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** An HTML table of `rows` under `columns`; `render` may turn a column's value into a node (a link, a badge). */
export function dataTable(columns: string[], rows: Record<string, unknown>[], render: Record<string, (row: Record<string, unknown>) => Child> = {}, cls = 'data'): HTMLTableElement {
  return h('table', { class: cls },
    h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', {}, c)))),
    h('tbody', {}, ...rows.map((r) => h('tr', {}, ...columns.map((c) => h('td', { 'data-col': c }, render[c] ? render[c](r) : cellText(r[c])))))),
  );
}

/** A status badge (`success`, `failed`, `running`, `queued`, `paused`, ...). */
export function badge(status: string): HTMLSpanElement {
  return h('span', { class: `badge ${status.toLowerCase().replace(/[^a-z0-9]+/g, '-')}` }, status);
}

/** Milliseconds as `1.2 s`, `3 min 4 s` or `850 ms`. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** An ISO timestamp as local `YYYY-MM-DD HH:MM:SS`. */
export function time(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A number with thousands separators; other values as text. */
export function num(v: unknown): string {
  return typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: 2 }) : cellText(v);
}

/** A long text (an error) as its first `max` characters, the whole of it one click away (`details`); short texts as they are. */
export function longText(text: string, max = 200, cls = 'error'): HTMLElement {
  if (text.length <= max) return h('span', { class: `${cls} wrap` }, text);
  return h('details', { class: `${cls} long-text` }, h('summary', {}, `${text.slice(0, max)}…`), h('span', { class: 'wrap' }, text));
}
