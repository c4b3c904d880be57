import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { dialectOf } from '../engine/registry.js';
import type { RunRow, TaskRow } from '../metadata/store.js';
import { datasetEngine } from '../pipeline/engines.js';
import { buildGraph, type DatasetGraph } from '../pipeline/graph.js';
import { DEFAULT_PIPELINE, pipelinesOf, type Pipeline } from '../schedule/pipeline.js';
import type { ServeContext } from './context.js';

/**
 * A dataset's state in one run, as the console shows it:
 * - `succeeded`: written and committed (`version`), or nothing to write;
 * - `failed` (with the error);
 * - `skipped` (with the reason: the plan found it up to date, or its source had nothing new);
 * - `not run`: the run stopped before it (an upstream dataset, or an earlier one, failed);
 * - `staged, not committed`: it ran, but the run failed, so its output was discarded;
 * - `running`, `staged` (done, waiting for the run's commit), `waiting`: a run in flight.
 */
export type TaskState = 'succeeded' | 'failed' | 'skipped' | 'not run' | 'staged, not committed' | 'running' | 'staged' | 'waiting';

const graphs = new WeakMap<ServeContext, Promise<DatasetGraph>>();

/** The project's dataset graph, built once per server (again after a failed build). */
export function projectGraph(ctx: ServeContext): Promise<DatasetGraph> {
  let g = graphs.get(ctx);
  if (!g) {
    g = buildGraph(ctx.project.datasets, (sql) => ctx.reader.references(sql), (d) => dialectOf(datasetEngine(d, ctx.project.config)));
    graphs.set(ctx, g);
    g.catch(() => graphs.delete(ctx));
  }
  return g;
}

const attributed = new WeakMap<ServeContext, Map<string, string>>();

/**
 * The pipeline of each run: the one it recorded (scheduler, backfill, trigger), else, for a run
 * of `ingot run`, the pipeline holding most of the datasets it ran (the first declared on a tie),
 * else `default`. Finished runs' answers are cached (their datasets no longer change).
 */
export async function pipelinesOfRuns(ctx: ServeContext, runs: RunRow[]): Promise<Map<string, { pipeline: string; attributed: boolean }>> {
  const cache = attributed.get(ctx) ?? new Map<string, string>();
  attributed.set(ctx, cache);
  const out = new Map<string, { pipeline: string; attributed: boolean }>();
  const unknown = runs.filter((r) => r.pipeline === null && !cache.has(r.run_id));
  if (unknown.length > 0) {
    const pipelines = pipelinesOf(ctx.project);
    const byRun = new Map<string, string[]>();
    const wanted = new Set(unknown.map((r) => r.run_id));
    for (const t of await ctx.store.tasks()) if (wanted.has(t.run_id)) (byRun.get(t.run_id) ?? byRun.set(t.run_id, []).get(t.run_id)!).push(t.dataset);
    for (const r of unknown) {
      const ran = byRun.get(r.run_id) ?? [];
      let best: Pipeline | undefined;
      let bestCount = 0;
      for (const p of pipelines) {
        const count = ran.filter((d) => p.datasets.includes(d)).length;
        if (count > bestCount) [best, bestCount] = [p, count];
      }
      const name = best?.name ?? DEFAULT_PIPELINE;
      if (r.ended_at !== null) cache.set(r.run_id, name);
      else out.set(r.run_id, { pipeline: name, attributed: true });
    }
  }
  for (const r of runs) {
    if (r.pipeline !== null) out.set(r.run_id, { pipeline: r.pipeline, attributed: false });
    else if (cache.has(r.run_id)) out.set(r.run_id, { pipeline: cache.get(r.run_id)!, attributed: true });
  }
  return out;
}

/** Progress of a task of a run in flight, read from its log (the scheduler writes one per task). */
export interface TaskProgress {
  dataset: string;
  state: 'running' | 'staged' | 'failed';
  attempt: number;
  /** Rows written by the finished attempt. */
  rows: number | null;
  startedAt: string | null;
  error: string | null;
}

/** The log file of a task: the one recorded, else where the scheduler writes it (`.ingot/logs/<pipeline>/<date>/<dataset>.<run>.jsonl`). */
export function taskLogFile(ctx: ServeContext, run: RunRow, dataset: string, recorded?: string | null): string | undefined {
  if (recorded) return recorded;
  if (!run.pipeline || !run.logical_date) return undefined;
  return path.join(ctx.project.dir, '.ingot', 'logs', run.pipeline, run.logical_date, `${dataset}.${run.run_id}.jsonl`);
}

/**
 * The progress of the tasks of a running run, from their JSON-lines logs: which dataset is
 * running now and the rows each finished one wrote. Only runs the scheduler executes (trigger,
 * schedule, backfill) write task logs; other runs report no progress until they end.
 */
