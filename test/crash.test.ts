/**
 * Crash safety: a writer process (test/workers/crash-writer.ts) appends, replaces and overwrites
 * batches in a loop and is killed with SIGKILL at random moments. After every kill the table must
 * open at the version before or after the interrupted commit, never a partial one; its rows must
 * be exactly the batches the log's commits record; every checkpoint must be complete; and the next
 * writer must commit. Delays come from a seeded generator (INGOT_CRASH_SEED) so a failure names
 * the seed and kill that reproduce it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { scanOf } from '../src/operations/scan.js';
import { LocalStore } from '../src/storage/local.js';
import { readCommit } from '../src/table/log.js';
import { Snapshot } from '../src/table/snapshot.js';
import { DeltaTable } from '../src/table/table.js';
import { vacuum } from '../src/operations/vacuum.js';
import { decodePath, encodePath } from '../src/table/write.js';
import { eachLine } from './fixtures.js';
import { readWithDeltaRs, readWithIngot, REPO_ROOT, tempDir, writeSql } from './helpers.js';
import { batchOptions, batchPlan, batchSql, type BatchPlan } from './workers/crash-writer.js';
import { seeded } from '../examples/seeded.js';

const WORKER = path.join(REPO_ROOT, 'test', 'workers', 'crash-writer.ts');
const KILLS = 60;
/** Longest wait after the writer is ready before killing it, in ms (a writer commits every ~20-60 ms). */
const MAX_DELAY_MS = 400;
/** Checkpoint often, so that kills also land while a checkpoint is written. */
const CHECKPOINT_INTERVAL = 3;
const SEED = Number(process.env['INGOT_CRASH_SEED'] ?? 20_240_611);

let engine: DuckDBEngine;
before(async () => {
  engine = await DuckDBEngine.open();
});
after(async () => {
  await engine.close();
});

const pad = (v: number): string => String(v).padStart(20, '0');

/** One row per live batch: the plan's batch, part and row count, and the i values it must hold. */
type BatchRow = { batch: number; part: number; n: number; distinct: number; lo: number; hi: number };

function expectedRow(p: BatchPlan): BatchRow {
  return { batch: p.batch, part: p.part, n: p.rows, distinct: p.rows, lo: 0, hi: p.rows - 1 };
}

/**
 * The batches the log's commits record, replayed by their write modes. `upTo(v)` reads only the
 * commits after the last version it replayed.
 */
function batchLog(store: LocalStore): { upTo: (latest: number) => Promise<BatchPlan[]> } {
  const live = new Map<number, BatchPlan>();
  let replayed = -1;
  return {
    async upTo(latest) {
      for (let v = replayed + 1; v <= latest; v++) {
        const info = (await readCommit(store, v)).find((a) => 'commitInfo' in a);
        const params = info && 'commitInfo' in info ? info.commitInfo.operationParameters : undefined;
        const plan = batchPlan(Number(params?.['batch']));
        assert.deepEqual({ batch: params?.['batch'], rows: params?.['rows'], part: params?.['part'], write: params?.['write'] }, plan, `commit ${v} records its batch plan`);
        if (plan.write === 'overwrite') live.clear();
        if (plan.write === 'replace') for (const [b, p] of live) if (p.part === plan.part) live.delete(b);
        live.set(plan.batch, plan);
        replayed = v;
      }
      return [...live.values()].sort((a, b) => a.batch - b.batch);
    },
  };
}

/** The batches of `rows` (from any reader) as BatchRow, sorted by batch. */
function batchesOf(rows: Record<string, unknown>[]): BatchRow[] {
  const by = new Map<number, { part: number; is: number[] }>();
  for (const r of rows) {
    const b = Number(r['batch']);
    const entry = by.get(b) ?? { part: Number(r['part']), is: [] };
    entry.is.push(Number(r['i']));
    by.set(b, entry);
  }
  return [...by.entries()].sort((a, b) => a[0] - b[0]).map(([batch, { part, is }]) => ({
    batch, part, n: is.length, distinct: new Set(is).size, lo: Math.min(...is), hi: Math.max(...is),
  }));
}

