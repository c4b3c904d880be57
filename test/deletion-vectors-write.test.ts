/**
 * Deletion vectors written by ingot (Delta protocol "Deletion Vectors", writer feature
 * `deletionVectors`): with `delta.enableDeletionVectors = true`, delete, update and merge mark
 * removed rows in `deletion_vector_<uuid>.bin` files instead of rewriting data files; optimize
 * purges them and vacuum deletes the DV files no version needs. Every version checked is read by
 * ingot, by delta-rs (python `deltalake`) and by Spark (delta-spark, one session for all), and the
 * commits are checked to hold DV descriptors and to leave untouched files alone.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { deleteRows } from '../src/operations/delete.js';
import { dropEnvironment, environmentLake, prepareEnvironment, promoteEnvironment } from '../src/operations/environment.js';
import { merge } from '../src/operations/merge.js';
import { optimize } from '../src/operations/optimize.js';
import { restore } from '../src/operations/restore.js';
import { updateRows } from '../src/operations/update.js';
import { vacuum } from '../src/operations/vacuum.js';
import { LocalStore } from '../src/storage/local.js';
import type { Action, Add } from '../src/table/actions.js';
import { decodeBitmapArray, deletionVectorKey, dvFromFile, encodeBitmapArray, readDeletionVectors } from '../src/table/deletion-vector.js';
import type { StructType } from '../src/table/schema.js';
import { Lake } from '../src/table/lake.js';
import { DeltaTable } from '../src/table/table.js';
import { canonicalRows, readWithDeltaRs, readWithIngot, readWithSpark, tempDir, writeSql, type SparkRead, type SparkReadError } from './helpers.js';

const PYTHON = process.env['INGOT_PYTHON'] ?? 'python3';
const DV_ON = { 'delta.enableDeletionVectors': 'true' };

/** A version of a table checked against the reference readers: its rows as ingot read them. */
interface Check { label: string; location: string; version: number; schema: StructType; rows: string[]; spark: boolean }

const rowsOf = (rows: Record<string, unknown>[]): string[] => rows.map((r) => JSON.stringify(r)).sort();

