/**
 * Continuous pipelines: sub-hourly intervals (logical dates, cron schedules, catchup on a fast
 * clock, `replace partition` by the interval, backfill), file-arrival triggers on a local folder
 * and on S3, bad files that do not stop the stream.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { countIntervals, dateRange, grainOfDate, intervalOf, parseDate } from '../src/pipeline/interval.js';
import { intervalsBetween, lastComplete, localDate } from '../src/schedule/calendar.js';
import { dateRanges } from '../src/schedule/complete-dates.js';
import { dueIntervals, landedIn, Scheduler } from '../src/schedule/scheduler.js';
import { listingSignature } from '../src/sources/files.js';
import { pipelinesOf, type Pipeline } from '../src/schedule/pipeline.js';
import { openMetadata } from '../src/metadata/open.js';
import { Runner } from '../src/run/runner.js';
import { optimize } from '../src/operations/optimize.js';
import { deleteRows } from '../src/operations/delete.js';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { S3Store, s3ClientFromEnv } from '../src/storage/s3.js';
import { motoEnvironment } from './moto.js';
import { cli, tempDir } from './fixtures.js';
import { query, writeProject } from './schedule-helpers.js';

const quiet = (): void => {};

describe('sub-hourly intervals', () => {
  it('minute logical dates: parsing, intervals aligned on the hour, counts and ranges', () => {
    assert.equal(parseDate('2024-03-05T10:15'), '2024-03-05T10:15');
    assert.equal(parseDate('2024-03-05 10:15:00'), '2024-03-05T10:15');
    assert.equal(parseDate('2024-03-05T10'), '2024-03-05T10:00');
    assert.throws(() => parseDate('2024-03-05T10:60', '--date'), /--date "2024-03-05T10:60" is not a valid date/);
    assert.deepEqual(intervalOf('2024-03-05T10:20', '15 minutes'), { start: '2024-03-05T10:15', end: '2024-03-05T10:30' });
    assert.deepEqual(intervalOf('2024-03-05T23:55', '10 minutes'), { start: '2024-03-05T23:50', end: '2024-03-06T00:00' });
    assert.deepEqual(intervalOf('2024-03-05T10:20', 'hour'), { start: '2024-03-05T10:00', end: '2024-03-05T11:00' });
    assert.deepEqual(intervalOf('2024-03-05', '30 minutes'), { start: '2024-03-05T00:00', end: '2024-03-05T00:30' });
    assert.deepEqual(['2024-03-05T10:30', '2024-03-05T10:45', '2024-03-05T10:50', '2024-03-05T10:07', '2024-03-05T10:00', '2024-03-05'].map(grainOfDate),
      ['30 minutes', '15 minutes', '10 minutes', '1 minute', 'hour', 'day']);
    assert.equal(countIntervals('2024-03-05T10:15', '2024-03-05T11:00', '15 minutes'), 4);
    assert.equal(countIntervals('2024-03-05', '2024-03-06', '5 minutes'), 2 * 288, 'a day `to` counts to its last interval');
    assert.equal(countIntervals('2024-03-05T10:20', '2024-03-05T10:10', '1 minute'), 0);
    assert.deepEqual(dateRange('2024-03-05T10:45', '2024-03-05T11:15'), ['2024-03-05T10:45', '2024-03-05T11:00', '2024-03-05T11:15']);
    assert.deepEqual(dateRanges(['2024-03-05T10:00', '2024-03-05T10:15', '2024-03-05T10:30', '2024-03-05T11:00']),
      [{ from: '2024-03-05T10:00', to: '2024-03-05T10:30', intervals: 3 }, { from: '2024-03-05T11:00', to: '2024-03-05T11:00', intervals: 1 }]);
  });

  it('a minute pipeline\'s calendar: local minutes in a time zone, the last complete interval, a day `to` up to its last interval', () => {
    // Kolkata is UTC+05:30: minute intervals follow local wall-clock time
    assert.equal(localDate(new Date('2024-03-05T04:40:00Z'), 'Asia/Kolkata', '15 minutes'), '2024-03-05T10:10');
    assert.equal(lastComplete(new Date('2024-03-05T04:40:00Z'), 'Asia/Kolkata', '15 minutes'), '2024-03-05T09:45');
    assert.equal(lastComplete(new Date('2024-03-05T10:00:00Z'), 'UTC', '5 minutes'), '2024-03-05T09:55');
    const all = intervalsBetween('2024-03-05', '2024-03-05', '30 minutes');
    assert.equal(all.length, 48);
    assert.deepEqual([all[0], all.at(-1)], ['2024-03-05T00:00', '2024-03-05T23:30']);
  });

  it('a 15-minute pipeline on a fast clock: cron ticks, catchup oldest first, replace partition by the interval, TIMESTAMP templates, backfill', async (t) => {
    const { dir, cleanup } = await tempDir('cont-minutes');
    const project = await writeProject(dir, `{ lake: './lake', pipelines: [
      pipeline({ name: 'ticks', schedule: '2,17,32,47 * * * *', interval: '15 minutes', start: '2024-03-05T09:00' }) ] }`, {
      // three events per interval, at its start + 0, 5, 10 minutes
      'bronze/ticks.sql': '-- materialization: append\nSELECT {{start}} + INTERVAL (range * 5) MINUTE AS ts, {{end}} AS interval_end, range AS i FROM range(3)\n',
      'silver/ticks_15m.sql': "-- materialization: replace partition\n-- partition_by: slot\nSELECT time_bucket(INTERVAL 15 MINUTE, ts) AS slot, count(*) AS n, max(interval_end) AS interval_end FROM bronze.ticks WHERE ts >= {{start}} AND ts < {{end}} GROUP BY 1\n",
    });
    const [ticks] = pipelinesOf(project) as [Pipeline];
    assert.equal(ticks.interval, '15 minutes');
    // at 10:05 the 10:02 tick covers 09:45–10:00
    assert.deepEqual(dueIntervals(ticks, [], new Date('2024-03-05T10:05:00Z')), ['2024-03-05T09:00', '2024-03-05T09:15', '2024-03-05T09:30', '2024-03-05T09:45']);
    assert.deepEqual(dueIntervals(ticks, [], new Date('2024-03-05T10:01:00Z')).at(-1), '2024-03-05T09:30', 'the 10:02 tick has not come');

    // a fast clock: 10:05 at first, then one simulated hour per real second
    let anchor = { real: Date.now(), sim: Date.parse('2024-03-05T10:05:00Z'), speed: 0 };
    const now = (): Date => new Date(anchor.sim + (Date.now() - anchor.real) * anchor.speed);
    const setClock = (sim: number, speed: number): void => { anchor = { real: Date.now(), sim, speed }; };
    const store = await openMetadata(project);
    const s = new Scheduler(project, store, { now, tickMs: 50, leaseMs: 2000, log: quiet });
    t.after(async () => { await s.stop(0); await store.close(); await cleanup(); });
    s.start();
    await s.idle();
    assert.deepEqual(s.results.map((r) => [r.logicalDate, r.status]), ['09:00', '09:15', '09:30', '09:45'].map((m) => [`2024-03-05T${m}`, 'success']));
    // the clock runs 3600× fast for ~1.2 s: more intervals become due and run in order
    setClock(now().getTime(), 3600);
    await new Promise((r) => setTimeout(r, 1000));
    setClock(Math.min(now().getTime(), Date.parse('2024-03-05T11:03:00Z')), 0);
    await new Promise((r) => setTimeout(r, 200));
    setClock(Date.parse('2024-03-05T11:03:00Z'), 0);
    await s.idle();
    const dates = s.results.map((r) => r.logicalDate!);
    assert.deepEqual(dates, [...dates].sort(), 'oldest first');
    assert.deepEqual(dates.at(-1), '2024-03-05T10:45', 'the 11:02 tick covers 10:45');
    assert.deepEqual(dates, intervalsBetween('2024-03-05T09:00', '2024-03-05T10:45', '15 minutes'), 'each interval exactly once');
    assert.ok(s.results.every((r) => r.status === 'success'), JSON.stringify(s.results.map((r) => r.error)));

    const slots = await query(project, "SELECT strftime(slot, '%H:%M') AS slot, CAST(n AS INTEGER) AS n, strftime(interval_end, '%H:%M') AS e FROM silver.ticks_15m ORDER BY slot");
    assert.deepEqual(slots.map((r) => r['slot']), ['09:00', '09:15', '09:30', '09:45', '10:00', '10:15', '10:30', '10:45']);
    assert.ok(slots.every((r) => r['n'] === 3), JSON.stringify(slots));
    assert.equal(slots[0]!['e'], '09:15', '{{end}} is the interval end as a TIMESTAMP');

    // a rerun of two intervals replaces exactly their partitions (bronze appends its rows again)
    const re = await cli(['backfill', 'ticks', '-p', dir, '--from', '2024-03-05T09:15', '--to', '2024-03-05T09:30', '--rerun']);
    assert.equal(re.code, 0, re.err);
    const after = await query(project, "SELECT strftime(slot, '%H:%M') AS slot, CAST(n AS INTEGER) AS n FROM silver.ticks_15m ORDER BY slot");
    assert.deepEqual(after.map((r) => r['n']), [3, 6, 6, 3, 3, 3, 3, 3]);
    const files = await query(project, 'SELECT count(*) AS files FROM silver.ticks_15m');
    assert.equal(Number(files[0]!['files']), 8, 'one row per interval: replaced, not duplicated');
    const intervals = await cli(['intervals', 'silver.ticks_15m', '-p', dir, '--format', 'json']);
    assert.deepEqual(JSON.parse(intervals.out), [{ from: '2024-03-05T09:00', to: '2024-03-05T10:45', intervals: 8 }]);
    // a backfill over an hour skips the complete intervals and runs the missing ones
    const bf = await cli(['backfill', 'ticks', '-p', dir, '--from', '2024-03-05T10:30', '--to', '2024-03-05T11:15']);
    assert.equal(bf.code, 0, bf.err);
    assert.match(bf.out, /2 intervals ran, 0 failed, 2 skipped/);
    // a plan by hand names the minute interval
    const plan = await cli(['plan', '-p', dir, '--date', '2024-03-05T11:30', '--format', 'json']);
    assert.equal(plan.code, 0, plan.err);
    const step = (JSON.parse(plan.out) as { runs: { steps: { dataset: string; interval: unknown }[] }[] }).runs[0]!.steps.find((x) => x.dataset === 'silver.ticks_15m');
    assert.deepEqual(step?.interval, { start: '2024-03-05T11:30', end: '2024-03-05T12:00' }, 'by hand, T11:30 names a 30-minute interval (its own grain)');
  });
});

/** Lands `text` as `landing/events/<name>` the way a writer should: a hidden temporary file renamed into place. */
async function land(dir: string, name: string, text: string): Promise<void> {
  const file = path.join(dir, 'landing', 'events', name);
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp`);
  await fs.writeFile(tmp, text);
  await fs.rename(tmp, file);
}

/** `n` ndjson events `{ id, user }` with ids from `first`. */
function events(first: number, n: number): string {
  return Array.from({ length: n }, (_, i) => JSON.stringify({ id: first + i, user: `u${(first + i) % 3}` })).join('\n') + '\n';
}

/** Waits until `check` holds (polling every 50 ms), failing after `ms`. */
async function until(what: string, check: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A project whose bronze.events appends the ndjson files of `pattern`, and silver.user_counts counts them per user; one pipeline triggered by the files. */
async function triggeredProject(dir: string, pattern: string, trigger: string, extra = ''): Promise<Awaited<ReturnType<typeof writeProject>>> {
  await fs.mkdir(path.join(dir, 'datasets', 'bronze'), { recursive: true });
  await fs.writeFile(path.join(dir, 'datasets', 'bronze', 'events.ts'), `import { dataset, files } from 'ingot';
export default dataset({ name: 'bronze.events', source: files({ path: '${pattern}', format: 'ndjson', columns: { id: 'INTEGER', user: 'VARCHAR' } }), materialization: 'append' });\n`);
  return writeProject(dir, `{ lake: './lake', pipelines: [pipeline({ name: 'events', trigger: ${trigger}${extra} })] }`, {
    'silver/user_counts.sql': '-- materialization: overwrite\nSELECT user, count(*) AS n FROM bronze.events GROUP BY user\n',
  });
}

describe('file-arrival triggers', () => {
  it('a local folder: a run as soon as files land, one at a time, bounded by maxFiles, every file exactly once, files landing during a run go to the next', async (t) => {
    const { dir, cleanup } = await tempDir('cont-trigger');
    // three files waiting before the server starts
    for (let i = 0; i < 3; i++) await land(dir, `early-${i}.json`, events(i * 10, 10));
    const project = await triggeredProject(dir, 'landing/events/**/*.json', "{ files: 'landing/events/**/*.json', maxFiles: 2, poll: '5s' }");
    const store = await openMetadata(project);
    const s = new Scheduler(project, store, { tickMs: 50, leaseMs: 2000, log: process.env['LOG'] ? (l, e, f) => console.error(l, e, JSON.stringify(f)) : quiet });
    t.after(async () => { await s.stop(0); await store.close(); await cleanup(); });
    s.start();
    await until('the 3 waiting files loaded', async () => s.results.reduce((n, r) => n + (r.datasets.find((d) => d.dataset === 'bronze.events')?.inputs.length ?? 0), 0) === 3);
    const first = s.results.map((r) => r.datasets.find((d) => d.dataset === 'bronze.events')!.inputs.length);
    assert.deepEqual(first, [2, 1], 'maxFiles 2: two runs for three files, oldest first');
    assert.ok(s.results.every((r) => r.status === 'success' && r.trigger === 'files' && r.pipeline === 'events'));
    // files landing now are picked up by file-system events (the poll period is 5 s), in a nested folder too
    const t0 = Date.now();
    await land(dir, 'sub/late-0.json', events(100, 5));
    await until('the nested file loaded', async () => (await query(project, 'SELECT count(*) AS n FROM bronze.events'))[0]!['n'] === 35n || Number((await query(project, 'SELECT count(*) AS n FROM bronze.events'))[0]!['n']) === 35);
    assert.ok(Date.now() - t0 < 4000, `picked up by a file-system event, not the 5 s poll (${Date.now() - t0} ms)`);
    // a burst while runs are going: every file exactly once
    for (let i = 0; i < 8; i++) await land(dir, `burst-${i}.json`, events(1000 + i * 10, 10));
    await until('the burst loaded', async () => Number((await query(project, 'SELECT count(*) AS n FROM bronze.events'))[0]!['n']) >= 115);
    await until('the trigger idle', () => !s.triggersBusy);
    const rows = await query(project, 'SELECT count(*) AS n, count(DISTINCT id) AS ids, count(DISTINCT _source) AS files FROM bronze.events');
    assert.deepEqual(rows.map((r) => [Number(r['n']), Number(r['ids']), Number(r['files'])]), [[115, 115, 12]]);
    const counts = await query(project, 'SELECT CAST(sum(n) AS INTEGER) AS n FROM silver.user_counts');
    assert.equal(counts[0]!['n'], 115, 'the downstream table ran after each batch');
    const batches = s.results.map((r) => r.datasets.find((d) => d.dataset === 'bronze.events')!.inputs.length);
    assert.ok(batches.every((n) => n <= 2), `each run at most maxFiles: ${batches}`);
    assert.equal(batches.reduce((a, b) => a + b, 0), 12, 'every file in exactly one run');
    const runs = JSON.parse((await cli(['runs', '-p', dir, '--format', 'json', '--limit', '100'])).out) as { pipeline: string; mode: string; status: string }[];
    assert.equal(runs.length, s.results.length);
    assert.ok(runs.every((r) => r.pipeline === 'events' && r.mode === 'once' && r.status === 'success'));
  });

  it('a triggered run is planned once: the plan\'s listing of the landing folder says whether anything landed, as listingSignature does', async (t) => {
    const { dir, cleanup } = await tempDir('cont-landed');
    const project = await triggeredProject(dir, 'landing/events/{day}/*.json', "{ files: 'landing/events/**/*.json' }");
    const runner = await Runner.open(project);
    t.after(async () => { await runner.close(); await cleanup(); });
    const datasets = new Set(['bronze.events', 'silver.user_counts']);
    const pattern = 'landing/events/**/*.json';
    // hidden files (a writer's temporary file) and other names are not landed files
    await fs.mkdir(path.join(dir, 'landing', 'events', 'd1'), { recursive: true });
    await fs.writeFile(path.join(dir, 'landing', 'events', 'd1', '.a.json.tmp'), events(0, 1));
    await fs.writeFile(path.join(dir, 'landing', 'events', 'd1', 'notes.txt'), 'x');
    const created = await runner.prepare(undefined, { mode: 'once', datasets });
    assert.equal(created.planned.steps[0]!.reason, 'new', 'a table not written yet: its source is not listed by the plan');
    assert.equal(await landedIn(created, pattern, dir), false);
    assert.equal(await listingSignature(pattern, dir), '');
    await land(dir, 'd1/a.json', events(0, 3));
    assert.equal((await runner.run(undefined, { mode: 'once', datasets, prepared: await runner.prepare(undefined, { mode: 'once', datasets }) })).status, 'success');
    // the table exists: the plan lists the folder, and sees the new file
    await land(dir, 'd2/b.json', events(3, 3));
    const next = await runner.prepare(undefined, { mode: 'once', datasets });
    assert.match(next.planned.steps[0]!.reason, /1 new or changed file/);
    assert.equal(await landedIn(next, pattern, dir), true);
    assert.notEqual(await listingSignature(pattern, dir), '');
    // another glob, or a prefix the plan did not list: the caller lists (false)
    assert.equal(await landedIn(next, 'landing/events/**/*.csv', dir), false);
    assert.equal(await landedIn(next, 'elsewhere/**/*.json', dir), false);
    const result = await runner.run(undefined, { mode: 'once', datasets, prepared: next });
    assert.equal(result.status, 'success');
    assert.deepEqual(result.datasets.map((d) => [d.dataset, d.status, d.inputs.length]), [['bronze.events', 'success', 1], ['silver.user_counts', 'success', 0]]);
    assert.equal(Number((await query(project, 'SELECT count(*) AS n FROM bronze.events'))[0]!['n']), 6);
  });

  it('bad files do not stop the stream: rejected with their error and line, shown by ingot runs, admitted again when re-landed or by ingot files retry; onBadFile fail stops', async (t) => {
    const { dir, cleanup } = await tempDir('cont-bad');
    const project = await triggeredProject(dir, 'landing/events/*.json', "{ files: 'landing/events/*.json', poll: '200ms' }");
    const store = await openMetadata(project);
    const s = new Scheduler(project, store, { tickMs: 50, leaseMs: 2000, log: quiet });
    t.after(async () => { await s.stop(0); await store.close(); await cleanup(); });
    await land(dir, 'a-good.json', events(0, 10));
    await land(dir, 'b-truncated.json', events(10, 3) + '{"id": 13, "us');
    await land(dir, 'c-type.json', events(20, 2) + '{"id": "twenty-two", "user": "u1"}\n');
    await land(dir, 'd-latin1.json', Buffer.from('{"id": 30, "user": "caf\xe9"}\n', 'latin1').toString('latin1'));
    await fs.writeFile(path.join(dir, 'landing', 'events', 'd-latin1.json'), Buffer.from([...Buffer.from('{"id": 30, "user": "caf'), 0xe9, ...Buffer.from('"}\n')]));
    await land(dir, 'e-good.json', events(40, 5));
    s.start();
    await until('a run', () => s.results.length > 0);
    await until('the trigger idle', () => !s.triggersBusy);
    const [run] = s.results;
    assert.equal(run!.status, 'success', run!.error);
    const bronze = run!.datasets.find((d) => d.dataset === 'bronze.events')!;
    assert.deepEqual(bronze.inputs.sort(), ['landing/events/a-good.json', 'landing/events/e-good.json']);
    assert.deepEqual(bronze.rejected!.map((r) => r.file).sort(), ['landing/events/b-truncated.json', 'landing/events/c-type.json', 'landing/events/d-latin1.json']);
    for (const r of bronze.rejected!) assert.match(r.error, new RegExp(`bronze\\.events: cannot read .*${path.basename(r.file).replace('.', '\\.')}`), r.error);
    if (process.env['LOG']) console.error(bronze.rejected);
    const truncated = bronze.rejected!.find((r) => r.file.endsWith('b-truncated.json'))!;
    assert.equal(truncated.line, 4, `the line of the truncated record: ${truncated.error}`);
    assert.equal(Number((await query(project, 'SELECT count(*) AS n FROM bronze.events'))[0]!['n']), 15, 'the good files loaded');
    // the committed file list records the rejected files with their errors
    const runner = await Runner.open(project);
    const committed = JSON.parse((await runner.lake.table('bronze.events').snapshot()).domains.get('ingot.files')!.configuration) as { files: Record<string, { rejected?: string }> };
    await runner.close();
    assert.deepEqual(Object.entries(committed.files).filter(([, e]) => e.rejected).map(([n]) => n).sort(), bronze.rejected!.map((r) => r.file).sort());
    const shown = JSON.parse((await cli(['runs', '-p', dir, '--format', 'json'])).out) as { rejected: string | null; status: string }[];
    assert.equal(shown[0]!.status, 'success');
    assert.match(shown[0]!.rejected ?? '', /landing\/events\/b-truncated\.json:4/);
    const detail = await cli(['sql', '-p', dir, '--format', 'json', "SELECT r.file, r.error FROM (SELECT unnest(rejected) AS r FROM _ingot.run_datasets) ORDER BY 1"]);
    assert.equal(detail.code, 0, detail.err);
    assert.equal((JSON.parse(detail.out) as unknown[]).length, 3);

    // re-landing a fixed file under the same name admits it again
    await land(dir, 'b-truncated.json', events(10, 4));
    await until('the fixed file loaded', async () => Number((await query(project, 'SELECT count(*) AS n FROM bronze.events'))[0]!['n']) === 19);
    // a file fixed in place without a new listing (same size and time) stays rejected until `ingot files retry`
    const typed = path.join(dir, 'landing', 'events', 'c-type.json');
    const before = await fs.stat(typed);
    const fixed = (events(20, 2) + '{"id": 22, "user": "u1"}\n').padEnd(before.size - 1, ' ') + '\n';
    assert.equal(Buffer.byteLength(fixed), before.size);
    // written beside the landing folder with the old size and time, then renamed over it in one
    // step: the trigger never sees a half-fixed file with a new time (which it would admit itself)
    const staged = path.join(dir, 'c-type.json.fixed');
    await fs.writeFile(staged, fixed);
    // the listing keeps whole milliseconds: set the middle of the same millisecond (a Date's
    // seconds as a double can land a hair below it, which would be a new time)
    const sameMs = (Math.floor(before.mtimeMs) + 0.5) / 1000;
    await fs.utimes(staged, sameMs, sameMs);
    await fs.rename(staged, typed);
    const notRejected = await cli(['files', 'retry', 'bronze.events', 'landing/events/a-good.json', '-p', dir]);
    assert.equal(notRejected.code, 1);
    assert.match(notRejected.err, /a-good\.json was loaded, not rejected: retrying it would load its rows twice/);
    const retried = await cli(['files', 'retry', 'bronze.events', 'landing/events/c-type.json', '-p', dir]);
    assert.equal(retried.code, 0, retried.err);
    assert.match(retried.out, /c-type\.json admitted again \(it was rejected: .*\); committed version \d+/);
    await land(dir, 'f-good.json', events(50, 1));
    await until('the retried file loaded with the next arrival', async () => Number((await query(project, 'SELECT count(*) AS n FROM bronze.events'))[0]!['n']) === 23);
    const ids = await query(project, 'SELECT count(DISTINCT id) AS ids, count(*) AS n FROM bronze.events');
    assert.deepEqual([Number(ids[0]!['ids']), Number(ids[0]!['n'])], [23, 23], 'every good row exactly once');

    // onBadFile: 'fail' stops instead: the run fails naming the file, nothing is committed
    const runner2 = await Runner.open(project);
    try {
      await land(dir, 'g-bad.json', '{"id": ');
      const failed = await runner2.run(undefined, { mode: 'once', datasets: new Set(['bronze.events']), batch: { onBadFile: 'fail' } });
      assert.equal(failed.status, 'failed');
      assert.match(failed.error!, /bronze\.events: cannot read .*g-bad\.json/);
    } finally {
      await runner2.close();
    }
  });

  it('an s3:// prefix listed every poll period (ListObjectsV2 on the local S3-compatible server): each landed object exactly once', async (t) => {
    const { dir, cleanup } = await tempDir('cont-s3');
    const moto = await motoEnvironment({ INGOT_CACHE_DIR: path.join(dir, 'cache') });
    await (await s3ClientFromEnv()).send(new CreateBucketCommand({ Bucket: 'arrivals' }));
    const bucket = new S3Store('s3://arrivals/landing/events');
    const project = await triggeredProject(dir, 's3://arrivals/landing/events/*.json', "{ files: 's3://arrivals/landing/events/*.json', poll: '300ms', maxBytes: 1 }");
    const store = await openMetadata(project);
    const s = new Scheduler(project, store, { tickMs: 50, leaseMs: 2000, log: quiet });
    t.after(async () => { await s.stop(0); await store.close(); await moto.stop(); await cleanup(); });
    s.start();
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(s.results.length, 0, 'nothing landed: no run');
    for (let i = 0; i < 3; i++) await bucket.put(`e${i}.json`, events(i * 10, 10));
    await until('3 objects loaded', async () => s.results.reduce((n, r) => n + (r.datasets.find((d) => d.dataset === 'bronze.events')?.inputs.length ?? 0), 0) === 3);
    assert.deepEqual(s.results.map((r) => r.datasets.find((d) => d.dataset === 'bronze.events')!.inputs.length), [1, 1, 1], 'maxBytes 1: one object per run (at least one)');
    await bucket.put('e3.json', events(30, 4));
    await until('the 4th object loaded', async () => Number((await query(project, 'SELECT count(*) AS n FROM bronze.events'))[0]!['n']) === 34);
    await until('the trigger idle', () => !s.triggersBusy);
    const rows = await query(project, 'SELECT count(*) AS n, count(DISTINCT id) AS ids, min(_source) AS first FROM bronze.events');
    assert.deepEqual([Number(rows[0]!['n']), Number(rows[0]!['ids']), rows[0]!['first']], [34, 34, 's3://arrivals/landing/events/e0.json']);
    assert.ok(s.results.every((r) => r.status === 'success'), JSON.stringify(s.results.map((r) => r.error)));
  });
});

describe('incremental reads', () => {
  it('an incremental dataset reads only the rows its upstream committed since the versions it processed: appends, not compactions; an update upstream stops it; the plan counts the commits', async (t) => {
    const { dir, cleanup } = await tempDir('cont-incremental');
    await fs.mkdir(path.join(dir, 'datasets', 'bronze'), { recursive: true });
    await fs.writeFile(path.join(dir, 'datasets', 'bronze', 'events.ts'), `import { dataset, files } from 'ingot';
export default dataset({ name: 'bronze.events', source: files({ path: 'landing/events/*.json', format: 'ndjson', columns: { id: 'INTEGER', user: 'VARCHAR' } }), materialization: 'append' });\n`);
    const project = await writeProject(dir, "{ lake: './lake' }", {
      // an append that is right only when it reads each upstream row once
      'silver/events.sql': '-- materialization: append\n-- incremental: true\nSELECT id, user, {{run_id}} AS run FROM bronze.events\n',
    });
    const runner = await Runner.open(project);
    t.after(async () => { await runner.close(); await cleanup(); });
    const once = async (): Promise<void> => {
      const r = await runner.run(undefined, { mode: 'once' });
      assert.equal(r.status, 'success', r.error);
    };
    const silver = async (): Promise<[number, number]> => {
      const [row] = await query(project, 'SELECT count(*) AS n, count(DISTINCT id) AS ids FROM silver.events');
      return [Number(row!['n']), Number(row!['ids'])];
    };
    await land(dir, 'a.json', events(0, 10));
    await once();
    assert.deepEqual(await silver(), [10, 10], 'the first run reads everything');
    for (const [i, name] of ['b.json', 'c.json', 'd.json'].entries()) {
      await land(dir, name, events(100 * (i + 1), 5));
      // bronze alone: silver falls behind by three commits
      const r = await runner.run(undefined, { mode: 'once', datasets: new Set(['bronze.events']) });
      assert.equal(r.status, 'success', r.error);
    }
    const bronze = (await runner.lake.table('bronze.events').snapshot()).version;
    const plan = await runner.plan({ dates: 'once', selected: new Set(['silver.events']) });
    assert.equal(plan.runs[0]!.steps[0]!.reason, `upstream changed: bronze.events ${bronze - 3} → ${bronze} (3 commits)`);
    await once();
    assert.deepEqual(await silver(), [25, 25], 'the next run reads the three appends, and only them');
    // a compaction rewrites bronze's files without changing its rows: nothing new to read
    const compacted = await optimize(runner.lake.table('bronze.events'), runner.engine);
    assert.ok(compacted.version !== undefined);
    await land(dir, 'e.json', events(900, 2));
    await once();
    assert.deepEqual(await silver(), [27, 27], 'the compacted files are not read again');
    // a delete upstream: its change is not an append; the run stops and says what to do
    await deleteRows(runner.lake.table('bronze.events'), runner.engine, { where: 'id = 900' });
    const stopped = await runner.run(undefined, { mode: 'once', datasets: new Set(['silver.events']), force: true });
    assert.equal(stopped.status, 'failed');
    assert.match(stopped.error!, /silver\.events.*reads bronze\.events incrementally, but its version \d+ updated or deleted rows .*--full-refresh/);
    assert.deepEqual(await silver(), [27, 27], 'nothing committed');
  });
});
