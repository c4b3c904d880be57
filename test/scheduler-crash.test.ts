/**
 * `ingot serve` as a real process: killed with SIGKILL in the middle of a catchup, then restarted:
 * the runs that were in flight are found through their expired leases, taken over as the same
 * runs, and every table ends up with exactly the source's rows. SIGTERM stops it gracefully,
 * abandoning a run that outlives the grace period so that the next scheduler takes it over.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { localDate } from '../src/schedule/calendar.js';
import { addDays } from '../src/pipeline/interval.js';
import { openMetadata } from '../src/metadata/open.js';
import { cli, tempDir } from './fixtures.js';
import { serve, until } from './scheduler-process.js';
import { query, writeProject } from './schedule-helpers.js';

describe('ingot serve', () => {
  it('recovers from kill -9: in-flight runs are taken over as the same runs, no row duplicated or lost', async (t) => {
    const { dir, cleanup } = await tempDir('serve-crash');
    t.after(cleanup);
    const today = localDate(new Date(), 'UTC');
    const start = addDays(today, -24);
    const days = Array.from({ length: 24 }, (_, i) => addDays(start, i));
    // the source: one CSV per day with 40 + i rows
    const source = new Map<string, number>();
    for (const [i, day] of days.entries()) {
      await fs.mkdir(path.join(dir, 'landing', `day=${day}`), { recursive: true });
      source.set(day, 40 + i);
      await fs.writeFile(path.join(dir, 'landing', `day=${day}`, 'events.csv'), 'id,amount\n' + Array.from({ length: 40 + i }, (_, k) => `${k},${k * 1.5}`).join('\n') + '\n');
    }
    await fs.mkdir(path.join(dir, 'datasets', 'bronze'), { recursive: true });
    await fs.writeFile(path.join(dir, 'datasets', 'bronze', 'events.ts'), `import { dataset, files } from 'ingot';
export default dataset({ name: 'bronze.events', source: files({ path: 'landing/day={day}/*.csv', format: 'csv', columns: { id: 'INTEGER', amount: 'DOUBLE' } }),
  materialization: 'append', partitionBy: ['day'] });\n`);
    const project = await writeProject(dir, `{ lake: './lake', scheduler: { leaseSeconds: 1, maxActiveRuns: 2 },
      pipelines: [pipeline({ name: 'events', schedule: '* * * * * *', start: '${start}', maxActiveRuns: 2 })] }`, {
      // append: a table committed twice for one date would hold its rows twice
      'silver/events.sql': '-- materialization: append\nSELECT id, amount, day FROM bronze.events WHERE day >= {{start}} AND day < {{end}}\n',
      'gold/totals.sql': '-- materialization: append\nSELECT day, count(*) AS n, sum(amount) AS amount FROM silver.events WHERE day >= {{start}} AND day < {{end}} GROUP BY day\n',
    });

    const first = serve(dir);
    t.after(() => { first.child.kill('SIGKILL'); });
    await until('6 runs started', () => first.events.filter((e) => e.event === 'run-start').length >= 6);
    first.child.kill('SIGKILL');
    await first.exited;
    const store = await openMetadata(project);
    t.after(() => store.close());
    const inFlight = (await store.intervals('events')).filter((s) => s.status === 'running');
    assert.ok(inFlight.length >= 1, 'runs were in flight when the scheduler died');
    const doneBefore = (await store.intervals('events')).filter((s) => s.status === 'success').length;
    assert.ok(doneBefore < 24);

    const second = serve(dir);
    t.after(() => { second.child.kill('SIGKILL'); });
    await until('every interval done', async () => (await store.intervals('events')).filter((s) => s.status === 'success').length === 24, 180_000).catch(async (err: Error) => {
      const states = (await store.intervals('events')).filter((s) => s.status !== 'success');
      throw new Error(`${err.message}; not done: ${JSON.stringify(states)}; events: ${JSON.stringify(second.events.filter((e) => e['level'] !== 'info' || e.event === 'text').slice(-20))}`);
    });
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0);
    const recovered = second.events.filter((e) => e.event === 'run-recovered').map((e) => e['runId']);
    assert.deepEqual(recovered.sort(), inFlight.map((s) => s.runId).sort(), 'the runs in flight were taken over as the same runs');
    const states = await store.intervals('events');
    for (const s of inFlight) assert.equal(states.find((x) => x.logicalDate === s.logicalDate)!.attempt, 2);

    // every table holds exactly the source's rows for every day
    for (const table of ['bronze.events', 'silver.events']) {
      const rows = await query(project, `SELECT CAST(day AS VARCHAR) AS day, count(*) AS n, count(DISTINCT id) AS ids FROM ${table} GROUP BY day ORDER BY day`);
      assert.deepEqual(rows.map((r) => [r['day'], Number(r['n']), Number(r['ids'])]), days.map((d) => [d, source.get(d), source.get(d)]), table);
    }
    const totals = await query(project, 'SELECT CAST(day AS VARCHAR) AS day, CAST(n AS INTEGER) AS n FROM gold.totals ORDER BY day');
    assert.deepEqual(totals.map((r) => [r['day'], r['n']]), days.map((d) => [d, source.get(d)]), 'gold.totals: one row per day');
    const runs = JSON.parse((await cli(['runs', '-p', dir, '--format', 'json', '--limit', '100'])).out) as { status: string; attempt: number }[];
    assert.equal(runs.length, 24);
    assert.ok(runs.every((r) => r.status === 'success'));
  });

  it('SIGTERM: stops claiming, abandons a run that outlives the grace period, and the next scheduler takes it over', async (t) => {
    const { dir, cleanup } = await tempDir('serve-term');
    t.after(cleanup);
    const yesterday = addDays(localDate(new Date(), 'UTC'), -1);
    // a dataset that fails until far in the future, retried: its run never ends by itself
    const project = await writeProject(dir, `{ lake: './lake', scheduler: { gracePeriodSeconds: 1 },
      pipelines: [pipeline({ name: 'stuck', schedule: '* * * * * *', start: '${yesterday}', retries: 1000, retryDelay: '200ms' })] }`, {
      'bronze/stuck.sql': "-- materialization: append\nSELECT CASE WHEN now() < TIMESTAMPTZ '2999-01-01' THEN error('not yet') ELSE 1 END AS x\n",
    });
    const s = serve(dir);
    t.after(() => { s.child.kill('SIGKILL'); });
    await until('a retry', () => s.events.some((e) => e.event === 'task-retry'));
    const t0 = Date.now();
    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 0);
    assert.ok(Date.now() - t0 < 10_000, `stopped in ${Date.now() - t0} ms`);
    const names = s.events.map((e) => e.event);
    assert.ok(names.includes('scheduler-abandoning') && names.includes('run-abandoned') && names.at(-1) === 'scheduler-stopped', names.join(' '));
    const store = await openMetadata(project);
    t.after(() => store.close());
    const [state] = await store.intervals('stuck');
    assert.equal(state!.status, 'running');
    assert.equal(state!.leaseExpires, 0, 'the lease was released');
    const claim = await store.claim('stuck', yesterday, 'next', { leaseMs: 1000, trigger: 'schedule' });
    assert.equal(claim?.runId, state!.runId, 'taken over at once as the same run');
    assert.equal(claim?.attempt, 2);
  });
});
