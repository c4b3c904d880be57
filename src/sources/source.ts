import type { Engine } from '../engine/engine.js';
import type { Expectation } from '../pipeline/definition.js';
import type { Interval } from '../pipeline/interval.js';
import type { ObjectMeta } from '../storage/store.js';
import type { DomainWrite } from '../table/write.js';

/** What a source connector knows about the run that reads it. */
export interface SourceContext {
  /** Project folder; relative source paths resolve against it. */
  projectDir: string;
  /** Dataset being loaded, for error messages. */
  dataset: string;
  /** The run's interval; `partitionColumn` values outside it are not read. */
  interval: Interval;
  /** The dataset's first partition column, if any. */
  partitionColumn?: string;
  /** The run's logical date (`YYYY-MM-DD`); undefined in a full refresh. */
  logicalDate?: string;
  /** The run's id. */
  runId?: string;
  /**
   * The greatest value of `column` in the dataset's own table at its latest committed version, as
   * text (undefined: no table yet, or only NULLs). Incremental sources derive their bookmark from
   * it, so the bookmark commits atomically with the rows. Absent in full-refresh runs.
   */
  maxOfTarget?: (column: string) => Promise<string | undefined>;
  /**
   * Metadata domains (name → configuration) of the dataset's table at the version this run's
   * commit will follow; empty for a new table. Sources that track what they loaded (files,
   * archives) read their domain here and return the new one in `SourceBatch.domainMetadata`, so
   * it commits with the rows. Absent in full-refresh runs: everything is loaded again.
   */
  committed?: ReadonlyMap<string, string>;
  /** The run appends its rows (materialization `append`, not a full refresh). */
  appends?: boolean;
  /** The step is forced (`--rerun`): read everything in the interval again, even what the committed bookkeeping says is loaded. */
  force?: boolean;
  /** Listings of stores by root, shared by the probes of one plan (a folder is listed once for every interval). */
  listings?: Map<string, Promise<ObjectMeta[]>>;
  /** Bounds and bad-file policy of a micro-batch (a run started by arriving files). */
  batch?: BatchPolicy;
}

/**
 * How a run started by arriving files reads them (`trigger` on a pipeline): at most `maxFiles`
 * files and `maxBytes` bytes per run (oldest first; at least one file; the rest go to the next
 * run), and what a file that cannot be read does: `reject` (default) records it as rejected with
 * its error in the committed file list and the run's results and loads the other files; `fail`
 * fails the run.
 */
export interface BatchPolicy {
  maxFiles?: number;
  maxBytes?: number;
  onBadFile?: 'reject' | 'fail';
}

/** A file a run could not read, left out of its batch: its name, and the reader's error (with the line when it names one). */
export interface RejectedFile {
  file: string;
  error: string;
  line?: number;
}

/** Whether a run would find new input (`SourceConnector.probe`), and what, for the plan's reason. */
export interface SourceProbe {
  changed: boolean;
  /** e.g. `3 new or changed files`, `no new or changed files`. */
  detail: string;
}

/** What a source read: the relation name in the engine and the inputs it came from. */
export interface SourceBatch {
  relation: string;
  /** Input names (files, endpoints) for progress and run records. */
  inputs: string[];
  /**
   * Row checks the connector's rows need, checked with the dataset's own expectations (e.g.
   * `_parse_error IS NULL`, action quarantine, for malformed log lines).
   */
  expectations?: Expectation[];
  /**
   * Columns only rows failing a quarantine expectation carry (`_raw`, `_parse_error`): written to
   * the quarantine table, left out of the dataset's table.
   */
  quarantineColumns?: string[];
  /** Metadata domains to commit in the same Delta commit as the rows (e.g. `ingot.files`). */
  domainMetadata?: DomainWrite[];
  /** Nothing changed since the last commit: the run writes and commits nothing for the dataset (0 rows, success). */
  unchanged?: boolean;
  /** Files left out because they could not be read (`BatchPolicy.onBadFile` `reject`). */
  rejected?: RejectedFile[];
}

/**
 * A source connector: makes the raw rows of one run available to the engine as a relation,
 * each row carrying `_source` (the file or endpoint it came from).
 */
export interface SourceConnector {
  read(ctx: SourceContext, engine: Engine, relation: string): Promise<SourceBatch>;
  /**
   * Whether `read` would find anything new, without reading (the plan's change detection);
   * absent for sources that only know by reading (an HTTP API, a database query, an archive's checksum).
   */
  probe?(ctx: SourceContext): Promise<SourceProbe>;
}
