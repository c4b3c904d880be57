/**
 * Shared test helpers: temporary lakes, SQL writes through the ingot API, the reference readers
 * (delta-rs: `test/reference/read_delta.py`; Spark: `test/reference/read_spark.py`) and a
 * canonical JSON form of rows so that rows read by DuckDB, delta-rs and Spark compare exactly.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { deleteRows } from '../src/operations/delete.js';
import { merge } from '../src/operations/merge.js';
import { scanOf } from '../src/operations/scan.js';
import { stageWrite, type SqlWriteOptions } from '../src/operations/stage.js';
import { updateRows } from '../src/operations/update.js';
import { LocalStore } from '../src/storage/local.js';
import type { Filter } from '../src/table/filter.js';
import type { DataType, StructType } from '../src/table/schema.js';
import { DeltaTable } from '../src/table/table.js';

export const TEST_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.dirname(TEST_DIR);

/** A fresh directory under the OS temp dir; `cleanup` removes it. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), `ingot-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A fresh directory removed when test `t` ends. */
export function scratch(t: { after: (fn: () => void) => void }, prefix: string): string {
  const { dir, cleanup } = tempDir(prefix);
  t.after(cleanup);
  return dir;
}

/** A Delta table on the local file system at `location` (created on first commit). */
export function localTable(location: string): DeltaTable {
  return new DeltaTable(new LocalStore(location));
}

let stagedCounter = 0;

/**
 * Writes the rows of `sql` to `table` through the ingot API (engine.stage → stageWrite → commit)
 * reading the table's latest snapshot. Returns the committed version.
 */
export async function writeSql(
  engine: DuckDBEngine,
  table: DeltaTable,
  sql: string,
  options: Omit<SqlWriteOptions, 'schema'>,
): Promise<number> {
  const { commit } = await prepareSql(engine, table, sql, options);
  return table.commit(commit);
}

/**
 * The change history the change-data-feed tests share, on an `orders` table (id BIGINT, status
 * VARCHAR, grp INTEGER, amount DOUBLE, day DATE) with `delta.enableChangeDataFeed = true`:
 * v0 rows 0–5 appended (created, partitioned by `partitionBy`), v1 rows 6–7 appended, v2 an
 * update of ids 1 and 2, v3 a delete of id 4, v4 a merge (2 updated, 3 deleted, 9 inserted),
 * v5 a delete of every row with grp = 0. `rows(from, to, status)` is the SELECT of rows
 * `from`..`to - 1`, for the caller's later writes.
 */
export async function writeChangeHistory(
  engine: DuckDBEngine,
  table: DeltaTable,
  partitionBy: string[] = ['grp'],
): Promise<{ rows: (from: number, to: number, status: string) => string }> {
  const rows = (from: number, to: number, status: string): string =>
    `SELECT i::BIGINT AS id, '${status}' AS status, (i % 2)::INTEGER AS grp, (i * 1.5)::DOUBLE AS amount, DATE '2024-01-01' + i::INTEGER AS day FROM range(${from}, ${to}) r(i)`;
  await writeSql(engine, table, rows(0, 6, 'new'), { mode: 'append', partitionBy, configuration: { 'delta.enableChangeDataFeed': 'true' } });
  await writeSql(engine, table, rows(6, 8, 'new'), { mode: 'append' });
  await updateRows(table, engine, { set: { status: "'paid'", amount: 'amount + 1' }, where: 'id IN (1, 2)' });
  await deleteRows(table, engine, { where: 'id = 4' });
  await merge(table, engine, {
    source: "SELECT * FROM (VALUES (2::BIGINT, 'shipped', 0, 3.0::DOUBLE, DATE '2024-02-01'), (3::BIGINT, 'gone', 1, 0.0::DOUBLE, DATE '2024-02-01'), (9::BIGINT, 'new', 1, 9.5::DOUBLE, DATE '2024-02-02')) s(id, status, grp, amount, day)",
    on: 'target.id = source.id',
    whenMatched: [{ condition: "source.status = 'gone'", delete: true }, { update: '*' }],
    whenNotMatched: [{ insert: '*' }],
  });
  await deleteRows(table, engine, { where: 'grp = 0' });
  return { rows };
}

