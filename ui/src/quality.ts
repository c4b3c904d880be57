/**
 * The Data quality page: each expectation's pass rate (rows that passed ÷ rows checked, over every
 * recorded run, failed runs included: the definition of the API and `ingot checks`) as bars and a
 * table, and its result in each of the latest runs ordered by logical date (a grid: expectation by
 * run, red where rows failed).
 */
import { getJson, withQuery, type ExpectationRun, type ExpectationStat, type Page } from './api.js';
import { drawChart } from './chart.js';
import { dataTable, h, num } from './dom.js';

/** Runs shown in the per-run grid. */
const GRID_RUNS = 30;

/** Renders the expectations of every dataset into `view`. */
export async function qualityPage(view: HTMLElement): Promise<void> {
  const { items } = await getJson<Page<ExpectationStat>>('/api/expectations');
  view.append(h('h1', {}, 'Data quality'));
  if (items.length === 0) {
    view.append(h('p', {}, 'No expectation has run yet.'));
    return;
  }
  const rows = items.map((e) => ({ ...e, expectation: `${e.dataset} · ${e.name}`, percent: e.passRate === null ? '' : `${(e.passRate * 100).toFixed(2)} %`,
    'failing runs': `${e.failingRuns} of ${e.runs}`, 'rows checked': num(e.rowsChecked), 'failed rows': num(e.failedRows), 'last failure': e.lastFailure ?? '' }));
  const rates = h('div', { class: 'chart quality-chart' });
  const grid = h('div', { class: 'chart quality-runs' });
  view.append(
    h('p', { class: 'hint' }, 'Pass rate = rows that passed ÷ rows checked, over every recorded run (a batch check counts one check per run).'),
    h('section', { class: 'card' }, h('h2', {}, 'Pass rate'), rates,
      h('div', { class: 'scroll' }, dataTable(['dataset', 'name', 'rows checked', 'failed rows', 'failing runs', 'last failure', 'percent'], rows, {
        percent: (r) => h('span', { class: 'rate' }, h('span', { class: 'bar', style: `width:${(Number(r['passRate']) * 100).toFixed(1)}%` }), String(r['percent'])),
      }, 'data quality'))),
    h('section', { class: 'card' }, h('h2', {}, `Expectations in the latest ${GRID_RUNS} runs, by logical date`), grid),
  );
  await drawChart(rates, {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 'container',
    data: { values: rows },
    mark: 'bar',
    encoding: {
      y: { field: 'expectation', type: 'nominal', sort: null, title: null },
      x: { field: 'passRate', type: 'quantitative', title: 'pass rate (rows passed ÷ rows checked)', scale: { domain: [0, 1] }, axis: { format: '%' } },
      color: { field: 'passRate', type: 'quantitative', scale: { domain: [0, 0.5, 1], range: ['#c62828', '#f9a825', '#2e7d32'] }, legend: null },
      tooltip: [{ field: 'dataset' }, { field: 'name' }, { field: 'rowsChecked', title: 'rows checked' }, { field: 'failedRows', title: 'failed rows' }, { field: 'percent', title: 'pass rate' }],
    },
  });

  const per = (await getJson<Page<ExpectationRun>>(withQuery('/api/expectations/runs', { limit: GRID_RUNS }))).items;
  // ordered by logical date (then start), as the API answers
  const cells = per.map((e) => ({
    run: `${e.logicalDate ?? 'no date'} ${e.runId}`, expectation: `${e.dataset} · ${e.name}`, failedRows: e.failedRows, result: e.failedRows === 0 ? 'passed' : 'failed',
  }));
  if (cells.length === 0) {
    grid.append(h('p', {}, 'None of the latest runs checked an expectation.'));
    return;
  }
  await drawChart(grid, {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 'container',
    data: { values: cells },
    mark: { type: 'rect', stroke: '#fff', strokeWidth: 2 },
    encoding: {
      x: { field: 'run', type: 'ordinal', sort: null, title: 'run (logical date, id)', axis: { labelAngle: -45, labelExpr: "split(datum.value, ' ')[0]" } },
      y: { field: 'expectation', type: 'nominal', title: null },
      color: { field: 'result', type: 'nominal', scale: { domain: ['passed', 'failed'], range: ['#66bb6a', '#e53935'] } },
      tooltip: [{ field: 'run' }, { field: 'expectation' }, { field: 'result' }, { field: 'failedRows', title: 'failed rows' }],
    },
  });
}
