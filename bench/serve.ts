/**
 * Serving (`npm run bench -- --serve`, also part of `npm run bench`): paginated reads of
 * `gold.sessions` by player under concurrent load, on loopback.
 *
 * 1. the game-sessions example (examples/game-sessions) in a scratch project bench/out/game-sessions:
 *    its zip (generated once, kept in bench/out/game-sessions/data) served by its local server,
 *    a fresh lake backfilled over 2016 (`ingot backfill sessions`, 366 daily runs, timed);
 *    gold.sessions must hold every session, completed as the generated events say;
 * 2. a read key (`ingot keys create`), then `ingot serve` in its own process;
 * 3. cold: `/models/completed-sessions/{player}?limit=10` for every player with completed
 *    sessions, once each in random order (after a 3 s warm-up on unknown players), so that no
 *    answer comes from the server's result cache: the state after each commit;
 * 4. every page of every player, through the cursors (every player's sessions must come back,
 *    `count` as computed from the events); then warm: a random (player, page) of those, 3 s
 *    warm-up then 15 s measured: the steady state between commits;
 *    autocannon with 50 connections: requests per second, p50 / p90 / p99 latency, CPU time per
 *    request of server and client; every response must be a 200.
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
const PAGE = 10;
/** Warm (cached results) and cold (every request a cache miss) targets: requests per second at 50 connections, p99 latency. */
const TARGET = { rps: 2000, coldRps: 3000, p99Ms: 50 };
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
  /** Any page of any player, at random, after every page was read once (steady state). */
  warm: LoadFigures;
  /** The first page of each player once, in random order, on a fresh server: every request reads the table (as after each commit). */
  cold: LoadFigures;
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
  // this run's profile only (topFunctions reads the largest in the folder)
  if (PROFILE) await fs.rm(path.join(OUT, 'serve-profile'), { recursive: true, force: true });
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

    const players = [...byPlayer.keys()];
    const rand = seeded(41);
    for (let i = players.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [players[i], players[j]] = [players[j]!, players[i]!];
    }
    const firstPage = (player: string): string => `/models/completed-sessions/${player}?limit=${PAGE}`;

    /** autocannon over `pick()` paths: for `amount` requests, or a warm-up then `DURATION_S` seconds. */
    const load = async (label: string, pick: () => string, distinct: number, options: { amount?: number; warmup?: () => string }): Promise<LoadFigures> => {
      const run = (limit: { duration: number } | { amount: number }, next: () => string): Promise<autocannon.Result> => autocannon({
        url: base, connections: CONNECTIONS, ...limit, headers,
        requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: next() }) }],
      });
      console.log(`${label}: ${distinct.toLocaleString('en-US')} paths, ${CONNECTIONS} connections...`);
      await run({ duration: WARMUP_S }, options.warmup ?? pick);
      const [server0, client0] = [await cpuMsOf(server!.child.pid!), process.cpuUsage()];
      const r = await run(options.amount ? { amount: options.amount } : { duration: DURATION_S }, pick);
      const [server1, client1] = [await cpuMsOf(server!.child.pid!), process.cpuUsage(client0)];
      if (r.non2xx > 0 || r.errors > 0) throw new Error(`${label}: ${r.non2xx} non-2xx responses, ${r.errors} errors under load:\n${server!.log().slice(-3000)}`);
      return { paths: distinct, requests: r.requests.total, rps: round(r.requests.total / (r.duration || 1), 0), p50Ms: r.latency.p50, p90Ms: r.latency.p90, p99Ms: r.latency.p99, maxMs: r.latency.max,
        serverCpuMs: round((server1 - server0) / r.requests.total, 3), clientCpuMs: round((client1.user + client1.system) / 1000 / r.requests.total, 3) };
    };

    // cold: each player's first page once, in random order, on a fresh server (the warm-up asks for unknown players)
    let nextPlayer = 0;
    const cold = await load('cold: first page of every player, once', () => firstPage(players[nextPlayer++ % players.length]!), players.length, {
      amount: players.length, warmup: () => firstPage(`ffff${Math.random().toString(16).slice(2).padEnd(28, '0')}`),
    });
    // every page of every player, each player's pages checked against the events
    const paths: string[] = [];
    const walk = async (player: string): Promise<void> => {
      let cursor: string | null = null;
      const seen: string[] = [];
      do {
        const p = `${firstPage(player)}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const res = await fetch(`${base}${p}`, { headers });
        const body = (await res.json()) as { items: { session_id: string }[]; count: number; next: string | null };
        if (res.status !== 200 || body.count !== byPlayer.get(player)!.length) throw new Error(`${p}: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
        seen.push(...body.items.map((x) => x.session_id));
        paths.push(p);
        cursor = body.next;
      } while (cursor);
      if ([...seen].sort().join() !== [...byPlayer.get(player)!].sort().join()) throw new Error(`${firstPage(player)}: the pages do not hold the player's completed sessions`);
    };
    console.log(`paging through every page of ${players.length.toLocaleString('en-US')} players...`);
    for (let i = 0; i < players.length; i += 8) await Promise.all(players.slice(i, i + 8).map(walk));
    const warm = await load('warm: any page of any player', () => paths[Math.floor(Math.random() * paths.length)]!, paths.length, {});

    const figures = (name: string, f: LoadFigures, over: string, rps = TARGET.rps): ServeResults['checks'] => [
      { figure: `${name}: requests per second (${CONNECTIONS} connections, ${over})`, value: f.rps.toLocaleString('en-US'), target: `≥ ${rps.toLocaleString('en-US')}`, pass: f.rps >= rps },
      { figure: `${name}: latency p50 / p90 / p99`, value: `${f.p50Ms} / ${f.p90Ms} / ${f.p99Ms} ms`, target: `p99 < ${TARGET.p99Ms} ms`, pass: f.p99Ms < TARGET.p99Ms },
      { figure: `${name}: CPU per request, server / autocannon`, value: `${f.serverCpuMs} / ${f.clientCpuMs} ms`, target: '', pass: undefined },
    ];
    const results: ServeResults = {
      sessions, backfillS: round(backfill.wallS, 1), connections: CONNECTIONS, durationS: DURATION_S, warm, cold,
      checks: [
        { figure: `backfill of 2016 (366 daily runs, ${sessions.toLocaleString('en-US')} sessions)`, value: REUSE ? 'not run (INGOT_BENCH_SERVE_REUSE)' : `${round(backfill.wallS, 1)} s`, target: '', pass: undefined },
        ...figures(`GET /models/completed-sessions/{player}?limit=${PAGE}&cursor=…, any page of any of ${players.length.toLocaleString('en-US')} players`, warm, `${DURATION_S} s`),
        ...figures('same, cold: first page of each player once, on a fresh server', cold, `${players.length.toLocaleString('en-US')} requests`, TARGET.coldRps),
        { figure: 'load average (1, 5, 15 min) at the end', value: os.loadavg().map((x) => round(x)).join(', '), target: '', pass: undefined },
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
    `autocannon on loopback, every response a 200: cold, ${r.cold.requests.toLocaleString('en-US')} first pages (each player once) on a fresh server; ` +
      `then every page of every player read once and checked against the generated events; warm, ${r.warm.requests.toLocaleString('en-US')} requests over those ${r.warm.paths.toLocaleString('en-US')} pages of ${PAGE} rows.`,
    ...(r.profile ? ['', 'Server CPU profile (self time):', '', ...r.profile.map((p) => `- ${p.pct}% ${p.fn}`)] : []),
  ].join('\n') + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const results = await serveBench();
  await fs.writeFile(path.join(OUT, 'serve.json'), JSON.stringify({ machine: { cpus: os.cpus().length, loadAvg: os.loadavg()[0] }, ...results }, null, 2) + '\n');
  console.log('\n' + serveMarkdown(results));
}
