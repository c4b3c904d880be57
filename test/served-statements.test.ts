/**
 * The serving reader's statement caches (src/engine/duckdb/reader.ts, as `ingot serve` and its
 * PostgreSQL wire server use it through `ServedLake`): a statement text is checked and prepared
 * once per connection, yet every execution reads the latest committed version of each table; and
 * streamed rows print dates and timestamps exactly as DuckDB itself prints them.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { stageWrite } from '../src/operations/stage.js';
import { ServedLake } from '../src/serve/served-lake.js';
import { Lake } from '../src/table/lake.js';
import { tempDir } from './fixtures.js';
import { streamAll } from './serve-helpers.js';

describe('serving reader: cached statements read the latest commit', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let engine: DuckDBEngine;
  let lake: Lake;

  /** Appends rows `from`..`to`-1 to gold.events (id, day, at) as one commit. */
  const append = async (from: number, to: number): Promise<void> => {
    const table = lake.table('gold.events');
    const staged = await engine.stage('__events', `SELECT i AS id, DATE '2024-01-01' + CAST(i AS INTEGER) AS day, TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(i) AS at FROM range(${from}, ${to}) AS t(i)`);
    const { commit } = await stageWrite(engine, table, await table.trySnapshot(), 'SELECT * FROM __events', { mode: 'append', schema: staged.schema });
    await table.commit(commit);
    await engine.drop('__events');
  };

  const all = streamAll;

  before(async () => {
    ({ dir, cleanup } = await tempDir('served-statements'));
    engine = await DuckDBEngine.open({ memoryLimit: '512MB' });
    lake = new Lake(path.join(dir, 'lake'), engine);
    await append(0, 10);
  });

  after(async () => {
    await engine.close();
    await cleanup();
  });

  for (const materializeBytes of [256 * 1024 * 1024, 0]) {
    it(`a cached statement sees each new commit on its next execution (${materializeBytes ? 'in-memory copy' : 'Parquet files'})`, async () => {
      // one connection: every execution reuses the one prepared statement of the text
      const served = await ServedLake.open(new Lake(path.join(dir, 'lake'), engine), { connections: 2, reservedConnections: 0, threads: 1, refreshMs: 0, materializeBytes });
      try {
        const sql = 'SELECT count(*) AS n, max(id) AS top FROM gold.events WHERE id >= $1';
        const before = Number((await served.latest('gold.events')));
        const shape = await served.describe(sql);
        assert.deepEqual(shape.columns.map((c) => c.name), ['n', 'top']);
        const first = await all(served, sql, [{ type: 'BIGINT', value: 0 }]);
        const base = Number(first[0]![0]);
        await append(100 + before * 10, 105 + before * 10);
        assert.equal(await served.latest('gold.events'), before + 1);
        const second = await all(served, sql, [{ type: 'BIGINT', value: 0 }]);
        assert.deepEqual(second.map((r) => r.map(Number)), [[base + 5, 104 + before * 10]], 'the new commit is read by the cached statement');
        // and with other parameters, on a statement described (prepared anew) in between
        await served.describe(sql);
        const third = await all(served, sql, [{ type: 'BIGINT', value: 100 + before * 10 }]);
        assert.deepEqual(third.map((r) => r.map(Number)), [[5, 104 + before * 10]]);
      } finally {
        await served.close();
      }
    });
  }

  it('a text refused once is refused again; a checked text with a wrong parameter count fails clearly', async () => {
    const served = await ServedLake.open(new Lake(path.join(dir, 'lake'), engine), { connections: 1, reservedConnections: 0, threads: 1 });
    try {
      await served.latest('gold.events');
      for (let i = 0; i < 2; i++) await assert.rejects(all(served, 'SELECT * FROM duckdb_settings()'), { code: 'SQL_NOT_READ_ONLY' });
      const sql = 'SELECT id FROM gold.events WHERE id = $1';
      assert.deepEqual(await all(served, sql, [{ type: 'BIGINT', value: 3 }]), [[3n]]);
      await assert.rejects(all(served, sql, [{ type: 'BIGINT', value: 3 }, { type: 'BIGINT', value: 4 }]), { code: 'SQL_ERROR', message: /1 parameter\(s\), 2 given/ });
      assert.deepEqual(await all(served, sql, [{ type: 'BIGINT', value: 4 }]), [[4n]]);
    } finally {
      await served.close();
    }
  });

  it('dates and timestamps are printed as DuckDB prints them (before 1970, fractions, far years, infinities, nulls)', async () => {
    const served = await ServedLake.open(new Lake(path.join(dir, 'lake'), engine), { connections: 1, reservedConnections: 0, threads: 1 });
    try {
      const values = `SELECT * FROM (VALUES
        (TIMESTAMP '2024-02-29 23:59:59.123456', TIMESTAMPTZ '2024-02-29 23:59:59.5+00', DATE '2024-02-29'),
        (TIMESTAMP '1969-12-31 23:59:59.999999', TIMESTAMPTZ '1900-01-01 00:00:00.000001+00', DATE '1969-12-31'),
        (TIMESTAMP '1970-01-01 00:00:00', TIMESTAMPTZ '1970-01-01 00:00:00+00', DATE '1970-01-01'),
        (TIMESTAMP '0044-03-15 12:00:00', TIMESTAMPTZ '2999-12-31 23:00:00.01+00', DATE '0001-01-01'),
        (TIMESTAMP '9999-12-31 23:59:59.999999', TIMESTAMPTZ '1500-06-01 01:02:03+00', DATE '9999-12-31'),
        (TIMESTAMP 'infinity', TIMESTAMPTZ '-infinity', NULL),
        (NULL, NULL, DATE '1492-10-12')
      ) AS t(ts, tz, d)`;
      const ours = await all(served, values);
      const duck = await all(served, `SELECT CAST(ts AS VARCHAR), CAST(tz AS VARCHAR), CAST(d AS VARCHAR) FROM (${values})`);
      assert.equal(ours.length, 7);
      assert.deepEqual(ours, duck);
      // a whole chunk and more of consecutive instants, one microsecond apart and one second apart
      const many = 'SELECT TIMESTAMPTZ \'1969-12-31 23:59:59+00\' + to_microseconds(i * 999_999) AS t, TIMESTAMP \'2023-06-30 12:00:00\' + to_seconds(i * 7919) AS u FROM range(5000) AS r(i)';
      assert.deepEqual(await all(served, many), await all(served, `SELECT CAST(t AS VARCHAR), CAST(u AS VARCHAR) FROM (${many})`));
    } finally {
      await served.close();
    }
  });
});
