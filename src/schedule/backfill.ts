import * as path from 'node:path';
import type { CoreConfig } from '../pipeline/config.js';
import type { Project } from '../pipeline/project.js';
import type { RunResult } from '../metadata/records.js';
import { intervalsBetween } from './calendar.js';
import { completeDates } from './complete-dates.js';
import { executeInterval, type ExecuteContext } from './execute-interval.js';
import { selectableNodes, selectDatasets } from '../plan/selector.js';
import type { ScheduleConfig } from './config.js';
import type { Pipeline } from './pipeline.js';
import { RunnerPool } from './runner-pool.js';
import { ownerId } from './scheduler.js';
import type { MetadataStore } from '../metadata/store.js';
import type { LogFn } from './task-log.js';

/** Options of `backfill`. */
export interface BackfillOptions {
  /** Runs at once (default 1). Each has its own engine. */
  parallel?: number;
  /** Run intervals that are already complete too, every step forced. */
  rerun?: boolean;
  /** Selectors (dbt's grammar, `selectDatasets`) narrowing the pipeline's datasets. */
  select?: string[];
  exclude?: string[];
  /** Lease duration in milliseconds (default 30 s). */
  leaseMs?: number;
  log?: LogFn;
  /** Called after each interval (run, or skipped: `result` undefined). */
  onInterval?: (logicalDate: string, result: RunResult | undefined, done: number, total: number) => void;
}

/** What a backfill did: the runs made and the intervals skipped (complete, or held by another process). */
export interface BackfillResult {
  runs: RunResult[];
  skipped: { logicalDate: string; reason: 'complete' | 'running elsewhere' }[];
}

/**
 * Runs every interval of `pipeline` from `from` to `to` (both included, oldest first), through the
 * same leases, retries, logs and history as the scheduler (trigger `backfill`). An interval is
 * skipped when it is complete — the pipeline ran it successfully, or every dataset of the
 * pipeline holds a commit of that date — unless `rerun`; and when another process holds its
 * lease. Failed intervals are run again.
 */
export async function backfill(project: Project<CoreConfig & ScheduleConfig>, store: MetadataStore, pipeline: Pipeline, from: string, to: string, options: BackfillOptions = {}): Promise<BackfillResult> {
  const dates = intervalsBetween(from, to, pipeline.interval);
  const owner = ownerId();
  const log = options.log ?? (() => {});
  const pool = new RunnerPool(project, store);
  const result: BackfillResult = { runs: [], skipped: [] };
  const ctx: ExecuteContext = { store, owner, leaseMs: options.leaseMs ?? (project.config.scheduler?.leaseSeconds ?? 30) * 1000, logDir: path.join(project.dir, '.ingot', 'logs'), log,
    ...(project.config.scheduler?.webhook ? { webhook: project.config.scheduler.webhook } : {}), force: options.rerun === true };
  if (options.select || options.exclude) {
    const runner = await pool.acquire();
    try {
      ctx.selected = selectDatasets(selectableNodes(runner.graph), { select: options.select, exclude: options.exclude });
    } finally {
      pool.release(runner);
    }
  }
  let complete = new Set<string>();
  if (!options.rerun) {
    complete = new Set((await store.intervals(pipeline.name)).filter((s) => s.status === 'success').map((s) => s.logicalDate));
    // datasets whose tables already hold every date (runs made by `ingot run`, or history lost)
    const runner = await pool.acquire();
    try {
      const perDataset = await Promise.all(pipeline.datasets.map(async (d) => new Set(await completeDates(store, runner.lake, d))));
      for (const d of dates) if (perDataset.length > 0 && perDataset.every((s) => s.has(d))) complete.add(d);
    } finally {
      pool.release(runner);
    }
  }
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < dates.length) {
      const date = dates[next++]!;
      let run: RunResult | undefined;
      if (complete.has(date)) {
        result.skipped.push({ logicalDate: date, reason: 'complete' });
      } else {
        const claim = await store.claim(pipeline.name, date, owner, { leaseMs: ctx.leaseMs, trigger: 'backfill', allow: options.rerun ? 'any' : 'incomplete' });
        if (!claim) {
          result.skipped.push({ logicalDate: date, reason: 'running elsewhere' });
        } else {
          const runner = await pool.acquire();
          try {
            run = await executeInterval(runner, pipeline, date, claim, ctx);
          } finally {
            pool.release(runner);
          }
          if (run) result.runs.push(run);
        }
      }
      options.onInterval?.(date, run, ++done, dates.length);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(options.parallel ?? 1, dates.length)) }, worker));
  } finally {
    await pool.close();
  }
  result.runs.sort((a, b) => (a.logicalDate ?? '').localeCompare(b.logicalDate ?? ''));
  return result;
}