/** Every file under the table root outside `_delta_log`, relative and `/`-separated. */
async function dataFiles(location: string): Promise<string[]> {
  const entries = await fs.readdir(location, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(location, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .filter((p) => !p.startsWith('_delta_log/'));
}

test(`a writer killed with SIGKILL ${KILLS} times leaves the table at the old or the new version`, async (t) => {
  const { dir, cleanup } = tempDir('crash');
  t.after(cleanup);
  const location = path.join(dir, 'batches');
  const store = new LocalStore(location);
  const random = seeded(SEED);
  await writeSql(engine, new DeltaTable(store, engine), batchSql(batchPlan(0)), {
    ...batchOptions(batchPlan(0)), partitionBy: ['part'], configuration: { 'delta.checkpointInterval': String(CHECKPOINT_INTERVAL) },
  });
  let known = 0;
  const batches = batchLog(store);
  const checkedCheckpoints = new Set<string>();
  /** The JSON replay of the last checked checkpoint's version, to replay the next one from. */
  let replayed: Snapshot | undefined;
  const phases: Record<string, number> = {};
  const outcomes = { old: 0, new: 0 };
  let killedBeforeCheckpoint = 0;
  let writerCommits = 0;

  for (let kill = 1; kill <= KILLS; kill++) {
    const where = `kill ${kill} (INGOT_CRASH_SEED=${SEED})`;
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
      cwd: REPO_ROOT,
      env: { ...process.env, LOCATION: location, FIRST_BATCH: String(kill * 1000) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const ready = new Promise<void>((resolve) => {
      eachLine(child.stdout, (line) => {
        lines.push(line);
        if (line === 'ready') resolve();
      });
    });
    const closed = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
    await Promise.race([ready, closed]);
    await new Promise((r) => setTimeout(r, random() * MAX_DELAY_MS));
    child.kill('SIGKILL');
    const [code, signal] = await closed;
    assert.equal(signal, 'SIGKILL', `${where}: the writer exited by itself (code ${code}): ${stderr}`);

    // where the kill landed, and the version the table must be at
    for (const line of lines) {
      const done = /^done \d+ (\d+)$/.exec(line);
      if (done) {
        assert.equal(Number(done[1]), known + 1, `${where}: commits are consecutive`);
        known++;
        writerCommits++;
      }
    }
    const last = lines[lines.length - 1] ?? 'starting';
    const phase = last.split(' ')[0]!;
    phases[phase] = (phases[phase] ?? 0) + 1;

    const table = new DeltaTable(new LocalStore(location), engine);
    const snapshot = await table.snapshot();
    if (phase === 'commit') {
      assert.equal(Number(last.split(' ')[2]), known, `${where}: the interrupted commit read the latest version`);
      assert.ok(snapshot.version === known || snapshot.version === known + 1, `${where}: version ${snapshot.version}, expected ${known} or ${known + 1}`);
      outcomes[snapshot.version === known ? 'old' : 'new']++;
      if (snapshot.version === known + 1 && snapshot.version % CHECKPOINT_INTERVAL === 0) {
        const names = await fs.readdir(path.join(location, '_delta_log'));
        if (!names.includes(`${pad(snapshot.version)}.checkpoint.parquet`)) killedBeforeCheckpoint++;
      }
      known = snapshot.version;
    } else {
      assert.equal(snapshot.version, known, `${where} (${last}): no commit was in flight`);
    }

    // the rows are exactly the batches the log records
    const expected = (await batches.upTo(known)).map(expectedRow);
    await engine.attachTable('crash.batches', await scanOf(table, snapshot));
    const got = await engine.query('SELECT batch, part, i FROM crash.batches');
    assert.deepEqual(batchesOf(got), expected, `${where}: rows read by ingot`);
    assert.equal(snapshot.numRecords, expected.reduce((n, b) => n + b.n, 0), `${where}: file stats count the rows`);
    if (kill % 15 === 0) {
      const rs = readWithDeltaRs(location);
      assert.equal(rs.version, known, `${where}: delta-rs version`);
      assert.deepEqual(batchesOf(rs.rows), expected, `${where}: rows read by delta-rs`);
    }

    // every checkpoint is complete: it holds exactly the live files of its version
    const names = await fs.readdir(path.join(location, '_delta_log'));
    for (const name of names.filter((n) => /^\d{20}\.checkpoint\.parquet$/.test(n) && !checkedCheckpoints.has(n)).sort()) {
      const version = Number(name.slice(0, 20));
      const rows = await engine.readRows(path.join(location, '_delta_log', name));
      const adds = rows.flatMap((r) => (r['add'] ? [(r['add'] as { path: string }).path] : [])).sort();
      replayed = await Snapshot.load(store, { version, base: replayed });
      assert.deepEqual(adds, [...replayed.files.keys()].sort(), `${where}: checkpoint ${name} holds the files of version ${version}`);
      assert.ok(rows.some((r) => r['metaData']) && rows.some((r) => r['protocol']), `${where}: checkpoint ${name} has protocol and metaData`);
      checkedCheckpoints.add(name);
    }
    if (names.includes('_last_checkpoint')) {
      const pointer = JSON.parse(await fs.readFile(path.join(location, '_delta_log', '_last_checkpoint'), 'utf8')) as { version: number };
      assert.ok(names.includes(`${pad(pointer.version)}.checkpoint.parquet`), `${where}: _last_checkpoint points at checkpoint ${pointer.version}, which exists`);
    }

    // the next writer commits
    const next = batchPlan(kill * 1000 + 999);
    assert.equal(await writeSql(engine, new DeltaTable(new LocalStore(location), engine), batchSql(next), batchOptions(next)), known + 1, `${where}: the next writer commits`);
    known++;
  }

  // data files no version references: left by writers killed before their commit
  const referenced = new Set<string>();
  for (let v = 0; v <= known; v++) {
    for (const a of await readCommit(store, v)) if ('add' in a) referenced.add(decodePath(a.add.path, store.root));
  }
  const files = await dataFiles(location);
  const orphans = files.filter((f) => !referenced.has(f));
  let unreadable = 0;
  for (const f of orphans) {
    await engine.query(`SELECT count(*) FROM read_parquet('${path.join(location, f).replace(/'/g, "''")}')`).catch(() => unreadable++);
  }
  // temporary files of interrupted puts (hidden from listings) and of checkpoint writes
  const leftovers: Record<string, number> = {};
  for (const n of (await fs.readdir(path.join(location, '_delta_log'))).filter((name) => name.startsWith('.'))) {
    const kind = n.endsWith('.ndjson') ? 'checkpoint ndjson' : n.includes('.checkpoint.') ? 'checkpoint' : n.includes('_last_checkpoint') ? '_last_checkpoint' : 'commit';
    leftovers[kind] = (leftovers[kind] ?? 0) + 1;
  }
  const live = (await new DeltaTable(store, engine).snapshot()).files;
  assert.ok([...live.keys()].every((p) => files.includes(decodePath(p, store.root))), 'every live file exists');

  // vacuum (retention overridden to 0) deletes exactly the orphans; the table reads the same
  const rowsBefore = (await readWithIngot(engine, new DeltaTable(store, engine))).rows.length;
  const vacuumed = await vacuum(new DeltaTable(store, engine), { retentionHours: 0, enforceRetention: false });
  const removedByHistory = files.filter((f) => referenced.has(f) && !live.has(encodePath(f)));
  assert.deepEqual(new Set(vacuumed.files), new Set([...orphans, ...removedByHistory]), 'vacuum deletes the orphans and the files of removed versions, nothing else');
  assert.deepEqual((await dataFiles(location)).sort(), [...live.keys()].map((p) => decodePath(p, store.root)).sort(), 'after vacuum only live files remain');
  assert.equal((await readWithIngot(engine, new DeltaTable(store, engine))).rows.length, rowsBefore);

  t.diagnostic(`seed ${SEED}: ${KILLS} kills, last output before the kill: ${JSON.stringify(phases)}`);
  t.diagnostic(`kills during a commit: ${outcomes.old} left the old version, ${outcomes.new} the new one (${killedBeforeCheckpoint} of those before its checkpoint was written)`);
  t.diagnostic(`${writerCommits} commits by killed writers, ${known + 1} versions; ${checkedCheckpoints.size} checkpoints checked`);
  t.diagnostic(`${orphans.length} orphaned data files (${unreadable} of them partial Parquet) of ${files.length}; temporary files left in _delta_log: ${JSON.stringify(leftovers)}`);
  assert.ok(phases['commit'] !== undefined, 'some kills landed during a commit');
  assert.ok(phases['stage'] !== undefined, 'some kills landed while data files were written');
});
