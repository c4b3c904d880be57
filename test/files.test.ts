/**
 * Ingestion exactly once: Delta domain metadata (the table layer, read back by delta-rs and Spark,
 * and domains written by others), the files source tracking new and changed files (local and on
 * a moto S3 server), the archive source (a local HTTP server and file:// URLs), and runs killed
 * with SIGKILL between reading and committing.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import { createServer, type Server } from 'node:http';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { IngotError } from '../src/errors.js';
import { Lake } from '../src/table/lake.js';
import { loadProject } from '../src/project.js';
import type { DatasetResult, RunResult } from '../src/metadata/records.js';
import { Runner } from '../src/run/runner.js';
import { LocalStore } from '../src/storage/local.js';
import { S3Store, s3ClientFromEnv } from '../src/storage/s3.js';
import type { DomainMetadata } from '../src/table/actions.js';
import { writeCheckpoint } from '../src/table/checkpoint.js';
import { readCommit } from '../src/table/log.js';
import { restore } from '../src/operations/restore.js';
import { DeltaTable } from '../src/table/table.js';
import { planWrite, type DomainWrite } from '../src/table/write.js';
import { rebaseTracked, type TrackedFiles } from '../src/sources/file-list.js';
import { tempDir } from './fixtures.js';
import { canonicalRows, prepareSql, readWithDeltaRs, readWithIngot, readWithSpark, REPO_ROOT, writeSql } from './helpers.js';
import { motoEnvironment, type MotoEnvironment } from './moto.js';
import { attachTables } from '../src/operations/query.js';

const PYTHON = process.env['INGOT_PYTHON'] ?? 'python3';
const CORPUS = path.resolve(process.env['INGOT_CONFORMANCE_DIR'] ?? path.join(REPO_ROOT, '..', 'shared', 'conformance', 'delta'));
const DAY = '2024-03-01';

let engine: DuckDBEngine;
before(async () => {
  engine = await DuckDBEngine.open();
});
after(async () => {
  await engine.close();
});

const domain = (name: string, configuration: unknown, removed = false): DomainMetadata => ({ domain: name, configuration: JSON.stringify(configuration), removed });
const domainsOf = (m: ReadonlyMap<string, DomainMetadata>): Record<string, string> => Object.fromEntries([...m.values()].map((d) => [d.domain, d.configuration]));
const sorted = (rows: Record<string, unknown>[]): string[] => rows.map((r) => JSON.stringify(r)).sort();

describe('Delta domain metadata', () => {
  it('commits, replays, checkpoints and restores domains; delta-rs and Spark read the table as ingot does', async (t) => {
    const { dir, cleanup } = await tempDir('domains');
    t.after(cleanup);
    const location = path.join(dir, 't');
    const table = new DeltaTable(new LocalStore(location), engine);
    await writeSql(engine, table, 'SELECT range AS id, range * 2 AS v FROM range(5)', { mode: 'append', domainMetadata: [domain('app.a', { n: 1 })] });
    assert.deepEqual((await table.snapshot()).protocol, { minReaderVersion: 1, minWriterVersion: 7, writerFeatures: ['appendOnly', 'domainMetadata'] });
    const first = await readCommit(table.store, 0);
    assert.deepEqual(first.filter((a) => 'domainMetadata' in a), [{ domainMetadata: { domain: 'app.a', configuration: '{"n":1}', removed: false } }]);
    await writeSql(engine, table, 'SELECT range + 10 AS id, range AS v FROM range(3)', { mode: 'append' });
    assert.deepEqual(domainsOf((await table.snapshot()).domains), { 'app.a': '{"n":1}' }, 'a commit without domains keeps them');
    await writeSql(engine, table, 'SELECT 20::BIGINT AS id, 0::BIGINT AS v', { mode: 'append', domainMetadata: [domain('app.a', { n: 2 }), domain('app.b', ['x'])] });
    assert.deepEqual(domainsOf((await table.snapshot()).domains), { 'app.a': '{"n":2}', 'app.b': '["x"]' }, 'the latest action per domain wins');
    await writeSql(engine, table, 'SELECT 21::BIGINT AS id, 1::BIGINT AS v', { mode: 'append', domainMetadata: [domain('app.b', ['x'], true)] });
    const latest = await table.snapshot();
    assert.deepEqual(domainsOf(latest.domains), { 'app.a': '{"n":2}' }, 'a removed domain is gone');
    assert.deepEqual(domainsOf((await table.snapshot(2)).domains), { 'app.a': '{"n":2}', 'app.b': '["x"]' }, 'time travel sees the domains of its version');

    // a checkpoint holds the live domains: a reader starting from it alone finds them
    await writeCheckpoint(table.store, latest, engine);
    const py = spawnSync(PYTHON, ['-c', 'import sys, json, pyarrow.parquet as pq; print(json.dumps([r["domainMetadata"] for r in pq.read_table(sys.argv[1]).to_pylist() if r.get("domainMetadata")]))',
      path.join(location, '_delta_log', `${'3'.padStart(20, '0')}.checkpoint.parquet`)], { encoding: 'utf8' });
    assert.equal(py.status, 0, py.stderr);
    assert.deepEqual(JSON.parse(py.stdout), [{ domain: 'app.a', configuration: '{"n":2}', removed: false }], 'pyarrow reads the checkpoint\'s domainMetadata column');
    for (let v = 0; v <= 3; v++) await fs.rm(path.join(location, '_delta_log', `${String(v).padStart(20, '0')}.json`));
    const fresh = new DeltaTable(new LocalStore(location), engine);
    assert.deepEqual(domainsOf((await fresh.snapshot()).domains), { 'app.a': '{"n":2}' });
    const ours = await readWithIngot(engine, fresh);
    assert.equal(ours.rows.length, 10);
    const rs = readWithDeltaRs(location);
    assert.equal(rs.version, 3);
    assert.deepEqual(sorted(canonicalRows(ours.schema, rs.rows)), sorted(canonicalRows(ours.schema, ours.rows)), 'delta-rs reads the same rows');

    // the next commits and a restore: application domains go back with the rows
    await writeSql(engine, fresh, 'SELECT 30::BIGINT AS id, 3::BIGINT AS v', { mode: 'append', domainMetadata: [domain('app.c', 'c')] });
    const restored = await restore(fresh, { version: 3 });
    assert.ok(restored.committed);
    assert.deepEqual(domainsOf((await fresh.snapshot()).domains), { 'app.a': '{"n":2}' }, 'restore removes app.c');
    const spark = readWithSpark([{ path: location }])[0]!;
    assert.ok(!('error' in spark), `Spark could not read the table: ${'error' in spark ? spark.error : ''}`);
    assert.equal(spark.version, 5);
    assert.deepEqual(sorted(canonicalRows(ours.schema, spark.rows)), sorted(canonicalRows(ours.schema, (await readWithIngot(engine, fresh)).rows)), 'Spark reads the same rows');
    assert.equal(spark.rows.length, 10);
  });

  it('upgrades a writer-version-2 table, refuses delta.* domains, and makes commits of one domain conflict', async (t) => {
    const { dir, cleanup } = await tempDir('domains-upgrade');
    t.after(cleanup);
    const table = new DeltaTable(new LocalStore(path.join(dir, 't')), engine);
    await writeSql(engine, table, 'SELECT 1 AS id', { mode: 'append' });
    assert.deepEqual((await table.snapshot()).protocol, { minReaderVersion: 1, minWriterVersion: 2 });
    await writeSql(engine, table, 'SELECT 2 AS id', { mode: 'append', domainMetadata: [domain('app.x', 1)] });
    const commit = await readCommit(table.store, 1);
    assert.deepEqual(commit.filter((a) => 'protocol' in a), [{ protocol: { minReaderVersion: 1, minWriterVersion: 7, writerFeatures: ['appendOnly', 'domainMetadata'] } }]);
    assert.deepEqual(readWithDeltaRs(table.location).rows.map((r) => Number(r['id'])).sort(), [1, 2]);
    await assert.rejects(writeSql(engine, table, 'SELECT 3 AS id', { mode: 'append', domainMetadata: [domain('delta.rowTracking', {})] }), /delta\.rowTracking is system-controlled/);

    // two writers read version 1; both commit domain app.x: the second conflicts
    const a = await prepareSql(engine, table, 'SELECT 10 AS id', { mode: 'append', domainMetadata: [domain('app.x', 'a')] });
    const b = await prepareSql(engine, table, 'SELECT 11 AS id', { mode: 'append', domainMetadata: [domain('app.x', 'b')] });
    const c = await prepareSql(engine, table, 'SELECT 12 AS id', { mode: 'append', domainMetadata: [domain('app.y', 'c')] });
    assert.equal(await table.commit(a.commit), 2);
    await assert.rejects(table.commit(b.commit), (e: unknown) => e instanceof IngotError && e.code === 'COMMIT_CONFLICT' && /metadata domain app\.x/.test(e.message));
    assert.equal(await table.commit(c.commit), 3, 'another domain commits after it');
    assert.deepEqual(domainsOf((await table.snapshot()).domains), { 'app.x': '"a"', 'app.y': '"c"' });

    // with a rebase rule, the loser's change goes on top of the winner's, unless the rule refuses
    const v = (await table.snapshot()).version;
    const list = (s: string): DomainWrite => ({ domain: 'app.list', configuration: JSON.stringify([s]), removed: false, rebase: (theirs) => (theirs.includes(`"${s}"`) ? undefined : JSON.stringify([...(JSON.parse(theirs) as string[]), s])) });
    const d = await prepareSql(engine, table, 'SELECT 13 AS id', { mode: 'append', domainMetadata: [list('d')] });
    const e = await prepareSql(engine, table, 'SELECT 14 AS id', { mode: 'append', domainMetadata: [list('e')] });
    const e2 = await prepareSql(engine, table, 'SELECT 15 AS id', { mode: 'append', domainMetadata: [list('e')] });
    assert.equal(await table.commit(d.commit), v + 1);
    assert.equal(await table.commit(e.commit), v + 2, 'rebased onto d');
    assert.equal(domainsOf((await table.snapshot()).domains)['app.list'], '["d","e"]');
    await assert.rejects(table.commit(e2.commit), (err: unknown) => err instanceof IngotError && err.code === 'COMMIT_CONFLICT' && /same entries of metadata domain app\.list/.test(err.message));
    assert.deepEqual(readWithDeltaRs(table.location).rows.map((r) => Number(r['id'])).sort((x, y) => x - y), [1, 2, 10, 12, 13, 14]);
  });

  it('files source lists: a concurrent run\'s files are kept, loading the same file twice conflicts', () => {
    const base: TrackedFiles = { files: { 'a.csv': { size: 1, modified: 1 } } };
    const theirs: TrackedFiles = { files: { ...base.files, 'b.csv': { size: 2, modified: 2 } } };
    assert.deepEqual(JSON.parse(rebaseTracked(base, { 'c.csv': { size: 3, modified: 3 } }, theirs)!), { files: { ...theirs.files, 'c.csv': { size: 3, modified: 3 } } });
    assert.equal(rebaseTracked(base, { 'b.csv': { size: 2, modified: 2 } }, theirs), undefined, 'both loaded b.csv');
    assert.equal(rebaseTracked(base, { 'a.csv': { size: 5, modified: 5 } }, { files: { 'a.csv': { size: 4, modified: 4 } } }), undefined, 'both reloaded a changed a.csv');
  });

  it('reads domains other writers committed, and refuses to write tables with features it does not honour', async () => {
    // Databricks: domains only in a checkpoint (version 108)
    const dbx = new DeltaTable(new LocalStore(path.join(CORPUS, 'delta-rs', 'table-with-domain-metadata')), engine);
    const py = spawnSync(PYTHON, ['-c', 'import sys, json, pyarrow.parquet as pq; print(json.dumps({r["domainMetadata"]["domain"]: r["domainMetadata"]["configuration"] for r in pq.read_table(sys.argv[1]).to_pylist() if r.get("domainMetadata") and not r["domainMetadata"]["removed"]}))',
      path.join(dbx.location, '_delta_log', '00000000000000000108.checkpoint.parquet')], { encoding: 'utf8' });
    assert.equal(py.status, 0, py.stderr);
    const expected = JSON.parse(py.stdout) as Record<string, string>;
    assert.deepEqual(Object.keys(expected).sort(), ['com.databricks.liquid', 'delta.clustering', 'delta.rowTracking']);
    const snapshot = await dbx.snapshot();
    assert.deepEqual(domainsOf(snapshot.domains), expected);
    assert.throws(() => planWrite(snapshot, { mode: 'append', files: [], schema: snapshot.schema }, dbx.location),
      (e: unknown) => e instanceof IngotError && e.code === 'PROTOCOL_UNSUPPORTED' && /does not support yet: rowTracking, invariants, clustering$/.test(e.message));
    // delta-rs: domains in a JSON commit
    const liquid = path.join(CORPUS, 'delta-rs', 'table_with_liquid_clustering');
    const lines = (await fs.readFile(path.join(liquid, '_delta_log', '00000000000000000000.json'), 'utf8')).split('\n').filter((l) => l.startsWith('{"domainMetadata"'));
    const fromJson = Object.fromEntries(lines.map((l) => (JSON.parse(l) as { domainMetadata: DomainMetadata }).domainMetadata).map((d) => [d.domain, d.configuration]));
    assert.equal(Object.keys(fromJson).length, 2);
    assert.deepEqual(domainsOf((await new DeltaTable(new LocalStore(liquid), engine).snapshot()).domains), fromJson);
  });
});

// ---------------------------------------------------------------------------------------------
// the files source

/** Writes a project with the given dataset definitions (`name` → definition object) and a local lake. */
async function project(dir: string, datasets: Record<string, unknown>[]): Promise<string> {
  await fs.mkdir(path.join(dir, 'datasets', 'bronze'), { recursive: true });
  await fs.writeFile(path.join(dir, 'ingot.config.ts'), "export default { lake: './lake' };\n");
  for (const d of datasets) {
    await fs.writeFile(path.join(dir, 'datasets', 'bronze', `${String(d['name']).split('.')[1]}.ts`), `export default ${JSON.stringify(d, null, 2)};\n`);
  }
  return dir;
}

