/**
 * Continuous processing (`npm run bench -- --continuous`, also part of `npm run bench`): the
 * game-sessions example's continuous project (examples/game-sessions/continuous) under a stream
 * of event files, latency from landing to the published endpoint.
 *
 * 1. a fresh scratch project bench/out/game-sessions-continuous (the example's configs and
 *    datasets), a read key, `ingot serve` in its own process;
 * 2. the example's generator (stream.ts) lands files of 1,000 events at 10 files a second for
 *    INGOT_BENCH_CONTINUOUS_SECONDS (default 300), written under a temporary name and renamed
 *    into the landing folder (about 52,000 sessions a data date: a data date every ~10 s);
 * 3. for every file, a session it completes (whose start landed before, of the quietest player
 *    among them, so the session heads that player's page): the time from the file's rename to the
 *    session being in `/models/completed-sessions/{player}?limit=10`, polled oldest file first
 *    (files become visible in landing order): p50, p99, max;
 * 4. when the stream stops and the server has caught up: raw.events must hold every landed
 *    event exactly once (per file, its row count) and gold.sessions one row per session, equal
 *    to its recomputation from raw.events; the server's RSS at the start, at the end and at most
 *    (sampled every second); the load average.
 * 5. then, the server stopped, the same files through a Spark Structured Streaming job
 *    (bench/continuous-spark.ts: its latency is to the commit of its sessions merge) and ingot's
 *    p50 / Spark's p50; INGOT_BENCH_CONTINUOUS_SPARK=0 leaves Spark out.
 *
 * Writes bench/out/continuous.json, and the server's log to bench/out/continuous-serve.log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { landStream, type StreamFile } from '../examples/game-sessions/stream.js';
import { freePort } from '../test/moto.js';
import { round } from './measure.js';
import { sparkChecks, sparkStreamBench, type SparkStreamResults } from './continuous-spark.js';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const OUT = path.join(BENCH, 'out');
const SCRATCH = path.join(OUT, 'game-sessions-continuous');
const PROJECT = path.join(SCRATCH, 'continuous');
const CLI = path.join(ROOT, 'dist', 'cli', 'bin.js');
const EXAMPLE = path.join(ROOT, 'examples', 'game-sessions');
const SECONDS = Number(process.env['INGOT_BENCH_CONTINUOUS_SECONDS'] ?? 300);
const RATE = 10;
const ROWS = 1000;
const SESSIONS_PER_DAY = 52_000;
/** A file whose session is not visible this long after landing counts as lost. */
const GIVE_UP_MS = 60_000;
const TARGET = { p50Ms: 1000, p99Ms: 3000 };

/** What the section measured (bench/out/continuous.json). */
export interface ContinuousResults {
  seconds: number;
  files: number;
  events: number;
  /** Files with a probe session, and those never seen within GIVE_UP_MS. */
  probed: number;
  lost: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  runs: number;
  /** Duration of the file-triggered runs (from the server's log), ms. */
  runMs: { p50: number; p99: number; max: number };
  exactlyOnce: { raw: boolean; gold: boolean; detail: string };
  rssMB: { start: number; end: number; max: number };
  loadAvg: { start: number[]; end: number[] };
  /** The same files through Spark Structured Streaming (absent with INGOT_BENCH_CONTINUOUS_SPARK=0). */
  spark?: SparkStreamResults;
  checks: { figure: string; value: string; target: string; pass: boolean | undefined }[];
}

function ingot(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args, '-p', PROJECT], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`ingot ${args.join(' ')}: exit ${code}\n${err}`))));
  });
}

const sql = async (query: string): Promise<Record<string, unknown>[]> => JSON.parse(await ingot(['sql', '--format', 'json', query])) as Record<string, unknown>[];

