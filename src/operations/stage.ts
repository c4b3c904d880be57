import * as path from 'node:path';
import type { Engine, WriteTarget } from '../engine/engine.js';
import { deletionVectorKey } from '../table/deletion-vector.js';
import { Snapshot } from '../table/snapshot.js';
import type { DeltaTable, PreparedCommit } from '../table/table.js';
import { decodePath, planWrite, type DataFile, type WriteOptions } from '../table/write.js';
import type { Filter } from '../table/filter.js';
import { fieldOf, type StructType } from '../table/schema.js';

/**
 * Options of `stageWrite`: those of a table write (`WriteOptions`), with `schema` the schema of
 * the rows `sql` returns (from `Engine.stage`) and the partition columns named `partitionBy`.
 */
export interface SqlWriteOptions extends Omit<WriteOptions, 'files' | 'partitionColumns'> {
  partitionBy?: string[];
}

/**
 * Writes the rows of `sql` (run by `engine`) as data files of `table` and prepares the commit,
 * without committing it: the caller commits (`table.commit`) once everything it depends on
 * succeeded. Returns the prepared commit and the snapshot as it will be after the commit.
 */
export async function stageWrite(engine: Engine, table: DeltaTable, base: Snapshot | undefined, sql: string, options: SqlWriteOptions): Promise<{ commit: PreparedCommit; preview: Snapshot }> {
  const partitionColumns = options.partitionBy ?? base?.partitionColumns ?? [];
  const guess = base?.columnMapping ? undefined : partitionGuess(options.replaceWhere, partitionColumns, options.schema);
  const files = await writeDataFiles(engine, table, sql, { partitionColumns, schema: options.schema, ...(guess ? { partitionGuess: guess } : {}) });
  let commit: PreparedCommit;
  try {
    commit = planWrite(base, { ...options, files, partitionColumns }, table.location);
  } catch (err) {
    await discardFiles(table, files.map((f) => f.path));
    throw err;
  }
  const version = (base?.version ?? -1) + 1;
  const preview = base ? base.apply(commit.actions, version) : Snapshot.replay([{ version, actions: commit.actions }], undefined, table.location);
  return { commit, preview };
}

/**
 * The partition a `replace` write's rows are expected in (`WriteTarget.partitionGuess`): each
 * partition column's value from `replaceWhere`, `column = v`, or for a date column `column >= d`
 * (its interval's first day: a day's run, or a month's run of a table partitioned by the month's
 * first day). Undefined when a column has neither.
 */
function partitionGuess(replaceWhere: Filter[] | undefined, partitionColumns: string[], schema: StructType): Record<string, string> | undefined {
  if (!replaceWhere?.length || partitionColumns.length === 0) return undefined;
  const guess: Record<string, string> = {};
  for (const c of partitionColumns) {
    const eq = replaceWhere.find((f) => f.column === c && f.op === '=' && (typeof f.value === 'string' || typeof f.value === 'number'));
    const from = replaceWhere.find((f) => f.column === c && f.op === '>=' && typeof f.value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(f.value));
    if (eq) guess[c] = String(eq.value);
    else if (from && fieldOf(schema, c)?.type === 'date') guess[c] = String(from.value);
    else return undefined;
  }
  return guess;
}

/**
 * Writes the rows of `sql` (run by `engine`) as new data files of `table`, invisible to readers
 * until a commit adds them. The engine writes into the store's local staging directory, under the
 * table's `dataPrefix` (an environment's table writes into production's table folder); a remote
 * store gets the files uploaded (and the local copies removed) before this returns. Paths are
 * keys relative to the table root (`DataFile.path`).
 */
export async function writeDataFiles(engine: Engine, table: DeltaTable, sql: string, target: Omit<WriteTarget, 'location'>): Promise<DataFile[]> {
  const staging = await table.store.localStaging();
  const prefix = table.dataPrefix;
  try {
    const written = await engine.write(sql, { ...target, location: prefix === '' ? staging.dir : path.join(staging.dir, ...prefix.split('/')) });
    const files = prefix === '' ? written : written.map((f) => ({ ...f, path: `${prefix}/${f.path}` }));
    await staging.publish(files.map((f) => f.path));
    return files;
  } finally {
    await staging.close();
  }
}

/** Deletes data files that were written but never committed (paths relative to the table root). */
export async function discardFiles(table: DeltaTable, paths: string[]): Promise<void> {
  await Promise.all(paths.map((p) => table.store.delete(p)));
}

/**
 * Deletes the data files, change data files and deletion vector files a prepared commit adds,
 * when it will not be committed. A data file the commit also removes is one it re-adds with a new
 * deletion vector (`markDeleted`): the data file stays, its new DV file goes.
 */
export function discardCommit(table: DeltaTable, commit: PreparedCommit): Promise<void> {
  const removed = new Set(commit.actions.flatMap((a) => ('remove' in a ? [a.remove.path] : [])));
  const oldDvs = new Set(commit.actions.flatMap((a) => ('remove' in a && a.remove.deletionVector?.storageType ? [a.remove.deletionVector.pathOrInlineDv] : [])));
  const keys = new Set<string>();
  for (const a of commit.actions) {
    if ('add' in a && removed.has(a.add.path)) {
      const dv = a.add.deletionVector;
      if (dv?.storageType === 'u' && !oldDvs.has(dv.pathOrInlineDv)) keys.add(deletionVectorKey(dv, table.store.root));
    } else if ('add' in a) keys.add(decodePath(a.add.path, table.store.root));
    else if ('cdc' in a) keys.add(decodePath(a.cdc.path, table.store.root));
  }
  return discardFiles(table, [...keys]);
}
