/**
 * `npm run bench`: times the flights example on this machine, side by side with the same pipeline
 * written by hand in DuckDB SQL (bench/handmade.sql), and checks both produce the same gold tables.
 *
 * 1. lays out a scratch project in bench/out/flights (the example's ingot.config.ts and datasets/,
 *    its landing zone linked), so examples/flights/lake is never touched;
 * 2. backfill: fresh lake, `ingot run --from 2001-01-01 --to 2001-07-01` (182 daily runs):
 *    wall time, peak RSS, median run duration from `_ingot.runs`;
 * 2b. the same days as a hand-made DuckDB daily loop (bench/handmade_daily.sql, handmade.sql's
 *    transformations once per day in one process, plain Parquet): its outputs must equal the backfill's;
 * 3./4./5. three times, alternately: `ingot run --full-refresh` on a fresh lake, then handmade.sql
 *    on a fresh folder, each in its own process with the same engine settings;
 * 5b. runs the start-up section (bench/startup.ts: `node -e 1`, `ingot --version` and `ingot tables` on a backfilled flights lake, whole processes, medians of 5) in its own process;
 * 6. runs the Delta section (bench/delta.ts: snapshot load, merge vs delta-rs, file pruning) in
 *    its own process, and the deletion-vector section (bench/deletion-vectors.ts: delete and merge
 *    with deletion vectors vs copy-on-write vs delta-rs, 30,000,000 rows);
 * 7. runs the PostgreSQL section (bench/postgres.ts: 5,000,000 rows loaded incrementally from
 *    PostgreSQL by ingot and by dlt, side by side) in its own process;
 * 7b. runs the PostgreSQL-protocol serving section (bench/pgwire.ts: psycopg streaming, point lookups and memory, ingot serve vs PostgreSQL 15) in its own process;
 * 8. runs the scheduler section (bench/schedule.ts: 1,000 daily intervals backfilled by ingot, 100 by Apache Airflow) in its own process;
 * 9. runs the serving section (bench/serve.ts: the game-sessions example over 2016, its completed-sessions endpoint under load) in its own process;
 * 9b. runs the continuous section (bench/continuous.ts: the game-sessions continuous project under files landing at 10/s, landing-to-endpoint latency, exactly once, memory) in its own process;
 * 9c. runs the incremental-gold section (bench/incremental.ts: gold.route_monthly incremental vs its full recomputation of the month, in the same 182 daily runs) in its own process;
 * 10. runs the race (bench/race.ts: the flights pipeline on ingot with DuckDB, on ingot with Spark Connect, and as a PySpark + delta-spark script) in its own process;
 * 11. prints a markdown table and writes bench/out/results.md and bench/out/results.json.
 *
 * Every lake (the backfill's and each full refresh's) must match the handmade output: same row
 * counts for silver and gold, same content for the gold tables; otherwise the bench fails.
 * `node --import tsx bench/run.ts --handmade` (cwd: the scratch project) is the handmade child, `--handmade-daily` the daily loop's;
 * `npm run bench -- --flights`, `-- --startup`, `-- --delta`, `-- --deletion-vectors`, `-- --postgres`, `-- --pgwire`, `-- --schedule`, `-- --serve`, `-- --continuous`, `-- --incremental` or `-- --race` runs only that section (the other figures of the last run are kept).
 */
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { localSettings, type ProjectConfig } from 'ingot';
import { deltaMarkdown } from './delta.js';
import { deletionVectorsMarkdown } from './deletion-vectors.js';
import { postgresMarkdown } from './postgres.js';
import { pgwireMarkdown } from './pgwire.js';
import { scheduleMarkdown } from './schedule.js';
import { raceMarkdown } from './race.js';
import { serveMarkdown } from './serve.js';
import { continuousMarkdown } from './continuous.js';
import { incrementalMarkdown } from './incremental.js';
import { startupMarkdown } from './startup.js';
import { flightsProject, measure, median, round, type Measured } from './measure.js';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const EXAMPLE = path.join(ROOT, 'examples', 'flights');
const OUT = path.join(BENCH, 'out');
const PROJECT = path.join(OUT, 'flights');
const CLI = path.join(ROOT, 'dist', 'cli', 'bin.js');
const SELF = fileURLToPath(import.meta.url);
const REPEATS = 3;
const FIRST_DAY = '2001-01-01';
const LAST_DAY = '2001-07-01';
const TARGETS = { backfillS: 45, peakRssMB: 1536, ratio: 1.1, backfillRatio: 1.5 };