/** Like `writeSql` but returns the prepared commit without committing it. */
export async function prepareSql(
  engine: DuckDBEngine,
  table: DeltaTable,
  sql: string,
  options: Omit<SqlWriteOptions, 'schema'>,
): ReturnType<typeof stageWrite> {
  const name = `__staged_${++stagedCounter}`;
  const staged = await engine.stage(name, sql);
  const base = await table.trySnapshot();
  try {
    return await stageWrite(engine, table, base, `SELECT * FROM "${name}"`, { ...options, schema: staged.schema });
  } finally {
    await engine.drop(name);
  }
}

/**
 * Rows of `table` at `version` (latest if omitted) as ingot reads them: DuckDBEngine.attachTable +
 * query, with top-level binary columns as lowercase hex (the reference readers' form; see
 * `selectHex`). `filters` prune files; `where` (DuckDB SQL) filters the rows read.
 */
export async function readWithIngot(
  engine: DuckDBEngine,
  table: DeltaTable,
  version?: number,
  filters: Filter[] = [],
  where?: string,
): Promise<{ version: number; schema: StructType; partitionColumns: string[]; rows: Record<string, unknown>[] }> {
  const snapshot = await table.snapshot(version);
  const name = `read.v${++stagedCounter}`;
  await engine.attachTable(name, await scanOf(table, snapshot, filters));
  const rows = await engine.query(`${selectHex(snapshot.schema, `read."v${stagedCounter}"`)}${where ? ` WHERE ${where}` : ''}`);
  await engine.query(`DROP VIEW read."v${stagedCounter}"`);
  return { version: snapshot.version, schema: snapshot.schema, partitionColumns: snapshot.partitionColumns, rows };
}

/**
 * `SELECT *` over `relation` with its top-level binary columns as lowercase hex: DuckDB's JSON
 * text of a BLOB (`\xHH` escapes, other bytes as is) is ambiguous when the blob holds `\xHH`.
 */
export function selectHex(schema: StructType, relation: string): string {
  const quote = (n: string): string => `"${n.replace(/"/g, '""')}"`;
  const binary = schema.fields.filter((f) => f.type === 'binary').map((f) => `lower(hex(${quote(f.name)})) AS ${quote(f.name)}`);
  return `SELECT *${binary.length > 0 ? ` REPLACE (${binary.join(', ')})` : ''} FROM ${relation}`;
}

// ---------------------------------------------------------------------------------------------
// delta-rs reference reader

export interface DeltaRsRead {
  version: number;
  schema: { name: string; type: string }[];
  partition_columns: string[];
  reader: string;
  rows: Record<string, unknown>[];
}

const PYTHON = process.env['INGOT_PYTHON'] ?? 'python3';
const READ_DELTA = path.join(TEST_DIR, 'reference', 'read_delta.py');

/**
 * The versions of the reference reader's Python packages. Throws, saying what to install, when
 * python3, `deltalake` or `pyarrow` is missing: tests that compare with delta-rs fail, never skip.
 */
export function deltaRsVersions(): { deltalake: string; pyarrow: string } {
  // leaves with os._exit after flushing: deltalake can abort at interpreter exit after a correct result
  const code = 'import json, os, sys, deltalake, pyarrow; print(json.dumps({"deltalake": deltalake.__version__, "pyarrow": pyarrow.__version__})); sys.stdout.flush(); os._exit(0)';
  const r = spawnSync(PYTHON, ['-c', code], { encoding: 'utf8' });
  if (r.error) {
    throw new Error(`the delta-rs reference reader needs ${PYTHON}, which could not be run (${r.error.message}): install Python 3 and \`pip install deltalake pyarrow\` (or set INGOT_PYTHON)`);
  }
  if (r.status !== 0) {
    throw new Error(`the delta-rs reference reader is not installed for ${PYTHON}: run \`pip install -r test/reference/requirements.txt\` (exit ${r.status ?? r.signal}: ${r.stderr.trim().split('\n').slice(-5).join(' | ')})`);
  }
  try {
    return JSON.parse(r.stdout) as { deltalake: string; pyarrow: string };
  } catch (err) {
    throw new Error(`${PYTHON} printed no versions of deltalake and pyarrow (${(err as Error).message}); stderr: ${r.stderr.trim()}`, { cause: err });
  }
}

