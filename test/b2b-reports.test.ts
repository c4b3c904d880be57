/**
 * The B2B reference system (examples/b2b-reports) end to end: the generator's landing files, the
 * two ingestion pipelines backfilled over 12 months, the three report pipelines, each report
 * checked — its CSV file per logical date and its PostgreSQL datamart table — against values
 * computed here from the generator's records with geoip-lite and ua-parser-js directly; the
 * country and device of a fixed table of well-known addresses and user agents, whose answers do
 * not come from those libraries, checked in silver.weblogs; then
 * the scheduler in a child process on a fixed clock: two missed months caught up, the reports
 * waiting for their ingestion pipelines, late web logs retried, and a kill -9 recovered.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import geoip from 'geoip-lite';
import pg from 'pg';
import UAParser from 'ua-parser-js';
import { generate, LAST_MONTH, months, write, type B2BData } from '../examples/b2b-reports/generate.js';
import { loadProject } from '../src/project.js';
import { openMetadata } from '../src/metadata/open.js';
import { cli, ROOT, tempDir } from './fixtures.js';
import { schedulerAt, until, type LogEvent } from './scheduler-process.js';
import { startPostgres, type PostgresServer } from './postgres-server.js';

const EXAMPLE = path.join(ROOT, 'examples', 'b2b-reports');
const REPORT_MONTHS = ['2024-04-01', '2024-05-01', LAST_MONTH];

type Row = Record<string, string | number>;

/** The 12 months up to `month` (inclusive). */
function window(month: string): Set<string> {
  return new Set(months().filter((m) => {
    const d = new Date(`${month}T00:00:00Z`);
    d.setUTCMonth(d.getUTCMonth() - 11);
    return m >= d.toISOString().slice(0, 10) && m <= month;
  }));
}

function monthlySales(data: B2BData, month: string): Row[] {
  const w = window(month);
  const status = new Map(data.orders.map((o) => [o.order_id, o.status]));
  const by = new Map<string, { orders: Set<number>; units: number; cents: number }>();
  for (const s of data.sales) {
    if (!w.has(s.month) || status.get(s.order_id) === 'cancelled') continue;
    const g = by.get(s.month) ?? { orders: new Set(), units: 0, cents: 0 };
    g.orders.add(s.order_id);
    g.units += s.quantity;
    g.cents += Math.round(s.amount * 100);
    by.set(s.month, g);
  }
  return [...by].sort(([a], [b]) => a.localeCompare(b)).map(([m, g]) => ({ report_month: month, month: m, orders: g.orders.size, units: g.units, revenue: (g.cents / 100).toFixed(2) }));
}

function popularDevices(data: B2BData, month: string): Row[] {
  const w = window(month);
  const b2b = new Set(data.customers.filter((c) => c.company_id !== null).map((c) => c.customer_id));
  const by = new Map<string, { requests: number; clients: Set<string> }>();
  for (const l of data.logs) {
    if (!l.parsed || !w.has(l.month) || !l.user || !b2b.has(l.user)) continue;
    const device = UAParser(l.ua).device.type ?? 'desktop';
    const g = by.get(device) ?? { requests: 0, clients: new Set() };
    g.requests++;
    g.clients.add(l.user);
    by.set(device, g);
  }
  return [...by].sort(([a, x], [b, y]) => y.requests - x.requests || a.localeCompare(b)).slice(0, 5)
    .map(([device, g], i) => ({ report_month: month, rank: i + 1, device, requests: g.requests, clients: g.clients.size }));
}

