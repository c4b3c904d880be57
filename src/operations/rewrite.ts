import * as path from 'node:path';
import { quoteIdent, quoteString, type Engine } from '../engine/engine.js';
import { discardCommit, writeDataFiles } from './stage.js';
import { scanOf } from './scan.js';
import type { Action, Add, AddCDCFile } from '../table/actions.js';
import type { Filter } from '../table/filter.js';
import type { Snapshot } from '../table/snapshot.js';
import type { DeltaTable, PreparedCommit } from '../table/table.js';
import { assertWritable, decodePath, toAdd, tombstone, type DataFile } from '../table/write.js';

/**
 * What the operations that rewrite data files (delete, update, merge, optimize) share: a view of
 * the files they read, with row ids; writing replacement files; and one commit that removes the
 * old files and adds the new ones (Delta's copy-on-write).
 */

/** The relation the operations read the target table's files through. */
export const TARGET = '__ingot_op.target';

/** The outcome of an operation. */
export interface OperationResult {
  /** The table version after the operation (unchanged when nothing needed committing). */
  version: number;
  /** Whether a new version was committed. */
  committed: boolean;
  /** Counts, as recorded in commitInfo.operationMetrics (rows, files, bytes). */
  metrics: Record<string, number>;
}

/** The latest snapshot of `table`, checked to be one ingot can write. */
export async function writableSnapshot(table: DeltaTable): Promise<Snapshot> {
  const snapshot = await table.snapshot();
  assertWritable(snapshot, table.location);
  return snapshot;
}

/**
 * Makes `files` of `snapshot` queryable in `engine` as `TARGET`, with the row-id columns of
 * `TableScan.rowIds`. Returns each file's add action by the absolute path `__ingot_file` shows.
 */
export async function attachTarget(engine: Engine, table: DeltaTable, snapshot: Snapshot, files: Iterable<Add>): Promise<Map<string, Add>> {
  const byPath = new Map<string, Add>();
  for (const add of files) byPath.set(decodePath(add.path, table.store.root), add);
  const scan = await scanOf(table, snapshot, [], [...byPath.values()]);
  scan.rowIds = true;
  await engine.attachTable(TARGET, scan);
  const byAbsolute = new Map<string, Add>();
  for (const [rel, add] of byPath) byAbsolute.set(path.join(scan.location, ...rel.split('/')), add);
  return byAbsolute;
}

/** The table's columns, quoted, comma-separated: the projection every rewrite writes. */
export function columnList(snapshot: Snapshot): string {
  return snapshot.schema.fields.map((f) => quoteIdent(f.name)).join(', ');
}

/**
 * Writes the rows of `sql` as new data files of `table`, laid out like the table (partitioning,
 * schema; files of at most `delta.targetFileSize` bytes when the table sets it).
 */
export function writeFiles(engine: Engine, table: DeltaTable, snapshot: Snapshot, sql: string): Promise<DataFile[]> {
  const size = Number(snapshot.metadata.configuration?.['delta.targetFileSize']);
  return writeDataFiles(engine, table, sql, { partitionColumns: snapshot.partitionColumns, schema: snapshot.schema, ...(size > 0 ? { targetFileSize: size } : {}) });
}

/** What `commitRewrite` commits. */
export interface Rewrite {
  removed: Iterable<Add>;
  added: DataFile[];
  operation: string;
  parameters: Record<string, unknown>;
  metrics: Record<string, number>;
  /** false for rearrangements that change no rows (optimize). */
  dataChange?: boolean;
  /**
   * The rows the operation read (`PreparedCommit.readPredicate`): by default the whole table, so
   * a concurrent commit adding rows conflicts; `undefined` when only the removed files were read.
   */
  readPredicate?: Filter[] | 'removed files only';
  /** Idempotency token committed with the rewrite (a Delta `txn` action). */
  txn?: { appId: string; version: number };
  /** The rows the rewrite changed, as change data files (`writeChangeFiles`), for a table with the change data feed on. */
  changes?: AddCDCFile[];
  /**
   * Files of the table added again with a new deletion vector (`markDeleted`); their old logical
   * files must be in `removed`. Committed after the new files' adds.
   */
  marked?: Add[];
}

/** A rewrite ready to commit (`prepareRewrite`): the commit and the metrics it records. */
export interface PreparedRewrite {
  commit: PreparedCommit;
  metrics: Record<string, number>;
}

/**
 * The commit of `rewrite` on top of `snapshot` of the table rooted at `root`, not yet committed:
 * removes, then adds (new files, then files re-added with deletion vectors), then change data
 * files (`cdc`), then `txn` when given, in one version. Metrics gain numAddedFiles (new data
 * files), numRemovedFiles (logical files removed), numAddedBytes, and numDeletionVectorsAdded.
 */
export function prepareRewrite(snapshot: Snapshot, rewrite: Rewrite, root: string): PreparedRewrite {
  const now = Date.now();
  const dataChange = rewrite.dataChange ?? true;
  const actions: Action[] = [];
  for (const add of rewrite.removed) actions.push({ remove: tombstone(add, now, dataChange) });
  for (const file of rewrite.added) actions.push({ add: toAdd(file, dataChange, root) });
  for (const add of rewrite.marked ?? []) actions.push({ add });
  for (const cdc of rewrite.changes ?? []) actions.push({ cdc });
  if (rewrite.txn) actions.push({ txn: { ...rewrite.txn, lastUpdated: now } });
  const metrics = {
    ...rewrite.metrics,
    numAddedFiles: rewrite.added.length,
    numRemovedFiles: actions.filter((a) => 'remove' in a).length,
    numAddedBytes: rewrite.added.reduce((n, f) => n + f.size, 0),
    ...(rewrite.marked?.length ? { numDeletionVectorsAdded: rewrite.marked.length } : {}),
  };
  return {
    commit: {
      readVersion: snapshot.version,
      actions,
      operation: rewrite.operation,
      operationParameters: rewrite.parameters,
      operationMetrics: metricStrings(metrics),
      readPredicate: rewrite.readPredicate === 'removed files only' ? undefined : (rewrite.readPredicate ?? []),
    },
    metrics,
  };
}

/**
 * Commits `rewrite` on top of `snapshot` (see `prepareRewrite`). If the commit fails (conflict,
 * I/O), the files written for it are deleted, so the table and its folder are left as they were.
 * Errors: those of `DeltaTable.commit`.
 */
export async function commitRewrite(table: DeltaTable, snapshot: Snapshot, rewrite: Rewrite): Promise<OperationResult> {
  return commitPrepared(table, prepareRewrite(snapshot, rewrite, table.location));
}

/** Commits a prepared rewrite; on failure deletes the files it added and rethrows. */
export async function commitPrepared(table: DeltaTable, { commit, metrics }: PreparedRewrite): Promise<OperationResult> {
  try {
    return { version: await table.commit(commit), committed: true, metrics };
  } catch (err) {
    await discardCommit(table, commit);
    throw err;
  }
}

/** A result for an operation that found nothing to change. */
export function unchanged(snapshot: Snapshot, metrics: Record<string, number>): OperationResult {
  return { version: snapshot.version, committed: false, metrics };
}

/** `'a', 'b'` list of absolute paths for an `IN (...)` test on `__ingot_file`. */
export function fileList(paths: Iterable<string>): string {
  return [...paths].map(quoteString).join(', ');
}

/** Metrics as commitInfo.operationMetrics holds them: every value a string, as Delta writes them. */
export function metricStrings(metrics: Record<string, number>): Record<string, string> {
  return Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, String(v)]));
}
