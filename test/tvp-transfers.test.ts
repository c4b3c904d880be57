/**
 * The TVP reference system (examples/tvp-transfers) end to end against its local Dune-shaped API:
 * a backfill of ten block dates across a month boundary, checked against values computed here
 * from the generator (landed CSV, silver, quarantine, gold by vertical and protocol, top 5s); then
 * the request sequence of Dune's API contract (execute, status polls, result pages) and a failed
 * execution; the scheduler on a fast clock: missed intervals caught up oldest first, a date whose first
 * request fails with a 500 retried by the pipeline, and a rerun that changes no table's contents.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { loadProject } from '../src/project.js';
import { intervalOf } from '../src/pipeline/interval.js';
import { datePartScope, partitionSlice } from '../src/pipeline/partition-slice.js';
import { Scheduler } from '../src/schedule/scheduler.js';
import { openMetadata } from '../src/metadata/open.js';
import { daysBetween, generateDay, VERTICALS, type Defect, type Transfer } from '../examples/tvp-transfers/generate.js';
import { PAGE_LIMIT, QUERY_ID, TransferApi } from '../examples/tvp-transfers/serve.js';
import { cli, ROOT, tempDir } from './fixtures.js';
import { schedulerAt, until } from './scheduler-process.js';

const EXAMPLE = path.join(ROOT, 'examples', 'tvp-transfers');
const KEY = 'tvp-test-key';
type Row = Record<string, unknown>;

/** The failed expectations of a bad row, as silver's directives name them. */
const FAILED: Record<Defect, string> = {
  null_amount: 'amount_present,amount_not_negative',
  negative_amount: 'amount_not_negative',
  unknown_vertical: 'known_vertical',
  bad_hash: 'valid_tx_hash',
};

/** Per month (`YYYY-MM-01`) and key: transactions and volume of the good rows. */
function aggregate(rows: Transfer[], key: (r: Transfer) => string): Map<string, Map<string, { transactions: number; volume: number }>> {
  const out = new Map<string, Map<string, { transactions: number; volume: number }>>();
  for (const r of rows) {
    const month = `${r.block_date.slice(0, 7)}-01`;
    const m = out.get(month) ?? new Map<string, { transactions: number; volume: number }>();
    out.set(month, m);
    const a = m.get(key(r)) ?? { transactions: 0, volume: 0 };
    m.set(key(r), { transactions: a.transactions + 1, volume: a.volume + r.amount_usd! });
  }
  return out;
}

/** The top 5 of each month by volume and by count, as `month ranked_by rank name`. */
function top5(agg: ReturnType<typeof aggregate>): string[] {
  const out: string[] = [];
  for (const [month, m] of [...agg].sort(([a], [b]) => a.localeCompare(b))) {
    const entries = [...m];
    const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
    const volume = [...entries].sort(([an, a], [bn, b]) => b.volume - a.volume || byName(an, bn)).slice(0, 5);
    const count = [...entries].sort(([an, a], [bn, b]) => b.transactions - a.transactions || b.volume - a.volume || byName(an, bn)).slice(0, 5);
    volume.forEach(([name], i) => out.push(`${month} volume ${i + 1} ${name}`));
    count.forEach(([name], i) => out.push(`${month} count ${i + 1} ${name}`));
  }
  return out;
}

