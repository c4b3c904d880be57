import * as path from 'node:path';
import pg from 'pg';
import { quoteIdent, type Engine, type Row } from '../engine/engine.js';
import { IngotError, messageOf } from '../errors.js';
import { scanOf, type Lake } from '../lake.js';
import type { DatasetDefinition } from '../pipeline/definition.js';
import type { Interval } from '../pipeline/interval.js';
import { resolveEnv } from '../env.js';
import type { DataType, StructType } from '../table/schema.js';
import { LocalStore } from '../storage/local.js';

/**
 * Where a dataset's rows go after each run commits it (`exports` on a dataset). The rows of a
 * run are those of its interval when the dataset is `replace partition` (first partition column
 * within the run's interval), else every row of the table (a full refresh: every row).
 */
export interface DatasetExports {
  /**
   * A CSV report per run: path relative to the project folder, `{logical_date}` replaced by the
   * run's logical date (`full` for a full refresh), e.g. `reports/sales/date={logical_date}/report.csv`.
   * Header line, then RFC 4180 rows; NULL is an empty field. Replaced atomically on reruns.
   */
  file?: string;
  /**
   * A PostgreSQL table (a datamart for BI tools), kept in step incrementally: in one transaction
   * the run's rows are deleted (by the partition column's interval; all rows when the dataset is
   * not `replace partition`) and inserted again, so reruns never duplicate. The table (and its
   * schema) is created from the Delta schema when absent: string → text, long → bigint, integer
   * → integer, short/byte → smallint, float → real, double → double precision, boolean, date,
   * timestamp → timestamptz, timestamp_ntz → timestamp, decimal(p,s) → numeric(p,s), binary →
   * bytea, structs, arrays and maps → jsonb.
   */
  postgres?: {
    /** Connection URL or `env:NAME`. */
    connection: string;
    /** `schema.table` or `table`. */
    table: string;
  };
}

/** Rows per INSERT statement are capped so that a statement stays under PostgreSQL's 65,535 parameters. */
const MAX_PARAMETERS = 60_000;

/**
 * Exports the committed rows of `dataset` for a run (see `DatasetExports`). Rows pass through
 * memory as text (DuckDB's text form of each value), so this suits report-sized outputs.
 * Errors: EXPORT_FAILED naming the dataset and the file or PostgreSQL table (unset env var,
 * connection refused, a table whose columns do not match, an unwritable folder); a failed
 * PostgreSQL export rolls back and leaves the table as it was.
 */
export async function exportDataset(engine: Engine, lake: Lake, projectDir: string, dataset: DatasetDefinition, logicalDate: string | undefined, interval: Interval): Promise<{ rows: number }> {
  const exports = dataset.exports;
  if (!exports) return { rows: 0 };
  const table = lake.table(dataset.name);
  const snapshot = await table.trySnapshot();
  if (!snapshot) return { rows: 0 }; // a source that has never loaded anything
  await engine.attachTable(dataset.name, await scanOf(table, snapshot));
  const column = dataset.materialization === 'replace partition' && logicalDate !== undefined ? dataset.partitionBy?.[0] : undefined;
  const where = column ? ` WHERE CAST(${quoteIdent(column)} AS DATE) >= DATE '${interval.start}' AND CAST(${quoteIdent(column)} AS DATE) < DATE '${interval.end}'` : '';
  const fields = snapshot.schema.fields;
  const [layer, name] = dataset.name.split('.') as [string, string];
  const rows = await engine.query(`SELECT ${fields.map((f) => `${textOf(quoteIdent(f.name), f.type)} AS ${quoteIdent(f.name)}`).join(', ')} FROM ${quoteIdent(layer)}.${quoteIdent(name)}${where}`);
  const columns = fields.map((f) => f.name);
  if (exports.file) await writeCsv(path.resolve(projectDir, exports.file.replaceAll('{logical_date}', logicalDate ?? 'full')), columns, rows, dataset.name);
  if (exports.postgres) await replacePostgresSlice(exports.postgres, snapshot.schema, rows, column ? { column, interval } : undefined, dataset.name);
  return { rows: rows.length };
}

