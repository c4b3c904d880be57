/**
 * The PostgreSQL section of `npm run bench`: an incremental load of 5,000,000 rows from a real
 * PostgreSQL 15 (test/postgres-server.ts) into a bronze Delta table, by ingot's PostgreSQL source
 * (`cursor: 'id'`, materialization append) and, side by side in the same run, by dlt (PyPI `dlt`:
 * `sql_table` with the pyarrow backend and `dlt.sources.incremental('id')`, filesystem destination
 * with `table_format="delta"`; bench/dlt_load.py).
 *
 * 1. `public.orders` is generated in PostgreSQL with generate_series under `setseed` (ids,
 *    customer ids, branch and status text, timestamptz, numeric(12,2) amounts, smallint, double,
 *    nullable text, jsonb): the first 4,500,000 rows;
 * 2. first load: each tool loads them into its own empty table (one process each, measured: wall
 *    time, peak RSS);
 * 3. 500,000 new rows are inserted (ids above the first ones); second load: each tool loads
 *    incrementally, reading only the new rows;
 * 4. memory as the table grows: each tool loads a 1,000,000-row view of the same table in full
 *    into a fresh table, to compare its peak RSS with the 4,500,000-row first load;
 * 5. both tables must hold exactly the PostgreSQL rows (count, distinct ids, sum of ids, sum of
 *    amounts) and the same content (an order-free hash over every source column, read by ingot's
 *    reader from both Delta tables), else the bench fails.
 *
 * Writes bench/out/postgres.json; bench/run.ts folds it into results.md/json (`npm run bench --
 * --postgres` runs only this section). `--rows N` scales the table (first load 90 % of N) for a
 * quick try. Needs PostgreSQL (Debian `postgresql`), dist/ (npm run build) and test/reference/requirements.txt.
 */
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { Lake } from '../src/table/lake.js';
import { queryLake } from '../src/operations/query.js';
import { startPostgres } from '../test/postgres-server.js';
import { lastJson, measure, pythonSnippet, round, type Measured } from './measure.js';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const OUT = path.join(BENCH, 'out');
const WORK = path.join(OUT, 'postgres');
const CLI = path.join(ROOT, 'dist', 'cli', 'bin.js');
const PYTHON = process.env['INGOT_PYTHON'] ?? 'python3';
const argRows = process.argv.indexOf('--rows');
const TOTAL = argRows > 0 ? Number(process.argv[argRows + 1]) : 5_000_000;
const FIRST = Math.round(TOTAL * 0.9);
const SMALL = Math.round(TOTAL * 0.2);
/** Source columns, compared between the two tables (each tool adds its own bookkeeping columns). */
const COLUMNS = ['id', 'customer_id', 'branch', 'status', 'created_at', 'amount', 'quantity', 'discount', 'note', 'attrs'];

const CREATE = `CREATE TABLE public.orders (
  id bigint PRIMARY KEY, customer_id integer NOT NULL, branch text NOT NULL, status text NOT NULL,
  created_at timestamptz NOT NULL, amount numeric(12,2) NOT NULL, quantity smallint NOT NULL,
  discount double precision, note text, attrs jsonb)`;

/** Rows `lo..hi` of public.orders, from the session's random() sequence (seeded by the caller). */
function insertSql(lo: number, hi: number): string {
  return `INSERT INTO public.orders
SELECT i, 1 + floor(random() * 200000)::int,
  (ARRAY['Amsterdam','Berlin','Lisbon','Madrid','Oslo','Paris','Prague','Rome'])[1 + floor(random() * 8)::int],
  (ARRAY['NEW','INTRANSIT','DELIVERED'])[1 + floor(random() * 3)::int],
  timestamptz '2024-01-01 00:00:00+00' + i * interval '6 seconds' + floor(random() * 1000000) * interval '1 microsecond',
  round((random() * 2000)::numeric, 2), (1 + floor(random() * 20))::smallint,
  CASE WHEN random() < 0.3 THEN round(random()::numeric, 4)::float8 END,
  CASE WHEN random() < 0.8 THEN 'order ' || i || ': ' || substr(md5(random()::text), 1, 1 + floor(random() * 32)::int) END,
  CASE WHEN random() < 0.9 THEN jsonb_build_object('channel', (ARRAY['web','app','store'])[1 + floor(random() * 3)::int],
    'items', 1 + floor(random() * 5)::int, 'gift', random() < 0.1) END
FROM generate_series(${lo}, ${hi}) AS i`;
}

