/**
 * The MERGE key index (`src/operations/key-index.ts`): a table's key fingerprints per file, kept
 * per engine, pruning the target files a merge reads when min/max stats do not (random string
 * keys). Each scenario runs the same writes twice on real Delta tables written through DuckDB:
 * once with the index (one engine, successive merges) and once with it off
 * (`INGOT_MERGE_KEY_INDEX=0`, another engine); the tables must end with the same rows (and
 * delta-rs must read the indexed one alike), each merge must report the same row counts, and the
 * indexed merges after the first must have read fewer files (`numTargetFilesAfterSkipping`).
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { deleteRows } from '../src/operations/delete.js';
import { FingerprintTable, KEY_INDEX_ENV, KEY_INDEX_MAX_BYTES, keyIndexLimits, keyIndexSummary } from '../src/operations/key-index.js';
import { merge, type MergeOptions } from '../src/operations/merge.js';
import { optimize } from '../src/operations/optimize.js';
import { LocalStore } from '../src/storage/local.js';
import { DeltaTable } from '../src/table/table.js';
import { canonicalRows, readWithDeltaRs, readWithIngot, tempDir, writeSql } from './helpers.js';

/** One way of keying the table: its rows `from`..`to - 1` (SQL) and the merge condition. */
interface Keying {
  name: string;
  /** SELECT of rows i in [from, to): a key, v, grp ('a' | 'b') and i; every 37th row has a NULL (part of its) key. */
  rows: (from: number, to: number, v: string) => string;
  /** The same rows as merge source rows (keys perhaps of other types). */
  source: (from: number, to: number, v: string) => string;
  on: string;
  /** A predicate selecting row i (for deletes). */
  row: (i: number) => string;
}

const str = (i: string): string => `CASE WHEN ${i} % 37 = 0 THEN NULL ELSE md5(${i}::VARCHAR) END`;
const grp = (i: string): string => `CASE WHEN ${i} % 2 = 0 THEN 'a' ELSE 'b' END`;

const STRING_KEY: Keying = {
  name: 'a VARCHAR key',
  rows: (from, to, v) => `SELECT ${str('i')} AS k, '${v}' AS v, ${grp('i')} AS grp, i FROM range(${from}, ${to}) r(i)`,
  source: (from, to, v) => `SELECT ${str('i')} AS k, '${v}' AS v, ${grp('i')} AS grp, i FROM range(${from}, ${to}) r(i)`,
  on: 'target.k = source.k',
  row: (i) => `k = md5('${i}')`,
};

const COMPOSITE_KEY: Keying = {
  name: 'a composite key (VARCHAR, INTEGER) with NULL parts',
  rows: (from, to, v) => `SELECT md5((i // 3)::VARCHAR) AS k, CASE WHEN i % 37 = 0 THEN NULL ELSE (i % 3)::INTEGER END AS n, '${v}' AS v, ${grp('i')} AS grp, i FROM range(${from}, ${to}) r(i)`,
  source: (from, to, v) => `SELECT md5((i // 3)::VARCHAR) AS k, CASE WHEN i % 37 = 0 THEN NULL ELSE (i % 3)::INTEGER END AS n, '${v}' AS v, ${grp('i')} AS grp, i FROM range(${from}, ${to}) r(i)`,
  on: 'target.k = source.k AND source.n = target.n',
  row: (i) => `k = md5('${Math.floor(i / 3)}') AND n = ${i % 3}`,
};

// BIGINT ids in no order (min/max stats prune nothing); the source gives them as INTEGER
const scrambled = (i: string): string => `CASE WHEN ${i} % 37 = 0 THEN NULL ELSE (hash(${i}) % 1000000007) END`;
const INTEGER_INTO_BIGINT: Keying = {
  name: 'INTEGER source keys into a BIGINT key',
  rows: (from, to, v) => `SELECT ${scrambled('i')}::BIGINT AS id, '${v}' AS v, ${grp('i')} AS grp, i FROM range(${from}, ${to}) r(i)`,
  source: (from, to, v) => `SELECT ${scrambled('i')}::INTEGER AS id, '${v}' AS v, ${grp('i')} AS grp, i FROM range(${from}, ${to}) r(i)`,
  on: 'target.id = source.id',
  row: (i) => `id = (hash(${i}::BIGINT) % 1000000007)`,
};

