/**
 * Serving (`npm run bench -- --serve`, also part of `npm run bench`): paginated reads of
 * `gold.sessions` by player under concurrent load, on loopback.
 *
 * 1. the game-sessions example (examples/game-sessions) in a scratch project bench/out/game-sessions:
 *    its zip (generated once, kept in bench/out/game-sessions/data) served by its local server,
 *    a fresh lake backfilled over 2016 (`ingot backfill sessions`, 366 daily runs, timed);
 *    gold.sessions must hold every session, completed as the generated events say;
 * 2. a read key (`ingot keys create`), then `ingot serve` in its own process;
 * 3. the request mix: 300 random players with completed sessions, each paged through
 *    `/models/completed-sessions/{player}?limit=10` to collect its cursors (every player's
 *    sessions must come back, `count` as computed from the events); each load request is a random
 *    (player, page) of those;
 * 4. autocannon, 50 connections, 3 s warm-up then 15 s measured, twice: over those pages (which
 *    the server's page cache answers after their first request), then over first pages of any
 *    player with a random `limit` from 5 to 50 (almost all cache misses: DuckDB answers);
 *    requests per second, p50 / p90 / p99 latency; every response must be a 200.
 *
 * With INGOT_BENCH_PROFILE=1 the server runs under `--cpu-prof` and the section prints the
 * functions taking the most of its CPU time; INGOT_BENCH_SERVE_REUSE=1 keeps the last run's lake
 * (no backfill). Writes bench/out/serve.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { generate, writeZip, type DataFile } from '../examples/game-sessions/generate.js';
import { serveZip } from '../examples/game-sessions/serve.js';
import { seeded } from '../examples/seeded.js';
import { freePort } from '../test/moto.js';
import { measure, round } from './measure.js';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const OUT = path.join(BENCH, 'out');
const PROJECT = path.join(OUT, 'game-sessions');
const CLI = path.join(ROOT, 'dist', 'cli', 'bin.js');
const EXAMPLE = path.join(ROOT, 'examples', 'game-sessions');
const CONNECTIONS = 50;
const WARMUP_S = 3;
const DURATION_S = 15;
const PLAYERS = 300;
const PAGE = 10;
const TARGET = { rps: 2000, p99Ms: 50 };
const PROFILE = process.env['INGOT_BENCH_PROFILE'] === '1';
/** Keep the lake of the last run (no backfill): for profiling the server again. */
const REUSE = process.env['INGOT_BENCH_SERVE_REUSE'] === '1' && existsSync(path.join(PROJECT, 'lake', 'gold', 'sessions'));

/** One load run: autocannon's figures. */
export interface LoadFigures {
  /** Distinct request paths in the mix. */
  paths: number;
  requests: number;
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** CPU time (user + system) per request of the server process, and of this process (autocannon). */
  serverCpuMs: number;
  clientCpuMs: number;
}

/** What the section measured. */
export interface ServeResults {
  sessions: number;
  backfillS: number;
  connections: number;
  durationS: number;
  /** Pages of 300 players, each requested many times (the server's page cache answers after the first). */
  cached: LoadFigures;
  /** First pages of any player with a random `limit` (5 to 50): almost every request misses the page cache and queries DuckDB. */
  uncached: LoadFigures;
  /** CPU profile of the server (INGOT_BENCH_PROFILE=1): the top functions by self time, % of samples. */
  profile?: { fn: string; pct: number }[];
  checks: { figure: string; value: string; target: string; pass: boolean | undefined }[];
}

/** Runs the CLI in the scratch project; returns stdout and wall time. */
function ingot(args: string[]): Promise<{ stdout: string; wallS: number }> {
  return measure(process.execPath, [CLI, ...args, '-p', PROJECT], PROJECT);
}

/** Per player, the completed sessions as the events say (end event delivered in 2016), latest end first. */
function completedByPlayer(files: DataFile[]): Map<string, string[]> {
  const started = new Map<string, string>();
  const ended = new Map<string, string>();
  for (const f of files) {
    for (const e of f.events) (e.event === 'start' ? started : ended).set(e.session_id, e.player_id);
  }
  const out = new Map<string, string[]>();
  for (const [session, player] of started) if (ended.has(session)) out.set(player, [...(out.get(player) ?? []), session]);
  return out;
}