function popularProducts(data: B2BData, month: string): Row[] {
  const w = window(month);
  const users = new Map<string, Set<string>>();
  for (const l of data.logs) {
    if (!l.parsed || !w.has(l.month) || !l.user || l.method !== 'POST' || l.path !== '/login' || l.status !== 200) continue;
    const country = geoip.lookup(l.host)?.country;
    if (!country) continue;
    users.set(country, (users.get(country) ?? new Set()).add(l.user));
  }
  const [country, logins] = [...users].sort(([a, x], [b, y]) => y.size - x.size || a.localeCompare(b))[0]!;
  const local = new Set(data.customers.filter((c) => c.country === country).map((c) => c.customer_id));
  const orders = new Map(data.orders.map((o) => [o.order_id, o]));
  const by = new Map<number, { units: number; orders: Set<number> }>();
  for (const s of data.sales) {
    const o = orders.get(s.order_id)!;
    if (!w.has(s.month) || o.status === 'cancelled' || !local.has(o.customer_id)) continue;
    const g = by.get(s.product_id) ?? { units: 0, orders: new Set() };
    g.units += s.quantity;
    g.orders.add(s.order_id);
    by.set(s.product_id, g);
  }
  const names = new Map(data.products.map((p) => [p.product_id, p.name]));
  return [...by].sort(([a, x], [b, y]) => y.units - x.units || a - b).slice(0, 10)
    .map(([id, g], i) => ({ report_month: month, rank: i + 1, country, login_users: logins.size, product_id: id, product: names.get(id)!, units: g.units, orders: g.orders.size }));
}

const REPORTS: Record<string, (data: B2BData, month: string) => Row[]> = {
  monthly_sales: monthlySales, popular_devices: popularDevices, popular_products: popularProducts,
};

/** Rows of a report CSV (no field of these reports is quoted), values as text. */
function parseCsv(text: string): Record<string, string>[] {
  const [header, ...lines] = text.trimEnd().split('\n');
  const cols = header!.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i]!, v])));
}

/** `rows` with every value as text, for comparing with CSV and PostgreSQL text. */
/**
 * Addresses whose country is known without any geolocation library: blocks registered to
 * well-known organisations by their regional registry (ARIN, RIPE NCC, APNIC, LACNIC), and
 * addresses no public registry assigns (RFC 1918 private, loopback, RFC 5737 documentation).
 */
const KNOWN_ADDRESSES: [ip: string, country: string | null, whose: string][] = [
  ['8.8.8.8', 'US', 'Google Public DNS (ARIN, Google LLC)'],
  ['2001:4860:4860::8888', 'US', 'Google Public DNS over IPv6 (ARIN, Google LLC)'],
  ['193.0.6.139', 'NL', 'www.ripe.net, RIPE NCC in Amsterdam'],
  ['133.11.0.1', 'JP', 'The University of Tokyo (133.11.0.0/16)'],
  ['131.111.8.46', 'GB', 'University of Cambridge (131.111.0.0/16)'],
  ['129.132.19.216', 'CH', 'ETH Zürich (129.132.0.0/16)'],
  ['200.160.2.3', 'BR', 'NIC.br, São Paulo (LACNIC)'],
  ['130.237.0.1', 'SE', 'KTH Royal Institute of Technology (130.237.0.0/16)'],
  ['132.206.0.1', 'CA', 'McGill University, Montréal (132.206.0.0/16)'],
  ['192.168.1.1', null, 'RFC 1918 private'],
  ['127.0.0.1', null, 'loopback'],
  ['203.0.113.5', null, 'RFC 5737 documentation (TEST-NET-3)'],
];

/**
 * User agents of well-known clients with the device class they are: the device each string
 * names (iPhone, iPad, Pixel phone, Galaxy Tab S8 = SM-X700, PlayStation 5, Samsung Tizen TV), a
 * desktop operating system with no device, a crawler or a command-line client (`bot`), no agent
 * (`-`: NULL) and an empty one (`unknown`), by the rule ingot documents for `ua_device`.
 */
