/** The Pipelines page: each pipeline's dataset graph, schedule and paused state, and its runs over time (duration by logical date, status; chart and table). */
import { getJson, withQuery, type Page, type PipelineInfo, type RunInfo } from './api.js';
import { drawChart } from './chart.js';
import { badge, dataTable, duration, h, num, time } from './dom.js';
import { datasetGraph } from './graph.js';

/** Status colours shared by the run charts. */
export const STATUS_COLORS = { domain: ['success', 'failed', 'running', 'queued'], range: ['#2e7d32', '#c62828', '#1565c0', '#9e9e9e'] };

/** Renders every pipeline of the project into `view`. */
export async function pipelinesPage(view: HTMLElement): Promise<void> {
  const { items } = await getJson<Page<PipelineInfo>>('/api/pipelines');
  view.append(h('h1', {}, 'Pipelines'));
  if (items.length === 0) view.append(h('p', {}, 'This project declares no pipelines.'));
  for (const p of items) {
    const section = h('section', { class: 'card pipeline', 'data-pipeline': p.name });
    view.append(section);
    section.append(
      h('h2', {}, p.name, ' ', badge(p.paused ? 'paused' : 'active')),
      h('p', { class: 'meta' },
        ...(p.schedule ? ['schedule ', h('code', {}, p.schedule), ` (${p.timezone ?? 'UTC'})`] : ['no schedule (runs by backfill and trigger)']),
        p.interval ? ` · ${p.interval} intervals` : '', ` · ${p.datasets.length} datasets`),
      h('div', { class: 'graph-wrap' }, datasetGraph(p.datasets)),
    );
    const runs = await getJson<Page<RunInfo>>(withQuery('/api/runs', { pipeline: p.name, limit: 200 }));
    section.append(h('h3', {}, `Runs (${runs.items.length})`));
    if (runs.items.length === 0) {
      section.append(h('p', {}, 'No runs yet.'));
      continue;
    }
    const chart = h('div', { class: 'chart runs-chart' });
    section.append(chart, runsTable(runs.items));
    await drawChart(chart, {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      width: 'container',
      height: 180,
      data: { values: runs.items.map((r) => ({ ...r, seconds: (r.durationMs ?? 0) / 1000 })) },
      mark: { type: 'point', filled: true, size: 70 },
      encoding: {
        x: { field: 'logicalDate', type: 'temporal', timeUnit: 'utcyearmonthdate', title: 'logical date', scale: { padding: 16 } },
        y: { field: 'seconds', type: 'quantitative', title: 'duration (s)' },
        color: { field: 'status', type: 'nominal', scale: STATUS_COLORS },
        tooltip: [{ field: 'logicalDate' }, { field: 'startedAt', type: 'temporal', timeUnit: 'yearmonthdatehoursminutesseconds', title: 'started' }, { field: 'status' }, { field: 'seconds', title: 'duration (s)' }, { field: 'rows' }, { field: 'id' }],
      },
    });
  }
}

/** The runs table: each run links to its page. */
export function runsTable(runs: RunInfo[]): HTMLTableElement {
  return dataTable(['run', 'logical date', 'status', 'attempt', 'started', 'duration', 'rows', 'error'],
    runs.map((r) => ({ ...r, run: r.id, 'logical date': r.logicalDate, started: time(r.startedAt) })),
    {
      run: (r) => h('a', { href: `#/runs/${encodeURIComponent(String(r['id']))}` }, String(r['id'])),
      status: (r) => badge(String(r['status'])),
      duration: (r) => duration(r['durationMs'] as number | null),
      rows: (r) => num(r['rows']),
    }, 'data runs');
}
