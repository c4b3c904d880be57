/**
 * The PostgreSQL-protocol serving section of `npm run bench` (`npm run bench -- --pgwire` runs only
 * it): `ingot serve --pg-port` against PostgreSQL 15 itself (Debian's server, started as the
 * tests start it: test/postgres-server.ts), same rows, same clients, same run.
 *
 * 1. a 1,000,000-row gold-sized table (id, day, airport, route, departures, avg_delay_min,
 *    on_time_rate, updated_at) written as the Delta table `gold.sized` of a scratch project
 *    (bench/out/pgwire) by ingot's writer, and the same rows generated in PostgreSQL (`public.sized`,
 *    primary key id, as a PostgreSQL user would have it);
 * 2. streaming: psycopg (bench/pgwire_client.py, a client cursor: execute + fetchall into Python
 *    values, text format, its default) reads every row of the table from ingot and from
 *    PostgreSQL, alternately, 3 times each: rows/s (median); row counts and sums of ids must
 *    match, else the section fails;
 * 3. point queries: 10 node `pg` clients each issuing a named prepared lookup
 *    `SELECT * FROM gold.sized WHERE id = $1` (random ids) for 30 s: queries/s, p50/p99
 *    latency, and ingot's server CPU time per query (/proc); the same against PostgreSQL
 *    (primary-key lookup) for reference;
 * 4. memory: the server's RSS (from /proc, every 50 ms) idle, and at its peak while psycopg reads
 *    3,000,000 rows (the table three times over) through a server-side cursor.
 *
 * Prints the load average before and after. Writes bench/out/pgwire.json. Needs dist/ (npm run
 * build), PostgreSQL (Debian `postgresql`) and psycopg (test/reference/requirements.txt).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { stageWrite } from '../src/operations/stage.js';
import { LocalStore } from '../src/storage/local.js';
import { DeltaTable } from '../src/table/table.js';
import { startPostgres } from '../test/postgres-server.js';
import { lastJson, measure, median, round } from './measure.js';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const OUT = path.join(BENCH, 'out');
const PROJECT = path.join(OUT, 'pgwire');
const CLI = path.join(ROOT, 'dist', 'cli', 'bin.js');
const PYTHON = process.env['INGOT_PYTHON'] ?? 'python3';
const CLIENT = path.join(BENCH, 'pgwire_client.py');
const argRows = process.argv.indexOf('--rows');
const ROWS = argRows > 0 ? Number(process.argv[argRows + 1]) : 1_000_000;
const argSeconds = process.argv.indexOf('--seconds');
const POINT_S = argSeconds > 0 ? Number(process.argv[argSeconds + 1]) : 30;
const CLIENTS = 10;
const REPEATS = 3;
const TARGET = { qps: 2000, p99Ms: 20, memoryMB: 200 };

/** The table's rows, as DuckDB (ingot's writer) computes them from `i`. */
const DUCKDB_ROWS = `SELECT i AS id, DATE '2024-01-01' + CAST(i % 366 AS INTEGER) AS day,
  'A' || lpad(CAST(i % 300 AS VARCHAR), 3, '0') AS airport,
  'A' || lpad(CAST(i % 300 AS VARCHAR), 3, '0') || '-B' || lpad(CAST((i * 7) % 500 AS VARCHAR), 3, '0') AS route,
  CAST((i * 31) % 1000 AS INTEGER) AS departures, CAST((i * 13) % 10000 AS DOUBLE) / 100 AS avg_delay_min,
  CAST((i * 17) % 1000 AS DOUBLE) / 1000 AS on_time_rate, TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(i) AS updated_at
FROM range(${ROWS}) AS t(i)`;

/** The same rows in PostgreSQL. */
const POSTGRES_ROWS = `CREATE TABLE public.sized AS SELECT i::bigint AS id, date '2024-01-01' + (i % 366)::int AS day,
  'A' || lpad((i % 300)::text, 3, '0') AS airport,
  'A' || lpad((i % 300)::text, 3, '0') || '-B' || lpad(((i * 7) % 500)::text, 3, '0') AS route,
  ((i * 31) % 1000)::int AS departures, ((i * 13) % 10000)::float8 / 100 AS avg_delay_min,
  ((i * 17) % 1000)::float8 / 1000 AS on_time_rate, timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second' AS updated_at
FROM generate_series(0, ${ROWS - 1}) AS i`;

