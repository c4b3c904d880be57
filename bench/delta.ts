/**
 * The Delta section of `npm run bench`: ingot's table layer on large real data, side by side with
 * delta-rs (Python `deltalake`) where both can do the same thing.
 *
 * 1. snapshot load: a table of 10,000 small appends (checkpoints every 10 commits, as ingot
 *    writes them), loaded cold in fresh processes by ingot (`DeltaTable.snapshot()`) and delta-rs
 *    (`DeltaTable(path)`); the log is checked once to be readable by delta-rs;
 * 2. merge: a 30,000,000-row target (flights × 10, unique BIGINT `id`, 10 appends of 3M rows,
 *    unpartitioned) upserted with 1,000,000 source rows of which 10,000 match (every 3,000th key,
 *    so every target file holds matches): when matched update all, when not matched insert all.
 *    ingot and delta-rs each merge their own copy of the same target; both results must equal the
 *    expected table (row count and a hash over every column) before a ratio is reported;
 * 3. selective query: flights × 10 partitioned by month, written by 182 daily appends; one
 *    airport on one day: files kept by `Snapshot.scan` vs live files, the query's time through
 *    DuckDB with and without that pruning, and its result checked against the source Parquet.
 *
 * Generated tables are cached in bench/out/delta/ (delete the folder to rebuild). Writes
 * bench/out/delta.json; `bench/run.ts` folds it into results.md/json. Children (each measured
 * in its own process): `bench/delta.ts --child load|merge <dir> [source]`.
 */