/** One load's figures. */
interface Load {
  rows: number;
  wallS: number;
  rowsPerS: number;
  peakRssMB: number;
}

export interface PostgresResults {
  machine: { cpus: number; date: string; loadAvg: [number, number]; dlt: string; postgres: string };
  rows: { first: number; second: number; small: number };
  generateS: number;
  ingot: { first: Load; second: Load; small: Load };
  dlt: { first: Load; second: Load; small: Load };
  /** What both tables and PostgreSQL hold after the second load. */
  check: { rows: number; distinctIds: number; sumIds: string; sumAmount: string; contentHash: string };
}

const load = (rows: number, m: Measured): Load => ({ rows, wallS: round(m.wallS), rowsPerS: Math.round(rows / m.wallS), peakRssMB: round(m.peakRssMB, 0) });

/** An ingot project loading `source` (a table or view of PostgreSQL `env:INGOT_BENCH_PG`) into bronze.orders by cursor id. */
async function ingotProject(dir: string, table: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(path.join(dir, 'datasets', 'bronze'), { recursive: true });
  await fs.writeFile(path.join(dir, 'ingot.config.ts'), "export default { lake: './lake', engine: { memoryLimit: '1GB', spillDirectory: './.ingot/spill' } };\n");
  await fs.writeFile(path.join(dir, 'datasets', 'bronze', 'orders.ts'), `export default {
  name: 'bronze.orders',
  source: { kind: 'postgres', connection: 'env:INGOT_BENCH_PG', table: '${table}', cursor: 'id' },
  materialization: 'append',
};\n`);
}

/** `ingot run` of the project in `dir` for `date`: measured; throws unless it loaded `rows` rows. */
async function ingotRun(dir: string, date: string, rows: number): Promise<Load> {
  const m = await measure(process.execPath, [CLI, 'run', '-p', '.', '--date', date], dir);
  const sql = `SELECT rows_out FROM _ingot.run_datasets WHERE dataset = 'bronze.orders' AND logical_date = DATE '${date}' AND status = 'success'`;
  const { stdout } = await measure(process.execPath, [CLI, 'sql', '-p', '.', '--format', 'json', sql], dir);
  const got = (JSON.parse(stdout) as { rows_out: number }[]).map((r) => Number(r.rows_out));
  if (got.length !== 1 || got[0] !== rows) throw new Error(`ingot loaded ${got.join(', ') || 'no'} rows, expected ${rows}`);
  return load(rows, m);
}

/** bench/dlt_load.py on `table` with its state in `dir`: measured; throws unless it loaded `rows` rows. */
async function dltRun(url: string, dir: string, table: string, rows: number): Promise<Load> {
  const m = await measure(PYTHON, [path.join(BENCH, 'dlt_load.py'), url, table, 'id', dir], ROOT);
  const got = lastJson<{ rows: number }>(m, 'bench/dlt_load.py').rows;
  if (got !== rows) throw new Error(`dlt loaded ${got} rows, expected ${rows}`);
  return load(rows, m);
}

/** The same canonical text of a row in either table: every source column as text, NULL as \\N. */
const canonical = (alias: string): string =>
  `concat_ws('|', ${COLUMNS.map((c) => {
    const col = `${alias}.${c}`;
    if (c === 'created_at') return `coalesce(CAST(epoch_us(${col}) AS VARCHAR), '\\N')`;
    if (c === 'attrs') return `coalesce(CAST(json(${col}) AS VARCHAR), '\\N')`;
    if (c === 'discount') return `coalesce(CAST(CAST(${col} AS DECIMAL(18,6)) AS VARCHAR), '\\N')`;
    return `coalesce(CAST(${col} AS VARCHAR), '\\N')`;
  }).join(', ')})`;

/** Count, distinct ids, sums and the content hash of a Delta table at `location`, read by ingot. */
async function fingerprint(engine: DuckDBEngine, location: string): Promise<PostgresResults['check']> {
  const lake = new Lake(path.join(WORK, 'none'), engine);
  lake.register('bench.orders', location);
  const [r] = await queryLake(lake, engine, `SELECT count(*) AS n, count(DISTINCT id) AS ids, CAST(sum(id) AS VARCHAR) AS sum_ids,
    CAST(sum(amount) AS VARCHAR) AS sum_amount, CAST(sum(hash(${canonical('t')})) AS VARCHAR) AS h FROM bench.orders AS t`);
  return { rows: Number(r!['n']), distinctIds: Number(r!['ids']), sumIds: String(r!['sum_ids']), sumAmount: String(r!['sum_amount']), contentHash: String(r!['h']) };
}

