import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Engine, FileScan, Row } from '../../engine/engine.js';
import { IngotError, messageOf } from '../../errors.js';
import type { LoadedDataset } from '../../pipeline/project.js';
import { webLogColumns } from '../../sources/weblog.js';
import type { DataType } from '../../table/schema.js';
import type { RowsSource } from './test-file.js';

/**
 * Fixtures of a unit test as relations of the engine: each given table becomes real Parquet
 * files attached under its name (`layer.table`), exactly as a run attaches a Delta snapshot, so
 * the dataset's SQL reads them as it reads the lake.
 *
 * Column types, first that applies: the test's `columns`; the upstream dataset's known ones
 * (`upstreamTypes`: its source's `columns`, an access log's fixed columns, a source's lineage
 * columns `_source`, `_run_id`, `_ingested_at`; an SQL dataset's described output and its `schema`
 * contract), known columns the rows leave out being NULL; else inferred from
 * the values: whole numbers BIGINT, other numbers DOUBLE, true/false BOOLEAN, `YYYY-MM-DD`
 * strings DATE, `YYYY-MM-DD HH:MM[:SS[.f]]` TIMESTAMP (with `Z` or an offset: TIMESTAMPTZ), other
 * strings VARCHAR; CSV and JSON fixtures are typed by the engine's file readers.
 */

/** Declared column types of `ds` as an upstream table (SQL type names; empty when nothing is declared). */
export function declaredColumns(ds: LoadedDataset | undefined, dialect: Engine['dialect']): Record<string, string> {
  if (!ds) return {};
  const out: Record<string, string> = {};
  const source = ds.source as { columns?: Record<string, string>; format?: string } | undefined;
  // an access log's columns are fixed by its format
  if (source?.format === 'combined' || source?.format === 'common') Object.assign(out, webLogColumns(source.format));
  Object.assign(out, source?.columns ?? {}, ds.schema ?? {});
  if (ds.source) {
    const lineage: Record<string, DataType> = { _source: 'string', _run_id: 'string', _ingested_at: 'timestamp' };
    for (const [c, t] of Object.entries(lineage)) out[c] ??= dialect.typeName(t);
  }
  return out;
}

/** Where a test's rows are, for messages: `given bronze.x` / `expect`. */
export interface FixturePlace {
  /** `file:line: test name` */
  where: string;
  what: string;
}

/**
 * Reads a `RowsSource` as rows (JS values): inline rows as written; a CSV or JSON fixture through
 * the engine's file reader (`relation`, a temporary relation dropped afterwards), with the types
 * the reader detected. Errors: TEST_INVALID for a missing or unreadable fixture file.
 */
export async function fixtureRows(engine: Engine, source: RowsSource, relation: string, place: FixturePlace): Promise<{ rows: Row[]; columns: string[]; types: Record<string, string> }> {
  if ('rows' in source) return { rows: source.rows, columns: columnsOf(source.rows), types: {} };
  const file = 'csv' in source ? source.csv : source.json;
  await fs.access(file).catch(() => {
    throw new IngotError('TEST_INVALID', `${place.where}: ${place.what}: fixture file ${file} does not exist`, { file });
  });
  const format: FileScan['format'] = 'csv' in source ? 'csv' : /\.(ndjson|jsonl)$/.test(file) ? 'ndjson' : 'json';
  try {
    await engine.attachFiles(relation, { format, files: [{ path: file, values: {} }] });
    const schema = await engine.describe(`SELECT * FROM ${engine.dialect.quoteIdent(relation)}`);
    const rows = await engine.query(`SELECT * FROM ${engine.dialect.quoteIdent(relation)}`);
    return { rows, columns: schema.fields.map((f) => f.name), types: Object.fromEntries(schema.fields.map((f) => [f.name, engine.dialect.typeName(f.type)])) };
  } catch (err) {
    throw new IngotError('TEST_INVALID', `${place.where}: ${place.what}: cannot read ${path.basename(file)}: ${messageOf(err).split('\n')[0]}`, { file }, { cause: err });
  } finally {
    await engine.drop(relation);
  }
}

/** The columns of `rows` in order of first appearance. */
export function columnsOf(rows: Row[]): string[] {
  const seen = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) seen.add(k);
  return [...seen];
}

/**
 * A SELECT giving `rows` with `types` (column → SQL type) for the columns `types` names (NULL
 * where a row lacks one) and inferred types for the others. Values travel as string literals
 * cast to their column's type. Errors: TEST_INVALID for a nested value (object or list) in a
 * column without a declared type, or mixed kinds the inference cannot type.
 */