import { promises as fs, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import type { Engine } from '../src/engine/engine.js';
import { scanOf } from '../src/operations/scan.js';
import { stageWrite } from '../src/operations/stage.js';
import { LocalStore } from '../src/storage/local.js';
import type { Action, Add } from '../src/table/actions.js';
import { writeCheckpoint } from '../src/table/checkpoint.js';
import type { Filter } from '../src/table/filter.js';
import { merge } from '../src/operations/merge.js';
import { writeCommit } from '../src/table/log.js';
import { Snapshot } from '../src/table/snapshot.js';
import { DeltaTable } from '../src/table/table.js';
import { VERSION } from '../src/version.js';
import { deltaRsMergeScript, lastJson, measure, median, pythonSnippet, round, type Measured } from './measure.js';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const OUT = path.join(BENCH, 'out');
const DATA = path.join(OUT, 'delta');
const SELF = fileURLToPath(import.meta.url);
const FLIGHTS = path.join(ROOT, 'node_modules', 'vega-datasets', 'data', 'flights-3m.parquet');
const PYTHON = process.env['INGOT_PYTHON'] ?? 'python3';
/** DuckDB settings of every engine here: the machine is shared. */
const ENGINE = { memoryLimit: '4GB', spillDirectory: path.join(DATA, 'spill') };
/** Bump to rebuild the cached tables when their definition changes. */
const BUILD = '1';

const LOG_TABLE = path.join(DATA, 'log-10k');
const COMMITS = 10_000;
const CHECKPOINT_EVERY = 10;
const MERGE_TARGET = path.join(DATA, 'merge-target');
const MERGE_SOURCE = path.join(DATA, 'merge-source.parquet');
const COPIES = 10;
const FLIGHT_ROWS = 3_000_000;
const MATCH_EVERY = 3_000;
const SOURCE_ROWS = 1_000_000;
const DAILY = path.join(DATA, 'daily-by-month');
const LOADS = 5;
const MERGES = 2;
const QUERIES = 5;
const TARGETS = { loadMs: 60, loadRatio: 0.5, warmMs: 5, prunedShare: 0.1, mergeRatio: 1 };

/** The selective query: one airport, one day, on the month partition. */
const QUERY = { month: '2001-03-01', from: '2001-03-15 00:00:00', to: '2001-03-16 00:00:00', origin: 'SEA' };
const QUERY_FILTERS: Filter[] = [
  { column: 'month', op: '=', value: QUERY.month },
  { column: 'date', op: '>=', value: QUERY.from },
  { column: 'date', op: '<', value: QUERY.to },
  { column: 'origin', op: '=', value: QUERY.origin },
];
const QUERY_WHERE = `month = DATE '${QUERY.month}' AND date >= TIMESTAMP '${QUERY.from}' AND date < TIMESTAMP '${QUERY.to}' AND origin = '${QUERY.origin}'`;
const QUERY_SELECT = 'count(*) AS flights, sum(delay) AS delay_sum, sum(distance) AS distance_sum, count(DISTINCT destination) AS destinations';

/** Row count and an order-independent hash over every column: equal tables give equal prints. */
const PRINT = `count(*) AS "rows", count(DISTINCT id) AS ids, sum(hash(id, date, delay, distance, origin, destination)) AS hash`;

export interface DeltaResults {
  snapshotLoad: {
    commits: number; checkpoints: number; liveFiles: number; deltaRsChecked: string;
    ingotMs: number[]; ingotMedianMs: number; ingotProcessS: number;
    /**
     * Median ms per step of ingot's load: listing the log (only when `_last_checkpoint` cannot be
     * used), reading files (summed over concurrent requests, so it can exceed their wall time), the
     * engine's checkpoint reader (only for a codec the in-process decoder lacks); the rest is decoding and replay.
     */
    ingotPhasesMs: Record<string, number>;
    deltaRsMs: number[]; deltaRsMedianMs: number; deltaRsProcessS: number;
    /** Reload after one new commit on top of the previous snapshot, ms (median of 5 in each child). */
    warmMs: number[]; warmMedianMs: number;
    /** The `deltalake` version measured, and the 1-minute load average at the end. */
    deltaRsVersion: string; loadAvg: number;
  };
  merge: {
    targetRows: number; targetFiles: number; sourceRows: number; matched: number;
    /** `phasesS`: median seconds per step of the merge (engine calls, and the rest). */
    ingot: { wallS: number[]; mergeS: number[]; peakRssMB: number[]; phasesS: Record<string, number>; metrics: Record<string, number> };
    deltaRs: { wallS: number[]; mergeS: number[]; peakRssMB: number[]; metrics: Record<string, unknown> };
    /** Median ingot merge time / median delta-rs merge time (in-process, source read included). */
    ratio: number;
    fingerprint: Record<string, string>;
  };
  query: {
    liveFiles: number; scannedFiles: number; share: number;
    prunedMs: number[]; unprunedMs: number[]; prunedMedianMs: number; unprunedMedianMs: number;
    result: Record<string, string>;
  };
  checks: { figure: string; value: string; target: string; pass: boolean | undefined }[];
}

const sqlString = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** Whether `dir` holds a complete build of the current definition. */
const built = (dir: string): boolean => existsSync(path.join(dir, '.built-' + BUILD));
const markBuilt = (dir: string, note = ''): Promise<void> => fs.writeFile(path.join(dir, '.built-' + BUILD), note);

/** Runs `sql` as one append (or the first write) to `table`, committed. */
async function append(engine: DuckDBEngine, table: DeltaTable, sql: string, partitionBy?: string[]): Promise<Add[]> {
  const staged = await engine.stage('__bench_append', sql);
  const { commit } = await stageWrite(engine, table, await table.trySnapshot(), 'SELECT * FROM __bench_append', { mode: 'append', schema: staged.schema, partitionBy });
  await table.commit(commit);
  await engine.drop('__bench_append');
  return commit.actions.flatMap((a) => ('add' in a ? [a.add] : []));
}

/** Runs a Python snippet (argv after the code: `args`), measured, leaving with `os._exit` (`pythonSnippet`); its stdout is JSON (`lastJson`). */
function python(code: string, args: string[]): Promise<Measured> {
  return measure(PYTHON, ['-c', pythonSnippet(code), ...args], ROOT);
}

/**
 * The 10,000-commit table: version 0 writes 20 real flights rows through ingot; versions
 * 1..9,999 each append one more file (a hard link of that Parquet file under a new name, with its
 * real stats), written with ingot's log functions: the commit files, and a checkpoint of the
 * replayed snapshot every 10 versions (what `DeltaTable.commit` does, minus its per-commit
 * bookkeeping, so that the build takes a minute or two).
 */
async function buildLogTable(engine: DuckDBEngine): Promise<void> {
  if (built(LOG_TABLE)) return;
  console.log(`building ${path.relative(ROOT, LOG_TABLE)} (${COMMITS.toLocaleString('en-US')} commits, once) ...`);
  const t0 = performance.now();
  await fs.rm(LOG_TABLE, { recursive: true, force: true });
  const table = new DeltaTable(new LocalStore(LOG_TABLE), engine);
  const [first] = await append(engine, table, `SELECT date, delay, distance, origin, destination FROM read_parquet(${sqlString(FLIGHTS)}) LIMIT 20`);
  let snapshot = await table.snapshot();
  for (let from = 1; from < COMMITS; from += CHECKPOINT_EVERY) {
    const batch: { version: number; actions: Action[] }[] = [];
    for (let v = from; v < Math.min(from + CHECKPOINT_EVERY, COMMITS); v++) {
      const name = `part-${String(v).padStart(5, '0')}.parquet`;
      await fs.link(path.join(LOG_TABLE, first!.path), path.join(LOG_TABLE, name));
      const now = Date.now();
      const actions: Action[] = [
        { commitInfo: { timestamp: now, operation: 'WRITE', operationParameters: { mode: 'Append' }, readVersion: v - 1, isBlindAppend: true, engineInfo: `ingot/${VERSION}` } },
        { add: { ...first!, path: name, modificationTime: now } },
      ];
      if (!(await writeCommit(table.store, v, actions))) throw new Error(`${LOG_TABLE}: version ${v} exists already`);
      batch.push({ version: v, actions });
    }
    snapshot = Snapshot.replay(batch, snapshot, LOG_TABLE);
    if (snapshot.version % CHECKPOINT_EVERY === 0) await writeCheckpoint(table.store, snapshot, engine);
  }
  // delta-rs must read it: version, files, rows
  const check = await python(
    'import json, sys\nfrom deltalake import DeltaTable\ndt = DeltaTable(sys.argv[1])\n' +
      'print(json.dumps({"version": dt.version(), "files": len(dt.file_uris()), "rows": dt.to_pyarrow_table(columns=["delay"]).num_rows}))',
    [LOG_TABLE],
  );
  const seen = lastJson<{ version: number; files: number; rows: number }>(check, 'delta-rs (reading the 10,000-commit table)');
  if (seen.version !== COMMITS - 1 || seen.files !== COMMITS || seen.rows !== COMMITS * 20) {
    throw new Error(`delta-rs reads ${LOG_TABLE} as version ${seen.version}, ${seen.files} files, ${seen.rows} rows; expected ${COMMITS - 1}, ${COMMITS}, ${COMMITS * 20}`);
  }
  await markBuilt(LOG_TABLE, `delta-rs read version ${seen.version}, ${seen.files} files, ${seen.rows} rows`);
  console.log(`  ${((performance.now() - t0) / 1000).toFixed(0)} s; delta-rs reads version ${seen.version}, ${seen.files} files, ${seen.rows} rows`);
}

/** flights with a 0-based row number `n` (file order). */
const FLIGHTS_N = `SELECT file_row_number AS n, date, delay, distance, origin, destination FROM read_parquet(${sqlString(FLIGHTS)}, file_row_number = true)`;

/**
 * The merge target (flights × 10, `id` = copy × 3,000,000 + row, written by ingot as 10 appends)
 * and the source: the 10,000 target rows whose id is a multiple of 3,000 with delay + 1,000, and
 * 990,000 new rows (ids from 30,000,000).
 */
async function buildMergeData(engine: DuckDBEngine): Promise<void> {
  if (built(MERGE_TARGET) && existsSync(MERGE_SOURCE)) return;
  console.log(`building ${path.relative(ROOT, MERGE_TARGET)} (${(COPIES * FLIGHT_ROWS).toLocaleString('en-US')} rows, once) ...`);
  await fs.rm(MERGE_TARGET, { recursive: true, force: true });
  const table = new DeltaTable(new LocalStore(MERGE_TARGET), engine);
  const cols = 'date, delay, distance, origin, destination';
  for (let c = 0; c < COPIES; c++) {
    await append(engine, table, `SELECT (${c * FLIGHT_ROWS} + n)::BIGINT AS id, ${cols} FROM (${FLIGHTS_N})`);
  }
  const matched = (COPIES * FLIGHT_ROWS) / MATCH_EVERY;
  await engine.query(`COPY (
    SELECT (c * ${FLIGHT_ROWS} + n)::BIGINT AS id, date, delay + 1000 AS delay, distance, origin, destination FROM (${FLIGHTS_N}), range(${COPIES}) r(c)
      WHERE (c * ${FLIGHT_ROWS} + n) % ${MATCH_EVERY} = 0
    UNION ALL
    SELECT (${COPIES * FLIGHT_ROWS} + n)::BIGINT, ${cols} FROM (${FLIGHTS_N}) WHERE n < ${SOURCE_ROWS - matched}
  ) TO ${sqlString(MERGE_SOURCE)} (FORMAT parquet)`);
  await markBuilt(MERGE_TARGET);
}

/** flights × 10 partitioned by month, one append per day (182 commits). */
async function buildDaily(engine: DuckDBEngine): Promise<void> {
  if (built(DAILY)) return;
  console.log(`building ${path.relative(ROOT, DAILY)} (${(COPIES * FLIGHT_ROWS).toLocaleString('en-US')} rows, 182 daily appends, once) ...`);
  await fs.rm(DAILY, { recursive: true, force: true });
  const table = new DeltaTable(new LocalStore(DAILY), engine);
  await engine.stage('__bench_flights', `SELECT date, delay, distance, origin, destination, date_trunc('month', date)::DATE AS month, date::DATE AS day FROM read_parquet(${sqlString(FLIGHTS)})`);
  const days = (await engine.query('SELECT DISTINCT day::VARCHAR AS d FROM __bench_flights ORDER BY 1')).map((r) => String(r['d']));
  for (const day of days) {
    await append(engine, table, `SELECT date, delay, distance, origin, destination, month FROM __bench_flights, range(${COPIES}) WHERE day = DATE '${day}'`, ['month']);
  }
  await engine.drop('__bench_flights');
  await markBuilt(DAILY);
}

/** Child: one cold snapshot load of `dir` in this fresh process, with the time spent listing the log, reading the checkpoint and the rest. */
async function loadChild(dir: string): Promise<void> {
  const engine = await DuckDBEngine.open(ENGINE);
  const phases: Record<string, number> = {};
  const store = timed(new LocalStore(dir), phases, (m) => (m === 'list' || m === 'names' ? 'list log' : m === 'get' || m === 'head' ? 'read files' : undefined));
  const t0 = performance.now();
  const snapshot = await new DeltaTable(store, timed(engine, phases, (m) => (m === 'readRows' || m === 'readActions' ? 'read checkpoint (engine fallback)' : undefined))).snapshot();
  const ms = performance.now() - t0;
  // warm reload after one new commit: the snapshot one version back, then the latest on top of it
  // (reads only the newest commit); the median of 5
  const before = await Snapshot.load(new LocalStore(dir), { version: snapshot.version - 1, parquet: engine });
  const warm: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t1 = performance.now();
    const after = await Snapshot.load(new LocalStore(dir), { base: before, parquet: engine });
    warm.push(performance.now() - t1);
    if (after.version !== snapshot.version || after.files.size !== snapshot.files.size) throw new Error(`warm reload saw version ${after.version}, ${after.files.size} files`);
  }
  console.log(JSON.stringify({ ms, warmMs: median(warm), warmAllMs: warm.map((w) => Math.round(w * 10) / 10), version: snapshot.version, files: snapshot.files.size, rows: snapshot.numRecords, phasesMs: Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, v * 1000])) }));
  await engine.close();
}

