/**
 * The game-sessions example (examples/game-sessions) on Spark: the same project twice, once on
 * DuckDB and once with `engine: 'spark'` in ingot.config.ts (bronze.session_events, an archive
 * source, stays on DuckDB; raw.events and gold.sessions run on a local Spark Connect server and
 * write through Delta Lake), over the first data dates of 2016 and a rerun of one of them.
 * raw.events and gold.sessions must hold the same rows on both engines, except gold.sessions'
 * DL_INSERT_TS / DL_UPDATE_TS (each engine's `now()`), which must come from the same runs: the
 * run that first merged the session (kept by `insert_only` across later merges) and the run that
 * last merged it (the `sequence_by`).
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { Lake } from '../src/table/lake.js';
import { queryLake } from '../src/operations/query.js';
import { loadProject } from '../src/project.js';
import type { RunResult } from '../src/metadata/records.js';
import { Runner } from '../src/run/runner.js';
import { generate, zipOf } from '../examples/game-sessions/generate.js';
import { serveZip, type ZipServer } from '../examples/game-sessions/serve.js';
import { ROOT, tempDir } from './fixtures.js';
import { readWithDeltaRs } from './helpers.js';
import { startSparkConnect, type SparkConnectServer } from './spark-connect-server.js';

const EXAMPLE = path.join(ROOT, 'examples', 'game-sessions');
/** 2016-01-01 .. 2016-01-08: ends arriving a date or more late, and events delivered twice. */
const DAYS = Array.from({ length: 8 }, (_, i) => `2016-01-0${i + 1}`);
const RERUN = '2016-01-05';

type Row = Record<string, unknown>;

