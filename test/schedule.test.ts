/**
 * The scheduler in process, against a fixed or fast clock: cron with time zones, catchup, manual
 * triggers, pause, dependencies across pipelines (sensors) with per-pipeline and overall run
 * limits, retries with exponential backoff, timeouts, the failure webhook, backfill, and two
 * schedulers sharing one store (a SQLite file, and a real PostgreSQL server).
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { backfill } from '../src/schedule/backfill.js';
import { dueIntervals, Scheduler } from '../src/schedule/scheduler.js';
import { pipelineNamed, pipelinesOf, type Pipeline } from '../src/schedule/pipeline.js';
import { openMetadata, openMetadataAt } from '../src/metadata/open.js';
import type { MetadataStore } from '../src/metadata/store.js';
import { cli, tempDir } from './fixtures.js';
import { DAILY, EVENTS, query, writeProject } from './schedule-helpers.js';
import { startPostgres, type PostgresServer } from './postgres-server.js';

const quiet = (): void => {};

/** A scheduler on `project` with a fixed clock at `now`; stopped and its store closed after the test. */
async function scheduler(t: { after: (fn: () => Promise<void>) => void }, project: Awaited<ReturnType<typeof writeProject>>, now: string | (() => Date), options: { maxActiveRuns?: number; store?: MetadataStore; webhook?: string } = {}): Promise<{ s: Scheduler; store: MetadataStore }> {
  const store = options.store ?? (await openMetadata(project));
  const clock = typeof now === 'string' ? () => new Date(now) : now;
  const s = new Scheduler(project, store, { now: clock, tickMs: 50, leaseMs: 2000, log: quiet, ...(options.maxActiveRuns ? { maxActiveRuns: options.maxActiveRuns } : {}), ...(options.webhook ? { webhook: options.webhook } : {}) });
  t.after(async () => {
    await s.stop(0);
    if (!options.store) await store.close();
  });
  return { s, store };
}

async function eventsPerDay(project: Awaited<ReturnType<typeof writeProject>>): Promise<Record<string, number>> {
  const rows = await query(project, 'SELECT CAST(day AS VARCHAR) AS day, count(*) AS n FROM bronze.events GROUP BY day ORDER BY day');
  return Object.fromEntries(rows.map((r) => [String(r['day']), Number(r['n'])]));
}

