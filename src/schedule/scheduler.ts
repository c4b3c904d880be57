import { randomUUID } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { messageOf } from '../errors.js';
import type { CoreConfig } from '../pipeline/config.js';
import type { Project } from '../pipeline/project.js';
import type { RunResult } from '../metadata/records.js';
import { coveringIntervals, intervalsBetween, lastComplete, latestTick } from './calendar.js';
import { isComplete } from './complete-dates.js';
import type { ScheduleConfig } from './config.js';
import { executeInterval, type ExecuteContext } from './execute-interval.js';
import { FileTrigger } from './file-trigger.js';
import { listingSignature, patternRegex, watchedFolder } from '../sources/files.js';
import type { PreparedRun } from '../run/runner.js';
import { pipelinesOf, startingPaused, type Pipeline } from './pipeline.js';
import { RunnerPool } from './runner-pool.js';
import type { IntervalState, MetadataStore } from '../metadata/store.js';
import { jsonLog, type LogFn } from './task-log.js';

/** Options of a `Scheduler`. Durations in milliseconds. */
export interface SchedulerOptions {
  /** At most this many runs at once in this process, over all pipelines (default: config `scheduler.maxActiveRuns`, else 4). */
  maxActiveRuns?: number;
  /** Lease duration (default: config `scheduler.leaseSeconds`, else 30 s). */
  leaseMs?: number;
  /** How often the schedule is evaluated (default 1 s). */
  tickMs?: number;
  /** Failure webhook (default: config `scheduler.webhook`). */
  webhook?: string;
  /** The clock schedules are evaluated against (default: real time); a test can run it fast. */
  now?: () => Date;
  log?: LogFn;
  /** Lease owner id (default `host:pid:random`). */
  owner?: string;
  /** Called with each run's result as it ends (`ingot serve` tells its served lake the tables were committed to). */
  onRunDone?: (result: RunResult) => void;
  /**
   * Called as a run starts, with the datasets it may commit to and the run (settling when it
   * ends, whatever its outcome): `ingot serve` tells its served lake that their versions are
   * about to be replaced.
   */
  onRunStart?: (datasets: string[], run: Promise<unknown>) => void;
}

