/**
 * Scheduler overhead (`npm run bench -- --schedule`, also part of `npm run bench`): 1,000 daily
 * intervals of a pipeline with one trivial dataset (one row per date, appended), on a fresh lake
 * and metadata store each time:
 *
 * 1. the runner alone (`Runner.runAll` over the 1,000 dates, in process): the cost of the runs;
 * 2. `backfill` of the pipeline (in process): leases, run and task records, task logs, sensors;
 * 3. `ingot backfill` as a command (a process, startup included).
 *
 * 1 and 2 alternate, twice each; the minimum of each counts. Overhead per interval =
 * (backfill − runner alone) / 1,000. Both must leave 1,000 rows and
 * 1,000 successful runs.
 *
 * 4. The same backfill in Apache Airflow (bench/airflow_backfill.py: standalone, SQLite,
 *    SequentialExecutor, a one-task DAG appending one row per date; from the virtualenv
 *    bench/out/airflow-venv, see bench/requirements-airflow.txt), over the first
 *    INGOT_BENCH_AIRFLOW_INTERVALS dates (default 100: Airflow takes seconds per interval, 1,000
 *    would take most of an hour). Compared per interval with 3. If Airflow is missing or fails,
 *    the section records why instead.
 *
 * Writes bench/out/schedule.json.
 */
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadProject } from '../src/project.js';
import { Runner } from '../src/run/runner.js';
import { backfill } from '../src/schedule/backfill.js';
import { intervalsBetween } from '../src/schedule/calendar.js';
import { pipelineNamed } from '../src/schedule/pipeline.js';
import { openMetadata } from '../src/metadata/open.js';
import { measure, round } from './measure.js';
import { attachTables } from '../src/operations/query.js';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const OUT = path.join(BENCH, 'out');
const PROJECT = path.join(OUT, 'schedule');
const FROM = '2021-01-01';
const TO = '2023-09-27';
const TARGET_MS = 50;
const REPEATS = 2;
const AIRFLOW_PYTHON = path.join(OUT, 'airflow-venv', 'bin', 'python');
const AIRFLOW_INTERVALS = Number(process.env['INGOT_BENCH_AIRFLOW_INTERVALS'] ?? 100);

/** Airflow's backfill (bench/airflow_backfill.py): its figures, or why it could not run. */
export type AirflowResults =
  | { airflow: string; intervals: number; setupS: number; backfillS: number; msPerInterval: number }
  | { error: string };

/** What the section measured (seconds and milliseconds as named). */
export interface ScheduleResults {
  intervals: number;
  runnerS: number;
  backfillS: number;
  cliS: number;
  overheadMsPerInterval: number;
  backfillMsPerInterval: number;
  airflow: AirflowResults;
  checks: { figure: string; value: string; target: string; pass: boolean | undefined }[];
}

async function freshProject(): Promise<void> {
  await fs.rm(PROJECT, { recursive: true, force: true });
  await fs.mkdir(path.join(PROJECT, 'datasets', 'bronze'), { recursive: true });
  await fs.writeFile(path.join(PROJECT, 'ingot.config.ts'), "export default { lake: './lake', pipelines: [{ name: 'ticks' }] };\n");
  await fs.writeFile(path.join(PROJECT, 'datasets', 'bronze', 'ticks.sql'), '-- materialization: append\nSELECT {{logical_date}} AS day, 1 AS x\n');
}

/** Rows in bronze.ticks and successful runs recorded; throws unless both equal `n`. */
async function check(n: number): Promise<void> {
  const project = await loadProject(PROJECT);
  const runner = await Runner.open(project);
  try {
    await attachTables(runner.lake, runner.engine, ['bronze.ticks']);
    const [row] = await runner.engine.query('SELECT count(*) AS n, count(DISTINCT day) AS days FROM bronze.ticks');
    const runs = await openMetadata(project);
    const ok = (await runs.runs()).filter((r) => r.status === 'success').length;
    await runs.close();
    if (Number(row!['n']) !== n || Number(row!['days']) !== n || ok !== n) throw new Error(`expected ${n} rows, days and runs; got ${JSON.stringify(row)}, ${ok} runs`);
  } finally {
    await runner.close();
  }
}