/** Which step of the merge an engine call is, from the relation it stages or the SQL it runs. */
function mergeStep(method: string, args: unknown[]): string {
  const sql = String(args[0] ?? '');
  if (method === 'stage') return /matches/.test(sql) ? 'join target keys with source (matches)' : 'stage source';
  if (method === 'query') {
    if (/HAVING count/.test(sql)) return 'duplicate-match check';
    if (/count\(DISTINCT r\)/.test(sql)) return 'files touched';
    if (/min\(/.test(sql)) return 'source key range';
    return 'count actions';
  }
  if (method === 'write') return 'write files';
  if (method === 'attachTable') return 'attach target';
  return method;
}

/**
 * `target` with the time of each call of its methods added to `phases` (seconds by
 * `step(method, args)`; calls for which it returns undefined are not counted).
 */
function timed<T extends object>(target: T, phases: Record<string, number>, step: (method: string, args: unknown[]) => string | undefined): T {
  return new Proxy(target, {
    get(t, prop, receiver) {
      const value = Reflect.get(t, prop, receiver) as unknown;
      if (typeof value !== 'function' || prop === 'constructor') return value;
      return (...args: unknown[]) => {
        const t0 = performance.now();
        const done = (): void => {
          const name = step(String(prop), args);
          if (name) phases[name] = (phases[name] ?? 0) + (performance.now() - t0) / 1000;
        };
        const out = (value as (...a: unknown[]) => unknown).apply(t, args);
        if (out instanceof Promise) return out.finally(done);
        done();
        return out;
      };
    },
  });
}

const MERGE_ON = 'target.id = source.id';

/** Child: ingot's merge of the source into the table at `dir`. */
async function mergeChild(dir: string, source: string): Promise<void> {
  const engine = await DuckDBEngine.open(ENGINE);
  const phases: Record<string, number> = {};
  const t0 = performance.now();
  const table = new DeltaTable(new LocalStore(dir), engine);
  const result = await merge(table, timed<Engine>(engine, phases, mergeStep), {
    source: `SELECT * FROM read_parquet(${sqlString(source)})`,
    on: MERGE_ON,
    whenMatched: [{ update: '*' }],
    whenNotMatched: [{ insert: '*' }],
  });
  const s = (performance.now() - t0) / 1000;
  const engineS = Object.values(phases).reduce((a, b) => a + b, 0);
  phases['snapshot, commit, checkpoint'] = s - engineS;
  console.log(JSON.stringify({ s, phases, metrics: result.metrics }));
  await engine.close();
}

/** delta-rs's merge of the same source (`deltaRsMergeScript`). */
const DELTA_RS_MERGE = deltaRsMergeScript(MERGE_ON);

const DELTA_RS_OPEN = `
import json, sys, time
from deltalake import DeltaTable
t0 = time.perf_counter()
dt = DeltaTable(sys.argv[1])
ms = (time.perf_counter() - t0) * 1000
print(json.dumps({"ms": ms, "version": dt.version(), "files": len(dt.file_uris())}))
`;

/** The installed `deltalake` version. */
async function deltaRsVersion(): Promise<string> {
  return lastJson<{ v: string }>(await python('import json, deltalake\nprint(json.dumps({"v": deltalake.__version__}))', []), 'deltalake version').v;
}

/** Row count and content hash of the Delta table at `dir`, read through ingot. */
async function fingerprint(engine: DuckDBEngine, dir: string): Promise<Record<string, string>> {
  const table = new DeltaTable(new LocalStore(dir), engine);
  await engine.attachTable('bench.fp', await scanOf(table, await table.snapshot()));
  const [row] = await engine.query(`SELECT ${PRINT} FROM bench.fp`);
  return Object.fromEntries(Object.entries(row!).map(([k, v]) => [k, String(v)]));
}

/** The table a correct merge gives, computed by DuckDB from the target and the source directly. */
async function expectedFingerprint(engine: DuckDBEngine): Promise<Record<string, string>> {
  const table = new DeltaTable(new LocalStore(MERGE_TARGET), engine);
  await engine.attachTable('bench.target', await scanOf(table, await table.snapshot()));
  const src = `read_parquet(${sqlString(MERGE_SOURCE)})`;
  const [row] = await engine.query(`SELECT ${PRINT} FROM (
    SELECT id, date, delay, distance, origin, destination FROM ${src}
    UNION ALL SELECT * FROM bench.target t WHERE NOT EXISTS (SELECT 1 FROM ${src} s WHERE s.id = t.id))`);
  return Object.fromEntries(Object.entries(row!).map(([k, v]) => [k, String(v)]));
}

async function snapshotLoadBench(): Promise<DeltaResults['snapshotLoad']> {
  const ingot: { ms: number; warmMs: number; version: number; files: number; rows: number; phasesMs: Record<string, number> }[] = [];
  const theirs: { ms: number; version: number; files: number }[] = [];
  const ingotWall: number[] = [];
  const theirWall: number[] = [];
  for (let i = 0; i < LOADS; i++) {
    const a = await measure(process.execPath, ['--import', 'tsx', SELF, '--child', 'load', LOG_TABLE], ROOT);
    ingot.push(JSON.parse(a.stdout) as never);
    ingotWall.push(a.wallS);
    const b = await python(DELTA_RS_OPEN, [LOG_TABLE]);
    theirs.push(lastJson(b, 'delta-rs (loading the 10,000-commit table)'));
    theirWall.push(b.wallS);
  }
  for (const r of [...ingot, ...theirs]) {
    if (r.version !== COMMITS - 1 || r.files !== COMMITS) throw new Error(`a load saw version ${r.version} with ${r.files} files, expected ${COMMITS - 1} and ${COMMITS}`);
  }
  for (const r of ingot) if (r.rows !== COMMITS * 20) throw new Error(`ingot's load counted ${r.rows} rows, expected ${COMMITS * 20}`);
  const names = await fs.readdir(path.join(LOG_TABLE, '_delta_log'));
  return {
    commits: names.filter((n) => /^\d{20}\.json$/.test(n)).length,
    checkpoints: names.filter((n) => /\.checkpoint\.parquet$/.test(n)).length,
    liveFiles: COMMITS,
    deltaRsChecked: await fs.readFile(path.join(LOG_TABLE, '.built-' + BUILD), 'utf8'),
    ingotPhasesMs: Object.fromEntries(Object.keys(ingot[0]!.phasesMs).map((k) => [k, round(median(ingot.map((r) => r.phasesMs[k] ?? 0)), 1)])),
    ingotMs: ingot.map((r) => round(r.ms, 1)), ingotMedianMs: round(median(ingot.map((r) => r.ms)), 1), ingotProcessS: round(median(ingotWall)),
    warmMs: ingot.map((r) => round(r.warmMs, 2)), warmMedianMs: round(median(ingot.map((r) => r.warmMs)), 2),
    deltaRsVersion: await deltaRsVersion(), loadAvg: round(os.loadavg()[0]!),
    deltaRsMs: theirs.map((r) => round(r.ms, 1)), deltaRsMedianMs: round(median(theirs.map((r) => r.ms)), 1), deltaRsProcessS: round(median(theirWall)),
  };
}

async function mergeBench(): Promise<DeltaResults['merge']> {
  const ingotDir = path.join(DATA, 'merge-ingot');
  const theirDir = path.join(DATA, 'merge-delta-rs');
  const ingot: { m: Measured; s: number; phases: Record<string, number>; metrics: Record<string, number> }[] = [];
  const theirs: { m: Measured; s: number; metrics: Record<string, unknown> }[] = [];
  const engine = await DuckDBEngine.open(ENGINE);
  try {
    const expected = await expectedFingerprint(engine);
    const target = new DeltaTable(new LocalStore(MERGE_TARGET), engine);
    const snap = await target.snapshot();
    for (let i = 0; i < MERGES; i++) {
      for (const dir of [ingotDir, theirDir]) {
        await fs.rm(dir, { recursive: true, force: true });
        await fs.cp(MERGE_TARGET, dir, { recursive: true });
      }
      // alternate which goes first
      const runIngot = async (): Promise<void> => {
        const a = await measure(process.execPath, ['--import', 'tsx', SELF, '--child', 'merge', ingotDir, MERGE_SOURCE], ROOT);
        ingot.push({ m: a, ...(JSON.parse(a.stdout) as { s: number; phases: Record<string, number>; metrics: Record<string, number> }) });
      };
      const runDeltaRs = async (): Promise<void> => {
        const b = await python(DELTA_RS_MERGE, [theirDir, MERGE_SOURCE]);
        theirs.push({ m: b, ...lastJson<{ s: number; metrics: Record<string, unknown> }>(b, 'delta-rs (merge)') });
      };
      for (const run of i % 2 === 0 ? [runIngot, runDeltaRs] : [runDeltaRs, runIngot]) await run();
      const [a, ar, b, br] = [ingot.at(-1)!.m, ingot.at(-1)!, theirs.at(-1)!.m, theirs.at(-1)!];
      console.log(`  merge #${i + 1}: ingot ${ar.s.toFixed(1)} s (${a.peakRssMB.toFixed(0)} MB), delta-rs ${br.s.toFixed(1)} s (${b.peakRssMB.toFixed(0)} MB)`);
      for (const [who, dir] of [['ingot', ingotDir], ['delta-rs', theirDir]] as const) {
        const got = await fingerprint(engine, dir);
        const diffs = Object.keys(expected).filter((k) => got[k] !== expected[k]);
        if (diffs.length > 0) throw new Error(`${who}'s merge result differs from the expected table: ${diffs.map((k) => `${k} ${got[k]} vs ${expected[k]}`).join(', ')}`);
      }
    }
    for (const dir of [ingotDir, theirDir]) await fs.rm(dir, { recursive: true, force: true });
    const ingotS = median(ingot.map((r) => r.s));
    const theirS = median(theirs.map((r) => r.s));
    const phasesS = Object.fromEntries(Object.keys(ingot[0]!.phases).map((k) => [k, round(median(ingot.map((r) => r.phases[k] ?? 0)))]));
    return {
      targetRows: snap.numRecords ?? 0, targetFiles: snap.files.size, sourceRows: SOURCE_ROWS, matched: (COPIES * FLIGHT_ROWS) / MATCH_EVERY,
      ingot: { wallS: ingot.map((r) => round(r.m.wallS)), mergeS: ingot.map((r) => round(r.s)), peakRssMB: ingot.map((r) => round(r.m.peakRssMB, 0)), phasesS, metrics: ingot.at(-1)!.metrics },
      deltaRs: { wallS: theirs.map((r) => round(r.m.wallS)), mergeS: theirs.map((r) => round(r.s)), peakRssMB: theirs.map((r) => round(r.m.peakRssMB, 0)), metrics: theirs.at(-1)!.metrics },
      ratio: round(ingotS / theirS),
      fingerprint: expected,
    };
  } finally {
    await engine.close();
  }
}

async function queryBench(): Promise<DeltaResults['query']> {
  const engine = await DuckDBEngine.open(ENGINE);
  try {
    const table = new DeltaTable(new LocalStore(DAILY), engine);
    const snapshot = await table.snapshot();
    const [expected] = await engine.query(`SELECT ${QUERY_SELECT} FROM (SELECT *, date_trunc('month', date)::DATE AS month FROM read_parquet(${sqlString(FLIGHTS)}), range(${COPIES})) WHERE ${QUERY_WHERE}`);
    const prunedMs: number[] = [];
    const unprunedMs: number[] = [];
    let scanned = 0;
    const run = async (filters: Filter[], times: number[]): Promise<void> => {
      const t0 = performance.now();
      const scan = await scanOf(table, snapshot, filters);
      await engine.attachTable('bench.daily', scan);
      const [row] = await engine.query(`SELECT ${QUERY_SELECT} FROM bench.daily WHERE ${QUERY_WHERE}`);
      times.push(performance.now() - t0);
      if (JSON.stringify(row) !== JSON.stringify(expected)) throw new Error(`the selective query over ${scan.files.length} files gives ${JSON.stringify(row)}, the source Parquet ${JSON.stringify(expected)}`);
      if (filters.length > 0) scanned = scan.files.length;
    };
    for (let i = 0; i < QUERIES; i++) {
      await run(QUERY_FILTERS, prunedMs);
      await run([], unprunedMs);
    }
    return {
      liveFiles: snapshot.files.size, scannedFiles: scanned, share: round(scanned / snapshot.files.size, 4),
      prunedMs: prunedMs.map((x) => round(x, 1)), unprunedMs: unprunedMs.map((x) => round(x, 1)),
      prunedMedianMs: round(median(prunedMs), 1), unprunedMedianMs: round(median(unprunedMs), 1),
      result: Object.fromEntries(Object.entries(expected!).map(([k, v]) => [k, String(v)])),
    };
  } finally {
    await engine.close();
  }
}

/** The whole Delta section; see the file comment. */
export async function deltaBench(): Promise<DeltaResults> {
  await fs.mkdir(DATA, { recursive: true });
  const engine = await DuckDBEngine.open(ENGINE);
  try {
    await buildLogTable(engine);
    await buildMergeData(engine);
    await buildDaily(engine);
  } finally {
    await engine.close();
  }
  console.log('snapshot load ...');
  const load = await snapshotLoadBench();
  console.log(`  ingot ${load.ingotMedianMs} ms, delta-rs ${load.deltaRsMedianMs} ms`);
  console.log('merge ...');
  const m = await mergeBench();
  console.log('selective query ...');
  const q = await queryBench();
  console.log(`  ${q.scannedFiles} of ${q.liveFiles} files; ${q.prunedMedianMs} ms pruned, ${q.unprunedMedianMs} ms all files`);
  const ms = (x: number): string => `${x.toFixed(0)} ms`;
  const ingotS = median(m.ingot.mergeS);
  const theirS = median(m.deltaRs.mergeS);
  const n = (x: number): string => x.toLocaleString('en-US');
  return {
    snapshotLoad: load,
    merge: m,
    query: q,
    checks: [
      { figure: `snapshot load, ${n(load.commits)} commits + ${n(load.checkpoints)} checkpoints, cold process (ingot, median of ${LOADS})`, value: ms(load.ingotMedianMs), target: `≤ ${TARGETS.loadMs} ms`, pass: load.ingotMedianMs <= TARGETS.loadMs },
      { figure: `same table opened by delta-rs ${load.deltaRsVersion} (\`DeltaTable(path)\`)`, value: ms(load.deltaRsMedianMs), target: '', pass: undefined },
      { figure: `snapshot load time ingot / delta-rs (load average ${load.loadAvg})`, value: (load.ingotMedianMs / load.deltaRsMedianMs).toFixed(2), target: `≤ ${TARGETS.loadRatio}`, pass: load.ingotMedianMs / load.deltaRsMedianMs <= TARGETS.loadRatio },
      { figure: 'warm snapshot reload after one new commit (ingot)', value: `${load.warmMedianMs.toFixed(2)} ms`, target: `< ${TARGETS.warmMs} ms`, pass: load.warmMedianMs < TARGETS.warmMs },
      { figure: `merge ${n(m.sourceRows)} rows (${n(m.matched)} matching) into ${n(m.targetRows)}: ingot`, value: `${ingotS.toFixed(1)} s, ${Math.max(...m.ingot.peakRssMB)} MB`, target: '', pass: undefined },
      { figure: 'same merge: delta-rs `merge`', value: `${theirS.toFixed(1)} s, ${Math.max(...m.deltaRs.peakRssMB)} MB`, target: '', pass: undefined },
      { figure: 'merge time ingot / delta-rs', value: m.ratio.toFixed(2), target: `< ${TARGETS.mergeRatio}`, pass: m.ratio < TARGETS.mergeRatio },
      { figure: `selective query (1 airport, 1 day): files read of ${n(q.liveFiles)}`, value: `${q.scannedFiles} (${(q.share * 100).toFixed(1)}%)`, target: `≤ ${TARGETS.prunedShare * 100}%`, pass: q.share <= TARGETS.prunedShare },
      { figure: 'selective query time, pruned / all files given to DuckDB', value: `${ms(q.prunedMedianMs)} / ${ms(q.unprunedMedianMs)}`, target: '', pass: undefined },
    ],
  };
}

/** The Delta section as markdown. */
export function deltaMarkdown(r: DeltaResults): string {
  const phases = Object.entries(r.merge.ingot.phasesS).filter(([, v]) => v >= 0.01).map(([k, v]) => `${k} ${v} s`).join(', ');
  return [
    '## Delta tables (bench/delta.ts)',
    '',
    '| figure | value | target | result |',
    '| --- | ---: | ---: | --- |',
    ...r.checks.map((c) => `| ${c.figure} | ${c.value} | ${c.target} | ${c.pass === undefined ? '' : c.pass ? 'pass' : '**FAIL**'} |`),
    '',
    `Snapshot load: ingot ${r.snapshotLoad.ingotMs.join(', ')} ms (median steps: ${Object.entries(r.snapshotLoad.ingotPhasesMs).map(([k, v]) => `${k} ${v} ms`).join(', ')}); delta-rs ${r.snapshotLoad.deltaRsMs.join(', ')} ms (whole processes: ${r.snapshotLoad.ingotProcessS} s / ${r.snapshotLoad.deltaRsProcessS} s). ` +
      `Checked once: ${r.snapshotLoad.deltaRsChecked}.`,
    `Merge: wall time of the processes ingot ${r.merge.ingot.wallS.join(', ')} s, delta-rs ${r.merge.deltaRs.wallS.join(', ')} s; ingot's steps (median): ${phases}. ` +
      `Both results equal the expected table (${Number(r.merge.fingerprint['rows']).toLocaleString('en-US')} rows, same content hash).`,
    `Selective query: result ${JSON.stringify(r.query.result)} equals DuckDB over the source Parquet.`,
  ].join('\n') + '\n';
}

if (process.argv[2] === '--child') {
  const [kind, dir, source] = process.argv.slice(3);
  if (kind === 'load') await loadChild(dir!);
  else if (kind === 'merge') await mergeChild(dir!, source!);
  else throw new Error(`unknown child ${kind}`);
} else if (process.argv[1] === SELF && process.argv.includes('--snapshot')) {
  // only the snapshot load (`node --import tsx bench/delta.ts --snapshot`): prints its figures, writes nothing
  await fs.mkdir(DATA, { recursive: true });
  const engine = await DuckDBEngine.open(ENGINE);
  try {
    await buildLogTable(engine);
  } finally {
    await engine.close();
  }
  const load = await snapshotLoadBench();
  console.log(JSON.stringify(load, null, 2));
  console.log(`ingot ${load.ingotMedianMs} ms, delta-rs ${load.deltaRsVersion} ${load.deltaRsMedianMs} ms: ratio ${(load.ingotMedianMs / load.deltaRsMedianMs).toFixed(2)}; warm reload ${load.warmMedianMs} ms; load average ${load.loadAvg}`);
} else if (process.argv[1] === SELF) {
  const results = await deltaBench();
  await fs.writeFile(path.join(OUT, 'delta.json'), JSON.stringify({ machine: { cpus: os.cpus().length, loadAvg: os.loadavg()[0] }, ...results }, null, 2) + '\n');
  console.log('\n' + deltaMarkdown(results));
}
