/**
 * A dataset's page (opened from a graph node): its latest state, commit and version, freshness,
 * schema with column descriptions, expectations with their pass-rate trend by logical date,
 * upstream and downstream datasets, recent runs and its SQL.
 */
import { getJson, seg, withQuery, type ExpectationRun, type Page, type RunInfo } from './api.js';
import { drawChart } from './chart.js';
import { badge, dataTable, duration, h, time } from './dom.js';
import { runsTable } from './pipelines.js';

interface DatasetDetail {
  name: string;
  kind: string;
  description: string | null;
  materialization: string | null;
  file: string;
  sql: string | null;
  upstream: string[];
  downstream: string[];
  pipelines: string[];
  state: string;
  stateReason: string | null;
  version: number | null;
  latestCommit: { version: number; timestamp: string; operation: string } | null;
  freshnessMs: number | null;
  schema: { name: string; type: string; nullable: boolean; description: string | null }[] | null;
  expectations: { name: string; condition: string; action: string; scope: string }[];
}

const link = (d: string) => h('a', { href: `#/datasets/${encodeURIComponent(d)}` }, d);

/** Renders dataset `name` into `view`. */
export async function datasetPage(view: HTMLElement, name: string): Promise<void> {
  const [d, runs, trend] = await Promise.all([
    getJson<DatasetDetail>(`/api/datasets/${seg(name)}`),
    getJson<Page<RunInfo>>(withQuery('/api/runs', { dataset: name, limit: 10 })),
    getJson<Page<ExpectationRun>>(withQuery('/api/expectations/runs', { dataset: name, limit: 60 })),
  ]);
  view.append(
    h('h1', {}, h('span', { class: 'wrap' }, d.name), ' ', badge(d.state)),
    h('p', { class: 'meta' }, `${d.kind === 'source' ? 'source dataset' : 'SQL dataset'} · ${d.materialization ?? 'append'} · ${d.file}`,
      d.pipelines.length ? ` · pipeline ${d.pipelines.join(', ')}` : '', ' · ', h('a', { href: `#/tables/${encodeURIComponent(d.name)}` }, 'rows and history')),
    d.description ? h('p', {}, d.description) : '',
    d.stateReason ? h('p', { class: d.state === 'failed' ? 'error' : 'hint' }, d.stateReason) : '',
    h('section', { class: 'card facts' },
      h('h2', {}, 'Latest commit'),
      d.latestCommit
        ? h('p', {}, `version ${d.latestCommit.version} · ${d.latestCommit.operation} · ${time(d.latestCommit.timestamp)} · `, h('span', { class: 'freshness' }, `${duration(d.freshnessMs)} ago`))
        : h('p', {}, 'No table yet: it has never been committed.'),
      h('p', {}, 'upstream: ', ...(d.upstream.length ? d.upstream.flatMap((u, i) => [i ? ', ' : '', link(u)]) : ['none']),
        ' · downstream: ', ...(d.downstream.length ? d.downstream.flatMap((u, i) => [i ? ', ' : '', link(u)]) : ['none']))),
  );
  view.append(h('section', { class: 'card' }, h('h2', {}, 'Schema'),
    d.schema ? h('div', { class: 'scroll' }, dataTable(['column', 'type', 'nullable', 'description'], d.schema.map((f) => ({ column: f.name, type: f.type, nullable: f.nullable ? 'yes' : 'no', description: f.description ?? '' })),
      { description: (r) => h('span', { class: 'wrap' }, String(r['description'])) }, 'data schema')) : h('p', {}, 'No table yet.')));

  const chart = h('div', { class: 'chart trend-chart' });
  const points = trend.items.filter((t) => t.passRate !== null);
  view.append(h('section', { class: 'card' }, h('h2', {}, 'Expectations'),
    d.expectations.length === 0 ? h('p', {}, 'This dataset declares no expectations.') :
      h('div', { class: 'scroll' }, dataTable(['name', 'action', 'scope', 'condition'], d.expectations, { condition: (r) => h('code', { class: 'wrap' }, String(r['condition'])) }, 'data expectations')),
    points.length ? h('h3', {}, 'Pass rate by logical date (rows passed ÷ rows checked)') : '', points.length ? chart : ''));
  view.append(h('section', { class: 'card' }, h('h2', {}, `Recent runs (${runs.count ?? runs.items.length})`),
    runs.items.length ? h('div', { class: 'scroll' }, runsTable(runs.items)) : h('p', {}, 'No run has run it yet.')));
  view.append(h('section', { class: 'card' }, h('h2', {}, d.sql ? 'SQL' : 'Source'), h('pre', { class: 'sql' }, d.sql ?? `a ${d.kind} dataset: see ${d.file}`)));
  if (points.length) {
    await drawChart(chart, {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      width: 'container',
      height: 200,
      data: { values: points.map((p) => ({ ...p, date: p.logicalDate ?? p.startedAt })) },
      mark: { type: 'line', point: true, tooltip: true },
      encoding: {
        x: { field: 'date', type: 'temporal', title: 'logical date', sort: 'ascending' },
        y: { field: 'passRate', type: 'quantitative', title: 'pass rate', axis: { format: '%' } },
        color: { field: 'name', type: 'nominal', title: 'expectation' },
        tooltip: [{ field: 'logicalDate', title: 'logical date' }, { field: 'name' }, { field: 'failedRows', title: 'failed rows' }, { field: 'rowsChecked', title: 'rows checked' }, { field: 'passRate', format: '.2%', title: 'pass rate' }],
      },
    });
  }
}