describe('schedules', () => {
  it('a tick runs the last complete interval in the pipeline\'s time zone; catchup from start, or only the latest', async (t) => {
    const { dir, cleanup } = await tempDir('sched-due');
    t.after(cleanup);
    const project = await writeProject(dir, `{ lake: './lake', pipelines: [
      pipeline({ name: 'utc', schedule: '0 1 * * *', start: '2024-03-05' }),
      pipeline({ name: 'ny', schedule: '0 1 * * *', timezone: 'America/New_York', start: '2024-03-05' }),
      pipeline({ name: 'latest', schedule: '0 1 * * *', start: '2024-03-05', catchup: false }),
      pipeline({ name: 'monthly', schedule: '0 2 1 * *', interval: 'monthly', start: '2023-11-01' }) ] }`);
    const [utc, ny, latest, monthly] = pipelinesOf(project) as [never, never, never, never];
    // 02:00 UTC on 03-10: the 01:00 UTC tick of 03-10 covers 03-09
    assert.deepEqual(dueIntervals(utc, [], new Date('2024-03-10T02:00:00Z')), ['2024-03-05', '2024-03-06', '2024-03-07', '2024-03-08', '2024-03-09']);
    // 00:30 UTC on 03-10: the 03-10 tick has not come yet
    assert.deepEqual(dueIntervals(utc, [], new Date('2024-03-10T00:30:00Z')).at(-1), '2024-03-08');
    // 05:30 UTC on 03-10 is 00:30 in New York (EST): the latest New York tick was 03-09 01:00, covering 03-08
    assert.deepEqual(dueIntervals(ny, [], new Date('2024-03-10T05:30:00Z')).at(-1), '2024-03-08');
    assert.deepEqual(dueIntervals(ny, [], new Date('2024-03-10T06:00:00Z')).at(-1), '2024-03-09');
    assert.deepEqual(dueIntervals(latest, [], new Date('2024-03-10T02:00:00Z')), ['2024-03-09']);
    assert.deepEqual(dueIntervals(monthly, [], new Date('2024-03-01T03:00:00Z')), ['2023-11-01', '2023-12-01', '2024-01-01', '2024-02-01']);
    // done and running (live lease) intervals are not due; an expired lease is (crash recovery), a queued one is (trigger)
    const now = Date.now();
    const state = (logicalDate: string, status: 'success' | 'running' | 'queued' | 'failed', leaseExpires: number | null = null) =>
      ({ pipeline: 'utc', logicalDate, status, runId: 'r', startedAt: 0, owner: 'o', leaseExpires, attempt: 1, trigger: 'schedule' });
    assert.deepEqual(dueIntervals(utc, [state('2024-03-05', 'success'), state('2024-03-06', 'running', now + 10_000), state('2024-03-07', 'running', now - 1), state('2024-03-08', 'failed'), state('2024-01-01', 'queued')], new Date('2024-03-10T02:00:00Z'), now),
      ['2024-01-01', '2024-03-07', '2024-03-09']);
  });

  it('catches up oldest first, follows a fast clock, runs triggers, and starts nothing while paused', async (t) => {
    const { dir, cleanup } = await tempDir('sched-catchup');
    t.after(cleanup);
    const project = await writeProject(dir, "{ lake: './lake', pipelines: [pipeline({ name: 'events', schedule: '0 1 * * *', start: '2024-03-05' })] }");
    let clock = Date.parse('2024-03-08T02:00:00Z');
    const { s, store } = await scheduler(t, project, () => new Date(clock));
    s.start();
    await s.idle();
    assert.deepEqual(s.results.map((r) => r.logicalDate), ['2024-03-05', '2024-03-06', '2024-03-07'], 'one run per missed interval, oldest first');
    assert.deepEqual(await eventsPerDay(project), { '2024-03-05': 3, '2024-03-06': 3, '2024-03-07': 3 });
    // the clock moves on two days: two more intervals; paused, none
    await store.setPaused('events', true);
    clock += 2 * 86_400_000;
    await s.idle();
    assert.equal(s.results.length, 3, 'a paused pipeline starts nothing');
    await store.setPaused('events', false);
    await s.idle();
    assert.deepEqual(s.results.slice(3).map((r) => r.logicalDate), ['2024-03-08', '2024-03-09']);
    // a manual trigger reruns a done interval (replace partition rows stay 3 in gold.daily; append adds 3)
    const trig = await cli(['trigger', 'events', '-p', dir, '--date', '2024-03-06']);
    assert.equal(trig.code, 0, trig.err);
    await s.idle();
    assert.equal(s.results.at(-1)!.logicalDate, '2024-03-06');
    assert.equal(s.results.at(-1)!.trigger, 'manual');
    assert.equal((await eventsPerDay(project))['2024-03-06'], 6);
    assert.deepEqual(await query(project, "SELECT CAST(n AS INTEGER) AS n FROM gold.daily WHERE day = DATE '2024-03-06'"), [{ n: 6 }]);
    const runs = JSON.parse((await cli(['runs', '-p', dir, '--format', 'json'])).out) as { pipeline: string; status: string }[];
    assert.equal(runs.length, 6);
    assert.ok(runs.every((r) => r.pipeline === 'events' && r.status === 'success'));
    const intervals = await cli(['intervals', 'bronze.events', '-p', dir, '--format', 'json']);
    assert.deepEqual(JSON.parse(intervals.out), [{ from: '2024-03-05', to: '2024-03-09', intervals: 5 }]);
  });

  it('a pipeline waits for an upstream dataset of another pipeline; a sensor times out', async (t) => {
    const { dir, cleanup } = await tempDir('sched-deps');
    t.after(cleanup);
    const project = await writeProject(dir, `{ lake: './lake', pipelines: [
      pipeline({ name: 'ingest', datasets: ['bronze.events'], schedule: '0 1 * * *', start: '2024-03-01' }),
      pipeline({ name: 'report', datasets: ['gold.daily'], schedule: '0 1 * * *', start: '2024-03-01', dependsOn: [{ dataset: 'bronze.events', timeout: '20s' }] }),
      pipeline({ name: 'impatient', datasets: ['gold.never'], schedule: '0 1 * * *', start: '2024-03-04', dependsOn: [{ dataset: 'bronze.late', timeout: '300ms' }] }) ] }`, {
      'bronze/events.sql': EVENTS,
      'bronze/late.sql': "-- materialization: append\nSELECT CAST({{logical_date}} AS DATE) AS day\n",
      'gold/daily.sql': DAILY,
      'gold/never.sql': '-- materialization: append\nSELECT * FROM bronze.late WHERE day = {{logical_date}}\n',
    });
    const { s, store } = await scheduler(t, project, '2024-03-05T02:00:00Z');
    await store.setPaused('ingest', true);
    s.start();
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(s.results.filter((r) => r.pipeline === 'report').length, 0, 'no report ran before its upstream was complete');
    assert.equal((await store.intervals('report')).length, 0, 'waiting reports hold no lease');
    await store.setPaused('ingest', false);
    await s.idle();
    const failed = s.results.filter((r) => r.status === 'failed');
    assert.deepEqual(failed.map((r) => r.pipeline), ['impatient'], 'only the pipeline whose upstream never ran fails');
    assert.match(failed[0]!.error!, /bronze\.late was not complete for 2024-03-04 within 0\.3 s/);
    assert.deepEqual(await query(project, 'SELECT CAST(day AS VARCHAR) AS day, CAST(n AS INTEGER) AS n FROM gold.daily ORDER BY day'),
      ['2024-03-01', '2024-03-02', '2024-03-03', '2024-03-04'].map((day) => ({ day, n: 3 })), 'each report ran after its ingest');
    // every report run started after the ingest run of its date ended
    const ended = new Map(s.results.filter((r) => r.pipeline === 'ingest').map((r) => [r.logicalDate, r.endedAt.getTime()]));
    for (const r of s.results.filter((x) => x.pipeline === 'report')) assert.ok(r.startedAt.getTime() >= ended.get(r.logicalDate)!, r.logicalDate);
  });

  it('hourly intervals: per wall-clock hour in a time zone, hour-grain partitions, a daily pipeline waits for its 24 hours', async (t) => {
    const { dir, cleanup } = await tempDir('sched-hourly');
    t.after(cleanup);
    const project = await writeProject(dir, `{ lake: './lake', pipelines: [
      pipeline({ name: 'clicks', datasets: ['bronze.clicks', 'silver.clicks_hourly'], schedule: '10 * * * *', interval: 'hourly', timezone: 'Asia/Kolkata', start: '2024-03-05' }),
      pipeline({ name: 'daily', datasets: ['gold.clicks_daily'], schedule: '0 2 * * *', timezone: 'Asia/Kolkata', start: '2024-03-05', dependsOn: [{ dataset: 'silver.clicks_hourly', timeout: '120s' }] }) ] }`, {
      'bronze/clicks.sql': '-- materialization: append\nSELECT {{logical_date}} + INTERVAL (range * 20) MINUTE AS ts, range AS i FROM range(3)\n',
      'silver/clicks_hourly.sql': "-- materialization: replace partition\n-- partition_by: hour\n-- grain: hour\nSELECT date_trunc('hour', ts) AS hour, count(*) AS n FROM bronze.clicks WHERE ts >= {{start}} AND ts < {{end}} GROUP BY 1\n",
      'gold/clicks_daily.sql': '-- materialization: replace partition\n-- partition_by: day\nSELECT CAST(hour AS DATE) AS day, sum(n) AS n, count(*) AS hours FROM silver.clicks_hourly WHERE hour >= {{start}} AND hour < {{end}} GROUP BY 1\n',
    });
    const [clicks, daily] = pipelinesOf(project) as [Pipeline, Pipeline];
    assert.equal(clicks.start, '2024-03-05T00:00');
    assert.deepEqual(daily.dependsOn.map((d) => d.interval), ['hourly']);
    // 00:15 UTC on 03-06 is 05:45 in Kolkata (+05:30): the 05:10 tick covers the hour 04:00–05:00
    const due = dueIntervals(clicks, [], new Date('2024-03-06T00:15:00Z'));
    assert.equal(due.length, 29);
    assert.deepEqual([due[0], due[23], due.at(-1)], ['2024-03-05T00:00', '2024-03-05T23:00', '2024-03-06T04:00']);
    assert.deepEqual(dueIntervals(clicks, [], new Date('2024-03-05T23:39:00Z')).at(-1), '2024-03-06T03:00', '05:09 local: the 05:10 tick has not come');
    assert.deepEqual(dueIntervals(daily, [], new Date('2024-03-06T00:15:00Z')), ['2024-03-05']);

    const { s, store } = await scheduler(t, project, '2024-03-06T00:15:00Z');
    await store.setPaused('clicks', true);
    s.start();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(s.results.length, 0, 'the daily run waits while its hours are missing');
    await store.setPaused('clicks', false);
    await s.idle();
    const hourly = s.results.filter((r) => r.pipeline === 'clicks');
    assert.deepEqual(hourly.map((r) => r.logicalDate), due, 'one run per hour, oldest first');
    const [day] = s.results.filter((r) => r.pipeline === 'daily');
    assert.ok(day && day.status === 'success', day?.error);
    assert.ok(day.startedAt.getTime() >= hourly[23]!.endedAt.getTime(), 'the daily run started after its last hour ended');
    assert.deepEqual(await query(project, 'SELECT CAST(day AS VARCHAR) AS day, CAST(n AS INTEGER) AS n, CAST(hours AS INTEGER) AS hours FROM gold.clicks_daily'), [{ day: '2024-03-05', n: 72, hours: 24 }]);

    // a rerun of two hours replaces exactly their partitions (bronze appends its rows again)
    const re = await cli(['backfill', 'clicks', '-p', dir, '--from', '2024-03-05T03:00', '--to', '2024-03-05T04:00', '--rerun']);
    assert.equal(re.code, 0, re.err);
    const rows = await query(project, "SELECT strftime(hour, '%H') AS h, CAST(n AS INTEGER) AS n FROM silver.clicks_hourly WHERE hour < TIMESTAMP '2024-03-05 06:00:00' ORDER BY hour");
    assert.deepEqual(rows, ['00', '01', '02', '03', '04', '05'].map((h) => ({ h, n: h === '03' || h === '04' ? 6 : 3 })));
    const files = await query(project, 'SELECT count(*) AS files, count(DISTINCT hour) AS hours FROM silver.clicks_hourly');
    assert.equal(Number(files[0]!['files']), 29, 'one row per hour: replaced, not duplicated');
    const intervals = await cli(['intervals', 'silver.clicks_hourly', '-p', dir, '--format', 'json']);
    assert.deepEqual(JSON.parse(intervals.out), [{ from: '2024-03-05T00:00', to: '2024-03-06T04:00', intervals: 29 }]);
    // a day given to an hourly backfill means its 24 hours
    const all = await cli(['backfill', 'clicks', '-p', dir, '--from', '2024-03-05', '--to', '2024-03-05']);
    assert.equal(all.code, 0, all.err);
    assert.match(all.out, /0 intervals ran, 0 failed, 24 skipped/);
  });

  it('runs at most maxActiveRuns per pipeline and overall', async (t) => {
    const { dir, cleanup } = await tempDir('sched-limits');
    t.after(cleanup);
    const readyAt = Date.now() + 2500;
    // each run retries until readyAt, so runs overlap
    const gated = `-- materialization: append\nSELECT CAST({{logical_date}} AS DATE) AS day, CASE WHEN epoch_ms(get_current_timestamp()) < ${readyAt} THEN error('not yet') ELSE 1 END AS ok\n`;
    const project = await writeProject(dir, `{ lake: './lake', pipelines: [
      pipeline({ name: 'a', datasets: ['bronze.a'], schedule: '0 1 * * *', start: '2024-03-01', maxActiveRuns: 2, retries: 50, retryDelay: '100ms' }),
      pipeline({ name: 'b', datasets: ['bronze.b'], schedule: '0 1 * * *', start: '2024-03-01', maxActiveRuns: 2, retries: 50, retryDelay: '100ms' }) ] }`,
    { 'bronze/a.sql': gated, 'bronze/b.sql': gated });
    const { s, store } = await scheduler(t, project, '2024-03-05T02:00:00Z', { maxActiveRuns: 3 });
    s.start();
    let seen = 0;
    while (Date.now() < readyAt - 300) {
      await new Promise((r) => setTimeout(r, 50));
      const running = (await store.intervals()).filter((x) => x.status === 'running');
      const by = (p: string) => running.filter((x) => x.pipeline === p).length;
      assert.ok(by('a') <= 2 && by('b') <= 2 && running.length <= 3, JSON.stringify(running.map((x) => x.pipeline)));
      seen = Math.max(seen, running.length);
    }
    assert.equal(seen, 3, 'the overall limit is reached');
    await s.idle();
    assert.equal(s.results.length, 8);
    assert.ok(s.results.every((r) => r.status === 'success'), JSON.stringify(s.results.map((r) => r.error)));
  });

  it('retries a dataset with exponential backoff; a timeout interrupts a dataset; failures reach the webhook', async (t) => {
    const { dir, cleanup } = await tempDir('sched-retry');
    t.after(cleanup);
    const readyAt = Date.now() + 1000;
    const project = await writeProject(dir, `{ lake: './lake', pipelines: [
      pipeline({ name: 'flaky', datasets: ['bronze.flaky'], schedule: '0 1 * * *', start: '2024-03-04', retries: 3, retryDelay: '400ms' }),
      pipeline({ name: 'slow', datasets: ['bronze.slow'], schedule: '0 1 * * *', start: '2024-03-04', retries: 1, retryDelay: '100ms', timeout: '400ms' }) ] }`, {
      // fails until readyAt (epoch ms), then succeeds
      'bronze/flaky.sql': `-- materialization: append\nSELECT CAST({{logical_date}} AS DATE) AS day, CASE WHEN epoch_ms(get_current_timestamp()) < ${readyAt} THEN error('upstream not ready') ELSE 1 END AS ok\n`,
      'bronze/slow.sql': '-- materialization: append\nSELECT count(*) AS n FROM range(1000000) a, range(1000000) b\n',
    });
    const posts: Record<string, unknown>[] = [];
    const hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => { body += String(c); }).on('end', () => { posts.push(JSON.parse(body) as Record<string, unknown>); res.end('ok'); });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    t.after(() => new Promise<void>((r) => hook.close(() => r())));
    const { s } = await scheduler(t, project, '2024-03-05T02:00:00Z', { webhook: `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook` });
    const t0 = Date.now();
    s.start();
    await s.idle();
    const flaky = s.results.find((r) => r.pipeline === 'flaky')!;
    assert.equal(flaky.status, 'success', flaky.error);
    const task = flaky.datasets[0]!;
    // attempts at ~0, ~400, ~1200 ms (400 then 800 ms delays): the third passes readyAt
    assert.equal(task.attempts, 3);
    const events = (await fs.readFile(task.log!, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { ts: string; event: string; delayMs?: number });
    assert.deepEqual(events.map((e) => e.event), ['attempt-start', 'attempt-failed', 'retry-scheduled', 'attempt-start', 'attempt-failed', 'retry-scheduled', 'attempt-start', 'attempt-success']);
    assert.deepEqual(events.filter((e) => e.delayMs).map((e) => e.delayMs), [400, 800]);
    const starts = events.filter((e) => e.event === 'attempt-start').map((e) => Date.parse(e.ts));
    assert.ok(starts[1]! - starts[0]! >= 400 && starts[2]! - starts[1]! >= 800, `backoff gaps ${starts[1]! - starts[0]!}, ${starts[2]! - starts[1]!} ms`);

    const slow = s.results.find((r) => r.pipeline === 'slow')!;
    assert.equal(slow.status, 'failed');
    assert.equal(slow.datasets[0]!.attempts, 2);
    assert.match(slow.error!, /bronze\.slow: attempt 2 exceeded the time limit of 0\.4 s/);
    assert.ok(Date.now() - t0 < 10_000, 'the timed-out query was interrupted');
    // the webhook got the failed run with its datasets
    for (let i = 0; i < 50 && posts.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(posts.length, 1);
    assert.equal(posts[0]!['event'], 'run_failed');
    assert.equal(posts[0]!['pipeline'], 'slow');
    assert.equal(posts[0]!['logicalDate'], '2024-03-04');
    assert.deepEqual((posts[0]!['datasets'] as { dataset: string; attempts: number }[]).map((d) => [d.dataset, d.attempts]), [['bronze.slow', 2]]);
    const checks = JSON.parse((await cli(['sql', '-p', dir, '--format', 'json', "SELECT dataset, status, attempts FROM _ingot.run_datasets ORDER BY dataset"])).out);
    assert.deepEqual(checks, [{ dataset: 'bronze.flaky', status: 'success', attempts: 3 }, { dataset: 'bronze.slow', status: 'failed', attempts: 2 }]);
  });

  it('backfill runs a range in parallel, skips complete intervals (also ones `ingot run` made), reruns with --rerun', async (t) => {
    const { dir, cleanup } = await tempDir('sched-backfill');
    t.after(cleanup);
    const project = await writeProject(dir, "{ lake: './lake', pipelines: [pipeline({ name: 'events' })] }");
    assert.equal((await cli(['run', '-p', dir, '--date', '2024-02-03'])).code, 0);
    const store = await openMetadata(project);
    t.after(() => store.close());
    const p = pipelineNamed(project, 'events');
    const r = await backfill(project, store, p, '2024-02-01', '2024-02-10', { parallel: 3 });
    assert.equal(r.runs.length, 9);
    assert.deepEqual(r.skipped, [{ logicalDate: '2024-02-03', reason: 'complete' }]);
    const again = await cli(['backfill', 'events', '-p', dir, '--from', '2024-02-01', '--to', '2024-02-12']);
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, /events: 2 intervals ran, 0 failed, 10 skipped/);
    const counts = await eventsPerDay(project);
    assert.equal(Object.keys(counts).length, 12);
    assert.ok(Object.values(counts).every((n) => n === 3), JSON.stringify(counts));
    const rerun = await cli(['backfill', 'events', '-p', dir, '--from', '2024-02-11', '--to', '2024-02-12', '--rerun']);
    assert.match(rerun.out, /events: 2 intervals ran, 0 failed, 0 skipped/);
    assert.equal((await eventsPerDay(project))['2024-02-12'], 6);
  });
});

