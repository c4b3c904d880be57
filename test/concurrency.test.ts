/**
 * Optimistic concurrency of ingot's Delta tables (PROTOCOL.md, "Optimistic Concurrency"):
 * many processes appending to one table, Delta's conflict rules between concurrent commits, and
 * checkpoints written by racing writers while readers load the table.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { IngotError } from '../src/errors.js';
import { LocalStore } from '../src/storage/local.js';
import type { CommitInfo } from '../src/table/actions.js';
import { writeCheckpoint } from '../src/table/checkpoint.js';
import type { Filter } from '../src/table/filter.js';
import { readCommit } from '../src/table/log.js';
import { DeltaTable } from '../src/table/table.js';
import { canonicalRows, prepareSql, readWithDeltaRs, readWithIngot, REPO_ROOT, scratch, writeSql } from './helpers.js';
import { batchRows } from './workers/append.js';

const execFileAsync = promisify(execFile);
const APPEND_WORKER = path.join(REPO_ROOT, 'test', 'workers', 'append.ts');

let engine: DuckDBEngine;
before(async () => {
  engine = await DuckDBEngine.open();
});
after(async () => {
  await engine.close();
});

/** A table that reads and writes checkpoints through `parquet` (the shared engine by default). */
function table(location: string, parquet: DuckDBEngine = engine): DeltaTable {
  return new DeltaTable(new LocalStore(location), parquet);
}

/** Rows as sorted JSON strings, for order-free comparison. */
function sorted(rows: Record<string, unknown>[]): string[] {
  return rows.map((r) => JSON.stringify(r)).sort();
}

function isConflict(err: unknown): err is IngotError {
  return err instanceof IngotError && err.code === 'COMMIT_CONFLICT';
}

const north: Filter[] = [{ column: 'region', op: '=', value: 'north' }];

const REGION_ROWS = (first: number, region: string, n = 3): string =>
  `SELECT ${first} + range AS id, '${region}' AS region FROM range(${n})`;

/** Ids of the table's rows, ascending. */
async function ids(location: string): Promise<number[]> {
  return (await readWithIngot(engine, table(location))).rows.map((r) => Number(r['id'])).sort((a, b) => a - b);
}

const range = (first: number, n: number): number[] => Array.from({ length: n }, (_, i) => first + i);

describe('8 processes appending to one table', () => {
  test('25 appends each make 200 versions holding every batch exactly once, read by ingot and delta-rs', async (t) => {
    const location = path.join(scratch(t, 'append-procs'), 'events');
    // version 0 creates the (empty) table, so the workers only append
    await writeSql(engine, table(location), 'SELECT 0 AS worker, 0 AS seq, 0::INTEGER AS i WHERE false', { mode: 'append', partitionBy: ['worker'] });
    const workers = 8;
    const commits = 25;
    const startAt = Date.now() + 4000;
    const runs = await Promise.all(Array.from({ length: workers }, (_, w) =>
      execFileAsync(process.execPath, ['--import', 'tsx', APPEND_WORKER], {
        cwd: REPO_ROOT,
        // odd workers reopen the table for every append, loading checkpoints other writers write
        env: { ...process.env, LOCATION: location, WORKER: String(w), COMMITS: String(commits), START_AT: String(startAt), FRESH: w % 2 ? '1' : '0' },
      })));
    const results = runs.map((r) => {
      assert.doesNotMatch(r.stderr, /INGOT_CHECKPOINT|Error/, 'no writer failed to checkpoint');
      return JSON.parse(r.stdout) as { worker: number; versions: number[]; ms: number };
    });
    const total = workers * commits;
    const seconds = Math.max(...results.map((r) => r.ms)) / 1000;
    t.diagnostic(`${total} commits by ${workers} processes in ${seconds.toFixed(1)} s: ${(total / seconds).toFixed(1)} commits/s`);

    // every commit got its own version, and that version holds exactly that worker's batch
    assert.deepEqual(results.flatMap((r) => r.versions).sort((a, b) => a - b), range(1, total));
    const log = await fs.readdir(path.join(location, '_delta_log'));
    assert.deepEqual(log.filter((n) => n.endsWith('.json')).sort(), range(0, total + 1).map((v) => `${String(v).padStart(20, '0')}.json`));
    assert.deepEqual(log.filter((n) => n.endsWith('.checkpoint.parquet')).sort(), range(1, total / 10).map((k) => `${String(10 * k).padStart(20, '0')}.checkpoint.parquet`),
      'the writer of every 10th version checkpointed it');
    const store = new LocalStore(location);
    for (const r of results) {
      for (const [seq, version] of r.versions.entries()) {
        const actions = await readCommit(store, version);
        const info = actions.find((a): a is { commitInfo: CommitInfo } => 'commitInfo' in a)!.commitInfo;
        assert.deepEqual(info.operationParameters?.['worker'], r.worker);
        assert.deepEqual(info.operationParameters?.['seq'], seq);
        assert.equal(info.isBlindAppend, true);
        assert.equal(actions.filter((a) => 'add' in a).length, 1, `version ${version} adds one file`);
      }
    }

    const expected: Record<string, unknown>[] = [];
    for (let w = 0; w < workers; w++) for (let s = 0; s < commits; s++) for (let i = 0; i < batchRows(w, s); i++) expected.push({ worker: w, seq: s, i });
    const got = await readWithIngot(engine, table(location));
    assert.equal(got.version, total);
    assert.deepEqual(sorted(canonicalRows(got.schema, got.rows)), sorted(canonicalRows(got.schema, expected)));
    const rs = readWithDeltaRs(location);
    assert.equal(rs.version, total);
    assert.deepEqual(sorted(canonicalRows(got.schema, rs.rows)), sorted(canonicalRows(got.schema, expected)));

    // the checkpoint at 200 (written by whichever worker won version 200) equals the JSON replay
    const fromCheckpoint = await table(location).snapshot();
    const fromJson = await new DeltaTable(new LocalStore(location)).snapshot();
    assert.equal(fromJson.version, total);
    assert.deepEqual([...fromCheckpoint.files.keys()].sort(), [...fromJson.files.keys()].sort());
  });
});

