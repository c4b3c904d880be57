import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { Lake } from '../src/table/lake.js';
import { queryLake } from '../src/operations/query.js';
import { loadProject } from '../src/project.js';
import { Runner } from '../src/run/runner.js';
import type { RunResult } from '../src/metadata/records.js';
import { localTable } from './helpers.js';
import { flightsProject, tempDir } from './fixtures.js';
import { startSparkConnect, type SparkConnectServer } from './spark-connect-server.js';

/** Edge cases for every portable function: nulls, leap days, month ends, times before 1970, padded and unpadded text. */
const EDGE_SQL = `-- description: every portable function over edge cases
SELECT
  id,
  ingot.date_trunc('month', d) AS trunc_month, ingot.date_trunc('week', d) AS trunc_week, ingot.date_trunc('quarter', ts) AS trunc_quarter,
  ingot.timestamp_trunc('hour', ts) AS trunc_hour, ingot.timestamp_trunc('day', ts) AS trunc_day,
  ingot.date_part('year', d) AS y, ingot.date_part('quarter', d) AS q, ingot.date_part('week', d) AS iso_week,
  ingot.date_part('day_of_week', d) AS dow, ingot.date_part('day_of_year', d) AS doy,
  ingot.date_part('hour', ts) AS h, ingot.date_part('minute', ts) AS mi, ingot.date_part('second', ts) AS s,
  ingot.date_diff('month', d, DATE '2024-03-01') AS months_to_march, ingot.date_diff('day', ts, TIMESTAMP '2024-03-01 00:00:00') AS days_to_march,
  ingot.date_diff('hour', ts, TIMESTAMP '2024-03-01 00:00:00') AS hours_to_march, ingot.date_diff('year', d, DATE '2025-01-01') AS years_to_2025,
  ingot.date_diff('second', ts, ingot.timestamp_add('minute', 1, ts)) AS sixty,
  ingot.date_add('month', 1, d) AS next_month, ingot.date_add('year', 1, d) AS next_year, ingot.date_add('day', -1, d) AS yesterday, ingot.date_add('week', 2, d) AS in_two_weeks,
  ingot.timestamp_add('month', 1, ts) AS ts_next_month, ingot.timestamp_add('hour', 25, ts) AS ts_plus_25h,
  ingot.epoch_seconds(ts) AS epoch_s, ingot.epoch_ms(ts) AS epoch_ms,
  ingot.from_epoch_seconds(n) AS from_s, ingot.from_epoch_ms(CAST(n AS BIGINT) * 1000 + 5) AS from_ms,
  ingot.parse_date(txt, '%Y-%m-%d') AS parsed_date, ingot.parse_timestamp(txt_ts, '%d/%m/%Y %H:%M:%S') AS parsed_ts,
  ingot.strftime(ts, '%Y-%m-%dT%H:%M:%S.%f %a %b %j') AS formatted, ingot.strftime(d, '%A %d %B %Y, 100%%') AS formatted_date,
  ingot.regexp_extract(code, '([A-Z]+)-(\\d+)', 2) AS code_num, ingot.regexp_extract(code, '[A-Z]+') AS code_prefix,
  ingot.regexp_matches(code, '^[A-Z]{3}-\\d+$') AS code_ok,
  ingot.sha256(code) AS code_sha, ingot.array_length(split(code, '-')) AS code_parts,
  'it''s' AS quoted
FROM (VALUES
  (1, DATE '2024-02-29', TIMESTAMP '2024-02-29 23:59:59.5', 0, '2024-02-29', '29/02/2024 23:59:59', 'ABC-123'),
  (2, DATE '2024-01-31', TIMESTAMP '1969-12-31 23:59:59.5', -1, '2024-2-3', '31/12/1969 23:59:59', 'abc-1'),
  (3, DATE '2023-12-31', TIMESTAMP '2023-12-31 00:00:00', 1700000000, '2024-02-30', '01/01/2024 00:00:00', 'XYZ-7-8'),
  (4, CAST(NULL AS DATE), CAST(NULL AS TIMESTAMP), CAST(NULL AS INT), CAST(NULL AS STRING), CAST(NULL AS STRING), CAST(NULL AS STRING))
) AS t(id, d, ts, n, txt, txt_ts, code)
`;