/** A CSV file's text: rows `id,v`. */
const csv = (rows: [number, string][]): string => `id,v\n${rows.map(([i, v]) => `${i},${v}`).join('\n')}\n`;
/** `n` rows for file `tag`, generation `gen`. */
const rowsFor = (tag: number, n: number, gen = 0): [number, string][] => Array.from({ length: n }, (_, i) => [tag * 1000 + i, `f${tag}-${i}-g${gen}`]);

/** Expected rows: `_source` → the `id|v` of each row, in any order. */
class Expected {
  readonly bySource = new Map<string, string[]>();
  add(source: string, rows: [number, string][]): void {
    this.bySource.set(source, [...(this.bySource.get(source) ?? []), ...rows.map(([i, v]) => `${i}|${v}`)]);
  }
  set(source: string, rows: [number, string][]): void {
    this.bySource.delete(source);
    this.add(source, rows);
  }
  get view(): Record<string, string[]> {
    return Object.fromEntries([...this.bySource.entries()].sort().map(([k, v]) => [k, [...v].sort()]));
  }
}

/** The rows of `table` grouped as `Expected.view`, and its latest snapshot. */
async function tableView(projectDir: string, table: string, where = 'true'): Promise<Record<string, string[]>> {
  const lake = new Lake(path.join(projectDir, 'lake'), engine);
  await attachTables(lake, engine, [table]);
  const rows = await engine.query(`SELECT _source, CAST(id AS VARCHAR) || '|' || v AS r FROM ${table} WHERE ${where}`);
  const out = new Map<string, string[]>();
  for (const r of rows) out.set(String(r['_source']), [...(out.get(String(r['_source'])) ?? []), String(r['r'])]);
  return Object.fromEntries([...out.entries()].sort().map(([k, v]) => [k, v.sort()]));
}

