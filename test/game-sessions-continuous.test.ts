/**
 * The game-sessions example in continuous mode (examples/game-sessions/continuous): `ingot serve`
 * as a real process, the example's generator (stream.ts) landing event files into its landing
 * folder while it runs. Each landed event must be in raw.events exactly once (per file, the
 * file's own events, repeats included), gold.sessions must equal its recomputation by SQL over
 * raw.events, gold.sessions must have read only raw.events's new rows each run, and a session
 * of the last file must show through the published endpoint. Then the same under `kill -9`:
 * the server killed at random moments of continuous processing 20 times and restarted.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { landStream, type StreamFile } from '../examples/game-sessions/stream.js';
import { seeded } from '../examples/seeded.js';
import { loadProject } from '../src/project.js';
import { Runner } from '../src/run/runner.js';
import { cli, eachLine, ROOT, tempDir } from './fixtures.js';
import { freePort } from './moto.js';

const EXAMPLE = path.join(ROOT, 'examples', 'game-sessions');
type Row = Record<string, unknown>;

/** A copy of the continuous project (with the batch config it takes its endpoints from); returns its folder. */
async function continuousProject(dir: string): Promise<string> {
  await fs.copyFile(path.join(EXAMPLE, 'ingot.config.ts'), path.join(dir, 'ingot.config.ts'));
  for (const f of ['ingot.config.ts', 'datasets']) await fs.cp(path.join(EXAMPLE, 'continuous', f), path.join(dir, 'continuous', f), { recursive: true });
  return path.join(dir, 'continuous');
}

/** `ingot serve` (the built CLI) on `project`, its JSON log lines collected. */
function startServe(project: string, args: string[]): { child: ChildProcess; log: string[]; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'cli', 'bin.js'), 'serve', '-p', project, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  const log: string[] = [];
  eachLine(child.stderr!, (l) => log.push(l));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, log, exited };
}

/** Polls `cond` every 50 ms until it holds; throws naming `what` after `ms`. */
async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A timestamp as ISO UTC with milliseconds, whatever text form it came in. */
const iso = (v: unknown): string => new Date(String(v).replace(' ', 'T').replace(/\+00(:00)?$/, 'Z')).toISOString();

const sql = async (project: string, query: string): Promise<Row[]> => {
  const r = await cli(['sql', '-p', project, '--format', 'json', query]);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as Row[];
};

/** Whether the project's pipeline has nothing left to do: every landed file in raw.events, gold.sessions up to date with it. */
async function caughtUp(project: string, rows: number): Promise<boolean> {
  const [count] = await sql(project, 'SELECT count(*) AS n FROM raw.events').catch(() => [{ n: -1 }]);
  if (Number(count!['n']) !== rows) return false;
  const runner = await Runner.open(await loadProject(project));
  try {
    const plan = await runner.plan({ dates: 'once' });
    return plan.runs.every((r) => r.steps.every((s) => s.action === 'skip'));
  } finally {
    await runner.close();
  }
}

/** gold.sessions against its recomputation from raw.events: rows missing from and extra in gold.sessions, and its row count. */
async function checkAgainstRaw(project: string, files: StreamFile[]): Promise<void> {
  // every landed event exactly once: per file, the file's events (repeats included) with its data date
  const expected = files.flatMap((f) => f.events.map((e) => `landing/events/${f.name}|${f.date}|${e.session_id}|${e.event}|${e.ts}|${e.country ?? ''}|${e.player_id}`)).sort();
  const got = (await sql(project, 'SELECT _source, CAST(data_date AS VARCHAR) AS d, session_id, event, CAST(ts AS VARCHAR) AS ts, country, player_id FROM raw.events'))
    .map((r) => `${String(r['_source'])}|${String(r['d'])}|${String(r['session_id'])}|${String(r['event'])}|${iso(r['ts'])}|${String(r['country'] ?? '')}|${String(r['player_id'])}`).sort();
  assert.equal(got.length, expected.length, 'raw.events holds as many rows as landed');
  assert.deepEqual(got, expected, 'raw.events: every landed event exactly once');
  const recomputed = `SELECT max(country) FILTER (WHERE event = 'start') AS country, max(player_id) AS player_id, session_id,
      min(ts) FILTER (WHERE event = 'start') AS start_ts, max(ts) FILTER (WHERE event = 'end') AS end_ts,
      CASE WHEN bool_or(event = 'start') AND bool_or(event = 'end') THEN 'completed' ELSE 'started' END AS session_status
    FROM raw.events GROUP BY session_id`;
  const gold = 'SELECT country, player_id, session_id, start_ts, end_ts, session_status FROM gold.sessions';
  const diff = await sql(project, `SELECT 'missing' AS side, * FROM (${recomputed} EXCEPT ALL ${gold}) UNION ALL SELECT 'extra', * FROM (${gold} EXCEPT ALL ${recomputed}) ORDER BY session_id LIMIT 10`);
  assert.deepEqual(diff, [], 'gold.sessions equals its recomputation from raw.events');
  const sessions = new Set(files.flatMap((f) => f.events.map((e) => e.session_id)));
  const [n] = await sql(project, 'SELECT count(*) AS n, count(*) FILTER (WHERE session_status = \'completed\') AS completed FROM gold.sessions');
  assert.equal(Number(n!['n']), sessions.size, 'one row per landed session');
  assert.ok(Number(n!['completed']) > sessions.size / 2, 'most sessions completed');
}

