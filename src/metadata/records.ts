import type { ExpectationAction } from '../pipeline/definition.js';

/** Counts of one expectation in one run. */
export interface ExpectationResult {
  name: string;
  action: ExpectationAction;
  /** Rows for which the condition was false or NULL; for a batch check, 1 when it failed. */
  failed: number;
  /** Present for batch checks (row count, freshness). */
  scope?: 'batch';
}

/** What one dataset did in one run. Row counts are rows; `ms` is wall time in milliseconds. */
export interface DatasetResult {
  dataset: string;
  /** `skipped`: the plan (or the source, finding nothing new) decided the step had nothing to do; `reason` says why. */
  status: 'success' | 'failed' | 'skipped';
  /** Why a step was skipped (`up to date`...), or why it ran (the plan's reason: `new`, `definition changed`...). */
  reason?: string;
  /** Rows the dataset's query (or source) produced. */
  rowsIn: number;
  /** Rows written to the table. */
  rowsOut: number;
  dropped: number;
  quarantined: number;
  expectations: ExpectationResult[];
  /** Input files or endpoints (sources only). */
  inputs: string[];
  /** Input files left out because they could not be read (a run started by arriving files): file, error, line. */
  rejected?: { file: string; error: string; line?: number }[];
  ms: number;
  /** Delta version committed for the table (absent until the run commits). */
  version?: number;
  /** The table already held this run's commit (a retried run): nothing was written again. */
  alreadyCommitted?: boolean;
  error?: string;
  /** When the dataset's first attempt started. */
  startedAt?: Date;
  /** Attempts made (default 1; more with the scheduler's retries). */
  attempts?: number;
  /** Path of the task's log file (JSON lines), when the scheduler wrote one. */
  log?: string;
}

/** One run: a logical date (or a full refresh) over the whole graph. */
export interface RunResult {
  runId: string;
  project: string;
  /** `YYYY-MM-DD`, or undefined for a run over everything. */
  logicalDate?: string;
  /** `full_refresh`: every selected table rebuilt; `once`: a run over everything with the declared materializations (a project without intervals); `date`. */
  mode: 'date' | 'full_refresh' | 'once';
  status: 'success' | 'failed';
  startedAt: Date;
  endedAt: Date;
  datasets: DatasetResult[];
  error?: string;
  /** The pipeline it ran for (scheduler, backfill, trigger); absent for `ingot run`. */
  pipeline?: string;
  /** What started it: `schedule`, `backfill`, `manual`. */
  trigger?: string;
  /**
   * Why the run was planned again, once per time: a table it read or writes was moved by a
   * concurrent run before its commit (CONCURRENT_MODIFICATION, COMMIT_CONFLICT); each entry is
   * that commit's error. Absent when it was planned once.
   */
  replanned?: string[];
  /** 1 for a first run; more when a crashed scheduler's run was taken over. */
  attempt?: number;
  /** Steps of the plan that never started because the run stopped at a failed dataset, with why (`upstream x failed`). */
  notRun?: { dataset: string; reason: string }[];
}
