/**
 * Idempotent runs: every commit of a run carries a Delta `txn` action, so retrying a run that
 * crashed between its commits neither duplicates nor loses rows.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { loadProject } from '../src/project.js';
import { Runner, type RunIdentity } from '../src/run/runner.js';
import { cli, tempDir } from './fixtures.js';
import { attachTables } from '../src/operations/query.js';

async function appendProject(dir: string): Promise<string> {
  await fs.mkdir(path.join(dir, 'datasets', 'bronze'), { recursive: true });
  await fs.mkdir(path.join(dir, 'datasets', 'gold'), { recursive: true });
  await fs.writeFile(path.join(dir, 'ingot.config.ts'), "import { defineConfig } from 'ingot';\nexport default defineConfig({ lake: './lake' });\n");
  await fs.writeFile(path.join(dir, 'datasets', 'bronze', 'events.sql'), "-- materialization: append\nSELECT CAST({{logical_date}} AS DATE) AS day, range AS i FROM range(3)\n");
  await fs.writeFile(path.join(dir, 'datasets', 'gold', 'totals.sql'), '-- materialization: overwrite\nSELECT count(*) AS events FROM bronze.events\n');
  return dir;
}

describe('retrying a run', () => {
  it('commits what the first attempt did not, and nothing twice', async (t) => {
    const { dir, cleanup } = await tempDir('idempotent');
    t.after(cleanup);
    const runner = await Runner.open(await loadProject(await appendProject(dir)));
    t.after(() => runner.close());
    const count = async (sql: string): Promise<number> => Number(Object.values((await runner.engine.query(sql))[0]!)[0]);
    const rows = async (): Promise<[number, number]> => {
      await attachTables(runner.lake, runner.engine, ['bronze.events', 'gold.totals']);
      return [await count('SELECT count(*) FROM bronze.events'), await count('SELECT max(events) FROM gold.totals')];
    };

    // the first attempt dies right after its first commit (bronze.events), before gold.totals
    const first = await runner.run('2024-05-01', {
      onEvent: (e) => {
        if (e.type === 'committed') throw new Error('simulated crash after the first commit');
      },
    });
    assert.equal(first.status, 'failed');
    assert.equal((await runner.lake.table('bronze.events').snapshot()).version, 0);
    assert.equal(await runner.lake.table('gold.totals').trySnapshot(), undefined, 'gold.totals was never committed');

    // `ingot run --retry <run id>` runs again as the first attempt (same id and start time)
    const startedAt = new Date((await runner.lake.table('bronze.events').snapshot()).txns.get('ingot:2024-05-01')!.version);
    assert.equal(startedAt.getTime(), first.startedAt.getTime());
    const identity: RunIdentity = { runId: first.runId, startedAt };
    const retry = await cli(['run', '-p', dir, '--retry', first.runId]);
    assert.equal(retry.code, 0, retry.err);
    assert.match(retry.err, /2024-05-01 {2}ok/);
    assert.equal((await runner.lake.table('bronze.events').snapshot()).version, 0, 'bronze.events was not committed again');
    assert.deepEqual(await rows(), [3, 3], 'no duplicated and no lost rows');

    // retrying again changes nothing at all
    await rejectsUnknownRun(dir);
    await runner.run('2024-05-01', { identity });
    assert.equal((await runner.lake.table('gold.totals').snapshot()).version, 0);
    assert.deepEqual(await rows(), [3, 3]);

    // an attempt older than the committed one is not applied over it; a new run is
    await runner.run('2024-05-01', { identity: { runId: 'stale', startedAt: new Date(startedAt.getTime() - 1000) } });
    assert.deepEqual(await rows(), [3, 3]);
    // a new run of the same date finds it up to date and commits nothing; forced (--rerun), it appends again
    const rerun = await runner.run('2024-05-01');
    assert.deepEqual(rerun.datasets.map((d) => [d.dataset, d.status, d.reason]), [['bronze.events', 'skipped', 'up to date'], ['gold.totals', 'skipped', 'up to date']]);
    assert.deepEqual(await rows(), [3, 3]);
    await runner.run('2024-05-01', { force: true });
    assert.deepEqual(await rows(), [6, 6], 'a forced run of the same date appends again');
  });
});

async function rejectsUnknownRun(dir: string): Promise<void> {
  const r = await cli(['run', '-p', dir, '--retry', 'no-such-run']);
  assert.equal(r.code, 1);
  assert.match(r.err, /RUN_NOT_FOUND.*no run no-such-run/);
}
