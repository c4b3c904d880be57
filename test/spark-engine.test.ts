import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { SparkEngine } from '../src/engine/spark/engine.js';
import { IngotError } from '../src/errors.js';
import { Lake } from '../src/table/lake.js';
import { queryLake } from '../src/operations/query.js';
import { scanOf } from '../src/operations/scan.js';
import { loadProject } from '../src/project.js';
import { Runner } from '../src/run/runner.js';
import { flightsProject, tempDir as projectDir } from './fixtures.js';
import { localTable, readWithDeltaRs, readWithIngot, tempDir, writeSql } from './helpers.js';
import { startSparkConnect, type SparkConnectServer } from './spark-connect-server.js';

const sortBy = (k: string) => (a: Record<string, unknown>, b: Record<string, unknown>): number => String(a[k]).localeCompare(String(b[k]), 'en', { numeric: true });

describe('Spark engine', { timeout: 600_000 }, () => {
  let server: SparkConnectServer;
  let spark: SparkEngine;
  let duck: DuckDBEngine;
  const { dir, cleanup } = tempDir('spark-engine');
  before(async () => {
    server = await startSparkConnect();
    // the test projects' ingot.config.ts: spark: { url: 'env:INGOT_TEST_SPARK_REMOTE' }
    process.env['INGOT_TEST_SPARK_REMOTE'] = server.url;
    spark = await SparkEngine.open(server.url);
    duck = await DuckDBEngine.open();
  });
  after(async () => {
    await spark?.close();
    await duck?.close();
    await server?.stop();
    cleanup();
  });

  it('finds the tables a query reads and refuses statements', async () => {
    assert.deepEqual(await spark.references('WITH c AS (SELECT * FROM bronze.a) SELECT * FROM c JOIN silver.b USING (k) WHERE k IN (SELECT k FROM gold.c)'), ['bronze.a', 'gold.c', 'silver.b']);
    await assert.rejects(spark.references('INSERT INTO bronze.a SELECT 1'), (e: unknown) => e instanceof IngotError && e.code === 'SQL_NOT_READ_ONLY');
  });

  it('describes and stages query results with Delta types', async () => {
    const sql = "SELECT CAST(id AS INT) AS i, id AS l, CAST(id AS DECIMAL(12,3)) AS d, DATE '2024-01-01' + CAST(id AS INT) AS dt, TIMESTAMP '2024-01-01 00:00:00' AS ts, array('a') AS a, \"id\" AS quoted FROM range(5)";
    const schema = await spark.describe(sql);
    assert.deepEqual(schema.fields.map((f) => [f.name, f.type]), [
      ['i', 'integer'], ['l', 'long'], ['d', 'decimal(12,3)'], ['dt', 'date'], ['ts', 'timestamp'], ['a', { type: 'array', elementType: 'string', containsNull: true }], ['quoted', 'long'],
    ]);
    const staged = await spark.stage('__s', sql);
    assert.equal(staged.rows, 5);
    assert.deepEqual(await spark.query('SELECT max(d) AS m, max(dt) AS dt FROM "__s"'), [{ m: '4.000', dt: '2024-01-05' }]);
    await spark.drop('__s');
    await assert.rejects(spark.query('SELECT * FROM "__s"'), (e: unknown) => e instanceof IngotError && e.context.errorClass === 'TABLE_OR_VIEW_NOT_FOUND');
  });

  it('extends a table the DuckDB engine wrote, and DuckDB extends it back; delta-rs reads every version', async () => {
    const location = path.join(dir, 'silver', 'events');
    const table = localTable(location);
    // version 0: DuckDB through ingot's table layer, partitioned by day
    await writeSql(duck, table, "SELECT d::DATE AS day, i AS id, 'duck' AS writer, (i * 1.25)::DECIMAL(10,2) AS amount FROM (VALUES ('2024-01-01', 1), ('2024-01-02', 2)) AS t(d, i)", { mode: 'append', partitionBy: ['day'], txn: { appId: 'ingot:2024-01-02', version: 1 } });
    // Spark reads it through a view over delta.`path` at that version
    await spark.attachTable('silver.events', await scanOf(table, await table.snapshot()));
    assert.deepEqual((await spark.query('SELECT id, writer, amount FROM silver.events ORDER BY id')), [{ id: 1, writer: 'duck', amount: '1.25' }, { id: 2, writer: 'duck', amount: '2.50' }]);

    // version 1: Spark appends through Delta Lake (INSERT), with the run's txn
    const append = { table, mode: 'append' as const, partitionBy: ['day'], txn: { appId: 'ingot:2024-01-03', version: 7 }, parameters: { runId: 'r1' } };
    const sql = "SELECT DATE '2024-01-03' AS day, 3 AS id, 'spark' AS writer, CAST(3.75 AS DECIMAL(10,2)) AS amount";
    assert.deepEqual(await spark.commit(sql, append), { version: 1, rows: 1 });
    // a rerun of the same run commits nothing (Delta's idempotent writes)
    assert.equal(await spark.commit(sql, append), undefined);
    let snap = await table.snapshot();
    assert.equal(snap.version, 1);
    assert.equal(snap.txns.get('ingot:2024-01-03')?.version, 7);
    assert.deepEqual(snap.partitionColumns, ['day']);

    // version 2: Spark replaces one day (INSERT INTO ... REPLACE WHERE) and adds a column
    assert.deepEqual(await spark.commit("SELECT DATE '2024-01-02' AS day, 20 AS id, 'spark' AS writer, CAST(20 AS DECIMAL(10,2)) AS amount, 'x' AS note", {
      table, mode: 'replace', replaceWhere: "day >= DATE '2024-01-02' AND day < DATE '2024-01-03'", partitionBy: ['day'], mergeSchema: true, txn: { appId: 'ingot:2024-01-02', version: 8 },
    }), { version: 2, rows: 1 });

    // version 3: DuckDB appends to the table Spark wrote, through ingot's table layer
    assert.equal(await writeSql(duck, table, "SELECT DATE '2024-01-04' AS day, 4 AS id, 'duck' AS writer, 4.00::DECIMAL(10,2) AS amount, NULL::VARCHAR AS note", { mode: 'append', txn: { appId: 'ingot:2024-01-04', version: 9 } }), 3);

    // version 4: Spark merges (MERGE INTO): updates id 4, inserts id 5
    assert.deepEqual(await spark.commit("SELECT DATE '2024-01-04' AS day, 4 AS id, 'spark' AS writer, CAST(44 AS DECIMAL(10,2)) AS amount, 'merged' AS note UNION ALL SELECT DATE '2024-01-05', 5, 'spark', CAST(5 AS DECIMAL(10,2)), NULL", {
      table, mode: 'merge', merge: { on: 'target.id = source.id', whenMatched: [{ update: '*' }], whenNotMatched: [{ insert: '*' }] }, partitionBy: [], txn: { appId: 'ingot:2024-01-05', version: 10 },
    }), { version: 4, rows: 2 });

    const expected = [
      { day: '2024-01-01', id: 1, writer: 'duck', amount: '1.25', note: null },
      { day: '2024-01-03', id: 3, writer: 'spark', amount: '3.75', note: null },
      { day: '2024-01-04', id: 4, writer: 'spark', amount: '44.00', note: 'merged' },
      { day: '2024-01-05', id: 5, writer: 'spark', amount: '5.00', note: null },
      { day: '2024-01-02', id: 20, writer: 'spark', amount: '20.00', note: 'x' },
    ];
    snap = await table.snapshot();
    assert.equal(snap.version, 4);
    // ingot's reader (DuckDB over ingot's snapshot of the log Delta Lake wrote)
    const ingot = await readWithIngot(duck, table);
    assert.deepEqual(ingot.rows.sort(sortBy('id')), expected);
    // Spark
    await spark.attachTable('silver.events', await scanOf(table, snap));
    assert.deepEqual((await spark.query('SELECT * FROM silver.events')).sort(sortBy('id')), expected);
    // delta-rs, every version
    const rs = readWithDeltaRs(location);
    assert.equal(rs.version, 4);
    assert.deepEqual(rs.rows.map((r) => r['id']).sort((a, b) => Number(a) - Number(b)), [1, 3, 4, 5, 20]);
    assert.equal(rs.rows.find((r) => r['id'] === 4)!['note'], 'merged');
    for (let v = 0; v <= 4; v++) assert.equal(readWithDeltaRs(location, v).rows.length, [2, 3, 3, 4, 5][v]);
  });

  it('creates and fully refreshes a table through Delta Lake', async () => {
    const location = path.join(dir, 'gold', 'totals');
    const table = localTable(location);
    const full = { table, mode: 'overwrite' as const, partitionBy: [], overwriteSchema: true, txn: { appId: 'ingot:full', version: 1 } };
    assert.deepEqual(await spark.commit('SELECT id % 2 AS k, count(*) AS n FROM range(10) GROUP BY 1', full), { version: 0, rows: 2 });
    assert.deepEqual(await spark.commit("SELECT 'all' AS k, 10L AS n, 1.5D AS avg", { ...full, txn: { appId: 'ingot:full', version: 2 } }), { version: 1, rows: 1 });
    const snap = await table.snapshot();
    assert.deepEqual(snap.schema.fields.map((f) => [f.name, f.type]), [['k', 'string'], ['n', 'long'], ['avg', 'double']]);
    assert.deepEqual((await readWithIngot(duck, table)).rows, [{ k: 'all', n: '10', avg: 1.5 }]);
  });

  it('reports a failing write with Spark\'s message and leaves the table as it was', async () => {
    const location = path.join(dir, 'silver', 'strict');
    const table = localTable(location);
    await spark.commit('SELECT 1 AS id', { table, mode: 'append', partitionBy: [], txn: { appId: 'a', version: 1 } });
    await assert.rejects(spark.commit("SELECT CAST('nope' AS INT) AS id", { table, mode: 'append', partitionBy: [], txn: { appId: 'a', version: 2 } }),
      (e: unknown) => e instanceof IngotError && e.code === 'SQL_ERROR' && e.context.errorClass === 'CAST_INVALID_INPUT' && /'nope'/.test(e.message));
    assert.equal((await table.snapshot()).version, 0);
  });

  it('runs the flights example with silver and gold on Spark: the same gold rows as on DuckDB', async () => {
    const days = ['2001-01-01', '2001-01-02'];
    // projects inside the repository, whose ingot.config.ts imports 'ingot'
    const projects = await projectDir('spark-flights');
    after(projects.cleanup);
    const onDuck = await flightsProject(path.join(projects.dir, 'duckdb'), days);
    const onSpark = await flightsProject(path.join(projects.dir, 'spark'), days);
    // the project's engine is Spark; bronze datasets (sources) are read by DuckDB
    await fs.writeFile(path.join(onSpark, 'ingot.config.ts'), `import { defineConfig } from 'ingot';
export default defineConfig({ name: 'flights', lake: './lake', engine: 'spark', spark: { url: 'env:INGOT_TEST_SPARK_REMOTE' } });
`);
    const run = async (project: string): Promise<void> => {
      const runner = await Runner.open(await loadProject(project));
      try {
        const results = await runner.runAll(days);
        for (const r of results) assert.equal(r.status, 'success', r.error);
        // a rerun of the first date (same identity) commits nothing twice
        const again = await runner.run(days[0], { identity: { runId: results[0]!.runId, startedAt: results[0]!.startedAt } });
        assert.equal(again.status, 'success', again.error);
        assert.ok(again.datasets.every((d) => d.alreadyCommitted || d.rowsOut === 0 || d.dataset.startsWith('bronze.')), JSON.stringify(again.datasets.map((d) => [d.dataset, d.alreadyCommitted, d.rowsOut])));
      } finally {
        await runner.close();
      }
    };
    const t0 = performance.now();
    await run(onDuck);
    const t1 = performance.now();
    await run(onSpark);
    const t2 = performance.now();
    console.log(`flights, ${days.length} days: DuckDB ${Math.round(t1 - t0)} ms, Spark ${Math.round(t2 - t1)} ms`);

    // Delta Lake wrote the Spark tables' logs
    const log = await fs.readFile(path.join(onSpark, 'lake', 'gold', 'route_monthly', '_delta_log', '00000000000000000000.json'), 'utf8');
    assert.match(log, /"engineInfo":"Apache-Spark\/[\d.]+ Delta-Lake\/[\d.]+"/);
    const round = (rows: Record<string, unknown>[]): Record<string, unknown>[] => rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' && !Number.isInteger(v) ? Number(v.toFixed(9)) : v])));
    const gold = async (project: string, table: string, order: string): Promise<Record<string, unknown>[]> => {
      const engine = await DuckDBEngine.open();
      try {
        return round(await queryLake(new Lake(path.join(project, 'lake'), engine), engine, `SELECT * FROM ${table} ORDER BY ${order}`));
      } finally {
        await engine.close();
      }
    };
    for (const [table, order] of [['gold.airport_daily', 'flight_date, airport'], ['gold.route_monthly', 'month, origin, destination'], ['gold.top5_monthly', 'month, ranking, rank'], ['silver.flights_quarantine', 'flight_date, dep_time, origin, destination']] as const) {
      const expected = await gold(onDuck, table, order);
      const actual = await gold(onSpark, table, order);
      if (table.startsWith('gold.')) assert.ok(expected.length > 0, table);
      if (table === 'silver.flights_quarantine') {
        // the same rows; _run_id and _quarantined_at differ by run
        const strip = (rows: Record<string, unknown>[]): Record<string, unknown>[] => rows.map(({ _run_id: _r, _quarantined_at: _q, ...rest }) => rest);
        assert.deepEqual(strip(actual), strip(expected), table);
      } else {
        assert.deepEqual(actual, expected, table);
      }
      // delta-rs reads the Spark-written table too
      assert.equal(readWithDeltaRs(path.join(onSpark, 'lake', ...table.split('.'))).rows.length, expected.length, table);
    }
  });

  it('runs merge and apply changes (SCD1, SCD2) on Spark through MERGE INTO: the same tables as on DuckDB', async () => {
    // a small change feed over three days: late arrivals, a repeated value, deletes, a re-insert
    const feed: Record<string, string[]> = {
      '2024-03-01': ['1,1,2024-01-01 00:01:00,U,ada,10', '2,2,2024-01-01 00:02:00,U,bo,20', '1,3,2024-01-01 00:03:00,U,ada,11', '3,4,2024-01-01 00:04:00,U,cy,'],
      '2024-03-02': ['2,6,2024-01-01 00:06:00,D,bo,20', '3,7,2024-01-01 00:07:00,U,cy,', '1,5,2024-01-01 00:05:00,U,ada,12', '4,8,2024-01-01 00:08:00,U,di,40'],
      '2024-03-03': ['2,9,2024-01-01 00:09:00,U,bo,21', '1,4,2024-01-01 00:04:00,U,ada,99', '4,10,2024-01-01 00:10:00,D,di,40', '5,11,2024-01-01 00:11:00,U,ed,50'],
    };
    const days = Object.keys(feed);
    const projects = await projectDir('spark-changes');
    after(projects.cleanup);
    const write = async (project: string, engine: string): Promise<void> => {
      const ds = path.join(project, 'datasets');
      await fs.mkdir(path.join(ds, 'bronze'), { recursive: true });
      await fs.mkdir(path.join(ds, 'silver'), { recursive: true });
      await fs.writeFile(path.join(project, 'ingot.config.ts'), `import { defineConfig } from 'ingot';\nexport default defineConfig({ lake: './lake', engine: '${engine}', spark: { url: 'env:INGOT_TEST_SPARK_REMOTE' } });\n`);
      for (const day of days) {
        await fs.mkdir(path.join(project, 'landing', `day=${day}`), { recursive: true });
        await fs.writeFile(path.join(project, 'landing', `day=${day}`, 'a.csv'), ['id,seq,changed_at,op,name,amount', ...feed[day]!].join('\n') + '\n');
      }
      const def = (o: Record<string, unknown>): string => `export default ${JSON.stringify(o)};\n`;
      await fs.writeFile(path.join(ds, 'bronze', 'changes.ts'), def({
        name: 'bronze.changes', materialization: 'replace partition', partitionBy: ['day'],
        source: { kind: 'files', path: 'landing/day={day}/*.csv', format: 'csv', columns: { id: 'INTEGER', seq: 'BIGINT', changed_at: 'TIMESTAMP', op: 'VARCHAR', name: 'VARCHAR', amount: 'INTEGER' } },
      }));
      const feedSql = 'SELECT id, seq, changed_at, op, name, amount FROM bronze.changes WHERE day >= {{start}} AND day < {{end}}';
      await fs.writeFile(path.join(ds, 'silver', 'first.ts'), def({ name: 'silver.first', sql: feedSql, materialization: 'merge', key: ['id'], orderBy: 'changed_at' }));
      await fs.writeFile(path.join(ds, 'silver', 'scd1.ts'), def({ name: 'silver.scd1', sql: feedSql, materialization: 'apply changes', key: ['id'], changes: { sequenceBy: 'seq', deleteWhen: "op = 'D'", exceptColumns: ['op'] } }));
      await fs.writeFile(path.join(ds, 'silver', 'scd2.ts'), def({ name: 'silver.scd2', sql: feedSql, materialization: 'apply changes', key: ['id'], changes: { sequenceBy: 'changed_at', deleteWhen: "op = 'D'", scdType: 2, exceptColumns: ['op', 'seq'] } }));
    };
    const onDuck = path.join(projects.dir, 'duckdb');
    const onSpark = path.join(projects.dir, 'spark');
    await write(onDuck, 'duckdb');
    await write(onSpark, 'spark');
    for (const project of [onDuck, onSpark]) {
      const runner = await Runner.open(await loadProject(project));
      try {
        for (const r of await runner.runAll(days)) assert.equal(r.status, 'success', r.error);
      } finally {
        await runner.close();
      }
    }
    const read = async (project: string, table: string): Promise<Record<string, unknown>[]> => {
      const engine = await DuckDBEngine.open();
      try {
        return await queryLake(new Lake(path.join(project, 'lake'), engine), engine, `SELECT * FROM ${table} ORDER BY ALL`);
      } finally {
        await engine.close();
      }
    };
    for (const table of ['silver.first', 'silver.scd1', 'silver.scd2']) {
      const expected = await read(onDuck, table);
      assert.ok(expected.length >= 3, table);
      assert.deepEqual(await read(onSpark, table), expected, table);
      const log = await fs.readFile(path.join(onSpark, 'lake', ...table.split('.'), '_delta_log', '00000000000000000002.json'), 'utf8');
      assert.match(log, /"operation":"MERGE"/, table);
    }
  });
});