/**
 * Reads the Delta table at `location` (a path, or a URI such as `s3://bucket/table` with
 * delta-rs `storageOptions` like `AWS_ENDPOINT_URL`) with delta-rs. Throws with a message saying
 * what to install when python3 or the `deltalake` package is missing; never skips.
 */
export function readWithDeltaRs(location: string, version?: number, reader: 'datafusion' | 'pyarrow' = 'datafusion', storageOptions?: Record<string, string>): DeltaRsRead {
  const args = [READ_DELTA, location, ...(version === undefined ? [] : [String(version)]), `--reader=${reader}`,
    ...(storageOptions ? [`--storage-options=${JSON.stringify(storageOptions)}`] : [])];
  const r = spawnSync(PYTHON, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.error) {
    const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Error(missing
      ? `the delta-rs reference reader needs ${PYTHON}, which is not on PATH: install Python 3 and \`pip install deltalake pyarrow\` (or set INGOT_PYTHON)`
      : `running ${PYTHON} ${args.join(' ')} failed: ${r.error.message}`);
  }
  if (r.status === 3) {
    throw new Error(`the delta-rs reference reader is not installed for ${PYTHON}: ${r.stderr.trim()}`);
  }
  if (r.status !== 0) {
    throw new Error(`delta-rs could not read ${location}${version === undefined ? '' : ` at version ${version}`} (exit ${r.status ?? r.signal}): ${r.stderr.trim()}`);
  }
  try {
    return JSON.parse(r.stdout) as DeltaRsRead;
  } catch (err) {
    throw new Error(`read_delta.py printed invalid JSON (${(err as Error).message}): ${r.stdout.slice(0, 500)}`, { cause: err });
  }
}

// ---------------------------------------------------------------------------------------------
// Spark reference reader

/** A table as Spark read it (`test/reference/read_spark.py`): the form of `DeltaRsRead`. */
export interface SparkRead extends DeltaRsRead {
  path: string;
  reader: 'spark';
  /** Column comments as Spark's `DESCRIBE TABLE` shows them (columns without one left out). */
  comments: Record<string, string>;
  /** `DataFrame.count()`, which Delta may answer from the files' numRecords. */
  count: number;
  /** With `where`: the rows matching it, read with Delta's data skipping (file statistics). */
  where?: string;
  filtered_rows?: Record<string, unknown>[];
}

/** A table Spark could not read, and why. */
export interface SparkReadError {
  path: string;
  version?: number;
  error: string;
}

const READ_SPARK = path.join(TEST_DIR, 'reference', 'read_spark.py');
const WRITE_SPARK = path.join(TEST_DIR, 'reference', 'write_spark.py');
/** Generous: the first run fetches delta-spark's jars from Maven Central. */
const SPARK_TIMEOUT_MS = 20 * 60 * 1000;