// DECIMAL(12,2) keys in no order; the source gives them as DECIMAL(10,1) (hashed alike only once cast)
const tenths = (i: string): string => `CASE WHEN ${i} % 37 = 0 THEN NULL ELSE (hash(${i}) % 100000007) / 10 END`;
const DECIMAL_KEY: Keying = {
  name: 'DECIMAL(10,1) source keys into a DECIMAL(12,2) key',
  rows: (from, to, v) => `SELECT CAST(${tenths('i')} AS DECIMAL(12,2)) AS d, '${v}' AS v, ${grp('i')} AS grp, i FROM range(${from}, ${to}) r(i)`,
  source: (from, to, v) => `SELECT CAST(${tenths('i')} AS DECIMAL(10,1)) AS d, '${v}' AS v, ${grp('i')} AS grp, i FROM range(${from}, ${to}) r(i)`,
  on: 'target.d = source.d',
  row: (i) => `d = CAST((hash(${i}::BIGINT) % 100000007) / 10 AS DECIMAL(12,2))`,
};

/** What one run of a scenario gives: the final rows (sorted JSON) and each merge's metrics. */
interface Outcome {
  rows: string[];
  merges: Record<string, number>[];
  location: string;
  engine: DuckDBEngine;
}

const rowsOf = (rows: Record<string, unknown>[]): string[] => rows.map((r) => JSON.stringify(r)).sort();

/**
 * The writes of a scenario, in one engine: 12 appends of 50 rows (24 files, partitioned by grp),
 * then merges with, between them, an append by another writer, a delete of one row, a compaction
 * of partition 'a', and a merge deleting rows.
 */
async function scenario(dir: string, keying: Keying, dv: boolean, indexed: boolean): Promise<Outcome> {
  const engine = await DuckDBEngine.open();
  const location = path.join(dir, `${keying.name.replace(/\W+/g, '-')}-${dv ? 'dv' : 'cow'}-${indexed ? 'indexed' : 'plain'}`);
  const table = new DeltaTable(new LocalStore(location), engine);
  for (let j = 0; j < 12; j++) {
    await writeSql(engine, table, keying.rows(j * 50, j * 50 + 50, 'init'), { mode: 'append', partitionBy: ['grp'], ...(j === 0 && dv ? { configuration: { 'delta.enableDeletionVectors': 'true' } } : {}) });
  }
  const merges: Record<string, number>[] = [];
  const upsert = async (source: string, extra: Partial<MergeOptions> = {}): Promise<void> => {
    const saved = process.env[KEY_INDEX_ENV];
    process.env[KEY_INDEX_ENV] = indexed ? '1' : '0';
    try {
      const r = await merge(table, engine, { source, on: keying.on, whenMatched: [{ update: { v: 'source.v' } }], whenNotMatched: [{ insert: '*' }], ...extra });
      merges.push(r.metrics);
    } finally {
      if (saved === undefined) delete process.env[KEY_INDEX_ENV];
      else process.env[KEY_INDEX_ENV] = saved;
    }
  };
  const union = (...parts: string[]): string => parts.join(' UNION ALL ');
  // 1: updates of rows 100..129 (NULL keys among them never match: inserted), new rows 10000..10019
  await upsert(union(keying.source(100, 130, 'm1'), keying.source(10000, 10020, 'm1')));
  // another writer appends rows 20000..20049
  await writeSql(engine, table, keying.rows(20000, 20050, 'appended'), { mode: 'append' });
  // 2: the appended file's rows, rows 300..309, new rows
  await upsert(union(keying.source(20000, 20010, 'm2'), keying.source(300, 310, 'm2'), keying.source(11000, 11010, 'm2')));
  // row 401 deleted (with deletion vectors on, only marked deleted in its file): merged again, it is new
  await deleteRows(table, engine, { where: keying.row(401) });
  // 3: row 401 (inserted again), rows 500..504
  await upsert(union(keying.source(401, 402, 'm3'), keying.source(500, 505, 'm3')));
  // partition a compacted: its files removed, one added (deletion vectors purged)
  const compacted = await optimize(table, engine, { where: [{ column: 'grp', op: '=', value: 'a' }] });
  assert.ok(compacted.metrics['numFilesRemoved']! > 5, `${keying.name}: optimize removed files`);
  // 4: rows of both partitions, including row 401 and rows written by merges
  await upsert(union(keying.source(400, 402, 'm4'), keying.source(600, 620, 'm4'), keying.source(10000, 10005, 'm4')));
  // 5: a matched delete for rows 20000..20004, updates of rows 110..114
  await upsert(union(keying.source(20000, 20005, 'del'), keying.source(110, 115, 'm5')), {
    whenMatched: [{ delete: true, condition: `source.v = 'del'` }, { update: { v: 'source.v' } }],
  });
  const read = await readWithIngot(engine, table);
  return { rows: rowsOf(canonicalRows(read.schema, read.rows)), merges, location, engine };
}

