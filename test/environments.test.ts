/**
 * Environments (`--env`, `ingot promote`, `ingot env list | drop`) on the flights example: an
 * environment run of one day of a gold table leaves production's tables, versions and files as
 * they were and writes one day's file, inside production's table folder under `_env=<name>/`; the
 * environment's table is a shallow clone (its log names production's files by absolute path, no
 * data copied); a promote is one production commit naming the files the environment wrote by
 * relative path, read back alike by ingot, delta-rs (both readers) and Spark, also from a copy of
 * the lake elsewhere; a promote is refused when production moved, unless --force; vacuum of
 * production keeps what an environment references; drop deletes what production does not
 * reference and keeps what it took over, which production's vacuum deletes once it is unneeded.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { vacuum } from '../src/operations/vacuum.js';
import { shallowClone } from '../src/operations/clone.js';
import { deleteRows } from '../src/operations/delete.js';
import { updateRows } from '../src/operations/update.js';
import { promote } from '../src/operations/promote.js';
import { DeltaTable } from '../src/table/table.js';
import { ServedLake } from '../src/serve/served-lake.js';
import { LocalStore } from '../src/storage/local.js';
import { readCommit } from '../src/table/log.js';
import { Lake } from '../src/table/lake.js';
import { cli, flightsProject, tempDir } from './fixtures.js';
import { canonicalRows, readWithDeltaRs, readWithIngot, readWithSpark, writeSql } from './helpers.js';

const DAY1 = '2001-01-01';
const DAY2 = '2001-01-02';
const GOLD = 'gold.airport_daily';

async function ok(args: string[]): Promise<{ out: string; err: string }> {
  const r = await cli(args);
  assert.equal(r.code, 0, `ingot ${args.join(' ')}: ${r.err}`);
  return r;
}

/** Whether `rel` (a key under the lake or a table) lies in an environment's folder: `_envs/` or a table's `_env=<name>/`. */
function inEnvironment(rel: string): boolean {
  return rel.startsWith('_envs/') || rel.split('/').some((part) => part.startsWith('_env='));
}

/** Every file under `dir` (relative, `/`-separated) with its size and mtime, environments' files (`inEnvironment`) left out. */
async function files(dir: string, options: { envs?: boolean } = {}): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const full = path.join(e.parentPath, e.name);
    const rel = path.relative(dir, full).split(path.sep).join('/');
    if (!options.envs && inEnvironment(rel)) continue;
    const st = await fs.stat(full);
    out.set(rel, `${st.size}@${st.mtimeMs}`);
  }
  return out;
}

/** Every production table's version. */
async function versions(lake: string): Promise<Record<string, number>> {
  const l = new Lake(lake);
  const out: Record<string, number> = {};
  for (const name of await l.list({ internal: true })) out[name] = (await l.table(name).snapshot()).version;
  return out;
}

/** The JSON plan's steps of `args`: `date dataset` → [action, reason]. */
async function plan(dir: string, ...args: string[]): Promise<Record<string, [string, string]>> {
  const r = await ok(['plan', '-p', dir, '--format', 'json', ...args]);
  const parsed = JSON.parse(r.out) as { runs: { logicalDate?: string; steps: { dataset: string; action: string; reason: string }[] }[] };
  return Object.fromEntries(parsed.runs.flatMap((run) => run.steps.map((s) => [`${run.logicalDate} ${s.dataset}`, [s.action, s.reason]])));
}

