/**
 * The Pipelines page: each pipeline's dataset graph (coloured by each dataset's latest state),
 * schedule and paused state, its actions (trigger an interval, backfill a range after showing its
 * plan, pause, resume: a write key's; a read key sees them disabled with the reason), and its
 * runs, whoever started them (paged; chart by logical date), updated live from the server's
 * event stream.
 */
import { getJson, onRuns, postJson, seg, withQuery, writeRefusal, ApiError, type Page, type PipelineInfo, type RunInfo } from './api.js';
import { drawChart } from './chart.js';
import { badge, dataTable, duration, h, longText, num, time } from './dom.js';
import { datasetGraph } from './graph.js';

/** Status colours shared by the run charts. */
export const STATUS_COLORS = { domain: ['success', 'failed', 'running', 'queued'], range: ['#2e7d32', '#c62828', '#1565c0', '#9e9e9e'] };

/** Runs per page of a pipeline's runs table. */
const PAGE_RUNS = 20;

/** Renders every pipeline of the project into `view`; live until the page changes. */
export async function pipelinesPage(view: HTMLElement): Promise<void> {
  const [{ items }, refusal] = await Promise.all([getJson<Page<PipelineInfo>>('/api/pipelines'), writeRefusal()]);
  view.append(h('h1', {}, 'Pipelines'));
  if (items.length === 0) view.append(h('p', {}, 'This project declares no pipelines.'));
  const refreshers: (() => Promise<void>)[] = [];
  for (const p of items) {
    const section = h('section', { class: 'card pipeline', 'data-pipeline': p.name });
    view.append(section);
    const header = h('h2', {}, p.name, ' ', badge(p.paused ? 'paused' : 'active'));
    const graph = h('div', { class: 'graph-wrap' }, datasetGraph(p.datasets));
    section.append(header,
      h('p', { class: 'meta' },
        ...(p.schedule ? ['schedule ', h('code', {}, p.schedule), ` (${p.timezone ?? 'UTC'})`] : ['no schedule (runs by backfill and trigger)']),
        p.interval ? ` · ${p.interval} intervals` : '', ` · ${p.datasets.length} datasets`),
      legend(), graph, actions(p, refusal));
    const runsBox = h('div', { class: 'runs-box' });
    section.append(runsBox);
    let offset = 0;
    const showRuns = async (): Promise<void> => {
      const runs = await getJson<Page<RunInfo>>(withQuery('/api/runs', { pipeline: p.name, limit: PAGE_RUNS, offset }));
      const count = runs.count ?? runs.items.length;
      const chart = h('div', { class: 'chart runs-chart' });
      runsBox.replaceChildren(h('h3', {}, `Runs (${count})`));
      if (count === 0) {
        runsBox.append(h('p', {}, 'No runs yet.'));
        return;
      }
      runsBox.append(chart, pager(offset, runs.items.length, count, PAGE_RUNS, (o) => { offset = o; void showRuns(); }), h('div', { class: 'scroll' }, runsTable(runs.items)));
      await drawChart(chart, {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        width: 'container',
        height: 180,
        data: { values: runs.items.filter((r) => r.logicalDate).map((r) => ({ ...r, seconds: (r.durationMs ?? 0) / 1000 })) },
        mark: { type: 'point', filled: true, size: 70 },
        encoding: {
          x: { field: 'logicalDate', type: 'temporal', timeUnit: 'utcyearmonthdate', title: 'logical date', scale: { padding: 16 } },
          y: { field: 'seconds', type: 'quantitative', title: 'duration (s)' },
          color: { field: 'status', type: 'nominal', scale: STATUS_COLORS },
          tooltip: [{ field: 'logicalDate' }, { field: 'startedAt', type: 'temporal', timeUnit: 'yearmonthdatehoursminutesseconds', title: 'started' }, { field: 'status' }, { field: 'seconds', title: 'duration (s)' }, { field: 'rows' }, { field: 'id' }],
        },
      });
    };
    await showRuns();
    refreshers.push(async () => {
      const fresh = (await getJson<Page<PipelineInfo>>('/api/pipelines')).items.find((x) => x.name === p.name);
      if (fresh) {
        graph.replaceChildren(datasetGraph(fresh.datasets));
        header.replaceChildren(p.name, ' ', badge(fresh.paused ? 'paused' : 'active'));
      }
      await showRuns();
    });
  }
  // live: a run started, moved on or ended, or a pipeline paused: redraw (the first event is the state already shown)
  let first = true;
  let pending: Promise<void> | undefined;
  const off = onRuns((e) => {
    if (first) {
      first = false;
      return;
    }
    if (!view.isConnected) {
      off();
      return;
    }
    const live = h('p', { class: 'live' }, ...e.runs.filter((r) => r.status === 'running').map((r) => `${r.pipeline ?? ''} ${r.logicalDate ?? ''} running${r.current ? `: ${r.current}` : ''} · ${num(r.rowsSoFar ?? 0)} rows so far. `));
    view.querySelector('p.live')?.remove();
    if (live.textContent) view.querySelector('h1')!.after(live);
    pending ??= Promise.all(refreshers.map((f) => f())).then(() => { pending = undefined; }, () => { pending = undefined; });
  });
}

