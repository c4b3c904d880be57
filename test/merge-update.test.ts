/**
 * `mergeUpdate` (`-- merge_update:`): an incremental `merge` dataset accumulating an aggregate
 * (WHEN MATCHED THEN UPDATE SET col = target.col + source.col). Over three appended upstream
 * batches it equals the full aggregate recomputed from the upstream table, row for row; a retry
 * after a failed run and a rerun with nothing new count nothing twice (the incremental bookmark
 * commits with the output); a full refresh gives the same table. Errors: an unknown column
 * (COLUMN_UNKNOWN naming dataset and column), another materialization or a key column
 * (DATASET_INVALID). Real runs, real Delta tables.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { IngotError } from '../src/errors.js';
import { queryLake } from '../src/operations/query.js';
import { loadProject } from '../src/project.js';
import { Runner } from '../src/run/runner.js';
import { tempDir } from './fixtures.js';
import { writeProject } from './schedule-helpers.js';

type Trip = [id: number, route: string, delay: number | null, dist: number];

/** Lands an ndjson file of trips by rename. */
async function land(dir: string, name: string, rows: Trip[]): Promise<void> {
  const file = path.join(dir, 'landing', 'trips', name);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(`${file}.tmp`, rows.map(([id, route, delay, dist]) => JSON.stringify({ id, route, delay, dist })).join('\n') + '\n');
  await fs.rename(`${file}.tmp`, file);
}

/** `n` trips from id `first`: routes r0..r(routes-1), every fifth delay NULL, route `rz` with only NULL delays. */
const trips = (first: number, n: number, routes: number): Trip[] => Array.from({ length: n }, (_, i) => {
  const id = first + i;
  return [id, id % 11 === 0 ? 'rz' : `r${id % routes}`, id % 11 === 0 || id % 5 === 0 ? null : (id * 7) % 90 - 20, 100 + (id % 13) * 2.5];
});

const BRONZE = `import { dataset, files } from 'ingot';
export default dataset({
  name: 'bronze.trips', materialization: 'append',
  source: files({ path: 'landing/trips/*.json', format: 'ndjson', columns: { id: 'INTEGER', route: 'VARCHAR', delay: 'INTEGER', dist: 'DOUBLE' } }),
});\n`;

// sums and counts stored; averages and the maximum from the row before the update and the batch's
const AGGREGATE = `-- materialization: merge
-- incremental: true
-- key: route
-- merge_update: trips = target.trips + source.trips
-- merge_update: delay_n = target.delay_n + source.delay_n
-- merge_update: delay_sum = target.delay_sum + source.delay_sum
-- merge_update: avg_delay = (target.delay_sum + source.delay_sum) / nullif(target.delay_n + source.delay_n, 0)
-- merge_update: max_delay = greatest(target.max_delay, source.max_delay)
-- merge_update: dist_sum = target.dist_sum + source.dist_sum
-- merge_update: avg_dist = (target.dist_sum + source.dist_sum) / (target.trips + source.trips)
SELECT route, count(*) AS trips, count(delay) AS delay_n, CAST(coalesce(sum(delay), 0) AS BIGINT) AS delay_sum,
       sum(delay) / nullif(count(delay), 0) AS avg_delay, max(delay) AS max_delay,
       sum(dist) AS dist_sum, avg(dist) AS avg_dist
FROM bronze.trips GROUP BY route
`;

/** The same aggregate recomputed from the whole upstream table. */
const FULL = `SELECT route, count(*) AS trips, count(delay) AS delay_n, CAST(coalesce(sum(delay), 0) AS BIGINT) AS delay_sum,
  avg(delay) AS avg_delay, max(delay) AS max_delay, round(sum(dist), 6) AS dist_sum, round(avg(dist), 6) AS avg_dist FROM bronze.trips GROUP BY route ORDER BY route`;
const STORED = 'SELECT route, trips, delay_n, delay_sum, avg_delay, max_delay, round(dist_sum, 6) AS dist_sum, round(avg_dist, 6) AS avg_dist FROM silver.route_stats ORDER BY route';

const guard = (ok: boolean): string => `-- expect guard (fail): ${ok ? 'trips > 0' : 'trips < 0'}
SELECT route, trips FROM silver.route_stats
`;