describe('deletion vectors on write', () => {
  let engine: DuckDBEngine;
  let dir: string;
  let cleanup: () => void;
  const checks: Check[] = [];

  before(async () => {
    engine = await DuckDBEngine.open();
    ({ dir, cleanup } = tempDir('dv-write'));
  });
  after(async () => {
    await engine.close();
    cleanup();
  });

  /** Reads `table` (latest) with ingot and delta-rs, asserts they agree, and keeps the version for Spark. */
  async function check(label: string, table: DeltaTable, spark = true): Promise<string[]> {
    const ours = await readWithIngot(engine, table);
    const rows = rowsOf(canonicalRows(ours.schema, ours.rows));
    const theirs = readWithDeltaRs(table.location);
    assert.equal(theirs.version, ours.version, label);
    assert.deepEqual(rowsOf(canonicalRows(ours.schema, theirs.rows)), rows, `${label}: delta-rs reads what ingot reads`);
    assert.equal((await table.snapshot()).numRecords, rows.length, `${label}: numRecords less DV cardinalities counts the live rows`);
    checks.push({ label, location: table.location, version: ours.version, schema: ours.schema, rows, spark });
    return rows;
  }

  /** The actions of commit `version` of the table at `location`. */
  async function commitOf(location: string, version: number): Promise<Action[]> {
    const text = await fs.readFile(path.join(location, '_delta_log', `${String(version).padStart(20, '0')}.json`), 'utf8');
    return text.trim().split('\n').map((l) => JSON.parse(l) as Action);
  }
  const adds = (actions: Action[]): Add[] => actions.flatMap((a) => ('add' in a ? [a.add] : []));
  const removes = (actions: Action[]): string[] => actions.flatMap((a) => ('remove' in a ? [a.remove.path] : []));
  const dataFiles = async (location: string): Promise<Map<string, number>> => {
    const out = new Map<string, number>();
    for (const f of await fs.readdir(location, { recursive: true })) {
      if (String(f).endsWith('.parquet') && !String(f).startsWith('_')) out.set(String(f), (await fs.stat(path.join(location, String(f)))).mtimeMs);
    }
    return out;
  };
  const dvFiles = async (location: string): Promise<string[]> => (await fs.readdir(location)).filter((f) => /^deletion_vector_.*\.bin$/.test(f)).sort();

  /** A table of three files (ids 0-99, 100-199, 200-299) with deletion vectors on. */
  async function threeFiles(name: string, extra: Record<string, string> = {}, partitionBy: string[] = []): Promise<DeltaTable> {
    const table = new DeltaTable(new LocalStore(path.join(dir, name)), engine);
    for (const from of [0, 100, 200]) {
      await writeSql(engine, table, `SELECT i::BIGINT AS id, 'new' AS status, (i % 3)::INTEGER AS grp, (i * 1.5)::DOUBLE AS amount FROM range(${from}, ${from + 100}) r(i)`,
        { mode: 'append', partitionBy, ...(from === 0 ? { configuration: { ...DV_ON, ...extra } } : {}) });
    }
    return table;
  }

  it('encodes bitmaps that decode to the same rows, in every container kind and across 2^32', () => {
    const cases = [[], [0], [3, 4, 7, 11, 18, 29], Array.from({ length: 5000 }, (_, i) => i * 2), Array.from({ length: 70000 }, (_, i) => i + 10), [1, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 5, 2 ** 40]];
    for (const rows of cases) assert.deepEqual(decodeBitmapArray(encodeBitmapArray(rows)), rows);
    assert.throws(() => encodeBitmapArray([3, 2]), /ascending/);
  });

  it('delete marks rows in deletion vectors, unions them with a file\'s old DV, and removes wholly deleted files', async () => {
    const table = await threeFiles('del');
    const location = table.location;
    const p = (await table.snapshot()).protocol;
    assert.equal(p.minReaderVersion, 3);
    assert.equal(p.minWriterVersion, 7);
    assert.ok(p.readerFeatures?.includes('deletionVectors') && p.writerFeatures?.includes('deletionVectors'), JSON.stringify(p));
    const before = await dataFiles(location);
    assert.equal(before.size, 3);
    const [third] = adds(await commitOf(location, 2));

    const r1 = await deleteRows(table, engine, { where: 'id % 10 = 3 AND id < 200' });
    assert.equal(r1.metrics['numDeletedRows'], 20);
    assert.equal(r1.metrics['numCopiedRows'], 0);
    const c1 = await commitOf(location, r1.version);
    const marked = adds(c1);
    assert.equal(marked.length, 2, 'the two touched files are re-added');
    assert.deepEqual(removes(c1).sort(), marked.map((a) => a.path).sort(), 'each is removed and re-added under the same path');
    assert.ok(!removes(c1).includes(third!.path), 'the untouched file is not in the commit');
    for (const a of marked) {
      assert.equal(a.deletionVector?.storageType, 'u');
      assert.equal(a.deletionVector?.cardinality, 10);
      const stats = JSON.parse(a.stats!) as { numRecords: number; tightBounds: boolean };
      assert.equal(stats.numRecords, 100, 'numRecords counts the physical rows');
      assert.equal(stats.tightBounds, false);
    }
    assert.deepEqual(await dataFiles(location), before, 'no data file was written or rewritten');
    assert.equal((await dvFiles(location)).length, 1, 'one DV file holds the commit\'s DVs');
    // the DV file as the protocol lays it out: version byte, size, bitmap, CRC; positions of ids 3, 13, ... 93 in the first file
    const dv = marked.find((a) => JSON.parse(a.stats!).minValues.id === 0)!.deletionVector!;
    const bytes = await fs.readFile(path.join(location, deletionVectorKey(dv, location)));
    assert.equal(bytes[0], 1);
    assert.deepEqual(decodeBitmapArray(dvFromFile(bytes, dv.offset!, dv.sizeInBytes)), [3, 13, 23, 33, 43, 53, 63, 73, 83, 93]);
    await check('delete: DVs on two files', table);

    // a second delete on a file with a DV: a new DV, the union of both
    const r2 = await deleteRows(table, engine, { where: 'id % 10 = 7 AND id < 100' });
    const [union] = adds(await commitOf(location, r2.version));
    assert.equal(union!.deletionVector?.cardinality, 20);
    const [rows] = await readDeletionVectors(table.store, [union!.deletionVector]);
    assert.deepEqual(rows, [3, 7, 13, 17, 23, 27, 33, 37, 43, 47, 53, 57, 63, 67, 73, 77, 83, 87, 93, 97]);
    const removed = (await commitOf(location, r2.version)).flatMap((a) => ('remove' in a ? [a.remove] : []));
    assert.deepEqual(removed[0]!.deletionVector, marked.find((a) => a.path === union!.path)!.deletionVector, 'the remove names the old DV');
    await check('delete: union with the old DV', table);

    // every live row of a file with a DV: the file goes, no DV is written
    const r3 = await deleteRows(table, engine, { where: 'id < 100' });
    assert.equal(r3.metrics['numDeletedRows'], 80);
    const c3 = await commitOf(location, r3.version);
    assert.equal(adds(c3).length, 0);
    assert.equal(removes(c3).length, 1);
    await check('delete: a whole file', table);
    assert.deepEqual(await dataFiles(location), before);
  });

  it('update writes only the updated rows and marks the old ones in DVs (partitioned table)', async () => {
    const table = await threeFiles('upd', {}, ['grp']);
    const location = table.location;
    const before = await dataFiles(location);
    const r = await updateRows(table, engine, { set: { status: "'paid'", amount: 'amount + 1' }, where: 'id % 7 = 0' });
    assert.equal(r.metrics['numUpdatedRows'], 43);
    assert.equal(r.metrics['numCopiedRows'], 0);
    const c = await commitOf(location, r.version);
    const marked = adds(c).filter((a) => a.deletionVector);
    const fresh = adds(c).filter((a) => !a.deletionVector);
    assert.equal(marked.length, 9, 'every file holds some updated row: each gains a DV');
    assert.equal(marked.reduce((n, a) => n + a.deletionVector!.cardinality, 0), 43);
    assert.equal(fresh.reduce((n, a) => n + (JSON.parse(a.stats!) as { numRecords: number }).numRecords, 0), 43, 'the new files hold the updated rows only');
    const after = await dataFiles(location);
    for (const [f, mtime] of before) assert.equal(after.get(f), mtime, `${f} is not rewritten`);
    const rows = await check('update: partitioned', table);
    assert.equal(rows.filter((j) => j.includes('"paid"')).length, 43);
    // moving rows to another partition
    await updateRows(table, engine, { set: { grp: '(grp + 1) % 3' }, where: 'id < 10' });
    await check('update: partition moves', table);
  });

  it('merge writes updated and inserted rows as new files and marks updated and deleted rows in DVs (checkpoints every 2 versions)', async () => {
    const table = await threeFiles('mrg', { 'delta.checkpointInterval': '2' });
    const location = table.location;
    const before = await dataFiles(location);
    const [third] = adds(await commitOf(location, 2));
    const source = `SELECT i::BIGINT AS id, CASE WHEN i % 4 = 0 THEN 'gone' ELSE 'shipped' END AS status, 9::INTEGER AS grp, 0.5::DOUBLE AS amount FROM range(150, 190) r(i)
      UNION ALL SELECT i::BIGINT, 'new', 1, 2.0 FROM range(1000, 1005) r(i)`;
    const r = await merge(table, engine, {
      source,
      on: 'target.id = source.id',
      whenMatched: [{ condition: "source.status = 'gone'", delete: true }, { update: { status: 'source.status', amount: 'target.amount + source.amount' } }],
      whenNotMatched: [{ insert: '*' }],
    });
    assert.equal(r.metrics['numTargetRowsUpdated'], 30);
    assert.equal(r.metrics['numTargetRowsDeleted'], 10);
    assert.equal(r.metrics['numTargetRowsInserted'], 5);
    assert.equal(r.metrics['numTargetRowsCopied'], 0);
    const c = await commitOf(location, r.version);
    const marked = adds(c).filter((a) => a.deletionVector);
    assert.equal(marked.length, 1);
    assert.equal(marked[0]!.deletionVector!.cardinality, 40);
    assert.ok(!removes(c).includes(third!.path) && removes(c).length === 1, 'only the file holding matches is in the commit');
    assert.equal(adds(c).filter((a) => !a.deletionVector).reduce((n, a) => n + (JSON.parse(a.stats!) as { numRecords: number }).numRecords, 0), 35);
    const after = await dataFiles(location);
    for (const [f, mtime] of before) assert.equal(after.get(f), mtime, `${f} is not rewritten`);
    await check('merge: update, delete, insert', table);
    // a second merge touching the same file and the third: the first DV grows, the third file gains one
    await merge(table, engine, {
      source: 'SELECT i::BIGINT AS id FROM range(140, 260, 3) r(i)',
      on: 'target.id = source.id',
      whenMatched: [{ delete: true }],
    });
    const snapshot = await table.snapshot();
    const cardinalities = [...snapshot.files.values()].filter((a) => a.deletionVector).map((a) => a.deletionVector!.cardinality).sort((a, b) => a - b);
    assert.deepEqual(cardinalities, [9, 20, 47], 'the updated rows\' new file 9, the third file 20, the first DV 40 + 7');
    assert.ok(existsSync(path.join(location, '_delta_log', `${String(snapshot.version).padStart(20, '0')}.checkpoint.parquet`)), 'the last version has a checkpoint, holding the DV descriptors');
    const reloaded = await new DeltaTable(new LocalStore(location), engine).snapshot();
    const dvsOf = (files: Iterable<Add>): string[] => [...files].map((a) => JSON.stringify(a.deletionVector ?? null)).sort();
    assert.deepEqual(dvsOf(reloaded.files.values()), dvsOf(snapshot.files.values()));
    await check('merge: DVs grow', table);
  });

  it('optimize purges DVs, vacuum deletes the DV files no version needs and keeps live ones; restore brings old DVs back', async () => {
    const table = await threeFiles('vac');
    const location = table.location;
    await deleteRows(table, engine, { where: 'id % 5 = 1' });
    await updateRows(table, engine, { set: { status: "'paid'" }, where: 'id % 5 = 2' });
    const live = await dvFiles(location);
    assert.equal(live.length, 2);
    // vacuum with no retention keeps the DV file live files name; the one only the removed logical files named goes
    const v1 = await vacuum(table, { retentionHours: 0, enforceRetention: false });
    const needed = new Set([...(await table.snapshot()).files.values()].flatMap((a) => (a.deletionVector ? [deletionVectorKey(a.deletionVector, location)] : [])));
    assert.equal(needed.size, 1);
    assert.deepEqual(await dvFiles(location), [...needed]);
    assert.deepEqual(v1.files.filter((f) => f.startsWith('deletion_vector_')), live.filter((f) => !needed.has(f)));
    const kept = await check('vacuum keeps live DV files', table, false);

    const o = await optimize(table, engine, { targetSize: 1 });
    assert.equal(o.metrics['numDeletionVectorsRemoved'], 3);
    const snapshot = await table.snapshot();
    assert.ok([...snapshot.files.values()].every((a) => !a.deletionVector), 'no live file has a DV after optimize');
    assert.deepEqual(await check('optimize purges DVs', table, false), kept);

    const v2 = await vacuum(table, { retentionHours: 0, enforceRetention: false });
    assert.deepEqual(await dvFiles(location), [], 'no DV file is left');
    assert.ok(v2.files.includes([...needed][0]!));
    assert.deepEqual(await check('vacuum after optimize', table), kept);

    // restore over DVs on another table: the file whose DV changed gets its old DV back
    const other = await threeFiles('restore');
    await deleteRows(other, engine, { where: 'id = 5' });
    const v = (await other.snapshot()).version;
    const rowsThen = rowsOf(canonicalRows((await other.snapshot()).schema, (await readWithIngot(engine, other)).rows));
    await deleteRows(other, engine, { where: 'id = 6' });
    await restore(other, { version: v });
    assert.deepEqual(await check('restore to a DV version', other), rowsThen);
  });

  it('an environment\'s delete writes its DV file beside its data in production\'s folder; promote and drop keep it', async () => {
    const root = path.join(dir, 'lake');
    const production = new Lake(root, engine);
    const table = production.table('silver.t');
    for (const from of [0, 100]) {
      await writeSql(engine, table, `SELECT i::BIGINT AS id, 'new' AS status FROM range(${from}, ${from + 100}) r(i)`, { mode: 'append', ...(from === 0 ? { configuration: DV_ON } : {}) });
    }
    const dev = await environmentLake(root, 'dev', engine);
    await prepareEnvironment(dev, ['silver.t']);
    await deleteRows(dev.table('silver.t'), engine, { where: 'id % 10 = 1' });
    const envDv = (await fs.readdir(path.join(table.location, '_env=dev'))).filter((f) => f.startsWith('deletion_vector_'));
    assert.equal(envDv.length, 1, 'the DV file lies in production\'s folder, under _env=dev/');
    assert.deepEqual(await dvFiles(table.location), [], 'none at production\'s root');
    const envRows = rowsOf(canonicalRows((await table.snapshot()).schema, (await readWithIngot(engine, dev.table('silver.t'))).rows));
    assert.equal(envRows.length, 180);
    await promoteEnvironment(root, 'dev', { parquet: engine });
    const dropped = await dropEnvironment(root, 'dev', engine);
    assert.ok(dropped.keptFiles.some((f) => f.endsWith(envDv[0]!)), 'drop keeps the DV file production now names');
    assert.deepEqual(await check('promoted from an environment', table), envRows);
  });

  it('with the change data feed on too, DV commits record their changes; delta-rs load_cdf reads them', async () => {
    const table = await threeFiles('cdf', { 'delta.enableChangeDataFeed': 'true' });
    const location = table.location;
    const p = (await table.snapshot()).protocol;
    assert.ok(p.writerFeatures?.includes('changeDataFeed') && p.writerFeatures.includes('deletionVectors'), JSON.stringify(p));
    await deleteRows(table, engine, { where: 'id IN (1, 2)' });
    await updateRows(table, engine, { set: { status: "'paid'" }, where: 'id = 3' });
    await merge(table, engine, {
      source: "SELECT * FROM (VALUES (4::BIGINT, 'shipped'), (5::BIGINT, 'gone'), (500::BIGINT, 'new')) s(id, status)",
      on: 'target.id = source.id',
      whenMatched: [{ condition: "source.status = 'gone'", delete: true }, { update: { status: 'source.status' } }],
      whenNotMatched: [{ insert: { id: 'source.id', status: 'source.status', grp: '0', amount: '0' } }],
    });
    for (const v of [3, 4, 5]) assert.ok(adds(await commitOf(location, v)).some((a) => a.deletionVector), `version ${v} marks rows in a DV`);
    await check('change data feed with DVs', table);
    const r = spawnSync(PYTHON, ['-c', `
import sys, json
from deltalake import DeltaTable
import pyarrow as pa
t = pa.table(DeltaTable(sys.argv[1]).load_cdf(starting_version=3, ending_version=5).read_all()).to_pylist()
print(json.dumps(sorted([[r['id'], r['status'], r['_change_type'], r['_commit_version']] for r in t])))
`, location], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), [
      [1, 'new', 'delete', 3], [2, 'new', 'delete', 3],
      [3, 'new', 'update_preimage', 4], [3, 'paid', 'update_postimage', 4],
      [4, 'new', 'update_preimage', 5], [4, 'shipped', 'update_postimage', 5],
      [5, 'new', 'delete', 5], [500, 'new', 'insert', 5],
    ]);
  });

  it('Spark reads every checked version as ingot and delta-rs do (one Spark session)', () => {
    const wanted = checks.filter((c) => c.spark);
    assert.ok(wanted.length >= 8, `${wanted.length} versions to check`);
    const reads = readWithSpark(wanted.map((c) => ({ path: c.location, version: c.version })));
    reads.forEach((read: SparkRead | SparkReadError, i) => {
      const c = wanted[i]!;
      assert.ok(!('error' in read), `${c.label}: Spark could not read version ${c.version}: ${'error' in read ? read.error : ''}`);
      const spark = read as SparkRead;
      assert.deepEqual(rowsOf(canonicalRows(c.schema, spark.rows)), c.rows, `${c.label}: Spark reads what ingot reads`);
      assert.equal(spark.count, c.rows.length, `${c.label}: Spark's count (from numRecords and DV cardinalities)`);
    });
    assert.ok(existsSync(wanted[0]!.location));
  });
});
