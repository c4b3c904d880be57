/**
 * Interoperability with Apache Spark (pyspark + delta-spark, local mode): every table in TABLES is
 * written through the ingot API, then read by Spark (all tables in one Spark session,
 * `test/reference/read_spark.py`), by delta-rs (`read_delta.py`) and by ingot itself; all three
 * must return the same version, schema, partition columns and rows. The other way round, Spark
 * writes a table (SPARK_TABLE: partitioned, updates and deletes, Spark's own checkpoints) that
 * ingot must read as Spark and delta-rs do.
 *
 * To cover another operation, add one entry to TABLES. Needs python3 with pyspark, delta-spark
 * and deltalake (test/reference/requirements.txt) and Java 17; fails (never skips) without them.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { Lake } from '../src/table/lake.js';
import type { SqlWriteOptions } from '../src/operations/stage.js';
import { deleteRows } from '../src/operations/delete.js';
import { merge } from '../src/operations/merge.js';
import { optimize } from '../src/operations/optimize.js';
import { restore } from '../src/operations/restore.js';
import { updateRows } from '../src/operations/update.js';
import { vacuum } from '../src/operations/vacuum.js';
import type { DeltaTable } from '../src/table/table.js';
import {
  canonicalRows, deltaTypeName, readWithDeltaRs, readWithIngot, readWithSpark, tempDir, writeSql, writeWithSpark,
  type SparkRead, type SparkReadError,
} from './helpers.js';

/** A table ingot writes for Spark to read. */
interface IngotTable {
  /** Unique; the table lives at `<lake>/spark/<name>`. Lower-case letters, digits and `_`. */
  name: string;
  /** Writes the table through the ingot API (any operations). */
  write: (table: DeltaTable, engine: DuckDBEngine) => Promise<unknown>;
  /** Earlier versions compared too (time travel); the latest always is. */
  versions?: number[];
  /**
   * Predicates (valid Spark SQL and DuckDB SQL) on the latest version: Spark's rows read with
   * data skipping (the files' statistics) must equal ingot's rows filtered by DuckDB.
   */
  where?: string[];
}

/** One `writeSql` (engine.stage → stageWrite → DeltaTable.commit). */
type Write = { sql: string } & Omit<SqlWriteOptions, 'schema'>;

/** A `write` that makes one commit per step, in order. */
function writes(...steps: Write[]): IngotTable['write'] {
  return async (table, engine) => {
    for (const { sql, ...options } of steps) await writeSql(engine, table, sql, options);
  };
}

const append = (sql: string, partitionBy?: string[]): Write => ({ sql, mode: 'append', ...(partitionBy ? { partitionBy } : {}) });
const overwrite = (sql: string): Write => ({ sql, mode: 'overwrite' });

/** `n` rows of (id BIGINT, name VARCHAR, amount DECIMAL(10,2), ts TIMESTAMP) from `first`. */
const plainRows = (first: number, n: number): string =>
  `SELECT (${first} + range)::BIGINT AS id, 'name ' || (${first} + range) AS name, ((${first} + range) * 1.25)::DECIMAL(10,2) AS amount,
          TIMESTAMP '2024-01-01 00:00:00' + INTERVAL (${first} + range) SECOND + INTERVAL (range * 7) MICROSECOND AS ts
   FROM range(${n})`;

/** Rows `(id, day, region)` partitioned by `day`: day = 2024-01-01 + id % days. */
const dayRows = (first: number, n: number, days = 3): string =>
  `SELECT (${first} + range)::BIGINT AS id, DATE '2024-01-01' + ((${first} + range) % ${days})::INT AS day, ['north', 'south'][range % 2 + 1] AS region
   FROM range(${n})`;