/** Two schedulers (own store connections, own engines) over one store and lake: every interval runs exactly once. */
async function twoSchedulers(t: { after: (fn: () => Promise<void>) => void }, metadata: string): Promise<void> {
  const { dir, cleanup } = await tempDir('sched-two');
  t.after(cleanup);
  const project = await writeProject(dir, `{ lake: './lake', metadata: ${JSON.stringify(metadata)}, pipelines: [pipeline({ name: 'events', datasets: ['bronze.events'], schedule: '0 1 * * *', start: '2024-03-01', maxActiveRuns: 4 })] }`);
  const stores = [await openMetadataAt(metadata, dir), await openMetadataAt(metadata, dir)];
  const a = await scheduler(t, project, '2024-03-13T02:00:00Z', { store: stores[0] });
  const b = await scheduler(t, project, '2024-03-13T02:00:00Z', { store: stores[1] });
  t.after(async () => { for (const s of stores) await s.close(); });
  a.s.start();
  b.s.start();
  await Promise.all([a.s.idle(), b.s.idle()]);
  const ran = [...a.s.results, ...b.s.results].map((r) => r.logicalDate!).sort();
  assert.equal(ran.length, 12, 'each interval ran once');
  assert.equal(new Set(ran).size, 12);
  assert.ok(a.s.results.length > 0 && b.s.results.length > 0, `both schedulers worked: ${a.s.results.length} + ${b.s.results.length}`);
  const counts = await eventsPerDay(project);
  assert.equal(Object.keys(counts).length, 12);
  assert.ok(Object.values(counts).every((n) => n === 3), JSON.stringify(counts));
  assert.equal((await stores[0]!.runs()).length, 12);
}

describe('two schedulers on one metadata store', () => {
  it('SQLite file', async (t) => {
    await twoSchedulers(t, '.ingot/shared.db');
  });

  describe('PostgreSQL', () => {
    let server: PostgresServer;
    before(async () => { server = await startPostgres(); });
    after(async () => { await server.stop(); });
    it('a real PostgreSQL server', async (t) => {
      await twoSchedulers(t, server.url);
    });
  });
});
