/**
 * The flights demo: lays out the landing zone, backfills all 182 days through
 * bronze → silver → gold, then prints and writes the monthly top-5 report.
 *
 *     npm run demo
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBEngine, Lake, main, queryLake } from 'ingot';
import { prepare } from './prepare.js';

const project = path.dirname(fileURLToPath(import.meta.url));
const FIRST_DAY = '2001-01-01';
const LAST_DAY = '2001-07-01';

interface ReportRow {
  month: string;
  ranking: string;
  rank: number;
  subject: string;
  value: number;
}

/** Writes `reports/top5/month=YYYY-MM/report.csv` for each month and returns the rows. */
export async function writeTop5Report(projectDir: string): Promise<ReportRow[]> {
  const engine = await DuckDBEngine.open();
  try {
    const lake = new Lake(path.join(projectDir, 'lake'));
    const rows = (await queryLake(lake, engine, `SELECT strftime(month, '%Y-%m') AS month, ranking, rank, subject, value FROM gold.top5_monthly ORDER BY month, ranking, rank`)) as unknown as ReportRow[];
    const months = [...new Set(rows.map((r) => r.month))];
    for (const month of months) {
      const dir = path.join(projectDir, 'reports', 'top5', `month=${month}`);
      await fs.mkdir(dir, { recursive: true });
      const lines = ['ranking,rank,subject,value', ...rows.filter((r) => r.month === month).map((r) => `${r.ranking},${r.rank},${r.subject},${r.value}`)];
      await fs.writeFile(path.join(dir, 'report.csv'), lines.join('\n') + '\n');
    }
    return rows;
  } finally {
    await engine.close();
  }
}

/** Per month of silver.flights: the days with flights, and the days of the month. */
async function coverage(projectDir: string): Promise<Map<string, { days: number; ofDays: number; flights: number }>> {
  const engine = await DuckDBEngine.open();
  try {
    const lake = new Lake(path.join(projectDir, 'lake'));
    const rows = await queryLake(lake, engine, `SELECT strftime(flight_date, '%Y-%m') AS month, count(DISTINCT flight_date) AS days,
      CAST(date_part('day', last_day(min(flight_date))) AS INTEGER) AS of_days, count(*) AS flights FROM silver.flights GROUP BY ALL`);
    return new Map(rows.map((r) => [String(r['month']), { days: Number(r['days']), ofDays: Number(r['of_days']), flights: Number(r['flights']) }]));
  } finally {
    await engine.close();
  }
}

function printReport(rows: ReportRow[], covered: Map<string, { days: number; ofDays: number; flights: number }>): void {
  const months = [...new Set(rows.map((r) => r.month))];
  for (const month of months) {
    const of = (ranking: string) => rows.filter((r) => r.month === month && r.ranking === ranking);
    const c = covered.get(month);
    // the data ends on 2001-07-01: July is one day of flights, said plainly
    const partial = c && c.days < c.ofDays ? ` (partial month: ${c.days} of ${c.ofDays} days, ${c.flights.toLocaleString('en-US')} flights)` : '';
    console.log(`\n${month}${partial}`);
    console.log(`  busiest routes (flights)          highest average delay (min, >= 1,000 departures)`);
    const routes = of('busiest_route');
    const airports = of('highest_avg_delay_airport');
    for (let i = 0; i < Math.max(routes.length, airports.length); i++) {
      const r = routes[i];
      const a = airports[i];
      const left = r ? `${i + 1}. ${r.subject.padEnd(9)} ${String(r.value).padStart(6)}` : '';
      const right = a ? `${i + 1}. ${a.subject.padEnd(4)} ${a.value.toFixed(2).padStart(6)}` : '';
      console.log(`  ${left.padEnd(33)}  ${right}`);
    }
  }
}

const days = await prepare(project);
console.log(`landing zone: ${days} daily CSV files under ${path.relative(process.cwd(), path.join(project, 'landing'))}`);
const code = await main(['run', '--project', project, '--from', FIRST_DAY, '--to', LAST_DAY]);
if (code !== 0) process.exit(code);
const rows = await writeTop5Report(project);
console.log(`\nTop 5 per month (also in ${path.relative(process.cwd(), path.join(project, 'reports', 'top5'))}/month=YYYY-MM/report.csv)`);
printReport(rows, await coverage(project));
