/**
 * Delta operations on real Parquet files: delete, update, merge, optimize, restore, vacuum,
 * append-only tables and log retention. Each result is checked three ways: ingot's read, delta-rs's
 * read, and a model table to which DuckDB's own DML (DELETE / UPDATE / MERGE INTO) applied the same change.
 */
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { IngotError } from '../src/errors.js';
import { LocalStore } from '../src/storage/local.js';
import { deleteRows } from '../src/operations/delete.js';
import { merge } from '../src/operations/merge.js';
import { optimize } from '../src/operations/optimize.js';
import { restore } from '../src/operations/restore.js';
import { updateRows } from '../src/operations/update.js';
import { vacuum } from '../src/operations/vacuum.js';
import { DeltaTable } from '../src/table/table.js';
import { decodePath } from '../src/table/write.js';
import { cli } from './fixtures.js';
import { canonicalRows, readWithDeltaRs, readWithIngot, tempDir, writeSql } from './helpers.js';

let engine: DuckDBEngine;
before(async () => {
  engine = await DuckDBEngine.open();
});
after(async () => {
  await engine.close();
});

const ROWS = (from: number, to: number): string =>
  `SELECT i::BIGINT AS id, (i % 5)::INTEGER AS grp, 'name ' || i AS name, (i * 1.5)::DOUBLE AS amount FROM range(${from}, ${to}) t(i)`;

let counter = 0;

/** A table `id, grp, name, amount` partitioned by grp with rows 0..999 in two commits, and a model copy in DuckDB. */
async function fixture(t: { after: (fn: () => void) => void }, configuration: Record<string, string> = {}): Promise<{ table: DeltaTable; model: string }> {
  const { dir, cleanup } = tempDir('ops');
  t.after(cleanup);
  const table = new DeltaTable(new LocalStore(path.join(dir, 'table')), engine);
  await writeSql(engine, table, ROWS(0, 500), { mode: 'append', partitionBy: ['grp'], configuration });
  await writeSql(engine, table, ROWS(500, 1000), { mode: 'append' });
  const model = `model_${++counter}`;
  await engine.query(`CREATE TEMP TABLE ${model} AS ${ROWS(0, 1000)}`);
  return { table, model };
}

/** Asserts that ingot and delta-rs read `table` (latest) exactly as the model table holds it. */
async function assertMatchesModel(table: DeltaTable, model: string, label: string): Promise<void> {
  const ours = await readWithIngot(engine, table);
  const want = canonicalRows(ours.schema, await engine.query(`SELECT * FROM ${model}`));
  assert.deepEqual(canonicalRows(ours.schema, ours.rows), want, `${label}: ingot's rows`);
  const theirs = readWithDeltaRs(table.location);
  assert.equal(theirs.version, ours.version, `${label}: delta-rs sees the same version`);
  assert.deepEqual(canonicalRows(ours.schema, theirs.rows), want, `${label}: delta-rs's rows`);
}