describe('merge update: incremental aggregates', () => {
  it('accumulates three appended batches into the full aggregate; a retry and a rerun count nothing twice', async (t) => {
    const { dir, cleanup } = await tempDir('merge-update');
    t.after(cleanup);
    await writeProject(dir, "{ lake: './lake' }", { 'bronze/trips.ts': BRONZE, 'silver/route_stats.sql': AGGREGATE, 'gold/route_guard.sql': guard(true) });
    let runner = await Runner.open(await loadProject(dir));
    t.after(() => runner.close());
    const run = async (mode: 'once' | 'full_refresh' = 'once'): Promise<{ status: string; error?: string }> => runner.run(undefined, { mode });
    const rows = async (sql: string): Promise<string[]> => (await queryLake(runner.lake, runner.engine, sql)).map((r) => JSON.stringify(Object.values(r).map((v) => (typeof v === 'bigint' ? Number(v) : v))));
    const check = async (what: string, routes: number): Promise<void> => {
      const full = await rows(FULL);
      assert.equal(full.length, routes, what);
      assert.deepEqual(await rows(STORED), full, what);
    };

    // batch 1 creates the table; batch 2 updates every route and adds r3, r4; batch 3 (two files, one run)
    await land(dir, 'a.json', trips(0, 40, 3));
    assert.equal((await run()).status, 'success');
    await check('after batch 1', 4);
    await land(dir, 'b.json', trips(40, 60, 5));
    assert.equal((await run()).status, 'success');
    await check('after batch 2', 6);
    const versionAfter2 = (await runner.lake.table('silver.route_stats').snapshot()).version;

    // batch 3: the run fails downstream (nothing commits), then the retry reads the batch once
    await runner.close();
    await fs.writeFile(path.join(dir, 'datasets', 'gold', 'route_guard.sql'), guard(false));
    runner = await Runner.open(await loadProject(dir));
    await land(dir, 'c1.json', trips(100, 30, 7));
    await land(dir, 'c2.json', trips(130, 25, 7));
    const failed = await run();
    assert.equal(failed.status, 'failed');
    assert.match(failed.error ?? '', /guard/);
    assert.equal((await runner.lake.table('silver.route_stats').snapshot()).version, versionAfter2, 'the failed run committed nothing');
    await runner.close();
    await fs.writeFile(path.join(dir, 'datasets', 'gold', 'route_guard.sql'), guard(true));
    runner = await Runner.open(await loadProject(dir));
    assert.equal((await run()).status, 'success');
    await check('after batch 3, retried', 8);
    const after3 = await rows(STORED);
    // accumulated, not replaced: r0 has rows of all three batches
    assert.equal((await rows("SELECT trips FROM silver.route_stats WHERE route = 'r0'"))[0], JSON.stringify([(await rows("SELECT count(*) FROM bronze.trips WHERE route = 'r0'")).map((r) => JSON.parse(r)[0])[0]]));

    // a rerun with nothing new upstream adds nothing
    assert.equal((await run()).status, 'success');
    assert.deepEqual(await rows(STORED), after3, 'a rerun counts nothing twice');

    // a full refresh recomputes the table from the whole upstream: the same rows
    assert.equal((await run('full_refresh')).status, 'success');
    assert.deepEqual(await rows(STORED), after3, 'a full refresh gives the accumulated table');
  });

  it('a column that is not an output column fails the run with COLUMN_UNKNOWN naming dataset and column', async (t) => {
    const { dir, cleanup } = await tempDir('merge-update-unknown');
    t.after(cleanup);
    const bad = AGGREGATE.replace('-- merge_update: trips =', '-- merge_update: tripz =');
    const runner = await Runner.open(await writeProject(dir, "{ lake: './lake' }", { 'bronze/trips.ts': BRONZE, 'silver/route_stats.sql': bad }));
    t.after(() => runner.close());
    await land(dir, 'a.json', trips(0, 10, 3));
    let thrown: unknown;
    const r = await runner.run(undefined, {
      mode: 'once',
      task: async (_name, attempt) => { try { return await attempt(); } catch (err) { thrown = err; throw err; } },
    });
    assert.equal(r.status, 'failed');
    assert.ok(thrown instanceof IngotError, String(thrown));
    assert.equal(thrown.code, 'COLUMN_UNKNOWN');
    assert.match(thrown.message, /silver\.route_stats: mergeUpdate sets column tripz/);
    assert.equal(thrown.context.column, 'tripz');
    assert.equal(await runner.lake.table('silver.route_stats').trySnapshot(), undefined, 'nothing written');
  });

  it('refuses mergeUpdate on another materialization, on a key column and malformed directives (DATASET_INVALID)', async (t) => {
    const { dir, cleanup } = await tempDir('merge-update-invalid');
    t.after(cleanup);
    const refused = async (files: Record<string, string>, pattern: RegExp): Promise<void> => {
      await fs.rm(path.join(dir, 'datasets'), { recursive: true, force: true });
      await assert.rejects(writeProject(dir, "{ lake: './lake' }", { 'bronze/trips.ts': BRONZE, ...files }), (err: unknown) => {
        assert.ok(err instanceof IngotError, String(err));
        assert.equal(err.code, 'DATASET_INVALID');
        assert.match(err.message, pattern);
        return true;
      });
    };
    await refused({ 'silver/x.sql': "-- materialization: append\n-- incremental: true\n-- merge_update: n = target.n + source.n\nSELECT count(*) AS n FROM bronze.trips\n" },
      /x\.sql:3: mergeUpdate: mergeUpdate \(WHEN MATCHED THEN UPDATE SET\) is for materialization 'merge'/);
    await refused({ 'silver/x.ts': "import { dataset } from 'ingot';\nexport default dataset({ name: 'silver.x', materialization: 'overwrite', mergeUpdate: { n: 'target.n + 1' }, sql: 'SELECT count(*) AS n FROM bronze.trips' });\n" },
      /silver\/x\.ts: mergeUpdate: .*materialization 'merge'/);
    await refused({ 'silver/x.sql': '-- materialization: merge\n-- key: route\n-- merge_update: route = source.route\nSELECT DISTINCT route FROM bronze.trips\n' },
      /x\.sql:3: .*cannot set a key column/);
    await refused({ 'silver/x.sql': '-- materialization: merge\n-- key: route\n-- merge_update: n target.n + 1\nSELECT route, 1 AS n FROM bronze.trips\n' },
      /x\.sql:3: a merge update reads "-- merge_update: <column> = <expression>"/);
    await refused({ 'silver/x.sql': '-- materialization: merge\n-- key: route\n-- merge_update: n = target.n + 1\n-- merge_update: n = target.n + 2\nSELECT route, 1 AS n FROM bronze.trips\n' },
      /x\.sql:4: merge_update sets column n twice/);
  });
});
