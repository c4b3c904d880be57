/**
 * Lays out the real input the way an upstream system would deliver it: one CSV file per day under
 * `landing/flights/date=YYYY-MM-DD/flights.csv` (from vega-datasets' flights-3m.parquet, 3,000,000
 * US flights of 2001-01-01..2001-07-01) and `landing/airports/airports.csv`.
 */
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** Folder of vega-datasets' data files. */
export function vegaData(): string {
  // the package exports only its JS entry (build/index.js); the data folder sits beside build/
  return path.join(path.dirname(require.resolve('vega-datasets')), '..', 'data');
}

/** Writes the landing zone under `projectDir` (default: this example) unless it is already complete. Returns the number of day files. */
export async function prepare(projectDir = here, options: { force?: boolean } = {}): Promise<number> {
  const landing = path.join(projectDir, 'landing');
  const flightsDir = path.join(landing, 'flights');
  const marker = path.join(landing, '.complete');
  if (!options.force && (await fs.access(marker).then(() => true, () => false))) {
    return (await fs.readdir(flightsDir)).length;
  }
  await fs.rm(landing, { recursive: true, force: true });
  await fs.mkdir(path.join(landing, 'airports'), { recursive: true });
  const staging = path.join(landing, '.staging');
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    const source = path.join(vegaData(), 'flights-3m.parquet').replace(/'/g, "''");
    // one file per day: keep every day's file open while writing (182 > DuckDB's default of 100)
    await conn.run('SET partitioned_write_max_open_files = 1000');
    await conn.run(`COPY (
        SELECT strftime(date, '%Y-%m-%d %H:%M:%S') AS date, delay, distance, origin, destination, CAST(date AS DATE) AS day
        FROM read_parquet('${source}') ORDER BY date)
      TO '${staging}' (FORMAT csv, HEADER, PARTITION_BY (day), FILENAME_PATTERN 'flights{i}')`);
  } finally {
    conn.closeSync();
    db.closeSync();
  }
  await fs.mkdir(flightsDir, { recursive: true });
  let days = 0;
  for (const dir of (await fs.readdir(staging)).sort()) {
    const day = dir.replace(/^day=/, '');
    const parts = await fs.readdir(path.join(staging, dir));
    if (parts.length !== 1) throw new Error(`expected one file for ${day}, DuckDB wrote ${parts.join(', ')}`);
    await fs.mkdir(path.join(flightsDir, `date=${day}`));
    await fs.rename(path.join(staging, dir, parts[0]!), path.join(flightsDir, `date=${day}`, 'flights.csv'));
    days++;
  }
  await fs.rm(staging, { recursive: true, force: true });
  await fs.copyFile(path.join(vegaData(), 'airports.csv'), path.join(landing, 'airports', 'airports.csv'));
  await fs.writeFile(marker, `${days} days\n`);
  return days;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const days = await prepare(here, { force: process.argv.includes('--force') });
  console.log(`landing zone ready: ${days} daily files in ${path.join(here, 'landing/flights')}`);
}