/** Tables compared between ingot and handmade: partition column, and the columns whose content is compared (gold only). */
const CHECKED: Record<string, { partition: string; content?: string[] }> = {
  'silver.flights': { partition: 'flight_date' },
  'silver.flights_quarantine': { partition: 'flight_date' },
  'gold.airport_daily': { partition: 'flight_date', content: ['flight_date', 'airport', 'departures', 'avg_delay_min', 'on_time_rate'] },
  'gold.route_monthly': { partition: 'month', content: ['month', 'origin', 'destination', 'flights', 'avg_delay_min', 'avg_distance_mi'] },
  'gold.top5_monthly': { partition: 'month', content: ['month', 'ranking', 'rank', 'subject', 'value'] },
};

/** Row counts and gold content hashes of one output, keyed `<table> rows` / `<table> md5`. */
type Fingerprint = Record<string, string>;

interface Results {
  /** `loadAvg`: 1-minute load average before and after; above the CPU count, the figures are noisy. */
  machine: { cpus: number; memoryGB: number; node: string; date: string; loadAvg: [number, number] };
  backfill: { wallS: number; peakRssMB: number; runs: number; medianRunMs: number; sumRunsS: number; datasetS: Record<string, number> };
  /** handmade_daily.sql once per day of the backfill in one process, measured right after it; `ratio`: backfill / loop; `loadAvg`: the 1-minute load average after the loop. */
  handmadeDaily: { wallS: number; peakRssMB: number; ratio: number; loadAvg: number };
  /** The plan stage on the backfilled lake (see `planFigures`). */
  plan: PlanFigures;
  fullRefresh: { wallS: number[]; peakRssMB: number[]; medianS: number; runS: number[]; medianRunS: number; datasetS: Record<string, number> };
  handmade: { wallS: number[]; peakRssMB: number[]; medianS: number };
  /** Median full refresh / median handmade; `ratioOfMins` is less sensitive to other work on the machine. */
  ratio: number;
  ratioOfMins: number;
  fingerprint: Fingerprint;
  checks: { figure: string; value: string; target: string; pass: boolean | undefined }[];
}


/** Runs `node <args>` in the scratch project and measures it (wall time, peak RSS). Throws on a non-zero exit. */
function measureNode(args: string[], cwd = PROJECT): Promise<Measured> {
  return measure(process.execPath, args, cwd);
}

/** Runs `ingot sql --format json` on the scratch project and returns the rows. */
async function ingotSql(sql: string): Promise<Record<string, unknown>[]> {
  const { stdout } = await measureNode([CLI, 'sql', '-p', '.', '--format', 'json', sql]);
  return JSON.parse(stdout) as Record<string, unknown>[];
}

/** One SELECT returning the fingerprint columns, reading each table through `ref`. */
function fingerprintSql(ref: (table: string) => string): string {
  const cols = Object.entries(CHECKED).flatMap(([table, { content }]) => {
    const out = [`(SELECT count(*) FROM ${ref(table)}) AS "${table} rows"`];
    if (content) {
      const line = `concat_ws('|', ${content.join(', ')})`;
      out.push(`(SELECT md5(string_agg(${line}, ';' ORDER BY ${line})) FROM ${ref(table)}) AS "${table} md5"`);
    }
    return out;
  });
  return `SELECT ${cols.join(', ')}`;
}

const asFingerprint = (row: Record<string, unknown> | undefined): Fingerprint =>
  Object.fromEntries(Object.entries(row ?? {}).map(([k, v]) => [k, String(v)]));

/** Fingerprint of the scratch project's lake, read by ingot itself. */
async function ingotFingerprint(): Promise<Fingerprint> {
  return asFingerprint((await ingotSql(fingerprintSql((t) => t)))[0]);
}