/** The section; see the file comment. */
export async function scheduleBench(): Promise<ScheduleResults> {
  const dates = intervalsBetween(FROM, TO, 'daily');
  const runnerTimes: number[] = [];
  const backfillTimes: number[] = [];
  // alternately, twice each: the minimum of each is less sensitive to other work on the machine
  for (let round = 0; round < REPEATS; round++) {
    await freshProject();
    const runner = await Runner.open(await loadProject(PROJECT));
    let t0 = performance.now();
    const plain = await runner.runAll(dates);
    runnerTimes.push((performance.now() - t0) / 1000);
    await runner.close();
    if (plain.some((r) => r.status !== 'success')) throw new Error('a plain run failed');
    await check(dates.length);
    console.log(`runner alone: ${dates.length} runs in ${runnerTimes.at(-1)!.toFixed(1)} s`);

    await freshProject();
    const project = await loadProject(PROJECT);
    const store = await openMetadata(project);
    t0 = performance.now();
    const r = await backfill(project, store, pipelineNamed(project, 'ticks'), FROM, TO);
    backfillTimes.push((performance.now() - t0) / 1000);
    await store.close();
    if (r.runs.length !== dates.length || r.runs.some((x) => x.status !== 'success')) throw new Error('the backfill did not run every interval');
    await check(dates.length);
    console.log(`backfill: ${dates.length} intervals in ${backfillTimes.at(-1)!.toFixed(1)} s`);
  }
  const runnerS = Math.min(...runnerTimes);
  const backfillS = Math.min(...backfillTimes);

  await freshProject();
  const cli = await measure(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'cli', 'bin.ts'), 'backfill', 'ticks', '-p', PROJECT, '--from', FROM, '--to', TO], ROOT);
  await check(dates.length);
  console.log(`ingot backfill (process): ${cli.wallS.toFixed(1)} s`);

  const airflow = await airflowBackfill(dates.slice(0, AIRFLOW_INTERVALS));
  console.log(`Airflow backfill: ${'error' in airflow ? airflow.error : `${airflow.intervals} intervals in ${airflow.backfillS} s`}`);

  const overhead = ((backfillS - runnerS) * 1000) / dates.length;
  const per = (backfillS * 1000) / dates.length;
  const cliPer = (cli.wallS * 1000) / dates.length;
  const n = dates.length.toLocaleString('en-US');
  return {
    intervals: dates.length, runnerS: round(runnerS), backfillS: round(backfillS), cliS: round(cli.wallS),
    overheadMsPerInterval: round(overhead), backfillMsPerInterval: round(per), airflow,
    checks: [
      { figure: `backfill of ${n} daily intervals, one trivial dataset (in process)`, value: `${backfillS.toFixed(1)} s (${per.toFixed(1)} ms per interval)`, target: '', pass: undefined },
      { figure: 'same dates through the runner alone', value: `${runnerS.toFixed(1)} s`, target: '', pass: undefined },
      { figure: 'scheduler overhead per interval (leases, records, logs)', value: `${overhead.toFixed(1)} ms`, target: `< ${TARGET_MS} ms`, pass: overhead < TARGET_MS },
      { figure: 'whole backfill per interval (runs included)', value: `${per.toFixed(1)} ms`, target: `< ${TARGET_MS} ms`, pass: per < TARGET_MS },
      { figure: '`ingot backfill` as a process (startup included)', value: `${cli.wallS.toFixed(1)} s (${cliPer.toFixed(1)} ms per interval)`, target: '', pass: undefined },
      'error' in airflow
        ? { figure: 'same backfill in Apache Airflow', value: `could not run: ${airflow.error.replace(/\s+/g, ' ').replace(/\|/g, '\\|').slice(0, 300)}`, target: '', pass: undefined }
        : { figure: `same backfill in Apache Airflow ${airflow.airflow} (\`airflow dags backfill\`, SQLite, SequentialExecutor; first ${airflow.intervals} dates)`, value: `${airflow.backfillS.toFixed(1)} s (${airflow.msPerInterval.toFixed(0)} ms per interval)`, target: '', pass: undefined },
      ...('error' in airflow ? [] : [{ figure: 'per interval: `ingot backfill` / Airflow', value: `${(cliPer / airflow.msPerInterval).toFixed(4)} (Airflow ${(airflow.msPerInterval / cliPer).toFixed(0)}× slower)`, target: '', pass: undefined }]),
    ],
  };
}

/** bench/airflow_backfill.py over `dates` (consecutive days) in bench/out/airflow, or why it could not run. */
async function airflowBackfill(dates: string[]): Promise<AirflowResults> {
  if (!existsSync(AIRFLOW_PYTHON)) return { error: `no ${path.relative(ROOT, AIRFLOW_PYTHON)}: install it as bench/requirements-airflow.txt says` };
  try {
    const m = await measure(AIRFLOW_PYTHON, [path.join(BENCH, 'airflow_backfill.py'), path.join(OUT, 'airflow'), dates[0]!, dates.at(-1)!], ROOT);
    return JSON.parse(m.stdout.trim().split('\n').pop()!) as AirflowResults;
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** The section as markdown. */
export function scheduleMarkdown(r: ScheduleResults): string {
  return [
    '## Scheduler (bench/schedule.ts)',
    '',
    '| figure | value | target | result |',
    '| --- | ---: | ---: | --- |',
    ...r.checks.map((c) => `| ${c.figure} | ${c.value} | ${c.target} | ${c.pass === undefined ? '' : c.pass ? 'pass' : '**FAIL**'} |`),
    '',
    `Each measurement starts from an empty lake and metadata store and checks ${r.intervals} rows, dates and successful runs afterwards; ` +
      "Airflow's starts from an empty AIRFLOW_HOME (`airflow db migrate` not timed) and checks one row and one successful DAG run per date.",
  ].join('\n') + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const results = await scheduleBench();
  await fs.writeFile(path.join(OUT, 'schedule.json'), JSON.stringify({ machine: { cpus: os.cpus().length, loadAvg: os.loadavg()[0] }, ...results }, null, 2) + '\n');
  console.log('\n' + scheduleMarkdown(results));
}
