import { IngotError, messageOf } from '../errors.js';
import type { DatasetResult, RunResult } from '../metadata/records.js';
import type { Runner } from '../run/runner.js';
import { coveringIntervals, grainOf } from './calendar.js';
import { grainMinutes } from '../pipeline/interval.js';
import { isComplete } from './complete-dates.js';
import type { Pipeline } from './pipeline.js';
import type { Claim, MetadataStore } from '../metadata/store.js';
import { TaskLog, type LogFn } from './task-log.js';
import { notifyFailure } from './webhook.js';

/** What executing a claimed interval needs from its scheduler (or backfill). Times in milliseconds. */
export interface ExecuteContext {
  store: MetadataStore;
  /** This process's lease owner id. */
  owner: string;
  leaseMs: number;
  /** Folder of the per-task JSON-lines logs. */
  logDir: string;
  /** Failure webhook URL. */
  webhook?: string;
  log: LogFn;
  /** Aborted on shutdown past the grace period: waits (retry delays, sensors) end, the engine query is interrupted. */
  signal?: AbortSignal;
  /** Run every dataset even when the plan finds it up to date (`ingot backfill --rerun`). */
  force?: boolean;
  /** Run only these of the pipeline's datasets (`ingot backfill --select`). */
  selected?: ReadonlySet<string>;
}

/** Sleeps `ms`, or less when `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Executes one interval of `pipeline` under a lease the caller claimed: keeps the lease alive
 * (heartbeat every third of its duration), waits for upstream datasets (sensors, each with its
 * timeout, of which `waitedMs` were spent before the claim), runs the pipeline's datasets with `runner` as run `claim.runId` (a taken-over run
 * keeps its identity, so tables already committed are not committed again), retries each dataset
 * with exponential backoff and a time limit per attempt (a run whose commit lost a race with a
 * concurrent writer is run again as the same run), writes a JSON-lines log per task,
 * records the run, ends the lease with the outcome and posts failures to the webhook.
 * Returns undefined when the run was abandoned (shutdown): its lease is released for a takeover.
 */
export async function executeInterval(runner: Runner, pipeline: Pipeline, logicalDate: string, claim: Claim, ctx: ExecuteContext, waitedMs = 0): Promise<RunResult | undefined> {
  const { store, owner } = ctx;
  const fields = { pipeline: pipeline.name, logicalDate, runId: claim.runId, attempt: claim.attempt };
  if (claim.attempt > 1) ctx.log('warn', 'run-recovered', { ...fields, reason: 'the previous holder\'s lease expired (crashed or stopped): running again as the same run' });
  ctx.log('info', 'run-start', { ...fields, trigger: claim.trigger });
  await store.recordStart({ runId: claim.runId, project: runner.project.name, pipeline: pipeline.name, logicalDate, trigger: claim.trigger, attempt: claim.attempt, startedAt: claim.startedAt });
  let leaseLost = false;
  const beat = setInterval(() => {
    store.heartbeat(pipeline.name, logicalDate, owner, ctx.leaseMs).then((ok) => {
      if (!ok && !leaseLost) {
        leaseLost = true;
        ctx.log('error', 'lease-lost', fields);
      }
    }, (err: unknown) => ctx.log('warn', 'heartbeat-failed', { ...fields, error: messageOf(err) }));
  }, Math.max(50, Math.floor(ctx.leaseMs / 3)));
  try {
    const waited = await waitForUpstream(runner, pipeline, logicalDate, ctx, waitedMs);
    const run = (): Promise<RunResult> => runner.run(logicalDate, {
      identity: { runId: claim.runId, startedAt: claim.startedAt },
      datasets: new Set(pipeline.datasets.filter((d) => !ctx.selected || ctx.selected.has(d))), pipeline: pipeline.name,
      // a minute logical date does not say its interval's length; day and hour dates name their own (a monthly pipeline's datasets keep their declared grain)
      ...(grainMinutes(grainOf(pipeline.interval)) !== undefined ? { grain: grainOf(pipeline.interval) } : {}), trigger: claim.trigger, attempt: claim.attempt, force: ctx.force === true || claim.trigger === 'manual',
      task: (dataset, attempt, interrupt) => runTask(pipeline, logicalDate, claim.runId, dataset, attempt, interrupt, ctx),
    });
    let result: RunResult;
    if (waited) {
      result = { runId: claim.runId, project: runner.project.name, logicalDate, mode: 'date', status: 'failed', startedAt: claim.startedAt, endedAt: new Date(), datasets: [], error: waited, pipeline: pipeline.name, trigger: claim.trigger, attempt: claim.attempt };
      await store.record(result);
    } else {
      result = await run();
      // every dataset succeeded but a commit lost a race with a concurrent writer (two runs creating
      // one table): run again as the same run, so what was committed is skipped
      for (let i = 1; i <= COMMIT_RETRIES && isCommitFailure(result) && !ctx.signal?.aborted; i++) {
        ctx.log('warn', 'commit-retry', { ...fields, error: result.error });
        await sleep(100 * 2 ** i, ctx.signal);
        result = await run();
      }
    }
    if (ctx.signal?.aborted) {
      await store.release(pipeline.name, logicalDate, owner);
      ctx.log('warn', 'run-abandoned', { ...fields, reason: 'shutdown grace period over: released for a takeover' });
      return undefined;
    }
    await store.finish(pipeline.name, logicalDate, owner, result.status);
    const rows = result.datasets.reduce((n, d) => n + d.rowsOut, 0);
    ctx.log(result.status === 'success' ? 'info' : 'error', 'run-done', { ...fields, status: result.status, rows, ms: result.endedAt.getTime() - result.startedAt.getTime(), ...(result.error ? { error: result.error } : {}) });
    if (result.status === 'failed' && ctx.webhook) await notifyFailure(ctx.webhook, result, ctx.log);
    return result;
  } finally {
    clearInterval(beat);
  }
}