function datasetResult(run: RunResult, name: string): DatasetResult {
  assert.equal(run.status, 'success', `run ${run.runId} failed: ${run.error}`);
  return run.datasets.find((d) => d.dataset === name)!;
}

describe('files source: new and changed files, exactly once', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await tempDir('files-local')));
  after(() => cleanup());

  it('append: reads new and changed files only; an unchanged run loads nothing; a full refresh reloads all', async (t) => {
    const p = await project(path.join(dir, 'append'), [{ name: 'bronze.events', source: { kind: 'files', path: 'landing/events/*.csv', format: 'csv', columns: { id: 'INTEGER', v: 'VARCHAR' } }, materialization: 'append' }]);
    const landing = path.join(p, 'landing', 'events');
    await fs.mkdir(landing, { recursive: true });
    const name = (f: string): string => `landing/events/${f}`;
    const expected = new Expected();
    const put = async (f: string, rows: [number, string][], add = true): Promise<void> => {
      await fs.writeFile(path.join(landing, f), csv(rows));
      if (add) expected.add(name(f), rows);
    };
    await put('a.csv', rowsFor(1, 5));
    await put('b.csv', rowsFor(2, 7));
    await fs.writeFile(path.join(landing, '.c.csv.partial'), 'id,v\n1,hidden\n'); // hidden files are skipped
    const runner = await Runner.open(await loadProject(p));
    t.after(() => runner.close());
    const table = runner.lake.table('bronze.events');
    const run = async (date?: string): Promise<DatasetResult> => datasetResult(await runner.run(date), 'bronze.events');

    let r = await run(DAY);
    assert.deepEqual(r.inputs, [name('a.csv'), name('b.csv')]);
    assert.equal(r.rowsOut, 12);
    assert.deepEqual(await tableView(p, 'bronze.events'), expected.view);

    await put('c.csv', rowsFor(3, 3));
    r = await run(DAY);
    assert.deepEqual([r.inputs, r.rowsOut], [[name('c.csv')], 3], 'only the new file');
    assert.deepEqual(await tableView(p, 'bronze.events'), expected.view);

    const version = (await table.snapshot()).version;
    r = await run('2024-03-02');
    assert.deepEqual([r.inputs, r.rowsOut, r.version], [[], 0, undefined], 'nothing new: 0 rows, no commit');
    assert.equal((await table.snapshot()).version, version);

    // a changed file (new content and size) is read whole again; its earlier rows stay (append)
    await put('b.csv', rowsFor(2, 9, 1));
    r = await run(DAY);
    assert.deepEqual([r.inputs, r.rowsOut], [[name('b.csv')], 9]);
    // same size, later modification time: changed too
    const later = new Date(Date.now() + 5000);
    await fs.utimes(path.join(landing, 'c.csv'), later, later);
    expected.add(name('c.csv'), rowsFor(3, 3));
    r = await run(DAY);
    assert.deepEqual([r.inputs, r.rowsOut], [[name('c.csv')], 3]);
    assert.deepEqual(await tableView(p, 'bronze.events'), expected.view);

    // the list committed with the rows: every file with its size and modification time
    const tracked = async (): Promise<unknown> => JSON.parse((await table.snapshot()).domains.get('ingot.files')!.configuration);
    const stat = async (f: string): Promise<{ size: number; modified: number }> => {
      const st = await fs.stat(path.join(landing, f));
      return { size: st.size, modified: Math.floor(st.mtimeMs) };
    };
    assert.deepEqual(await tracked(), { files: { [name('a.csv')]: await stat('a.csv'), [name('b.csv')]: await stat('b.csv'), [name('c.csv')]: await stat('c.csv') } });
    assert.deepEqual((await table.snapshot()).protocol.writerFeatures, ['appendOnly', 'domainMetadata']);

    // a full refresh reads every file once and replaces the list
    await fs.rm(path.join(landing, 'a.csv'));
    r = await run(undefined);
    assert.deepEqual([r.inputs, r.rowsOut], [[name('b.csv'), name('c.csv')], 12]);
    const fresh = new Expected();
    fresh.add(name('b.csv'), rowsFor(2, 9, 1));
    fresh.add(name('c.csv'), rowsFor(3, 3));
    assert.deepEqual(await tableView(p, 'bronze.events'), fresh.view);
    assert.deepEqual(await tracked(), { files: { [name('b.csv')]: await stat('b.csv'), [name('c.csv')]: await stat('c.csv') } });
    assert.equal((await run(DAY)).rowsOut, 0, 'a dated run after the full refresh finds nothing new');

    // delta-rs reads the table (writer version 7, domainMetadata) as ingot does
    const ours = await readWithIngot(engine, new DeltaTable(new LocalStore(table.location), engine));
    const rs = readWithDeltaRs(table.location);
    assert.deepEqual(sorted(canonicalRows(ours.schema, rs.rows)), sorted(canonicalRows(ours.schema, ours.rows)));
  });

  it('replace partition: a day whose files did not change is skipped; a changed, added or removed file replaces the day', async (t) => {
    const p = await project(path.join(dir, 'replace'), [{
      name: 'bronze.daily', source: { kind: 'files', path: 'landing/daily/day={day}/*.csv', format: 'csv', columns: { id: 'INTEGER', v: 'VARCHAR' } },
      materialization: 'replace partition', partitionBy: ['day'],
    }]);
    const put = async (day: string, f: string, rows: [number, string][]): Promise<string> => {
      await fs.mkdir(path.join(p, 'landing', 'daily', `day=${day}`), { recursive: true });
      await fs.writeFile(path.join(p, 'landing', 'daily', `day=${day}`, f), csv(rows));
      return `landing/daily/day=${day}/${f}`;
    };
    const [d1, d2] = ['2024-03-01', '2024-03-02'];
    const day1 = new Expected();
    const day2 = new Expected();
    day1.add(await put(d1, 'x.csv', rowsFor(1, 4)), rowsFor(1, 4));
    day1.add(await put(d1, 'y.csv', rowsFor(2, 6)), rowsFor(2, 6));
    day2.add(await put(d2, 'z.csv', rowsFor(3, 5)), rowsFor(3, 5));
    const runner = await Runner.open(await loadProject(p));
    t.after(() => runner.close());
    const table = runner.lake.table('bronze.daily');
    const run = async (date: string): Promise<DatasetResult> => datasetResult(await runner.run(date), 'bronze.daily');
    const check = async (): Promise<void> => {
      assert.deepEqual(await tableView(p, 'bronze.daily', `day = DATE '${d1}'`), day1.view);
      assert.deepEqual(await tableView(p, 'bronze.daily', `day = DATE '${d2}'`), day2.view);
    };

    assert.equal((await run(d1)).rowsOut, 10);
    assert.deepEqual((await run(d2)).inputs, [`landing/daily/day=${d2}/z.csv`], 'the interval filter applies');
    await check();
    const version = (await table.snapshot()).version;
    assert.deepEqual([(await run(d1)).rowsOut, (await table.snapshot()).version], [0, version], 'unchanged day: skipped, no commit');

    day1.set(await put(d1, 'y.csv', rowsFor(2, 2, 1)), rowsFor(2, 2, 1));
    let r = await run(d1);
    assert.deepEqual([r.inputs.length, r.rowsOut], [2, 6], 'a changed file: the whole day is read again');
    await check();
    day1.add(await put(d1, 'w.csv', rowsFor(4, 3)), rowsFor(4, 3));
    assert.equal((await run(d1)).rowsOut, 9);
    await check();
    await fs.rm(path.join(p, 'landing', 'daily', `day=${d1}`, 'x.csv'));
    day1.bySource.delete(`landing/daily/day=${d1}/x.csv`);
    r = await run(d1);
    assert.deepEqual([r.inputs, r.rowsOut], [[`landing/daily/day=${d1}/w.csv`, `landing/daily/day=${d1}/y.csv`], 5], 'a vanished file: the day is replaced');
    await check();

    const missing = await runner.run('2024-03-05');
    assert.equal(missing.status, 'failed');
    assert.match(missing.error!, /no input files: nothing under .* matches landing\/daily\/day=2024-03-05\/\*\.csv \(day in \[2024-03-05, 2024-03-06\)\)/);
  });
});