/** Portable functions over the flights silver table (a day of real flights). */
const FLIGHTS_SQL = `-- materialization: replace partition
-- partition_by: flight_date
SELECT flight_date, origin,
  ingot.date_trunc('month', flight_date) AS month,
  ingot.date_part('day_of_week', flight_date) AS dow,
  ingot.strftime(min(dep_time), '%H:%M') AS first_departure,
  min(ingot.epoch_seconds(dep_time)) AS first_epoch,
  max(ingot.date_diff('minute', ingot.timestamp_trunc('hour', dep_time), dep_time)) AS max_minute,
  count(*) AS flights
FROM silver.flights
WHERE flight_date >= {{start}} AND flight_date < {{end}} AND ingot.regexp_matches(origin, '^[A-Z]{3}$')
GROUP BY flight_date, origin
`;

describe('portable functions and SQL overrides on Spark and DuckDB', { timeout: 900_000 }, () => {
  let server: SparkConnectServer;
  let duck: DuckDBEngine;
  let projects: { dir: string; cleanup: () => Promise<void> };
  before(async () => {
    server = await startSparkConnect();
    process.env['INGOT_TEST_SPARK_REMOTE'] = server.url;
    duck = await DuckDBEngine.open();
    projects = await tempDir('spark-portable');
  });
  after(async () => {
    await duck?.close();
    await server?.stop();
    await projects?.cleanup();
  });

  const config = (engine: string): string =>
    `import { defineConfig } from 'ingot';\nexport default defineConfig({ lake: './lake', engine: '${engine}', spark: { url: 'env:INGOT_TEST_SPARK_REMOTE' } });\n`;
  const runProject = async (dir: string, dates: string[]): Promise<RunResult[]> => {
    const runner = await Runner.open(await loadProject(dir));
    try {
      return await runner.runAll(dates);
    } finally {
      await runner.close();
    }
  };
  const read = (dir: string, sql: string): Promise<Record<string, unknown>[]> => queryLake(new Lake(path.join(dir, 'lake'), duck), duck, sql);
  const schemaOf = async (dir: string, table: string): Promise<[string, unknown][]> =>
    (await localTable(path.join(dir, 'lake', ...table.split('.'))).snapshot()).schema.fields.map((f) => [f.name, f.type]);

  it('gives the same rows, of the same types, on both engines: edge cases and a day of flights; an override is picked by engine', async () => {
    const days = ['2001-01-02'];
    const dirs: Record<string, string> = {};
    for (const engine of ['duckdb', 'spark']) {
      const dir = await flightsProject(path.join(projects.dir, engine), days);
      await fs.writeFile(path.join(dir, 'ingot.config.ts'), config(engine));
      await fs.writeFile(path.join(dir, 'datasets', 'silver', 'edge.sql'), EDGE_SQL);
      await fs.writeFile(path.join(dir, 'datasets', 'gold', 'flights_portable.sql'), FLIGHTS_SQL);
      // an engine-specific query: DuckDB's list syntax in x.sql, Spark's in x.spark.sql
      await fs.writeFile(path.join(dir, 'datasets', 'gold', 'written_for.sql'), "SELECT 'duckdb' AS engine, CAST(len([1, 2, 3]) AS INTEGER) AS n\n");
      await fs.writeFile(path.join(dir, 'datasets', 'gold', 'written_for.spark.sql'), "-- Spark has no [1, 2, 3] list literal\nSELECT 'spark' AS engine, size(array(1, 2, 3)) AS n;\n");
      const t0 = performance.now();
      const results = await runProject(dir, days);
      for (const r of results) assert.equal(r.status, 'success', r.error);
      console.log(`${engine}: ${Math.round(performance.now() - t0)} ms`);
      dirs[engine] = dir;
    }
    const [onDuck, onSpark] = [dirs['duckdb']!, dirs['spark']!];

    // the override ran on Spark, the dataset's own SQL on DuckDB
    assert.deepEqual(await read(onDuck, 'SELECT * FROM gold.written_for'), [{ engine: 'duckdb', n: 3 }]);
    assert.deepEqual(await read(onSpark, 'SELECT * FROM gold.written_for'), [{ engine: 'spark', n: 3 }]);

    for (const [table, order] of [['silver.edge', 'id'], ['gold.flights_portable', 'flight_date, origin']] as const) {
      assert.deepEqual(await schemaOf(onSpark, table), await schemaOf(onDuck, table), table);
      const expected = await read(onDuck, `SELECT * FROM ${table} ORDER BY ${order}`);
      assert.ok(expected.length >= 4, table);
      assert.deepEqual(await read(onSpark, `SELECT * FROM ${table} ORDER BY ${order}`), expected, table);
    }
    assert.deepEqual((await schemaOf(onDuck, 'silver.edge')).filter(([n]) => ['trunc_month', 'trunc_hour', 'dow', 'months_to_march', 'next_month', 'epoch_s', 'from_s', 'code_ok'].includes(n)), [
      ['trunc_month', 'date'], ['trunc_hour', 'timestamp'], ['dow', 'integer'], ['months_to_march', 'long'], ['next_month', 'date'], ['epoch_s', 'long'], ['from_s', 'timestamp'], ['code_ok', 'boolean'],
    ]);
    // the values both engines agree on are the documented ones
    const edge = await read(onSpark, 'SELECT * FROM silver.edge ORDER BY id');
    const pick = (row: Record<string, unknown>, ...keys: string[]): Record<string, unknown> => Object.fromEntries(keys.map((k) => [k, row[k]]));
    assert.deepEqual(pick(edge[0]!, 'trunc_month', 'trunc_week', 'dow', 'doy', 'iso_week', 's', 'next_month', 'next_year', 'in_two_weeks', 'parsed_date', 'parsed_ts', 'code_num', 'code_prefix', 'code_ok', 'code_parts', 'sixty'), {
      trunc_month: '2024-02-01', trunc_week: '2024-02-26', dow: 4, doy: 60, iso_week: 9, s: 59, next_month: '2024-03-29', next_year: '2025-02-28', in_two_weeks: '2024-03-14',
      parsed_date: '2024-02-29', parsed_ts: '2024-02-29 23:59:59+00', code_num: '123', code_prefix: 'ABC', code_ok: true, code_parts: '2', sixty: '60',
    });
    assert.equal(edge[0]!['formatted'], '2024-02-29T23:59:59.500000 Thu Feb 060');
    assert.equal(edge[0]!['formatted_date'], 'Thursday 29 February 2024, 100%');
    assert.equal(edge[0]!['ts_plus_25h'], '2024-03-02 00:59:59.5+00');
    assert.equal(edge[0]!['quoted'], "it's");
    assert.equal(edge[0]!['code_sha'], '4d156d7bc9c38c000aa1e5b06e46e1f40cafe651f3cabfae9bad48803baf17bf');
    // month ends clamp, boundaries count, times before 1970 floor, unpadded or impossible dates do not parse
    assert.deepEqual(pick(edge[1]!, 'next_month', 'months_to_march', 'epoch_s', 'epoch_ms', 'from_s', 'parsed_date', 'parsed_ts', 'code_ok', 'code_prefix'), {
      next_month: '2024-02-29', months_to_march: '2', epoch_s: '-1', epoch_ms: '-500', from_s: '1969-12-31 23:59:59+00', parsed_date: null, parsed_ts: '1969-12-31 23:59:59+00', code_ok: false, code_prefix: '',
    });
    assert.deepEqual(pick(edge[2]!, 'years_to_2025', 'days_to_march', 'hours_to_march', 'dow', 'iso_week', 'from_s', 'from_ms', 'parsed_date', 'code_num'), {
      years_to_2025: '2', days_to_march: '61', hours_to_march: '1464', dow: 7, iso_week: 52, from_s: '2023-11-14 22:13:20+00', from_ms: '2023-11-14 22:13:20.005+00', parsed_date: null, code_num: '7',
    });
    assert.ok(Object.entries(edge[3]!).every(([k, v]) => k === 'id' || k === 'quoted' || v === null), JSON.stringify(edge[3]));
  });

  it("reports a DuckDB-only function on Spark with Spark's message, naming the dataset", async () => {
    const dir = path.join(projects.dir, 'duck-only');
    await fs.mkdir(path.join(dir, 'datasets', 'gold'), { recursive: true });
    await fs.writeFile(path.join(dir, 'ingot.config.ts'), config('duckdb'));
    await fs.writeFile(path.join(dir, 'datasets', 'gold', 'days.sql'), "-- engine: spark\nSELECT strftime(DATE '2024-02-29', '%d.%m.%Y') AS day\n");
    // the same file runs on DuckDB, where strftime exists
    await fs.writeFile(path.join(dir, 'datasets', 'gold', 'days_duck.sql'), "SELECT strftime(DATE '2024-02-29', '%d.%m.%Y') AS day\n");
    const [failed] = await runProject(dir, ['2024-01-01']);
    assert.equal(failed!.status, 'failed');
    const days = failed!.datasets.find((d) => d.dataset === 'gold.days')!;
    assert.equal(days.status, 'failed');
    assert.match(days.error!, /^gold\.days \(.*days\.sql\): \[UNRESOLVED_ROUTINE\] Cannot resolve routine `strftime`/);
    // with the portable function, both run
    await fs.writeFile(path.join(dir, 'datasets', 'gold', 'days.sql'), "-- engine: spark\nSELECT ingot.strftime(DATE '2024-02-29', '%d.%m.%Y') AS day\n");
    for (const r of await runProject(dir, ['2024-01-01'])) assert.equal(r.status, 'success', r.error);
    assert.deepEqual(await read(dir, 'SELECT * FROM gold.days UNION ALL SELECT * FROM gold.days_duck'), [{ day: '29.02.2024' }, { day: '29.02.2024' }]);
  });

  it('evolves a table written on Spark: a new column, int and bigint columns cast to the table, a value that does not fit', async () => {
    const dir = path.join(projects.dir, 'evolve');
    await fs.mkdir(path.join(dir, 'datasets', 'silver'), { recursive: true });
    await fs.writeFile(path.join(dir, 'ingot.config.ts'), config('spark'));
    const file = path.join(dir, 'datasets', 'silver', 'scores.sql');
    const run = async (select: string, date: string): Promise<RunResult> => {
      await fs.writeFile(file, `-- materialization: replace partition\n-- partition_by: day\nSELECT {{start}} AS day, ${select}\n`);
      const [result] = await runProject(dir, [date]);
      return result!;
    };
    let r = await run("CAST(1 AS INT) AS id, CAST(10 AS BIGINT) AS total, 'a' AS label", '2024-01-01');
    assert.equal(r.status, 'success', r.error);
    // id now BIGINT (values fit the table's INT), total INT (widened to the table's BIGINT), label INT (to STRING), a new column
    r = await run('CAST(2 AS BIGINT) AS id, CAST(20 AS INT) AS total, 7 AS label, 0.5D AS score', '2024-01-02');
    assert.equal(r.status, 'success', r.error);
    const table = path.join(dir, 'lake', 'silver', 'scores');
    assert.deepEqual((await localTable(table).snapshot()).schema.fields.map((f) => [f.name, f.type]), [['day', 'date'], ['id', 'integer'], ['total', 'long'], ['label', 'string'], ['score', 'double']]);
    assert.deepEqual(await read(dir, 'SELECT * FROM silver.scores ORDER BY day'), [
      { day: '2024-01-01', id: 1, total: '10', label: 'a', score: null },
      { day: '2024-01-02', id: 2, total: '20', label: '7', score: 0.5 },
    ]);
    // a BIGINT beyond INT: the run fails naming the column and value, and commits nothing
    r = await run('CAST(3000000000 AS BIGINT) AS id, CAST(30 AS INT) AS total, 8 AS label, 1.5D AS score', '2024-01-03');
    assert.equal(r.status, 'failed');
    assert.match(r.error!, /silver\.scores: column id: value '3000000000' \(long\) does not fit the table's type integer/);
    assert.equal((await localTable(table).snapshot()).version, 1);
  });
});
