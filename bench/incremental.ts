/**
 * Incremental gold (`npm run bench -- --incremental`, also part of `npm run bench`): the daily
 * run's time for `gold.route_monthly` computed incrementally, against its full recomputation of
 * the month, in the same daily runs over 182 days of flights (2001-01-01..2001-07-01).
 *
 * A scratch copy of examples/flights in bench/out/incremental (its landing zone linked) keeps
 * `gold.route_monthly` as the example has it — `replace partition` by month, each daily run
 * recomputing its whole month from silver.flights — and adds its incremental form beside it:
 *
 * - `gold.route_day_sums` (`incremental: true`, `append`): each run reads only the rows
 *   silver.flights committed since the version it last processed (the day the run loaded) and
 *   appends their flights and the integer sums of delay and distance per (month, origin,
 *   destination, flight_date);
 * - `gold.route_monthly_incremental` (`replace partition` by month): the month's routes from
 *   those sums, about a thousandth of silver's rows.
 *
 * ingot cannot yet merge an aggregate into itself (`merge` inserts only, `apply changes` replaces
 * a row by its change, and a dataset's query may not read its own table), so the incremental
 * form is these two steps, and its time is their sum. Averages are the integer sums divided by
 * the counts, as DuckDB's avg divides, so the two tables must be equal row for row (EXCEPT ALL
 * both ways, every month); otherwise the section fails.
 *
 * One `ingot run --from --to` runs both forms in every daily run (steps run one after the
 * other); step durations come from `_ingot.run_datasets`. Medians over all 182 days and over the
 * days from the 15th of a month on (the full recomputation reads at least 15 days there), the
 * load average before and after. Writes bench/out/incremental.json.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepare } from '../examples/flights/prepare.js';
import { measure, median, round } from './measure.js';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const EXAMPLE = path.join(ROOT, 'examples', 'flights');
const OUT = path.join(BENCH, 'out');
const PROJECT = path.join(OUT, 'incremental');
const CLI = path.join(ROOT, 'dist', 'cli', 'bin.js');
const FIRST_DAY = '2001-01-01';
const LAST_DAY = '2001-07-01';

const DAY_SUMS = `-- description: flights and integer sums of delay and distance per route and day, from the rows silver.flights committed since the last run
-- materialization: append
-- incremental: true
-- partition_by: month
SELECT
  CAST(date_trunc('month', flight_date) AS DATE) AS month,
  flight_date,
  origin,
  destination,
  count(*) AS flights,
  count(delay_min) AS delay_n,
  CAST(sum(delay_min) AS BIGINT) AS delay_sum,
  count(distance_mi) AS distance_n,
  CAST(sum(distance_mi) AS BIGINT) AS distance_sum
FROM silver.flights
GROUP BY ALL
`;

const MONTHLY_INCREMENTAL = `-- description: gold.route_monthly from gold.route_day_sums (the incremental form)
-- materialization: replace partition
-- partition_by: month
-- grain: month
SELECT
  month,
  origin,
  destination,
  sum(flights) AS flights,
  sum(delay_sum) / sum(delay_n) AS avg_delay_min,
  sum(distance_sum) / sum(distance_n) AS avg_distance_mi
FROM gold.route_day_sums
WHERE month >= {{start}} AND month < {{end}}
GROUP BY month, origin, destination
`;

const COLUMNS = 'month, origin, destination, flights, avg_delay_min, avg_distance_mi';

/** What the section measured: step durations in ms (medians over the days named). */
export interface IncrementalResults {
  days: number;
  backfillS: number;
  /** Per form: median step time over all days, and over the days from the 15th of the month on. */
  fullMs: { all: number; late: number };
  incrementalMs: { all: number; late: number; daySums: number; monthly: number };
  /** incremental / full, medians of the per-day ratios. */
  ratio: { all: number; late: number };
  rows: number;
  equal: boolean;
  loadAvg: { start: number; end: number };
  checks: { figure: string; value: string; target: string; pass: boolean | undefined }[];
}

async function sql(query: string): Promise<Record<string, unknown>[]> {
  const { stdout } = await measure(process.execPath, [CLI, 'sql', '-p', '.', '--format', 'json', query], PROJECT);
  return JSON.parse(stdout) as Record<string, unknown>[];
}