async function lastCommit(table: DeltaTable): Promise<Record<string, unknown>[]> {
  const v = (await table.snapshot()).version;
  const text = await fs.readFile(path.join(table.location, '_delta_log', `${String(v).padStart(20, '0')}.json`), 'utf8');
  return text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function rejects(p: Promise<unknown>, code: string, pattern?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof IngotError, `expected an IngotError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

describe('delete', () => {
  test('rewrites only files with matching rows, removes wholly matching files without rewriting', async (t) => {
    const { table, model } = await fixture(t);
    const before = await table.snapshot();
    const r = await deleteRows(table, engine, { where: 'id % 10 = 0' });
    assert.equal(r.committed, true);
    assert.equal(r.metrics['numDeletedRows'], 100);
    // every file holds ids of all residues mod 10 within its partition grp ∈ {0, 5 mod 10}: only grp 0 files match
    const removed = (await lastCommit(table)).filter((a) => 'remove' in a).map((a) => (a['remove'] as { partitionValues: Record<string, string> }).partitionValues['grp']);
    assert.deepEqual([...new Set(removed)], ['0'], 'only the grp=0 files held matching rows');
    assert.equal(r.metrics['numRemovedFiles'], [...before.files.values()].filter((f) => f.partitionValues['grp'] === '0').length);
    await engine.query(`DELETE FROM ${model} WHERE id % 10 = 0`);
    await assertMatchesModel(table, model, 'delete id % 10 = 0');

    const whole = await deleteRows(table, engine, { where: 'grp = 3' });
    assert.equal(whole.metrics['numDeletedRows'], 200);
    assert.equal(whole.metrics['numAddedFiles'], 0, 'files whose rows all match are removed, not rewritten');
    await engine.query(`DELETE FROM ${model} WHERE grp = 3`);
    await assertMatchesModel(table, model, 'delete grp = 3');
    const info = (await table.history(1))[0]!;
    assert.equal(info.operation, 'DELETE');
    assert.equal(info.operationParameters['predicate'], JSON.stringify(['grp = 3']));
  });

  test('a predicate matching nothing commits nothing; a bad predicate names the problem and changes nothing', async (t) => {
    const { table } = await fixture(t);
    const v = (await table.snapshot()).version;
    const none = await deleteRows(table, engine, { where: 'id < 0' });
    assert.equal(none.committed, false);
    await rejects(deleteRows(table, engine, { where: 'no_such_column = 1' }), 'SQL_ERROR', /no_such_column/);
    assert.equal((await table.snapshot()).version, v);
  });

  test('NULL predicate results keep the row', async (t) => {
    const { table, model } = await fixture(t);
    await updateRows(table, engine, { set: { name: 'NULL' }, where: 'id < 10' });
    await engine.query(`UPDATE ${model} SET name = NULL WHERE id < 10`);
    await deleteRows(table, engine, { where: "name LIKE 'name 1%'" });
    await engine.query(`DELETE FROM ${model} WHERE name LIKE 'name 1%'`);
    await assertMatchesModel(table, model, 'delete with NULLs');
  });
});

describe('update', () => {
  test('updates matching rows, copies the rest of their files, and moves rows across partitions', async (t) => {
    const { table, model } = await fixture(t);
    const r = await updateRows(table, engine, { set: { amount: 'amount * 2', name: "upper(name)" }, where: 'id < 100' });
    assert.equal(r.metrics['numUpdatedRows'], 100);
    await engine.query(`UPDATE ${model} SET amount = amount * 2, name = upper(name) WHERE id < 100`);
    await assertMatchesModel(table, model, 'update amount');
    await updateRows(table, engine, { set: { grp: '7' }, where: 'id IN (1, 2, 3)' });
    await engine.query(`UPDATE ${model} SET grp = 7 WHERE id IN (1, 2, 3)`);
    await assertMatchesModel(table, model, 'update partition column');
    const snap = await table.snapshot();
    assert.ok([...snap.files.values()].some((f) => f.partitionValues['grp'] === '7'), 'a grp=7 partition exists');
  });

  test('an unknown column is refused by name', async (t) => {
    const { table } = await fixture(t);
    await rejects(updateRows(table, engine, { set: { nope: '1' } }), 'COLUMN_UNKNOWN', /nope/);
  });
});

describe('merge', () => {
  const SOURCE = `SELECT * FROM (VALUES
      (1, 'U', 100.0), (2, 'U', 200.0), (6, 'D', 0.0), (11, 'U', 1100.0),
      (2000, 'I', 1.0), (2001, 'I', 2.0), (2002, 'X', 3.0)) s(id, op, amount)`;

  test('update, delete, insert and not-matched-by-source delete in one commit, equal to DuckDB MERGE INTO', async (t) => {
    const { table, model } = await fixture(t);
    const r = await merge(table, engine, {
      source: SOURCE,
      on: 'target.id = source.id',
      whenMatched: [{ delete: true, condition: "source.op = 'D'" }, { update: { amount: 'source.amount', name: "'merged'" } }],
      whenNotMatched: [{ insert: { id: 'source.id', grp: 'source.id % 5', name: "'new'", amount: 'source.amount' }, condition: "source.op = 'I'" }],
      whenNotMatchedBySource: [{ delete: true, condition: 'target.id >= 990' }],
    });
    assert.equal(r.committed, true);
    assert.deepEqual(
      [r.metrics['numTargetRowsUpdated'], r.metrics['numTargetRowsDeleted'], r.metrics['numTargetRowsInserted'], r.metrics['numSourceRows']],
      [3, 1 + 10, 2, 7],
    );
    await engine.query(`MERGE INTO ${model} AS target USING (${SOURCE}) AS source ON target.id = source.id
      WHEN MATCHED AND source.op = 'D' THEN DELETE
      WHEN MATCHED THEN UPDATE SET amount = source.amount, name = 'merged'
      WHEN NOT MATCHED AND source.op = 'I' THEN INSERT (id, grp, name, amount) VALUES (source.id, source.id % 5, 'new', source.amount)
      WHEN NOT MATCHED BY SOURCE AND target.id >= 990 THEN DELETE`);
    await assertMatchesModel(table, model, 'merge');
    assert.equal((await table.history(1))[0]!.operation, 'MERGE');
  });

  test('rewrites only the files holding matched rows', async (t) => {
    const { table, model } = await fixture(t);
    const before = await table.snapshot();
    const src = 'SELECT id, -1.0 AS amount FROM range(0, 1000, 5) t(id)'; // all in grp 0
    const r = await merge(table, engine, { source: src, on: 'target.id = source.id', whenMatched: [{ update: { amount: 'source.amount' } }] });
    const removed = (await lastCommit(table)).filter((a) => 'remove' in a).map((a) => (a['remove'] as { path: string }).path);
    const grp0 = [...before.files.values()].filter((f) => f.partitionValues['grp'] === '0').map((f) => f.path);
    assert.deepEqual(removed.sort(), grp0.sort(), 'exactly the grp=0 files were rewritten');
    assert.equal(r.metrics['numTargetRowsUpdated'], 200);
    await engine.query(`UPDATE ${model} SET amount = -1.0 WHERE id % 5 = 0`);
    await assertMatchesModel(table, model, 'merge touching one partition');
  });

  test("update '*' and insert '*' take columns by name", async (t) => {
    const { table, model } = await fixture(t);
    const src = `SELECT id::BIGINT AS id, (id % 5)::INTEGER AS grp, 'star' AS name, 0.5::DOUBLE AS amount FROM range(995, 1005) t(id)`;
    await merge(table, engine, { source: src, on: 'target.id = source.id', whenMatched: [{ update: '*' }], whenNotMatched: [{ insert: '*' }] });
    await engine.query(`MERGE INTO ${model} AS target USING (${src}) AS source ON target.id = source.id WHEN MATCHED THEN UPDATE SET name = source.name, amount = source.amount WHEN NOT MATCHED THEN INSERT BY NAME`);
    await assertMatchesModel(table, model, "merge '*'");
  });

  test('insert-only merge appends the unmatched rows without rewriting a file', async (t) => {
    const { table, model } = await fixture(t);
    const src = `SELECT id::BIGINT AS id, 1 AS grp, 'late' AS name, 9.0 AS amount FROM range(990, 1010) t(id)`;
    const r = await merge(table, engine, { source: src, on: 'target.id = source.id', whenNotMatched: [{ insert: '*' }] });
    assert.equal(r.metrics['numTargetRowsInserted'], 10);
    assert.equal(r.metrics['numTargetRowsCopied'], 0);
    assert.equal(r.metrics['numRemovedFiles'], 0);
    await engine.query(`INSERT INTO ${model} SELECT * FROM (${src}) WHERE id >= 1000`);
    await assertMatchesModel(table, model, 'insert-only merge');
  });

  test('a target row matched by two source rows is an error, and nothing changes', async (t) => {
    const { table } = await fixture(t);
    const v = (await table.snapshot()).version;
    await rejects(
      merge(table, engine, { source: 'SELECT 7 AS id, 1.0 AS amount UNION ALL SELECT 7, 2.0', on: 'target.id = source.id', whenMatched: [{ update: { amount: 'source.amount' } }] }),
      'MERGE_MULTIPLE_MATCHES', /row \d+ of .*matches 2 source rows/,
    );
    assert.equal((await table.snapshot()).version, v);
    // an unconditional delete may match several source rows (as in Delta)
    const r = await merge(table, engine, { source: 'SELECT 7 AS id UNION ALL SELECT 7', on: 'target.id = source.id', whenMatched: [{ delete: true }] });
    assert.equal(r.metrics['numTargetRowsDeleted'], 1);
  });
});

describe('optimize', () => {
  test('compacts small files per partition with dataChange false; rows unchanged; a second run does nothing', async (t) => {
    const { table, model } = await fixture(t);
    for (let i = 0; i < 4; i++) await writeSql(engine, table, ROWS(1000 + i * 10, 1010 + i * 10), { mode: 'append' });
    await engine.query(`INSERT INTO ${model} ${ROWS(1000, 1040)}`);
    const before = await table.snapshot();
    assert.equal(before.files.size, 5 * 6);
    const r = await optimize(table, engine);
    assert.equal(r.metrics['numFilesRemoved'], 30);
    const after = await table.snapshot();
    assert.equal(after.files.size, 5, 'one file per partition');
    const actions = await lastCommit(table);
    for (const a of actions) {
      const f = (a['add'] ?? a['remove']) as { dataChange: boolean } | undefined;
      if (f) assert.equal(f.dataChange, false);
    }
    await assertMatchesModel(table, model, 'optimize');
    assert.equal((await optimize(table, engine)).committed, false);
  });
});

describe('restore', () => {
  test('returns to a version and to a timestamp, as a new version', async (t) => {
    const { table } = await fixture(t);
    const v1 = await readWithIngot(engine, table, 1);
    await deleteRows(table, engine, { where: 'grp = 1' });
    await updateRows(table, engine, { set: { amount: '0' } });
    const r = await restore(table, { version: 1 });
    assert.equal(r.version, 4);
    const now = await readWithIngot(engine, table);
    assert.deepEqual(canonicalRows(now.schema, now.rows), canonicalRows(v1.schema, v1.rows));
    assert.deepEqual(canonicalRows(now.schema, readWithDeltaRs(table.location).rows), canonicalRows(v1.schema, v1.rows));
    const at2 = (await table.history()).find((h) => h.version === 2)!.timestamp;
    await restore(table, { timestamp: at2 });
    const back = await readWithIngot(engine, table);
    const v2 = await readWithIngot(engine, table, 2);
    assert.deepEqual(canonicalRows(back.schema, back.rows), canonicalRows(v2.schema, v2.rows));
    assert.equal((await table.history(1))[0]!.operation, 'RESTORE');
  });
});

describe('vacuum', () => {
  test('dry run lists; retention below the table’s needs an override; removes unreferenced files only', async (t) => {
    const { table, model } = await fixture(t);
    await deleteRows(table, engine, { where: 'id % 2 = 0' });
    await engine.query(`DELETE FROM ${model} WHERE id % 2 = 0`);
    const orphan = path.join(table.location, 'grp=1', 'part-orphan.parquet');
    await fs.writeFile(orphan, 'not committed');
    const old = new Date(Date.now() - 8 * 86_400_000);
    await fs.utimes(orphan, old, old);

    const week = await vacuum(table, { dryRun: true });
    assert.deepEqual(week.files, ['grp=1/part-orphan.parquet'], 'with 7 days retention only the old orphan goes');
    await rejects(vacuum(table, { retentionHours: 0 }), 'RETENTION_TOO_SHORT', /168 hours/);
    const removed = (await table.snapshot()).tombstones;
    const dry = await vacuum(table, { retentionHours: 0, enforceRetention: false, dryRun: true });
    assert.deepEqual(new Set(dry.files), new Set([...[...removed.values()].map((r) => decodePath(r.path, table.store.root)), 'grp=1/part-orphan.parquet']));
    for (const f of dry.files) assert.ok(existsSync(path.join(table.location, f)), 'a dry run deletes nothing');
    const done = await vacuum(table, { retentionHours: 0, enforceRetention: false });
    assert.equal(done.files.length, dry.files.length);
    for (const f of dry.files) assert.ok(!existsSync(path.join(table.location, f)), `${f} deleted`);
    assert.ok(existsSync(path.join(table.location, '_delta_log')));
    await assertMatchesModel(table, model, 'after vacuum');
    await rejects(restore(table, { version: 1 }), 'DATA_FILE_MISSING', /no longer exists/);
    await rejects(readWithIngot(engine, table, 1), 'DATA_FILE_MISSING', /data file grp=\d\/part-[^ ]+\.parquet of the Delta table at .* is missing/);
  });
});

describe('table properties', () => {
  test('delta.appendOnly refuses deletes, updates and overwrites but allows appends', async (t) => {
    const { table } = await fixture(t, { 'delta.appendOnly': 'true' });
    await rejects(deleteRows(table, engine, { where: 'id = 1' }), 'TABLE_APPEND_ONLY', /append-only/);
    await rejects(updateRows(table, engine, { set: { amount: '0' } }), 'TABLE_APPEND_ONLY');
    await rejects(writeSql(engine, table, ROWS(0, 10), { mode: 'overwrite' }), 'TABLE_APPEND_ONLY');
    await writeSql(engine, table, ROWS(1000, 1010), { mode: 'append' });
    assert.equal((await table.snapshot()).numRecords, 1010);
  });

  test('expired log files are cleaned up after a checkpoint; old versions then fail clearly', async (t) => {
    const { table } = await fixture(t, { 'delta.checkpointInterval': '3', 'delta.logRetentionDuration': 'interval 0 seconds' });
    for (let i = 0; i < 5; i++) await writeSql(engine, table, ROWS(1000 + i, 1001 + i), { mode: 'append' });
    const log = (await fs.readdir(path.join(table.location, '_delta_log'))).filter((f) => !f.startsWith('.')).sort();
    assert.ok(!log.includes('00000000000000000000.json'), `early commits expired: ${log.join(' ')}`);
    assert.ok(log.includes('00000000000000000006.checkpoint.parquet'));
    await rejects(table.snapshot(1), 'VERSION_NOT_FOUND', /expired/);
    const latest = await table.snapshot();
    assert.equal(latest.numRecords, 1005);
    assert.equal(readWithDeltaRs(table.location).rows.length, 1005);
  });
});

describe('command line', () => {
  test('delete, update, optimize, vacuum, restore, history and time travel by version and timestamp', async (t) => {
    const { dir, cleanup } = tempDir('ops-cli');
    t.after(cleanup);
    const lake = path.join(dir, 'lake');
    const table = new DeltaTable(new LocalStore(path.join(lake, 'silver', 't')), engine);
    await writeSql(engine, table, ROWS(0, 100), { mode: 'append', partitionBy: ['grp'] });
    await writeSql(engine, table, ROWS(100, 200), { mode: 'append' });
    const ok = async (args: string[]): Promise<string> => {
      const r = await cli([...args, '--lake', lake]);
      assert.equal(r.code, 0, `ingot ${args.join(' ')}: ${r.err}`);
      return r.out;
    };
    const count = async (extra: string[] = []): Promise<number> =>
      Number((await ok(['sql', 'SELECT count(*) AS n FROM silver.t', '--format', 'csv', ...extra])).trim().split('\n')[1]);
    const beforeDelete = Date.now();
    await new Promise((r) => setTimeout(r, 20));
    assert.match(await ok(['delete', 'silver.t', '--where', 'id < 50']), /50 rows deleted, version 2/);
    assert.match(await ok(['update', 'silver.t', '--set', 'amount=0', '--set', "name='x'", '--where', 'grp = 1']), /30 rows updated, version 3/);
    assert.equal(await count(), 150);
    assert.equal(await count(['--version', 'silver.t=1']), 200);
    assert.equal(await count(['--timestamp', new Date(beforeDelete).toISOString()]), 200);
    assert.equal(await count(['--timestamp', `silver.t=${new Date().toISOString()}`]), 150);
    assert.match(await ok(['optimize', 'silver.t']), /version 4, \d+ files compacted into \d+/);
    assert.equal((await table.snapshot()).files.size, 5, 'one file per partition after optimize');
    const dry = await cli(['vacuum', 'silver.t', '--retain-hours', '0', '--dry-run', '--lake', lake]);
    assert.equal(dry.code, 1);
    assert.match(dry.err, /RETENTION_TOO_SHORT/);
    const listed = await cli(['vacuum', 'silver.t', '--retain-hours', '0', '--dry-run', '--force', '--lake', lake]);
    assert.equal(listed.code, 0, listed.err);
    assert.ok(listed.out.split('\n').filter(Boolean).length >= 10, 'the removed files are listed');
    assert.match(await ok(['restore', 'silver.t', '--version', '1']), /restored as version 5/);
    assert.equal(await count(), 200);
    const history = await ok(['history', 'silver.t', '--format', 'csv']);
    assert.deepEqual(history.trim().split('\n').slice(1).map((l) => l.split(',')[2]), ['RESTORE', 'OPTIMIZE', 'UPDATE', 'DELETE', 'WRITE', 'CREATE TABLE']);
  });
});

describe('schema evolution', () => {
  test('mergeSchema adds columns (old rows read NULL); omitted columns read NULL; type changes are refused; overwriteSchema replaces', async (t) => {
    const { table, model } = await fixture(t);
    await rejects(writeSql(engine, table, `SELECT 5000::BIGINT AS id, 0 AS grp, 'n' AS name, 1.0::DOUBLE AS amount, 'red' AS color`, { mode: 'append' }), 'SCHEMA_MISMATCH', /color \(string\) is not in the table schema; write with mergeSchema/);
    await writeSql(engine, table, `SELECT 5000::BIGINT AS id, 0 AS grp, 'n' AS name, 1.0::DOUBLE AS amount, 'red' AS color`, { mode: 'append', mergeSchema: true });
    await engine.query(`ALTER TABLE ${model} ADD COLUMN color VARCHAR`);
    await engine.query(`INSERT INTO ${model} VALUES (5000, 0, 'n', 1.0, 'red')`);
    assert.deepEqual((await table.snapshot()).schema.fields.map((f) => f.name), ['id', 'grp', 'name', 'amount', 'color']);
    await assertMatchesModel(table, model, 'after mergeSchema');
    // a partition whose files all predate the new column still reads it as NULL
    const old = await readWithIngot(engine, table, undefined, [{ column: 'grp', op: '=', value: 3 }]);
    assert.ok(old.rows.length === 200 && old.rows.every((r) => r['color'] === null));
    // a write may omit nullable columns
    await writeSql(engine, table, `SELECT 5001::BIGINT AS id, 1 AS grp, 2.0::DOUBLE AS amount`, { mode: 'append' });
    await engine.query(`INSERT INTO ${model} (id, grp, amount) VALUES (5001, 1, 2.0)`);
    await assertMatchesModel(table, model, 'after a write omitting columns');
    await rejects(writeSql(engine, table, `SELECT 5002::BIGINT AS id, 1 AS grp, 'x' AS amount`, { mode: 'append', mergeSchema: true }), 'SCHEMA_MISMATCH', /amount is double in the table but string in the write/);
    await writeSql(engine, table, `SELECT 'a' AS id, 2 AS grp`, { mode: 'overwrite', overwriteSchema: true, partitionBy: [] });
    const snap = await table.snapshot();
    assert.deepEqual(snap.schema.fields.map((f) => `${f.name}:${String(f.type)}`), ['id:string', 'grp:integer']);
    assert.deepEqual(readWithDeltaRs(table.location).rows, [{ id: 'a', grp: 2 }]);
  });
});