/** The metrics that must not depend on which files were read. */
const COUNTS = ['numSourceRows', 'numTargetRowsMatched', 'numTargetRowsInserted', 'numTargetRowsUpdated', 'numTargetRowsDeleted', 'numTargetRowsCopied', 'numTargetFilesRemoved', 'numTargetFilesAdded', 'numTargetFilesBeforeSkipping'];

describe('merge key index', () => {
  let dir: string;
  let cleanup: () => void;
  const engines: DuckDBEngine[] = [];

  before(() => {
    ({ dir, cleanup } = tempDir('merge-key-index'));
  });
  after(async () => {
    for (const e of engines) await e.close();
    cleanup();
  });

  const cases: [Keying, boolean][] = [[STRING_KEY, true], [STRING_KEY, false], [COMPOSITE_KEY, true], [INTEGER_INTO_BIGINT, false], [DECIMAL_KEY, true]];
  for (const [keying, dv] of cases) {
    it(`merges as without it: ${keying.name}, deletion vectors ${dv ? 'on' : 'off'}`, async () => {
      const plain = await scenario(dir, keying, dv, false);
      const indexed = await scenario(dir, keying, dv, true);
      engines.push(plain.engine, indexed.engine);
      assert.deepEqual(indexed.rows, plain.rows, 'the same rows with and without the index');
      assert.ok(plain.rows.length > 600, 'the table holds its rows');
      for (const [i, m] of indexed.merges.entries()) {
        const expected = Object.fromEntries(COUNTS.map((c) => [c, plain.merges[i]![c]]));
        assert.deepEqual(Object.fromEntries(COUNTS.map((c) => [c, m[c]])), expected, `merge ${i + 1}: the same counts`);
        assert.equal(plain.merges[i]!['numTargetFilesAfterSkipping'], plain.merges[i]!['numTargetFilesBeforeSkipping'], `merge ${i + 1} without the index reads every file`);
      }
      // the first merge reads every file (no index built in a one-shot run); the later ones prune
      assert.equal(indexed.merges[0]!['numTargetFilesAfterSkipping'], indexed.merges[0]!['numTargetFilesBeforeSkipping']);
      for (const [i, m] of indexed.merges.slice(1).entries()) {
        assert.ok(m['numTargetFilesAfterSkipping']! * 2 < m['numTargetFilesBeforeSkipping']!, `merge ${i + 2} read ${m['numTargetFilesAfterSkipping']} of ${m['numTargetFilesBeforeSkipping']} files`);
      }
      assert.ok(indexed.merges[2]!['numTargetRowsInserted']! >= 1, 'the row only in a deleted row is inserted again');

      // the index is the table's live files, a few bytes per key
      const [summary] = keyIndexSummary(indexed.engine);
      assert.equal(summary?.location, indexed.location);
      // synchronised with the snapshot the last merge read: the version before its commit
      const latest = await new DeltaTable(new LocalStore(indexed.location)).snapshot();
      const read = await new DeltaTable(new LocalStore(indexed.location)).snapshot(latest.version - 1);
      assert.equal(summary!.files, read.files.size, 'the index holds the live files of the snapshot merged into');
      assert.ok(summary!.typedArrayBytes / summary!.entries <= 32 || summary!.typedArrayBytes <= 32 * 1024, `${summary!.typedArrayBytes} bytes for ${summary!.entries} entries`);
      assert.ok(summary!.entries > 600);
      assert.equal(keyIndexSummary(plain.engine).length, 0, 'no index without it');

      const theirs = readWithDeltaRs(indexed.location);
      const ours = await readWithIngot(indexed.engine, new DeltaTable(new LocalStore(indexed.location)));
      assert.deepEqual(rowsOf(canonicalRows(ours.schema, theirs.rows)), indexed.rows, 'delta-rs reads the same rows');
    });
  }

  it('keeps the indexes within the memory cap, dropping the least recently used', async () => {
    const engine = await DuckDBEngine.open();
    engines.push(engine);
    const saved = process.env[KEY_INDEX_ENV];
    delete process.env[KEY_INDEX_ENV];
    const tables = new Map<string, DeltaTable>();
    for (const name of ['a', 'b', 'c']) {
      const table = new DeltaTable(new LocalStore(path.join(dir, `cap-${name}`)), engine);
      for (let j = 0; j < 12; j++) await writeSql(engine, table, STRING_KEY.rows(j * 50, j * 50 + 50, 'init'), { mode: 'append', partitionBy: ['grp'] });
      tables.set(name, table);
    }
    let n = 0;
    /** Merges 10 updates into table `name`; returns the files it read and the files of the table. */
    const upsert = async (name: string): Promise<[number, number]> => {
      const from = 100 + 10 * (n++ % 40);
      const r = await merge(tables.get(name)!, engine, { source: STRING_KEY.source(from, from + 10, `u${n}`), on: STRING_KEY.on, whenMatched: [{ update: { v: 'source.v' } }] });
      const nulls = Array.from({ length: 10 }, (_, k) => from + k).filter((i) => i % 37 === 0).length;
      assert.equal(r.metrics['numTargetRowsUpdated'], 10 - nulls, 'every non-NULL key updated');
      return [r.metrics['numTargetFilesAfterSkipping']!, r.metrics['numTargetFilesBeforeSkipping']!];
    };
    const built = (): string[] => keyIndexSummary(engine).filter((s) => s.entries > 0).map((s) => path.basename(s.location)).sort();
    try {
      await upsert('a');
      const [read, files] = await upsert('a');
      assert.ok(read * 2 < files, `the second merge into a read ${read} of ${files} files`);
      assert.deepEqual(built(), ['cap-a']);
      keyIndexLimits.maxBytes = Math.floor(keyIndexSummary(engine)[0]!.bytes * 1.5);
      await upsert('b');
      await upsert('b');
      assert.deepEqual(built(), ['cap-b'], 'the index of a (least recently used) dropped for b');
      const [again, all] = await upsert('a');
      assert.equal(again, all, 'a merges without its dropped index');
      await upsert('a');
      assert.deepEqual(built(), ['cap-a'], 'then a builds it again, dropping b');
      // c alone would exceed the cap: no index for it, merges read every file
      keyIndexLimits.maxBytes = 1000;
      for (let i = 0; i < 3; i++) {
        const [r, f] = await upsert('c');
        assert.equal(r, f);
      }
      assert.ok(!built().includes('cap-c'));
    } finally {
      keyIndexLimits.maxBytes = KEY_INDEX_MAX_BYTES;
      if (saved !== undefined) process.env[KEY_INDEX_ENV] = saved;
    }
  });

  it('holds a key in a few tens of bytes at most, and finds every file holding it', () => {
    const index = new FingerprintTable();
    const files = 100;
    const perFile = 10_000;
    let seed = 12345;
    const random = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    const kept: [number, string][] = [];
    for (let f = 0; f < files; f++) {
      const fps = new Uint32Array(perFile);
      for (let i = 0; i < perFile; i++) fps[i] = random();
      index.add(`part-${f}.parquet`, fps);
      kept.push([fps[f]!, `part-${f}.parquet`]);
    }
    assert.equal(index.entries, files * perFile);
    const perEntry = index.typedArrayBytes / index.entries;
    assert.ok(perEntry <= 24, `${perEntry.toFixed(1)} bytes per entry`);
    for (const [fp, file] of kept) assert.ok(index.lookup([fp]).has(file), `${file} found by its fingerprint`);
    // files removed: lookups skip them; beyond half the entries dead, the slots are rebuilt smaller
    for (let f = 0; f < 60; f++) index.remove(`part-${f}.parquet`);
    assert.equal(index.entries, 40 * perFile);
    assert.ok(index.typedArrayBytes / index.entries <= 24, `${(index.typedArrayBytes / index.entries).toFixed(1)} bytes per entry after the rebuild`);
    for (const [fp, file] of kept) assert.equal(index.lookup([fp]).has(file), Number(/\d+/.exec(file)![0]) >= 60, file);
    // a file indexed again after its removal is found again
    index.add('part-0.parquet', [kept[0]![0]]);
    assert.ok(index.lookup([kept[0]![0]]).has('part-0.parquet'));
  });
});