/** `ingot serve` on `port`, ready; stderr collected. */
async function startServer(port: number): Promise<{ child: ChildProcess; log: () => string }> {
  const args = [...(PROFILE ? ['--cpu-prof', '--cpu-prof-dir', path.join(OUT, 'serve-profile')] : []), CLI, 'serve', '-p', PROJECT, '--port', String(port)];
  const child = spawn(process.execPath, args, { cwd: PROJECT, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
  for (let i = 0; ; i++) {
    if (await fetch(`http://127.0.0.1:${port}/ready`).then((r) => r.ok, () => false)) break;
    if (i > 300 || child.exitCode !== null) throw new Error(`ingot serve did not get ready:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, log: () => log };
}

/** CPU time (user + system, ms) process `pid` has used so far, from /proc (Linux; NaN elsewhere). */
async function cpuMsOf(pid: number): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!stat) return NaN;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** Stops `child` by SIGTERM; SIGKILL if it has not exited after `graceMs`. Whether it exited by itself. */
async function stop(child: ChildProcess, graceMs = 60_000): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  const exited = new Promise<boolean>((resolve) => child.once('exit', () => resolve(true)));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const ok = await Promise.race([exited, new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs)))]);
  clearTimeout(timer);
  if (!ok) {
    child.kill('SIGKILL');
    await exited;
  }
  return ok;
}

/** The top functions by self time of the server's main thread, from its .cpuprofile in `dir`. */
async function topFunctions(dir: string, n = 15): Promise<{ fn: string; pct: number }[]> {
  // the main thread's is the largest (tsx's loader thread writes one too)
  const files = await Promise.all((await fs.readdir(dir)).filter((f) => f.endsWith('.cpuprofile')).map(async (f) => ({ f, size: (await fs.stat(path.join(dir, f))).size })));
  const main = files.sort((a, b) => b.size - a.size)[0]!.f;
  const profile = JSON.parse(await fs.readFile(path.join(dir, main), 'utf8')) as {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[]; samples: number[];
  };
  const byId = new Map(profile.nodes.map((x) => [x.id, x.callFrame]));
  const counts = new Map<string, number>();
  for (const s of profile.samples) {
    const f = byId.get(s)!;
    const where = f.url.startsWith('file:') ? path.relative(ROOT, fileURLToPath(f.url)) : f.url.startsWith('/') ? path.relative(ROOT, f.url) : f.url;
    const name = `${f.functionName || '(anonymous)'}${where ? ` ${where}:${f.lineNumber + 1}` : ''}`;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, n).map(([fn, c]) => ({ fn, pct: round((100 * c) / profile.samples.length, 1) }));
}

export async function serveBench(): Promise<ServeResults> {
  await fs.mkdir(PROJECT, { recursive: true });
  if (!REUSE) for (const f of ['lake', '.ingot', 'landing']) await fs.rm(path.join(PROJECT, f), { recursive: true, force: true });
  for (const f of ['ingot.config.ts', 'datasets']) await fs.cp(path.join(EXAMPLE, f), path.join(PROJECT, f), { recursive: true });
  const zip = path.join(PROJECT, 'data', 'game-sessions.zip');
  const files = existsSync(zip) ? generate() : await writeZip(zip);
  const upstream = await serveZip(zip);
  process.env['GAME_SESSIONS_URL'] = upstream.url;
  let server: { child: ChildProcess; log: () => string } | undefined;
  try {
    console.log(REUSE ? 'reusing the lake of the last run' : 'backfilling 2016 (366 daily runs)...');
    const backfill = REUSE ? { wallS: NaN } : await ingot(['backfill', 'sessions', '--from', '2016-01-01', '--to', '2016-12-31']);
    const [counts] = JSON.parse((await ingot(['sql', '--format', 'json', "SELECT count(*) AS n, count(*) FILTER (WHERE session_status = 'completed') AS c FROM gold.sessions"])).stdout) as { n: number | string; c: number | string }[];
    const byPlayer = completedByPlayer(files);
    const completed = [...byPlayer.values()].reduce((n, s) => n + s.length, 0);
    const sessions = new Set(files.flatMap((f) => f.events.map((e) => e.session_id))).size;
    if (Number(counts!.n) !== sessions || Number(counts!.c) !== completed) {
      throw new Error(`gold.sessions holds ${String(counts!.n)} sessions (${String(counts!.c)} completed); the events have ${sessions} (${completed})`);
    }

    const created = await ingot(['keys', 'create', '--scope', 'read', '--name', 'bench']);
    const key = /(\S{24,})\s*$/.exec(created.stdout.trim())![1]!;
    const port = await freePort();
    server = await startServer(port);
    const base = `http://127.0.0.1:${port}`;
    const headers = { authorization: `Bearer ${key}` };

    // the request mix: random players, every page of each
    const rand = seeded(41);
    const players = [...byPlayer.keys()].sort();
    const paths: string[] = [];
    for (let i = 0; i < PLAYERS; i++) {
      const player = players[Math.floor(rand() * players.length)]!;
      const url = `/models/completed-sessions/${player}?limit=${PAGE}`;
      let cursor: string | null = null;
      const seen: string[] = [];
      do {
        const p = `${url}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const res = await fetch(`${base}${p}`, { headers });
        const body = (await res.json()) as { items: { session_id: string }[]; count: number; next: string | null };
        if (res.status !== 200 || body.count !== byPlayer.get(player)!.length) throw new Error(`${p}: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
        seen.push(...body.items.map((x) => x.session_id));
        paths.push(p);
        cursor = body.next;
      } while (cursor);
      if ([...seen].sort().join() !== [...byPlayer.get(player)!].sort().join()) throw new Error(`${url}: the pages do not hold the player's completed sessions`);
    }

    const load = async (label: string, pick: () => string, distinct: number): Promise<LoadFigures> => {
      const run = (duration: number): Promise<autocannon.Result> => autocannon({
        url: base, connections: CONNECTIONS, duration, headers,
        requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: pick() }) }],
      });
      console.log(`${label}: ${distinct.toLocaleString('en-US')} paths, ${CONNECTIONS} connections, ${WARMUP_S} s warm-up + ${DURATION_S} s...`);
      await run(WARMUP_S);
      const [server0, client0] = [await cpuMsOf(server!.child.pid!), process.cpuUsage()];
      const r = await run(DURATION_S);
      const [server1, client1] = [await cpuMsOf(server!.child.pid!), process.cpuUsage(client0)];
      if (r.non2xx > 0 || r.errors > 0) throw new Error(`${label}: ${r.non2xx} non-2xx responses, ${r.errors} errors under load:\n${server!.log().slice(-3000)}`);
      return { paths: distinct, requests: r.requests.total, rps: round(r.requests.average, 0), p50Ms: r.latency.p50, p90Ms: r.latency.p90, p99Ms: r.latency.p99, maxMs: r.latency.max,
        serverCpuMs: round((server1 - server0) / r.requests.total, 3), clientCpuMs: round((client1.user + client1.system) / 1000 / r.requests.total, 3) };
    };
    const cached = await load('cached pages', () => paths[Math.floor(Math.random() * paths.length)]!, paths.length);
    const uncached = await load('uncached pages', () => `/models/completed-sessions/${players[Math.floor(Math.random() * players.length)]!}?limit=${5 + Math.floor(Math.random() * 46)}`, players.length * 46);
    const figures = (name: string, f: LoadFigures): ServeResults['checks'] => [
      { figure: `${name}: requests per second (${CONNECTIONS} connections, ${DURATION_S} s)`, value: f.rps.toLocaleString('en-US'), target: `≥ ${TARGET.rps.toLocaleString('en-US')}`, pass: f.rps >= TARGET.rps },
      { figure: `${name}: latency p50 / p90 / p99`, value: `${f.p50Ms} / ${f.p90Ms} / ${f.p99Ms} ms`, target: `p99 < ${TARGET.p99Ms} ms`, pass: f.p99Ms < TARGET.p99Ms },
      { figure: `${name}: CPU per request, server / autocannon`, value: `${f.serverCpuMs} / ${f.clientCpuMs} ms`, target: '', pass: undefined },
    ];
    const results: ServeResults = {
      sessions, backfillS: round(backfill.wallS, 1), connections: CONNECTIONS, durationS: DURATION_S, cached, uncached,
      checks: [
        { figure: `backfill of 2016 (366 daily runs, ${sessions.toLocaleString('en-US')} sessions)`, value: REUSE ? 'not run (INGOT_BENCH_SERVE_REUSE)' : `${round(backfill.wallS, 1)} s`, target: '', pass: undefined },
        ...figures(`GET /models/completed-sessions/{player}, ${PLAYERS} players' pages (cached)`, cached),
        ...figures('same, first pages of any player with a random limit (uncached)', uncached),
      ],
    };
    if (PROFILE) {
      if (!(await stop(server.child))) throw new Error(`ingot serve did not exit within 60 s of SIGTERM (no profile written):\n${server.log().slice(-3000)}`);
      results.profile = await topFunctions(path.join(OUT, 'serve-profile'));
    }
    return results;
  } finally {
    if (server && !(await stop(server.child))) console.error(`ingot serve did not exit within 60 s of SIGTERM:\n${server.log().slice(-3000)}`);
    await upstream.close();
  }
}

/** The section as markdown. */
export function serveMarkdown(r: ServeResults): string {
  return [
    '## Serving (bench/serve.ts)',
    '',
    '| figure | value | target | result |',
    '| --- | ---: | ---: | --- |',
    ...r.checks.map((c) => `| ${c.figure} | ${c.value} | ${c.target} | ${c.pass === undefined ? '' : c.pass ? 'pass' : '**FAIL**'} |`),
    '',
    `autocannon on loopback, every response a 200: ${r.cached.requests.toLocaleString('en-US')} requests over ${r.cached.paths} (player, page) paths of ${PAGE} rows ` +
      `(each player's pages checked against the generated events first), then ${r.uncached.requests.toLocaleString('en-US')} over ${r.uncached.paths.toLocaleString('en-US')} possible first pages.`,
    ...(r.profile ? ['', 'Server CPU profile (self time):', '', ...r.profile.map((p) => `- ${p.pct}% ${p.fn}`)] : []),
  ].join('\n') + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const results = await serveBench();
  await fs.writeFile(path.join(OUT, 'serve.json'), JSON.stringify({ machine: { cpus: os.cpus().length, loadAvg: os.loadavg()[0] }, ...results }, null, 2) + '\n');
  console.log('\n' + serveMarkdown(results));
}
