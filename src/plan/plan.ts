import { dialectOf } from '../engine/registry.js';
import { IngotError } from '../errors.js';
import type { Lake } from '../table/lake.js';
import type { Materialization } from '../pipeline/definition.js';
import { datasetEngine } from '../pipeline/engines.js';
import type { DatasetGraph, DatasetNode } from '../pipeline/graph.js';
import { QUARANTINE_SUFFIX } from '../pipeline/graph.js';
import { EVERYTHING, intervalOf, type Grain, type Interval } from '../pipeline/interval.js';
import { datePartScope, dateParts } from '../pipeline/partition-slice.js';
import type { LoadedDataset, Project } from '../pipeline/project.js';
import { connectorFor } from '../sources/connectors.js';
import type { ObjectMeta } from '../storage/store.js';
import { boundValue } from '../pipeline/interval.js';
import type { Filter } from '../table/filter.js';
import { fieldOf } from '../table/schema.js';
import type { Snapshot } from '../table/snapshot.js';
import { fingerprint } from './fingerprint.js';
import { recordedState } from './state.js';

/**
 * The plan: what a run will do before it does anything, as a value that can be printed
 * (`ingot plan --format json`). One run per logical date (or one over everything), and in each,
 * one step per selected dataset in dependency order, `run` or `skip` with the reason:
 *
 * - `forced`: a full refresh, or `--rerun`;
 * - `new`: the dataset's table does not exist yet;
 * - `definition changed`: its fingerprint (SQL, source, materialization, expectations, contract:
 *   see `fingerprint`) differs from the one recorded with the interval;
 * - `upstream changed: silver.flights 12 → 13`: an upstream table moved since the interval was
 *   computed from it (or `silver.flights runs first`: it runs earlier in this plan);
 * - `interval missing`: the table holds no recorded state for the interval;
 * - a source's: `3 new or changed files`, or, for a source that only knows by reading (an HTTP
 *   API, a database, an archive's checksum), `reads its source`;
 * - `up to date` (skip): the interval is recorded with the same fingerprint and every upstream
 *   table is at the version it was computed from; or the source has nothing new.
 *
 * Unselected datasets are not steps: their tables are read as committed.
 */
export interface PlanStep {
  dataset: string;
  /** The dataset's interval in this run: its grain's interval containing the logical date, or everything. */
  interval: Interval;
  /** The interval its state is recorded under: `interval`, or everything when the step replaces the whole table. */
  stateInterval: Interval;
  engine: string;
  materialization: Materialization;
  action: 'run' | 'skip';
  reason: string;
  /** The definition fingerprint the step runs with. */
  fingerprint: string;
  /** Each upstream table's current version (null: not written yet). */
  upstream: Record<string, number | null>;
}

/** One run of a plan. */
export interface PlannedRun {
  /** Undefined for a run over everything. */
  logicalDate?: string;
  mode: 'date' | 'full_refresh' | 'once';
  steps: PlanStep[];
}

export interface Plan {
  runs: PlannedRun[];
}

/** What to plan: runs of `dates` (a full refresh, or `once`: over everything with the declared materializations), over the `selected` datasets (default all). */
export interface PlanRequest {
  dates: string[] | 'full-refresh' | 'once';
  selected?: ReadonlySet<string>;
  /** Run every selected step (`--rerun`). */
  force?: boolean;
  /**
   * The interval a run owns for datasets that declare no `grain` (default: the logical date's own,
   * `grainOfDate`): `month` for a monthly pipeline, whose run of `2024-08-01` covers the month; a
   * sub-hourly pipeline's `'15 minutes'`.
   */
  grain?: Grain;
}

/**
 * What one step's decision depends on beyond the definitions: tables that run earlier in the
 * plan, and the lake as the plan saw it (each table's snapshot and each source folder's listing,
 * taken once per plan, so every step of it decides from one view of the lake).
 */
export interface PlanState {
  /** Tables that earlier steps of the plan change → who changes them (`runs first`, `the run of 2001-01-02`). */
  changing: Map<string, string>;
  listings: Map<string, Promise<ObjectMeta[]>>;
  /** Table name → its latest snapshot when first asked (undefined: no table yet). */
  snapshots: Map<string, Promise<Snapshot | undefined>>;
}

/** A fresh plan state: nothing changing yet, the lake not looked at yet; `changing` as given. */
export function planState(changing: Map<string, string> = new Map()): PlanState {
  return { changing, listings: new Map(), snapshots: new Map() };
}