async function incremental(): Promise<IncrementalResults> {
  await prepare(EXAMPLE);
  await fs.rm(PROJECT, { recursive: true, force: true });
  await fs.mkdir(PROJECT, { recursive: true });
  await fs.copyFile(path.join(EXAMPLE, 'ingot.config.ts'), path.join(PROJECT, 'ingot.config.ts'));
  await fs.cp(path.join(EXAMPLE, 'datasets'), path.join(PROJECT, 'datasets'), { recursive: true });
  await fs.symlink(path.join(EXAMPLE, 'landing'), path.join(PROJECT, 'landing'), 'dir');
  await fs.writeFile(path.join(PROJECT, 'datasets', 'gold', 'route_day_sums.sql'), DAY_SUMS);
  await fs.writeFile(path.join(PROJECT, 'datasets', 'gold', 'route_monthly_incremental.sql'), MONTHLY_INCREMENTAL);

  const loadStart = round(os.loadavg()[0]!);
  console.log(`incremental: ${FIRST_DAY}..${LAST_DAY}, gold.route_monthly recomputed and incremental in every daily run (load average ${loadStart})`);
  const backfill = await measure(process.execPath, [CLI, 'run', '-p', '.', '--from', FIRST_DAY, '--to', LAST_DAY], PROJECT);
  const loadEnd = round(os.loadavg()[0]!);

  const [cmp] = await sql(`SELECT (SELECT count(*) FROM gold.route_monthly) AS full_rows, (SELECT count(*) FROM gold.route_monthly_incremental) AS inc_rows,
      (SELECT count(*) FROM (SELECT ${COLUMNS} FROM gold.route_monthly EXCEPT ALL SELECT ${COLUMNS} FROM gold.route_monthly_incremental)) AS missing,
      (SELECT count(*) FROM (SELECT ${COLUMNS} FROM gold.route_monthly_incremental EXCEPT ALL SELECT ${COLUMNS} FROM gold.route_monthly)) AS extra,
      (SELECT count(DISTINCT month) FROM gold.route_monthly_incremental) AS months`);
  const rows = Number(cmp!['full_rows']);
  const equal = rows > 0 && Number(cmp!['inc_rows']) === rows && Number(cmp!['missing']) === 0 && Number(cmp!['extra']) === 0 && Number(cmp!['months']) === 7;
  if (!equal) throw new Error(`the incremental gold.route_monthly differs from its recomputation: ${JSON.stringify(cmp)}`);

  // per daily run: each form's step time; every form must have run (not skipped) every day
  const perDay = await sql(`SELECT r.logical_date AS day,
      max(t.duration_ms) FILTER (WHERE t.dataset = 'gold.route_monthly') AS full_ms,
      max(t.duration_ms) FILTER (WHERE t.dataset = 'gold.route_day_sums') AS sums_ms,
      max(t.duration_ms) FILTER (WHERE t.dataset = 'gold.route_monthly_incremental') AS monthly_ms,
      count(*) FILTER (WHERE t.dataset IN ('gold.route_monthly', 'gold.route_day_sums', 'gold.route_monthly_incremental') AND t.status = 'success') AS ran
    FROM _ingot.runs r JOIN _ingot.run_datasets t USING (run_id)
    WHERE r.mode = 'date' AND r.status = 'success' GROUP BY 1 ORDER BY 1`);
  const days = perDay.filter((d) => Number(d['ran']) === 3);
  if (days.length !== perDay.length || days.length !== 182) throw new Error(`expected 182 daily runs each running both forms, found ${days.length} of ${perDay.length}: ${JSON.stringify(perDay.filter((d) => Number(d['ran']) !== 3).slice(0, 3))}`);
  // measured and checked: the lake goes (kept when the section failed, to look into)
  await fs.rm(PROJECT, { recursive: true, force: true });
  const late = days.filter((d) => Number(String(d['day']).slice(8, 10)) >= 15);
  const full = (ds: typeof days): number[] => ds.map((d) => Number(d['full_ms']));
  const inc = (ds: typeof days): number[] => ds.map((d) => Number(d['sums_ms']) + Number(d['monthly_ms']));
  const ratios = (ds: typeof days): number[] => ds.map((d) => (Number(d['sums_ms']) + Number(d['monthly_ms'])) / Number(d['full_ms']));
  const r = {
    days: days.length, backfillS: round(backfill.wallS),
    fullMs: { all: median(full(days)), late: median(full(late)) },
    incrementalMs: { all: median(inc(days)), late: median(inc(late)), daySums: median(days.map((d) => Number(d['sums_ms']))), monthly: median(days.map((d) => Number(d['monthly_ms']))) },
    ratio: { all: round(median(ratios(days))), late: round(median(ratios(late))) },
    rows, equal, loadAvg: { start: loadStart, end: loadEnd },
  };
  return {
    ...r,
    checks: [
      { figure: `gold.route_monthly, full recomputation of the month: step time, median of ${days.length} daily runs / from the 15th on`, value: `${r.fullMs.all} / ${r.fullMs.late} ms`, target: '', pass: undefined },
      { figure: 'gold.route_monthly incremental (route_day_sums + route_monthly_incremental): median / from the 15th on', value: `${r.incrementalMs.all} / ${r.incrementalMs.late} ms`, target: '', pass: undefined },
      { figure: 'incremental steps: route_day_sums / route_monthly_incremental (medians)', value: `${r.incrementalMs.daySums} / ${r.incrementalMs.monthly} ms`, target: '', pass: undefined },
      { figure: `incremental / full recomputation (median of per-day ratios; load average ${loadStart} → ${loadEnd})`, value: `${r.ratio.all.toFixed(2)} (from the 15th on ${r.ratio.late.toFixed(2)})`, target: '', pass: undefined },
      { figure: `incremental result equal to the recomputation, row for row (${rows.toLocaleString('en-US')} rows, 7 months)`, value: equal ? 'yes' : 'no', target: 'yes', pass: equal },
    ],
  };
}

/** The section as markdown. */
export function incrementalMarkdown(r: IncrementalResults): string {
  return [
    `## Incremental gold: gold.route_monthly over ${r.days} daily runs (bench/incremental.ts)`,
    '',
    `One backfill (${r.backfillS} s) runs both forms in every daily run; step times from \`_ingot.run_datasets\`.`,
    '',
    '| figure | value | target | result |',
    '| --- | ---: | ---: | --- |',
    ...r.checks.map((c) => `| ${c.figure} | ${c.value} | ${c.target} | ${c.pass === undefined ? '' : c.pass ? 'pass' : '**FAIL**'} |`),
    '',
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const results = await incremental();
  await fs.mkdir(OUT, { recursive: true });
  await fs.writeFile(path.join(OUT, 'incremental.json'), JSON.stringify({ machine: { cpus: os.cpus().length }, ...results }, null, 2) + '\n');
  console.log(incrementalMarkdown(results));
}
