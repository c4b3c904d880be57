/**
 * The race (`npm run bench -- --race`, also part of `npm run bench`): the flights pipeline —
 * daily runs over the first INGOT_BENCH_RACE_DAYS days of 2001 (default 31, January; 182 is the whole
 * half year), then a full refresh of every table from all 3,000,000 rows — three ways, one after
 * the other on fresh lakes:
 *
 * 1. ingot on DuckDB (`ingot run --from --to`, then `ingot run --full-refresh`);
 * 2. ingot on Spark: the same project with `engine: 'spark'`, against a local Spark Connect
 *    server (pyspark 4 + delta-spark, local[2], 2 GB driver; its start-up timed apart): bronze
 *    reads files on DuckDB, silver and gold run and commit on Spark;
 * 3. the reference stack: bench/flights_pyspark.py, PySpark + delta-spark (local[2], 2 GB
 *    driver), the same steps with `replaceWhere` per day, then the full refresh.
 *
 * Peak memory is the summed RSS of each contestant's processes (ingot and the Spark server it
 * uses; Python and the JVM it launches), sampled every 250 ms. The three final lakes must hold
 * the same rows: row counts of every table and content hashes of the gold tables (doubles
 * rounded to 9 digits), read by ingot; otherwise the section fails.
 *
 * Writes bench/out/race.json.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { Lake } from '../src/table/lake.js';
import { queryLake } from '../src/operations/query.js';
import { addDays } from '../src/pipeline/interval.js';
import { prepare } from '../examples/flights/prepare.js';
import { startSparkConnect } from '../test/spark-connect-server.js';
import { flightsProject, lastJson, measure, type Measured, round } from './measure.js';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const EXAMPLE = path.join(ROOT, 'examples', 'flights');
const OUT = path.join(BENCH, 'out');
const RACE = path.join(OUT, 'race');
const CLI = path.join(ROOT, 'dist', 'cli', 'bin.js');
const FIRST_DAY = '2001-01-01';
const DAYS = Number(process.env['INGOT_BENCH_RACE_DAYS'] ?? 31);
const GOALS = { duckdbSpeedup: 10, sparkOverhead: 1.2 };

/** Tables compared across the three lakes; gold tables by content too (`content`: the columns, in order). */
const CHECKED: Record<string, string[] | undefined> = {
  'bronze.flights_raw': undefined,
  'silver.flights': undefined,
  'silver.flights_quarantine': undefined,
  'gold.airport_daily': ['flight_date', 'airport', 'departures', 'avg_delay_min', 'on_time_rate'],
  'gold.route_monthly': ['month', 'origin', 'destination', 'flights', 'avg_delay_min', 'avg_distance_mi'],
  'gold.top5_monthly': ['month', 'ranking', 'rank', 'subject', 'value'],
};

/** The DOUBLE columns among them, rounded: engines sum in different orders. */
const DOUBLES = new Set(['avg_delay_min', 'on_time_rate', 'avg_distance_mi', 'value']);

/** One contestant's figures: seconds, MB. */
export interface RaceEntry {
  name: string;
  /** Engine start-up outside the pipeline (the Spark Connect server; PySpark's session), when there is one. */
  startupS?: number;
  dailyS: number;
  fullRefreshS: number;
  /** Peak summed RSS of the contestant's processes over the daily runs and the full refresh. */
  peakRssMB: number;
}

export interface RaceResults {
  days: number;
  entries: RaceEntry[];
  /** Row counts (and gold content hashes) every lake matched. */
  fingerprint: Record<string, string>;
  checks: { figure: string; value: string; target: string; pass: boolean | undefined }[];
}

/** Row counts and gold content hashes of the lake in `dir`, read by ingot on DuckDB. */
async function fingerprint(dir: string): Promise<Record<string, string>> {
  const engine = await DuckDBEngine.open();
  try {
    const lake = new Lake(dir, engine);
    const out: Record<string, string> = {};
    for (const [table, content] of Object.entries(CHECKED)) {
      const line = content && `concat_ws('|', ${content.map((c) => (DOUBLES.has(c) ? `round(${c}, 9)` : c)).join(', ')})`;
      const sql = `SELECT count(*) AS n${line ? `, md5(string_agg(${line}, ';' ORDER BY ${line})) AS h` : ''} FROM ${table}`;
      const [row] = await queryLake(lake, engine, sql);
      out[`${table} rows`] = String(row!['n']);
      if (line) out[`${table} md5`] = String(row!['h']);
    }
    return out;
  } finally {
    await engine.close();
  }
}

