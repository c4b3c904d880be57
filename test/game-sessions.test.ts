/**
 * The game-sessions reference system (examples/game-sessions) end to end: the generator's zip
 * served over HTTP, three weeks of 2016 backfilled (download to the landing zone, raw.events per
 * data date, gold.sessions merged), then one date run again. Every table is checked against an
 * independent computation in TypeScript over the generated events: each session's status,
 * start and end, and which run inserted and last updated it (DL_INSERT_TS / DL_UPDATE_TS within
 * that run's window). Then `ingot serve` publishes the project: both endpoints are paged through
 * and compared with the same computation, bad parameters are refused, and the dashboard's
 * insight queries are checked.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generate, memberOf, zipOf, type DataFile } from '../examples/game-sessions/generate.js';
import { serveZip, type ZipServer } from '../examples/game-sessions/serve.js';
import { seeded } from '../examples/seeded.js';
import { sessionsNow } from '../examples/game-sessions/ingot.config.js';
import { cli, ROOT, tempDir } from './fixtures.js';
import { freePort } from './moto.js';

const EXAMPLE = path.join(ROOT, 'examples', 'game-sessions');
const FROM = '2016-01-01';
const TO = '2016-01-21';
const RERUN = '2016-01-10';
/** The served "now" (GAME_SESSIONS_NOW): inside the loaded dates, so sessions start after it too. */
const NOW = '2016-01-12T06:00:00.000Z';

type Row = Record<string, unknown>;

/** What the tests expect of one session. */
interface Expected {
  session_id: string;
  player_id: string;
  country: string | null;
  start_ts: string | null;
  end_ts: string | null;
  session_status: 'completed' | 'started';
  /** Data dates holding its events. */
  dates: Set<string>;
}

/** The sessions of the events of `files` (the loaded data dates), computed from the events themselves. */
function expectedSessions(files: DataFile[]): Map<string, Expected> {
  const out = new Map<string, Expected>();
  for (const f of files) {
    for (const e of f.events) {
      const s = out.get(e.session_id) ?? { session_id: e.session_id, player_id: e.player_id, country: null, start_ts: null, end_ts: null, session_status: 'started', dates: new Set<string>() };
      s.dates.add(f.date);
      if (e.event === 'start') {
        s.country = e.country!;
        if (s.start_ts === null || e.ts < s.start_ts) s.start_ts = e.ts;
      } else if (s.end_ts === null || e.ts > s.end_ts) s.end_ts = e.ts;
      s.session_status = s.start_ts !== null && s.end_ts !== null ? 'completed' : 'started';
      out.set(e.session_id, s);
    }
  }
  return out;
}

/** A timestamp as ISO UTC with milliseconds, whatever text form it came in. */
const iso = (v: unknown): string | null => (v === null || v === undefined ? null : new Date(String(v).replace(' ', 'T').replace(/\+00$/, 'Z')).toISOString());