describe('files source: symbolic links in landing folders (issue 19, item 9)', () => {
  it('follows links to files and date folders within the project; refuses links leading elsewhere, naming the link and echoing nothing of the target', async (t) => {
    const { dir, cleanup } = await tempDir('files-links');
    t.after(cleanup);
    const p = await project(path.join(dir, 'project'), [{
      name: 'bronze.daily', source: { kind: 'files', path: 'landing/daily/day={day}/*.csv', format: 'csv', columns: { id: 'INTEGER', v: 'VARCHAR' } },
      materialization: 'replace partition', partitionBy: ['day'],
    }]);
    const landing = path.join(p, 'landing', 'daily');
    const shared = path.join(p, 'shared');
    const outside = path.join(dir, 'outside');
    for (const d of [landing, path.join(shared, 'day1'), path.join(outside, 'day')]) await fs.mkdir(d, { recursive: true });
    // inside the project: a date folder and a file reached through links
    await fs.writeFile(path.join(shared, 'day1', 'x.csv'), csv(rowsFor(1, 3)));
    await fs.symlink(path.join(shared, 'day1'), path.join(landing, 'day=2024-03-01'));
    await fs.mkdir(path.join(landing, 'day=2024-03-02'));
    await fs.writeFile(path.join(shared, 'y.csv'), csv(rowsFor(2, 2)));
    await fs.symlink(path.join(shared, 'y.csv'), path.join(landing, 'day=2024-03-02', 'y.csv'));
    // outside the project: a file such as /etc/passwd (its first line a secret), and a date folder
    await fs.writeFile(path.join(outside, 'secret.csv'), 'root:x:0:0:SECRET-FIRST-LINE\n');
    await fs.writeFile(path.join(outside, 'day', 'z.csv'), csv(rowsFor(3, 2)));
    await fs.mkdir(path.join(landing, 'day=2024-03-03'));
    await fs.symlink(path.join(outside, 'secret.csv'), path.join(landing, 'day=2024-03-03', 'passwd.csv'));

    const runner = await Runner.open(await loadProject(p));
    t.after(() => runner.close());
    const r1 = datasetResult(await runner.run('2024-03-01'), 'bronze.daily');
    assert.deepEqual([r1.inputs, r1.rowsOut], [['landing/daily/day=2024-03-01/x.csv'], 3], 'a linked date folder within the project is read');
    const r2 = datasetResult(await runner.run('2024-03-02'), 'bronze.daily');
    assert.deepEqual([r2.inputs, r2.rowsOut], [['landing/daily/day=2024-03-02/y.csv'], 2], 'a linked file within the project is read');

    const refused = async (date: string, link: string): Promise<void> => {
      // refused while planning (the plan probes the source) or while running
      const error = await runner.run(date).then((run) => {
        assert.equal(run.status, 'failed', `${date}: the run fails`);
        return run.error ?? '';
      }, (err: unknown) => {
        assert.ok(err instanceof IngotError && err.code === 'INPUT_MALFORMED', String(err));
        return err.message;
      });
      assert.match(error, new RegExp(`${link.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is a symbolic link to a location outside the project folder`));
      assert.doesNotMatch(error, /SECRET|root:x/, 'the target\'s content is not echoed');
    };
    await refused('2024-03-03', 'landing/daily/day=2024-03-03/passwd.csv');
    await fs.symlink(path.join(outside, 'day'), path.join(landing, 'day=2024-03-04'));
    await refused('2024-03-04', 'landing/daily/day=2024-03-04');
    assert.deepEqual(await tableView(p, 'bronze.daily'), {
      'landing/daily/day=2024-03-01/x.csv': rowsFor(1, 3).map(([i, v]) => `${i}|${v}`).sort(),
      'landing/daily/day=2024-03-02/y.csv': rowsFor(2, 2).map(([i, v]) => `${i}|${v}`).sort(),
    }, 'nothing from outside the project was loaded');
  });
});

