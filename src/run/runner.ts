import { randomUUID } from 'node:crypto';
import type { Engine } from '../engine/engine.js';
import { LOCAL_ENGINE, localSettings, openEngine, openLocalEngine, type EngineName, type LocalEngine } from '../engine/registry.js';
import { IngotError, messageOf } from '../errors.js';
import { discardCommit } from '../operations/stage.js';
import { environmentLake, prepareEnvironment } from '../operations/environment.js';
import { Lake } from '../table/lake.js';
import { exportDataset } from '../load/export.js';
import { writePathOf } from '../operations/write-path.js';
import { datasetEngine } from '../pipeline/engines.js';
import { buildGraph, QUARANTINE_SUFFIX, type DatasetGraph } from '../pipeline/graph.js';
import { EVERYTHING, intervalOf, type Grain } from '../pipeline/interval.js';
import type { LoadedDataset, Project } from '../pipeline/project.js';
import { Planner, planState, type Plan, type PlannedRun, type PlanRequest, type PlanState, type PlanStep } from '../plan/plan.js';
import { openMetadata } from '../metadata/open.js';
import { commitStaged } from './commit.js';
import type { DatasetResult, ExpectationResult, RunResult } from '../metadata/records.js';
import type { RunHistory } from '../metadata/run-history.js';
import type { RunScope, StagedWrite, StepContext } from './step/context.js';
import type { BatchPolicy } from '../sources/source.js';
import { runStep } from './step/step.js';
import { profiled, timed } from './profile.js';

/** Progress of a run, for display. */
export type RunEvent =
  | { type: 'run-start'; runId: string; logicalDate?: string; index: number; total: number; plan: PlannedRun }
  | { type: 'dataset-done'; runId: string; result: DatasetResult }
  | { type: 'committed'; runId: string; table: string; version: number }
  | { type: 'run-done'; result: RunResult; index: number; total: number };

/**
 * Who a run is. A retry passes the identity of the run it retries: every commit of a run carries
 * a Delta `txn` action (appId `ingot:<logical date>`, version = start time in ms), so tables the
 * first attempt already committed are neither written nor committed again, and a run older than
 * the last one committed for its date never overwrites it.
 */
export interface RunIdentity {
  runId: string;
  startedAt: Date;
}

/** Options of `Runner.run`. */
export interface RunOptions {
  onEvent?: (e: RunEvent) => void;
  /** Position in a sequence of runs, for progress events. */
  index?: number;
  total?: number;
  /** Retry of an earlier run: its identity (default: a new run). */
  identity?: RunIdentity;
  /** Run only these datasets (a selection, or a pipeline's), in graph order; the others' tables are read as committed. Default: all. */
  datasets?: ReadonlySet<string>;
  /** Run every selected dataset, whatever the plan finds (`--rerun`). */
  force?: boolean;
  /** The interval the run owns for datasets without a `grain` (see `PlanRequest.grain`): a monthly pipeline's `month`, a sub-hourly pipeline's `'15 minutes'`. */
  grain?: Grain;
  /** A micro-batch's bounds and bad-file policy (`BatchPolicy`): a run started by arriving files. */
  batch?: BatchPolicy;
  /** Without a logical date: `full_refresh` (default) rebuilds every selected table; `once` runs over everything with the declared materializations. */
  mode?: 'full_refresh' | 'once';
  /** Recorded with the run: the pipeline, what started it (`schedule`, `backfill`, `manual`...), the attempt of a taken-over run. */
  pipeline?: string;
  trigger?: string;
  attempt?: number;
  /**
   * Runs each attempt of a dataset (the scheduler's retries, timeouts and logs): calls `attempt`
   * as often as it likes; a failed attempt has already discarded what it staged. `interrupt`
   * cancels the engine's running query (the attempt then fails). The error of a final failure
   * may carry `task: { attempts, log }` for the record.
   */
  task?: (dataset: string, attempt: () => Promise<DatasetResult>, interrupt: () => void) => Promise<DatasetResult>;
  /**
   * The run's plan, made just before by `prepare` with the same logical date, mode, datasets,
   * force and grain (a caller deciding from the plan whether to run at all, as a file trigger
   * does): executed as it is rather than planned again. A replan after a concurrent commit plans anew.
   */
  prepared?: PreparedRun;
}