/** Partition values that need escaping in file paths, NULLs and an empty string included. */
const ESCAPED = `SELECT id::INTEGER AS id, s::VARCHAR AS s, d::DATE AS d, n::INTEGER AS n FROM (VALUES
  (1, 'a b', '2024-01-01', 1), (2, 'x=y', '2024-01-02', -5), (3, 'p/q', NULL, 7), (4, '100%', '1970-01-01', NULL),
  (5, 'a%2Fb', '2024-01-01', 1), (6, 'ü:#?&', '2024-02-29', 0), (7, NULL, NULL, NULL), (8, 'a b', '2024-01-01', 1),
  (9, '', '2024-01-03', 2)
) AS v(id, s, d, n)`;

/** Every Delta primitive ingot writes, and nested types. */
const TYPED = (tuples: string[]): string => `SELECT i8::TINYINT AS i8, i16::SMALLINT AS i16, i32::INTEGER AS i32, i64::BIGINT AS i64,
    f::FLOAT AS f, d::DOUBLE AS d, dec_s::DECIMAL(5,2) AS dec_s, dec_m::DECIMAL(18,6) AS dec_m, dec_l::DECIMAL(38,10) AS dec_l,
    s::VARCHAR AS s, b::BOOLEAN AS b, dt::DATE AS dt, ts::TIMESTAMP AS ts, bin::BLOB AS bin,
    st::STRUCT(x INTEGER, y VARCHAR, z DOUBLE[]) AS st, arr::BIGINT[] AS arr, arr_st::STRUCT(k VARCHAR, v INTEGER)[] AS arr_st,
    m::MAP(VARCHAR, BIGINT) AS m
  FROM (VALUES ${tuples.join(',\n  ')}) AS v(i8, i16, i32, i64, f, d, dec_s, dec_m, dec_l, s, b, dt, ts, bin, st, arr, arr_st, m)`;

