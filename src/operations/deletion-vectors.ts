import { ROW_FILE, ROW_NUMBER, type Engine } from '../engine/engine.js';
import type { Add } from '../table/actions.js';
import { readDeletionVectors, unionRows, writeDeletionVectors } from '../table/deletion-vector.js';
import { parseStats } from '../table/snapshot.js';
import type { DeltaTable } from '../table/table.js';
import { absoluteDataPath } from '../table/write.js';

/**
 * Marking rows deleted in deletion vectors (Delta protocol, "Deletion Vectors"): what delete,
 * update and merge do instead of rewriting a file when the table has `delta.enableDeletionVectors`
 * on (`deletionVectorsEnabled`). The data file stays; the commit removes its logical file (with
 * its old DV, if any) and adds the same path again with a DV holding the old and the new deleted
 * rows, its stats kept (`numRecords` counts the file's physical rows, as the protocol requires)
 * but marked `tightBounds: false`, since the bounds may now be wider than the live rows.
 */

/** Rows a file keeps visible: its `numRecords` less the rows its DV deletes; undefined without stats. */
export function liveRows(add: Add): number | undefined {
  const n = parseStats(add)?.numRecords;
  return n === undefined ? undefined : n - (add.deletionVector?.cardinality ?? 0);
}

/** What `markDeleted` gives the commit. */
export interface MarkedRows {
  /** The logical files to remove: those wholly deleted and those gaining a (new) DV. */
  removed: Add[];
  /** The same data files again, with their new DVs (`dataChange: true`). */
  marked: Add[];
  /** Rows selected: newly marked deleted in DVs, or in the wholly removed files. */
  rows: number;
  /** The files holding selected rows, by the absolute paths `byFile` keys them with. */
  files: string[];
}

/**
 * Marks the rows `positions` selects as deleted. `positions` is SQL over `Engine.attachTable`'s
 * row-id relation giving columns `f` (`ROW_FILE`, the absolute path as `byFile` keys it) and `r`
 * (`ROW_NUMBER`, the row's position in its file), each row once. A file all of whose live rows are
 * selected is removed outright (no DV needed); the others get one DV each, the union with the DV
 * they had, all written into one new DV file (`writeDeletionVectors`). Errors: SQL_ERROR from the
 * engine, LOG_CORRUPT for an unreadable old DV, those of the store's `put`.
 */
export async function markDeleted(engine: Engine, table: DeltaTable, byFile: Map<string, Add>, positions: string): Promise<MarkedRows> {
  // one row per file with its positions as text: far cheaper to move out of the engine than a row per position
  // (unordered: sorting a typed array here is cheaper than ordering inside the aggregate)
  const found = await engine.query(`SELECT f, count(*) AS n, array_to_string(list(r), ',') AS rows FROM (${positions}) GROUP BY f`);
  const removed: Add[] = [];
  const partial: { add: Add; rows: number[] }[] = [];
  let rows = 0;
  for (const row of found) {
    const add = byFile.get(String(row['f']));
    if (!add) throw new Error(`markDeleted: row ids name ${String(row['f'])}, which is not a file of the operation`);
    const n = Number(row['n']);
    rows += n;
    removed.push(add);
    if (liveRows(add) === n) continue;
    const sorted = Float64Array.from(String(row['rows']).split(','), Number).sort();
    partial.push({ add, rows: Array.from(sorted) });
  }
  const files = found.map((row) => String(row['f']));
  if (partial.length === 0) return { removed, marked: [], rows, files };
  const old = await readDeletionVectors(table.store, partial.map((p) => p.add.deletionVector));
  // an environment's table writes beside its data files, in production's folder (`DeltaTable.dataPrefix`)
  const prefix = table.dataPrefix;
  const elsewhere = prefix === '' ? undefined : { prefix, absolute: (key: string) => absoluteDataPath(table.store.root, key) };
  const { descriptors } = await writeDeletionVectors(table.store, partial.map((p, i) => (old[i] ? unionRows(old[i]!, p.rows) : p.rows)), elsewhere);
  const marked = partial.map(({ add }, i): Add => {
    const stats = parseStats(add);
    return {
      ...add,
      dataChange: true,
      modificationTime: add.modificationTime,
      ...(stats ? { stats: JSON.stringify({ ...stats, tightBounds: false }) } : {}),
      deletionVector: descriptors[i]!,
    };
  });
  return { removed, marked, rows, files };
}

/** `SELECT f, r` of the rows of the row-id relation `relation` matching SQL predicate `where`, for `markDeleted`. */
export function positionsWhere(relation: string, where: string): string {
  return `SELECT ${ROW_FILE} AS f, ${ROW_NUMBER} AS r FROM ${relation} WHERE ${where}`;
}
