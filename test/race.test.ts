/**
 * Two runs of one month started together as two `ingot run` processes on the flights example:
 * one runs 2001-01-13 through every layer (its gold tables recompute January from silver.flights),
 * the other runs 2001-01-14 (already in bronze), through every layer too in even trials, into
 * silver only in odd ones. When the second commits silver while the
 * first is computing gold, the first's gold rows miss the 14th: committing them with the state
 * "computed from silver.flights at its current version" would lose the 14th for good, since the
 * next plan would find gold up to date. The commit must be refused (CONCURRENT_MODIFICATION) and
 * the run planned again. The invariant checked after each trial: a further run of 2001-01-13 leaves
 * every gold table equal to a recomputation from silver (it recomputes what is stale, and skips
 * only what is truly up to date).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openLocalEngine, type LocalEngine } from '../src/engine/registry.js';
import { queryLake } from '../src/operations/query.js';
import { Lake } from '../src/table/lake.js';
import { cli, flightsProject, ROOT, tempDir } from './fixtures.js';

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const TRIALS = Number(process.env['INGOT_RACE_TRIALS'] ?? 20);

/** `ingot run` in a child process; resolves with its exit code and stderr. */
function runProcess(dir: string, args: string[]): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'cli', 'bin.ts'), 'run', '-p', dir, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    child.on('exit', (code) => resolve({ code, err }));
  });
}

describe('two runs of one month started together', () => {
  let root: string;
  let template: string;
  let cleanup: () => Promise<void>;
  let engine: LocalEngine;
  before(async () => {
    ({ dir: root, cleanup } = await tempDir('race'));
    template = path.join(root, 'template');
    await flightsProject(template, ['2001-01-12', '2001-01-13', '2001-01-14']);
    const first = await cli(['run', '-p', template, '--date', '2001-01-12']);
    assert.equal(first.code, 0, first.err);
    // the 14th's landing files are in bronze already: the second run writes silver alone
    const bronze = await cli(['run', '-p', template, '--date', '2001-01-14', '--select', 'bronze.flights_raw']);
    assert.equal(bronze.code, 0, bronze.err);
    engine = await openLocalEngine();
  });
  after(async () => {
    await engine.close();
    await cleanup();
  });

  it(`never commits gold rows that miss another run's day as up to date (${TRIALS} trials)`, async () => {
    let replanned = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      // each trial starts from the same lake: January 12th in every layer
      const dir = path.join(root, `trial-${trial}`);
      await fs.cp(template, dir, { recursive: true, preserveTimestamps: true });
      const [a, b] = await Promise.all([
        runProcess(dir, ['--date', '2001-01-13']),
        // started a little later from trial to trial, so that its commits fall in every part of the first run;
        // every other trial it runs every layer too (the race as first found: two dates of one month)
        delay((Math.floor(trial / 2) % 10) * 60).then(() => runProcess(dir, ['--date', '2001-01-14', ...(trial % 2 ? ['--select', 'silver.flights'] : [])])),
      ]);
      assert.equal(a.code, 0, `trial ${trial}, 2001-01-13: ${a.err}`);
      assert.equal(b.code, 0, `trial ${trial}, 2001-01-14: ${b.err}`);
      replanned += [a, b].filter((r) => /planned again/.test(r.err)).length;

      const lake = new Lake(path.join(dir, 'lake'), engine);
      const q = (sql: string): Promise<Record<string, unknown>[]> => queryLake(lake, engine, sql);
      /** Asserts silver holds the three days and every gold table equals a recomputation from it. */
      const checkGold = async (when: string): Promise<void> => {
        const label = `trial ${trial}, ${when} (${a.err} ${b.err})`;
        assert.deepEqual((await q('SELECT DISTINCT CAST(flight_date AS VARCHAR) AS d FROM silver.flights ORDER BY d')).map((r) => r['d']), ['2001-01-12', '2001-01-13', '2001-01-14'], label);
        const recomputed = `SELECT CAST(date_trunc('month', flight_date) AS DATE) AS month, origin, destination, count(*) AS flights FROM silver.flights GROUP BY ALL`;
        const diff = await q(`SELECT count(*) AS n FROM ((SELECT month, origin, destination, flights FROM gold.route_monthly EXCEPT ${recomputed}) UNION ALL (${recomputed} EXCEPT SELECT month, origin, destination, flights FROM gold.route_monthly))`);
        assert.equal(Number(diff[0]!['n']), 0, `${label}: gold.route_monthly differs from silver.flights`);
        const [totals] = await q('SELECT (SELECT sum(flights) FROM gold.route_monthly) AS gold, (SELECT count(*) FROM silver.flights) AS silver, (SELECT sum(departures) FROM gold.airport_daily) AS daily');
        assert.equal(String(totals!['gold']), String(totals!['silver']), `${label}: flights in gold.route_monthly`);
        // gold.airport_daily is daily: the 14th's day is in it when its run ran every layer
        if (trial % 2 === 0) assert.equal(String(totals!['daily']), String(totals!['silver']), `${label}: departures in gold.airport_daily`);
        // gold.top5_monthly reads gold.route_monthly: its busiest routes are the month's
        const top = await q(`SELECT count(*) AS n FROM (SELECT subject, value FROM gold.top5_monthly WHERE ranking = 'busiest_route'
          EXCEPT SELECT origin || '-' || destination, CAST(flights AS DOUBLE) FROM (SELECT *, row_number() OVER (ORDER BY flights DESC, origin || '-' || destination) AS r FROM gold.route_monthly) WHERE r <= 5)`);
        assert.equal(Number(top[0]!['n']), 0, `${label}: gold.top5_monthly`);
      };
      // both ran every layer and both succeeded: the gold commit that landed last saw both days
      if (trial % 2 === 0) await checkGold('after both runs');
      // what is stale runs again; what claims to be up to date must be
      const again = await cli(['run', '-p', dir, '--date', '2001-01-13']);
      assert.equal(again.code, 0, again.err);
      await checkGold(`after a further run (${again.err})`);
      await fs.rm(dir, { recursive: true, force: true });
    }
    // the race was met: some run found its upstream moved and planned again
    assert.ok(replanned > 0, `no run was planned again in ${TRIALS} trials: the two runs never overlapped`);
  });
});
