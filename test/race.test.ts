/**
 * Two runs of different dates of one month, started together as two `ingot run` processes on
 * the flights example: each recomputes January's gold tables from silver.flights, which the
 * other run extends. A run whose gold commit was computed from a silver snapshot the other run
 * has since extended must not commit it (CONCURRENT_MODIFICATION) but plan again, so that every
 * gold table always equals a recomputation from silver.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openLocalEngine, type LocalEngine } from '../src/engine/registry.js';
import { queryLake } from '../src/operations/query.js';
import { Lake } from '../src/table/lake.js';
import { cli, flightsProject, ROOT, tempDir } from './fixtures.js';

const TRIALS = Number(process.env['INGOT_RACE_TRIALS'] ?? 20);

/** `ingot run` in a child process; resolves with its exit code and stderr. */
function runProcess(dir: string, date: string): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'cli', 'bin.ts'), 'run', '-p', dir, '--date', date, '--rerun'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    child.on('exit', (code) => resolve({ code, err }));
  });
}

describe('two runs of one month started together', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let engine: LocalEngine;
  before(async () => {
    ({ dir, cleanup } = await tempDir('race'));
    await flightsProject(dir, ['2001-01-12', '2001-01-13', '2001-01-14']);
    const first = await cli(['run', '-p', dir, '--date', '2001-01-12']);
    assert.equal(first.code, 0, first.err);
    engine = await openLocalEngine();
  });
  after(async () => {
    await engine.close();
    await cleanup();
  });

  it(`never loses a day of silver in the monthly gold tables (${TRIALS} trials)`, async () => {
    let replanned = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      const [a, b] = await Promise.all([runProcess(dir, '2001-01-13'), runProcess(dir, '2001-01-14')]);
      assert.equal(a.code, 0, `trial ${trial}, 2001-01-13: ${a.err}`);
      assert.equal(b.code, 0, `trial ${trial}, 2001-01-14: ${b.err}`);
      replanned += [a, b].filter((r) => /planned again/.test(r.err)).length;

      const lake = new Lake(path.join(dir, 'lake'), engine);
      const q = (sql: string): Promise<Record<string, unknown>[]> => queryLake(lake, engine, sql);
      // the days silver holds, and gold.route_monthly against the same aggregation over silver, both ways
      assert.deepEqual((await q('SELECT DISTINCT CAST(flight_date AS VARCHAR) AS d FROM silver.flights ORDER BY d')).map((r) => r['d']), ['2001-01-12', '2001-01-13', '2001-01-14']);
      const recomputed = `SELECT CAST(date_trunc('month', flight_date) AS DATE) AS month, origin, destination, count(*) AS flights FROM silver.flights GROUP BY ALL`;
      const diff = await q(`SELECT count(*) AS n FROM ((SELECT month, origin, destination, flights FROM gold.route_monthly EXCEPT ${recomputed}) UNION ALL (${recomputed} EXCEPT SELECT month, origin, destination, flights FROM gold.route_monthly))`);
      assert.equal(Number(diff[0]!['n']), 0, `trial ${trial}: gold.route_monthly differs from silver.flights (${a.err} ${b.err})`);
      const [totals] = await q('SELECT (SELECT sum(flights) FROM gold.route_monthly) AS gold, (SELECT count(*) FROM silver.flights) AS silver, (SELECT sum(departures) FROM gold.airport_daily) AS daily');
      assert.equal(String(totals!['gold']), String(totals!['silver']), `trial ${trial}: flights in gold.route_monthly`);
      assert.equal(String(totals!['daily']), String(totals!['silver']), `trial ${trial}: departures in gold.airport_daily`);
      // gold.top5_monthly reads gold.route_monthly: its busiest routes are the month's
      const top = await q(`SELECT count(*) AS n FROM (SELECT subject, value FROM gold.top5_monthly WHERE ranking = 'busiest_route'
        EXCEPT SELECT origin || '-' || destination, CAST(flights AS DOUBLE) FROM (SELECT *, row_number() OVER (ORDER BY flights DESC, origin || '-' || destination) AS r FROM gold.route_monthly) WHERE r <= 5)`);
      assert.equal(Number(top[0]!['n']), 0, `trial ${trial}: gold.top5_monthly`);
    }
    // the race was met: some run found its upstream moved and planned again
    assert.ok(replanned > 0, `no run was planned again in ${TRIALS} trials: the two runs never overlapped`);
  });
});