/** One run's plan made ahead of the run (`Runner.prepare`), and the source listings it took (which the run's steps then read). */
export interface PreparedRun {
  planned: PlannedRun;
  listings: PlanState['listings'];
}

/** Times a run is planned and executed again after CONCURRENT_MODIFICATION or COMMIT_CONFLICT (another run moved a table it read or writes). */
const REPLANS = 8;

/**
 * Executes plans (`Planner`) over a project's lake: one run per logical date, or one over
 * everything. A run executes its plan's `run` steps in order (`runStep`: read → render →
 * conform → check → write), staging every table's output (downstream steps read the staged
 * snapshots), and commits when all steps succeeded, one Delta commit per table, in dependency
 * order (`commitStaged`). A failing step leaves every table at its previous version; a failing
 * commit says which tables committed and which did not. A commit refused because an upstream
 * table moved since it was read (CONCURRENT_MODIFICATION) makes the runner plan the run again
 * and execute the new plan. Each dataset runs on its engine (`datasetEngine`), behind the
 * engine's write path; runs are recorded in the metadata store.
 */
export class Runner {
  private constructor(
    readonly project: Project,
    /** The in-process engine (sources, exports, checkpoints). */
    readonly engine: LocalEngine,
    private readonly engines: ReadonlyMap<EngineName, Engine>,
    readonly lake: Lake,
    readonly graph: DatasetGraph,
    readonly metadata: RunHistory,
    private readonly ownsMetadata: boolean,
    readonly planner: Planner,
  ) {}

  /** The engine running `ds`. */
  engineOf(ds: Pick<LoadedDataset, 'source' | 'engine'>): Engine {
    return this.engines.get(datasetEngine(ds, this.project.config))!;
  }

  /**
   * Opens the engines the project's datasets run on and builds its graph. Runs are recorded in
   * `metadata` (default: the project's metadata store, closed with the runner). With
   * `environment`, the lake is seen from that environment (`environmentLake`): each run first
   * makes the tables it may write the environment's (`prepareEnvironment`: shallow clones of
   * production's), reads every other table from production, and runs no exports.
   * Errors: DATASET_UNKNOWN, GRAPH_CYCLE, DATASET_INVALID, CONFIG_INVALID (an engine's settings), METADATA_UNAVAILABLE.
   */
  static async open(project: Project, options: { metadata?: RunHistory; environment?: string } = {}): Promise<Runner> {
    const local = profiled(await openLocalEngine(localSettings(project.config, project.dir)), 'engine');
    const engines = new Map<EngineName, Engine>([[LOCAL_ENGINE, local]]);
    try {
      for (const d of project.datasets) {
        const name = datasetEngine(d, project.config);
        if (!engines.has(name)) engines.set(name, profiled(await openEngine(name, project.config, { projectDir: project.dir, projectName: project.name, lake: project.lake }), `engine.${name}`));
      }
      const engineOf = (d: LoadedDataset): Engine => engines.get(datasetEngine(d, project.config))!;
      const graph = await buildGraph(project.datasets, (sql, d) => engineOf(d).references(sql, { unqualified: true }), (d) => engineOf(d).dialect);
      // in an environment, the tables it holds are read and written there, the others read from production
      const lake = options.environment === undefined ? new Lake(project.lake, local) : await environmentLake(project.lake, options.environment, local);
      return new Runner(project, local, engines, lake, graph, profiled(options.metadata ?? (await openMetadata(project)), 'metadata'), !options.metadata, new Planner(project, graph, lake));
    } catch (err) {
      for (const e of new Set(engines.values())) await e.close();
      throw err;
    }
  }

  /** The plan of `request` over the lake as it is now (nothing runs). */
  plan(request: PlanRequest): Promise<Plan> {
    return this.planner.plan(request);
  }

