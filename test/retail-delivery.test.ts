/**
 * The retail reference system (examples/retail-delivery) end to end on a real PostgreSQL: the
 * simulator writes a week, ingot runs, the simulator writes a day more, ingot runs again and loads
 * only the new rows. Gold and the star schema are checked against the same numbers computed by
 * PostgreSQL itself from the application tables (another engine, other SQL). The pipelines read
 * as the read-only role `ingot_reader`; the hourly schedule runs on a fast clock, one run per hour.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { Lake } from '../src/table/lake.js';
import { createDatabase, readerUrl, simulate } from '../examples/retail-delivery/simulator.js';
import { loadProject } from '../src/project.js';
import { openMetadata } from '../src/metadata/open.js';
import { Scheduler } from '../src/schedule/scheduler.js';
import retailConfig from '../examples/retail-delivery/ingot.config.js';
import { cli, ROOT, tempDir } from './fixtures.js';
import { startPostgres, type PostgresServer } from './postgres-server.js';
import { attachTables } from '../src/operations/query.js';

const EXAMPLE = path.join(ROOT, 'examples', 'retail-delivery');
type Row = Record<string, unknown>;

describe('examples/retail-delivery on a real PostgreSQL', () => {
  let server: PostgresServer;
  let url: string;
  let client: pg.Client;
  let dir: string;
  let cleanup: () => Promise<void>;
  let engine: DuckDBEngine;
  let saved: string | undefined;
  /** The customers table as it was at the first load. */
  let customersAtFirstLoad: Map<number, Row>;

  const lakeQuery = async (sql: string): Promise<Row[]> => {
    const lake = new Lake(path.join(dir, 'lake'), engine);
    const names = [...new Set(sql.match(/\b(bronze|silver|gold)\.[a-z_]+/g) ?? [])];
    await attachTables(lake, engine, names);
    return engine.query(sql);
  };
  const pgQuery = async (sql: string): Promise<Row[]> => (await client.query(sql)).rows as Row[];
  const run = async (date: string): Promise<void> => {
    const r = await cli(['run', '-p', dir, '--date', date]);
    assert.equal(r.code, 0, r.out + r.err);
  };

  before(async () => {
    server = await startPostgres();
    url = await createDatabase(server.url, 'retail');
    client = new pg.Client(url);
    await client.connect();
    ({ dir, cleanup } = await tempDir('retail'));
    for (const f of ['ingot.config.ts', 'datasets']) await fs.cp(path.join(EXAMPLE, f), path.join(dir, f), { recursive: true });
    saved = process.env['RETAIL_DATABASE_URL'];
    // the pipelines connect as the read-only role the simulator creates (on its first call)
    process.env['RETAIL_DATABASE_URL'] = readerUrl(url);
    engine = await DuckDBEngine.open();
  });

  after(async () => {
    await engine?.close();
    await client?.end();
    await server?.stop();
    if (saved === undefined) delete process.env['RETAIL_DATABASE_URL'];
    else process.env['RETAIL_DATABASE_URL'] = saved;
    await cleanup?.();
  });

  /** Checks gold.delivery_hourly's partition of `hour` (`YYYY-MM-DDTHH:00`, UTC) against PostgreSQL's count of that hour. */
  async function checkHour(hour: string): Promise<void> {
    const start = `${hour}:00Z`;
    const want = await pgQuery(`
      WITH t AS (
        SELECT o.order_id, o.branch_id,
               max(h.status_ts) FILTER (WHERE h.status = 'NEW') AS ordered_at,
               max(h.status_ts) FILTER (WHERE h.status = 'DELIVERED') AS delivered_at
        FROM orders o JOIN ordershistory h USING (order_id) GROUP BY o.order_id, o.branch_id)
      SELECT b.code AS branch,
             count(*) FILTER (WHERE ordered_at >= '${start}' AND ordered_at < timestamptz '${start}' + interval '1 hour')::int AS placed,
             count(*) FILTER (WHERE delivered_at >= '${start}' AND delivered_at < timestamptz '${start}' + interval '1 hour')::int AS delivered
      FROM branches b LEFT JOIN t USING (branch_id) GROUP BY b.code ORDER BY b.code`);
    const got = await lakeQuery(`SELECT branch, placed, delivered FROM gold.delivery_hourly WHERE hour = TIMESTAMP '${hour.replace('T', ' ')}:00' ORDER BY branch`);
    assert.deepEqual(got.map((g) => [g['branch'], Number(g['placed']), Number(g['delivered'])]), want.map((w) => [w['branch'], w['placed'], w['delivered']]), `gold.delivery_hourly ${hour}`);
    assert.ok(want.some((w) => Number(w['placed']) > 0), `orders were placed in ${hour}`);
  }

  /** Checks every gold table against PostgreSQL's own computation over the application tables. */
  async function checkGold(): Promise<void> {
    // bronze holds every row of the application tables, once
    for (const [table, id] of [['orders', 'order_id'], ['ordershistory', 'history_id']] as const) {
      const [want] = await pgQuery(`SELECT count(*)::int AS n, sum(${id})::text AS s FROM ${table}`);
      const [got] = await lakeQuery(`SELECT count(*) AS n, count(DISTINCT ${id}) AS d, CAST(sum(${id}) AS VARCHAR) AS s FROM bronze.${table}`);
      assert.deepEqual([Number(got!['n']), Number(got!['d']), got!['s']], [want!['n'], want!['n'], want!['s']], `bronze.${table}`);
    }
    const [events] = await pgQuery(`SELECT count(*)::int AS n FROM ordershistory WHERE status <> 'INTRANSIT'`);
    assert.equal(Number((await lakeQuery('SELECT count(*) AS n FROM silver.order_events'))[0]!['n']), events!['n']);

    const perBranch = await pgQuery(`
      WITH t AS (
        SELECT o.order_id, o.branch_id,
               max(h.status_ts) FILTER (WHERE h.status = 'NEW') AS ordered_at,
               max(h.status_ts) FILTER (WHERE h.status = 'DELIVERED') AS delivered_at
        FROM orders o JOIN ordershistory h USING (order_id) GROUP BY o.order_id, o.branch_id)
      SELECT b.code AS branch, count(*)::int AS orders, count(delivered_at)::int AS delivered,
             avg(extract(epoch FROM delivered_at - ordered_at) / 3600)::float8 AS hours
      FROM t JOIN branches b USING (branch_id) GROUP BY b.code ORDER BY b.code`);
    const gold = await lakeQuery('SELECT branch, orders, delivered, avg_delivery_hours FROM gold.branch_delivery ORDER BY branch');
    assert.equal(gold.length, 6);
    assert.deepEqual(gold.map((g) => [g['branch'], Number(g['orders']), Number(g['delivered'])]), perBranch.map((p) => [p['branch'], p['orders'], p['delivered']]));
    gold.forEach((g, i) => assert.ok(Math.abs(Number(g['avg_delivery_hours']) - Number(perBranch[i]!['hours'])) <= 0.005 + 1e-9, `${String(g['branch'])}: ${String(g['avg_delivery_hours'])} vs ${String(perBranch[i]!['hours'])}`));
    // the same table as the CSV report
    const csv = (await fs.readFile(path.join(dir, 'reports', 'gold', 'branch_delivery.csv'), 'utf8')).trimEnd().split('\n');
    assert.equal(csv[0], 'branch,branch_name,orders,delivered,avg_delivery_hours');
    const table = await lakeQuery('SELECT branch, branch_name, orders, delivered, avg_delivery_hours FROM gold.branch_delivery');
    assert.deepEqual(csv.slice(1).map((l) => l.split(',')).map(([b, n, o, d, h]) => [b, n, Number(o), Number(d), Number(h)]).sort(),
      table.map((r) => [r['branch'], r['branch_name'], Number(r['orders']), Number(r['delivered']), Number(r['avg_delivery_hours'])]).sort());

    // the example's dashboard: orders and average delivery hours per branch, orders per day and branch
    const [ordersPanel, hoursPanel, dailyPanel] = retailConfig.dashboards![0]!.panels;
    const names = new Map((await pgQuery('SELECT code, name FROM branches')).map((b) => [b['name'], b['code']]));
    const byCode = new Map(perBranch.map((p) => [p['branch'], p]));
    const ordersRows = await lakeQuery(ordersPanel!.sql);
    assert.deepEqual(ordersRows.map((r) => [names.get(r['branch']), Number(r['orders'])]),
      [...perBranch].sort((a, b) => Number(b['orders']) - Number(a['orders']) || String(a['branch']).localeCompare(String(b['branch']))).map((p) => [p['branch'], p['orders']]));
    const hoursRows = await lakeQuery(hoursPanel!.sql);
    assert.equal(hoursRows.length, 6);
    for (const r of hoursRows) assert.ok(Math.abs(Number(r['avg_delivery_hours']) - Number(byCode.get(names.get(r['branch']))!['hours'])) <= 0.005 + 1e-9, String(r['branch']));
    const daily = await pgQuery(`SELECT (o.order_ts AT TIME ZONE 'UTC')::date::text AS day, b.name AS branch, count(*)::int AS orders
      FROM orders o JOIN branches b USING (branch_id) GROUP BY 1, 2 ORDER BY 1, 2`);
    assert.deepEqual((await lakeQuery(dailyPanel!.sql)).map((r) => [String(r['day']), r['branch'], Number(r['orders'])]), daily.map((d) => [d['day'], d['branch'], d['orders']]));

    // star schema: one fact per order, amounts exact, every order keyed to a customer version, dates dense
    const [orders] = await pgQuery(`SELECT count(*)::int AS n, sum(amount)::text AS amount, count(DISTINCT (order_ts AT TIME ZONE 'UTC')::date)::int AS days,
      min((order_ts AT TIME ZONE 'UTC')::date)::text AS first, max((order_ts AT TIME ZONE 'UTC')::date)::text AS last FROM orders`);
    const [facts] = await lakeQuery('SELECT count(*) AS n, CAST(sum(amount) AS VARCHAR) AS amount, count(customer_sk) AS keyed, count(DISTINCT date_key) AS days FROM gold.fact_orders');
    assert.deepEqual([Number(facts!['n']), facts!['amount'], Number(facts!['keyed']), Number(facts!['days'])], [orders!['n'], orders!['amount'], orders!['n'], orders!['days']]);
    const [dates] = await lakeQuery(`SELECT count(*) AS n, CAST(min(date) AS VARCHAR) AS first, CAST(max(date) AS VARCHAR) AS last,
      count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM gold.fact_orders f WHERE f.date_key = d.date_key)) AS unused FROM gold.dim_date d`);
    assert.equal(dates!['first'], orders!['first']);
    assert.equal(dates!['last'], orders!['last']);
    assert.equal(Number(dates!['n']) - Number(dates!['unused']), orders!['days']);
    // each fact's customer version is the one valid when the order was placed
    const [wrong] = await lakeQuery(`SELECT count(*) AS n FROM gold.fact_orders f JOIN gold.dim_customer c USING (customer_sk) JOIN bronze.orders o USING (order_id)
      WHERE c.customer_id <> o.customer_id OR o.order_ts < c.valid_from OR (c.valid_to IS NOT NULL AND o.order_ts >= c.valid_to)`);
    assert.equal(Number(wrong!['n']), 0);

    // dim_customer: the current version of each customer equals the customers table now
    const current = await lakeQuery('SELECT customer_id, name, email, city, address, segment FROM gold.dim_customer WHERE is_current ORDER BY customer_id');
    const now = await pgQuery('SELECT customer_id, name, email, city, address, segment FROM customers ORDER BY customer_id');
    assert.deepEqual(current.map((c) => ({ ...c, customer_id: Number(c['customer_id']) })), now);
    const [sk] = await lakeQuery('SELECT count(*) AS n, count(DISTINCT customer_sk) AS d, count(*) FILTER (WHERE valid_to IS NULL) AS open FROM gold.dim_customer');
    assert.equal(Number(sk!['d']), Number(sk!['n']), 'surrogate keys are unique');
    assert.equal(Number(sk!['open']), now.length, 'exactly one open version per customer');
  }

  it('first load: a week of the shop, bronze to the star schema', async () => {
    await simulate(url, { days: 7 });
    await run('2024-03-10T23:00');
    await checkGold();
    await checkHour('2024-03-10T23:00');
    customersAtFirstLoad = new Map((await pgQuery('SELECT customer_id, name, email, city, address, segment, updated_at FROM customers')).map((r) => [r['customer_id'] as number, r]));
    const [versions] = await lakeQuery('SELECT count(*) AS n FROM gold.dim_customer');
    assert.equal(Number(versions!['n']), customersAtFirstLoad.size);
  });

  it('the pipelines read as ingot_reader, which cannot write the shop\'s tables', async () => {
    assert.match(process.env['RETAIL_DATABASE_URL']!, /^postgres:\/\/ingot_reader@/);
    const reader = new pg.Client(process.env['RETAIL_DATABASE_URL']);
    await reader.connect();
    try {
      assert.deepEqual((await reader.query('SELECT current_user AS u, count(*)::int AS n FROM branches')).rows, [{ u: 'ingot_reader', n: 6 }]);
      for (const sql of ['INSERT INTO branches VALUES (99, \'X\', \'x\', \'x\')', 'DELETE FROM orders', 'UPDATE customers SET name = \'x\'']) {
        await assert.rejects(reader.query(sql), (err: Error & { code?: string }) => err.code === '42501', sql);
      }
    } finally {
      await reader.end();
    }
  });

  it('second load after more activity: only the new rows are read; changed customers get a new version', async () => {
    const [before] = await pgQuery('SELECT (SELECT max(order_id) FROM orders)::int AS o, (SELECT max(history_id) FROM ordershistory)::int AS h, (SELECT max(updated_at) FROM customers) AS c');
    const summary = await simulate(url, { days: 1 });
    assert.ok(summary.orders > 0 && summary.customerChanges > 0, JSON.stringify(summary));
    await run('2024-03-11T23:00');
    await checkHour('2024-03-11T23:00');

    // the second run's rows are exactly the application's new rows
    const [fresh] = await pgQuery(`SELECT (SELECT count(*) FROM orders WHERE order_id > ${Number(before!['o'])})::int AS o,
      (SELECT count(*) FROM ordershistory WHERE history_id > ${Number(before!['h'])})::int AS h,
      (SELECT count(*) FROM customers WHERE updated_at > '${(before!['c'] as Date).toISOString()}')::int AS c`);
    const perRun = async (table: string): Promise<number[]> =>
      (await lakeQuery(`SELECT count(*) AS n FROM ${table} GROUP BY _run_id ORDER BY min(_ingested_at)`)).map((r) => Number(r['n']));
    assert.equal((await perRun('bronze.orders'))[1], fresh!['o']);
    assert.equal((await perRun('bronze.ordershistory'))[1], fresh!['h']);
    assert.equal((await perRun('bronze.customers'))[1], fresh!['c']);
    await checkGold();

    // SCD2: a customer whose attributes changed since the first load has two versions, the old
    // one closed when the change happened; the others have one
    const now = await pgQuery('SELECT customer_id, name, email, city, address, segment, updated_at FROM customers');
    const attrs = (r: Row): string => JSON.stringify([r['name'], r['email'], r['city'], r['address'], r['segment']]);
    const changed = now.filter((r) => customersAtFirstLoad.has(r['customer_id'] as number) && attrs(customersAtFirstLoad.get(r['customer_id'] as number)!) !== attrs(r));
    assert.ok(changed.length > 0);
    const versions = await lakeQuery('SELECT customer_id, name, email, city, address, segment, epoch_ms(valid_to) AS valid_to_ms, is_current FROM gold.dim_customer ORDER BY customer_id, valid_from');
    const byCustomer = new Map<number, Row[]>();
    for (const v of versions) byCustomer.set(Number(v['customer_id']), [...(byCustomer.get(Number(v['customer_id'])) ?? []), v]);
    assert.equal(byCustomer.size, now.length);
    for (const c of changed) {
      const vs = byCustomer.get(c['customer_id'] as number)!;
      assert.equal(vs.length, 2, `customer ${String(c['customer_id'])}`);
      assert.equal(attrs(vs[0]!), attrs(customersAtFirstLoad.get(c['customer_id'] as number)!));
      assert.equal(Number(vs[0]!['valid_to_ms']), (c['updated_at'] as Date).getTime());
      assert.equal(attrs(vs[1]!), attrs(c));
    }
    assert.equal(versions.length, now.length + changed.length);
  });

  it('the hourly schedule on a fast clock: at 5 past each hour, the hour before, one run each', async (t) => {
    await simulate(url, { days: 1 }); // the shop's activity up to 2024-03-13 00:00
    const project = await loadProject(dir);
    const store = await openMetadata(project);
    let clock = Date.parse('2024-03-12T03:04:00Z');
    const s = new Scheduler(project, store, { now: () => new Date(clock), tickMs: 50, leaseMs: 5000, log: () => {} });
    t.after(async () => {
      await s.stop(0);
      await store.close();
    });
    s.start();
    await s.idle();
    // 03:04: the 03:05 tick has not come; catchup is off, so only the latest complete hour runs
    assert.deepEqual(s.results.map((r) => [r.pipeline, r.logicalDate, r.status]), [['retail', '2024-03-12T01:00', 'success']]);
    for (const next of ['2024-03-12T03:05:30Z', '2024-03-12T04:05:30Z', '2024-03-12T04:59:00Z']) {
      clock = Date.parse(next);
      await s.idle();
    }
    assert.deepEqual(s.results.map((r) => [r.logicalDate, r.status]), [['2024-03-12T01:00', 'success'], ['2024-03-12T02:00', 'success'], ['2024-03-12T03:00', 'success']], 'one run per hour, none before its tick');
    for (const hour of ['2024-03-12T01:00', '2024-03-12T02:00', '2024-03-12T03:00']) await checkHour(hour);
    const [hours] = await lakeQuery('SELECT count(DISTINCT hour) AS n FROM gold.delivery_hourly');
    assert.equal(Number(hours!['n']), 5, 'the two loads\' hours and the three scheduled ones');
    await checkGold();
  });
});