/** The resident set size of process `pid`, MB (Linux /proc). */
async function rssMB(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

const percentile = (sorted: number[], p: number): number => sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

export async function continuousBench(): Promise<ContinuousResults> {
  await fs.rm(SCRATCH, { recursive: true, force: true });
  await fs.mkdir(PROJECT, { recursive: true });
  await fs.copyFile(path.join(EXAMPLE, 'ingot.config.ts'), path.join(SCRATCH, 'ingot.config.ts'));
  for (const f of ['ingot.config.ts', 'datasets']) await fs.cp(path.join(EXAMPLE, 'continuous', f), path.join(PROJECT, f), { recursive: true });
  const key = (await ingot(['keys', 'create', '--scope', 'read'])).trim().split(/\s+/).at(-1)!;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(process.execPath, [CLI, 'serve', '-p', PROJECT, '--port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  // each run's duration, from the server's run-done log lines
  const runMs: number[] = [];
  let partial = '';
  // the server's JSON log, whole, for a look at its runs afterwards (INGOT_PROFILE=1 adds its profile at exit)
  const serverLog = createWriteStream(path.join(OUT, 'continuous-serve.log'));
  child.stderr!.on('data', (d: Buffer) => {
    serverLog.write(d);
    log = (log + d.toString()).slice(-200_000);
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.includes('"run-done"')) continue;
      try {
        const ms = (JSON.parse(line) as { ms?: number }).ms;
        if (typeof ms === 'number') runMs.push(ms);
      } catch { /* not a log line */ }
    }
  });
  for (let i = 0; !(await fetch(`${base}/ready`).then((r) => r.ok, () => false)); i++) {
    if (i > 300 || child.exitCode !== null) throw new Error(`ingot serve did not get ready:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const pid = child.pid!;
  const rssStart = await rssMB(pid);
  let rssMax = rssStart;
  const sampler = setInterval(() => { void rssMB(pid).then((m) => { rssMax = Math.max(rssMax, m); }); }, 1000);
  const loadStart = os.loadavg().map((x) => round(x));

  // the probe of each file: a session it completes whose start landed before, of the quietest player
  const open = new Set<string>();
  const sessionsOf = new Map<string, number>();
  const perFile = new Map<string, number>();
  const pending: { seq: number; landedAt: number; player: string; session: string }[] = [];
  const latencies: number[] = [];
  let lost = 0;
  let events = 0;
  const onLanded = (f: StreamFile, landedAt: number): void => {
    events += f.events.length;
    perFile.set(`landing/events/${f.name}`, f.events.length);
    let probe: { player: string; session: string; n: number } | undefined;
    for (const e of f.events) {
      if (e.event === 'start') {
        open.add(e.session_id);
        sessionsOf.set(e.player_id, (sessionsOf.get(e.player_id) ?? 0) + 1);
      } else if (open.delete(e.session_id)) {
        const n = sessionsOf.get(e.player_id) ?? 0;
        if (!probe || n < probe.n) probe = { player: e.player_id, session: e.session_id, n };
      }
    }
    if (probe) pending.push({ seq: f.seq, landedAt, player: probe.player, session: probe.session });
  };
  let streaming = true;
  const poller = (async () => {
    while (streaming || pending.length > 0) {
      const head = pending[0];
      if (!head) { await new Promise((r) => setTimeout(r, 10)); continue; }
      const res = await fetch(`${base}/models/completed-sessions/${head.player}?limit=10`, { headers: { authorization: `Bearer ${key}` } });
      const body = (await res.json()) as { items?: { session_id: string }[] };
      // before the first commit, gold.sessions is not there yet (404 TABLE_NOT_FOUND)
      if (res.status !== 200 && !(res.status === 404 && JSON.stringify(body).includes('TABLE_NOT_FOUND'))) throw new Error(`completed-sessions: ${res.status} ${JSON.stringify(body)}`);
      const now = Date.now();
      if (body.items?.some((i) => i.session_id === head.session)) {
        latencies.push(now - head.landedAt);
        pending.shift();
      } else if (now - head.landedAt > GIVE_UP_MS) {
        lost++;
        pending.shift();
      } else await new Promise((r) => setTimeout(r, 10));
    }
  })();
  console.log(`continuous: landing ${RATE} files/s of ${ROWS} events for ${SECONDS} s into ${path.relative(ROOT, PROJECT)}/landing/events`);
  const files = await landStream(path.join(PROJECT, 'landing', 'events'), { filesPerSecond: RATE, rowsPerFile: ROWS, sessionsPerDay: SESSIONS_PER_DAY, seconds: SECONDS, onLanded });
  streaming = false;
  await poller;

  // caught up: every landed row in raw.events, every session of it in gold.sessions
  for (let i = 0; ; i++) {
    const [c] = await sql('SELECT count(*) AS n, (SELECT count(DISTINCT session_id) FROM raw.events) AS s, (SELECT count(*) FROM gold.sessions) AS g FROM raw.events');
    if (Number(c!['n']) === events && Number(c!['s']) === Number(c!['g'])) break;
    if (i > 120) throw new Error(`not caught up: ${JSON.stringify(c)} (landed ${events} events)`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  clearInterval(sampler);
  const rssEnd = await rssMB(pid);
  const loadEnd = os.loadavg().map((x) => round(x));
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await new Promise((r) => serverLog.end(r));

  const counted = await sql('SELECT _source AS f, count(*) AS n FROM raw.events GROUP BY 1');
  const wrongFiles = counted.filter((r) => perFile.get(String(r['f'])) !== Number(r['n'])).length + Math.max(0, perFile.size - counted.length);
  const recomputed = `SELECT max(country) FILTER (WHERE event = 'start') AS country, max(player_id) AS player_id, session_id,
      min(ts) FILTER (WHERE event = 'start') AS start_ts, max(ts) FILTER (WHERE event = 'end') AS end_ts,
      CASE WHEN bool_or(event = 'start') AND bool_or(event = 'end') THEN 'completed' ELSE 'started' END AS session_status FROM raw.events GROUP BY session_id`;
  const gold = 'SELECT country, player_id, session_id, start_ts, end_ts, session_status FROM gold.sessions';
  const [diff] = await sql(`SELECT (SELECT count(*) FROM (${recomputed} EXCEPT ALL ${gold})) AS missing, (SELECT count(*) FROM (${gold} EXCEPT ALL ${recomputed})) AS extra, (SELECT count(*) FROM gold.sessions) AS sessions`);
  const [runs] = await sql("SELECT count(*) AS n FROM _ingot.runs WHERE status = 'success'");
  const sorted = [...latencies].sort((a, b) => a - b);
  const latencyMs = { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN };
  const runSorted = [...runMs].sort((a, b) => a - b);
  const runStats = { p50: percentile(runSorted, 50), p99: percentile(runSorted, 99), max: runSorted.at(-1) ?? NaN };
  const rawOnce = wrongFiles === 0;
  const goldOnce = Number(diff!['missing']) === 0 && Number(diff!['extra']) === 0;
  const detail = `${counted.length} files in raw.events, ${wrongFiles} with a wrong row count; gold.sessions ${Number(diff!['sessions']).toLocaleString('en-US')} sessions, ${Number(diff!['missing'])} missing and ${Number(diff!['extra'])} extra against the recomputation`;
  const ms = (x: number): string => `${Math.round(x)} ms`;
  const spark = process.env['INGOT_BENCH_CONTINUOUS_SPARK'] === '0' ? undefined
    : await sparkStreamBench({ filesPerSecond: RATE, rowsPerFile: ROWS, sessionsPerDay: SESSIONS_PER_DAY, seconds: SECONDS });
  return {
    seconds: SECONDS, files, events, probed: latencies.length + lost, lost, latencyMs, runs: Number(runs!['n']), runMs: runStats,
    exactlyOnce: { raw: rawOnce, gold: goldOnce, detail },
    rssMB: { start: round(rssStart, 0), end: round(rssEnd, 0), max: round(rssMax, 0) },
    loadAvg: { start: loadStart, end: loadEnd },
    ...(spark ? { spark } : {}),
    checks: [
      { figure: `landing → endpoint latency, p50 (${latencies.length.toLocaleString('en-US')} files)`, value: ms(latencyMs.p50), target: `≤ ${TARGET.p50Ms} ms`, pass: latencyMs.p50 <= TARGET.p50Ms },
      { figure: 'landing → endpoint latency, p99', value: ms(latencyMs.p99), target: `≤ ${TARGET.p99Ms} ms`, pass: latencyMs.p99 <= TARGET.p99Ms },
      { figure: 'landing → endpoint latency, p90 / max', value: `${ms(latencyMs.p90)} / ${ms(latencyMs.max)}`, target: '', pass: undefined },
      { figure: `files never visible within ${GIVE_UP_MS / 1000} s`, value: String(lost), target: '0', pass: lost === 0 },
      { figure: `events exactly once in raw.events (${events.toLocaleString('en-US')} events, ${files.toLocaleString('en-US')} files)`, value: rawOnce ? 'yes' : 'no', target: 'yes', pass: rawOnce },
      { figure: 'gold.sessions equal to its recomputation from raw.events', value: goldOnce ? 'yes' : 'no', target: 'yes', pass: goldOnce },
      { figure: 'runs (file-arrival triggered)', value: `${Number(runs!['n']).toLocaleString('en-US')} (${(files / Math.max(1, Number(runs!['n']))).toFixed(1)} files a run)`, target: '', pass: undefined },
      { figure: 'run duration p50 / p99 / max (server log)', value: `${ms(runStats.p50)} / ${ms(runStats.p99)} / ${ms(runStats.max)}`, target: '', pass: undefined },
      { figure: 'server RSS start / end / max', value: `${round(rssStart, 0)} / ${round(rssEnd, 0)} / ${round(rssMax, 0)} MB`, target: '', pass: undefined },
      { figure: 'load average (1, 5, 15 min) at start / end', value: `${loadStart.join(', ')} / ${loadEnd.join(', ')}`, target: '', pass: undefined },
      ...sparkChecks(spark, { sorted, lost, giveUpMs: GIVE_UP_MS }),
    ],
  };
}

/** The section as markdown. */
export function continuousMarkdown(r: ContinuousResults): string {
  return [
    '## Continuous processing (bench/continuous.ts)',
    '',
    `The game-sessions continuous project under ${r.seconds} s of files of ${ROWS.toLocaleString('en-US')} events landing at ${RATE} files/s; latency from each file's rename into the landing folder to a session it completes being returned by \`/models/completed-sessions/{player}\`.`,
    '',
    '| figure | value | target | result |',
    '| --- | ---: | ---: | --- |',
    ...r.checks.map((c) => `| ${c.figure} | ${c.value} | ${c.target} | ${c.pass === undefined ? '' : c.pass ? 'pass' : '**FAIL**'} |`),
    '',
    r.exactlyOnce.detail + '.',
    ...(r.spark ? ['', r.spark.exactlyOnce.detail + '.'] : []),
  ].join('\n') + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const results = await continuousBench();
  await fs.writeFile(path.join(OUT, 'continuous.json'), JSON.stringify({ machine: { cpus: os.cpus().length, loadAvg: os.loadavg()[0] }, ...results }, null, 2) + '\n');
  console.log('\n' + continuousMarkdown(results));
}
