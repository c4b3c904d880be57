import type { ServeContext } from './context.js';
import { projectGraph, runProgress } from './run-views.js';

/** A dataset's latest state, as the graph colours it. */
export type DatasetState = 'succeeded' | 'failed' | 'running' | 'stale' | 'never run';

/** What the console shows of one dataset at a glance. Times are ISO 8601. */
export interface DatasetStatus {
  state: DatasetState;
  /** Why, in words (`upstream silver.x committed after it`, the error of its failed run...). */
  stateReason: string | null;
  /** The run of its latest (not skipped) task. */
  lastRun: string | null;
  version: number | null;
  lastModified: string | null;
}

/**
 * Every dataset's latest state: `running` (a run in flight is executing it now), `failed` (its
 * latest task that ran failed), `never run` (no table: never committed), `stale` (an upstream table committed after its own latest commit: its next run has
 * something to read), else `succeeded`. From the metadata store, the task logs of runs in flight
 * and each table's latest snapshot.
 */
export async function datasetStates(ctx: ServeContext): Promise<Map<string, DatasetStatus>> {
  const graph = await projectGraph(ctx);
  const runs = await ctx.store.runs();
  const started = new Map(runs.map((r) => [r.run_id, r]));
  const latest = new Map<string, { runId: string; status: string; error: string | null; at: number }>();
  for (const t of await ctx.store.tasks()) {
    if (t.status === 'skipped' || t.status === 'not_run') continue;
    const run = started.get(t.run_id);
    const at = run?.started_at ?? t.started_at ?? 0;
    const prev = latest.get(t.dataset);
    if (!prev || at >= prev.at) latest.set(t.dataset, { runId: t.run_id, status: t.status, error: t.error ?? run?.error ?? null, at });
  }
  const running = new Set<string>();
  for (const r of runs.filter((x) => x.status === 'running')) {
    for (const p of await runProgress(ctx, r, graph.order.map((n) => n.dataset.name))) if (p.state === 'running') running.add(p.dataset);
  }
  const tables = new Map<string, { version: number; timestamp: number }>();
  const names = new Set(await ctx.reader.tables());
  await Promise.all(graph.order.map(async (n) => {
    if (!names.has(n.dataset.name)) return;
    try {
      const s = await ctx.reader.snapshot(n.dataset.name);
      tables.set(n.dataset.name, { version: s.version, timestamp: s.timestamp });
    } catch {
      // an unreadable table: the Tables page says why
    }
  }));
  const out = new Map<string, DatasetStatus>();
  for (const n of graph.order) {
    const name = n.dataset.name;
    const t = tables.get(name);
    const last = latest.get(name);
    const base = { lastRun: last?.runId ?? null, version: t?.version ?? null, lastModified: t ? new Date(t.timestamp).toISOString() : null };
    if (running.has(name)) out.set(name, { state: 'running', stateReason: null, ...base });
    else if (last?.status === 'failed') out.set(name, { state: 'failed', stateReason: last.error, ...base });
    else if (!t) out.set(name, { state: 'never run', stateReason: last ? 'it ran, but its run failed before committing' : null, ...base });
    else {
      const newer = n.dependsOn.filter((u) => (tables.get(u)?.timestamp ?? 0) > t.timestamp);
      out.set(name, newer.length
        ? { state: 'stale', stateReason: `upstream ${newer.join(', ')} committed after its latest commit`, ...base }
        : { state: 'succeeded', stateReason: null, ...base });
    }
  }
  return out;
}