describe('examples/game-sessions continuous', () => {
  it('ingot serve takes landed files as they arrive: raw.events exactly once, gold.sessions incremental and equal to its recomputation, a new session through the endpoint', async (t) => {
    const { dir, cleanup } = await tempDir('game-continuous');
    t.after(cleanup);
    const project = await continuousProject(dir);
    const created = await cli(['keys', 'create', '-p', project, '--scope', 'read']);
    assert.equal(created.code, 0, created.err);
    const key = created.out.trim().split(/\s+/).at(-1)!;
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const server = startServe(project, ['--port', String(port)]);
    t.after(async () => { if (server.child.exitCode === null) { server.child.kill('SIGKILL'); await server.exited; } });
    await until('ingot serve ready', async () => {
      assert.equal(server.child.exitCode, null, server.log.join('\n'));
      return fetch(`${base}/ready`).then((r) => r.ok, () => false);
    });

    // the generator for a few seconds: 5 files a second of at most 60 events
    const files: StreamFile[] = [];
    const landedAt = new Map<number, number>();
    await landStream(path.join(project, 'landing', 'events'), { filesPerSecond: 5, rowsPerFile: 60, seconds: 4, onLanded: (f, at) => { files.push(f); landedAt.set(f.seq, at); } });
    assert.ok(files.length >= 15, `${files.length} files landed`);
    const rows = files.reduce((n, f) => n + f.events.length, 0);

    // a session the last file completes, whose start landed before: through the published endpoint
    const last = files.at(-1)!;
    const started = new Set(files.flatMap((f) => f.events.filter((e) => e.event === 'start').map((e) => e.session_id)));
    const probe = last.events.filter((e) => e.event === 'end' && started.has(e.session_id)).at(-1)!;
    assert.ok(probe, 'the last file completes a session');
    const get = async (url: string): Promise<Row> => {
      const res = await fetch(`${base}${url}`, { headers: { authorization: `Bearer ${key}` } });
      assert.equal(res.status, 200, url);
      return (await res.json()) as Row;
    };
    await until(`session ${probe.session_id} through /models/completed-sessions`, async () =>
      ((await get(`/models/completed-sessions/${probe.player_id}?limit=100`))['items'] as Row[]).some((i) => i['session_id'] === probe.session_id), 30_000);
    console.log(`game-sessions continuous: ${files.length} files, ${rows} events; the last file's session visible ${Date.now() - landedAt.get(last.seq)!} ms after it landed`);
    const item = ((await get(`/models/completed-sessions/${probe.player_id}?limit=100`))['items'] as Row[]).find((i) => i['session_id'] === probe.session_id)!;
    assert.equal(iso(item['ts']), probe.ts, 'ts is the end');

    await until('every landed file processed', () => caughtUp(project, rows));
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0);
    await checkAgainstRaw(project, files);

    // runs started by the files, several of them; gold.sessions read only the rows each run appended to raw.events
    const runs = JSON.parse((await cli(['runs', '-p', project, '--format', 'json', '--limit', '1000'])).out) as { pipeline: string; status: string }[];
    assert.ok(runs.length >= 3, `${runs.length} runs`);
    assert.ok(runs.every((r) => r.pipeline === 'sessions-stream' && r.status === 'success'), JSON.stringify(runs));
    const [read] = await sql(project, "SELECT CAST(sum(rows_in) AS INTEGER) AS n FROM _ingot.run_datasets WHERE dataset = 'gold.sessions'");
    const [perRun] = await sql(project, 'SELECT CAST(sum(n) AS INTEGER) AS n FROM (SELECT _run_id, count(DISTINCT session_id) AS n FROM raw.events GROUP BY _run_id)');
    assert.equal(read!['n'], perRun!['n'], "each run's gold.sessions changes are the sessions of that run's new raw rows");
    // sessions whose end came in a later run than their start: completed by a partial change (ignore_null_updates kept the start)
    const [split] = await sql(project, "SELECT count(*) AS n FROM (SELECT session_id FROM raw.events GROUP BY session_id HAVING count(DISTINCT _run_id) FILTER (WHERE event = 'start') = 1 AND min(_run_id) FILTER (WHERE event = 'end') <> min(_run_id) FILTER (WHERE event = 'start'))");
    assert.ok(Number(split!['n']) > 0, 'some sessions start and end in different runs');
  });

  it('kill -9 of ingot serve at random moments of continuous processing, 20 times: every landed event in raw.events once, gold.sessions equal to its recomputation', async (t) => {
    const { dir, cleanup } = await tempDir('game-continuous-crash');
    t.after(cleanup);
    const project = await continuousProject(dir);
    const seed = Number(process.env['CRASH_SEED'] ?? Date.now() % 100_000);
    const rand = seeded(seed);
    const files: StreamFile[] = [];
    const stop = new AbortController();
    t.after(() => stop.abort());
    // files keep landing (10 a second, at most 50 events each) through every kill and restart
    const landing = landStream(path.join(project, 'landing', 'events'), { filesPerSecond: 10, rowsPerFile: 50, signal: stop.signal, onLanded: (f) => files.push(f) });
    const delays: number[] = [];
    for (let i = 0; i < 20; i++) {
      const server = startServe(project, ['--no-http']);
      t.after(() => { if (server.child.exitCode === null) server.child.kill('SIGKILL'); });
      await until('the scheduler started', () => {
        assert.equal(server.child.exitCode, null, server.log.join('\n'));
        return server.log.some((l) => l.includes('"scheduler-start"'));
      });
      const delay = Math.floor(rand() * 1000);
      delays.push(delay);
      await new Promise((r) => setTimeout(r, delay));
      server.child.kill('SIGKILL');
      await server.exited;
      const crashed = server.log.find((l) => /"level":"error"/.test(l));
      assert.equal(crashed, undefined, `run ${i + 1}: ${crashed}`);
    }
    stop.abort();
    await landing;
    const rows = files.reduce((n, f) => n + f.events.length, 0);

    // restarted once more, the server catches up with everything that landed
    const last = startServe(project, ['--no-http']);
    t.after(() => { if (last.child.exitCode === null) last.child.kill('SIGKILL'); });
    await until('every landed file processed', () => caughtUp(project, rows), 120_000).catch((err: Error) => {
      throw new Error(`${err.message} (seed ${seed}): ${last.log.slice(-5).join('\n')}`);
    });
    last.child.kill('SIGTERM');
    assert.equal(await last.exited, 0);
    await checkAgainstRaw(project, files);

    // the kills hit work in progress: data files written by runs that never committed
    const orphans = await orphanFiles(project, ['raw/events', 'gold/sessions']);
    console.log(`game-sessions crash test (seed ${seed}): ${files.length} files, ${rows} events; kills after ${delays.join(', ')} ms; ${orphans} uncommitted data files left by killed runs`);
    assert.ok(orphans > 0, 'some kills interrupted a run after it wrote data files');
  });
});

/** Data files under the tables' folders that no commit of their logs ever added (left by runs killed before committing). */
async function orphanFiles(project: string, tables: string[]): Promise<number> {
  let n = 0;
  for (const t of tables) {
    const root = path.join(project, 'lake', ...t.split('/'));
    const added = new Set<string>();
    for (const f of await fs.readdir(path.join(root, '_delta_log'))) {
      if (!/^\d{20}\.json$/.test(f)) continue;
      for (const line of (await fs.readFile(path.join(root, '_delta_log', f), 'utf8')).split('\n')) {
        if (line.trim() === '') continue;
        const action = JSON.parse(line) as { add?: { path: string } };
        if (action.add) added.add(decodeURIComponent(action.add.path));
      }
    }
    const data = (await fs.readdir(root, { recursive: true })).map(String).filter((f) => f.endsWith('.parquet') && !f.startsWith('_delta_log'));
    n += data.filter((f) => !added.has(f.split(path.sep).join('/'))).length;
  }
  return n;
}
