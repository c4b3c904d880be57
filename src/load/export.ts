import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { quoteIdent, type Engine, type Row } from '../engine/engine.js';
import { IngotError, messageOf } from '../errors.js';
import { scanOf } from '../operations/scan.js';
import type { Lake } from '../table/lake.js';
import type { DatasetDefinition } from '../pipeline/definition.js';
import { boundLiteral, boundValue, isHour, type Interval } from '../pipeline/interval.js';
import { dateParts, partitionSlice } from '../pipeline/partition-slice.js';
import { resolveEnv } from '../env.js';
import type { DataType, StructType } from '../table/schema.js';

/** Rows per INSERT statement are capped so that a statement stays under PostgreSQL's 65,535 parameters. */
const MAX_PARAMETERS = 60_000;

/**
 * Exports the committed rows of `dataset` for a run (see `DatasetExports`). Files are written by
 * the engine; rows for PostgreSQL pass through memory as text (DuckDB's text form of each value),
 * so that export suits datamart-sized outputs.
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
  // the run's slice of the partition column: a day's or month's dates, or an hour's timestamps
  const as = isHour(interval.start) ? 'TIMESTAMP' : 'DATE';
  // date-part partitions (year, month...): the run's one value of each
  const equal = column && dateParts(dataset.partitionBy) ? partitionSlice(dataset.partitionBy!, interval, dataset.name).map((f) => ({ column: f.column, value: Number(f.value) })) : undefined;
  const where = equal ? ` WHERE ${equal.map((e) => `${quoteIdent(e.column)} = ${e.value}`).join(' AND ')}`
    : column ? ` WHERE CAST(${quoteIdent(column)} AS ${as}) >= ${boundLiteral(interval.start)} AND CAST(${quoteIdent(column)} AS ${as}) < ${boundLiteral(interval.end)}` : '';
  const fields = snapshot.schema.fields;
  const [layer, name] = dataset.name.split('.') as [string, string];
  const from = `${quoteIdent(layer)}.${quoteIdent(name)}${where}`;
  let rows = 0;
  if (exports.file) rows = await writeReport(engine, `SELECT * FROM ${from}`, path.resolve(projectDir, exports.file.replaceAll('{logical_date}', logicalDate ?? 'full')), dataset.name);
  if (exports.postgres) {
    const text = await engine.query(`SELECT ${fields.map((f) => `${textOf(quoteIdent(f.name), f.type)} AS ${quoteIdent(f.name)}`).join(', ')} FROM ${from}`);
    await replacePostgresSlice(exports.postgres, snapshot.schema, text, column ? { column, interval, ...(equal ? { equal } : {}) } : undefined, dataset.name);
    rows = text.length;
  }
  return { rows };
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

/** Writes the rows of `sql` to `file` (Parquet or CSV by its extension) beside it under a unique name, then renames it over the file: readers see the old file or the new. */
async function writeReport(engine: Engine, sql: string, file: string, dataset: string): Promise<number> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomUUID()}`);
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
    const rows = await engine.writeFile(sql, tmp, file.endsWith('.parquet') ? 'parquet' : 'csv');
    await fs.rename(tmp, file);
    return rows;
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw new IngotError('EXPORT_FAILED', `${dataset}: export to file ${file}: ${messageOf(err)}`, { dataset, file }, { cause: err });
  }
}

async function replacePostgresSlice(target: { connection: string; table: string }, schema: StructType, rows: Row[], slice: { column: string; interval: Interval; equal?: { column: string; value: number }[] } | undefined, dataset: string): Promise<void> {
  const fail = (message: string, err?: unknown): IngotError =>
    new IngotError('EXPORT_FAILED', `${dataset}: export to postgres table ${target.table}: ${message}`, { dataset, table: target.table }, { cause: err });
  const { default: pgClient } = await import('pg');
  const client = new pgClient.Client({ connectionString: resolveEnv(target.connection, (m) => fail(m), 'the connection URL') });
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
    if (slice?.equal) {
      await client.query(`DELETE FROM ${qualified} WHERE ${slice.equal.map((e, i) => `${quoteIdent(e.column)} = $${i + 1}`).join(' AND ')}`, slice.equal.map((e) => e.value));
    } else if (slice) {
      const c = quoteIdent(slice.column);
      const as = isHour(slice.interval.start) ? 'timestamp' : 'date';
      await client.query(`DELETE FROM ${qualified} WHERE CAST(${c} AS ${as}) >= $1::${as} AND CAST(${c} AS ${as}) < $2::${as}`, [boundValue(slice.interval.start), boundValue(slice.interval.end)]);
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