describe('files source: a run lists only the folders of its interval', () => {
  it('a link leading elsewhere in another day\'s folder neither fails nor is looked at by this day\'s run; that day\'s run refuses it', async (t) => {
    const { dir, cleanup } = await tempDir('files-interval-folders');
    t.after(cleanup);
    const p = await project(path.join(dir, 'project'), [{
      name: 'bronze.daily', source: { kind: 'files', path: 'landing/daily/day={day}/*.csv', format: 'csv', columns: { id: 'INTEGER', v: 'VARCHAR' } },
      materialization: 'replace partition', partitionBy: ['day'],
    }]);
    const landing = path.join(p, 'landing', 'daily');
    const outside = path.join(dir, 'outside', 'day');
    for (const d of [path.join(landing, 'day=2024-03-01'), outside]) await fs.mkdir(d, { recursive: true });
    await fs.writeFile(path.join(landing, 'day=2024-03-01', 'x.csv'), csv(rowsFor(1, 3)));
    await fs.writeFile(path.join(outside, 'z.csv'), csv(rowsFor(3, 2)));
    await fs.symlink(outside, path.join(landing, 'day=2024-03-02'));
    // a folder whose name is no date lies in no day's interval
    await fs.mkdir(path.join(landing, 'day=latest'));
    await fs.writeFile(path.join(landing, 'day=latest', 'y.csv'), csv(rowsFor(2, 2)));

    const runner = await Runner.open(await loadProject(p));
    t.after(() => runner.close());
    const r1 = await runner.run('2024-03-01');
    assert.equal(r1.status, 'success', r1.error);
    assert.deepEqual([datasetResult(r1, 'bronze.daily').inputs, datasetResult(r1, 'bronze.daily').rowsOut], [['landing/daily/day=2024-03-01/x.csv'], 3]);
    const r2 = await runner.run('2024-03-02').catch((err: unknown) => ({ status: 'failed', error: (err as Error).message }));
    assert.equal(r2.status, 'failed');
    assert.match(r2.error ?? '', /landing\/daily\/day=2024-03-02 is a symbolic link to a location outside the project folder/);
    assert.deepEqual(await tableView(p, 'bronze.daily'), { 'landing/daily/day=2024-03-01/x.csv': rowsFor(1, 3).map(([i, v]) => `${i}|${v}`).sort() });
  });
});