const TABLES: IngotTable[] = [
  { name: 'created', write: writes(append(plainRows(0, 5))) },
  {
    name: 'appended', versions: [0], where: [`id >= 100 AND ts < TIMESTAMP '2024-01-01 00:03:21'`, `name = 'name 101'`],
    write: writes(append(plainRows(0, 5)), append(plainRows(100, 3)), append(plainRows(200, 1))),
  },
  { name: 'overwritten', write: writes(append(plainRows(0, 5)), append(plainRows(100, 3)), overwrite(plainRows(500, 4))), versions: [1] },
  {
    name: 'replaced_partition', versions: [1], where: [`day = DATE '2024-01-02' AND id > 3`],
    write: writes(
      append(dayRows(0, 12), ['day']),
      append(dayRows(100, 4)),
      { sql: dayRows(1000, 3, 1), mode: 'replace', replaceWhere: [{ column: 'day', op: '=', value: '2024-01-01' }] },
    ),
  },
  {
    name: 'partition_values', versions: [0], where: [`s = 'x=y' OR n IS NULL`, `s = 'p/q' AND d IS NULL`],
    write: writes(
      append(ESCAPED, ['s', 'd', 'n']),
      { sql: `SELECT 9 AS id, 'x=y' AS s, DATE '2024-03-01' AS d, NULL::INTEGER AS n`, mode: 'append' },
      { sql: `SELECT 10 AS id, NULL::VARCHAR AS s, NULL::DATE AS d, 3 AS n`, mode: 'replace', replaceWhere: [{ column: 's', op: 'is null' }] },
    ),
  },
  {
    name: 'partition_types', versions: [0], where: [`ts >= TIMESTAMP '2024-01-01 10:00:00.000001'`, `dec < 0 AND l = -1`],
    write: writes(append(`SELECT id, ts, b, dec, l FROM (VALUES
      (1, TIMESTAMP '2024-01-01 10:00:00', true, 1.50::DECIMAL(10,2), 9007199254740993::BIGINT),
      (2, TIMESTAMP '2024-01-01 10:00:00.123456', false, -0.01::DECIMAL(10,2), -1::BIGINT),
      (3, TIMESTAMP '1969-12-31 23:59:59.999999', NULL, NULL, NULL),
      (4, NULL, true, 0::DECIMAL(10,2), 0::BIGINT)) AS v(id, ts, b, dec, l)`, ['ts', 'b', 'dec', 'l']),
      {
        sql: `SELECT 5 AS id, TIMESTAMP '2024-01-01 10:00:00' AS ts, false AS b, 2.5::DECIMAL(10,2) AS dec, 5::BIGINT AS l`,
        mode: 'replace', replaceWhere: [{ column: 'ts', op: '=', value: '2024-01-01 10:00:00' }],
      },
    ),
  },
  {
    name: 'repartitioned', versions: [0],
    write: writes(
      append(dayRows(0, 6), ['region']),
      { sql: dayRows(50, 6), mode: 'overwrite', overwriteSchema: true, partitionBy: ['day'] },
    ),
  },
  {
    // 12 commits: a checkpoint at version 10 (with the replace's removes as tombstones); the
    // commits before it are then deleted, as log cleanup would, so every reader must use it.
    name: 'checkpointed', versions: [10], where: ['id BETWEEN 1100 AND 1102', 'id = 302'],
    write: async (table, engine) => {
      for (let v = 0; v < 12; v++) {
        await writeSql(engine, table, v === 6 ? `SELECT * FROM (${dayRows(v * 100, 5)}) WHERE day = DATE '2024-01-02'` : dayRows(v * 100, 5), v === 6
          ? { mode: 'replace', replaceWhere: [{ column: 'day', op: '=', value: '2024-01-02' }] }
          : { mode: 'append', partitionBy: ['day'] });
      }
      const log = path.join(table.location, '_delta_log');
      assert.ok((await fs.readdir(log)).includes('00000000000000000010.checkpoint.parquet'), 'ingot wrote a checkpoint at version 10');
      for (let v = 0; v < 10; v++) await fs.rm(path.join(log, `${String(v).padStart(20, '0')}.json`));
    },
  },
  {
    name: 'typed', versions: [0],
    where: [
      `ts = TIMESTAMP '1969-12-31 23:59:59.999999'`, `ts = TIMESTAMP '1900-01-01 00:00:00.000001'`, 'dec_s = 0.01', `dt = DATE '1970-01-01'`,
      'f = CAST(0.1 AS FLOAT)', 'i8 = 127 AND i16 > 0', `s = ''`, 'd < -1e300', 'b IS NULL AND i32 IS NOT NULL',
    ],
    write: writes(
      append(TYPED([
        `(1, 1, 1, 1, 1.5, 0.1, '1.23', '123456789012.123456', '1234567890123456789012345678.0123456789', 'a', true, '2024-01-01', '2024-01-01 10:00:00.123456', '\\x00\\xFFab'::BLOB,
          {'x': 1, 'y': 'q', 'z': [1.5, NULL]}, [1, 2, 3], [{'k': 'a', 'v': 1}, NULL], MAP {'a': 1, 'b': NULL})`,
        `(-128, -32768, -2147483648, -9223372036854775808, -3.4e38, -1.7976931348623157e308, '-999.99', '-0.000001', '-9999999999999999999999999999.9999999999', '', false, '1900-01-01', '1900-01-01 00:00:00.000001', ''::BLOB,
          {'x': NULL, 'y': NULL, 'z': []}, [], [], MAP {})`,
        `(127, 32767, 2147483647, 9223372036854775807, 0.1, 'NaN', '0.00', '0', '0', 'é ✓ 🚀 "q" \\ x', NULL, '9999-12-31', '2262-04-11 23:47:16.854775', 'abc'::BLOB,
          NULL, [NULL], NULL, MAP {'z': -9007199254740993})`,
        `(NULL, NULL, NULL, NULL, 'Infinity', '-Infinity', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
      ])),
      append(TYPED([
        `(0, 0, 0, 9007199254740993, -0.0, 1e-300, '0.01', '1.5', '0.0000000001', 'line\nbreak', true, '1970-01-01', '1969-12-31 23:59:59.999999', '\\x5Cx41'::BLOB,
          {'x': 0, 'y': '', 'z': [0.0]}, [9223372036854775807], [{'k': NULL, 'v': NULL}], MAP {'k': 0})`,
      ])),
    ),
  },
  // tables written by each operation of src/table/operations
  {
    name: 'deleted', versions: [1], where: ['id > 10'],
    write: async (table, engine) => {
      await writeSql(engine, table, dayRows(0, 30), { mode: 'append', partitionBy: ['day'] });
      await writeSql(engine, table, dayRows(30, 30), { mode: 'append' });
      await deleteRows(table, engine, { where: 'id % 3 = 1' });
      await deleteRows(table, engine, { where: "day = DATE '2024-01-03'" });
    },
  },
  {
    name: 'updated', versions: [0],
    write: async (table, engine) => {
      await writeSql(engine, table, dayRows(0, 30), { mode: 'append', partitionBy: ['day'] });
      await updateRows(table, engine, { set: { region: "'east'" }, where: 'id < 10' });
      await updateRows(table, engine, { set: { day: "DATE '2024-02-01'" }, where: 'id = 7' });
    },
  },
  {
    name: 'merged', versions: [1], where: ['id >= 1000'],
    write: async (table, engine) => {
      await writeSql(engine, table, dayRows(0, 40), { mode: 'append', partitionBy: ['day'] });
      await writeSql(engine, table, dayRows(40, 40), { mode: 'append' });
      await merge(table, engine, {
        source: `SELECT id::BIGINT AS id, DATE '2024-01-05' AS day, CASE WHEN id % 2 = 0 THEN 'upd' ELSE 'del' END AS region FROM range(0, 20) t(id)
                 UNION ALL SELECT id::BIGINT, DATE '2024-01-09', 'new' FROM range(1000, 1005) t(id)`,
        on: 'target.id = source.id',
        whenMatched: [{ delete: true, condition: "source.region = 'del'" }, { update: { region: 'source.region' } }],
        whenNotMatched: [{ insert: '*' }],
        whenNotMatchedBySource: [{ delete: true, condition: 'target.id >= 75' }],
      });
    },
  },
  {
    name: 'optimized', versions: [3],
    write: async (table, engine) => {
      for (let i = 0; i < 4; i++) await writeSql(engine, table, dayRows(i * 10, 10), { mode: 'append', partitionBy: ['day'] });
      await optimize(table, engine);
    },
  },
  {
    name: 'restored', versions: [2],
    write: async (table, engine) => {
      await writeSql(engine, table, dayRows(0, 20), { mode: 'append', partitionBy: ['day'] });
      await writeSql(engine, table, dayRows(20, 20), { mode: 'append' });
      await deleteRows(table, engine, { where: 'id < 30' });
      await restore(table, { version: 1 });
    },
  },
  {
    name: 'vacuumed',
    write: async (table, engine) => {
      await writeSql(engine, table, dayRows(0, 20), { mode: 'append', partitionBy: ['day'] });
      await writeSql(engine, table, dayRows(100, 20), { mode: 'overwrite' });
      await vacuum(table, { retentionHours: 0, enforceRetention: false });
    },
  },
  {
    name: 'evolved', versions: [0], where: ['note IS NULL', "note = 'added'"],
    write: async (table, engine) => {
      await writeSql(engine, table, plainRows(0, 5), { mode: 'append' });
      await writeSql(engine, table, `SELECT *, 'added' AS note FROM (${plainRows(10, 5)})`, { mode: 'append', mergeSchema: true });
      await writeSql(engine, table, `SELECT id, name FROM (${plainRows(20, 2)})`, { mode: 'append' });
    },
  },
  {
    name: 'log_expired',
    write: async (table, engine) => {
      const configuration = { 'delta.checkpointInterval': '3', 'delta.logRetentionDuration': 'interval 0 seconds' };
      for (let v = 0; v < 8; v++) await writeSql(engine, table, dayRows(v * 10, 10), { mode: 'append', partitionBy: ['day'], configuration });
      assert.ok(!(await fs.readdir(path.join(table.location, '_delta_log'))).includes('00000000000000000000.json'), 'expired commits were deleted');
    },
  },
];

/**
 * Spark writes this table (statements for `writeWithSpark`; `t` is the table reference): a
 * partitioned table with appends, an update and a delete (so it has removes) and a checkpoint
 * every 2 commits; deletion vectors on, so the update and the delete write DVs.
 */
const SPARK_TABLE = {
  name: 'spark_written',
  versions: [1, 3],
  where: [] as string[],
  statements: (t: string): string[] => [
    `CREATE TABLE ${t} (id BIGINT, name STRING, amount DECIMAL(10,2), day DATE, at TIMESTAMP, tags ARRAY<STRING>, attrs MAP<STRING, INT>,
       point STRUCT<x: DOUBLE, y: DOUBLE>, region STRING)
     USING delta PARTITIONED BY (region)
     TBLPROPERTIES ('delta.enableDeletionVectors' = 'true', 'delta.checkpointInterval' = '2')`,
    `INSERT INTO ${t} SELECT id, concat('n', id), id * 1.25, date_add(DATE'2024-01-01', CAST(id % 5 AS INT)),
       TIMESTAMP'2024-01-01 00:00:00' + make_interval(0, 0, 0, 0, 0, 0, id + 0.000001 * id), array(concat('t', id), NULL), map('k', CAST(id AS INT)),
       named_struct('x', CAST(id AS DOUBLE) / 2, 'y', CAST(-id AS DOUBLE)), CASE WHEN id % 3 = 0 THEN 'north' WHEN id % 3 = 1 THEN 'south' ELSE NULL END
     FROM range(0, 30)`,
    `INSERT INTO ${t} VALUES (100, 'a b', 1.00, DATE'2024-02-29', TIMESTAMP'2024-02-29 12:00:00.5',
       CAST(array() AS ARRAY<STRING>), CAST(map() AS MAP<STRING, INT>), NULL, 'x=y %/z'),
       (101, NULL, NULL, NULL, NULL, NULL, NULL, named_struct('x', CAST('NaN' AS DOUBLE), 'y', CAST(0 AS DOUBLE)), 'x=y %/z')`,
    `UPDATE ${t} SET amount = amount * 2, name = concat(name, '!') WHERE id % 2 = 0`,
    `DELETE FROM ${t} WHERE region = 'south' AND id > 10`,
    `INSERT INTO ${t} SELECT id, 'late', 0, DATE'2024-03-01', NULL, NULL, NULL, NULL, 'south' FROM range(200, 203)`,
  ],
};

/**
 * Spark writes this table too (issue 19, item 14): partitioned by a column of every partitionable
 * type, with values that need escaping in paths (`%`, `/`, `=`, spaces, non-ASCII), a BINARY
 * value that is UTF-8 text outside ASCII (Spark writes the text itself as the partition value),
 * a negative decimal, and a row whose partition values are all NULL.
 */
const SPARK_PARTITIONS = {
  name: 'spark_partition_values',
  versions: [] as number[],
  where: [] as string[],
  statements: (t: string): string[] => [
    `CREATE TABLE ${t} (id INT, s STRING, b BYTE, sh SHORT, i INT, l BIGINT, d DATE, ts TIMESTAMP, tsn TIMESTAMP_NTZ, bo BOOLEAN, dec DECIMAL(10,2), bin BINARY)
     USING delta PARTITIONED BY (s, b, sh, i, l, d, ts, tsn, bo, dec, bin)`,
    `INSERT INTO ${t} VALUES
       (1, 'a b%c/d=e', 1, 2, 3, 4, DATE'2024-01-02', TIMESTAMP'2024-01-02 03:04:05.123456', TIMESTAMP_NTZ'2024-01-02 03:04:05', true, -1.50, CAST('héllo wörld' AS BINARY)),
       (2, 'Zürich 東京 #?&', -1, -2, -3, -4, DATE'1999-12-31', TIMESTAMP'1999-12-31 23:59:59', TIMESTAMP_NTZ'1999-12-31 23:59:59.000001', false, 0.05, CAST('plain' AS BINARY)),
       (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
  ],
};

let engine: DuckDBEngine;
let lake: Lake;
let cleanup: () => void;
/** Why a table of TABLES could not be written (absent: written). */
const writeErrors = new Map<string, Error>();
/** Spark's reads, by `readKey`. */
const sparkReads = new Map<string, SparkRead | SparkReadError>();
let sparkWriteError: Error | undefined;

/** One Spark read: a table at a version (latest when undefined), or its latest rows matching `where`. */
interface Target {
  name: string;
  version?: number;
  where?: string;
}

const tableName = (name: string): string => `spark.${name}`;
const readKey = (t: Target): string => JSON.stringify([t.name, t.version ?? null, t.where ?? null]);
const label = (t: Target): string => `${t.name} ${t.where !== undefined ? `where ${t.where}` : t.version === undefined ? 'latest' : `v${t.version}`}`;
const targetsOf = (t: IngotTable | typeof SPARK_TABLE): Target[] => [
  { name: t.name },
  ...(t.versions ?? []).map((version) => ({ name: t.name, version })),
  ...(t.where ?? []).map((where) => ({ name: t.name, where })),
];
const targets = [...TABLES, SPARK_TABLE, SPARK_PARTITIONS].flatMap(targetsOf);

before(async () => {
  const started = Date.now();
  engine = await DuckDBEngine.open();
  let dir: string;
  ({ dir, cleanup } = tempDir('spark'));
  lake = new Lake(dir, engine);
  // Spark's write comes first: it also starts Spark for the first time (on a new machine, that
  // fetches delta-spark's jars from Maven Central) and says clearly what is missing if it cannot.
  try {
    const ref = (t: { name: string }): string => `delta.\`${lake.table(tableName(t.name)).location}\``;
    const spark = writeWithSpark([...SPARK_TABLE.statements(ref(SPARK_TABLE)), ...SPARK_PARTITIONS.statements(ref(SPARK_PARTITIONS))]);
    console.log(`# Spark ${spark.pyspark}, delta-spark ${spark.delta_spark}, Java ${spark.java}: write session started in ${spark.startup_seconds} s`);
  } catch (err) {
    sparkWriteError = err as Error;
  }
  for (const t of TABLES) {
    try {
      await t.write(lake.table(tableName(t.name)), engine);
    } catch (err) {
      writeErrors.set(t.name, err as Error);
    }
  }
  const readable = targets.filter((t) => !writeErrors.has(t.name) && !((t.name === SPARK_TABLE.name || t.name === SPARK_PARTITIONS.name) && sparkWriteError));
  const readStarted = Date.now();
  const reads = readWithSpark(readable.map((t) => ({ ...t, path: lake.table(tableName(t.name)).location })));
  readable.forEach((t, i) => sparkReads.set(readKey(t), reads[i]!));
  console.log(`# Spark read ${readable.length} table versions in ${((Date.now() - readStarted) / 1000).toFixed(1)} s; setup ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

after(async () => {
  await engine?.close();
  cleanup?.();
});

/**
 * Reads the target with ingot and delta-rs and asserts that they and Spark agree on version,
 * schema, partition columns and rows (for a `where` target: Spark's filtered rows and ingot's
 * rows filtered by DuckDB). Returns ingot's read.
 */
async function compare(target: Target): Promise<Awaited<ReturnType<typeof readWithIngot>>> {
  const { name, version, where } = target;
  const what = label(target);
  const spark = sparkReads.get(readKey(target));
  assert.ok(spark, `${what}: Spark read it`);
  if ('error' in spark) assert.fail(`${what}: Spark could not read it: ${spark.error}`);
  const table = lake.table(tableName(name));
  const ours = await readWithIngot(engine, table, version);
  const rows = canonicalRows(ours.schema, ours.rows);
  assert.ok(rows.length > 0, `${what}: the table has rows`);
  assert.equal(spark.count, rows.length, `${what}: Spark's count`);
  if (where !== undefined) {
    const matching = canonicalRows(ours.schema, (await readWithIngot(engine, table, version, [], where)).rows);
    assert.ok(matching.length > 0, `${what}: some rows match`);
    assert.deepEqual(canonicalRows(ours.schema, spark.filtered_rows ?? []), matching, `${what}: Spark's rows`);
    return ours;
  }
  const rs = readWithDeltaRs(table.location, version);
  if (version !== undefined) assert.equal(ours.version, version, `${what}: ingot's version`);
  assert.equal(spark.version, ours.version, `${what}: Spark's version`);
  assert.equal(rs.version, ours.version, `${what}: delta-rs's version`);
  const schema = ours.schema.fields.map((f) => ({ name: f.name, type: deltaTypeName(f.type) }));
  assert.deepEqual(spark.schema, schema, `${what}: Spark's schema`);
  assert.deepEqual(rs.schema, schema, `${what}: delta-rs's schema`);
  assert.deepEqual(spark.partition_columns, ours.partitionColumns, `${what}: Spark's partition columns`);
  assert.deepEqual(rs.partition_columns, ours.partitionColumns, `${what}: delta-rs's partition columns`);
  assert.deepEqual(canonicalRows(ours.schema, spark.rows), rows, `${what}: Spark's rows`);
  assert.deepEqual(canonicalRows(ours.schema, rs.rows), rows, `${what}: delta-rs's rows`);
  return ours;
}

describe('Spark reads what ingot writes', () => {
  for (const target of TABLES.flatMap(targetsOf)) {
    test(label(target), async () => {
      const failed = writeErrors.get(target.name);
      if (failed) throw failed;
      await compare(target);
    });
  }
});

describe('ingot reads what Spark writes', () => {
  for (const target of targetsOf(SPARK_TABLE)) {
    test(label(target), async () => {
      if (sparkWriteError) throw sparkWriteError;
      const ours = await compare(target);
      if (target.version === undefined && target.where === undefined) {
        // 30 + 2 rows, 6 of them deleted (south: id % 3 = 1, and id > 10), 3 added
        assert.equal(ours.rows.length, 29);
        assert.equal(ours.version, SPARK_TABLE.statements('t').length - 1);
        const snapshot = await lake.table(tableName(SPARK_TABLE.name)).snapshot();
        assert.ok(snapshot.tombstones.size > 0, 'the update and the delete removed files');
        const log = await fs.readdir(path.join(lake.table(tableName(SPARK_TABLE.name)).location, '_delta_log'));
        assert.ok(log.some((n) => /^\d{20}\.checkpoint(\.[^.]+)*\.parquet$/.test(n)), `Spark wrote a checkpoint: ${log.join(', ')}`);
      }
    });
  }
});

describe('ingot reads the partition values Spark writes, of every type (issue 19, item 14)', () => {
  test('escaped characters, a non-ASCII BINARY value, a negative decimal and NULLs read as Spark and delta-rs read them', async () => {
    if (sparkWriteError) throw sparkWriteError;
    const ours = await compare({ name: SPARK_PARTITIONS.name });
    const rows = canonicalRows(ours.schema, ours.rows);
    const hex = (text: string): string => Buffer.from(text, 'utf8').toString('hex');
    assert.deepEqual(rows.map((r) => [r['id'], r['s'], r['dec'], r['bin']]), [
      [1, 'a b%c/d=e', '-1.50', hex('héllo wörld')],
      [2, 'Zürich 東京 #?&', '0.05', hex('plain')],
      [3, null, null, null],
    ]);
    assert.deepEqual(Object.entries(rows[2]!).filter(([k, v]) => k !== 'id' && v !== null), [], 'every partition value of row 3 is NULL');
    // Spark writes the BINARY value as its text, outside ASCII: the case that failed DuckDB's cast
    const log = await fs.readFile(path.join(lake.table(tableName(SPARK_PARTITIONS.name)).location, '_delta_log', '00000000000000000001.json'), 'utf8');
    assert.match(log, /"bin":"héllo wörld"/);
  });
});