/** SQL giving the text PostgreSQL accepts for a value of Delta type `type` (NULL stays NULL). */
function textOf(expr: string, type: DataType): string {
  if (typeof type !== 'string') return `CAST(to_json(${expr}) AS VARCHAR)`;
  if (type === 'binary') return `'\\x' || hex(${expr})`;
  return `CAST(${expr} AS VARCHAR)`;
}

/** The PostgreSQL column type of a Delta type (see `DatasetExports.postgres`). */
function pgTypeOf(type: DataType): string {
  if (typeof type !== 'string') return 'jsonb';
  const decimal = /^decimal\((\d+),\s*(\d+)\)$/.exec(type);
  if (decimal) return `numeric(${decimal[1]},${decimal[2]})`;
  const types: Record<string, string> = {
    string: 'text', long: 'bigint', integer: 'integer', short: 'smallint', byte: 'smallint', float: 'real', double: 'double precision',
    boolean: 'boolean', date: 'date', timestamp: 'timestamptz', timestamp_ntz: 'timestamp', binary: 'bytea',
  };
  return types[type] ?? 'text';
}

/** One CSV field: quoted when it holds a comma, quote or line break; NULL is empty. */
function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

async function writeCsv(file: string, columns: string[], rows: Row[], dataset: string): Promise<void> {
  const lines = [columns.map(csvField).join(','), ...rows.map((r) => columns.map((c) => csvField(r[c])).join(','))];
  try {
    // written beside the target under a unique name, then renamed over it: readers see the old file or the new
    await new LocalStore(path.dirname(file)).put(path.basename(file), lines.join('\n') + '\n');
  } catch (err) {
    throw new IngotError('EXPORT_FAILED', `${dataset}: export to file ${file}: ${messageOf(err)}`, { dataset, file }, { cause: err });
  }
}

async function replacePostgresSlice(target: { connection: string; table: string }, schema: StructType, rows: Row[], slice: { column: string; interval: Interval } | undefined, dataset: string): Promise<void> {
  const fail = (message: string, err?: unknown): IngotError =>
    new IngotError('EXPORT_FAILED', `${dataset}: export to postgres table ${target.table}: ${message}`, { dataset, table: target.table }, { cause: err });
  const client = new pg.Client({ connectionString: resolveEnv(target.connection, (m) => fail(m), 'the connection URL') });
  client.on('error', () => {}); // a dropped connection surfaces through the pending query
  try {
    await client.connect();
  } catch (err) {
    throw fail(`cannot connect: ${messageOf(err)}`, err);
  }
  const parts = target.table.split('.');
  const qualified = parts.map(quoteIdent).join('.');
  const columns = schema.fields.map((f) => f.name);
  try {
    await client.query('BEGIN');
    if (parts.length > 1) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(parts[0]!)}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${qualified} (${schema.fields.map((f) => `${quoteIdent(f.name)} ${pgTypeOf(f.type)}`).join(', ')})`);
    if (slice) {
      const c = quoteIdent(slice.column);
      await client.query(`DELETE FROM ${qualified} WHERE CAST(${c} AS date) >= $1::date AND CAST(${c} AS date) < $2::date`, [slice.interval.start, slice.interval.end]);
    } else {
      await client.query(`DELETE FROM ${qualified}`);
    }
    const batch = Math.max(1, Math.floor(MAX_PARAMETERS / Math.max(1, columns.length)));
    for (let i = 0; i < rows.length; i += batch) {
      const chunk = rows.slice(i, i + batch);
      const values = chunk.map((_, r) => `(${columns.map((_c, k) => `$${r * columns.length + k + 1}`).join(', ')})`).join(', ');
      await client.query(`INSERT INTO ${qualified} (${columns.map(quoteIdent).join(', ')}) VALUES ${values}`, chunk.flatMap((row) => columns.map((c) => row[c] ?? null)));
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err instanceof IngotError ? err : fail(messageOf(err), err);
  } finally {
    await client.end().catch(() => {});
  }
}