/**
 * Plans runs of a project over its lake. `plan` plans a whole request; the runner calls `planRun`
 * again for each run as it starts (the lake has moved on since) and `planStep` for the rest of a
 * run when a step's outcome differs from what the plan assumed (a source that found nothing new).
 */
export class Planner {
  constructor(readonly project: Project, readonly graph: DatasetGraph, readonly lake: Lake) {}

  /** The plan of `request`. Errors: DATASET_INVALID when a run over everything (`once`) meets a dataset that needs an interval. */
  async plan(request: PlanRequest): Promise<Plan> {
    const state = planState();
    const runs: PlannedRun[] = [];
    const dates = request.dates === 'full-refresh' || request.dates === 'once' ? [undefined] : request.dates;
    for (const date of dates) {
      const mode = request.dates === 'full-refresh' ? 'full_refresh' : request.dates === 'once' ? 'once' : 'date';
      const run = await this.planRun(date, mode, request, state);
      runs.push(run);
      // later runs see this run's changes as made by it
      for (const [t, who] of state.changing) if (who === 'runs first') state.changing.set(t, `the run of ${date ?? 'everything'}`);
    }
    return { runs };
  }

  /** The nodes of the selected datasets, in dependency order. */
  selectedNodes(selected?: ReadonlySet<string>): DatasetNode[] {
    return this.graph.order.filter((n) => !selected || selected.has(n.dataset.name));
  }

  /** Plans one run (see `plan`); `state.changing` gains the tables its `run` steps change. */
  async planRun(logicalDate: string | undefined, mode: PlannedRun['mode'], request: Omit<PlanRequest, 'dates'>, state: PlanState): Promise<PlannedRun> {
    const nodes = this.selectedNodes(request.selected);
    if (mode === 'once') {
      const dated = nodes.find((n) => needsInterval(n.dataset));
      if (dated) {
        throw new IngotError('DATASET_INVALID', `${dated.dataset.name} (${dated.dataset.file}) needs an interval (${needsInterval(dated.dataset)}): give --date, --from and --to, or --full-refresh`, { dataset: dated.dataset.name, file: dated.dataset.file });
      }
    }
    // every table the steps look at, loaded at once (their logs and checkpoints read side by side)
    const tables = new Set(nodes.flatMap((n) => [n.dataset.name, ...n.reads]));
    await Promise.all([...tables].map((t) => this.snapshotOf(t, state).catch(() => undefined)));
    const steps: PlanStep[] = [];
    for (const node of nodes) steps.push(await this.planStep(node, logicalDate, mode, request.force === true, state, request.grain));
    return { ...(logicalDate ? { logicalDate } : {}), mode, steps };
  }

  /** Decides one step (`grain`: as `PlanRequest.grain`); a `run` step marks its tables as changing for the steps after it. */
  async planStep(node: DatasetNode, logicalDate: string | undefined, mode: PlannedRun['mode'], force: boolean, state: PlanState, grain?: Grain): Promise<PlanStep> {
    const ds = node.dataset;
    const engine = datasetEngine(ds, this.project.config);
    const interval = logicalDate === undefined ? EVERYTHING : intervalOf(logicalDate, ds.grain ?? grain);
    const replacesTable = mode !== 'date' || (ds.materialization === 'overwrite' && !needsInterval(ds));
    const step: PlanStep = {
      dataset: ds.name, interval, stateInterval: replacesTable ? EVERYTHING : interval, engine, materialization: ds.materialization,
      action: 'run', reason: '', fingerprint: fingerprint(ds, dialectOf(engine)), upstream: {},
    };
    const upstreamNames = node.reads.filter((r) => r !== ds.name);
    for (const ref of upstreamNames) step.upstream[ref] = (await this.snapshotOf(ref, state))?.version ?? null;
    step.reason = await this.reasonToRun(step, node, mode, force, state, logicalDate);
    if (step.reason.startsWith('up to date')) step.action = 'skip';
    else for (const t of [ds.name, `${ds.name}${QUARANTINE_SUFFIX}`]) state.changing.set(t, 'runs first');
    return step;
  }

  /** Table `name`'s snapshot as this plan sees it (read once per plan state). */
  private snapshotOf(name: string, state: PlanState): Promise<Snapshot | undefined> {
    let s = state.snapshots.get(name);
    if (!s) state.snapshots.set(name, (s = this.lake.table(name).trySnapshot()));
    return s;
  }