const KNOWN_AGENTS: [ua: string, device: string | null][] = [
  ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1', 'mobile'],
  ['Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1', 'tablet'],
  ['Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36', 'mobile'],
  ['Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36', 'tablet'],
  ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36', 'desktop'],
  ['Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:120.0) Gecko/20100101 Firefox/120.0', 'desktop'],
  ['Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0', 'desktop'],
  ['Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko)', 'console'],
  ['Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/2.2 Chrome/63.0.3239.84 TV Safari/537.36', 'smarttv'],
  ['Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', 'bot'],
  ['curl/8.4.0', 'bot'],
  ['-', null],
  ['', 'unknown'],
];

/** One log line per known address and per known agent (GET, no user: no report counts them), in LAST_MONTH. */
function knownLines(): string[] {
  const stamp = `15/${new Date(`${LAST_MONTH}T00:00:00Z`).toLocaleString('en', { month: 'short', timeZone: 'UTC' })}/${LAST_MONTH.slice(0, 4)}:12:00:00 +0000`;
  const lines = [
    ...KNOWN_ADDRESSES.map(([ip], i) => ({ path: `/known/ip/${i}`, ip, ua: KNOWN_AGENTS[4]![0] })),
    ...KNOWN_AGENTS.map(([ua], i) => ({ path: `/known/ua/${i}`, ip: '8.8.8.8', ua })),
  ];
  return lines.map((l) => `${l.ip} - - [${stamp}] "GET ${l.path} HTTP/1.1" 200 512 "-" "${l.ua}"`);
}

const asText = (rows: Row[]): Record<string, string>[] => rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, String(v)])));