/** The whole section; see the file comment. */
async function bench(): Promise<PostgresResults> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  const loadBefore = os.loadavg()[0]!;
  const versions = lastJson<{ dlt: string; deltalake: string }>(await measure(PYTHON, ['-c', pythonSnippet('import json, dlt, deltalake\nprint(json.dumps({"dlt": dlt.__version__, "deltalake": deltalake.__version__}))')], ROOT), 'dlt and deltalake (versions)');
  const dltVersion = `${versions.dlt} ${versions.deltalake}`;
  await fs.rm(WORK, { recursive: true, force: true });
  await fs.mkdir(WORK, { recursive: true });
  const server = await startPostgres({ shared_buffers: '256MB', max_wal_size: '4GB', checkpoint_timeout: '30min' });
  const client = new pg.Client({ connectionString: server.url });
  try {
    await client.connect();
    process.env['INGOT_BENCH_PG'] = server.url;
    const version = (await client.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v;

    const t0 = performance.now();
    await client.query(CREATE);
    await client.query('SELECT setseed(0.42)');
    await client.query(insertSql(1, FIRST));
    await client.query(`CREATE VIEW public.orders_small AS SELECT * FROM public.orders WHERE id <= ${SMALL}`);
    await client.query('VACUUM ANALYZE public.orders');
    const generateS = (performance.now() - t0) / 1000;
    console.log(`postgres ${version}: ${FIRST.toLocaleString('en-US')} rows generated in ${generateS.toFixed(1)} s`);

    const ingotDir = path.join(WORK, 'ingot');
    const dltDir = path.join(WORK, 'dlt');
    await ingotProject(ingotDir, 'public.orders');
    const ingotFirst = await ingotRun(ingotDir, '2024-01-01', FIRST);
    console.log(`  first load, ingot: ${ingotFirst.wallS} s, ${ingotFirst.rowsPerS} rows/s, ${ingotFirst.peakRssMB} MB`);
    const dltFirst = await dltRun(server.url, dltDir, 'public.orders', FIRST);
    console.log(`  first load, dlt:   ${dltFirst.wallS} s, ${dltFirst.rowsPerS} rows/s, ${dltFirst.peakRssMB} MB`);

    await client.query('SELECT setseed(0.43)');
    await client.query(insertSql(FIRST + 1, TOTAL));
    await client.query('VACUUM ANALYZE public.orders');
    const ingotSecond = await ingotRun(ingotDir, '2024-01-02', TOTAL - FIRST);
    console.log(`  incremental, ingot: ${ingotSecond.wallS} s, ${ingotSecond.rowsPerS} rows/s, ${ingotSecond.peakRssMB} MB`);
    const dltSecond = await dltRun(server.url, dltDir, 'public.orders', TOTAL - FIRST);
    console.log(`  incremental, dlt:   ${dltSecond.wallS} s, ${dltSecond.rowsPerS} rows/s, ${dltSecond.peakRssMB} MB`);

    const smallIngot = path.join(WORK, 'ingot-small');
    await ingotProject(smallIngot, 'public.orders_small');
    const ingotSmall = await ingotRun(smallIngot, '2024-01-01', SMALL);
    const dltSmall = await dltRun(server.url, path.join(WORK, 'dlt-small'), 'public.orders_small', SMALL);
    console.log(`  ${SMALL.toLocaleString('en-US')} rows: ingot ${ingotSmall.peakRssMB} MB, dlt ${dltSmall.peakRssMB} MB`);
    await fs.rm(smallIngot, { recursive: true, force: true });
    await fs.rm(path.join(WORK, 'dlt-small'), { recursive: true, force: true });

    // both tables hold exactly the PostgreSQL rows, with the same content
    const [p] = (await client.query<{ n: string; ids: string; sum_ids: string; sum_amount: string }>(
      'SELECT count(*) n, count(DISTINCT id) ids, sum(id)::text sum_ids, sum(amount)::text sum_amount FROM public.orders')).rows;
    const engine = await DuckDBEngine.open({ memoryLimit: '2GB' });
    let ingotPrint: PostgresResults['check'];
    let dltPrint: PostgresResults['check'];
    try {
      ingotPrint = await fingerprint(engine, path.join(ingotDir, 'lake', 'bronze', 'orders'));
      dltPrint = await fingerprint(engine, path.join(dltDir, 'lake', 'bronze', 'orders'));
    } finally {
      await engine.close();
    }
    const expected = { rows: Number(p!.n), distinctIds: Number(p!.ids), sumIds: p!.sum_ids, sumAmount: p!.sum_amount };
    for (const [tool, got] of [['ingot', ingotPrint], ['dlt', dltPrint]] as const) {
      const counts = { rows: got.rows, distinctIds: got.distinctIds, sumIds: got.sumIds, sumAmount: got.sumAmount };
      if (JSON.stringify(counts) !== JSON.stringify(expected)) throw new Error(`${tool}'s table differs from PostgreSQL: ${JSON.stringify(counts)} vs ${JSON.stringify(expected)}`);
    }
    if (ingotPrint.contentHash !== dltPrint.contentHash) throw new Error(`the two tables' content differs: hash ${ingotPrint.contentHash} (ingot) vs ${dltPrint.contentHash} (dlt)`);

    return {
      machine: { cpus: os.cpus().length, date: new Date().toISOString().slice(0, 16).replace('T', ' '), loadAvg: [round(loadBefore), round(os.loadavg()[0]!)], dlt: dltVersion, postgres: version },
      rows: { first: FIRST, second: TOTAL - FIRST, small: SMALL },
      generateS: round(generateS),
      ingot: { first: ingotFirst, second: ingotSecond, small: ingotSmall },
      dlt: { first: dltFirst, second: dltSecond, small: dltSmall },
      check: ingotPrint,
    };
  } finally {
    await client.end().catch(() => {});
    await server.stop();
  }
}