  /**
   * The plan of the run `run(logicalDate, options)` would make now (`options`: its mode,
   * datasets, force and grain), to pass to it as `options.prepared`. Errors: as `plan`.
   */
  async prepare(logicalDate: string | undefined, options: Pick<RunOptions, 'mode' | 'datasets' | 'force' | 'grain'> = {}): Promise<PreparedRun> {
    const state = planState();
    const mode = logicalDate !== undefined ? 'date' : options.mode ?? 'full_refresh';
    const planned = await timed('run.plan', () => this.planner.planRun(logicalDate, mode, { selected: options.datasets, force: options.force, ...(options.grain ? { grain: options.grain } : {}) }, state));
    return { planned, listings: state.listings };
  }

  /**
   * Runs each logical date in order (or one run over everything: `full-refresh`, `once`),
   * stopping at the first failed run. Returns the results of the runs that happened.
   */
  async runAll(dates: string[] | 'full-refresh' | 'once', onEvent?: (e: RunEvent) => void, options: Pick<RunOptions, 'datasets' | 'force'> = {}): Promise<RunResult[]> {
    const list = dates === 'full-refresh' || dates === 'once' ? [undefined] : dates;
    const mode = dates === 'once' ? 'once' : 'full_refresh';
    const results: RunResult[] = [];
    for (let i = 0; i < list.length; i++) {
      const result = await this.run(list[i], { ...options, onEvent, index: i, total: list.length, mode });
      results.push(result);
      if (result.status === 'failed') break;
    }
    return results;
  }

  /**
   * Plans and executes the run of `logicalDate` (undefined: a run over everything, see
   * `options.mode`). Never throws for dataset failures: they are in the result.
   */
  run(logicalDate: string | undefined, options: RunOptions = {}): Promise<RunResult> {
    return timed('run', () => this.runOnce(logicalDate, options));
  }