/** A unique lease owner id for this process. */
export function ownerId(): string {
  return `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/** Run results a scheduler keeps in memory (`Scheduler.results`). */
const RESULTS_KEPT = 1000;

/**
 * The long-running scheduler (`ingot serve`). Every tick it works out, for each pipeline that is
 * not paused, the intervals that are due: manual triggers, runs whose holder crashed (expired
 * lease), and the schedule's intervals (the last complete interval at the latest cron tick; with
 * catchup every interval since `start` not yet run, oldest first). It claims them in the metadata
 * store, within the pipeline's and its own `maxActiveRuns`, and executes them concurrently
 * (`executeInterval`). An interval whose upstream datasets (`dependsOn`) are not complete yet is
 * not claimed, so waiting holds no run slot; past the sensor's timeout it is claimed and fails. Several schedulers may share one store: a claim is atomic, so each
 * interval runs once. Failed intervals stay failed until a backfill or trigger reruns them.
 */
export class Scheduler {
  readonly owner: string;
  private readonly pipelines: Pipeline[];
  private readonly pool: RunnerPool;
  private readonly inFlight = new Map<string, Promise<RunResult | undefined>>();
  private readonly abort = new AbortController();
  private readonly ctx: ExecuteContext;
  private readonly maxActive: number;
  private readonly tickMs: number;
  private readonly now: () => Date;
  private readonly log: LogFn;
  private stopped = false;
  /** When each interval waiting for upstream datasets was first found due (epoch ms), by `pipeline/date`. */
  private readonly waiting = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> = Promise.resolve();
  /**
   * Results of the last `RESULTS_KEPT` runs this scheduler finished, in completion order (the
   * metadata store keeps every run; a server triggered by files runs thousands an hour).
   */
  readonly results: RunResult[] = [];
  /** The file-arrival triggers of the pipelines that have one. */
  private readonly triggers: FileTrigger[] = [];
  private readonly onRunDone: ((result: RunResult) => void) | undefined;
  private readonly onRunStart: ((datasets: string[], run: Promise<unknown>) => void) | undefined;

  constructor(readonly project: Project<CoreConfig & ScheduleConfig>, readonly store: MetadataStore, options: SchedulerOptions = {}) {
    const settings = project.config.scheduler ?? {};
    this.owner = options.owner ?? ownerId();
    this.pipelines = pipelinesOf(project);
    this.pool = new RunnerPool(project, store);
    this.maxActive = options.maxActiveRuns ?? settings.maxActiveRuns ?? 4;
    this.tickMs = options.tickMs ?? 1000;
    this.now = options.now ?? (() => new Date());
    this.log = options.log ?? jsonLog();
    this.onRunDone = options.onRunDone;
    this.onRunStart = options.onRunStart;
    const webhook = options.webhook ?? settings.webhook;
    this.ctx = {
      store, owner: this.owner, leaseMs: options.leaseMs ?? (settings.leaseSeconds ?? 30) * 1000,
      logDir: path.join(project.dir, '.ingot', 'logs'), log: this.log, signal: this.abort.signal, ...(webhook ? { webhook } : {}),
    };
  }

  /** Starts ticking (first tick at once). */
  start(): void {
    this.log('info', 'scheduler-start', { owner: this.owner, pipelines: this.pipelines.map((p) => p.name), maxActiveRuns: this.maxActive });
    const loop = (): void => {
      if (this.stopped) return;
      this.ticking = this.tick().catch((err: unknown) => this.log('error', 'tick-failed', { error: messageOf(err) })).finally(() => {
        if (!this.stopped) this.timer = setTimeout(loop, this.tickMs);
      });
    };
    loop();
    for (const p of this.pipelines) {
      if (!p.trigger) continue;
      const trigger = new FileTrigger(p.name, p.trigger.files, this.project.dir, p.trigger.pollMs, () => this.runOnArrival(p), this.log);
      this.triggers.push(trigger);
      trigger.start();
    }
  }

  /**
   * One run of pipeline `p` started by arriving files (trigger `files`): over everything with the
   * declared materializations, its files sources reading what landed since their committed file
   * lists, within the trigger's `maxFiles` / `maxBytes`, bad files rejected or failing the run
   * (`onBadFile`). Nothing runs when the plan finds every dataset up to date, or while the
   * pipeline is paused. Returns whether the run loaded files (more may be waiting).
   */
  private async runOnArrival(p: Pipeline): Promise<boolean> {
    const trigger = p.trigger!;
    if (this.stopped || (await this.store.paused(startingPaused(this.pipelines))).has(p.name)) return false;
    const runner = await this.pool.acquire();
    try {
      const datasets = new Set(p.datasets);
      // planned once: the run executes this plan (and reads the files its listing saw)
      const prepared = await runner.prepare(undefined, { mode: 'once', datasets });
      if (!prepared.planned.steps.some((s) => s.action === 'run')) return false;
      // nothing landed yet: no run (its files sources would fail finding no input)
      if (!(await landedIn(prepared, trigger.files, this.project.dir)) && (await listingSignature(trigger.files, this.project.dir)) === '') return false;
      const key = `${p.name}/files`;
      const run = runner.run(undefined, {
        mode: 'once', datasets, pipeline: p.name, trigger: 'files', prepared,
        batch: { onBadFile: p.onBadFile, ...(trigger.maxFiles !== undefined ? { maxFiles: trigger.maxFiles } : {}), ...(trigger.maxBytes !== undefined ? { maxBytes: trigger.maxBytes } : {}) },
      });
      this.inFlight.set(key, run);
      this.onRunStart?.(p.datasets.filter((d) => datasets.has(d)), run);
      let result: RunResult;
      try {
        result = await run;
      } finally {
        this.inFlight.delete(key);
      }
      this.keep(result);
      this.onRunDone?.(result);
      const files = result.datasets.reduce((n, d) => n + (d.status === 'success' ? d.inputs.length + (d.rejected?.length ?? 0) : 0), 0);
      const rejected = result.datasets.flatMap((d) => d.rejected ?? []);
      this.log(result.status === 'success' ? 'info' : 'error', 'run-done', {
        pipeline: p.name, trigger: 'files', runId: result.runId, status: result.status, files, rows: result.datasets.reduce((n, d) => n + d.rowsOut, 0),
        ms: result.endedAt.getTime() - result.startedAt.getTime(), ...(rejected.length ? { rejected } : {}), ...(result.error ? { error: result.error } : {}),
      });
      return result.status === 'success' && files > 0;
    } finally {
      this.pool.release(runner);
    }
  }

  /** Adds `result` to `results`, dropping the oldest beyond `RESULTS_KEPT`. */
  private keep(result: RunResult): void {
    this.results.push(result);
    if (this.results.length > RESULTS_KEPT) this.results.splice(0, this.results.length - RESULTS_KEPT);
  }

  /** Whether a file-arrival trigger has a run going or due. */
  get triggersBusy(): boolean {
    return this.triggers.some((t) => t.busy);
  }

  /** Claims and starts the due intervals (one evaluation of every pipeline). */
  async tick(): Promise<void> {
    const paused = await this.store.paused(startingPaused(this.pipelines));
    const states = await this.store.intervals();
    const now = this.now();
    const wall = Date.now();
    for (const p of this.pipelines) {
      if (this.stopped) return;
      if (paused.has(p.name)) continue;
      const mine = states.filter((s) => s.pipeline === p.name);
      let running = mine.filter((s) => s.status === 'running' && (s.leaseExpires ?? 0) >= wall).length;
      for (const date of dueIntervals(p, mine, now, wall)) {
        if (running >= p.maxActiveRuns || this.inFlight.size >= this.maxActive || this.stopped) break;
        const key = `${p.name}/${date}`;
        if (this.inFlight.has(key)) continue;
        // sensors wait before the claim, holding no run slot; past their timeout the run is claimed to record the failure
        const waitedMs = await this.upstreamWait(p, date, key, wall);
        if (waitedMs === undefined) continue;
        const claim = await this.store.claim(p.name, date, this.owner, { leaseMs: this.ctx.leaseMs, trigger: 'schedule' });
        if (!claim) continue;
        running++;
        const run = (async () => {
          const runner = await this.pool.acquire();
          try {
            return await executeInterval(runner, p, date, claim, this.ctx, waitedMs);
          } finally {
            this.pool.release(runner);
          }
        })();
        this.inFlight.set(key, run);
        this.onRunStart?.(p.datasets, run);
        run.then((r) => {
          if (!r) return;
          this.keep(r);
          this.onRunDone?.(r);
        }, (err: unknown) => {
          this.log('error', 'run-crashed', { pipeline: p.name, logicalDate: date, error: messageOf(err) });
          // the lease expires and the run is taken over later
        }).finally(() => this.inFlight.delete(key));
        this.waiting.delete(key);
      }
    }
  }

  /**
   * Whether a due interval may be claimed given its upstream datasets: the milliseconds it has
   * waited for them (0 when they were complete at once), or undefined while it must wait more.
   */
  private async upstreamWait(p: Pipeline, date: string, key: string, wall: number): Promise<number | undefined> {
    if (p.dependsOn.length === 0) return 0;
    const since = this.waiting.get(key) ?? wall;
    const runner = await this.pool.acquire();
    try {
      for (const dep of p.dependsOn) {
        if (await isComplete(this.store, runner.lake, dep.dataset, coveringIntervals(date, p.interval, dep.interval))) continue;
        if (wall - since >= dep.timeoutMs) return wall - since;
        if (!this.waiting.has(key)) this.log('info', 'sensor-waiting', { pipeline: p.name, logicalDate: date, dataset: dep.dataset });
        this.waiting.set(key, since);
        return undefined;
      }
    } finally {
      this.pool.release(runner);
    }
    return wall - since;
  }

  /** Waits until no run is in flight, none waits for upstream data and nothing is due (for tests). */
  async idle(pollMs = 50): Promise<void> {
    for (;;) {
      await this.ticking;
      if (this.inFlight.size === 0) {
        await this.tick();
        if (this.inFlight.size === 0 && this.waiting.size === 0) return;
      }
      await Promise.race([...this.inFlight.values(), new Promise((r) => setTimeout(r, 4 * pollMs))].map((p) => p.catch(() => undefined)));
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  /**
   * Graceful shutdown: claims nothing more, waits up to `graceMs` for runs in flight, then
   * abandons the rest (engine queries interrupted, leases released so a restarted or another
   * scheduler takes them over as the same runs: nothing was committed, or the commits are
   * skipped as already made). Closes the runners; not the store.
   */
  async stop(graceMs = 30_000): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
    const triggersStopped = Promise.all(this.triggers.map((t) => t.stop()));
    const pending = [...this.inFlight.values()].map((p) => p.catch(() => undefined));
    this.log('info', 'scheduler-stopping', { inFlight: pending.length, graceMs });
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), graceMs); });
    if ((await Promise.race([Promise.all(pending), grace])) === 'timeout') {
      this.log('warn', 'scheduler-abandoning', { runs: [...this.inFlight.keys()] });
      this.abort.abort();
      await this.pool.interruptAll();
      await Promise.all(pending);
    }
    clearTimeout(timer);
    await triggersStopped;
    await this.pool.close();
    this.log('info', 'scheduler-stopped', { owner: this.owner });
  }
}

/**
 * Whether the listing the plan took of the trigger's local folder (its files sources list it
 * whole; `prepared.listings` by store root) holds a file matching the trigger's glob, as
 * `listingSignature` matches them (hidden names skipped): then the landing folder is not listed
 * again. False when the plan did not list that folder (an S3 prefix, a source listing per
 * interval folder, a table planned without its source): the caller lists.
 */
export async function landedIn(prepared: PreparedRun, pattern: string, projectDir: string): Promise<boolean> {
  const folder = watchedFolder(pattern, projectDir);
  const listing = folder === undefined ? undefined : prepared.listings.get(folder);
  if (!listing) return false;
  const parts = pattern.split('/');
  const rest = parts.slice(Math.max(0, parts.findIndex((p) => /[*?[{]/.test(p)))).join('/');
  if (rest === pattern && !/[*?[{]/.test(parts[0]!)) return false; // no glob: as listingSignature says
  const matcher = patternRegex(rest);
  return (await listing.catch(() => [])).some((o) => !o.outside && !o.key.split('/').some((seg) => seg.startsWith('.')) && matcher.test(o.key));
}

/**
 * The logical dates of `p` to run now, oldest first: queued (manual triggers), running under an
 * expired lease (crash recovery), then the schedule's intervals with no row yet — every interval
 * from `start` (or the first interval ever run) to the last complete one at the latest cron tick
 * with catchup, else only that last one.
 * `now` is the schedule clock, `wall` the real time leases are measured in.
 */
export function dueIntervals(p: Pipeline, states: IntervalState[], now: Date, wall = Date.now()): string[] {
  const known = new Map(states.map((s) => [s.logicalDate, s]));
  const due = states.filter((s) => s.status === 'queued' || (s.status === 'running' && (s.leaseExpires ?? 0) < wall)).map((s) => s.logicalDate);
  if (p.schedule) {
    const tick = latestTick(p.schedule, p.timezone, now);
    if (tick) {
      const last = lastComplete(tick, p.timezone, p.interval);
      // catchup without a start date catches up from the first interval this pipeline ever ran
      const first = p.start ?? states.map((s) => s.logicalDate).sort()[0];
      const dates = p.catchup && first ? intervalsBetween(first, last, p.interval) : p.start && last < p.start ? [] : [last];
      for (const d of dates) if (!known.has(d)) due.push(d);
    }
  }
  return [...new Set(due)].sort();
}