interface Stream { rowsPerS: number[]; median: number }
interface Point { queries: number; qps: number; p50Ms: number; p99Ms: number; maxMs: number; serverCpuMs?: number }

export interface PgwireResults {
  machine: { cpus: number; date: string; loadAvg: [number, number]; postgres: string };
  rows: number;
  stream: { ingot: Stream; postgres: Stream };
  point: { clients: number; seconds: number; ingot: Point; postgres: Point };
  memory: { rows: number; idleMB: number; peakMB: number; aboveIdleMB: number; rowsPerS: number };
}

/** Writes the table through ingot's writer into `lake/gold/sized`. */
async function writeTable(): Promise<void> {
  await fs.rm(PROJECT, { recursive: true, force: true });
  await fs.mkdir(path.join(PROJECT, 'datasets'), { recursive: true });
  await fs.writeFile(path.join(PROJECT, 'ingot.config.ts'), "export default { name: 'pgwire', lake: './lake', datasets: './datasets', engine: { memoryLimit: '1GB' } };\n");
  const engine = await DuckDBEngine.open({ memoryLimit: '1GB' });
  try {
    const table = new DeltaTable(new LocalStore(path.join(PROJECT, 'lake', 'gold', 'sized')), engine);
    const staged = await engine.stage('__bench_sized', DUCKDB_ROWS);
    const { commit } = await stageWrite(engine, table, await table.trySnapshot(), 'SELECT * FROM __bench_sized', { mode: 'append', schema: staged.schema });
    await table.commit(commit);
    await engine.drop('__bench_sized');
  } finally {
    await engine.close();
  }
}

/** `ingot <args>` in the project, its stdout. */
async function ingot(args: string[]): Promise<string> {
  return (await measure(process.execPath, [CLI, ...args, '-p', PROJECT], PROJECT)).stdout;
}

/** `ingot serve --pg-port 0` (no HTTP, no scheduler), ready: the process and its port. */
async function startServer(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [CLI, 'serve', '-p', PROJECT, '--no-http', '--no-scheduler', '--pg-port', '0'], { cwd: PROJECT, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      log = (log + d.toString()).slice(-20_000);
      const m = /"postgres listening".*"port":(\d+)|"port":(\d+).*"postgres listening"/.exec(log);
      if (m) resolve(Number(m[1] ?? m[2]));
    });
    child.on('exit', (code) => reject(new Error(`ingot serve exited (${code}):\n${log}`)));
  });
  return { child, port };
}