export function rowsSql(engine: Engine, rows: Row[], columns: string[], types: Record<string, string>, place: FixturePlace): string {
  const d = engine.dialect;
  const all = [...columns, ...Object.keys(types).filter((c) => !columns.includes(c))];
  if (all.length === 0) throw new IngotError('TEST_INVALID', `${place.where}: ${place.what}: no rows and no declared columns: give columns: { name: TYPE } (or at least one row)`);
  const typeOf = Object.fromEntries(all.map((c) => [c, types[c] ?? inferType(d, c, rows.map((r) => r[c]), place)]));
  const literal = (v: unknown): string => {
    if (v === null || v === undefined) return 'NULL';
    if (v instanceof Date) return d.quoteString(v.toISOString());
    return d.quoteString(typeof v === 'object' ? JSON.stringify(v) : String(v));
  };
  const cols = all.map((c) => `CAST(${d.quoteIdent(c)} AS ${typeOf[c]}) AS ${d.quoteIdent(c)}`).join(', ');
  if (rows.length === 0) return `SELECT ${all.map((c) => `CAST(NULL AS ${typeOf[c]}) AS ${d.quoteIdent(c)}`).join(', ')} WHERE 1 = 0`;
  // VARCHAR literals for every value, so that VALUES has one type per column whatever was written
  const text = d.typeName('string');
  const values = rows.map((r) => `(${all.map((c) => `CAST(${literal(r[c])} AS ${text})`).join(', ')})`).join(', ');
  return `SELECT ${cols} FROM (VALUES ${values}) AS __given(${all.map((c) => d.quoteIdent(c)).join(', ')})`;
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const TIMESTAMP_RE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?$/;
const TIMESTAMPTZ_RE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)$/;

/** The SQL type of a column holding `values` (see the module's rules). */
function inferType(d: Engine['dialect'], column: string, values: unknown[], place: FixturePlace): string {
  const present = values.filter((v) => v !== null && v !== undefined);
  const kinds = new Set(present.map((v) => {
    if (typeof v === 'boolean') return 'boolean';
    if (typeof v === 'number') return Number.isInteger(v) ? 'long' : 'double';
    if (typeof v === 'bigint') return 'long';
    if (v instanceof Date) return 'timestamptz';
    if (typeof v === 'object') return 'nested';
    const s = String(v);
    return DATE_RE.test(s) ? 'date' : TIMESTAMP_RE.test(s) ? 'timestamp_ntz' : TIMESTAMPTZ_RE.test(s) ? 'timestamptz' : 'string';
  }));
  if (kinds.has('nested')) {
    throw new IngotError('TEST_INVALID', `${place.where}: ${place.what}: column ${column} holds lists or maps: give its type in columns: { ${column}: TYPE } (or use a json fixture)`, { column });
  }
  if (kinds.size === 0) return d.typeName('string');
  if (kinds.size === 1) {
    const k = [...kinds][0]!;
    return d.typeName(k === 'timestamptz' ? 'timestamp' : k as DataType);
  }
  if ([...kinds].every((k) => k === 'long' || k === 'double')) return d.typeName('double');
  if ([...kinds].every((k) => k === 'date' || k === 'timestamp_ntz')) return d.typeName('timestamp_ntz');
  if ([...kinds].every((k) => k === 'date' || k === 'timestamp_ntz' || k === 'timestamptz')) return d.typeName('timestamp');
  return d.typeName('string');
}

/**
 * Attaches `rows` as table `name` in `engine`: the rows are written as Parquet files under
 * `dir` (through the engine's own write path) and attached as a snapshot of them. Errors:
 * TEST_INVALID naming the place when a value does not cast to its column's type.
 */
export async function attachRows(engine: Engine, name: string, sql: string, dir: string, place: FixturePlace): Promise<void> {
  let schema;
  try {
    schema = await engine.describe(sql);
    const location = path.join(dir, name);
    const files = await engine.write(sql, { location, partitionColumns: [], schema });
    await engine.attachTable(name, { location, schema, partitionColumns: [], files: files.map((f) => ({ path: f.path, partitionValues: {} })) });
  } catch (err) {
    throw new IngotError('TEST_INVALID', `${place.where}: ${place.what}: ${messageOf(err).split('\n')[0]}`, { table: name }, { cause: err });
  }
}
