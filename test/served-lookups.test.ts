/**
 * Lookup indexes of the serving reader (src/engine/duckdb/reader.ts, as `ingot serve` and its
 * PostgreSQL wire server use it through `ServedLake`): a statement comparing a column of one
 * in-memory table with a parameter or a constant gets that column indexed on the table's copy,
 * built again for each new version; lookups return the same rows with and without the index, a
 * column that cannot be indexed is left without one, and tables read from their files or
 * statements reading several tables get none.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import type { DuckDBLakeReader } from '../src/engine/duckdb/reader.js';
import { stageWrite } from '../src/operations/stage.js';
import { ServedLake } from '../src/serve/served-lake.js';
import { Lake } from '../src/table/lake.js';
import { tempDir } from './fixtures.js';
import { streamAll } from './serve-helpers.js';

describe('serving reader: lookup indexes on in-memory copies', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let engine: DuckDBEngine;
  let lake: Lake;

  /** Appends rows `from`..`to`-1 to `name` (id, code, tags) as one commit. */
  const append = async (name: string, from: number, to: number): Promise<void> => {
    const table = lake.table(name);
    const staged = await engine.stage('__rows', `SELECT i AS id, 'c' || CAST(i % 7 AS VARCHAR) AS code, [i, i + 1] AS tags FROM range(${from}, ${to}) AS t(i)`);
    const { commit } = await stageWrite(engine, table, await table.trySnapshot(), 'SELECT * FROM __rows', { mode: 'append', schema: staged.schema });
    await table.commit(commit);
    await engine.drop('__rows');
  };

  const all = streamAll;

  /** The reader under `served` (a private field: the indexes are not part of `ServedLake`'s API). */
  const readerOf = (served: ServedLake): DuckDBLakeReader => (served as unknown as { reader: DuckDBLakeReader }).reader;

  before(async () => {
    ({ dir, cleanup } = await tempDir('served-lookups'));
    engine = await DuckDBEngine.open({ memoryLimit: '512MB' });
    lake = new Lake(path.join(dir, 'lake'), engine);
    await append('gold.items', 0, 5000);
    await append('gold.other', 0, 10);
  });

  after(async () => {
    await engine.close();
    await cleanup();
  });

  it('a column looked up by a parameter or a constant is indexed, on each new version too, with the same rows', async () => {
    const served = await ServedLake.open(new Lake(path.join(dir, 'lake'), engine), { connections: 2, reservedConnections: 0, threads: 1, refreshMs: 0, settleMs: 0 });
    try {
      await served.latest('gold.items');
      assert.deepEqual(await readerOf(served).lookupIndexes('gold.items'), [], 'nothing indexed before a lookup');
      const byId = 'SELECT id, code FROM gold.items WHERE id = $1';
      assert.deepEqual(await all(served, byId, [{ type: 'BIGINT', value: 4321 }]), [[4321n, 'c2']]);
      assert.deepEqual(await readerOf(served).lookupIndexes('gold.items'), ['id']);
      // the index answers: the same rows as before it, for present, absent and null values
      assert.deepEqual(await all(served, byId, [{ type: 'BIGINT', value: 17 }]), [[17n, 'c3']]);
      assert.deepEqual(await all(served, byId, [{ type: 'BIGINT', value: 999_999 }]), []);
      assert.deepEqual(await all(served, byId, [{ type: 'NULL' }]), []);
      // a constant and a cast parameter count as lookups too (text column)
      const codes = await all(served, "SELECT count(*) FROM gold.items AS i WHERE i.code = 'c3'");
      assert.equal(Number(codes[0]![0]), 714);
      assert.deepEqual(await readerOf(served).lookupIndexes('gold.items'), ['code', 'id']);
      assert.deepEqual(await all(served, 'SELECT count(*) FROM gold.items WHERE code = CAST($1 AS VARCHAR)', [{ type: 'VARCHAR', value: 'c3' }]), [[714n]]);

      // a new version: a new copy, indexed again before the view reads it
      await append('gold.items', 5000, 5010);
      await served.latest('gold.items');
      assert.deepEqual(await readerOf(served).lookupIndexes('gold.items'), ['code', 'id']);
      assert.deepEqual(await all(served, byId, [{ type: 'BIGINT', value: 5007 }]), [[5007n, 'c2']]);
      assert.equal(Number((await all(served, "SELECT count(*) FROM gold.items WHERE code = 'c3'"))[0]![0]), 716);
    } finally {
      await served.close();
    }
  });

  it('no index for a column that cannot have one, for several tables, or for a table read from its files', async () => {
    const served = await ServedLake.open(new Lake(path.join(dir, 'lake'), engine), { connections: 2, reservedConnections: 0, threads: 1, refreshMs: 0 });
    try {
      await served.latest('gold.items');
      await served.latest('gold.other');
      // a list column: DuckDB has no index for it; the lookup still answers
      assert.deepEqual(await all(served, 'SELECT id FROM gold.items WHERE tags = [5, 6]'), [[5n]]);
      // an alias is no column of the table
      assert.deepEqual(await all(served, 'SELECT id * 2 AS twice FROM gold.items WHERE twice = $1', [{ type: 'BIGINT', value: 8 }]), [[8n]]);
      // a lookup joining two tables
      assert.deepEqual(await all(served, 'SELECT o.id FROM gold.other AS o JOIN gold.items AS i ON i.id = o.id WHERE o.id = $1', [{ type: 'BIGINT', value: 3 }]), [[3n]]);
      assert.deepEqual(await readerOf(served).lookupIndexes('gold.items'), []);
      assert.deepEqual(await readerOf(served).lookupIndexes('gold.other'), []);
    } finally {
      await served.close();
    }
    const files = await ServedLake.open(new Lake(path.join(dir, 'lake'), engine), { connections: 2, reservedConnections: 0, threads: 1, refreshMs: 0, materializeBytes: 0 });
    try {
      await files.latest('gold.items');
      assert.deepEqual(await all(files, 'SELECT code FROM gold.items WHERE id = $1', [{ type: 'BIGINT', value: 12 }]), [['c5']]);
      assert.deepEqual(await readerOf(files).lookupIndexes('gold.items'), []);
    } finally {
      await files.close();
    }
  });
});
