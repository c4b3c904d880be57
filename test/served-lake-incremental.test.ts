/**
 * In-memory copies of the serving reader updated in place (src/engine/duckdb/reader.ts through
 * `ServedLake`): a new version that changes a few files of a table held in memory is applied to
 * the copy (rows of removed files deleted, rows newly deleted by a deletion vector deleted, rows
 * of added files inserted) instead of copying the table again. A real Delta table with deletion
 * vectors written by ingot's operations; after every operation the copy must equal the same
 * version read from its Parquet files by a second reader, and lookups through the copy's index
 * must agree with it.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { deleteRows } from '../src/operations/delete.js';
import { optimize } from '../src/operations/optimize.js';
import { restore } from '../src/operations/restore.js';
import { updateRows } from '../src/operations/update.js';
import { ServedLake } from '../src/serve/served-lake.js';
import { Lake } from '../src/table/lake.js';
import { tempDir, writeSql } from './helpers.js';

const NAME = 'gold.t';
const ALL = 'SELECT id, status, amount FROM gold.t ORDER BY id';
const BY_ID = 'SELECT id, status, amount FROM gold.t WHERE id = $id';

describe('serving reader: in-memory copies updated in place', () => {
  let dir: string;
  let cleanup: () => void;
  let engine: DuckDBEngine;
  let lake: Lake;
  let memory: ServedLake;
  let files: ServedLake;

  /** The internal relation holding `gold.t`'s in-memory copy in `served` (undefined when read from files). */
  const copyOf = (served: ServedLake): string | undefined =>
    (served as unknown as { reader: { attached: Map<string, { memory?: string }> } }).reader.attached.get(NAME)?.memory;

  /** Checks that both readers are at the table's latest version and hold the same rows; returns the version. */
  const same = async (label: string): Promise<number> => {
    const version = (await lake.table(NAME).snapshot()).version;
    assert.equal(await memory.latest(NAME), version, label);
    assert.equal(await files.latest(NAME), version, label);
    assert.ok(copyOf(memory), `${label}: held in memory`);
    assert.equal(copyOf(files), undefined, `${label}: the other reader reads the files`);
    const want = (await files.query(ALL)).rows;
    assert.ok(want.length > 0, label);
    assert.deepEqual((await memory.query(ALL)).rows, want, label);
    for (const id of [0, 3, 7, 21, 150, 299, 1000]) {
      const params = { id: { type: 'BIGINT' as const, value: BigInt(id) } };
      assert.deepEqual((await memory.query(BY_ID, params)).rows, (await files.query(BY_ID, params)).rows, `${label}: id ${id}`);
    }
    return version;
  };

  before(async () => {
    ({ dir, cleanup } = await tempDir('served-lake-incremental'));
    engine = await DuckDBEngine.open({ memoryLimit: '512MB' });
    lake = new Lake(path.join(dir, 'lake'), engine);
    const table = lake.table(NAME);
    for (const from of [0, 100, 200]) {
      await writeSql(engine, table, `SELECT i::BIGINT AS id, 'new' AS status, i * 1.5 AS amount FROM range(${from}, ${from + 100}) r(i)`,
        { mode: 'append', ...(from === 0 ? { configuration: { 'delta.enableDeletionVectors': 'true' } } : {}) });
    }
    // settleMs 0: every version is held in memory at once; materializeBytes 0: never in memory
    memory = await ServedLake.open(new Lake(path.join(dir, 'lake')), { connections: 2, reservedConnections: 0, threads: 1, refreshMs: 0, settleMs: 0 });
    files = await ServedLake.open(new Lake(path.join(dir, 'lake')), { connections: 2, reservedConnections: 0, threads: 1, refreshMs: 0, materializeBytes: 0 });
  });

  after(async () => {
    await memory?.close();
    await files?.close();
    await engine?.close();
    await cleanup();
  });

  it('applies appends, deletes and updates (deletion vectors) and compactions to the copy; a restore copies the table again', async () => {
    await same('three appends');
    const first = copyOf(memory);
    // a lookup by id: the copy gets an index on id, kept up to date by the updates below
    await memory.query(BY_ID, { id: { type: 'BIGINT', value: 7n } });

    const table = lake.table(NAME);
    await writeSql(engine, table, "SELECT i::BIGINT AS id, 'late' AS status, i * 2.0 AS amount FROM range(300, 320) r(i)", { mode: 'append' });
    await same('a fourth append');
    assert.equal(copyOf(memory), first, 'an append updates the copy in place');

    const deleted = await deleteRows(table, engine, { where: 'id % 10 = 3' });
    assert.ok((deleted.metrics['numDeletedRows'] ?? 0) > 0);
    const afterDelete = await same('rows deleted in deletion vectors');
    assert.equal(copyOf(memory), first, 'a delete updates the copy in place');
    assert.equal((await memory.query(BY_ID, { id: { type: 'BIGINT', value: 3n } })).rows.length, 0);

    await updateRows(table, engine, { set: { status: "'paid'", amount: 'amount + 1' }, where: 'id % 7 = 0' });
    await same('rows updated: deletion vectors grown, a file added');
    assert.equal(copyOf(memory), first, 'an update updates the copy in place');
    assert.deepEqual((await memory.query(BY_ID, { id: { type: 'BIGINT', value: 21n } })).rows, [{ id: 21, status: 'paid', amount: '32.5' }]);

    await deleteRows(table, engine, { where: 'id % 10 = 7' });
    await same('more rows deleted from files that had deletion vectors');
    assert.equal(copyOf(memory), first);

    // a restore brings back files with smaller deletion vectors: the table is copied whole
    await restore(table, { version: afterDelete });
    await same('restored to the version after the first delete');
    const restored = copyOf(memory);
    assert.notEqual(restored, first, 'a restore copies the table again');
    assert.equal((await memory.query(BY_ID, { id: { type: 'BIGINT', value: 21n } })).rows[0]?.['status'], 'new');

    await optimize(table, engine);
    await same('compacted: every file removed, one added');
    assert.equal(copyOf(memory), restored, 'a compaction updates the copy in place');
  });
});