describe('conflicts between concurrent commits', () => {

  for (const mode of ['overwrite', 'replace'] as const) {
    test(`${mode === 'overwrite' ? 'an' : 'a'} ${mode} whose partitions got a concurrent append fails with COMMIT_CONFLICT; a retry on the new snapshot commits`, async (t) => {
      const location = path.join(scratch(t, `${mode}-append`), 'sales');
      await writeSql(engine, table(location), `${REGION_ROWS(0, 'north')} UNION ALL ${REGION_ROWS(10, 'south')}`, { mode: 'append', partitionBy: ['region'] });
      const writer = table(location);
      const appender = table(location);
      const options = mode === 'replace' ? { mode, replaceWhere: north } : { mode };
      const staged = await prepareSql(engine, writer, REGION_ROWS(100, 'north'), options);
      const appended = await writeSql(engine, appender, REGION_ROWS(20, 'north', 2), { mode: 'append' });
      assert.equal(appended, 1);

      const err = await writer.commit(staged.commit).then(() => undefined, (e: unknown) => e);
      assert.ok(isConflict(err), `expected COMMIT_CONFLICT, got ${String(err)}`);
      assert.equal(err.context.version, 1);
      const added = (await readCommit(new LocalStore(location), 1)).flatMap((a) => ('add' in a ? [a.add.path] : []));
      assert.match(err.message, new RegExp(mode === 'replace' ? `added ${added[0]} in the partitions this commit replaces` : 'added files this overwrite would have replaced'));
      assert.deepEqual(await ids(location), [0, 1, 2, 10, 11, 12, 20, 21], 'the failed commit changed nothing');

      // what the runner does on COMMIT_CONFLICT: plan the same write again on the latest snapshot
      assert.equal(await writeSql(engine, writer, REGION_ROWS(100, 'north'), options), 2);
      assert.deepEqual(await ids(location), mode === 'replace' ? [10, 11, 12, 100, 101, 102] : [100, 101, 102]);
    });
  }

  test('a replace of one partition commits past a concurrent append to another partition', async (t) => {
    const location = path.join(scratch(t, 'replace-other'), 'sales');
    await writeSql(engine, table(location), `${REGION_ROWS(0, 'north')} UNION ALL ${REGION_ROWS(10, 'south')}`, { mode: 'append', partitionBy: ['region'] });
    const writer = table(location);
    const staged = await prepareSql(engine, writer, REGION_ROWS(100, 'north'), { mode: 'replace', replaceWhere: north });
    assert.equal(await writeSql(engine, table(location), REGION_ROWS(20, 'south', 2), { mode: 'append' }), 1);
    assert.equal(await writer.commit(staged.commit), 2);
    assert.deepEqual(await ids(location), [10, 11, 12, 20, 21, 100, 101, 102]);
  });

  test('a commit removing a file that a concurrent commit removed fails with COMMIT_CONFLICT', async (t) => {
    const location = path.join(scratch(t, 'remove-remove'), 'sales');
    await writeSql(engine, table(location), `${REGION_ROWS(0, 'north')} UNION ALL ${REGION_ROWS(10, 'south')}`, { mode: 'append', partitionBy: ['region'] });
    const northFile = [...(await table(location).snapshot()).scan(north)].map((a) => a.path);
    assert.equal(northFile.length, 1);
    // two deletes of the north partition (replaces with no rows: removes only, no adds)
    const a = table(location);
    const b = table(location);
    const empty = `${REGION_ROWS(0, 'north')} WHERE false`;
    const pa = await prepareSql(engine, a, empty, { mode: 'replace', replaceWhere: north });
    const pb = await prepareSql(engine, b, empty, { mode: 'replace', replaceWhere: north });
    for (const p of [pa, pb]) {
      assert.equal(p.commit.actions.filter((x) => 'add' in x).length, 0);
      assert.deepEqual(p.commit.actions.flatMap((x) => ('remove' in x ? [x.remove.path] : [])), northFile);
    }
    const results = await Promise.allSettled([a.commit(pa.commit), b.commit(pb.commit)]);
    assert.deepEqual(results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])), [1]);
    const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    assert.ok(isConflict(lost[0]), `expected COMMIT_CONFLICT, got ${String(lost[0])}`);
    assert.match(lost[0].message, new RegExp(`it removed ${northFile[0]}, which this commit removes too`));
    assert.deepEqual(await ids(location), [10, 11, 12]);
    assert.equal((await fs.readdir(path.join(location, '_delta_log'))).filter((n) => n.endsWith('.json')).length, 2, 'the loser wrote no commit');
  });

  test('four blind appends from the same read version all commit, at consecutive versions', async (t) => {
    const location = path.join(scratch(t, 'blind'), 'sales');
    await writeSql(engine, table(location), REGION_ROWS(0, 'north'), { mode: 'append', partitionBy: ['region'] });
    const writers = range(0, 4).map(() => table(location));
    const staged: Awaited<ReturnType<typeof prepareSql>>[] = [];
    for (const [i, w] of writers.entries()) staged.push(await prepareSql(engine, w, REGION_ROWS(100 * (i + 1), i % 2 ? 'north' : 'south', 2), { mode: 'append' }));
    const versions = await Promise.all(writers.map((w, i) => w.commit(staged[i]!.commit)));
    assert.deepEqual([...versions].sort(), [1, 2, 3, 4]);
    const store = new LocalStore(location);
    for (const v of versions) {
      const info = (await readCommit(store, v)).find((a): a is { commitInfo: CommitInfo } => 'commitInfo' in a)!.commitInfo;
      assert.equal(info.readVersion, 0);
      assert.equal(info.isBlindAppend, true);
    }
    assert.deepEqual(await ids(location), [0, 1, 2, 100, 101, 200, 201, 300, 301, 400, 401]);
  });
});