/** The colour key of the graph's states. */
function legend(): HTMLElement {
  return h('p', { class: 'legend' }, ...['succeeded', 'failed', 'running', 'stale', 'never run'].map((s) => h('span', { class: `key state-${s.replace(' ', '-')}` }, s)));
}

/** Previous/next buttons and `showing a–b of n`. */
export function pager(offset: number, shown: number, count: number | null, size: number, go: (offset: number) => void): HTMLElement {
  return h('p', { class: 'meta pager' }, `showing ${shown ? offset + 1 : 0}–${offset + shown}${count !== null ? ` of ${num(count)}` : ''} `,
    h('button', { type: 'button', class: 'prev', disabled: offset === 0, onclick: () => go(Math.max(0, offset - size)) }, '‹ Previous'), ' ',
    h('button', { type: 'button', class: 'next', disabled: count !== null ? offset + shown >= count : shown < size, onclick: () => go(offset + size) }, 'Next ›'));
}

/** A message saying what an action did (or why it was refused). */
function said(box: HTMLElement, text: string, ok: boolean): void {
  box.replaceChildren(h('p', { class: ok ? 'done' : 'error', role: 'status' }, text));
}

/** The trigger, backfill and pause/resume forms of a pipeline; disabled with `refusal` for a read key. */
function actions(p: PipelineInfo, refusal: string | null): HTMLElement {
  const out = h('div', { class: 'outcome' });
  const disabled = refusal !== null;
  const title = refusal ?? undefined;
  const path = `/api/pipelines/${seg(p.name)}`;
  const fail = (err: unknown) => said(out, err instanceof ApiError ? `refused: ${err.code}: ${err.message}` : String(err), false);

  const date = h('input', { type: 'date', name: 'date', 'aria-label': 'logical date', disabled });
  const trigger = h('form', { class: 'action trigger', onsubmit: (e: Event) => {
    e.preventDefault();
    postJson<{ logicalDate: string; status: string }>(`${path}/trigger`, date.value ? { date: date.value } : {})
      .then((r) => said(out, `Queued ${p.name} for ${r.logicalDate}: the scheduler of ingot serve runs it next.`, true), fail);
  } }, h('label', {}, 'Interval ', date), ' ', h('button', { type: 'submit', disabled, title }, 'Trigger'));

  const from = h('input', { type: 'date', name: 'from', 'aria-label': 'from', disabled });
  const to = h('input', { type: 'date', name: 'to', 'aria-label': 'to', disabled });
  const rerun = h('input', { type: 'checkbox', name: 'rerun', disabled });
  const backfill = h('form', { class: 'action backfill', onsubmit: (e: Event) => {
    e.preventDefault();
    const q = { from: from.value, to: to.value, rerun: rerun.checked ? 'true' : undefined };
    getJson<PlanAnswer>(withQuery(`${path}/plan`, q)).then((plan) => showPlan(out, plan, async () => {
      const r = await postJson<{ queued: string[]; skipped: string[] }>(`${path}/backfill`, { from: from.value, to: to.value, ...(rerun.checked ? { rerun: true } : {}) });
      said(out, `Queued ${r.queued.length} interval${r.queued.length === 1 ? '' : 's'} of ${p.name}${r.queued.length ? ` (${r.queued[0]} to ${r.queued.at(-1)})` : ''}; skipped ${r.skipped.length}.`, true);
    }, fail), fail);
  } }, h('label', {}, 'From ', from), ' ', h('label', {}, 'to ', to), ' ', h('label', {}, rerun, ' rerun complete ones'), ' ',
  h('button', { type: 'submit', disabled, title }, 'Plan backfill…'));

  const pause = h('button', { type: 'button', class: 'pause', disabled, title, onclick: () => {
    const action = p.paused ? 'resume' : 'pause';
    postJson<{ paused: boolean }>(`${path}/${action}`).then((r) => {
      p.paused = r.paused;
      pause.textContent = r.paused ? 'Resume' : 'Pause';
      said(out, r.paused ? `Paused ${p.name}: it starts no new runs.` : `Resumed ${p.name}: its schedule and queued runs start again.`, true);
    }, fail);
  } }, p.paused ? 'Resume' : 'Pause');

  return h('div', { class: 'actions' },
    h('div', { class: 'action-row' }, trigger, backfill, pause),
    refusal ? h('p', { class: 'hint refusal' }, `Actions disabled: ${refusal}.`) : null,
    out);
}

