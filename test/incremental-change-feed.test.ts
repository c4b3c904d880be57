/**
 * Incremental reads through the change data feed: an `incremental: true` dataset whose upstream
 * (with `delta.enableChangeDataFeed = true`) appended, updated and deleted rows reads the
 * upstream's change rows since the version it last processed, `_change_type` included, and an
 * `apply changes` mirror of it equals a full recomputation after every round; an audit table
 * appending the change rows holds exactly the feed. Real runs, real Delta tables.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { deleteRows } from '../src/operations/delete.js';
import { merge } from '../src/operations/merge.js';
import { queryLake } from '../src/operations/query.js';
import { updateRows } from '../src/operations/update.js';
import { Runner } from '../src/run/runner.js';
import { tempDir } from './fixtures.js';
import { writeProject } from './schedule-helpers.js';

/** Lands an ndjson file of orders `[id, customer, amount]` by rename. */
async function land(dir: string, name: string, rows: [number, string, number][]): Promise<void> {
  const file = path.join(dir, 'landing', 'orders', name);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(`${file}.tmp`, rows.map(([id, customer, amount]) => JSON.stringify({ id, customer, amount })).join('\n') + '\n');
  await fs.rename(`${file}.tmp`, file);
}

const orders = (first: number, n: number): [number, string, number][] => Array.from({ length: n }, (_, i) => [first + i, `c${(first + i) % 3}`, first + i + 0.5]);

const BRONZE = `import { dataset, files } from 'ingot';
export default dataset({
  name: 'bronze.orders', materialization: 'append', tableProperties: { 'delta.enableChangeDataFeed': 'true' },
  source: files({ path: 'landing/orders/*.json', format: 'ndjson', columns: { id: 'INTEGER', customer: 'VARCHAR', amount: 'DOUBLE' } }),
});\n`;

// the latest state per id: a delete and an insert of one key in one commit (a rewritten file) order as delete first
const MIRROR = `-- materialization: apply changes
-- incremental: true
-- key: id
-- sequence_by: seq
-- delete_when: _change_type = 'delete'
-- except_columns: _change_type
SELECT id, customer, amount, _commit_version * 2 + CASE WHEN _change_type = 'delete' THEN 0 ELSE 1 END AS seq, _change_type
FROM bronze.orders WHERE _change_type <> 'update_preimage'
`;

const AUDIT = `-- materialization: append
-- incremental: true
SELECT id, amount, _change_type, _commit_version FROM bronze.orders
`;

describe('incremental reads through the change data feed', () => {
  it('appends, updates, merges and deletes upstream: the mirror equals a full recomputation, the audit table holds the feed', async (t) => {
    const { dir, cleanup } = await tempDir('incr-cdf');
    const project = await writeProject(dir, "{ lake: './lake' }", { 'bronze/orders.ts': BRONZE, 'silver/orders.sql': MIRROR, 'silver/order_changes.sql': AUDIT });
    const runner = await Runner.open(project);
    t.after(async () => { await runner.close(); await cleanup(); });
    const bronze = runner.lake.table('bronze.orders');
    const run = async (datasets?: string[], mode: 'once' | 'full_refresh' = 'once'): Promise<void> => {
      const r = await runner.run(undefined, { mode, ...(datasets ? { datasets: new Set(datasets) } : {}) });
      assert.equal(r.status, 'success', r.error);
    };
    const rows = async (sql: string): Promise<string[]> => (await queryLake(runner.lake, runner.engine, sql)).map((r) => JSON.stringify(Object.values(r).map((v) => (typeof v === 'bigint' ? Number(v) : v))));
    const state = (table: string): Promise<string[]> => rows(`SELECT id, customer, amount FROM ${table} ORDER BY id`);
    /** The mirror equals bronze now, and the audit table every change row bronze recorded. */
    const check = async (what: string): Promise<void> => {
      assert.deepEqual(await state('silver.orders'), await state('bronze.orders'), what);
      const version = (await bronze.snapshot()).version;
      assert.deepEqual(
        await rows('SELECT id, amount, _change_type, _commit_version FROM silver.order_changes ORDER BY ALL'),
        await rows(`SELECT id, amount, _change_type, _commit_version FROM table_changes('bronze.orders', 0, ${version}) ORDER BY ALL`), `${what}: the audit table`);
    };

    // round 1: appends only (the first run reads everything, as inserts)
    await land(dir, 'a.json', orders(0, 10));
    await run();
    await check('after the first run');
    assert.equal((await state('silver.orders')).length, 10);

    // round 2: an append, an update and a delete of rows inside files (change data files), read in one run
    await land(dir, 'b.json', orders(10, 5));
    await run(['bronze.orders']);
    await updateRows(bronze, runner.engine, { set: { amount: 'amount * 10' }, where: 'id < 3' });
    await deleteRows(bronze, runner.engine, { where: 'id IN (5, 11)' });
    const before = (await bronze.snapshot()).version;
    await run(['silver.orders', 'silver.order_changes']);
    await check('after an update and a delete upstream');
    assert.deepEqual((await state('silver.orders')).slice(0, 3), ['[0,"c0",5]', '[1,"c1",15]', '[2,"c2",25]']);
    assert.equal((await state('silver.orders')).length, 13);
    const types = await rows(`SELECT DISTINCT _change_type FROM silver.order_changes WHERE _commit_version > ${before - 3} ORDER BY 1`);
    assert.deepEqual(types, ['["delete"]', '["insert"]', '["update_postimage"]', '["update_preimage"]']);

    // round 3: a merge (update, delete, insert), a delete of a whole file (no change data files:
    // its remove is the delete), an append in this same run
    await merge(bronze, runner.engine, {
      source: "SELECT * FROM (VALUES (4, 'c9', 99.5, false), (6, 'c0', 0, true), (100, 'c1', 1.5, false)) s(id, customer, amount, gone)",
      on: 'target.id = source.id',
      whenMatched: [{ condition: 'source.gone', delete: true }, { update: { customer: 'source.customer', amount: 'source.amount' } }],
      whenNotMatched: [{ insert: { id: 'source.id', customer: 'source.customer', amount: 'source.amount' } }],
    });
    await land(dir, 'c.json', orders(200, 4));
    await run(['bronze.orders']);
    await deleteRows(bronze, runner.engine, { where: 'id >= 200' });
    await land(dir, 'd.json', orders(300, 2));
    await run();
    await check('after a merge, a whole-file delete and an append in the same run');
    const mirror = await state('silver.orders');
    assert.ok(mirror.includes('[4,"c9",99.5]') && mirror.includes('[100,"c1",1.5]') && mirror.includes('[301,"c1",301.5]'), mirror.join(' '));
    assert.ok(!mirror.some((r) => r.startsWith('[6,') || r.startsWith('[200,')), mirror.join(' '));

    // a run with nothing new upstream changes nothing
    await run(['silver.orders', 'silver.order_changes']);
    await check('after a run with nothing new');

    // the full recomputation gives the same mirror
    const incremental = await rows('SELECT id, customer, amount FROM silver.orders ORDER BY id');
    await run(['silver.orders'], 'full_refresh');
    assert.deepEqual(await rows('SELECT id, customer, amount FROM silver.orders ORDER BY id'), incremental);
  });
});