  /** Why `step` must run, or `up to date...` when it need not. */
  private async reasonToRun(step: PlanStep, node: DatasetNode, mode: PlannedRun['mode'], force: boolean, state: PlanState, logicalDate: string | undefined): Promise<string> {
    const ds = node.dataset;
    if (force || mode === 'full_refresh') return 'forced';
    const snapshot = await this.snapshotOf(ds.name, state);
    if (!snapshot) return 'new';
    const recorded = recordedState(snapshot, step.stateInterval);
    if (recorded && recorded.fingerprint !== step.fingerprint) return 'definition changed';
    if (ds.source) {
      const connector = connectorFor(ds.source);
      if (!connector.probe) return 'reads its source';
      const probe = await connector.probe({
        projectDir: this.project.dir, dataset: ds.name, interval: step.interval, partitionColumn: ds.partitionBy?.[0], logicalDate,
        appends: ds.materialization === 'append', committed: new Map([...snapshot.domains.values()].map((d) => [d.domain, d.configuration])), listings: state.listings,
      });
      return probe.changed ? probe.detail : `up to date: ${probe.detail}`;
    }
    if (!recorded) return 'interval missing';
    for (const [ref, version] of Object.entries(step.upstream)) {
      const who = state.changing.get(ref);
      if (who) return `upstream changed: ${ref} ${who === 'runs first' ? 'runs first' : `(${who})`}`;
      if (version === null) return `upstream missing: ${ref} has no table yet`;
      const read = recorded.upstream[ref];
      if (read === version) continue;
      if (read === undefined || read > version) return `upstream changed: ${ref} ${read ?? 'unrecorded'} → ${version}`;
      // commits since that changed only partitions outside the step's interval leave it up to date
      const changes = await this.lake.table(ref).dataChanges(read, version, upstreamScope(ds, step.interval, await this.snapshotOf(ref, state)));
      if (changes.length > 0) return `upstream changed: ${ref} ${read} → ${version} (${changes.length} commit${changes.length === 1 ? '' : 's'})`;
    }
    return 'up to date';
  }
}

/**
 * The part of upstream table `upstream` (at `snapshot`) whose changes concern `ds`'s step over
 * `interval`: a dataset whose SQL bounds itself with `{{start}}` / `{{end}}` reads, by ingot's
 * convention (SQLMesh's incremental-by-time-range models and Dagster's time-window partition
 * mappings make the same one), only its interval of upstream tables partitioned by a date or
 * time: then commits changing only other partitions leave it up to date, and do not make its
 * commit stale. Undefined (the whole table) otherwise: an unbounded interval, SQL that does not
 * bound itself, or an upstream not partitioned by a date or timestamp.
 */
export function upstreamScope(ds: LoadedDataset, interval: Interval, snapshot: Snapshot | undefined): Filter[] | undefined {
  if (!snapshot || interval.start === EVERYTHING.start || interval.end === EVERYTHING.end) return undefined;
  if (![ds.sql, ...Object.values(ds.sqlByEngine ?? {})].some((t) => t && /\{\{\s*(start|end)\s*\}\}/.test(t))) return undefined;
  const parts = dateParts(snapshot.partitionColumns);
  if (parts) return datePartScope(parts, interval);
  const column = snapshot.partitionColumns[0];
  const type = column ? fieldOf(snapshot.schema, column)?.type : undefined;
  if (!column || !(type === 'date' || type === 'timestamp' || type === 'timestamp_ntz')) return undefined;
  return [{ column, op: '>=', value: boundValue(interval.start) }, { column, op: '<', value: boundValue(interval.end) }];
}

/** Why `ds` needs a run's interval (undefined: it does not): `replace partition`, or a template naming the interval. */
export function needsInterval(ds: LoadedDataset): string | undefined {
  if (ds.materialization === 'replace partition') return `materialization replace partition by ${ds.partitionBy?.[0]}`;
  const texts = [ds.sql, ...Object.values(ds.sqlByEngine ?? {}), ...(ds.expectations ?? []).map((e) => e.condition), JSON.stringify(ds.source ?? {}), ds.landing, JSON.stringify(ds.exports ?? {})];
  for (const t of texts) {
    const m = t && /\{\{\s*(start|end|logical_date)\s*\}\}|\{logical_date\}/.exec(t);
    if (m) return `it uses ${m[0]}`;
  }
  return undefined;
}
