import type { Engine } from '../engine/engine.js';
import { quoteIdent } from '../engine/engine.js';
import type { AddCDCFile } from '../table/actions.js';
import type { Snapshot } from '../table/snapshot.js';
import type { DeltaTable } from '../table/table.js';
import { encodePath } from '../table/write.js';

/**
 * Writing a commit's change data files (Delta protocol, "Change Data Files" and "Add CDC File"):
 * the rows an UPDATE, DELETE or MERGE changed, each with `_change_type`, as Parquet files under
 * `_change_data/` (in the table's partition folders), committed as `cdc` actions beside the
 * commit's `add` and `remove` actions. Commits that only add or only remove whole files
 * (appends, overwrites, replaced partitions, deletes of whole files) need none: readers take
 * their `add` actions as inserts and their `remove` actions as deletes.
 */

/** The folder of change data files, at the table root. */
export const CHANGE_DATA_DIR = '_change_data';

/** The column of a change data file saying what happened to its row. */
export const CHANGE_TYPE = '_change_type';

/** The values `_change_type` takes ("Change Data Files"). */
export type ChangeType = 'insert' | 'update_preimage' | 'update_postimage' | 'delete';

/**
 * Writes the rows of `sql` as change data files of `table`, laid out as `snapshot` lays out its
 * data (partition folders under `_change_data/`), and returns their `cdc` actions. `sql` gives
 * the table's columns (in `snapshot`'s schema) and `_change_type`. A query with no rows writes
 * no file. The files are invisible until a commit names them; a commit that fails deletes them
 * with its data files (`discardCommit`). Errors: SQL_ERROR.
 */
export async function writeChangeFiles(engine: Engine, table: DeltaTable, snapshot: Snapshot, sql: string): Promise<AddCDCFile[]> {
  const schema = { ...snapshot.schema, fields: [...snapshot.schema.fields, { name: CHANGE_TYPE, type: 'string' as const, nullable: false, metadata: {} }] };
  const staging = await table.store.localStaging();
  try {
    const files = await engine.write(sql, { location: `${staging.dir}/${CHANGE_DATA_DIR}`, partitionColumns: snapshot.partitionColumns, schema });
    const paths = files.map((f) => `${CHANGE_DATA_DIR}/${f.path}`);
    await staging.publish(paths);
    return files.map((f, i) => ({ path: encodePath(paths[i]!), partitionValues: f.partitionValues, size: f.size, dataChange: false }));
  } finally {
    await staging.close();
  }
}

/** `SELECT <the table's columns>, '<type>' AS _change_type FROM (<from>)`: one kind of change rows for `writeChangeFiles`. */
export function changeRows(snapshot: Snapshot, type: ChangeType, from: string): string {
  return `SELECT ${snapshot.schema.fields.map((f) => quoteIdent(f.name)).join(', ')}, '${type}' AS ${CHANGE_TYPE} FROM (${from})`;
}