/** Times a run whose datasets all succeeded but whose commit failed is run again. */
const COMMIT_RETRIES = 3;

/** Whether every dataset of a failed run succeeded: the commit failed (a conflict with a concurrent writer). */
function isCommitFailure(r: RunResult): boolean {
  return r.status === 'failed' && r.datasets.length > 0 && r.datasets.every((d) => d.status !== 'failed');
}

/** Waits until every upstream dataset of the pipeline is complete for `logicalDate` (`waitedMs` already spent). Returns an error message on timeout. */
async function waitForUpstream(runner: Runner, pipeline: Pipeline, logicalDate: string, ctx: ExecuteContext, waitedMs: number): Promise<string | undefined> {
  for (const dep of pipeline.dependsOn) {
    const deadline = Date.now() + dep.timeoutMs - waitedMs;
    let logged = false;
    while (!(await isComplete(ctx.store, runner.lake, dep.dataset, coveringIntervals(logicalDate, pipeline.interval, dep.interval)))) {
      if (Date.now() >= deadline || ctx.signal?.aborted) {
        const err = new IngotError('SENSOR_TIMEOUT', `${pipeline.name} ${logicalDate}: upstream ${dep.dataset} was not complete for ${logicalDate} within ${dep.timeoutMs / 1000} s`, { pipeline: pipeline.name, dataset: dep.dataset });
        ctx.log('error', 'sensor-timeout', { pipeline: pipeline.name, logicalDate, dataset: dep.dataset });
        return err.message;
      }
      if (!logged) ctx.log('info', 'sensor-waiting', { pipeline: pipeline.name, logicalDate, dataset: dep.dataset });
      logged = true;
      await sleep(Math.min(1000, Math.max(50, dep.timeoutMs / 20)), ctx.signal);
    }
  }
  return undefined;
}

/** One dataset of a run: attempts with exponential backoff (`retryDelay`, doubled each time) and a time limit per attempt. */
async function runTask(pipeline: Pipeline, logicalDate: string, runId: string, dataset: string, attempt: () => Promise<DatasetResult>, interrupt: () => void, ctx: ExecuteContext): Promise<DatasetResult> {
  const log = TaskLog.for(ctx.logDir, pipeline.name, logicalDate, dataset, runId);
  for (let i = 0; ; i++) {
    const t0 = performance.now();
    log.write('info', 'attempt-start', { attempt: i + 1, runId, pipeline: pipeline.name, logicalDate, dataset });
    try {
      const result = await withTimeout(attempt(), pipeline.timeoutMs, interrupt, `${dataset}: attempt ${i + 1} exceeded the time limit of ${(pipeline.timeoutMs ?? 0) / 1000} s`);
      log.write('info', 'attempt-success', { attempt: i + 1, ms: Math.round(performance.now() - t0), rowsIn: result.rowsIn, rowsOut: result.rowsOut, quarantined: result.quarantined, ...(result.alreadyCommitted ? { alreadyCommitted: true } : {}) });
      return Object.assign(result, { attempts: i + 1, log: log.file });
    } catch (err) {
      const error = messageOf(err);
      log.write('error', 'attempt-failed', { attempt: i + 1, ms: Math.round(performance.now() - t0), error, code: err instanceof IngotError ? err.code : undefined });
      if (i >= pipeline.retries || ctx.signal?.aborted) {
        ctx.log('error', 'task-failed', { pipeline: pipeline.name, logicalDate, runId, dataset, attempts: i + 1, error, log: log.file });
        throw Object.assign(err instanceof Error ? err : new Error(error), { task: { attempts: i + 1, log: log.file } });
      }
      const delay = pipeline.retryDelayMs * 2 ** i;
      log.write('warn', 'retry-scheduled', { attempt: i + 2, delayMs: delay });
      ctx.log('warn', 'task-retry', { pipeline: pipeline.name, logicalDate, runId, dataset, attempt: i + 2, delayMs: delay, error });
      await sleep(delay, ctx.signal);
    }
  }
}

/** `work`, failing with TASK_TIMEOUT after `ms` (the engine query is interrupted and the attempt awaited, so the engine is free again). */
async function withTimeout<T>(work: Promise<T>, ms: number | undefined, interrupt: () => void, message: string): Promise<T> {
  if (ms === undefined) return work;
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      interrupt();
      reject(new IngotError('TASK_TIMEOUT', message));
    }, ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } catch (err) {
    // the interrupted attempt cleans up what it staged before the next attempt starts
    if (timedOut) await work.catch(() => {});
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