describe('files source on S3 (moto server)', () => {
  const BUCKET = 'ingot-files';
  let moto: MotoEnvironment | undefined;
  let dir: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    ({ dir, cleanup } = await tempDir('files-s3'));
    moto = await motoEnvironment({ INGOT_CACHE_DIR: path.join(dir, 'cache') });
    await (await s3ClientFromEnv()).send(new CreateBucketCommand({ Bucket: BUCKET }));
  });
  after(async () => {
    await moto?.stop();
    await cleanup?.();
  });

  it('lists by key, tracks size and ETag, and reads only new or changed objects', async (t) => {
    const store = new S3Store(`s3://${BUCKET}`);
    const p = await project(path.join(dir, 'p'), [
      { name: 'bronze.events', source: { kind: 'files', path: `s3://${BUCKET}/in/events/*.csv`, format: 'csv', columns: { id: 'INTEGER', v: 'VARCHAR' } }, materialization: 'append' },
      { name: 'bronze.daily', source: { kind: 'files', path: `s3://${BUCKET}/in/daily/day={day}/*.ndjson`, format: 'ndjson' }, materialization: 'append', partitionBy: ['day'] },
    ]);
    const expected = new Expected();
    const put = async (key: string, rows: [number, string][], add = true): Promise<string> => {
      await store.put(key, key.endsWith('.csv') ? csv(rows) : rows.map(([id, v]) => JSON.stringify({ id, v })).join('\n') + '\n');
      if (add && key.endsWith('.csv')) expected.add(`s3://${BUCKET}/${key}`, rows);
      return `s3://${BUCKET}/${key}`;
    };
    await put('in/events/a.csv', rowsFor(1, 4));
    await put('in/events/b.csv', rowsFor(2, 5));
    await put('in/events/sub/not-matched.csv', rowsFor(9, 1), false);
    const d1 = await put('in/daily/day=2024-03-01/x.ndjson', rowsFor(5, 3), false);
    const d2 = await put('in/daily/day=2024-03-02/y.ndjson', rowsFor(6, 2), false);
    const runner = await Runner.open(await loadProject(p));
    t.after(() => runner.close());
    const run = async (date: string): Promise<RunResult> => runner.run(date);

    let r = await run('2024-03-01');
    assert.deepEqual(datasetResult(r, 'bronze.events').inputs, [`s3://${BUCKET}/in/events/a.csv`, `s3://${BUCKET}/in/events/b.csv`]);
    assert.deepEqual(datasetResult(r, 'bronze.daily').inputs, [d1]);
    assert.deepEqual(await tableView(p, 'bronze.events'), expected.view);
    r = await run('2024-03-02');
    assert.deepEqual([datasetResult(r, 'bronze.events').rowsOut, datasetResult(r, 'bronze.daily').inputs], [0, [d2]]);

    await put('in/events/c.csv', rowsFor(3, 2));
    assert.deepEqual(datasetResult(await run('2024-03-02'), 'bronze.events').inputs, [`s3://${BUCKET}/in/events/c.csv`]);
    // the same bytes uploaded again: a new modification time, the same ETag: not read again
    await put('in/events/a.csv', rowsFor(1, 4), false);
    assert.equal(datasetResult(await run('2024-03-02'), 'bronze.events').rowsOut, 0);
    await put('in/events/a.csv', rowsFor(1, 4, 1));
    r = await run('2024-03-02');
    assert.deepEqual([datasetResult(r, 'bronze.events').inputs, datasetResult(r, 'bronze.events').rowsOut], [[`s3://${BUCKET}/in/events/a.csv`], 4]);
    assert.deepEqual(await tableView(p, 'bronze.events'), expected.view);

    const objects = await store.list('in/events', { recursive: true });
    const tracked = JSON.parse((await runner.lake.table('bronze.events').snapshot()).domains.get('ingot.files')!.configuration) as { files: Record<string, { size: number; etag: string }> };
    assert.deepEqual(tracked.files, Object.fromEntries(objects.filter((o) => !o.key.includes('/sub/')).map((o) => [`s3://${BUCKET}/${o.key}`, { size: o.size, etag: o.etag }])));
    await attachTables(runner.lake, engine, ['bronze.daily']);
    const daily = await engine.query('SELECT CAST(day AS VARCHAR) AS day, count(*) AS n FROM bronze.daily GROUP BY 1 ORDER BY 1');
    assert.deepEqual(daily.map((x) => [x['day'], Number(x['n'])]), [['2024-03-01', 3], ['2024-03-02', 2]]);

    const missing = await run('2024-03-09');
    assert.equal(missing.status, 'failed');
    assert.match(missing.error!, new RegExp(`no input files: nothing matches s3://${BUCKET}/in/daily/day=2024-03-09/\\*\\.ndjson`));
  });
});

// ---------------------------------------------------------------------------------------------
// the archive source