describe('examples/game-sessions', () => {
  const files = generate();
  const loaded = files.filter((f) => f.date >= FROM && f.date <= TO);
  const sessions = expectedSessions(loaded);
  let dir: string;
  let cleanup: () => Promise<void>;
  let upstream: ZipServer;
  const saved = process.env['GAME_SESSIONS_URL'];

  const sql = async (query: string): Promise<Row[]> => {
    const r = await cli(['sql', '-p', dir, '--format', 'json', query]);
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out) as Row[];
  };

  before(async () => {
    ({ dir, cleanup } = await tempDir('game-sessions'));
    await fs.mkdir(path.join(dir, 'data'));
    await fs.writeFile(path.join(dir, 'data', 'game-sessions.zip'), await zipOf(files));
    upstream = await serveZip(path.join(dir, 'data', 'game-sessions.zip'));
    process.env['GAME_SESSIONS_URL'] = upstream.url;
    for (const f of ['ingot.config.ts', 'datasets']) await fs.cp(path.join(EXAMPLE, f), path.join(dir, f), { recursive: true });
  });

  after(async () => {
    await upstream?.close();
    if (saved === undefined) delete process.env['GAME_SESSIONS_URL'];
    else process.env['GAME_SESSIONS_URL'] = saved;
    await cleanup?.();
  });

  it('the data has what the tests need: late ends, sessions never ended, ends on a later date, repeated events', () => {
    const all = expectedSessions(files);
    const lateEnds = [...all.values()].filter((s) => s.end_ts !== null && [...s.dates].some((d) => d > s.end_ts!.slice(0, 10)));
    const crossing = [...all.values()].filter((s) => s.start_ts && s.end_ts && s.end_ts.slice(0, 10) > s.start_ts.slice(0, 10));
    assert.ok(all.size === 100_000, `${all.size} sessions`);
    assert.ok(lateEnds.length > 2000, `late end events: ${lateEnds.length}`);
    assert.ok(crossing.length > 1000, `sessions across midnight: ${crossing.length}`);
    assert.ok([...all.values()].filter((s) => s.end_ts === null).length > 5000, 'sessions never ended');
    const repeated = files.reduce((n, f) => n + f.events.length - new Set(f.events.map((e) => `${e.session_id}/${e.event}`)).size, 0);
    assert.ok(repeated > 100, `events delivered twice: ${repeated}`);
    assert.equal(files.length, 366);
    assert.deepEqual(generate().map((f) => f.events.length), files.map((f) => f.events.length), 'the seed fixes the data');
  });

  it(`backfills ${FROM}..${TO} then reruns ${RERUN}: raw.events per data date, gold.sessions equal to the events, DL timestamps from the merging runs`, async () => {
    const r = await cli(['backfill', 'sessions', '-p', dir, '--from', FROM, '--to', TO]);
    assert.equal(r.code, 0, r.out + r.err);
    // a rerun of a date whose input did not change reads the archive (its checksum) and commits nothing
    const again = await cli(['run', '-p', dir, '--date', RERUN]);
    assert.equal(again.code, 0, again.out + again.err);
    assert.match(again.err, new RegExp(`${RERUN} {2}ok {2}nothing to do`));
    assert.equal(upstream.downloads(), loaded.length + 1, 'each run downloads the archive');

    // the landing zone: the zip under its checksum, unzipped
    const landing = path.join(dir, 'landing', 'bronze.session_events');
    const [sha] = await fs.readdir(landing);
    assert.deepEqual(await fs.readFile(path.join(landing, sha!, 'game-sessions.zip')), await fs.readFile(path.join(dir, 'data', 'game-sessions.zip')));
    assert.equal((await fs.readFile(path.join(landing, sha!, 'members', ...memberOf('2016-01-07').split('/')), 'utf8')).split('\n').length - 1, files[6]!.events.length);

    // raw.events: one partition per data date, the day's events as delivered (repeats included)
    const perDate = await sql('SELECT CAST(data_date AS VARCHAR) AS d, count(*) AS n, count(DISTINCT _source) AS f FROM raw.events GROUP BY 1 ORDER BY 1');
    assert.deepEqual(perDate.map((x) => [x['d'], Number(x['n']), Number(x['f'])]), loaded.map((f) => [f.date, f.events.length, 1]));
    const rawHistory = await cli(['history', 'raw.events', '-p', dir]);
    assert.equal(rawHistory.out.split('\n').filter((l) => /^\s*\d+\s/.test(l)).length, loaded.length, 'one commit per run that changed something');

    // gold.sessions: one row per session, equal to the computation
    const rows = await sql('SELECT country, player_id, session_id, CAST(start_ts AS VARCHAR) AS start_ts, CAST(end_ts AS VARCHAR) AS end_ts, session_status, ' +
      'CAST(DL_INSERT_TS AS VARCHAR) AS ins, CAST(DL_UPDATE_TS AS VARCHAR) AS upd FROM gold.sessions');
    assert.equal(rows.length, sessions.size);
    const runs = await sql("SELECT CAST(logical_date AS VARCHAR) AS d, CAST(started_at AS VARCHAR) AS s, CAST(ended_at AS VARCHAR) AS e FROM _ingot.runs WHERE status = 'success' ORDER BY started_at");
    assert.equal(runs.length, loaded.length + 1);
    // the rerun (the last run) changed nothing
    const window = runs.slice(0, -1).map((x) => ({ date: x['d'] as string, start: Date.parse(iso(x['s'])!), end: Date.parse(iso(x['e'])!) }));
    let updatedLater = 0;
    for (const row of rows) {
      const want = sessions.get(row['session_id'] as string);
      assert.ok(want, `unexpected session ${String(row['session_id'])}`);
      assert.deepEqual(
        [row['player_id'], row['country'], iso(row['start_ts']), iso(row['end_ts']), row['session_status']],
        [want.player_id, want.country, want.start_ts, want.end_ts, want.session_status], `session ${want.session_id}`);
      // inserted by the first run holding one of its events, updated by the last one
      const touching = window.filter((w) => want.dates.has(w.date));
      const [ins, upd] = [Date.parse(iso(row['ins'])!), Date.parse(iso(row['upd'])!)];
      assert.ok(ins >= touching[0]!.start && ins <= touching[0]!.end, `${want.session_id}: DL_INSERT_TS ${String(row['ins'])} within the run of ${touching[0]!.date}`);
      assert.ok(upd >= touching.at(-1)!.start && upd <= touching.at(-1)!.end, `${want.session_id}: DL_UPDATE_TS ${String(row['upd'])} within the run of ${touching.at(-1)!.date}`);
      if (touching.length > 1) updatedLater++;
    }
    const completedLater = [...sessions.values()].filter((s) => s.session_status === 'completed' && s.dates.size > 1).length;
    assert.ok(completedLater > 200, `sessions completed on a later data date: ${completedLater}`);
    assert.ok(updatedLater >= completedLater, 'updated by the later runs');
    assert.ok([...sessions.values()].some((s) => s.session_status === 'started'));
  });

  describe('ingot serve', () => {
    let server: ChildProcess | undefined;
    let base: string;
    let key: string;

    const get = async (url: string, auth = true): Promise<{ status: number; body: Row }> => {
      const res = await fetch(`${base}${url}`, auth ? { headers: { authorization: `Bearer ${key}` } } : {});
      return { status: res.status, body: (await res.json()) as Row };
    };

    /** Every item of a paged endpoint, page by page (`limit` each); checks `count` on every page. */
    const pages = async (url: string, limit: number): Promise<{ items: Row[]; count: number; pages: number }> => {
      const items: Row[] = [];
      let cursor: string | null = null;
      let count = -1;
      let n = 0;
      do {
        const sep = url.includes('?') ? '&' : '?';
        const { status, body } = await get(`${url}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        assert.equal(status, 200, JSON.stringify(body));
        const page = body['items'] as Row[];
        assert.ok(page.length <= limit);
        if (count >= 0) assert.equal(body['count'], count, 'count is the same on every page');
        count = body['count'] as number;
        items.push(...page);
        cursor = body['next'] as string | null;
        n++;
        assert.ok(n <= 1000, 'paging ends');
      } while (cursor);
      return { items, count, pages: n };
    };

    const item = (s: Expected, ts: string | null): Row => ({ player_id: s.player_id, session_id: s.session_id, country: s.country, ts });
    const asItems = (rows: Row[]): Row[] => rows.map((r) => ({ player_id: r['player_id'], session_id: r['session_id'], country: r['country'], ts: iso(r['ts']) }));
    const byTsDesc = (a: Row, b: Row): number => (a['ts']! < b['ts']! ? 1 : a['ts']! > b['ts']! ? -1 : (a['session_id'] as string) < (b['session_id'] as string) ? -1 : 1);

    before(async () => {
      const created = await cli(['keys', 'create', '-p', dir, '--scope', 'read', '--name', 'test']);
      assert.equal(created.code, 0, created.err);
      key = /\b(\S{24,})\s*$/.exec(created.out.trim())![1]!;
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      server = spawn(process.execPath, [path.join(ROOT, 'dist', 'cli', 'bin.js'), 'serve', '-p', dir, '--port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, GAME_SESSIONS_NOW: NOW } });
      let log = '';
      server.stderr!.on('data', (d: Buffer) => (log += d.toString()));
      for (let i = 0; ; i++) {
        const ok = await fetch(`${base}/ready`).then((r) => r.ok, () => false);
        if (ok) break;
        assert.ok(i < 150 && server.exitCode === null, `ingot serve did not get ready:\n${log}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    });

    after(async () => {
      if (server && server.exitCode === null) {
        server.kill('SIGTERM');
        await new Promise((r) => server!.once('exit', r));
      }
    });

    it('GET /health needs no key; the endpoints do', async () => {
      assert.deepEqual(await get('/health', false), { status: 200, body: { status: 'ok' } });
      assert.equal((await get('/models/completed-sessions/x', false)).status, 401);
    });

    it("/models/completed-sessions/{player_id}: the player's completed sessions, latest end first, every page", async () => {
      const completed = [...sessions.values()].filter((s) => s.session_status === 'completed');
      const perPlayer = new Map<string, Expected[]>();
      for (const s of completed) perPlayer.set(s.player_id, [...(perPlayer.get(s.player_id) ?? []), s]);
      const busiest = [...perPlayer].sort((a, b) => b[1].length - a[1].length)[0]![0];
      const rand = seeded(6);
      const players = [busiest, ...Array.from({ length: 6 }, () => [...perPlayer.keys()][Math.floor(rand() * perPlayer.size)]!)];
      // a player whose sessions all still run
      const onlyStarted = [...sessions.values()].find((s) => !perPlayer.has(s.player_id))?.player_id;
      if (onlyStarted) players.push(onlyStarted);
      assert.ok(perPlayer.get(busiest)!.length > 20, 'the busiest player needs several pages');
      for (const player of players) {
        const want = (perPlayer.get(player) ?? []).map((s) => item(s, s.end_ts)).sort(byTsDesc);
        const got = await pages(`/models/completed-sessions/${player}`, 7);
        assert.equal(got.count, want.length, player);
        assert.deepEqual(asItems(got.items), want, player);
        assert.equal(got.pages, Math.max(1, Math.ceil(want.length / 7)));
      }
      assert.deepEqual((await get('/models/completed-sessions/0000000000000000000000000000dead')).body['items'], []);
      assert.equal((await get('/models/completed-sessions/0000000000000000000000000000dead')).body['count'], 0);
    });

    it('/models/started_sessions/{country}/{hours}: sessions started within hours before the configured now, every page', async () => {
      const started = [...sessions.values()].filter((s) => s.start_ts !== null);
      assert.ok(started.some((s) => s.start_ts! > NOW), 'sessions start after now: the endpoint must leave them out');
      let nonEmpty = 0;
      for (const country of ['US', 'IT', 'DE', 'NZ', 'ZZ']) {
        for (const hours of [1, 5, 24]) {
          const from = new Date(Date.parse(NOW) - hours * 3_600_000).toISOString();
          const want = started.filter((s) => s.country === country && s.start_ts! >= from && s.start_ts! <= NOW).map((s) => item(s, s.start_ts)).sort(byTsDesc);
          const got = await pages(`/models/started_sessions/${country}/${hours}`, 5);
          assert.equal(got.count, want.length, `${country} ${hours}`);
          assert.deepEqual(asItems(got.items), want, `${country} ${hours}`);
          if (want.length > 5) nonEmpty++;
        }
      }
      assert.ok(nonEmpty >= 3, 'several answers span pages');
    });

    it('the endpoint\'s now: GAME_SESSIONS_NOW, else 2016-11-06 as in the reference; a malformed value is refused', () => {
      assert.equal(sessionsNow({}), '2016-11-06T00:00:00.000Z');
      assert.equal(sessionsNow({ GAME_SESSIONS_NOW: '2016-01-12T06:00:00Z' }), NOW);
      for (const bad of ['2016-11-06', 'yesterday', "2016-11-06T00:00:00Z' OR 1=1 --", '2016-13-40T00:00:00Z']) {
        assert.throws(() => sessionsNow({ GAME_SESSIONS_NOW: bad }), /GAME_SESSIONS_NOW: .* is not a UTC timestamp/, bad);
      }
    });

    it('refuses bad parameters with 422 and a message', async () => {
      for (const [url, field] of [['/models/started_sessions/IT/0', 'hours'], ['/models/started_sessions/IT/25', 'hours'], ['/models/started_sessions/IT/x', 'hours'], ['/models/started_sessions/IT/1.5', 'hours'], ['/models/started_sessions/Italy/3', 'country']] as const) {
        const { status, body } = await get(url);
        assert.equal(status, 422, url);
        assert.equal(body['error'], 'VALIDATION', url);
        assert.equal(body['field'], field, url);
        assert.match(body['message'] as string, new RegExp(field), url);
      }
      assert.match((await get('/models/started_sessions/IT/25')).body['message'] as string, /between 1 and 24/);
    });

    it('the dashboard answers the insight queries', async () => {
      const { status, body } = await get('/api/dashboards/sessions');
      assert.equal(status, 200, JSON.stringify(body));
      const panels = body['panels'] as { title: string; type: string; x?: string; y?: string; rows: Row[] }[];
      const all = [...sessions.values()];
      const count = (xs: Expected[], by: (s: Expected) => string): [string, number][] => {
        const m = new Map<string, number>();
        for (const s of xs) m.set(by(s), (m.get(by(s)) ?? 0) + 1);
        return [...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
      };
      const completed = all.filter((s) => s.session_status === 'completed');
      const rows = (i: number): unknown[][] => panels[i]!.rows.map((r) => Object.values(r).map((v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v)));
      assert.deepEqual(rows(0), [[all.length]]);
      assert.deepEqual(rows(1), count(completed, (s) => s.country!).slice(0, 10));
      assert.deepEqual(rows(2), count(completed, (s) => s.player_id).slice(0, 10));
      assert.deepEqual(rows(3), count(all.filter((s) => s.start_ts !== null && s.start_ts.startsWith('2016')), (s) => s.country!).slice(0, 1));
      assert.equal(panels[4]!.type, 'bar');
      assert.deepEqual([panels[4]!.x, panels[4]!.y], ['country', 'completed']);
      assert.deepEqual(rows(4), rows(1));
    });
  });
});
