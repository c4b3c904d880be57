/**
 * The Dashboards pages: the project's dashboards, and one dashboard's panels (bar, line or table
 * over the rows of the panel's SQL) drawn with Vega-Lite, each with a CSV download.
 */
import type { TopLevelSpec } from 'vega-lite';
import { getJson, getText, seg, type DashboardPanelData, type Page } from './api.js';
import { drawChart } from './chart.js';
import { dataTable, h } from './dom.js';

/** Renders the list of dashboards into `view`. */
export async function dashboardsPage(view: HTMLElement): Promise<void> {
  const { items } = await getJson<Page<{ name: string; title: string }>>('/api/dashboards');
  view.append(h('h1', {}, 'Dashboards'));
  if (items.length === 0) view.append(h('p', {}, 'This project declares no dashboards (', h('code', {}, 'dashboards: [dashboard({ ... })]'), ' in ingot.config.ts).'));
  else view.append(h('ul', { class: 'dashboards' }, ...items.map((d) => h('li', {}, h('a', { href: `#/dashboards/${encodeURIComponent(d.name)}` }, d.title), ' ', h('code', {}, d.name)))));
}

/** Renders dashboard `name` into `view`. */
export async function dashboardPage(view: HTMLElement, name: string): Promise<void> {
  const d = await getJson<{ name: string; title: string; panels: DashboardPanelData[] }>(`/api/dashboards/${seg(name)}`);
  view.append(h('h1', {}, d.title));
  const grid = h('div', { class: 'panels' });
  view.append(grid);
  const charts: Promise<void>[] = [];
  d.panels.forEach((p, index) => {
    const columns = p.columns.map((c) => (typeof c === 'string' ? { name: c, type: '' } : c));
    const body = h('div', { class: p.type === 'table' ? 'scroll' : 'chart' });
    const csv = h('a', { class: 'csv', href: '#', onclick: (e: Event) => {
      e.preventDefault();
      void download(`/api/dashboards/${seg(d.name)}/panels/${index}.csv`, `${d.name}-${index}.csv`);
    } }, 'CSV');
    grid.append(h('section', { class: `card panel ${p.type}`, 'data-panel': index }, h('h2', {}, p.title, ' ', csv), body));
    if (p.type === 'table') body.append(dataTable(columns.map((c) => c.name), p.rows));
    else charts.push(drawChart(body, panelSpec(p, columns)));
  });
  await Promise.all(charts);
}

const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|REAL|DECIMAL|INT|LONG|SHORT|BYTE|NUMBER)/i;
const TEMPORAL = /^(DATE|TIMESTAMP)/i;

/** The Vega-Lite spec of a bar or line panel: x, y and color columns (default: the first three), one mark per row. */
export function panelSpec(p: DashboardPanelData, columns: { name: string; type: string }[]): TopLevelSpec {
  const x = p.x ?? columns[0]?.name ?? 'x';
  const y = p.y ?? columns[1]?.name ?? 'y';
  const typeOf = (c: string) => columns.find((k) => k.name === c)?.type ?? '';
  // BIGINT and DECIMAL may come as strings (exact JSON): numbers for the chart
  const numeric = columns.filter((c) => NUMERIC.test(c.type)).map((c) => c.name);
  const values = p.rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, numeric.includes(k) && v !== null ? Number(v) : v])));
  const xType = TEMPORAL.test(typeOf(x)) ? 'temporal' : NUMERIC.test(typeOf(x)) && p.type === 'line' ? 'quantitative' : p.type === 'line' ? 'ordinal' : 'nominal';
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 'container',
    height: 260,
    data: { values },
    mark: p.type === 'bar' ? { type: 'bar', tooltip: true } : { type: 'line', point: true, tooltip: true },
    encoding: {
      x: { field: x, type: xType, sort: null, ...(xType === 'nominal' ? { axis: { labelAngle: -45 } } : {}) },
      y: { field: y, type: 'quantitative' },
      ...(p.color ? { color: { field: p.color, type: 'nominal' } } : {}),
    },
  };
}

/** Fetches `path` with the key and saves it as `filename` (a link cannot send the Authorization header). */
async function download(path: string, filename: string): Promise<void> {
  const text = await getText(path);
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
  const a = h('a', { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