/** A zip holding `files` (name → text), written by Python's zipfile (an independent zip writer). */
function zipOf(files: Record<string, string>): Buffer {
  const r = spawnSync(PYTHON, ['-c', 'import sys, io, json, zipfile\nb = io.BytesIO()\nz = zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED)\nfor n, c in json.load(sys.stdin).items(): z.writestr(n, c)\nz.close()\nsys.stdout.buffer.write(b.getvalue())'],
    { input: JSON.stringify(files), maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.status, 0, r.stderr?.toString());
  return r.stdout;
}

describe('archive source', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let server: Server;
  let base: string;
  /** What the server answers per path; each request is counted. */
  const routes = new Map<string, { status: number; body: Buffer }[]>();
  const hits = new Map<string, number>();
  before(async () => {
    ({ dir, cleanup } = await tempDir('archive'));
    server = createServer((req, res) => {
      const url = req.url ?? '/';
      hits.set(url, (hits.get(url) ?? 0) + 1);
      const answers = routes.get(url);
      const answer = answers && answers.length > 1 ? answers.shift()! : answers?.[0];
      res.writeHead(answer?.status ?? 404, { 'content-type': 'application/zip' });
      res.end(answer?.body ?? 'not found');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(async () => {
    server.close();
    await cleanup();
  });

  it('downloads into the landing zone with its checksum, unzips the members, and does not load the same content twice', async (t) => {
    const plain = path.join(dir, 'incoming', 'prices.csv');
    await fs.mkdir(path.dirname(plain), { recursive: true });
    await fs.writeFile(plain, csv(rowsFor(7, 4)));
    const p = await project(path.join(dir, 'p'), [
      { name: 'bronze.sales', source: { kind: 'archive', url: `${base}/exports/sales.zip`, format: 'csv', member: 'data/*.csv', columns: { id: 'INTEGER', v: 'VARCHAR' } }, materialization: 'overwrite' },
      { name: 'bronze.prices', source: { kind: 'archive', url: pathToFileURL(plain).href, format: 'csv', landing: 'downloads' }, materialization: 'append' },
    ]);
    const v1 = zipOf({ 'data/jan.csv': csv(rowsFor(1, 3)), 'data/feb.csv': csv(rowsFor(2, 4)), 'README.txt': 'not data', 'data/sub/skip.csv': csv(rowsFor(9, 1)) });
    routes.set('/exports/sales.zip', [{ status: 200, body: v1 }]);
    const runner = await Runner.open(await loadProject(p));
    t.after(() => runner.close());
    const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    const member = (b: Buffer, m: string): string => `landing/bronze.sales/${sha(b)}/members/${m}`;

    let run = await runner.run(DAY);
    let sales = datasetResult(run, 'bronze.sales');
    assert.deepEqual([sales.inputs, sales.rowsOut], [[`${base}/exports/sales.zip`], 7]);
    const expected = new Expected();
    expected.add(member(v1, 'data/feb.csv'), rowsFor(2, 4));
    expected.add(member(v1, 'data/jan.csv'), rowsFor(1, 3));
    assert.deepEqual(await tableView(p, 'bronze.sales'), expected.view);
    assert.deepEqual(await fs.readFile(path.join(p, 'landing', 'bronze.sales', sha(v1), 'sales.zip')), v1, 'the archive is kept in the landing zone under its checksum');
    const loaded = (): Promise<Record<string, unknown>> => runner.lake.table('bronze.sales').snapshot().then((s) => JSON.parse(s.domains.get('ingot.archive')!.configuration) as Record<string, unknown>);
    assert.deepEqual(await loaded(), { url: `${base}/exports/sales.zip`, sha256: sha(v1), size: v1.length, members: ['data/feb.csv', 'data/jan.csv'] });
    const prices = datasetResult(run, 'bronze.prices');
    assert.equal(prices.rowsOut, 4);
    const plainBytes = await fs.readFile(plain);
    assert.deepEqual(Object.keys(await tableView(p, 'bronze.prices')), [`downloads/bronze.prices/${sha(plainBytes)}/members/prices.csv`], 'a file that is no zip is read as the one member');

    // the same content again: downloaded (and compared), nothing loaded, no commit
    const version = (await runner.lake.table('bronze.sales').snapshot()).version;
    run = await runner.run('2024-03-02');
    assert.deepEqual([datasetResult(run, 'bronze.sales').rowsOut, datasetResult(run, 'bronze.prices').rowsOut], [0, 0]);
    assert.equal((await runner.lake.table('bronze.sales').snapshot()).version, version);
    assert.equal(hits.get('/exports/sales.zip'), 2);

    // new content: loaded (overwrite: the table is the new archive's members exactly)
    const v2 = zipOf({ 'data/jan.csv': csv(rowsFor(1, 3)), 'data/feb.csv': csv(rowsFor(2, 4)), 'data/mar.csv': csv(rowsFor(3, 2, 1)) });
    routes.set('/exports/sales.zip', [{ status: 200, body: v2 }]);
    await fs.writeFile(plain, csv(rowsFor(8, 2)));
    run = await runner.run('2024-03-03');
    sales = datasetResult(run, 'bronze.sales');
    assert.equal(sales.rowsOut, 9);
    const again = new Expected();
    for (const [m, rows] of [['data/feb.csv', rowsFor(2, 4)], ['data/jan.csv', rowsFor(1, 3)], ['data/mar.csv', rowsFor(3, 2, 1)]] as const) again.add(member(v2, m), [...rows]);
    assert.deepEqual(await tableView(p, 'bronze.sales'), again.view);
    assert.equal((await loaded())['sha256'], sha(v2));
    assert.equal(datasetResult(run, 'bronze.prices').rowsOut, 2, 'the changed file:// content is appended');
    assert.equal(Object.values(await tableView(p, 'bronze.prices')).flat().length, 6);

    // a 503 is retried
    routes.set('/exports/sales.zip', [{ status: 503, body: Buffer.from('busy') }, { status: 200, body: v1 }]);
    hits.set('/exports/sales.zip', 0);
    run = await runner.run('2024-03-04');
    assert.equal(datasetResult(run, 'bronze.sales').rowsOut, 7);
    assert.equal(hits.get('/exports/sales.zip'), 2);
  });

  it('names the URL and status, the corrupt archive, or the members when nothing matches', async () => {
    routes.set('/bad.zip', [{ status: 200, body: Buffer.concat([Buffer.from('PK\u0003\u0004'), Buffer.alloc(200, 7)]) }]);
    routes.set('/ok.zip', [{ status: 200, body: zipOf({ 'a.csv': csv(rowsFor(1, 1)), 'b/c.json': '{}' }) }]);
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['missing', { url: `${base}/nope.zip` }, new RegExp(`${base}/nope\\.zip: download failed: HTTP 404`)],
      ['corrupt', { url: `${base}/bad.zip` }, new RegExp(`${base}/bad\\.zip \\(downloaded to landing/bronze\\.corrupt/[0-9a-f]{64}/bad\\.zip\\): not a valid zip archive`)],
      ['nomatch', { url: `${base}/ok.zip`, member: 'data/*.csv' }, /no member of .*ok\.zip matches data\/\*\.csv \(members: a\.csv, b\/c\.json\)/],
      ['nofile', { url: pathToFileURL(path.join(dir, 'absent.zip')).href }, /absent\.zip: no such file/],
    ];
    for (const [name, source, pattern] of cases) {
      const p = await project(path.join(dir, `err-${name}`), [{ name: `bronze.${name}`, source: { kind: 'archive', format: 'csv', ...source }, materialization: 'append' }]);
      const runner = await Runner.open(await loadProject(p));
      try {
        const r = await runner.run(DAY);
        assert.equal(r.status, 'failed', name);
        assert.match(r.error!, pattern, name);
        assert.equal(await runner.lake.table(`bronze.${name}`).exists(), false);
        const left = await fs.readdir(path.join(p, 'landing', `bronze.${name}`));
        // a valid archive stays in the landing zone; no temporary download or partial folder is left
        assert.deepEqual(left, name === 'nomatch' ? [createHash('sha256').update(routes.get('/ok.zip')![0]!.body).digest('hex')] : [], name);
      } finally {
        await runner.close();
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// killed runs

const KILLS = Number(process.env['INGOT_FILES_KILLS'] ?? 14);

describe('runs killed with SIGKILL', () => {
  it(`every file's rows land exactly once after ${KILLS} runs killed at random moments`, { timeout: 10 * 60_000 }, async (t) => {
    const { dir, cleanup } = await tempDir('files-kill');
    t.after(cleanup);
    const p = await project(dir, [{ name: 'bronze.events', source: { kind: 'files', path: 'landing/events/*.csv', format: 'csv', columns: { id: 'INTEGER', v: 'VARCHAR' } }, materialization: 'append' }]);
    const landing = path.join(p, 'landing', 'events');
    await fs.mkdir(landing, { recursive: true });
    const expected = new Expected();
    let next = 1;
    const addFiles = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++, next++) {
        const rows = rowsFor(next, 200);
        await fs.writeFile(path.join(landing, `f${String(next).padStart(4, '0')}.csv`), csv(rows));
        expected.add(`landing/events/f${String(next).padStart(4, '0')}.csv`, rows);
      }
    };
    const spawnRun = (): { child: ChildProcess; closed: Promise<[number | null, NodeJS.Signals | null]>; stderr: () => string } => {
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'src', 'cli', 'bin.ts'), 'run', '-p', p, '--date', DAY], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
      return { child, closed: once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>, stderr: () => err };
    };
    const table = new DeltaTable(new LocalStore(path.join(p, 'lake', 'bronze', 'events')), engine);
    const version = async (): Promise<number> => (await table.trySnapshot())?.version ?? -1;

    // one run to completion: how long a run takes
    await addFiles(3);
    const t0 = performance.now();
    const full = spawnRun();
    assert.deepEqual((await full.closed)[0], 0, full.stderr());
    const duration = performance.now() - t0;
    let seed = 20_240_301;
    const random = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const outcomes = { committed: 0, notCommitted: 0 };
    // runs slow down on a loaded machine: stretch the kill times until kills land after a commit
    // too, shrink them until some land before it
    let scale = 1;
    for (let kill = 1; kill <= KILLS; kill++) {
      await addFiles(2);
      const before = await version();
      const run = spawnRun();
      // spread over the run: early kills land before or while reading, late ones around the commit
      await new Promise((r) => setTimeout(r, duration * scale * (0.5 + 0.6 * random())));
      run.child.kill('SIGKILL');
      const [code, signal] = await run.closed;
      const after = await version();
      if (signal !== 'SIGKILL') assert.equal(code, 0, run.stderr());
      outcomes[after > before ? 'committed' : 'notCommitted']++;
      if (outcomes.committed === 0) scale *= 1.3;
      else if (outcomes.notCommitted === 0) scale *= 0.75;
      // the table holds every file exactly once or not at all: never a duplicate
      const view = await tableView(p, 'bronze.events');
      for (const [source, rows] of Object.entries(view)) assert.deepEqual(rows, expected.view[source], `kill ${kill}: ${source} once`);
    }
    const last = spawnRun();
    assert.deepEqual((await last.closed)[0], 0, last.stderr());
    assert.deepEqual(await tableView(p, 'bronze.events'), expected.view, 'after a last run every file is in the table exactly once');
    const files = JSON.parse((await table.snapshot()).domains.get('ingot.files')!.configuration) as { files: Record<string, unknown> };
    assert.deepEqual(Object.keys(files.files).sort(), Object.keys(expected.view));
    t.diagnostic(`run to completion: ${Math.round(duration)} ms; ${KILLS} kills: ${outcomes.committed} after the commit, ${outcomes.notCommitted} before it`);
    assert.ok(outcomes.committed > 0 && outcomes.notCommitted > 0, `kills landed on both sides of the commit: ${JSON.stringify(outcomes)}`);
  });
});