describe('examples/tvp-transfers against a local Dune-shaped API', () => {
  const api = new TransferApi(KEY);
  let engine: DuckDBEngine;
  const saved: Record<string, string | undefined> = {};

  before(async () => {
    await api.start();
    for (const [k, v] of Object.entries({ DUNE_API_KEY: KEY, TVP_API_URL: api.origin })) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    engine = await DuckDBEngine.open();
  });
  after(async () => {
    await engine?.close();
    await api.stop();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  /** A copy of the example in a temp folder; `config` rewrites its ingot.config.ts. */
  async function project(prefix: string, config: (text: string) => string = (t) => t): Promise<{ dir: string; cleanup: () => Promise<void> }> {
    const t = await tempDir(prefix);
    for (const f of ['api.ts', 'datasets']) await fs.cp(path.join(EXAMPLE, f), path.join(t.dir, f), { recursive: true });
    await fs.writeFile(path.join(t.dir, 'ingot.config.ts'), config(await fs.readFile(path.join(EXAMPLE, 'ingot.config.ts'), 'utf8')));
    return t;
  }

  async function sql(dir: string, select: string): Promise<Row[]> {
    const r = await cli(['sql', '-p', dir, '--format', 'json', select]);
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out) as Row[];
  }

  /** Checks every layer of the project in `dir` against the generator's rows of `days`. */
  async function checkLayers(dir: string, days: string[]): Promise<void> {
    const served = days.flatMap((d) => generateDay(d));
    const good = served.filter((s) => !s.defect).map((s) => s.row);
    const bad = served.filter((s) => s.defect);
    assert.ok(bad.length > 20 && new Set(bad.map((b) => b.defect)).size === 4, `every kind of bad row is served (${bad.length})`);

    // bronze: the day's rows, as served, landed as CSV under block_date=
    for (const day of days) {
      const file = path.join(dir, 'bronze', 'eth_transfers', `block_date=${day}`, 'part-0.csv');
      // the rows as served (in no particular order)
      const csv = await engine.query(`SELECT * FROM read_csv('${file}', header = true, all_varchar = true) ORDER BY tx_hash`);
      assert.deepEqual(csv.map((r) => ({ ...r, amount_usd: r['amount_usd'] === null ? null : Number(r['amount_usd']) })),
        generateDay(day).map((s) => s.row).sort((a, b) => (a.tx_hash < b.tx_hash ? -1 : 1)), `landed CSV of ${day}`);
    }
    const [bronze] = await sql(dir, 'SELECT count(*) AS n, count(DISTINCT block_date) AS days FROM bronze.eth_transfers');
    assert.deepEqual([Number(bronze!['n']), Number(bronze!['days'])], [served.length, days.length]);

    // silver: exactly the good rows; the quarantine: exactly the bad ones, with the expectations they failed
    const silver = await sql(dir, "SELECT tx_hash, vertical, protocol, amount_usd, CAST(block_date AS VARCHAR) AS block_date, strftime(block_time, '%Y-%m-%d %H:%M:%S.000 UTC') AS block_time, year, month, CAST(block_month AS VARCHAR) AS block_month FROM silver.eth_transfers ORDER BY tx_hash");
    const want = [...good].sort((a, b) => (a.tx_hash < b.tx_hash ? -1 : 1));
    assert.deepEqual(silver.map((r) => [r['tx_hash'], r['vertical'], r['protocol'], r['amount_usd'], r['block_date'], r['block_time']]),
      want.map((r) => [r.tx_hash, r.vertical, r.protocol, r.amount_usd, r.block_date, r.block_time]));
    assert.ok(silver.every((r) => r['block_month'] === `${String(r['block_date']).slice(0, 7)}-01` && r['year'] === Number(String(r['block_date']).slice(0, 4)) && r['month'] === Number(String(r['block_date']).slice(5, 7))));
    const quarantine = await sql(dir, 'SELECT tx_hash, _failed_expectations AS failed FROM silver.eth_transfers_quarantine ORDER BY tx_hash');
    assert.deepEqual(quarantine, bad.map((b) => ({ tx_hash: b.row.tx_hash, failed: FAILED[b.defect!] })).sort((a, b) => (a.tx_hash < b.tx_hash ? -1 : 1)));
    // the Delta layout, as the reference's: silver and gold by year= and month=, one folder per month
    const months = [...new Set(days.map((d) => `year=${Number(d.slice(0, 4))}/month=${Number(d.slice(5, 7))}`))];
    for (const table of ['silver/eth_transfers', 'silver/eth_transfers_quarantine', 'gold/vertical_monthly', 'gold/protocol_monthly', 'gold/top_verticals', 'gold/top_protocols']) {
      const root = path.join(dir, 'lake', ...table.split('/'));
      const years = (await fs.readdir(root)).filter((f) => f.startsWith('year='));
      const found = (await Promise.all(years.map(async (y) => (await fs.readdir(path.join(root, y))).filter((m) => m.startsWith('month=')).map((m) => `${y}/${m}`)))).flat().sort();
      assert.deepEqual(found, [...months].sort(), table);
      const log = await fs.readFile(path.join(root, '_delta_log', '00000000000000000000.json'), 'utf8');
      const meta = log.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { metaData?: { partitionColumns: string[] } }).find((a) => a.metaData)!;
      assert.deepEqual(meta.metaData!.partitionColumns, ['year', 'month'], table);
    }

    // gold: per vertical and per protocol, year and month
    for (const [table, key] of [['vertical', (r: Transfer) => r.vertical], ['protocol', (r: Transfer) => r.protocol]] as const) {
      const agg = aggregate(good, key);
      const rows = await sql(dir, `SELECT CAST(block_month AS VARCHAR) AS m, year, month, ${table} AS k, transactions, volume_usd FROM gold.${table}_monthly ORDER BY 1, 4`);
      const expected = [...agg].flatMap(([m, per]) => [...per].map(([k, a]) => ({ m, k, ...a }))).sort((a, b) => a.m.localeCompare(b.m) || (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
      assert.deepEqual(rows.map((r) => [r['m'], r['year'], r['month'], r['k'], Number(r['transactions'])]), expected.map((e) => [e.m, Number(e.m.slice(0, 4)), Number(e.m.slice(5, 7)), e.k, e.transactions]), `gold.${table}_monthly`);
      rows.forEach((r, i) => assert.ok(Math.abs(Number(r['volume_usd']) - expected[i]!.volume) < 1e-6, `${table} ${String(r['k'])} ${String(r['m'])}: ${String(r['volume_usd'])} vs ${expected[i]!.volume}`));
      const top = await sql(dir, `SELECT CAST(block_month AS VARCHAR) AS m, ranked_by, rank, ${table} AS k FROM gold.top_${table}s ORDER BY m, ranked_by DESC, rank`);
      assert.deepEqual(top.map((r) => `${String(r['m'])} ${String(r['ranked_by'])} ${String(r['rank'])} ${String(r['k'])}`), top5(agg), `gold.top_${table}s`);
    }
    assert.ok(VERTICALS.length > 5, 'the top 5 leaves verticals out');
  }

  /** Every table's contents (no lineage columns, volumes rounded), for comparing two states. */
  async function contents(dir: string): Promise<Row[][]> {
    return Promise.all([
      'SELECT * EXCLUDE (_ingested_at, _run_id, _source) FROM bronze.eth_transfers ORDER BY tx_hash',
      'SELECT * FROM silver.eth_transfers ORDER BY tx_hash',
      'SELECT * EXCLUDE (_quarantined_at, _run_id) FROM silver.eth_transfers_quarantine ORDER BY tx_hash',
      'SELECT * EXCLUDE (volume_usd), round(volume_usd, 4) AS v FROM gold.vertical_monthly ORDER BY ALL',
      'SELECT * EXCLUDE (volume_usd), round(volume_usd, 4) AS v FROM gold.protocol_monthly ORDER BY ALL',
      'SELECT * EXCLUDE (volume_usd), round(volume_usd, 4) AS v FROM gold.top_verticals ORDER BY ALL',
      'SELECT * EXCLUDE (volume_usd), round(volume_usd, 4) AS v FROM gold.top_protocols ORDER BY ALL',
    ].map((q) => sql(dir, q)));
  }

  it('replace partition over year and month: a run replaces its one month; a day grain is refused; upstream scope by the shared parts', () => {
    assert.deepEqual(partitionSlice(['year', 'month'], intervalOf('2024-11-28', 'month'), 'silver.x'), [{ column: 'year', op: '=', value: 2024 }, { column: 'month', op: '=', value: 11 }]);
    assert.deepEqual(partitionSlice(['year', 'month', 'day'], intervalOf('2024-12-01', 'day'), 'silver.x').map((f) => f.value), [2024, 12, 1]);
    assert.throws(() => partitionSlice(['year', 'month'], intervalOf('2024-11-28', 'day'), 'silver.x'), (e: Error & { code?: string }) => e.code === 'DATASET_INVALID' && /silver\.x: partition columns year, month replace one month per run.*declare grain: month/.test(e.message));
    assert.throws(() => partitionSlice(['year'], intervalOf('2024-11-28', 'month'), 'silver.x'), /partition by year, month/);
    assert.deepEqual(datePartScope(['year', 'month'], intervalOf('2024-11-28', 'day')), [{ column: 'year', op: '=', value: 2024 }, { column: 'month', op: '=', value: 11 }]);
    assert.deepEqual(datePartScope(['year', 'month'], { start: '2024-11-01', end: '2025-01-01' }), [{ column: 'year', op: '=', value: 2024 }]);
    assert.equal(datePartScope(['year', 'month'], { start: '2024-12-01', end: '2025-02-01' }), undefined);
  });

  it('backfills ten block dates across a month boundary: every layer matches the generator', async (t) => {
    const { dir, cleanup } = await project('tvp-backfill');
    t.after(cleanup);
    const days = daysBetween('2024-11-25', '2024-12-04');
    const b = await cli(['backfill', 'tvp', '-p', dir, '--from', days[0]!, '--to', days.at(-1)!]);
    assert.equal(b.code, 0, b.out + b.err);
    assert.match(b.out, /tvp: 10 intervals ran, 0 failed, 0 skipped/);
    await checkLayers(dir, days);
  });

  it('speaks Dune\'s contract: execute with query_parameters, poll the status until completed, page the results by offset; a failed execution fails the run', async (t) => {
    const { dir, cleanup } = await project('tvp-contract');
    t.after(cleanup);
    api.log.length = 0;
    const r = await cli(['run', '-p', dir, '--date', '2024-11-20']);
    assert.equal(r.code, 0, r.out + r.err);
    const served = api.log.filter((l) => l.blockDate === '2024-11-20');
    const [execute, ...rest] = served;
    assert.deepEqual([execute!.method, execute!.path, execute!.body, execute!.state, execute!.status],
      ['POST', `/api/v1/query/${QUERY_ID}/execute`, { query_parameters: { block_date: '2024-11-20' } }, 'QUERY_STATE_PENDING', 200]);
    const id = /^\/api\/v1\/execution\/([^/]+)\/status$/.exec(rest[0]!.path)?.[1];
    assert.ok(id, rest[0]!.path);
    // polled until completed, and only then the results, page by page (the server caps a page at PAGE_LIMIT rows)
    assert.deepEqual(rest.filter((l) => l.path.endsWith('/status')).map((l) => l.state), ['QUERY_STATE_EXECUTING', 'QUERY_STATE_COMPLETED']);
    const pages = rest.filter((l) => l.path.includes('/results'));
    assert.ok(rest.indexOf(pages[0]!) > rest.findIndex((l) => l.state === 'QUERY_STATE_COMPLETED'), 'no results read before the execution completed');
    const rows = generateDay('2024-11-20').length;
    assert.deepEqual(pages.map((l) => l.path), Array.from({ length: Math.ceil(rows / PAGE_LIMIT) }, (_, i) => `/api/v1/execution/${id}/results?limit=1000${i ? `&offset=${i * PAGE_LIMIT}` : ''}`));
    assert.ok(served.every((l) => l.status === 200 && !/\/query\/\d+\/results/.test(l.path)));
    const [bronze] = await sql(dir, 'SELECT count(*) AS n FROM bronze.eth_transfers');
    assert.equal(Number(bronze!['n']), rows);

    // an execution that ends QUERY_STATE_FAILED fails the run with Dune's error; nothing of that date lands
    api.failExecution.add('2024-11-21');
    const f = await cli(['run', '-p', dir, '--date', '2024-11-21']);
    api.failExecution.delete('2024-11-21');
    assert.equal(f.code, 1, f.out + f.err);
    assert.match(f.err, /bronze\.eth_transfers: GET \S+\/api\/v1\/execution\/\S+\/status: execution \S+ of query 4302123 ended QUERY_STATE_FAILED: line 3:7: division by zero \(block_date 2024-11-21\)/);
    assert.equal(api.log.filter((l) => l.blockDate === '2024-11-21' && l.path.includes('/results')).length, 0);
    assert.deepEqual(await sql(dir, 'SELECT CAST(block_date AS VARCHAR) AS d, count(*) AS n FROM bronze.eth_transfers GROUP BY 1'), [{ d: '2024-11-20', n: rows }]);
  });

  it('the 01:00 UTC schedule on a fast clock: catchup oldest first, a 500 retried, a rerun changes nothing', async (t) => {
    // the example's pipeline, with a 300 ms retry delay instead of 5 minutes
    const { dir, cleanup } = await project('tvp-schedule', (text) => {
      assert.match(text, /schedule: '0 1 \* \* \*', timezone: 'UTC', start: '2024-11-01'.*retries: 3, retryDelay: '5m'/);
      return text.replace("start: '2024-11-01'", "start: '2024-11-28'").replace("retryDelay: '5m'", "retryDelay: '300ms'");
    });
    t.after(cleanup);
    const store = await openMetadata(await loadProject(dir));
    let clock = Date.parse('2024-12-02T00:30:00Z');
    const s = new Scheduler(await loadProject(dir), store, { now: () => new Date(clock), tickMs: 50, leaseMs: 5000, log: () => {} });
    t.after(async () => {
      await s.stop(0);
      await store.close();
    });
    api.log.length = 0;
    api.failOnce.set('2024-11-30', 500);
    // 00:30 on 12-02: the 01:00 tick of 12-02 has not come; 11-28..11-30 were missed while the scheduler was down
    s.start();
    await s.idle();
    assert.deepEqual(s.results.map((r) => [r.logicalDate, r.status]), [['2024-11-28', 'success'], ['2024-11-29', 'success'], ['2024-11-30', 'success']], 'caught up oldest first');
    const retried = s.results[2]!.datasets.find((d) => d.dataset === 'bronze.eth_transfers')!;
    assert.equal(retried.attempts, 2, 'the 500 failed the first attempt; the pipeline retried');
    assert.deepEqual(api.log.filter((l) => l.blockDate === '2024-11-30').map((l) => l.status).slice(0, 2), [500, 200]);
    assert.ok(s.results.slice(0, 2).every((r) => r.datasets.every((d) => d.attempts === 1)));

    // the clock passes 01:00 on 12-02 and on 12-03: 12-01 and 12-02 run, in order
    clock = Date.parse('2024-12-03T01:00:05Z');
    await s.idle();
    assert.deepEqual(s.results.slice(3).map((r) => [r.logicalDate, r.status]), [['2024-12-01', 'success'], ['2024-12-02', 'success']]);
    await s.stop(0);
    const days = daysBetween('2024-11-28', '2024-12-02');
    await checkLayers(dir, days);

    // backfilling the range again skips it; --rerun runs it all again and changes no table's contents
    const before = await contents(dir);
    const skip = await cli(['backfill', 'tvp', '-p', dir, '--from', days[0]!, '--to', days.at(-1)!]);
    assert.match(skip.out, /tvp: 0 intervals ran, 0 failed, 5 skipped/);
    const served = api.log.length;
    const rerun = await cli(['backfill', 'tvp', '-p', dir, '--from', days[0]!, '--to', days.at(-1)!, '--rerun']);
    assert.equal(rerun.code, 0, rerun.out + rerun.err);
    assert.match(rerun.out, /tvp: 5 intervals ran, 0 failed, 0 skipped/);
    assert.ok(api.log.length >= served + 5, 'the rerun pulled every date again');
    assert.deepEqual(await contents(dir), before);
    await checkLayers(dir, days);
  });
  it('kill -9 while a run waits to retry: the restarted scheduler takes it over as the same run, no row twice', async (t) => {
    const { dir, cleanup } = await project('tvp-crash', (text) => text.replace("start: '2024-11-01'", "start: '2024-11-27'").replace("retryDelay: '5m'", "retryDelay: '1h'")
      .replace("datasets: './datasets',", "datasets: './datasets',\n  scheduler: { leaseSeconds: 1 },"));
    t.after(cleanup);
    const store = await openMetadata(await loadProject(dir));
    t.after(() => store.close());
    api.failOnce.set('2024-11-29', 500);
    // 02:00 on 12-01: 11-27 to 11-30 are due; 11-29's first attempt fails and waits an hour to retry
    const first = schedulerAt(dir, '2024-12-01T02:00:00Z');
    t.after(() => { first.child.kill('SIGKILL'); });
    await until('the retry of 11-29 scheduled', () => first.events.some((e) => e.event === 'task-retry' && e['logicalDate'] === '2024-11-29'));
    first.child.kill('SIGKILL');
    await first.exited;
    const states = await store.intervals('tvp');
    assert.deepEqual(states.map((x) => [x.logicalDate, x.status]), [['2024-11-27', 'success'], ['2024-11-28', 'success'], ['2024-11-29', 'running']]);
    const stuck = states[2]!;

    const second = schedulerAt(dir, '2024-12-01T02:00:00Z');
    t.after(() => { second.child.kill('SIGKILL'); });
    await until('every interval done', async () => (await store.intervals('tvp')).filter((x) => x.status === 'success').length === 4);
    second.child.kill('SIGTERM');
    await second.exited;
    assert.deepEqual(second.events.filter((e) => e.event === 'run-recovered').map((e) => e['runId']), [stuck.runId], 'taken over as the same run');
    assert.equal((await store.intervals('tvp')).find((x) => x.logicalDate === '2024-11-29')!.attempt, 2);
    await checkLayers(dir, daysBetween('2024-11-27', '2024-11-30'));
  });
});
