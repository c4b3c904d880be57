/**
 * The expectation library (notNull, unique, acceptedValues, range, regex, relationships,
 * rowCount, freshness) in a real project: failure counts per run equal counts computed
 * independently, actions act, and `ingot checks` / `ingot runs` show the results.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { cli, tempDir } from './fixtures.js';

/** Orders of one day: 20 rows with known defects. */
const ORDERS = `SELECT i AS order_id, CASE WHEN i = 3 THEN NULL ELSE 'c' || (i % 4) END AS customer_id,
  CASE WHEN i IN (5, 6) THEN 'LOST' ELSE ['NEW', 'INTRANSIT', 'DELIVERED'][i % 3 + 1] END AS status,
  CASE WHEN i = 7 THEN -1.0 ELSE i * 10.0 END AS amount,
  CASE WHEN i = 8 THEN 'not-an-email' ELSE 'u' || i || '@example.com' END AS email,
  CAST({{logical_date}} AS TIMESTAMP) + INTERVAL (i) HOUR AS placed_at
FROM range(20) t(i) UNION ALL SELECT 19, 'c3', 'NEW', 190.0, 'u19@example.com', CAST({{logical_date}} AS TIMESTAMP)`;

/** Writes the project; `variant` names the silver file (modules are cached per path within one process). */
async function project(dir: string, freshnessAge: string, minRows: number, variant = 'orders'): Promise<void> {
  await fs.mkdir(path.join(dir, 'datasets', 'bronze'), { recursive: true });
  await fs.mkdir(path.join(dir, 'datasets', 'silver'), { recursive: true });
  await fs.writeFile(path.join(dir, 'ingot.config.ts'), "import { defineConfig } from 'ingot';\nexport default defineConfig({ lake: './lake' });\n");
  await fs.writeFile(path.join(dir, 'datasets', 'bronze', 'customers.sql'), "-- materialization: overwrite\nSELECT 'c' || i AS customer_id FROM range(3) t(i)\n");
  await fs.writeFile(path.join(dir, 'datasets', 'bronze', 'orders.sql'), `-- materialization: append\n${ORDERS}\n`);
  await fs.rm(path.join(dir, 'datasets', 'silver'), { recursive: true, force: true });
  await fs.mkdir(path.join(dir, 'datasets', 'silver'), { recursive: true });
  await fs.writeFile(path.join(dir, 'datasets', 'silver', `${variant}.ts`), `
import { acceptedValues, dataset, freshness, notNull, range, regex, relationships, rowCount, unique } from 'ingot';
export default dataset({
  name: 'silver.orders',
  sql: 'SELECT * FROM bronze.orders WHERE CAST(placed_at AS DATE) >= {{start}} AND CAST(placed_at AS DATE) < {{end}}',
  materialization: 'append',
  expectations: [
    notNull('customer_id', { action: 'quarantine' }),
    unique('order_id', { action: 'warn' }),
    acceptedValues('status', ['NEW', 'INTRANSIT', 'DELIVERED'], { action: 'drop' }),
    range('amount', { min: 0 }, { action: 'quarantine' }),
    regex('email', '[^@]+@[^@]+\\\\.[a-z]+', { action: 'warn' }),
    relationships('customer_id', { to: 'bronze.customers', field: 'customer_id' }, { action: 'warn' }),
    rowCount({ min: ${minRows} }),
    freshness('placed_at', '${freshnessAge}', { action: 'warn' }),
  ],
});
`);
}

async function json(args: string[]): Promise<Record<string, unknown>[]> {
  const r = await cli([...args, '--format', 'json']);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as Record<string, unknown>[];
}

describe('expectation library', () => {
  it('counts failures per check, applies actions, and reports them in ingot checks and ingot runs', async (t) => {
    const { dir, cleanup } = await tempDir('checks');
    t.after(cleanup);
    await project(dir, '2 hours', 5);
    const run = await cli(['run', '-p', dir, '--date', '2024-03-01']);
    assert.equal(run.code, 0, run.err);

    // independently: 21 rows; customer NULL: 1 (i=3); duplicate order_id: 2 rows (19 twice);
    // status LOST: 2 (i=5,6); amount < 0: 1 (i=7); bad email: 1 (i=8); customer c3 (not a customer):
    // i % 4 = 3 → 7, 11, 15, 19 and the extra 19 (i=3 is NULL, which passes) → 5; newest placed_at
    // is 19:00 of the day, more than 2 hours before the interval's end → stale
    const summary = await json(['checks', 'silver.orders', '-p', dir]);
    const failed = Object.fromEntries(summary.map((r) => [String(r['expectation']), Number(r['failed_rows'])]));
    assert.deepEqual(failed, {
      customer_id_not_null: 1, order_id_unique: 2, status_accepted_values: 2, amount_in_range: 1, email_matches: 1,
      customer_id_references_bronze_customers: 5, row_count: 0, placed_at_fresh: 1,
    });
    // kept = 21 - quarantined (i=3, i=7) - dropped (i=5, i=6) = 17
    const [kept] = await json(['sql', '-p', dir, 'SELECT count(*) AS n FROM silver.orders']);
    assert.equal(Number(kept!['n']), 17);
    const quarantine = await json(['sql', '-p', dir, 'SELECT order_id, _failed_expectations FROM silver.orders_quarantine ORDER BY order_id']);
    assert.deepEqual(quarantine.map((r) => [Number(r['order_id']), r['_failed_expectations']]), [[3, 'customer_id_not_null'], [7, 'amount_in_range,customer_id_references_bronze_customers']]);
    const runs = await json(['runs', '-p', dir]);
    assert.equal(Number(runs[0]!['failed_checks']), 1 + 2 + 2 + 1 + 1 + 5 + 0 + 1);

    // a batch check with action fail stops the run and commits nothing
    await project(dir, '2 hours', 1000, 'orders_strict');
    const bad = await cli(['run', '-p', dir, '--date', '2024-03-02']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /expectation row_count \(count\(\*\) >= 1000\) failed over the run's 21 rows/);
    const [still] = await json(['sql', '-p', dir, 'SELECT count(*) AS n FROM silver.orders']);
    assert.equal(Number(still!['n']), 17, 'the failed run committed nothing');
    const perRun = await json(['checks', 'silver.orders', '-p', dir, '--runs']);
    assert.ok(perRun.some((r) => r['expectation'] === 'row_count' && Number(r['failed']) === 1 && r['logical_date'] === '2024-03-02'));
  });

  it('refuses a batch check that would drop rows', async (t) => {
    const { dir, cleanup } = await tempDir('checks-bad');
    t.after(cleanup);
    await project(dir, '2 hours', 5);
    const file = path.join(dir, 'datasets', 'silver', 'orders.ts');
    await fs.writeFile(file, (await fs.readFile(file, 'utf8')).replace('rowCount({ min: 5 })', "rowCount({ min: 5 }, { action: 'drop' })"));
    const r = await cli(['run', '-p', dir, '--date', '2024-03-01']);
    assert.equal(r.code, 1);
    assert.match(r.err, /batch expectation .* can only warn or fail/);
  });
});
