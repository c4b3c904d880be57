/**
 * Incremental gold (`npm run bench -- --incremental`, also part of `npm run bench`): the daily
 * run's time for `gold.route_monthly` computed incrementally, against its full recomputation of
 * the month, in the same daily runs over 182 days of flights (2001-01-01..2001-07-01).
 *
 * A scratch copy of examples/flights in bench/out/incremental (its landing zone linked) keeps
 * `gold.route_monthly` as the example has it — `replace partition` by month, each daily run
 * recomputing its whole month from silver.flights — and adds its incremental form beside it, one
 * dataset: `gold.route_monthly_incremental` (`incremental: true`, `merge` on (month, origin,
 * destination), partitioned by month). Each run reads only the rows silver.flights committed
 * since the version it last processed (the day the run loaded), aggregates them per route and
 * month, and merges that into the table: a new route is inserted, a known one accumulates
 * (`merge_update`: flights and the stored integer counts and sums of delay and distance added,
 * the averages recomputed from the sums before the update plus the batch's). Averages are the
 * integer sums divided by the counts, as DuckDB's avg divides, so the published columns (month,
 * origin, destination, flights, avg_delay_min, avg_distance_mi) must equal the recomputation's
 * row for row (EXCEPT ALL both ways, every month); otherwise the section fails.
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
import { flightsProject, measure, median, round } from './measure.js';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const OUT = path.join(BENCH, 'out');
const PROJECT = path.join(OUT, 'incremental');
const CLI = path.join(ROOT, 'dist', 'cli', 'bin.js');
const FIRST_DAY = '2001-01-01';
const LAST_DAY = '2001-07-01';

const MONTHLY_INCREMENTAL = `-- description: gold.route_monthly accumulated incrementally: each run merges the sums of the rows silver.flights committed since the last run
-- materialization: merge
-- incremental: true
-- key: month, origin, destination
-- partition_by: month
-- merge_update: flights = target.flights + source.flights
-- merge_update: delay_n = target.delay_n + source.delay_n
-- merge_update: delay_sum = target.delay_sum + source.delay_sum
-- merge_update: distance_n = target.distance_n + source.distance_n
-- merge_update: distance_sum = target.distance_sum + source.distance_sum
-- merge_update: avg_delay_min = (target.delay_sum + source.delay_sum) / nullif(target.delay_n + source.delay_n, 0)
-- merge_update: avg_distance_mi = (target.distance_sum + source.distance_sum) / nullif(target.distance_n + source.distance_n, 0)
SELECT
  CAST(date_trunc('month', flight_date) AS DATE) AS month,
  origin,
  destination,
  count(*) AS flights,
  count(delay_min) AS delay_n,
  CAST(coalesce(sum(delay_min), 0) AS BIGINT) AS delay_sum,
  count(distance_mi) AS distance_n,
  CAST(coalesce(sum(distance_mi), 0) AS BIGINT) AS distance_sum,
  avg(delay_min) AS avg_delay_min,
  avg(distance_mi) AS avg_distance_mi
FROM silver.flights
GROUP BY 1, origin, destination
`;

const COLUMNS = 'month, origin, destination, flights, avg_delay_min, avg_distance_mi';

/** What the section measured: step durations in ms (medians over the days named). */
export interface IncrementalResults {
  days: number;
  backfillS: number;
  /** Per form: median step time over all days, and over the days from the 15th of the month on. */
  fullMs: { all: number; late: number };
  incrementalMs: { all: number; late: number };
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
  await flightsProject(PROJECT);
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
      max(t.duration_ms) FILTER (WHERE t.dataset = 'gold.route_monthly_incremental') AS inc_ms,
      count(*) FILTER (WHERE t.dataset IN ('gold.route_monthly', 'gold.route_monthly_incremental') AND t.status = 'success') AS ran
    FROM _ingot.runs r JOIN _ingot.run_datasets t USING (run_id)
    WHERE r.mode = 'date' AND r.status = 'success' GROUP BY 1 ORDER BY 1`);
  const days = perDay.filter((d) => Number(d['ran']) === 2);
  if (days.length !== perDay.length || days.length !== 182) throw new Error(`expected 182 daily runs each running both forms, found ${days.length} of ${perDay.length}: ${JSON.stringify(perDay.filter((d) => Number(d['ran']) !== 2).slice(0, 3))}`);
  // measured and checked: the lake goes (kept when the section failed, to look into)
  await fs.rm(PROJECT, { recursive: true, force: true });
  const late = days.filter((d) => Number(String(d['day']).slice(8, 10)) >= 15);
  const full = (ds: typeof days): number[] => ds.map((d) => Number(d['full_ms']));
  const inc = (ds: typeof days): number[] => ds.map((d) => Number(d['inc_ms']));
  const ratios = (ds: typeof days): number[] => ds.map((d) => Number(d['inc_ms']) / Number(d['full_ms']));
  const r = {
    days: days.length, backfillS: round(backfill.wallS),
    fullMs: { all: median(full(days)), late: median(full(late)) },
    incrementalMs: { all: median(inc(days)), late: median(inc(late)) },
    ratio: { all: round(median(ratios(days))), late: round(median(ratios(late))) },
    rows, equal, loadAvg: { start: loadStart, end: loadEnd },
  };
  return {
    ...r,
    checks: [
      { figure: `gold.route_monthly, full recomputation of the month: step time, median of ${days.length} daily runs / from the 15th on`, value: `${r.fullMs.all} / ${r.fullMs.late} ms`, target: '', pass: undefined },
      { figure: 'gold.route_monthly incremental (one merge of the new rows\' sums, merge_update accumulating): median / from the 15th on', value: `${r.incrementalMs.all} / ${r.incrementalMs.late} ms`, target: '', pass: undefined },
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
