/**
 * The retail-delivery example's simulator (examples/retail-delivery/simulator.ts) on a real
 * PostgreSQL: statuses follow NEW → INTRANSIT → DELIVERED in time, ids increase with time, a
 * second call writes only new rows (new orders, later statuses of earlier orders, customer
 * changes), and the same days give the same rows however they are split into calls.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createDatabase, readerUrl, simulate } from '../examples/retail-delivery/simulator.js';
import { startPostgres, type PostgresServer } from './postgres-server.js';

let server: PostgresServer;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** md5 of every row of every app table, in id order. */
async function contents(url: string): Promise<Record<string, string>> {
  const [row] = await query<Record<string, string>>(url, `SELECT
    (SELECT md5(string_agg(c::text, ';' ORDER BY customer_id)) FROM customers c) AS customers,
    (SELECT md5(string_agg(o::text, ';' ORDER BY order_id)) FROM orders o) AS orders,
    (SELECT md5(string_agg(h::text, ';' ORDER BY history_id)) FROM ordershistory h) AS history`);
  return row!;
}

test('the retail simulator: a first batch, then more activity; the same rows however the days are split', async () => {
  const url = await createDatabase(server.url, 'retail');
  const first = await simulate(url, { days: 3, ordersPerDay: 200 });
  assert.equal(first.batch, 1);
  assert.ok(first.orders > 400 && first.orders < 1000, `orders: ${first.orders}`);

  // statuses: one of each at most, in order in time, none without the one before
  const [life] = await query<{ bad: string; open: string; delivered: string; branches: string }>(url, `
    WITH s AS (SELECT o.order_id, o.order_ts,
      min(h.status_ts) FILTER (WHERE status = 'NEW') AS n, min(h.status_ts) FILTER (WHERE status = 'INTRANSIT') AS t,
      min(h.status_ts) FILTER (WHERE status = 'DELIVERED') AS d, count(*) AS rows, count(DISTINCT status) AS statuses
      FROM orders o LEFT JOIN ordershistory h USING (order_id) GROUP BY o.order_id, o.order_ts)
    SELECT count(*) FILTER (WHERE n IS NULL OR n < order_ts OR n > order_ts + interval '1 second' OR rows <> statuses
      OR (t IS NOT NULL AND t <= n) OR (d IS NOT NULL AND (t IS NULL OR d <= t)))::text AS bad,
      count(*) FILTER (WHERE d IS NULL)::text AS open, count(*) FILTER (WHERE d IS NOT NULL)::text AS delivered,
      (SELECT count(DISTINCT branch_id) FROM orders)::text AS branches FROM s`);
  assert.equal(life!.bad, '0');
  assert.ok(Number(life!.open) > 0 && Number(life!.delivered) > 0, JSON.stringify(life));
  assert.equal(life!.branches, '6');
  // ids increase with time, in every table
  const [order] = await query<{ o: string; h: string; c: string }>(url, `SELECT
    (SELECT count(*) FROM (SELECT order_ts <= lag(order_ts) OVER (ORDER BY order_id) AS back FROM orders) x WHERE back)::text AS o,
    (SELECT count(*) FROM (SELECT status_ts <= lag(status_ts) OVER (ORDER BY history_id) AS back FROM ordershistory) x WHERE back)::text AS h,
    (SELECT count(*) - count(DISTINCT updated_at) FROM customers)::text AS c`);
  assert.deepEqual(order, { o: '0', h: '0', c: '0' });

  const [before] = await query<{ o: string; h: string; c: string; u: string }>(url,
    'SELECT (SELECT max(order_id) FROM orders)::text o, (SELECT max(history_id) FROM ordershistory)::text h, (SELECT max(customer_id) FROM customers)::text c, (SELECT max(updated_at) FROM customers)::text u');
  const more = await simulate(url, { days: 1, ordersPerDay: 200 });
  assert.equal(more.batch, 2);
  assert.ok(more.orders > 0 && more.signups > 0 && more.customerChanges > 0, JSON.stringify(more));
  const [after] = await query<{ old_statuses: string; new_orders: string; changed: string; stale: string }>(url, `SELECT
    (SELECT count(*) FROM ordershistory WHERE history_id > ${before!.h} AND order_id <= ${before!.o})::text AS old_statuses,
    (SELECT count(*) FROM orders WHERE order_id > ${before!.o})::text AS new_orders,
    (SELECT count(*) FROM customers WHERE updated_at > '${before!.u}' AND customer_id <= ${before!.c})::text AS changed,
    (SELECT count(*) FROM ordershistory WHERE history_id > ${before!.h} AND status_ts <= (SELECT max(status_ts) FROM ordershistory WHERE history_id <= ${before!.h}))::text AS stale`);
  assert.ok(Number(after!.old_statuses) > 0, 'earlier orders progress');
  assert.equal(after!.new_orders, String(more.orders));
  assert.ok(Number(after!.changed) > 0, 'existing customers change');
  assert.equal(after!.stale, '0', 'new history rows are later than every earlier one');

  // the pipelines' role: SELECT on the app tables and nothing more
  const reader = readerUrl(url);
  assert.equal(new URL(reader).username, 'ingot_reader');
  const privileges = await query<{ t: string; sel: boolean; ins: boolean; upd: boolean; del: boolean; trunc: boolean }>(reader, `SELECT t,
    has_table_privilege(t, 'SELECT') AS sel, has_table_privilege(t, 'INSERT') AS ins, has_table_privilege(t, 'UPDATE') AS upd,
    has_table_privilege(t, 'DELETE') AS del, has_table_privilege(t, 'TRUNCATE') AS trunc
    FROM unnest(ARRAY['branches', 'customers', 'orders', 'ordershistory']) AS t ORDER BY t`);
  assert.deepEqual(privileges.map((p) => [p.t, p.sel, p.ins, p.upd, p.del, p.trunc]),
    ['branches', 'customers', 'orders', 'ordershistory'].map((t) => [t, true, false, false, false, false]));

  // the same 4 days in three calls: the same rows
  const split = await createDatabase(server.url, 'retail_split');
  for (const days of [1, 2, 1]) await simulate(split, { days, ordersPerDay: 200 });
  assert.deepEqual(await contents(split), await contents(url));
  const other = await createDatabase(server.url, 'retail_other_seed');
  await simulate(other, { days: 4, ordersPerDay: 200, seed: 7 });
  assert.notDeepEqual((await contents(other))['orders'], (await contents(url))['orders']);
});