function assertSame(label: string, a: Record<string, string>, b: Record<string, string>): void {
  const diffs = Object.keys(b).filter((k) => a[k] !== b[k]).map((k) => `  ${k}: ${a[k]} vs ${b[k]}`);
  if (diffs.length > 0) throw new Error(`${label}: the lakes differ, the race is not apples to apples:\n${diffs.join('\n')}`);
}

const peak = (...ms: Measured[]): number => Math.max(...ms.map((m) => m.peakTreeRssMB ?? m.peakRssMB));

/** ingot in `dir`: the daily runs, then a full refresh; `tree` adds processes (the Spark server) to the memory figure. */
async function ingot(dir: string, last: string, tree: number[] = []): Promise<{ daily: Measured; full: Measured }> {
  const daily = await measure(process.execPath, [CLI, 'run', '-p', '.', '--from', FIRST_DAY, '--to', last], dir, { tree });
  const full = await measure(process.execPath, [CLI, 'run', '-p', '.', '--full-refresh'], dir, { tree });
  return { daily, full };
}

async function race(): Promise<RaceResults> {
  const last = addDays(FIRST_DAY, DAYS - 1);
  console.log(`race: flights, ${DAYS} daily runs (${FIRST_DAY}..${last}) and a full refresh`);
  await prepare(EXAMPLE);
  const entries: RaceEntry[] = [];
  const prints: [string, Record<string, string>][] = [];

  const duck = path.join(RACE, 'duckdb');
  await flightsProject(duck, "import { defineConfig } from 'ingot';\nexport default defineConfig({ name: 'flights', lake: './lake', engine: { memoryLimit: '1GB', spillDirectory: './.ingot/spill' } });\n");
  const d = await ingot(duck, last);
  entries.push({ name: 'ingot on DuckDB', dailyS: round(d.daily.wallS), fullRefreshS: round(d.full.wallS), peakRssMB: round(peak(d.daily, d.full), 0) });
  prints.push(['ingot on DuckDB', await fingerprint(path.join(duck, 'lake'))]);
  console.log(`  ingot on DuckDB: daily ${d.daily.wallS.toFixed(1)} s, full refresh ${d.full.wallS.toFixed(1)} s`);

  const sparkDir = path.join(RACE, 'spark');
  await flightsProject(sparkDir, "import { defineConfig } from 'ingot';\nexport default defineConfig({ name: 'flights', lake: './lake', engine: 'spark', spark: { url: 'env:INGOT_RACE_SPARK_REMOTE' } });\n");
  const server = await startSparkConnect({}, { driverMemory: '2g' });
  try {
    process.env['INGOT_RACE_SPARK_REMOTE'] = server.url;
    const s = await ingot(sparkDir, last, [server.pid]);
    entries.push({ name: 'ingot on Spark (Spark Connect)', startupS: round(server.startupMs / 1000), dailyS: round(s.daily.wallS), fullRefreshS: round(s.full.wallS), peakRssMB: round(peak(s.daily, s.full), 0) });
    console.log(`  ingot on Spark: server start-up ${(server.startupMs / 1000).toFixed(1)} s, daily ${s.daily.wallS.toFixed(1)} s, full refresh ${s.full.wallS.toFixed(1)} s`);
  } finally {
    await server.stop();
  }
  prints.push(['ingot on Spark', await fingerprint(path.join(sparkDir, 'lake'))]);

  const py = path.join(RACE, 'pyspark');
  await fs.rm(py, { recursive: true, force: true });
  await fs.mkdir(py, { recursive: true });
  const p = await measure('python3', [path.join(BENCH, 'flights_pyspark.py'), path.join(EXAMPLE, 'landing'), path.join(py, 'lake'), FIRST_DAY, last], py, { tree: [] });
  const reported = lastJson<{ startup_s: number; daily_s: number; full_refresh_s: number }>(p, 'bench/flights_pyspark.py');
  entries.push({ name: 'PySpark + delta-spark script', startupS: reported.startup_s, dailyS: reported.daily_s, fullRefreshS: reported.full_refresh_s, peakRssMB: round(peak(p), 0) });
  console.log(`  PySpark: start-up ${reported.startup_s} s, daily ${reported.daily_s} s, full refresh ${reported.full_refresh_s} s (process ${p.wallS.toFixed(1)} s)`);
  prints.push(['PySpark', await fingerprint(path.join(py, 'lake'))]);

  for (const [label, print] of prints.slice(1)) assertSame(`${label} vs ${prints[0]![0]}`, print, prints[0]![1]);
  await fs.rm(RACE, { recursive: true, force: true });

  const [duckE, sparkE, pyE] = entries as [RaceEntry, RaceEntry, RaceEntry];
  const total = (e: RaceEntry): number => e.dailyS + e.fullRefreshS;
  const speedup = total(pyE) / total(duckE);
  const overhead = total(sparkE) / total(pyE);
  return {
    days: DAYS,
    entries,
    fingerprint: prints[0]![1],
    checks: [
      { figure: 'PySpark / ingot on DuckDB (daily runs + full refresh)', value: `${speedup.toFixed(1)}×`, target: `≥ ${GOALS.duckdbSpeedup}×`, pass: speedup >= GOALS.duckdbSpeedup },
      { figure: 'PySpark / ingot on DuckDB, daily runs', value: `${(pyE.dailyS / duckE.dailyS).toFixed(1)}×`, target: '', pass: undefined },
      { figure: 'PySpark / ingot on DuckDB, full refresh', value: `${(pyE.fullRefreshS / duckE.fullRefreshS).toFixed(1)}×`, target: '', pass: undefined },
      { figure: 'ingot on Spark / PySpark (daily runs + full refresh)', value: overhead.toFixed(2), target: `≤ ${GOALS.sparkOverhead}`, pass: overhead <= GOALS.sparkOverhead },
      { figure: 'ingot on Spark / PySpark, daily runs', value: (sparkE.dailyS / pyE.dailyS).toFixed(2), target: '', pass: undefined },
      { figure: 'ingot on Spark / PySpark, full refresh', value: (sparkE.fullRefreshS / pyE.fullRefreshS).toFixed(2), target: '', pass: undefined },
    ],
  };
}