/** Runs a Spark script with `input` on stdin; throws saying what is missing when Spark cannot run. */
export function runSpark(script: string, args: string[], input: string, what: string): string {
  const r = spawnSync(PYTHON, [script, ...args], {
    input, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, timeout: SPARK_TIMEOUT_MS, cwd: os.tmpdir(),
  });
  const name = path.basename(script);
  // the script's own message, else the end of Spark's log
  const stderr = r.stderr ?? '';
  const ours = stderr.split('\n').filter((l) => l.startsWith(`${name}:`)).join('\n');
  const detail = ours || stderr.trim().split('\n').slice(-15).join('\n');
  if (r.error) {
    const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Error(missing
      ? `${what} needs ${PYTHON}, which is not on PATH: install Python 3 and \`pip install -r test/reference/requirements.txt\` (or set INGOT_PYTHON)`
      : `${what}: running ${PYTHON} ${name} failed (${r.error.message}${r.signal ? `, ${r.signal}` : ''}): ${detail}`);
  }
  if (r.status === 3) throw new Error(`${what}: Spark is not installed for ${PYTHON}: ${detail}`);
  if (r.status === 4) throw new Error(`${what}: Spark could not start: ${detail}\n--- Spark's log (end) ---\n${stderr.trim().split('\n').slice(-15).join('\n')}`);
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status ?? r.signal}): ${detail}`);
  return r.stdout;
}

/**
 * Reads Delta tables with Apache Spark (pyspark + delta-spark, local mode), all in one Spark
 * session: starting one takes seconds, so pass every table a test needs in one call. `where` (a
 * Spark SQL predicate) adds the matching rows as Spark reads them with data skipping. Results are
 * in the order given; a table Spark cannot read gives a `SparkReadError`. Throws, saying what to
 * install, when python3, pyspark, delta-spark or Java is missing; never skips.
 */
export function readWithSpark(tables: { path: string; version?: number; where?: string }[]): (SparkRead | SparkReadError)[] {
  const out = runSpark(READ_SPARK, ['-'], JSON.stringify(tables), 'the Spark reference reader');
  const lines = out.split('\n').filter((l) => l.trim() !== '');
  if (lines.length !== tables.length) throw new Error(`read_spark.py printed ${lines.length} tables for ${tables.length}: ${out.slice(0, 500)}`);
  return lines.map((l) => JSON.parse(l) as SparkRead | SparkReadError);
}

/**
 * Runs Spark SQL `statements` in order in one local Spark session with delta-spark (address
 * tables by path as delta.\`/abs/path\`). Returns the versions that ran them. Throws naming the
 * failing statement, or saying what to install; never skips.
 */
export function writeWithSpark(statements: string[]): { pyspark: string; delta_spark: string; java: string; startup_seconds: number } {
  const out = runSpark(WRITE_SPARK, [], JSON.stringify(statements), 'Spark');
  return JSON.parse(out.trim().split('\n').pop()!) as { pyspark: string; delta_spark: string; java: string; startup_seconds: number };
}

// ---------------------------------------------------------------------------------------------
// canonical rows

/** Renders a Delta type as Delta/Spark print it (the rendering read_delta.py's type_name shares). */
export { typeName as deltaTypeName } from '../src/table/schema.js';

export interface CanonicalOptions {
  /** Accept `timestamp` values without an offset as UTC (rows of a DuckDB TIMESTAMP column in a UTC session). */
  naiveTimestampsAreUtc?: boolean;
}

/**
 * One canonical JSON value per Delta type, whichever reader produced it: integers as numbers
 * (strings beyond 2^53), floats rounded to 32 bits, decimals as fixed-scale strings, dates
 * `YYYY-MM-DD`, timestamps `YYYY-MM-DDTHH:MM:SS.ffffffZ`, binary as hex (as given: see
 * `selectHex`), structs as objects in schema field order, arrays as arrays, maps as
 * `[key, value]` pairs sorted by the key's JSON.
 * Throws on a value that does not fit its type (so a wrong type cannot compare equal by accident).
 */
export function canonicalValue(type: DataType, v: unknown, where: string, options: CanonicalOptions = {}): unknown {
  if (v === null || v === undefined) return null;
  if (typeof type !== 'string') {
    if (type.type === 'struct') {
      if (typeof v !== 'object' || Array.isArray(v)) throw new Error(`${where}: expected a struct, got ${JSON.stringify(v)}`);
      const o = v as Record<string, unknown>;
      const extra = Object.keys(o).filter((k) => !type.fields.some((f) => f.name === k));
      if (extra.length > 0) throw new Error(`${where}: struct has unexpected fields ${extra.join(', ')}`);
      return Object.fromEntries(type.fields.map((f) => [f.name, canonicalValue(f.type, o[f.name], `${where}.${f.name}`, options)]));
    }
    if (type.type === 'array') {
      if (!Array.isArray(v)) throw new Error(`${where}: expected an array, got ${JSON.stringify(v)}`);
      return v.map((x, i) => canonicalValue(type.elementType, x, `${where}[${i}]`, options));
    }
    // read_delta.py / read_spark.py: [[key, value], ...]; DuckDB: [{key, value}, ...]
    if (!Array.isArray(v)) throw new Error(`${where}: expected a map, got ${JSON.stringify(v)}`);
    const pairs = v.map((e: unknown, i) => {
      const [k, x] = Array.isArray(e) && e.length === 2 ? e : e !== null && typeof e === 'object' && 'key' in e && 'value' in e ? [e.key, e.value] : [];
      if (k === undefined) throw new Error(`${where}: map entry ${i} is ${JSON.stringify(e)}, not a [key, value] pair`);
      return [canonicalValue(type.keyType, k, `${where}.key`, options), canonicalValue(type.valueType, x, `${where}[${JSON.stringify(k)}]`, options)];
    });
    const key = (p: unknown[]): string => JSON.stringify(p[0]);
    return pairs.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  }
  const bad = (): never => {
    throw new Error(`${where}: ${JSON.stringify(v)} is not a ${type} value`);
  };
  if (/^(byte|short|integer|long)$/.test(type)) {
    if (typeof v !== 'number' && typeof v !== 'string' && typeof v !== 'bigint') bad();
    if (typeof v === 'number' && !Number.isInteger(v)) bad();
    if (typeof v === 'string' && !/^-?\d+$/.test(v)) bad();
    const n = BigInt(v as string | number | bigint);
    return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString();
  }
  if (type === 'float' || type === 'double') {
    // a float is the nearest 32-bit value whichever way a reader printed it (DuckDB: 0.1, Arrow: 0.10000000149011612)
    if (typeof v === 'number') return type === 'float' ? Math.fround(v) : v;
    if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') return v;
    if (typeof v === 'string' && /^-?inf$/i.test(v)) return v.startsWith('-') ? '-Infinity' : 'Infinity';
    if (typeof v === 'string' && /^nan$/i.test(v)) return 'NaN';
    return bad();
  }
  const dec = /^decimal\((\d+),\s*(\d+)\)$/.exec(type);
  if (dec) {
    const scale = Number(dec[2]);
    const s = typeof v === 'number' ? String(v) : typeof v === 'string' ? v : bad();
    const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(s);
    if (!m || (m[2] === '' && (m[3] ?? '') === '')) return bad();
    const frac = (m[3] ?? '').padEnd(scale, '0');
    if (frac.length > scale && /[^0]/.test(frac.slice(scale))) bad();
    const intPart = (m[2] ?? '').replace(/^0+(?=\d)/, '') || '0';
    const fracPart = frac.slice(0, scale);
    const zero = /^0*$/.test(intPart + fracPart);
    return `${m[1] === '-' && !zero ? '-' : ''}${intPart}${scale > 0 ? `.${fracPart}` : ''}`;
  }
  if (type === 'string') return typeof v === 'string' ? v : bad();
  if (type === 'boolean') return typeof v === 'boolean' ? v : bad();
  if (type === 'date') return typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) ? v : bad();
  if (type === 'timestamp' || type === 'timestamp_ntz') {
    if (typeof v !== 'string') return bad();
    // DuckDB: "2001-01-01 10:00:00.5+00"; read_delta.py: "2001-01-01T10:00:00.500000Z"
    const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(Z|[+-]00(?::?00)?)?$/.exec(v);
    if (!m) return bad();
    if (type === 'timestamp' && m[4] === undefined && !options.naiveTimestampsAreUtc) bad();
    return `${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(6, '0')}${type === 'timestamp' ? 'Z' : ''}`;
  }
  if (type === 'binary') return typeof v === 'string' ? v : bad();
  throw new Error(`${where}: no canonical form for type ${type}`);
}

/** Canonical rows (see `canonicalValue`), keys in schema order, sorted by their JSON text. */
export function canonicalRows(schema: StructType, rows: Record<string, unknown>[], options: CanonicalOptions = {}): Record<string, unknown>[] {
  const names = schema.fields.map((f) => f.name);
  const out = rows.map((row, i) => {
    const extra = Object.keys(row).filter((k) => !names.includes(k));
    if (extra.length > 0) throw new Error(`row ${i} has columns not in the schema: ${extra.join(', ')}`);
    return Object.fromEntries(schema.fields.map((f) => [f.name, canonicalValue(f.type, row[f.name], `row ${i} column ${f.name}`, options)]));
  });
  const key = (r: Record<string, unknown>): string => JSON.stringify(r);
  return out.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