describe('examples/game-sessions on Spark', { timeout: 900_000 }, () => {
  const files = generate().filter((f) => DAYS.includes(f.date));
  let server: SparkConnectServer;
  let upstream: ZipServer;
  let dir: string;
  let cleanup: () => Promise<void>;
  const saved = process.env['GAME_SESSIONS_URL'];

  before(async () => {
    ({ dir, cleanup } = await tempDir('spark-game-sessions'));
    await fs.writeFile(path.join(dir, 'game-sessions.zip'), await zipOf(generate()));
    upstream = await serveZip(path.join(dir, 'game-sessions.zip'));
    process.env['GAME_SESSIONS_URL'] = upstream.url;
    server = await startSparkConnect();
    process.env['INGOT_TEST_SPARK_REMOTE'] = server.url;
  });
  after(async () => {
    await server?.stop();
    await upstream?.close();
    if (saved === undefined) delete process.env['GAME_SESSIONS_URL'];
    else process.env['GAME_SESSIONS_URL'] = saved;
    await cleanup?.();
  });

  it('the dates hold late ends and repeated events', () => {
    const dates = new Map<string, Set<string>>();
    for (const f of files) for (const e of f.events) dates.set(e.session_id, (dates.get(e.session_id) ?? new Set()).add(f.date));
    const late = files.flatMap((f) => f.events.filter((e) => e.event === 'end' && e.ts.slice(0, 10) < f.date));
    const repeated = files.reduce((n, f) => n + f.events.length - new Set(f.events.map((e) => `${e.session_id}/${e.event}`)).size, 0);
    assert.ok(late.length > 50, `end events delivered on a later date: ${late.length}`);
    assert.ok(repeated > 5, `events delivered twice in a date: ${repeated}`);
    assert.ok([...dates.values()].filter((d) => d.size > 1).length > 50, 'sessions with events on two dates');
  });

  it(`backfills ${DAYS[0]}..${DAYS.at(-1)} and reruns ${RERUN} with raw.events and gold.sessions on Spark: the rows DuckDB computes, DL timestamps from the same runs`, async () => {
    const projects: Record<'duckdb' | 'spark', { dir: string; runs: RunResult[] }> = {
      duckdb: { dir: path.join(dir, 'duckdb'), runs: [] },
      spark: { dir: path.join(dir, 'spark'), runs: [] },
    };
    const timings: string[] = [];
    for (const [engine, p] of Object.entries(projects)) {
      for (const f of ['ingot.config.ts', 'datasets']) await fs.cp(path.join(EXAMPLE, f), path.join(p.dir, f), { recursive: true });
      if (engine === 'spark') {
        const config = path.join(p.dir, 'ingot.config.ts');
        const text = await fs.readFile(config, 'utf8');
        assert.ok(text.includes("lake: './lake',"));
        await fs.writeFile(config, text.replace("lake: './lake',", "lake: './lake', engine: 'spark', spark: { url: 'env:INGOT_TEST_SPARK_REMOTE' },"));
      }
      const t0 = performance.now();
      const runner = await Runner.open(await loadProject(p.dir));
      try {
        p.runs = await runner.runAll(DAYS);
        p.runs.push(await runner.run(RERUN, { force: true }));
      } finally {
        await runner.close();
      }
      for (const r of p.runs) assert.equal(r.status, 'success', `${engine} ${r.logicalDate}: ${r.error}`);
      timings.push(`${engine} ${Math.round(performance.now() - t0)} ms`);
    }
    console.log(`game-sessions, ${DAYS.length} dates + 1 rerun: ${timings.join(', ')}`);

    const query = async (project: string, sql: string): Promise<Row[]> => {
      const engine = await DuckDBEngine.open();
      try {
        return await queryLake(new Lake(path.join(project, 'lake'), engine), engine, sql);
      } finally {
        await engine.close();
      }
    };
    const both = async (sql: string): Promise<[Row[], Row[]]> => [await query(projects.duckdb.dir, sql), await query(projects.spark.dir, sql)];

    // raw.events: the same rows
    const [rawDuck, rawSpark] = await both('SELECT * FROM raw.events ORDER BY ALL');
    assert.equal(rawDuck.length, files.reduce((n, f) => n + f.events.length, 0));
    assert.deepEqual(rawSpark, rawDuck);

    // gold.sessions: the same rows but for the DL timestamps
    const cols = 'country, player_id, session_id, start_ts, end_ts, session_status';
    const [goldDuck, goldSpark] = await both(`SELECT ${cols} FROM gold.sessions ORDER BY session_id`);
    assert.equal(goldDuck.length, new Set(files.flatMap((f) => f.events.map((e) => e.session_id))).size);
    assert.ok(goldDuck.some((r) => r['session_status'] === 'started') && goldDuck.some((r) => r['session_status'] === 'completed'));
    assert.deepEqual(goldSpark, goldDuck);

    // DL_INSERT_TS / DL_UPDATE_TS: set by the first run holding an event of the session (kept by
    // insert_only across later merges) and by the last one (the rerun of RERUN comes last), on both engines
    const runDates = [...DAYS, RERUN];
    const touching = new Map<string, number[]>();
    for (const f of files) {
      for (const e of f.events) {
        const runs = runDates.flatMap((d, i) => (d === f.date ? [i] : []));
        touching.set(e.session_id, [...new Set([...(touching.get(e.session_id) ?? []), ...runs])].sort((a, b) => a - b));
      }
    }
    const runOf = (runs: RunResult[], ts: unknown, what: string): number => {
      const t = Date.parse(String(ts));
      assert.ok(Number.isFinite(t), `${what}: ${String(ts)}`);
      const i = runs.findIndex((r) => t >= r.startedAt.getTime() && t <= r.endedAt.getTime());
      assert.ok(i >= 0, `${what} ${String(ts)} is within no run`);
      return i;
    };
    const dl = "SELECT session_id, strftime(DL_INSERT_TS, '%Y-%m-%dT%H:%M:%S.%fZ') AS ins, strftime(DL_UPDATE_TS, '%Y-%m-%dT%H:%M:%S.%fZ') AS upd FROM gold.sessions ORDER BY session_id";
    let advanced = 0;
    for (const [engine, p] of Object.entries(projects)) {
      for (const row of await query(p.dir, dl)) {
        const id = String(row['session_id']);
        const want = touching.get(id)!;
        const got = [runOf(p.runs, row['ins'], `${engine}: ${id} DL_INSERT_TS`), runOf(p.runs, row['upd'], `${engine}: ${id} DL_UPDATE_TS`)];
        assert.deepEqual(got, [want[0], want.at(-1)], `${engine}: session ${id} [inserting run, last updating run]`);
        if (got[1]! > got[0]!) {
          assert.ok(Date.parse(String(row['upd'])) > Date.parse(String(row['ins'])), `${engine}: ${id} DL_UPDATE_TS after DL_INSERT_TS`);
          if (engine === 'spark') advanced++;
        }
      }
    }
    // sessions completed on a later date, and those of the rerun date
    assert.ok(advanced > 200, `sessions updated by a later run than the one inserting them: ${advanced}`);

    // Delta Lake wrote the Spark tables: merges after the first run, read by delta-rs as well
    const gold = path.join(projects.spark.dir, 'lake', 'gold', 'sessions');
    const log = await fs.readFile(path.join(gold, '_delta_log', '00000000000000000001.json'), 'utf8');
    assert.match(log, /"engineInfo":"Apache-Spark\/[\d.]+ Delta-Lake\/[\d.]+"/);
    assert.match(log, /"operation":"MERGE"/);
    assert.equal(readWithDeltaRs(gold).rows.length, goldDuck.length);
  });
});
