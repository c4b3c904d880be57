import { IngotError, messageOf } from '../errors.js';
import { ROW_FILE, type Engine } from '../engine/engine.js';
import type { Add } from '../table/actions.js';
import type { DeltaTable } from '../table/table.js';
import { changeFeedEnabled, deletionVectorsEnabled } from '../table/write.js';
import { liveRows, markDeleted, positionsWhere } from './deletion-vectors.js';
import { changeRows, writeChangeFiles } from './change-data.js';
import { attachTarget, columnList, commitRewrite, fileList, TARGET, unchanged, writableSnapshot, writeFiles, type OperationResult } from './rewrite.js';

/** Options of `deleteRows`. */
export interface DeleteOptions {
  /** SQL predicate over the table's columns (engine dialect); rows where it is true go. Absent: every row. */
  where?: string;
}

/**
 * The DELETE operation: removes the rows matching `where`. Files whose rows all match are
 * removed; files with some matching rows are rewritten without them, or, on a table with
 * deletion vectors on (`deletionVectorsEnabled`), keep their data and gain a deletion vector
 * marking the rows (`markDeleted`); other files are untouched.
 * One commit (`operation: DELETE`); nothing is committed when no row matches. With the change
 * data feed on (`changeFeedEnabled`), a delete that rewrites files also writes its deleted rows
 * as change data files (`_change_type` `delete`); one removing whole files needs none.
 * Metrics: numDeletedRows, numCopiedRows, numAddedFiles, numRemovedFiles.
 * Errors: SQL_ERROR for a bad predicate, PROTOCOL_UNSUPPORTED, COMMIT_CONFLICT.
 */
export async function deleteRows(table: DeltaTable, engine: Engine, options: DeleteOptions = {}): Promise<OperationResult> {
  const snapshot = await writableSnapshot(table);
  const parameters = { predicate: JSON.stringify(options.where ? [options.where] : []) };
  if (!options.where) {
    const deleted = snapshot.numRecords ?? 0;
    if (snapshot.files.size === 0) return unchanged(snapshot, { numDeletedRows: 0 });
    return commitRewrite(table, snapshot, { removed: snapshot.files.values(), added: [], operation: 'DELETE', parameters, metrics: { numDeletedRows: deleted, numCopiedRows: 0 } });
  }
  const byFile = await attachTarget(engine, table, snapshot, snapshot.files.values());
  const where = `coalesce((${options.where}), false)`;
  const fail = (err: unknown): never => {
    if (err instanceof IngotError) throw err;
    throw new IngotError('SQL_ERROR', `${table.location}: delete predicate ${options.where}: ${messageOf(err)}`, { table: table.location }, { cause: err });
  };
  if (deletionVectorsEnabled(snapshot)) {
    // one pass: the positions of the matching rows, per file (a file whose live rows all match is removed whole)
    const dv = await markDeleted(engine, table, byFile, positionsWhere(TARGET, where)).catch(fail);
    if (dv.rows === 0) return unchanged(snapshot, { numDeletedRows: 0 });
    const changes = dv.marked.length > 0 && changeFeedEnabled(snapshot)
      ? await writeChangeFiles(engine, table, snapshot, changeRows(snapshot, 'delete', `SELECT * FROM ${TARGET} WHERE ${ROW_FILE} IN (${fileList(dv.files)}) AND ${where}`))
      : [];
    return commitRewrite(table, snapshot, { removed: dv.removed, added: [], marked: dv.marked, changes, operation: 'DELETE', parameters, metrics: { numDeletedRows: dv.rows, numCopiedRows: 0 } });
  }
  const matches = await engine
    .query(`SELECT ${ROW_FILE} AS f, count(*) AS n FROM ${TARGET} WHERE coalesce((${options.where}), false) GROUP BY 1`)
    .catch(fail);
  if (matches.length === 0) return unchanged(snapshot, { numDeletedRows: 0 });
  const removed: Add[] = [];
  const partial: string[] = [];
  let deleted = 0;
  for (const m of matches) {
    const file = String(m['f']);
    const n = Number(m['n']);
    deleted += n;
    const add = byFile.get(file)!;
    if (liveRows(add) !== n) partial.push(file);
    else removed.push(add);
  }
  // with the change data feed on, a commit rewriting files records its deleted rows (those of wholly removed files too)
  const changes = partial.length > 0 && changeFeedEnabled(snapshot)
    ? await writeChangeFiles(engine, table, snapshot, changeRows(snapshot, 'delete', `SELECT * FROM ${TARGET} WHERE ${ROW_FILE} IN (${fileList(matches.map((m) => String(m['f'])))}) AND ${where}`))
    : [];
  for (const file of partial) removed.push(byFile.get(file)!);
  const added = partial.length === 0 ? [] : await writeFiles(engine, table, snapshot,
    `SELECT ${columnList(snapshot)} FROM ${TARGET} WHERE ${ROW_FILE} IN (${fileList(partial)}) AND NOT ${where}`);
  const copied = added.reduce((n, f) => n + f.stats.numRecords, 0);
  return commitRewrite(table, snapshot, { removed, added, changes, operation: 'DELETE', parameters, metrics: { numDeletedRows: deleted, numCopiedRows: copied } });
}