describe('examples/b2b-reports', () => {
  const data = generate();
  let dir: string;
  let cleanup: () => Promise<void>;
  let server: PostgresServer;
  let client: pg.Client;
  const saved = process.env['DATAMART_URL'];

  before(async () => {
    ({ dir, cleanup } = await tempDir('b2b'));
    for (const f of ['ingot.config.ts', 'datasets']) await fs.cp(path.join(EXAMPLE, f), path.join(dir, f), { recursive: true });
    await write(dir, data);
    // the known clients, in a log file of their own beside the month's access log
    await fs.writeFile(path.join(dir, 'landing', 'weblogs', `month=${LAST_MONTH}`, 'known_clients.log'), knownLines().join('\n') + '\n');
    server = await startPostgres();
    process.env['DATAMART_URL'] = server.url;
    client = new pg.Client({ connectionString: server.url });
    await client.connect();
  });
  after(async () => {
    await client?.end();
    await server?.stop();
    await cleanup?.();
    if (saved === undefined) delete process.env['DATAMART_URL'];
    else process.env['DATAMART_URL'] = saved;
  });

  it('ingests 12 months, quarantines malformed log lines, and writes every report to CSV and the datamart', async () => {
    for (const p of ['b2b', 'weblog']) {
      const r = await cli(['backfill', p, '-p', dir, '--from', months()[0]!, '--to', LAST_MONTH]);
      assert.equal(r.code, 0, r.err + r.out);
    }
    const [q] = await cli(['sql', '-p', dir, '--format', 'json', 'SELECT count(*) AS n, count(DISTINCT _parse_error) AS kinds FROM bronze.weblogs_quarantine']).then((r) => JSON.parse(r.out) as Row[]);
    assert.deepEqual(q, { n: data.logs.filter((l) => !l.parsed).length, kinds: 3 });

    for (const name of Object.keys(REPORTS)) {
      const r = await cli(['backfill', name.replace('_', '-'), '-p', dir, '--from', REPORT_MONTHS[0]!, '--to', LAST_MONTH]);
      assert.equal(r.code, 0, r.err + r.out);
    }
    for (const [name, compute] of Object.entries(REPORTS)) {
      for (const month of REPORT_MONTHS) {
        const expected = asText(compute(data, month));
        assert.ok(expected.length >= 5, `${name} ${month} has rows`);
        const csv = parseCsv(await fs.readFile(path.join(dir, 'reports', name, `date=${month}`, 'report.csv'), 'utf8'));
        assert.deepEqual(csv, expected, `${name} ${month} CSV`);
        const cols = Object.keys(expected[0]!);
        const { rows } = await client.query(`SELECT ${cols.map((c) => `${c}::text AS ${c}`).join(', ')} FROM datamart.${name} WHERE report_month = $1 ORDER BY ${name === 'monthly_sales' ? 'month::date' : 'rank::int'}`, [month]);
        assert.deepEqual(rows, expected, `${name} ${month} datamart`);
      }
      const { rows: [count] } = await client.query(`SELECT count(DISTINCT report_month)::int AS months FROM datamart.${name}`);
      assert.deepEqual(count, { months: REPORT_MONTHS.length });
    }
  });

  it('silver.weblogs: the country and device of known addresses and user agents are the known ones', async () => {
    const r = await cli(['sql', '-p', dir, '--format', 'json', "SELECT path, ip, user_agent, country, device FROM silver.weblogs WHERE path LIKE '/known/%'"]);
    assert.equal(r.code, 0, r.err);
    const byPath = new Map((JSON.parse(r.out) as Row[]).map((x) => [x['path'] as string, x]));
    assert.equal(byPath.size, KNOWN_ADDRESSES.length + KNOWN_AGENTS.length);
    KNOWN_ADDRESSES.forEach(([ip, country, whose], i) => {
      const row = byPath.get(`/known/ip/${i}`)!;
      assert.equal(row['ip'], ip);
      assert.equal(row['country'], country, `${ip} (${whose})`);
    });
    KNOWN_AGENTS.forEach(([ua, device], i) => {
      const row = byPath.get(`/known/ua/${i}`)!;
      assert.equal(row['user_agent'], ua === '-' ? null : ua);
      assert.equal(row['device'], device, ua || '(empty)');
    });
  });

  it('reruns a report month without duplicating its datamart rows', async () => {
    const before = (await client.query('SELECT count(*)::int AS n FROM datamart.monthly_sales')).rows[0];
    const r = await cli(['backfill', 'monthly-sales', '-p', dir, '--from', LAST_MONTH, '--to', LAST_MONTH, '--rerun']);
    assert.equal(r.code, 0, r.err + r.out);
    assert.deepEqual((await client.query('SELECT count(*)::int AS n FROM datamart.monthly_sales')).rows[0], before);
    const { rows } = await client.query("SELECT month::text AS month FROM datamart.monthly_sales WHERE report_month = $1 ORDER BY month", [LAST_MONTH]);
    assert.deepEqual(rows.map((x: { month: string }) => x.month), [...window(LAST_MONTH)].sort());
  });

  it('serve: two missed months caught up oldest first, reports wait for their upstream pipelines, a failed attempt retried, kill -9 recovered', async (t) => {
    const fresh = await tempDir('b2b-serve');
    t.after(fresh.cleanup);
    for (const f of ['ingot.config.ts', 'datasets']) await fs.cp(path.join(EXAMPLE, f), path.join(fresh.dir, f), { recursive: true });
    // the example's settings, with retries 1 s apart and leases a crashed scheduler holds for 1 s
    const config = path.join(fresh.dir, 'ingot.config.ts');
    const text = await fs.readFile(config, 'utf8');
    assert.ok(text.includes("retryDelay: '30s'") && text.includes("lake: './lake',"));
    await fs.writeFile(config, text.replace("retryDelay: '30s'", "retryDelay: '1s'").replace("lake: './lake',", "lake: './lake', scheduler: { leaseSeconds: 1 },"));
    await write(fresh.dir, data);
    // August's web logs arrive late (in a folder that is not a month yet): the weblog pipeline's first attempt for August fails
    const august = path.join(fresh.dir, 'landing', 'weblogs', 'month=2023-08-01');
    await fs.rename(august, `${august}.late`);
    await client.query('DROP SCHEMA IF EXISTS datamart CASCADE');
    const project = await loadProject(fresh.dir);
    const store = await openMetadata(project);
    t.after(() => store.close());
    const done = async (p: string): Promise<string[]> => (await store.intervals(p)).filter((x) => x.status === 'success').map((x) => x.logicalDate).sort();
    await store.setPaused('weblog', true);

    // 2023-09-01 02:30 UTC: July and August are due for every pipeline (ingestion at 01:00, reports at 02:00)
    const first = schedulerAt(fresh.dir, '2023-09-01T02:30:00Z');
    t.after(() => { first.child.kill('SIGKILL'); });
    await until('monthly-sales for both months', async () => (await done('monthly-sales')).length === 2);
    const starts = (p: string, events: LogEvent[]): unknown[] => events.filter((e) => e.event === 'run-start' && e['pipeline'] === p).map((e) => e['logicalDate']);
    assert.deepEqual(starts('b2b', first.events), ['2023-07-01', '2023-08-01'], 'missed months caught up oldest first');
    assert.deepEqual(await done('monthly-sales'), ['2023-07-01', '2023-08-01'], 'monthly-sales needs only the b2b pipeline');
    assert.equal((await store.intervals('popular-devices')).length + (await store.intervals('popular-products')).length, 0, 'the log reports wait for the weblog pipeline');

    await store.setPaused('weblog', false);
    await until('the weblog retry', () => first.events.some((e) => e.event === 'task-retry' && e['logicalDate'] === '2023-08-01'));
    const retry = first.events.find((e) => e.event === 'task-retry')!;
    assert.equal(retry['dataset'], 'bronze.weblogs');
    assert.match(String(retry['error']), /no input files: .*month in \[2023-08-01, 2023-09-01\)/);
    await fs.rename(`${august}.late`, august);
    // kill -9 as soon as a log report runs
    await until('a log report started', () => first.events.some((e) => e.event === 'run-start' && String(e['pipeline']).startsWith('popular-')));
    first.child.kill('SIGKILL');
    await first.exited;
    const inFlight = (await Promise.all(['b2b', 'weblog', 'monthly-sales', 'popular-devices', 'popular-products'].map((p) => store.intervals(p)))).flat().filter((x) => x.status === 'running');
    assert.ok(inFlight.length >= 1, 'runs were in flight when the scheduler died');

    const second = schedulerAt(fresh.dir, '2023-09-01T02:30:00Z');
    t.after(() => { second.child.kill('SIGKILL'); });
    await until('every pipeline done for both months', async () => {
      for (const p of ['b2b', 'weblog', 'monthly-sales', 'popular-devices', 'popular-products']) if ((await done(p)).length < 2) return false;
      return true;
    }, 120_000);
    second.child.kill('SIGTERM');
    await second.exited;
    const recovered = second.events.filter((e) => e.event === 'run-recovered').map((e) => e['runId']);
    assert.deepEqual(recovered.sort(), inFlight.map((x) => x.runId).sort(), 'the runs in flight were taken over as the same runs');
    const weblogAugust = [...first.events, ...second.events].filter((e) => e.event === 'run-done' && e['pipeline'] === 'weblog' && e['logicalDate'] === '2023-08-01');
    assert.deepEqual(weblogAugust.map((e) => e['status']), ['success'], 'the retry succeeded within the run');

    for (const month of ['2023-07-01', '2023-08-01']) {
      for (const [name, compute] of Object.entries(REPORTS)) {
        const expected = asText(compute(data, month));
        assert.deepEqual(parseCsv(await fs.readFile(path.join(fresh.dir, 'reports', name, `date=${month}`, 'report.csv'), 'utf8')), expected, `${name} ${month}`);
        const { rows } = await client.query(`SELECT count(*)::int AS n FROM datamart.${name} WHERE report_month = $1`, [month]);
        assert.deepEqual(rows, [{ n: expected.length }], `${name} ${month}: the datamart holds each row once`);
      }
    }
  });
});