interface PlanAnswer {
  pipeline: string;
  from: string;
  to: string;
  queued: string[];
  skipped: { logicalDate: string; reason: string }[];
  runs: { logicalDate: string | null; steps: { dataset: string; action: string; reason: string }[] }[];
}

/** The plan of a backfill, with a button to queue it. */
function showPlan(box: HTMLElement, plan: PlanAnswer, confirm: () => Promise<void>, fail: (e: unknown) => void): void {
  const steps = plan.runs.flatMap((r) => r.steps.map((s) => ({ 'logical date': r.logicalDate, dataset: s.dataset, action: s.action, reason: s.reason })));
  const go = h('button', { type: 'button', class: 'confirm', onclick: () => { go.disabled = true; confirm().catch(fail); } }, `Queue ${plan.queued.length} interval${plan.queued.length === 1 ? '' : 's'}`);
  box.replaceChildren(h('div', { class: 'plan' },
    h('h3', {}, `Plan: backfill ${plan.pipeline} from ${plan.from} to ${plan.to}`),
    h('p', { class: 'meta' }, `${plan.queued.length} to queue, ${plan.skipped.length} skipped`),
    plan.skipped.length ? h('ul', { class: 'skipped' }, ...plan.skipped.map((s) => h('li', {}, `${s.logicalDate}: ${s.reason}`))) : null,
    steps.length ? h('div', { class: 'scroll' }, dataTable(['logical date', 'dataset', 'action', 'reason'], steps, {}, 'data plan')) : null,
    h('p', {}, go, ' ', h('button', { type: 'button', class: 'cancel', onclick: () => box.replaceChildren() }, 'Cancel'))));
}

/** The runs table: each run links to its page. */
export function runsTable(runs: RunInfo[]): HTMLTableElement {
  return dataTable(['run', 'logical date', 'status', 'trigger', 'started', 'duration', 'rows', 'error'],
    runs.map((r) => ({ ...r, run: r.id, 'logical date': r.logicalDate, started: time(r.startedAt), trigger: r.trigger ?? (r.attributed ? 'ingot run' : '') })),
    {
      run: (r) => h('a', { href: `#/runs/${encodeURIComponent(String(r['id']))}` }, String(r['id'])),
      status: (r) => badge(String(r['status'])),
      duration: (r) => duration(r['durationMs'] as number | null),
      rows: (r) => num(r['rows']),
      error: (r) => r['error'] ? longText(String(r['error']), 120) : '',
    }, 'data runs');
}