  private async runOnce(logicalDate: string | undefined, options: RunOptions): Promise<RunResult> {
    const { index = 0, total = 1 } = options;
    const onEvent = options.onEvent ?? (() => {});
    const mode = logicalDate !== undefined ? 'date' : options.mode ?? 'full_refresh';
    const scope: RunScope = {
      runId: options.identity?.runId ?? `${logicalDate ?? (mode === 'once' ? 'once' : 'full')}_${randomUUID().slice(0, 8)}`,
      startedAt: options.identity?.startedAt ?? new Date(), logicalDate, mode, projectDir: this.project.dir, ...(options.batch ? { batch: options.batch } : {}),
    };
    if (this.lake.environment !== undefined) {
      // the tables this run may write start as shallow clones of production's (no data copied)
      const names = this.planner.selectedNodes(options.datasets).flatMap((n) => [n.dataset.name, `${n.dataset.name}${QUARANTINE_SUFFIX}`]);
      await prepareEnvironment(this.lake, names);
    }
    let txnVersion = scope.startedAt.getTime();
    let outcome: { datasets: DatasetResult[]; error?: string; conflict?: boolean; notRun?: RunResult['notRun'] } = { datasets: [] };
    const replanned: string[] = [];
    for (let replan = 0; replan <= REPLANS; replan++) {
      const { planned, listings } = replan === 0 && options.prepared ? options.prepared : await this.prepare(logicalDate, options);
      scope.listings = listings;
      if (replan === 0) onEvent({ type: 'run-start', runId: scope.runId, logicalDate, index, total, plan: planned });
      outcome = await this.execute(scope, planned, txnVersion, options, onEvent);
      if (!outcome.conflict || replan === REPLANS) break;
      replanned.push(outcome.error ?? 'a concurrent commit');
      // another run moved a table this one read: plan again from the lake as it is now, with a newer txn
      txnVersion = Math.max(Date.now(), txnVersion + 1);
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 50 * (replan + 1)));
    }
    const result: RunResult = {
      runId: scope.runId, project: this.project.name, ...(logicalDate ? { logicalDate } : {}), mode,
      status: outcome.error === undefined ? 'success' : 'failed', startedAt: scope.startedAt, endedAt: new Date(), datasets: outcome.datasets,
      ...(outcome.error !== undefined ? { error: outcome.error } : {}), ...(replanned.length > 0 ? { replanned } : {}), ...(outcome.notRun?.length ? { notRun: outcome.notRun } : {}),
      ...(options.pipeline ? { pipeline: options.pipeline } : {}), ...(options.trigger ? { trigger: options.trigger } : {}), ...(options.attempt ? { attempt: options.attempt } : {}),
    };
    await timed('run.record', () => this.metadata.record(result));
    onEvent({ type: 'run-done', result, index, total });
    return result;
  }

  /** Executes one planned run: its steps, then the commits and exports. */
  private async execute(scope: RunScope, planned: PlannedRun, txnVersion: number, options: RunOptions, onEvent: (e: RunEvent) => void): Promise<{ datasets: DatasetResult[]; error?: string; conflict?: boolean; notRun?: RunResult['notRun'] }> {
    const staged = new Map<string, StagedWrite>();
    const results: DatasetResult[] = [];
    const txn = { appId: `ingot:${scope.logicalDate ?? (scope.mode === 'once' ? 'once' : 'full')}`, version: txnVersion };
    const steps = [...planned.steps];
    let error: string | undefined;
    for (let i = 0; i < steps.length && error === undefined; i++) {
      const step = steps[i]!;
      if (step.action === 'skip') {
        const skipped = skippedResult(step);
        results.push(skipped);
        onEvent({ type: 'dataset-done', runId: scope.runId, result: skipped });
        continue;
      }
      const result = await timed('run.step', () => this.runDataset(scope, step, txn, staged, options));
      results.push(result);
      onEvent({ type: 'dataset-done', runId: scope.runId, result });
      if (result.status === 'failed') error = result.error;
      // a source with nothing new: the steps after it are planned again (those that ran only because of it skip)
      else if (result.status === 'skipped' && i + 1 < steps.length) await this.replanRest(scope, steps, i + 1, staged, options);
    }
    if (error !== undefined) {
      await this.discard(staged);
      // the steps after the failure, recorded as not run (the run's page lists every step of its plan)
      const failed = results.find((r) => r.status === 'failed')?.dataset ?? '';
      const below = this.downstream(failed);
      const notRun = steps.slice(results.length).map((st) => ({ dataset: st.dataset, reason: below.has(st.dataset) ? `upstream ${failed} failed` : `the run stopped when ${failed} failed` }));
      return { datasets: results, error, notRun };
    }
    const committed: string[] = [];
    for (const name of staged.keys()) {
      try {
        const version = await timed('run.commit', () => commitStaged(this.lake, staged, name));
        committed.push(`${name} at version ${version}`);
        onEvent({ type: 'committed', runId: scope.runId, table: name, version });
      } catch (err) {
        const rest = [...staged].filter(([, w]) => w.committed === undefined).map(([n]) => n);
        await this.discard(staged);
        const said = `${committed.length ? `committed ${committed.join(', ')}; ` : 'nothing committed; '}not committed: ${rest.join(', ')}`;
        // another run moved a table this one read or writes: planning again sees its commit
        const conflict = err instanceof IngotError && (err.code === 'CONCURRENT_MODIFICATION' || err.code === 'COMMIT_CONFLICT');
        return { datasets: results, error: `commit failed: ${messageOf(err)} (${said})`, conflict };
      }
    }
    // exports follow the commits, for steps skipped as up to date too: an export that failed is made by the next run (idempotently)
    const exportError = await timed('run.export', () => this.exportAll(results, scope.logicalDate, options.grain));
    return { datasets: results, ...(exportError ? { error: `${exportError} (committed ${committed.join(', ') || 'nothing'})` } : {}) };
  }

  /** Runs one `run` step with the scheduler's task wrapper, if any; a failure is a `failed` result. */
  private async runDataset(scope: RunScope, step: PlanStep, txn: { appId: string; version: number }, staged: Map<string, StagedWrite>, options: RunOptions): Promise<DatasetResult> {
    const node = this.graph.get(step.dataset)!;
    const ds = node.dataset;
    const engine = this.engineOf(ds);
    const t0 = performance.now();
    const startedAt = new Date();
    const checked: ExpectationResult[] = [];
    const attempt = async (): Promise<DatasetResult> => {
      checked.length = 0;
      const ctx: StepContext = {
        scope, node, ds, step, engine, path: writePathOf(engine), lake: this.lake, txn, staged, checked,
        interval: step.interval, full: scope.mode === 'full_refresh',
        committed: await timed('run.step.own-snapshot', () => this.lake.table(ds.name).trySnapshot()),
        commitNow: (name) => commitStaged(this.lake, staged, name),
      };
      try {
        return await runStep(ctx);
      } catch (err) {
        await this.discard(staged, [ds.name, `${ds.name}${QUARANTINE_SUFFIX}`]);
        throw err;
      }
    };
    try {
      const result = options.task ? await options.task(ds.name, attempt, () => engine.interrupt?.()) : await attempt();
      // the same object: the commit fills in its version
      return Object.assign(result, { ...(result.status === 'success' ? { reason: step.reason } : {}), ms: Math.round(performance.now() - t0), startedAt });
    } catch (err) {
      const task = (err as { task?: { attempts: number; log: string } }).task;
      return { dataset: ds.name, status: 'failed', rowsIn: 0, rowsOut: 0, dropped: 0, quarantined: 0, expectations: checked, inputs: [], ms: Math.round(performance.now() - t0), startedAt, error: messageOf(err), ...task };
    }
  }

  /** Plans `steps[from...]` again, as the tables this run staged so far are what changes. */
  private async replanRest(scope: RunScope, steps: PlanStep[], from: number, staged: ReadonlyMap<string, StagedWrite>, options: RunOptions): Promise<void> {
    const state = planState(new Map([...staged.keys()].map((t) => [t, 'runs first'])));
    for (let j = from; j < steps.length; j++) {
      steps[j] = await this.planner.planStep(this.graph.get(steps[j]!.dataset)!, scope.logicalDate, scope.mode, options.force === true, state, options.grain);
    }
  }

  /** Runs the exports of the run's datasets (written, or up to date); the first failure's message, if any. */
  private async exportAll(results: DatasetResult[], logicalDate: string | undefined, grain: Grain | undefined): Promise<string | undefined> {
    for (const r of results) {
      const ds = this.graph.get(r.dataset)?.dataset;
      // exports are production's (report files, datamarts): a run in an environment leaves them alone
      if (!ds?.exports || r.status === 'failed' || this.lake.environment !== undefined) continue;
      try {
        await exportDataset(this.engine, this.lake, this.project.dir, ds, logicalDate, logicalDate === undefined ? EVERYTHING : intervalOf(logicalDate, ds.grain ?? grain));
      } catch (err) {
        return `export failed: ${messageOf(err)}`;
      }
    }
    return undefined;
  }

  /** Deletes the files of the staged writes (of `names`, default all) not committed yet. */
  private async discard(staged: Map<string, StagedWrite>, names: string[] = [...staged.keys()]): Promise<void> {
    for (const name of names) {
      const w = staged.get(name);
      if (!w || w.committed !== undefined) continue;
      staged.delete(name);
      if (w.commit) await discardCommit(w.table, w.commit);
    }
  }

  /** Datasets reading `name`, directly or through others. */
  private downstream(name: string): Set<string> {
    const out = new Set<string>([name]);
    for (const node of this.graph.order) if (node.dependsOn.some((u) => out.has(u))) out.add(node.dataset.name);
    out.delete(name);
    return out;
  }

  /** Cancels the query each of the runner's engines is running, if any (shutdown). */
  interrupt(): void {
    for (const e of this.engines.values()) e.interrupt?.();
  }

  async close(): Promise<void> {
    for (const e of new Set(this.engines.values())) await e.close();
    if (this.ownsMetadata) await this.metadata.close();
  }
}

/** The result of a step the plan skipped. */
function skippedResult(step: PlanStep): DatasetResult {
  return { dataset: step.dataset, status: 'skipped', reason: step.reason, rowsIn: 0, rowsOut: 0, dropped: 0, quarantined: 0, expectations: [], inputs: [], ms: 0 };
}
