import { IngotError, messageOf } from '../errors.js';
import { quoteIdent, ROW_FILE, type Engine } from '../engine/engine.js';
import { fieldOf } from '../table/schema.js';
import type { DeltaTable } from '../table/table.js';
import { changeFeedEnabled, deletionVectorsEnabled } from '../table/write.js';
import { markDeleted, positionsWhere } from './deletion-vectors.js';
import { changeRows, writeChangeFiles } from './change-data.js';
import { attachTarget, commitRewrite, fileList, TARGET, unchanged, writableSnapshot, writeFiles, type OperationResult } from './rewrite.js';

/** Options of `updateRows`. */
export interface UpdateOptions {
  /** Column → SQL expression over the row's current values (engine dialect), e.g. `{ delay: 'delay * 60' }`. */
  set: Record<string, string>;
  /** SQL predicate selecting the rows to update; absent: every row. */
  where?: string;
}

/**
 * The UPDATE operation: rewrites the files holding rows that match `where`, with `set` applied
 * to those rows and the other rows copied; other files are untouched. On a table with deletion
 * vectors on (`deletionVectorsEnabled`), only the updated rows are written, as new files, and
 * their old versions are marked deleted in deletion vectors (`markDeleted`). Updating a partition
 * column moves the row to its new partition. One commit (`operation: UPDATE`); nothing is
 * committed when no row matches. With the change data feed on (`changeFeedEnabled`), the updated
 * rows are also written as change data files, before (`update_preimage`) and after
 * (`update_postimage`) the update. Metrics: numUpdatedRows, numCopiedRows, numAddedFiles, numRemovedFiles.
 * Errors: COLUMN_UNKNOWN for a `set` column not in the table, SQL_ERROR, PROTOCOL_UNSUPPORTED, COMMIT_CONFLICT.
 */
export async function updateRows(table: DeltaTable, engine: Engine, options: UpdateOptions): Promise<OperationResult> {
  const snapshot = await writableSnapshot(table);
  const schema = snapshot.schema;
  for (const column of Object.keys(options.set)) {
    if (!fieldOf(schema, column)) throw new IngotError('COLUMN_UNKNOWN', `${table.location}: update sets column ${column}, which the table does not have`, { table: table.location, column });
  }
  if (Object.keys(options.set).length === 0) throw new IngotError('DATASET_INVALID', `${table.location}: update needs at least one column to set`, { table: table.location });
  const where = options.where ? `coalesce((${options.where}), false)` : 'true';
  const byFile = await attachTarget(engine, table, snapshot, snapshot.files.values());
  const fail = (err: unknown): never => {
    if (err instanceof IngotError) throw err;
    throw new IngotError('SQL_ERROR', `${table.location}: update: ${messageOf(err)}`, { table: table.location }, { cause: err });
  };
  const matches = await engine.query(`SELECT ${ROW_FILE} AS f, count(*) AS n FROM ${TARGET} WHERE ${where} GROUP BY 1`).catch(fail);
  const parameters = { predicate: JSON.stringify(options.where ? [options.where] : []), set: JSON.stringify(options.set) };
  if (matches.length === 0) return unchanged(snapshot, { numUpdatedRows: 0 });
  const touched = matches.map((m) => String(m['f']));
  const updated = matches.reduce((n, m) => n + Number(m['n']), 0);
  const projection = schema.fields.map((f) => {
    const expr = options.set[f.name];
    const column = quoteIdent(f.name);
    return expr === undefined ? column : `CASE WHEN ${where} THEN (${expr}) ELSE ${column} END AS ${column}`;
  });
  const dv = deletionVectorsEnabled(snapshot);
  // with deletion vectors only the updated rows are written; the old ones are marked deleted where they lie
  const added = await writeFiles(engine, table, snapshot, `SELECT ${projection.join(', ')} FROM ${TARGET} WHERE ${ROW_FILE} IN (${fileList(touched)})${dv ? ` AND ${where}` : ''}`).catch(fail);
  const written = added.reduce((n, f) => n + f.stats.numRecords, 0);
  const rows = `FROM ${TARGET} WHERE ${ROW_FILE} IN (${fileList(touched)}) AND ${where}`;
  const changes = changeFeedEnabled(snapshot)
    ? await writeChangeFiles(engine, table, snapshot, `${changeRows(snapshot, 'update_preimage', `SELECT * ${rows}`)} UNION ALL ${changeRows(snapshot, 'update_postimage', `SELECT ${projection.join(', ')} ${rows}`)}`).catch(fail)
    : [];
  const marked = dv ? await markDeleted(engine, table, byFile, positionsWhere(TARGET, `${ROW_FILE} IN (${fileList(touched)}) AND ${where}`)).catch(fail) : undefined;
  return commitRewrite(table, snapshot, {
    removed: marked ? marked.removed : touched.map((f) => byFile.get(f)!),
    added,
    ...(marked ? { marked: marked.marked } : {}),
    changes,
    operation: 'UPDATE',
    parameters,
    metrics: { numUpdatedRows: updated, numCopiedRows: written - updated },
  });
}