describe('environments', () => {
  let dir: string;
  let lake: string;
  let cleanup: () => Promise<void>;
  let engine: DuckDBEngine;
  let production: Record<string, number>;

  before(async () => {
    ({ dir, cleanup } = await tempDir('environments'));
    await flightsProject(dir, [DAY1, DAY2]);
    lake = path.join(dir, 'lake');
    engine = await DuckDBEngine.open();
    await ok(['run', '-p', dir, '--from', DAY1, '--to', DAY2]);
    production = await versions(lake);
    // the change a developer tries in an environment: one more column
    const sql = path.join(dir, 'datasets', 'gold', 'airport_daily.sql');
    await fs.writeFile(sql, (await fs.readFile(sql, 'utf8')).replace('count(*) AS departures,', 'count(*) AS departures, max(delay_min) AS max_delay_min,'));
  });
  after(async () => {
    await engine?.close();
    await cleanup?.();
  });

  it('an environment run of one day of a gold table writes one day there and leaves production untouched', async () => {
    const before = await files(lake);
    await ok(['run', '-p', dir, '--env', 'dev', '--date', DAY2, '--select', GOLD]);
    assert.deepEqual(await versions(lake), production, 'every production table is at its version');
    assert.deepEqual(await files(lake), before, 'no production file was written, changed or deleted');

    // the environment's table: a clone at production's version, then one commit of one day's file,
    // written inside production's table folder (under _env=dev/, which production's log does not name)
    const envRoot = path.join(lake, '_envs', 'dev', 'gold', 'airport_daily');
    const prodRoot = path.join(lake, 'gold', 'airport_daily');
    assert.deepEqual([...(await files(envRoot, { envs: true })).keys()].filter((f) => !f.startsWith('_delta_log/')), [], 'the environment\'s folder holds its log only');
    const written = [...(await files(prodRoot, { envs: true })).keys()].filter((f) => inEnvironment(f));
    assert.deepEqual(written.map((f) => f.split('/').slice(0, 2).join('/')), [`_env=dev/flight_date=${DAY2}`], 'one data file, of the day run');
    const dayCommit = await readCommit(new LocalStore(envRoot), production[GOLD]! + 1);
    assert.deepEqual(dayCommit.flatMap((a) => ('add' in a ? [a.add.path] : [])), [`file://${prodRoot}/${written[0]}`], 'the environment\'s log names its file by absolute path');
    const clone = await readCommit(new LocalStore(envRoot), production[GOLD]!);
    const info = clone.find((a) => 'commitInfo' in a) as { commitInfo: { operation: string; operationParameters: Record<string, unknown> } };
    assert.equal(info.commitInfo.operation, 'CLONE');
    assert.equal(info.commitInfo.operationParameters['sourceVersion'], production[GOLD]);
    const adds = clone.flatMap((a) => ('add' in a ? [a.add.path] : []));
    assert.equal(adds.length, 2, 'the clone names production\'s two files');
    for (const p of adds) assert.match(p, new RegExp(`^file:///.*/lake/gold/airport_daily/flight_date=`), 'by absolute path into production');

    // ingot reads the environment: the new column for the day run, production's rows for the other
    const r = await ok(['sql', '-p', dir, '--env', 'dev', '--format', 'json', 'SELECT CAST(flight_date AS VARCHAR) AS d, count(*) AS n, count(max_delay_min) AS with_max FROM gold.airport_daily GROUP BY 1 ORDER BY 1']);
    const rows = JSON.parse(r.out) as { d: string; n: number; with_max: number }[];
    assert.deepEqual(rows.map((x) => [x.d, Number(x.with_max) === Number(x.n), Number(x.with_max) === 0]), [[DAY1, false, true], [DAY2, true, false]]);
    const tables = await ok(['tables', '-p', dir, '--env', 'dev', '--format', 'json']);
    const listed = Object.fromEntries((JSON.parse(tables.out) as { table: string; version: number }[]).map((t) => [t.table, t.version]));
    assert.deepEqual(listed, { ...Object.fromEntries(Object.entries(production).filter(([k]) => !k.startsWith('_'))), [GOLD]: production[GOLD]! + 1 });

    // the plan reads the state of selected datasets from the environment, production's elsewhere
    const inEnv = await plan(dir, '--env', 'dev', '--from', DAY1, '--to', DAY2, '--select', GOLD);
    assert.deepEqual(inEnv, { [`${DAY1} ${GOLD}`]: ['run', 'definition changed'], [`${DAY2} ${GOLD}`]: ['skip', 'up to date'] });
    const inProduction = await plan(dir, '--from', DAY1, '--to', DAY2, '--select', GOLD);
    assert.deepEqual(inProduction, { [`${DAY1} ${GOLD}`]: ['run', 'definition changed'], [`${DAY2} ${GOLD}`]: ['run', 'definition changed'] });
  });

  it('promote: one production commit naming the environment\'s files, read alike by ingot, delta-rs and Spark', async () => {
    const prodRoot = path.join(lake, 'gold', 'airport_daily');
    const parquetBefore = [...(await files(lake, { envs: true })).keys()].filter((f) => f.endsWith('.parquet') && !f.includes('_delta_log/'));
    const r = await ok(['promote', 'dev', '-p', dir]);
    assert.match(r.err, /promoted 1 of 1 tables of environment dev/);
    const after = await versions(lake);
    assert.deepEqual(after, { ...production, [GOLD]: production[GOLD]! + 1 }, 'one new version of the promoted table, the others as they were');
    const parquetAfter = [...(await files(lake, { envs: true })).keys()].filter((f) => f.endsWith('.parquet') && !f.includes('_delta_log/'));
    assert.deepEqual(parquetAfter, parquetBefore, 'no data file written, copied or moved');
    const commit = await readCommit(new LocalStore(prodRoot), production[GOLD]! + 1);
    const adds = commit.flatMap((a) => ('add' in a ? [a.add.path] : []));
    const removes = commit.flatMap((a) => ('remove' in a ? [a.remove.path] : []));
    assert.equal(adds.length, 1);
    assert.match(adds[0]!, /^_env=dev\/flight_date=2001-01-02\/[^/]+\.parquet$/, 'the environment\'s file, by path relative to production\'s root');
    assert.equal(removes.length, 1);
    assert.match(removes[0]!, /^flight_date=2001-01-02\//);
    const state = await new Lake(lake, engine).table(GOLD).snapshot();
    const named = [...state.files.values(), ...state.tombstones.values()].flatMap((f) => [f.path, ...(f.deletionVector && f.deletionVector.storageType === 'p' ? [f.deletionVector.pathOrInlineDv] : [])]);
    assert.ok(named.length >= 3);
    assert.deepEqual(named.filter((p) => p.startsWith('/') || /^[a-z][a-z0-9+.-]*:/i.test(p)), [], 'production\'s log names no file by absolute path');

    const table = new Lake(lake, engine).table(GOLD);
    const ours = await readWithIngot(engine, table);
    assert.equal(ours.version, production[GOLD]! + 1);
    assert.ok(ours.schema.fields.some((f) => f.name === 'max_delay_min'), 'the promoted schema');
    const envLake = new Lake(lake, engine, { environment: 'dev' });
    envLake.routeToEnvironment(GOLD);
    const envRows = await readWithIngot(engine, envLake.table(GOLD));
    assert.deepEqual(canonicalRows(ours.schema, envRows.rows), canonicalRows(ours.schema, ours.rows));
    const rs = readWithDeltaRs(prodRoot);
    assert.equal(rs.version, production[GOLD]! + 1);
    assert.deepEqual(canonicalRows(ours.schema, rs.rows), canonicalRows(ours.schema, ours.rows), 'delta-rs reads the rows ingot reads');
    // delta-rs's pyarrow reader (to_pyarrow_dataset, as to_pyarrow_table) joins every path to the table root
    const arrow = readWithDeltaRs(prodRoot, undefined, 'pyarrow');
    assert.equal(arrow.version, production[GOLD]! + 1);
    assert.deepEqual(canonicalRows(ours.schema, arrow.rows), canonicalRows(ours.schema, ours.rows), 'delta-rs\'s pyarrow reader reads the rows ingot reads');
    const spark = readWithSpark([{ path: prodRoot }])[0]!;
    assert.ok(!('error' in spark), `Spark could not read the promoted table: ${'error' in spark ? spark.error : ''}`);
    assert.equal(spark.version, production[GOLD]! + 1);
    assert.deepEqual(canonicalRows(ours.schema, spark.rows), canonicalRows(ours.schema, ours.rows), 'Spark reads the rows ingot reads');
    assert.ok(ours.rows.length > 400);
    // the serving reader (ingot serve, the PostgreSQL wire server) reads what ingot reads
    const served = await ServedLake.open(new Lake(lake, engine), { connections: 1, reservedConnections: 0, threads: 1 });
    try {
      assert.equal(await served.latest(GOLD), production[GOLD]! + 1);
      const q = await served.query('SELECT count(*) AS n, count(max_delay_min) AS with_max FROM gold.airport_daily');
      assert.deepEqual(q.rows.map((row) => [Number(row['n']), Number(row['with_max'])]), [[ours.rows.length, ours.rows.filter((x) => x['max_delay_min'] !== null).length]]);
    } finally {
      await served.close();
    }

    // production's plan now has the promoted day up to date (its interval state came along)
    const p = await plan(dir, '--from', DAY1, '--to', DAY2, '--select', GOLD);
    assert.deepEqual(p, { [`${DAY1} ${GOLD}`]: ['run', 'definition changed'], [`${DAY2} ${GOLD}`]: ['skip', 'up to date'] });
    production = after;
  });

  it('after a promote, a copy of the lake elsewhere reads production alike (its log names files by relative path)', async () => {
    const table = new Lake(lake, engine).table(GOLD);
    const ours = await readWithIngot(engine, table);
    const copy = path.join(dir, 'elsewhere', 'lake');
    await fs.cp(lake, copy, { recursive: true });
    // the original out of the way, so a reader that still named its files by absolute path would fail
    await fs.rename(lake, `${lake}.away`);
    try {
      const moved = await readWithIngot(engine, new Lake(copy, engine).table(GOLD));
      assert.equal(moved.version, ours.version);
      assert.deepEqual(canonicalRows(ours.schema, moved.rows), canonicalRows(ours.schema, ours.rows), 'ingot reads the copy');
      for (const reader of ['datafusion', 'pyarrow'] as const) {
        const rs = readWithDeltaRs(path.join(copy, 'gold', 'airport_daily'), undefined, reader);
        assert.equal(rs.version, ours.version);
        assert.deepEqual(canonicalRows(ours.schema, rs.rows), canonicalRows(ours.schema, ours.rows), `delta-rs (${reader}) reads the copy`);
      }
    } finally {
      await fs.rename(`${lake}.away`, lake);
      await fs.rm(path.join(dir, 'elsewhere'), { recursive: true, force: true });
    }
  });

  it('a promote is refused when production moved since the environment was made, and done with --force', async () => {
    await ok(['run', '-p', dir, '--env', 'dev2', '--date', DAY1, '--select', GOLD]);
    await ok(['run', '-p', dir, '--date', DAY1, '--select', GOLD]);
    const moved = await versions(lake);
    assert.equal(moved[GOLD], production[GOLD]! + 1);
    const list = JSON.parse((await ok(['env', 'list', '-p', dir, '--format', 'json'])).out) as { environment: string; table: string; cloned_from: number; production: number; moved: boolean }[];
    assert.deepEqual(list.filter((x) => x.environment === 'dev2').map((x) => [x.table, x.cloned_from, x.production, x.moved]), [[GOLD, production[GOLD], moved[GOLD], true]]);
    const refused = await cli(['promote', 'dev2', '-p', dir]);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /PRODUCTION_MOVED.*gold\.airport_daily \(version \d+ then, version \d+ now\); nothing was promoted/);
    assert.deepEqual(await versions(lake), moved, 'nothing committed');
    await ok(['promote', 'dev2', '-p', dir, '--force']);
    assert.equal((await versions(lake))[GOLD], moved[GOLD]! + 1);
    const rs = readWithDeltaRs(path.join(lake, 'gold', 'airport_daily'));
    assert.equal(rs.version, moved[GOLD]! + 1);
    assert.equal(rs.rows.length, (await readWithIngot(engine, new Lake(lake, engine).table(GOLD))).rows.length);
    const unknown = await cli(['promote', 'nosuch', '-p', dir]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /ENVIRONMENT_NOT_FOUND/);
    const bad = await cli(['run', '-p', dir, '--env', 'Bad Name', '--date', DAY1]);
    assert.match(bad.err, /CONFIG_INVALID.*environment name "Bad Name"/);
  });

  it('vacuum of production keeps the files an environment references', async () => {
    await ok(['run', '-p', dir, '--env', 'dev3', '--date', DAY1, '--select', 'silver.flights', '--rerun']);
    await ok(['run', '-p', dir, '--date', DAY2, '--select', 'silver.flights', '--rerun']);
    const silver = new Lake(lake, engine).table('silver.flights');
    const dryRun = await vacuum(silver, { retentionHours: 0, enforceRetention: false, dryRun: true });
    assert.equal(dryRun.files.filter((f) => !f.startsWith('_env=')).length, 1, 'without the environment, vacuum would delete the replaced day-2 file');
    assert.ok(dryRun.files.some((f) => f.startsWith(`_env=dev3/flight_date=${DAY1}/`)), 'and the file the environment wrote in production\'s folder');
    const r = await ok(['vacuum', 'silver.flights', '-p', dir, '--retain-hours', '0', '--force']);
    assert.match(r.err, /deleted 0 files/);
    const count = await ok(['sql', '-p', dir, '--env', 'dev3', '--format', 'json', 'SELECT count(*) AS n FROM silver.flights']);
    assert.equal(Number((JSON.parse(count.out) as { n: number }[])[0]!.n), 31678, 'the environment still reads production\'s day-2 file');
  });

  it('a promote of several tables records production\'s versions in the downstream interval states', async () => {
    await ok(['run', '-p', dir, '--env', 'dev4', '--from', DAY1, '--to', DAY2, '--select', 'silver.flights+', '--rerun']);
    const before = await versions(lake);
    const r = await ok(['promote', 'dev4', '-p', dir]);
    const order = r.out.split('\n').slice(2).map((l) => l.split(/\s+/)[0]);
    assert.ok(order.indexOf('silver.flights') < order.indexOf(GOLD) && order.indexOf('gold.route_monthly') < order.indexOf('gold.top5_monthly'), `upstream tables first: ${order.join(', ')}`);
    const after = await versions(lake);
    assert.equal(after['silver.flights'], before['silver.flights']! + 1, 'two environment commits of silver, one promote commit');
    // day 2 was computed from the environment's latest silver, production's now: up to date; day 1 from an
    // earlier environment version, which has no production twin: the plan looks at what the promote changed
    const p = await plan(dir, '--from', DAY1, '--to', DAY2, '--select', GOLD);
    assert.deepEqual(p, { [`${DAY1} ${GOLD}`]: ['run', `upstream changed: silver.flights ${before['silver.flights']} → ${after['silver.flights']} (1 commit)`], [`${DAY2} ${GOLD}`]: ['skip', 'up to date'] });
  });

  it('env drop deletes the files an environment wrote that production does not reference and keeps the ones it took over; production\'s vacuum deletes those once unneeded', async () => {
    const list = JSON.parse((await ok(['env', 'list', '-p', dir, '--format', 'json'])).out) as { environment: string; table: string }[];
    assert.deepEqual([...new Set(list.map((x) => x.environment))], ['dev', 'dev2', 'dev3', 'dev4']);
    const written = async (env: string): Promise<string[]> => [...(await files(lake, { envs: true })).keys()]
      .filter((f) => !f.startsWith('_envs/') && f.split('/')[2] === `_env=${env}`);
    // dev3 was never promoted: every file it wrote goes
    const dev3 = await written('dev3');
    assert.ok(dev3.length > 0 && dev3.every((f) => f.startsWith('silver/flights/_env=dev3/')), `dev3 wrote into production's silver folder: ${dev3.join(', ')}`);
    const dropped = await ok(['env', 'drop', 'dev3', '-p', dir]);
    assert.match(dropped.err, /dropped environment dev3: 2 tables, \d+ files deleted$/);
    assert.deepEqual([...(await files(path.join(lake, '_envs', 'dev3'), { envs: true })).keys()], [], 'nothing of dev3 is left in its folder');
    assert.deepEqual(await written('dev3'), [], 'nor in production\'s folders');
    // dev's one file was promoted (and later replaced by dev4's promote: a tombstone production keeps for time travel)
    const dev = await written('dev');
    assert.equal(dev.length, 1);
    const kept = await ok(['env', 'drop', 'dev', '-p', dir]);
    assert.match(kept.err, /1 data files kept because production or another environment references them/);
    assert.deepEqual(await written('dev'), dev, 'the file production names is kept');
    await ok(['env', 'drop', 'dev2', '-p', dir]);
    await ok(['env', 'drop', 'dev4', '-p', dir]);
    assert.equal((await ok(['env', 'list', '-p', dir])).out, 'no environments');
    // production still reads every file it names
    const table = new Lake(lake, engine).table(GOLD);
    const schema = (await table.snapshot()).schema;
    const ours = canonicalRows(schema, (await readWithIngot(engine, table)).rows);
    assert.deepEqual(canonicalRows(schema, readWithDeltaRs(path.join(lake, 'gold', 'airport_daily')).rows), ours);
    // the files are production's now: its vacuum deletes the ones no version within the retention needs
    const live = new Set([...(await table.snapshot()).files.values()].map((f) => decodeURIComponent(f.path)));
    assert.ok(!live.has(dev[0]!.slice('gold/airport_daily/'.length)), 'dev\'s file was replaced by dev4\'s promote');
    const v = await ok(['vacuum', GOLD, '-p', dir, '--retain-hours', '0', '--force']);
    assert.ok(v.out.split('\n').includes(dev[0]!.slice('gold/airport_daily/'.length)), `vacuum deleted dev's replaced file: ${v.out}`);
    assert.deepEqual(await written('dev'), []);
    assert.ok((await written('dev4')).length > 0, 'the promoted files production names stay');
    assert.deepEqual(canonicalRows(schema, readWithDeltaRs(path.join(lake, 'gold', 'airport_daily'), undefined, 'pyarrow').rows), ours);
  });

  it('a dataset new in the environment is created there, and in production by the promote', async () => {
    await fs.writeFile(path.join(dir, 'datasets', 'gold', 'busiest.sql'), '-- materialization: overwrite\nSELECT airport, sum(departures) AS departures FROM gold.airport_daily GROUP BY airport ORDER BY departures DESC LIMIT 3\n');
    const before = await versions(lake);
    await ok(['run', '-p', dir, '--env', 'dev5', '--select', 'gold.busiest']);
    assert.deepEqual(await versions(lake), before, 'production has no gold.busiest yet');
    const list = JSON.parse((await ok(['env', 'list', '-p', dir, '--format', 'json'])).out) as { table: string; version: number; cloned_from: number | null; production: number | null; moved: boolean }[];
    assert.deepEqual(list.map((x) => [x.table, x.version, x.cloned_from, x.production, x.moved]), [['gold.busiest', 0, null, null, false]]);
    await ok(['promote', 'dev5', '-p', dir]);
    const created = await readCommit(new LocalStore(path.join(lake, 'gold', 'busiest')), 0);
    const paths = created.flatMap((a) => ('add' in a ? [a.add.path] : []));
    assert.ok(paths.length > 0 && paths.every((p) => p.startsWith('_env=dev5/')), `production names the environment's files by relative path: ${paths.join(', ')}`);
    assert.equal(readWithDeltaRs(path.join(lake, 'gold', 'busiest'), undefined, 'pyarrow').rows.length, 3);
    const rs = readWithDeltaRs(path.join(lake, 'gold', 'busiest'));
    assert.equal(rs.version, 0);
    const ours = await readWithIngot(engine, new Lake(lake, engine).table('gold.busiest'));
    assert.equal(ours.rows.length, 3);
    assert.deepEqual(canonicalRows(ours.schema, rs.rows), canonicalRows(ours.schema, ours.rows));
    const again = await cli(['promote', 'dev5', '-p', dir]);
    assert.equal(again.code, 1, 'production now exists where the environment made the table: a second promote is refused');
    assert.match(again.err, /PRODUCTION_MOVED.*gold\.busiest \(no table then, version 0 now\)/);
  });
});