export async function runProgress(ctx: ServeContext, run: RunRow, datasets: string[]): Promise<TaskProgress[]> {
  const out: TaskProgress[] = [];
  for (const dataset of datasets) {
    const file = taskLogFile(ctx, run, dataset);
    if (!file) continue;
    const text = await fs.readFile(file, 'utf8').catch(() => '');
    if (!text) continue;
    const p: TaskProgress = { dataset, state: 'running', attempt: 0, rows: null, startedAt: null, error: null };
    for (const line of text.split('\n')) {
      let e: Record<string, unknown>;
      try {
        e = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (e['runId'] !== undefined && e['runId'] !== run.run_id) continue;
      if (e['event'] === 'attempt-start') Object.assign(p, { state: 'running', attempt: Number(e['attempt'] ?? 1), startedAt: p.startedAt ?? String(e['ts']), error: null });
      else if (e['event'] === 'attempt-success') Object.assign(p, { state: 'staged', rows: Number(e['rowsOut'] ?? 0) });
      else if (e['event'] === 'attempt-failed') Object.assign(p, { state: 'failed', error: String(e['error'] ?? '') });
      else if (e['event'] === 'retry-scheduled') p.state = 'running';
    }
    out.push(p);
  }
  return out;
}

/** One row of a run's datasets as the console shows it. */
export interface TaskView {
  dataset: string;
  state: TaskState;
  /** Why it was skipped or not run, or what happened to its output. */
  reason: string | null;
  error: string | null;
  task: TaskRow | null;
}

/**
 * Every dataset of a run with its state (see `TaskState`): the recorded tasks (the runner records
 * the steps a failure stopped as `not_run`, with the dataset that failed), and, for a run in
 * flight, the datasets of its pipeline with their progress from the task logs; for a run that
 * failed before its first dataset (a sensor timeout), its pipeline's datasets as not run.
 */
export async function runTasks(ctx: ServeContext, run: RunRow, pipeline: string, tasks: TaskRow[]): Promise<{ views: TaskView[]; progress: TaskProgress[] }> {
  const graph = await projectGraph(ctx);
  const p = pipelinesOf(ctx.project).find((x) => x.name === pipeline);
  const order = graph.order.map((n) => n.dataset.name).filter((d) => !p || p.datasets.includes(d));
  const views: TaskView[] = tasks.map((t) => {
    if (t.status === 'failed') return { dataset: t.dataset, state: 'failed', reason: null, error: t.error, task: t };
    if (t.status === 'not_run') return { dataset: t.dataset, state: 'not run', reason: t.reason ?? 'the run stopped before it', error: null, task: t };
    if (t.status === 'skipped') return { dataset: t.dataset, state: 'skipped', reason: t.reason ?? 'up to date (the plan found nothing to do)', error: null, task: t };
    if (t.version !== null) return { dataset: t.dataset, state: 'succeeded', reason: `committed version ${t.version}`, error: null, task: t };
    if (run.status === 'failed') return { dataset: t.dataset, state: 'staged, not committed', reason: 'it ran, but the run failed: its output was discarded and the table is at its previous version', error: null, task: t };
    return { dataset: t.dataset, state: 'succeeded', reason: 'nothing to commit', error: null, task: t };
  });
  const recorded = new Set(tasks.map((t) => t.dataset));
  const rest = order.filter((d) => !recorded.has(d));
  let progress: TaskProgress[] = [];
  if (run.status === 'running') {
    progress = await runProgress(ctx, run, order);
    const byName = new Map(progress.map((x) => [x.dataset, x]));
    for (const d of rest) {
      const x = byName.get(d);
      views.push({ dataset: d, state: x ? (x.state === 'failed' ? 'running' : x.state) : 'waiting', reason: x?.state === 'staged' ? `${x.rows ?? 0} rows staged, committed when the run ends` : x?.state === 'failed' ? `attempt ${x.attempt} failed: ${x.error}; retrying` : null, error: null, task: null });
    }
  } else if (run.status === 'failed' && tasks.length === 0) {
    // the run failed before its first dataset (an upstream sensor timed out): none of its pipeline's datasets ran
    for (const d of rest) views.push({ dataset: d, state: 'not run', reason: `the run failed before it: ${run.error ?? 'no error recorded'}`, error: null, task: null });
  }
  // graph order
  const rank = new Map(graph.order.map((n, i) => [n.dataset.name, i]));
  views.sort((a, b) => (rank.get(a.dataset) ?? 1e9) - (rank.get(b.dataset) ?? 1e9));
  return { views, progress };
}

/**
 * The pass rate of one expectation in one task: rows that passed ÷ rows checked. A row check
 * checks the rows the dataset's query produced (`rows_in`; a failed task recorded none, so its
 * failed rows stand for the rows checked); a batch check (row count, freshness) is one check per
 * run. Returns `{ checked, failed }` to sum over a period: the period's pass rate is
 * Σ(checked − failed) ÷ Σ checked.
 */
export function checkedRows(task: Pick<TaskRow, 'rows_in'>, e: { failed: number; scope?: 'batch' }): { checked: number; failed: number } {
  if (e.scope === 'batch') return { checked: 1, failed: Math.min(1, e.failed) };
  return { checked: Math.max(task.rows_in, e.failed), failed: e.failed };
}
