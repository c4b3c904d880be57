import type { Engine } from '../../engine/engine.js';
import { IngotError, type ErrorCode } from '../../errors.js';
import type { Lake } from '../../table/lake.js';
import type { WritePath } from '../../operations/write-path.js';
import type { DatasetNode } from '../../pipeline/graph.js';
import type { Interval } from '../../pipeline/interval.js';
import type { BatchPolicy } from '../../sources/source.js';
import type { ObjectMeta } from '../../storage/store.js';
import type { LoadedDataset } from '../../pipeline/project.js';
import type { PlanStep } from '../../plan/plan.js';
import type { IntervalState } from '../../plan/state.js';
import type { Filter } from '../../table/filter.js';
import type { Snapshot } from '../../table/snapshot.js';
import type { DeltaTable, PreparedCommit } from '../../table/table.js';
import type { DatasetResult, ExpectationResult } from '../../metadata/records.js';

/** Who a run is and what it covers. */
export interface RunScope {
  runId: string;
  /** The run's start: its Delta `txn` version, so a retry of the same run commits nothing twice. */
  startedAt: Date;
  /** Undefined for a run over everything (a full refresh, or a run of a project without intervals). */
  logicalDate?: string;
  /** `full_refresh`: every table rebuilt from all input; `once`: everything, materializations as declared; `date`: one logical date. */
  mode: 'date' | 'full_refresh' | 'once';
  projectDir: string;
  /** A micro-batch's bounds and bad-file policy (a run started by arriving files). */
  batch?: BatchPolicy;
  /** The source listings the run's plan took (store root → objects): its steps read the files the plan saw, without listing again. */
  listings?: Map<string, Promise<ObjectMeta[]>>;
}

/**
 * A write the run staged (the commit prepared, committed when every dataset succeeded) or that
 * the dataset's engine already committed (`committed`). `read` is what the rows were computed
 * from: each upstream table's version as read (for a table this run staged, the version its
 * staged commit was prepared on), checked again at commit time (see `commitStaged`).
 */
export interface StagedWrite {
  table: DeltaTable;
  commit?: PreparedCommit;
  /** The table as it will be after `commit`. */
  preview?: Snapshot;
  /** The version committed (by the engine, or ahead of the run's end for an engine that reads committed tables only). */
  committed?: number;
  /** The result to receive the committed version (not set for quarantine tables). */
  result?: DatasetResult;
  /** Upstream tables read: `layer.table` → version read, and the part of it the step reads (see `upstreamScope`). */
  read: Record<string, UpstreamRead>;
  /** The interval state to record with the commit; its `upstream` is filled in at commit time. */
  state?: { interval: Interval; state: Omit<IntervalState, 'upstream'>; replacesTable: boolean };
}

/** An upstream table as a step read it: its version, and the partitions that concern the step (undefined: all). */
export interface UpstreamRead {
  version: number;
  scope?: Filter[];
}

/** Everything one dataset step of a run needs; built by the runner, read by the step's stages. */
export interface StepContext {
  scope: RunScope;
  node: DatasetNode;
  ds: LoadedDataset;
  /** What the plan decided for the step: its fingerprint, interval and engine. */
  step: PlanStep;
  engine: Engine;
  path: WritePath;
  lake: Lake;
  /** The dataset's interval in this run (everything in a run over everything). */
  interval: Interval;
  /** A full refresh: tables are rebuilt, committed state ignored. */
  full: boolean;
  txn: { appId: string; version: number };
  /** The tables this run staged so far, by name (downstream steps read their previews). */
  staged: Map<string, StagedWrite>;
  /** Commits a staged table now (for an engine that reads committed tables only); returns its version. */
  commitNow(name: string): Promise<number>;
  /** The dataset's own table as committed (undefined: no table yet). */
  committed: Snapshot | undefined;
  /** Expectation results of this attempt, kept when the attempt then fails. */
  checked: ExpectationResult[];
}

/** Relations a step creates in its engine, dropped when it ends. */
export const SOURCE_RELATION = '__source';
export const CHECKED_RELATION = '__checked';
export const QUARANTINE_RELATION = '__quarantine';

/**
 * An error of the step naming its dataset and file; an IngotError with its own code (other than
 * SQL_ERROR) passes through unchanged.
 */
export function stepError(ctx: StepContext, code: ErrorCode, message: string, err?: unknown): IngotError {
  if (err instanceof IngotError && err.code !== 'SQL_ERROR') return err;
  return new IngotError(code, `${ctx.ds.name} (${ctx.ds.file}): ${message}`, { dataset: ctx.ds.name, file: ctx.ds.file }, { cause: err });
}