describe('shallow clone and promote (table operations)', () => {
  it('a clone shares the source\'s files and version numbers; updates and deletes on it never touch the source; a promote brings them back', async (t) => {
    const { dir, cleanup } = await tempDir('clone');
    const engine = await DuckDBEngine.open();
    t.after(async () => {
      await engine.close();
      await cleanup();
    });
    const source = new DeltaTable(new LocalStore(path.join(dir, 'src')), engine);
    for (const p of ['a', 'b', 'c']) await writeSql(engine, source, `SELECT '${p}' AS p, i AS id FROM range(10) t(i)`, { mode: 'append', partitionBy: ['p'] });
    const sourceFiles = await files(path.join(dir, 'src'));
    const clone = new DeltaTable(new LocalStore(path.join(dir, 'clone')), engine);
    const made = await shallowClone(source, clone, engine);
    assert.deepEqual([made.version, made.files], [2, 3]);
    assert.deepEqual([...(await files(path.join(dir, 'clone'))).keys()].filter((f) => !f.startsWith('_delta_log/')), [], 'no data file copied');
    assert.equal((await clone.snapshot()).version, 2, 'the clone starts at the source\'s version (a checkpoint there)');
    assert.deepEqual(readWithDeltaRs(clone.location).rows.length, 30, 'delta-rs reads the clone');
    await updateRows(clone, engine, { set: { id: 'id + 100' }, where: "p = 'a'" });
    await deleteRows(clone, engine, { where: "p = 'b' AND id < 5" });
    assert.deepEqual(await files(path.join(dir, 'src')), sourceFiles, 'the source\'s files as they were');
    assert.equal((await source.snapshot()).version, 2);
    assert.equal((await readWithIngot(engine, source)).rows.length, 30);
    const cloned = await readWithIngot(engine, clone);
    assert.equal(cloned.rows.length, 25);
    assert.equal(cloned.rows.filter((r) => r['p'] === 'a' && Number(r['id']) >= 100).length, 10);
    // vacuum of the clone lists only its own folder: the source's files are never candidates
    const v = await vacuum(clone, { retentionHours: 0, enforceRetention: false });
    assert.deepEqual(await files(path.join(dir, 'src')), sourceFiles);
    assert.ok(v.files.every((f) => !f.startsWith('..')));
    assert.equal((await readWithIngot(engine, clone)).rows.length, 25);
    const r = await promote(clone, source);
    assert.equal(r.version, 3);
    assert.deepEqual(canonicalRows(cloned.schema, (await readWithIngot(engine, source)).rows), canonicalRows(cloned.schema, cloned.rows));
    assert.deepEqual(canonicalRows(cloned.schema, readWithDeltaRs(source.location).rows), canonicalRows(cloned.schema, cloned.rows), 'delta-rs reads the promoted source');
    await assert.rejects(promote(clone, source), (err: unknown) => err instanceof Error && /PRODUCTION_MOVED|production moved/.test(`${(err as { code?: string }).code} ${err.message}`));
  });
});