/** Resident set size of process `pid`, MB. */
async function rssMB(pid: number): Promise<number> {
  return Number(/VmRSS:\s+(\d+) kB/.exec(await fs.readFile(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

/** CPU time process `pid` has used (all its threads, user + system), ms, from /proc (clock ticks of 10 ms). */
async function cpuMs(pid: number): Promise<number> {
  const fields = (await fs.readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** bench/pgwire_client.py: rows, seconds, sum of the first column. */
async function psycopg(conninfo: string, mode: 'read' | 'stream', sql: string, itersize = 20_000): Promise<{ rows: number; seconds: number; sum: string }> {
  const m = await measure(PYTHON, [CLIENT, conninfo, mode, sql, String(itersize)], ROOT);
  return lastJson(m, 'bench/pgwire_client.py');
}

/**
 * `CLIENTS` node pg clients issuing the named lookup for `POINT_S` seconds; with `serverPid`, also
 * the server's CPU time per query (ms), a figure the load of a shared machine changes less than
 * queries/s.
 */
async function pointQueries(config: pg.ClientConfig, sql: string, serverPid?: number): Promise<Point> {
  const clients = await Promise.all(Array.from({ length: CLIENTS }, async () => {
    const c = new pg.Client(config);
    await c.connect();
    return c;
  }));
  const latencies: number[] = [];
  try {
    // warm: each client prepares its statement
    await Promise.all(clients.map((c) => c.query({ name: 'lookup', text: sql, values: [1] })));
    const cpuBefore = serverPid === undefined ? 0 : await cpuMs(serverPid);
    const end = performance.now() + POINT_S * 1000;
    const started = performance.now();
    await Promise.all(clients.map(async (c) => {
      while (performance.now() < end) {
        const id = Math.floor(Math.random() * ROWS);
        const t0 = performance.now();
        const r = await c.query({ name: 'lookup', text: sql, values: [id] });
        latencies.push(performance.now() - t0);
        if (r.rows.length !== 1 || Number(r.rows[0].id) !== id) throw new Error(`lookup of id ${id} returned ${r.rows.length} rows`);
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    const serverCpuMs = serverPid === undefined ? undefined : round((await cpuMs(serverPid) - cpuBefore) / latencies.length);
    latencies.sort((a, b) => a - b);
    const pct = (p: number): number => round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!);
    return { queries: latencies.length, qps: Math.round(latencies.length / seconds), p50Ms: pct(0.5), p99Ms: pct(0.99), maxMs: round(latencies[latencies.length - 1]!), ...(serverCpuMs === undefined ? {} : { serverCpuMs }) };
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
  }
}

/** The whole section; see the file comment. */
async function bench(): Promise<PgwireResults> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  const loadBefore = os.loadavg()[0]!;
  console.log(`pgwire: load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (${os.cpus().length} CPUs)`);
  await writeTable();
  const created = await ingot(['keys', 'create', '--scope', 'read', '--name', 'bench']);
  const key = /(\S{24,})\s*$/.exec(created.trim())![1]!;
  const postgres = await startPostgres({ shared_buffers: '256MB' });
  const admin = new pg.Client({ connectionString: postgres.url });
  let server: { child: ChildProcess; port: number } | undefined;
  try {
    await admin.connect();
    const version = (await admin.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v;
    await admin.query(POSTGRES_ROWS);
    await admin.query('ALTER TABLE public.sized ADD PRIMARY KEY (id)');
    await admin.query('VACUUM ANALYZE public.sized');
    server = await startServer();
    const ingotInfo = `host=127.0.0.1 port=${server.port} dbname=pgwire user=bench password=${key} sslmode=disable`;
    const pgInfo = `host=127.0.0.1 port=${postgres.port} dbname=postgres user=postgres sslmode=disable`;

    // 2. streaming, alternately
    const expected = { rows: ROWS, sum: String((BigInt(ROWS) * BigInt(ROWS - 1)) / 2n) };
    await psycopg(ingotInfo, 'read', 'SELECT * FROM gold.sized LIMIT 10');
    const rates = { ingot: [] as number[], postgres: [] as number[] };
    for (let i = 0; i < REPEATS; i++) {
      for (const [name, info, sql] of [['ingot', ingotInfo, 'SELECT * FROM gold.sized'], ['postgres', pgInfo, 'SELECT * FROM public.sized']] as const) {
        const r = await psycopg(info, 'read', sql);
        if (r.rows !== expected.rows || r.sum !== expected.sum) throw new Error(`${name} returned ${r.rows} rows (sum of ids ${r.sum}), expected ${expected.rows} (${expected.sum})`);
        rates[name].push(Math.round(r.rows / r.seconds));
        console.log(`  stream ${name}: ${r.rows.toLocaleString('en-US')} rows in ${r.seconds.toFixed(2)} s (${Math.round(r.rows / r.seconds).toLocaleString('en-US')} rows/s)`);
      }
    }

    // 3. point queries
    const ingotPoint = await pointQueries({ host: '127.0.0.1', port: server.port, user: 'bench', database: 'pgwire', password: key }, 'SELECT * FROM gold.sized WHERE id = $1', server.child.pid);
    console.log(`  point ingot: ${ingotPoint.qps} q/s, p50 ${ingotPoint.p50Ms} ms, p99 ${ingotPoint.p99Ms} ms, server CPU ${ingotPoint.serverCpuMs} ms a query`);
    const pgPoint = await pointQueries({ connectionString: postgres.url }, 'SELECT * FROM public.sized WHERE id = $1');
    console.log(`  point postgres: ${pgPoint.qps} q/s, p50 ${pgPoint.p50Ms} ms, p99 ${pgPoint.p99Ms} ms`);

    // 4. memory: idle, then while 3x the rows stream through a server-side cursor
    await new Promise((r) => setTimeout(r, 2000));
    const pid = server.child.pid!;
    const idle = await rssMB(pid);
    let peak = idle;
    const sampler = setInterval(() => void rssMB(pid).then((v) => { peak = Math.max(peak, v); }, () => {}), 50);
    let big: { rows: number; seconds: number; sum: string };
    try {
      big = await psycopg(ingotInfo, 'stream', 'SELECT s.* FROM gold.sized AS s, range(3) AS t(k)');
    } finally {
      clearInterval(sampler);
    }
    if (big.rows !== 3 * ROWS) throw new Error(`the 3x stream returned ${big.rows} rows`);
    console.log(`  memory: idle ${idle.toFixed(0)} MB, peak ${peak.toFixed(0)} MB streaming ${big.rows.toLocaleString('en-US')} rows`);

    return {
      machine: { cpus: os.cpus().length, date: new Date().toISOString().slice(0, 16).replace('T', ' '), loadAvg: [round(loadBefore), round(os.loadavg()[0]!)], postgres: version },
      rows: ROWS,
      stream: { ingot: { rowsPerS: rates.ingot, median: median(rates.ingot) }, postgres: { rowsPerS: rates.postgres, median: median(rates.postgres) } },
      point: { clients: CLIENTS, seconds: POINT_S, ingot: ingotPoint, postgres: pgPoint },
      memory: { rows: big.rows, idleMB: round(idle, 0), peakMB: round(peak, 0), aboveIdleMB: round(peak - idle, 0), rowsPerS: Math.round(big.rows / big.seconds) },
    };
  } finally {
    if (server && server.child.exitCode === null) {
      const exited = new Promise((r) => server!.child.once('exit', r));
      server.child.kill('SIGTERM');
      await exited;
    }
    await admin.end().catch(() => {});
    await postgres.stop();
  }
}

/** The figures as a markdown section. */
export function pgwireMarkdown(r: PgwireResults): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  const ratio = r.stream.ingot.median / r.stream.postgres.median;
  const mark = (pass: boolean): string => (pass ? 'yes' : 'NO');
  return [
    `# SQL clients over the PostgreSQL protocol: ingot serve vs PostgreSQL ${r.machine.postgres} (${n(r.rows)} rows)`,
    '',
    `${r.machine.date} UTC, ${r.machine.cpus} CPUs, load average ${r.machine.loadAvg.join(' → ')}; both servers local, same clients in the same run.`,
    '',
    '| figure | ingot | PostgreSQL | target | met |',
    '| --- | ---: | ---: | --- | --- |',
    `| psycopg reads the ${n(r.rows)}-row table (rows/s, median of ${r.stream.ingot.rowsPerS.length}) | ${n(r.stream.ingot.median)} | ${n(r.stream.postgres.median)} | ≥ PostgreSQL | ${mark(ratio >= 1)} (${ratio.toFixed(2)}×) |`,
    `| ${r.point.clients} clients, parameterized point lookup, ${r.point.seconds} s: queries/s | ${n(r.point.ingot.qps)} | ${n(r.point.postgres.qps)} | ≥ ${n(TARGET.qps)} | ${mark(r.point.ingot.qps >= TARGET.qps)} |`,
    `| same: p50 / p99 latency (ms) | ${r.point.ingot.p50Ms} / ${r.point.ingot.p99Ms} | ${r.point.postgres.p50Ms} / ${r.point.postgres.p99Ms} | p99 < ${TARGET.p99Ms} | ${mark(r.point.ingot.p99Ms < TARGET.p99Ms)} |`,
    ...(r.point.ingot.serverCpuMs === undefined ? [] : [`| same: server CPU per query, all threads (ms) | ${r.point.ingot.serverCpuMs} | | | |`]),
    `| server RSS streaming ${n(r.memory.rows)} rows (server-side cursor): idle → peak (MB) | ${r.memory.idleMB} → ${r.memory.peakMB} (+${r.memory.aboveIdleMB}) | | ≤ +${TARGET.memoryMB} | ${mark(r.memory.aboveIdleMB <= TARGET.memoryMB)} |`,
  ].join('\n') + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const results = await bench();
  await fs.writeFile(path.join(OUT, 'pgwire.json'), JSON.stringify(results, null, 2) + '\n');
  console.log('\n' + pgwireMarkdown(results));
}