describe('checkpoints written by racing writers', () => {
  test('readers never fail or see wrong rows while several writers checkpoint the same and different versions', async (t) => {
    const location = path.join(scratch(t, 'checkpoint-race'), 'sales');
    const writerTable = table(location);
    for (let v = 0; v < 12; v++) {
      await writeSql(engine, writerTable, REGION_ROWS(10 * v, v % 3 ? 'north' : 'south'), v === 7
        ? { mode: 'replace', replaceWhere: north }
        : { mode: 'append', partitionBy: ['region'] });
    }
    const expected = await ids(location);
    const latest = (await writerTable.snapshot()).version;
    const engines = await Promise.all(range(0, 4).map(() => DuckDBEngine.open({ threads: 1 })));
    t.after(() => Promise.all(engines.map((e) => e.close())));
    const store = new LocalStore(location);
    const snapshots = await Promise.all([5, 10, 11].map((v) => writerTable.snapshot(v)));

    let writing = 3;
    const writers = engines.slice(0, 3).map(async (e, w) => {
      try {
        for (let round = 0; round < 8; round++) {
          // every writer checkpoints 11 and 10 (racing on the same names) and one of them 5
          await writeCheckpoint(store, snapshots[(w + round) % 3]!, e);
        }
      } finally {
        writing--;
      }
    });
    const reader = engines[3]!;
    let reads = 0;
    const readers = (async () => {
      while (writing > 0) {
        const got = await readWithIngot(reader, table(location, reader));
        assert.equal(got.version, latest);
        assert.deepEqual(got.rows.map((r) => Number(r['id'])).sort((a, b) => a - b), expected);
        const old = await table(location, reader).snapshot(6);
        assert.equal(old.version, 6);
        reads++;
      }
    })();
    await Promise.all([...writers, readers]);
    t.diagnostic(`${reads} reads during the checkpoint race`);
    assert.ok(reads > 0);

    const log = await fs.readdir(path.join(location, '_delta_log'));
    assert.deepEqual(log.filter((n) => n.includes('checkpoint')).sort(),
      ['00000000000000000005.checkpoint.parquet', '00000000000000000010.checkpoint.parquet', '00000000000000000011.checkpoint.parquet', '_last_checkpoint']);
    assert.deepEqual(log.filter((n) => n.startsWith('.')), [], 'no temporary file is left behind');
    const last = JSON.parse(await fs.readFile(path.join(location, '_delta_log', '_last_checkpoint'), 'utf8')) as { version: number };
    assert.ok(log.includes(`${String(last.version).padStart(20, '0')}.checkpoint.parquet`), '_last_checkpoint points at a checkpoint that exists');
    // without the JSON commits before them, the checkpoints alone rebuild the table for both readers
    for (let v = 0; v <= 10; v++) await fs.rm(path.join(location, '_delta_log', `${String(v).padStart(20, '0')}.json`));
    assert.deepEqual(await ids(location), expected);
    const rs = readWithDeltaRs(location);
    assert.equal(rs.version, latest);
    assert.deepEqual(rs.rows.map((r) => Number(r['id'])).sort((a, b) => a - b), expected);
  });
});
