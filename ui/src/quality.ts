/** The Data quality page: each expectation's pass rate over the recorded runs (chart and table). */
import { getJson, type ExpectationStat, type Page } from './api.js';
import { drawChart } from './chart.js';
import { dataTable, h } from './dom.js';

/** Renders the expectations of every dataset into `view`. */
export async function qualityPage(view: HTMLElement): Promise<void> {
  const { items } = await getJson<Page<ExpectationStat>>('/api/expectations');
  view.append(h('h1', {}, 'Data quality'));
  if (items.length === 0) {
    view.append(h('p', {}, 'No expectation has run yet.'));
    return;
  }
  const rows = items.map((e) => ({ ...e, expectation: `${e.dataset} · ${e.name}`, percent: `${(e.passRate * 100).toFixed(1)} %` }));
  const chart = h('div', { class: 'chart quality-chart' });
  view.append(h('section', { class: 'card' }, h('h2', {}, 'Pass rate over runs'), chart,
    dataTable(['dataset', 'name', 'runs', 'passed', 'percent'], rows, {
      percent: (r) => h('span', { class: 'rate' }, h('span', { class: 'bar', style: `width:${(Number(r['passRate']) * 100).toFixed(1)}%` }), String(r['percent'])),
    }, 'data quality')));
  await drawChart(chart, {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 'container',
    data: { values: rows },
    mark: 'bar',
    encoding: {
      y: { field: 'expectation', type: 'nominal', sort: null, title: null },
      x: { field: 'passRate', type: 'quantitative', title: 'pass rate', scale: { domain: [0, 1] }, axis: { format: '%' } },
      color: { field: 'passRate', type: 'quantitative', scale: { domain: [0, 1], range: ['#c62828', '#2e7d32'] }, legend: null },
      tooltip: [{ field: 'dataset' }, { field: 'name' }, { field: 'runs' }, { field: 'passed' }, { field: 'percent', title: 'pass rate' }],
    },
  });
}