/** The section as markdown. */
export function raceMarkdown(r: RaceResults): string {
  return [
    `## The race: flights, ${r.days} daily runs and a full refresh (3,000,000 rows)`,
    '',
    '| contestant | start-up (s) | daily runs (s) | per day (s) | full refresh (s) | peak memory (MB) |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...r.entries.map((e) => `| ${e.name} | ${e.startupS ?? ''} | ${e.dailyS} | ${(e.dailyS / r.days).toFixed(2)} | ${e.fullRefreshS} | ${e.peakRssMB} |`),
    '',
    '| figure | value | target | result |',
    '| --- | ---: | ---: | --- |',
    ...r.checks.map((c) => `| ${c.figure} | ${c.value} | ${c.target} | ${c.pass === undefined ? '' : c.pass ? 'pass' : '**FAIL**'} |`),
    '',
    `The three lakes held the same rows: ${Object.entries(r.fingerprint).filter(([k]) => k.endsWith('rows')).map(([k, v]) => `${k.replace(/ rows$/, '')} ${Number(v).toLocaleString('en-US')}`).join(', ')}; gold content hashes equal.`,
    '',
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const loadBefore = os.loadavg()[0]!;
  if (loadBefore > os.cpus().length / 2) console.warn(`note: load average ${loadBefore.toFixed(1)} on ${os.cpus().length} CPUs: other work is running, figures will be noisy`);
  const results = await race();
  await fs.mkdir(OUT, { recursive: true });
  await fs.writeFile(path.join(OUT, 'race.json'), JSON.stringify(results, null, 2) + '\n');
  console.log(raceMarkdown(results));
}