/** Fingerprint of the handmade Parquet folders. */
async function handmadeFingerprint(): Promise<Fingerprint> {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    const ref = (table: string): string => {
      const dir = path.join(PROJECT, 'handmade', ...table.split('.')).replace(/'/g, "''");
      return `read_parquet('${dir}/*/*.parquet', hive_partitioning = true, hive_types = {'${CHECKED[table]!.partition}': DATE})`;
    };
    const reader = await conn.runAndReadAll(fingerprintSql(ref));
    return asFingerprint(reader.getRowObjectsJson()[0] as Record<string, unknown>);
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

/** Throws, naming every difference, unless `ingot` equals the handmade fingerprint. */
function assertSame(label: string, ingot: Fingerprint, handmade: Fingerprint): void {
  const diffs = Object.keys(handmade).filter((k) => ingot[k] !== handmade[k]).map((k) => `  ${k}: ingot ${ingot[k]} vs handmade ${handmade[k]}`);
  if (diffs.length > 0) throw new Error(`${label}: ingot's output differs from the handmade pipeline's, the comparison is not apples to apples:\n${diffs.join('\n')}`);
}

/** Seconds per dataset, summed over the runs in `_ingot.run_datasets`, bronze to gold. */
async function datasetSeconds(): Promise<Record<string, number>> {
  const rows = await ingotSql(`SELECT dataset, sum(duration_ms) AS ms FROM _ingot.run_datasets GROUP BY dataset
    ORDER BY CASE split_part(dataset, '.', 1) WHEN 'bronze' THEN 0 WHEN 'silver' THEN 1 ELSE 2 END, dataset`);
  return Object.fromEntries(rows.map((r) => [String(r['dataset']), round(Number(r['ms']) / 1000)]));
}

/** What the plan stage costs and saves, measured on the backfilled lake. */
interface PlanFigures {
  /** In process, engines open: planning every day of the backfill (days × datasets steps), median of 5. */
  planMs: number;
  steps: number;
  /** `ingot plan --from --to` as a process, and `ingot --version` (start-up alone). */
  planCommandS: number;
  startupS: number;
  /** The last day run again: forced (`--rerun`, every step runs) and unforced (every step up to date), run durations, median of 5 each, alternating. */
  forcedRunMs: number;
  noChangeRunMs: number;
}

/** Plans the whole backfill in process and times reruns of its last day (forced, then with nothing changed). */
async function planFigures(): Promise<PlanFigures> {
  const { loadProject } = await import('../src/project.js');
  const { Runner } = await import('../src/run/runner.js');
  const { dateRange } = await import('../src/pipeline/interval.js');
  const runner = await Runner.open(await loadProject(PROJECT));
  const times: number[] = [];
  let steps = 0;
  try {
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const plan = await runner.plan({ dates: dateRange(FIRST_DAY, LAST_DAY) });
      times.push(performance.now() - t0);
      steps = plan.runs.reduce((n, r) => n + r.steps.length, 0);
      const running = plan.runs.flatMap((r) => r.steps.filter((x) => x.action === 'run').map((x) => `${r.logicalDate} ${x.dataset}: ${x.reason}`));
      if (running.length > 0) throw new Error(`the backfilled lake should plan nothing to run, found: ${running.slice(0, 5).join('; ')}`);
    }
  } finally {
    await runner.close();
  }
  const planCommand = await measureNode([CLI, 'plan', '-p', '.', '--from', FIRST_DAY, '--to', LAST_DAY, '--format', 'json']);
  const startup = await measureNode([CLI, '--version']);
  const forced: number[] = [];
  const unchanged: number[] = [];
  const lastRunMs = async (): Promise<number> => Number((await ingotSql('SELECT duration_ms FROM _ingot.runs ORDER BY started_at DESC LIMIT 1'))[0]!['duration_ms']);
  for (let i = 0; i < 5; i++) {
    await measureNode([CLI, 'run', '-p', '.', '--date', LAST_DAY, '--rerun']);
    forced.push(await lastRunMs());
    const { stdout } = await measureNode([CLI, 'run', '-p', '.', '--date', LAST_DAY]);
    if (!/ran +skipped/.test(stdout) || /\n\S+ +1 +0 /.test(stdout)) throw new Error(`the unchanged rerun ran steps:\n${stdout}`);
    unchanged.push(await lastRunMs());
  }
  return {
    planMs: round(median(times), 0), steps, planCommandS: round(planCommand.wallS), startupS: round(startup.wallS),
    forcedRunMs: median(forced), noChangeRunMs: median(unchanged),
  };
}

/** Lays out the scratch project: the example's definition, its landing zone linked. */
async function setUp(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  const days = await flightsProject(PROJECT);
  console.log(`landing zone: ${days} daily files in ${path.relative(ROOT, EXAMPLE)}/landing`);
}

/** Removes the scratch project's lake, handmade output and spill files. */
async function clean(): Promise<void> {
  for (const d of ['lake', 'handmade', '.ingot']) await fs.rm(path.join(PROJECT, d), { recursive: true, force: true });
}

/** The handmade child: runs handmade.sql in the cwd (the scratch project) under the project's engine settings. */
async function handmadeChild(): Promise<void> {
  // COPY creates a partitioned output's folder, not its parents
  for (const dir of ['bronze/airports', 'silver', 'gold']) await fs.mkdir(path.join('handmade', dir), { recursive: true });
  const { conn, close } = await handmadeConnection();
  try {
    await conn.run(await fs.readFile(path.join(BENCH, 'handmade.sql'), 'utf8'));
  } finally {
    close();
  }
}

/** bronze.airports as handmade.sql loads it: the daily loop loads it once, before the first day. */
const HANDMADE_AIRPORTS = `COPY (
  SELECT *, 'landing/airports/airports.csv' AS _source, now() AS _ingested_at, 'handmade' AS _run_id
  FROM read_csv('landing/airports/airports.csv', header = true, auto_detect = false,
                columns = {'iata': 'VARCHAR', 'name': 'VARCHAR', 'city': 'VARCHAR', 'state': 'VARCHAR', 'country': 'VARCHAR', 'latitude': 'DOUBLE', 'longitude': 'DOUBLE'})
) TO 'handmade/bronze/airports/airports.parquet' (FORMAT parquet)`;

/**
 * The handmade daily-loop child: handmade_daily.sql once per day of the backfill (FIRST_DAY..LAST_DAY),
 * in one process and one DuckDB connection, under the project's engine settings (cwd: the scratch project).
 */
async function handmadeDailyChild(): Promise<void> {
  const { dateRange } = await import('../src/pipeline/interval.js');
  const template = await fs.readFile(path.join(BENCH, 'handmade_daily.sql'), 'utf8');
  const { conn, close } = await handmadeConnection();
  try {
    await fs.mkdir(path.join('handmade', 'bronze', 'airports'), { recursive: true });
    await conn.run(HANDMADE_AIRPORTS);
    for (const day of dateRange(FIRST_DAY, LAST_DAY)) {
      const month = `${day.slice(0, 7)}-01`;
      for (const dir of ['bronze/flights_raw', 'silver/flights', 'silver/flights_quarantine', 'gold/airport_daily']) await fs.mkdir(path.join('handmade', dir, `flight_date=${day}`), { recursive: true });
      for (const dir of ['gold/route_monthly', 'gold/top5_monthly']) await fs.mkdir(path.join('handmade', dir, `month=${month}`), { recursive: true });
      await conn.run(template.replace(/\{day\}/g, day).replace(/\{month\}/g, month).replace(/\{month_glob\}/g, `${day.slice(0, 7)}-*`));
    }
  } finally {
    close();
  }
}

/** A DuckDB connection for a handmade child, with the project's engine settings (memory limit, threads, spill folder) and ingot's session settings. */
async function handmadeConnection(): Promise<{ conn: Awaited<ReturnType<DuckDBInstance['connect']>>; close: () => void }> {
  const config = ((await import(pathToFileURL(path.resolve('ingot.config.ts')).href)) as { default: ProjectConfig }).default;
  const options: Record<string, string> = {};
  const settings = localSettings(config, process.cwd());
  if (settings.memoryLimit) options['memory_limit'] = settings.memoryLimit;
  if (settings.threads) options['threads'] = String(settings.threads);
  if (settings.spillDirectory) {
    await fs.mkdir(settings.spillDirectory, { recursive: true });
    options['temp_directory'] = settings.spillDirectory;
  }
  const db = await DuckDBInstance.create(':memory:', options);
  const conn = await db.connect();
  await conn.run("SET TimeZone = 'UTC'; SET preserve_insertion_order = false");
  return { conn, close: () => { conn.closeSync(); db.closeSync(); } };
}

/** The figures as a markdown report. */
function markdown(r: Results): string {
  const lines = [
    `# ingot bench: flights example (3,000,000 rows, ${r.backfill.runs} days)`,
    '',
    `${r.machine.date} UTC, ${r.machine.cpus} CPUs, ${r.machine.memoryGB} GB RAM, Node ${r.machine.node}, load average ${r.machine.loadAvg.join(' → ')}; ` +
      'ingot and handmade run with the engine settings of ingot.config.ts (memory limit, spill folder).',
    '',
    '| figure | value | target | result |',
    '| --- | ---: | ---: | --- |',
    ...r.checks.map((c) => `| ${c.figure} | ${c.value} | ${c.target} | ${c.pass === undefined ? '' : c.pass ? 'pass' : '**FAIL**'} |`),
    '',
    'Time per dataset (s), from `_ingot.run_datasets`:',
    '',
    `| dataset | backfill (sum of ${r.backfill.runs} runs) | full refresh (last) |`,
    '| --- | ---: | ---: |',
    ...Object.keys({ ...r.backfill.datasetS, ...r.fullRefresh.datasetS }).map((d) => `| ${d} | ${r.backfill.datasetS[d] ?? ''} | ${r.fullRefresh.datasetS[d] ?? ''} |`),
    '',
    `Every ingot lake matched the handmade output: ${Object.entries(r.fingerprint).filter(([k]) => k.endsWith('rows')).map(([k, v]) => `${k.replace(/ rows$/, '')} ${Number(v).toLocaleString('en-US')}`).join(', ')} rows; gold content hashes equal.`,
  ];
  return lines.join('\n') + '\n';
}

/** The whole bench; see the file comment. */
async function bench(): Promise<Results> {
  const loadBefore = os.loadavg()[0]!;
  if (loadBefore > os.cpus().length / 2) console.warn(`note: load average ${loadBefore.toFixed(1)} on ${os.cpus().length} CPUs: other work is running, figures will be noisy`);
  await setUp();
  await clean();

  console.log(`backfill ${FIRST_DAY}..${LAST_DAY} ...`);
  const backfill = await measureNode([CLI, 'run', '-p', '.', '--from', FIRST_DAY, '--to', LAST_DAY]);
  const [runs] = await ingotSql("SELECT count(*) AS n, median(duration_ms) AS med, sum(duration_ms) AS total FROM _ingot.runs WHERE mode = 'date' AND status = 'success'");
  const backfillDatasets = await datasetSeconds();
  const backfillPrint = await ingotFingerprint();
  console.log(`  ${backfill.wallS.toFixed(1)} s, peak RSS ${backfill.peakRssMB.toFixed(0)} MB, median run ${Number(runs!['med'])} ms`);
  console.log('handmade daily loop (handmade_daily.sql once per day, one process) ...');
  const daily = await measureNode(['--import', 'tsx', SELF, '--handmade-daily']);
  assertSame('backfill vs handmade daily loop', backfillPrint, await handmadeFingerprint());
  await fs.rm(path.join(PROJECT, 'handmade'), { recursive: true, force: true });
  const dailyLoad = round(os.loadavg()[0]!);
  console.log(`  ${daily.wallS.toFixed(1)} s (${daily.peakRssMB.toFixed(0)} MB); backfill / daily loop ${(backfill.wallS / daily.wallS).toFixed(2)} (load average ${dailyLoad})`);
  console.log('plan stage: planning the backfill, reruns of its last day ...');
  const plan = await planFigures();
  console.log(`  plan of ${plan.steps} steps ${plan.planMs} ms; rerun of ${LAST_DAY}: forced ${plan.forcedRunMs} ms, unchanged ${plan.noChangeRunMs} ms`);

  const full: Measured[] = [];
  const hand: Measured[] = [];
  let fullDatasets: Record<string, number> = {};
  const fullRunS: number[] = [];
  const prints: [string, Fingerprint][] = [['backfill', backfillPrint]];
  let handPrint: Fingerprint = {};
  for (let i = 0; i < REPEATS; i++) {
    await clean();
    const f = await measureNode([CLI, 'run', '-p', '.', '--full-refresh']);
    full.push(f);
    fullDatasets = await datasetSeconds();
    const [run] = await ingotSql("SELECT duration_ms FROM _ingot.runs WHERE mode = 'full_refresh'");
    fullRunS.push(Number(run!['duration_ms']) / 1000);
    prints.push([`full refresh #${i + 1}`, await ingotFingerprint()]);
    await clean();
    const h = await measureNode(['--import', 'tsx', SELF, '--handmade']);
    hand.push(h);
    handPrint = await handmadeFingerprint();
    console.log(`  #${i + 1}: full refresh ${f.wallS.toFixed(1)} s (${f.peakRssMB.toFixed(0)} MB), handmade ${h.wallS.toFixed(1)} s (${h.peakRssMB.toFixed(0)} MB)`);
    for (const [label, p] of prints) assertSame(label, p, handPrint);
  }
  await clean();

  const fullMedian = median(full.map((m) => m.wallS));
  const handMedian = median(hand.map((m) => m.wallS));
  const ratio = fullMedian / handMedian;
  const backfillRunsS = Number(runs!['total']) / 1000;
  const maxRss = (ms: Measured[]): number => Math.max(...ms.map((m) => m.peakRssMB));
  const minOf = (ms: Measured[]): number => Math.min(...ms.map((m) => m.wallS));
  const s = (x: number): string => `${x.toFixed(1)} s`;
  const mb = (x: number): string => `${x.toFixed(0)} MB`;
  return {
    machine: {
      cpus: os.cpus().length, memoryGB: Math.round(os.totalmem() / 2 ** 30), node: process.version,
      date: new Date().toISOString().slice(0, 16).replace('T', ' '), loadAvg: [round(loadBefore), round(os.loadavg()[0]!)],
    },
    backfill: {
      wallS: round(backfill.wallS), peakRssMB: round(backfill.peakRssMB, 0), runs: Number(runs!['n']), medianRunMs: Number(runs!['med']),
      sumRunsS: round(backfillRunsS), datasetS: backfillDatasets,
    },
    handmadeDaily: { wallS: round(daily.wallS), peakRssMB: round(daily.peakRssMB, 0), ratio: round(backfill.wallS / daily.wallS), loadAvg: dailyLoad },
    plan,
    fullRefresh: { wallS: full.map((m) => round(m.wallS)), peakRssMB: full.map((m) => round(m.peakRssMB, 0)), medianS: round(fullMedian),
      runS: fullRunS.map((x) => round(x)), medianRunS: round(median(fullRunS)), datasetS: fullDatasets,
    },
    handmade: { wallS: hand.map((m) => round(m.wallS)), peakRssMB: hand.map((m) => round(m.peakRssMB, 0)), medianS: round(handMedian) },
    ratio: round(ratio),
    ratioOfMins: round(minOf(full) / minOf(hand)),
    fingerprint: handPrint,
    checks: [
      { figure: `backfill wall time (${Number(runs!['n'])} daily runs, one process)`, value: s(backfill.wallS), target: `≤ ${TARGETS.backfillS} s`, pass: backfill.wallS <= TARGETS.backfillS },
      { figure: 'backfill peak RSS', value: mb(backfill.peakRssMB), target: `≤ ${mb(TARGETS.peakRssMB)}`, pass: backfill.peakRssMB <= TARGETS.peakRssMB },
      { figure: 'handmade daily loop (`bench/handmade_daily.sql` per day, one process; same outputs)', value: s(daily.wallS), target: '', pass: undefined },
      { figure: `backfill / handmade daily loop (load average ${dailyLoad})`, value: (backfill.wallS / daily.wallS).toFixed(2), target: `≤ ${TARGETS.backfillRatio}`, pass: backfill.wallS / daily.wallS <= TARGETS.backfillRatio },
      { figure: 'backfill median run (`_ingot.runs.duration_ms`)', value: `${Number(runs!['med'])} ms`, target: '', pass: undefined },
      { figure: 'backfill sum of run durations', value: s(backfillRunsS), target: '', pass: undefined },
      { figure: 'backfill outside runs (start-up, run history, exit)', value: s(backfill.wallS - backfillRunsS), target: '', pass: undefined },
      { figure: `planning the backfill in process (${plan.steps} steps: days × datasets, median of 5)`, value: `${plan.planMs} ms`, target: '< 1,000 ms', pass: plan.planMs < 1000 },
      { figure: '`ingot plan` of the backfill as a process / `ingot --version` (start-up)', value: `${s(plan.planCommandS)} / ${s(plan.startupS)}`, target: '', pass: undefined },
      { figure: `rerun of ${LAST_DAY} with nothing changed / forced (\`--rerun\`) rerun (run durations, medians of 5)`, value: `${plan.noChangeRunMs} / ${plan.forcedRunMs} ms = ${(plan.noChangeRunMs / plan.forcedRunMs).toFixed(2)}`, target: '≤ 0.20', pass: plan.noChangeRunMs / plan.forcedRunMs <= 0.2 },
      { figure: `full refresh wall time (median of ${REPEATS})`, value: `${s(fullMedian)} (min ${s(minOf(full))})`, target: '', pass: undefined },
      { figure: `full refresh run duration (\`_ingot.runs\`, median of ${REPEATS})`, value: s(median(fullRunS)), target: '', pass: undefined },
      { figure: 'full refresh peak RSS (max)', value: mb(maxRss(full)), target: `≤ ${mb(TARGETS.peakRssMB)}`, pass: maxRss(full) <= TARGETS.peakRssMB },
      { figure: `handmade DuckDB SQL wall time (median of ${REPEATS})`, value: `${s(handMedian)} (min ${s(minOf(hand))})`, target: '', pass: undefined },
      { figure: 'handmade peak RSS (max)', value: mb(maxRss(hand)), target: '', pass: undefined },
      { figure: 'full refresh / handmade (medians)', value: ratio.toFixed(2), target: `≤ ${TARGETS.ratio}`, pass: ratio <= TARGETS.ratio },
      { figure: 'full refresh / handmade (minimums)', value: (minOf(full) / minOf(hand)).toFixed(2), target: '', pass: undefined },
    ],
  };
}

/** The sections that run in their own process (bench/<name>.ts writes bench/out/<name>.json), and their markdown. */
const SECTIONS = {
  startup: startupMarkdown,
  delta: deltaMarkdown,
  'deletion-vectors': deletionVectorsMarkdown,
  postgres: postgresMarkdown,
  pgwire: pgwireMarkdown,
  schedule: scheduleMarkdown,
  serve: serveMarkdown,
  continuous: continuousMarkdown,
  incremental: incrementalMarkdown,
  race: raceMarkdown,
};
type Section = keyof typeof SECTIONS;
type SectionResults = { [K in Section]?: Parameters<(typeof SECTIONS)[K]>[0] };

/** Runs bench/<name>.ts in its own process and returns what it wrote to bench/out/<name>.json. */
async function section(name: Section): Promise<unknown> {
  const { stdout } = await measureNode(['--import', 'tsx', path.join(BENCH, `${name}.ts`)], ROOT);
  process.stdout.write(stdout);
  return JSON.parse(await fs.readFile(path.join(OUT, `${name}.json`), 'utf8')) as unknown;
}

if (process.argv[2] === '--handmade') {
  await handmadeChild();
} else if (process.argv[2] === '--handmade-daily') {
  await handmadeDailyChild();
} else {
  // --startup / --delta / --postgres / --pgwire / --schedule / --serve / --continuous / --incremental / --race: only that section, keeping the other figures of the last results.json
  // --flights: only the flights figures above, keeping the sections' figures of the last results.json
  const flightsOnly = process.argv.includes('--flights');
  const only = (Object.keys(SECTIONS) as Section[]).find((name) => process.argv.includes(`--${name}`));
  const previous = path.join(OUT, 'results.json');
  const last = ((only || flightsOnly) && existsSync(previous) ? JSON.parse(await fs.readFile(previous, 'utf8')) : {}) as Partial<Results> & SectionResults;
  const flights: Partial<Results> = only ? Object.fromEntries(Object.entries(last).filter(([k]) => !(k in SECTIONS))) : await bench();
  const sections: Record<string, unknown> = {};
  for (const name of Object.keys(SECTIONS) as Section[]) sections[name] = !flightsOnly && (!only || only === name) ? await section(name) : last[name];
  const results = { ...flights, ...sections };
  const report = [
    flights.checks ? markdown(flights as Results) : '',
    ...(Object.keys(SECTIONS) as Section[]).map((name) => (sections[name] ? (SECTIONS[name] as (r: unknown) => string)(sections[name]) : '')),
  ].filter((x) => x).join('\n');
  await fs.writeFile(path.join(OUT, 'results.md'), report);
  await fs.writeFile(previous, JSON.stringify(results, null, 2) + '\n');
  console.log('\n' + report);
  console.log(`written: ${path.relative(ROOT, path.join(OUT, 'results.md'))}, ${path.relative(ROOT, previous)}`);
}
