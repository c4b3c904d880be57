import { quoteIdent, type Engine } from '../engine/engine.js';
import { IngotError } from '../errors.js';
import { scanOf } from '../operations/scan.js';
import { fieldOf } from '../table/schema.js';
import { parseStats, type Snapshot } from '../table/snapshot.js';
import type { DeltaTable } from '../table/table.js';

/** Delta types whose file stats are exact (no truncation, no rounding), so their max can come from stats. */
const EXACT_STATS = new Set(['byte', 'short', 'integer', 'long', 'date']);

/**
 * The greatest value of `column` in `snapshot` of `table` (attached to the engine as `name` when
 * the stats do not answer), as text, or undefined when the table does not exist (no snapshot) or
 * holds no non-NULL value. Read from the files' `maxValues` stats ("Per-file
 * Statistics") when the column is an integer or date column that every file with non-NULL values
 * has stats for; otherwise `SELECT max(column)` over the table.
 * Errors: COLUMN_UNKNOWN when the table has no such column.
 */
export async function maxOfTable(engine: Engine, table: DeltaTable, snapshot: Snapshot | undefined, name: string, column: string): Promise<string | undefined> {
  if (!snapshot) return undefined;
  const field = fieldOf(snapshot.schema, column);
  if (!field) throw new IngotError('COLUMN_UNKNOWN', `${name}: cursor column ${column} is not in the table (columns: ${snapshot.schema.fields.map((f) => f.name).join(', ')})`, { table: name, column });
  if (typeof field.type === 'string' && EXACT_STATS.has(field.type) && !snapshot.columnMapping && !snapshot.partitionColumns.includes(column)) {
    let max: number | string | undefined;
    let exact = true;
    for (const f of snapshot.files.values()) {
      const s = parseStats(f);
      const v = s?.maxValues?.[column];
      if (s && (s.numRecords === 0 || Number(s.nullCount?.[column]) === s.numRecords)) continue;
      if (typeof v === 'number' && Number.isSafeInteger(v)) max = max === undefined || v > (max as number) ? v : max;
      else if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v)) max = max === undefined || v > (max as string) ? v : max;
      else {
        exact = false;
        break;
      }
    }
    if (exact) return max === undefined ? undefined : String(max);
  }
  await engine.attachTable(name, await scanOf(table, snapshot));
  const [row] = await engine.query(`SELECT CAST(max(${quoteIdent(column)}) AS VARCHAR) AS m FROM ${name.split('.').map(quoteIdent).join('.')}`);
  const m = row?.['m'];
  return m === null || m === undefined ? undefined : String(m);
}