/** The figures as a markdown section. */
export function postgresMarkdown(r: PostgresResults): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  const row = (figure: string, i: Load, d: Load): string =>
    `| ${figure} | ${i.wallS} s · ${n(i.rowsPerS)} rows/s · ${i.peakRssMB} MB | ${d.wallS} s · ${n(d.rowsPerS)} rows/s · ${d.peakRssMB} MB | ${(d.wallS / i.wallS).toFixed(2)} |`;
  return [
    `# PostgreSQL → bronze Delta table: ingot vs dlt (${n(r.rows.first + r.rows.second)} rows)`,
    '',
    `${r.machine.date} UTC, ${r.machine.cpus} CPUs, load average ${r.machine.loadAvg.join(' → ')}; PostgreSQL ${r.machine.postgres} (local, generated in ${r.generateS} s); ` +
      `dlt ${r.machine.dlt.replace(' ', ', deltalake ')} (sql_table, pyarrow backend, incremental on id, filesystem destination, table_format delta). ` +
      'Each load is one process: wall time (start-up included), rows per second of wall time, peak RSS.',
    '',
    '| load | ingot | dlt | dlt time / ingot time |',
    '| --- | ---: | ---: | ---: |',
    row(`first load, ${n(r.rows.first)} rows into an empty table`, r.ingot.first, r.dlt.first),
    row(`incremental load, ${n(r.rows.second)} new rows (table of ${n(r.rows.first)})`, r.ingot.second, r.dlt.second),
    row(`memory as the table grows: full load of ${n(r.rows.small)} rows`, r.ingot.small, r.dlt.small),
    '',
    `Peak RSS, ${n(r.rows.small)} → ${n(r.rows.first)} rows loaded: ingot ${r.ingot.small.peakRssMB} → ${r.ingot.first.peakRssMB} MB, dlt ${r.dlt.small.peakRssMB} → ${r.dlt.first.peakRssMB} MB.`,
    `Both tables equal PostgreSQL's: ${n(r.check.rows)} rows, ${n(r.check.distinctIds)} distinct ids, sum of ids ${r.check.sumIds}, sum of amounts ${r.check.sumAmount}; ` +
      `same content hash over every source column (${r.check.contentHash}).`,
  ].join('\n') + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const results = await bench();
  await fs.writeFile(path.join(OUT, 'postgres.json'), JSON.stringify(results, null, 2) + '\n');
  console.log('\n' + postgresMarkdown(results));
}
