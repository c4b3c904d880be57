import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { Lake } from '../src/table/lake.js';
import { queryLake } from '../src/operations/query.js';
import { cli, flightsProject, FLIGHTS, tempDir } from './fixtures.js';

const DAYS = ['2001-01-01', '2001-01-02', '2001-01-03'];

/** Rows per day straight from the source Parquet file, the ground truth. */
async function sourceCounts(days: string[]): Promise<Map<string, number>> {
  const engine = await DuckDBEngine.open();
  try {
    const file = path.join(FLIGHTS, '..', '..', 'node_modules', 'vega-datasets', 'data', 'flights-3m.parquet');
    const rows = await engine.query(`SELECT CAST(CAST(date AS DATE) AS VARCHAR) AS d, CAST(count(*) AS INTEGER) AS n FROM read_parquet('${file}') WHERE CAST(date AS DATE) IN (${days.map((d) => `DATE '${d}'`).join(', ')}) GROUP BY 1`);
    return new Map(rows.map((r) => [String(r['d']), Number(r['n'])]));
  } finally {
    await engine.close();
  }
}

async function sql(project: string, select: string): Promise<Record<string, unknown>[]> {
  const r = await cli(['sql', '-p', project, '--format', 'json', select]);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as Record<string, unknown>[];
}

async function versions(project: string): Promise<Record<string, number>> {
  const r = await cli(['tables', '-p', project, '--format', 'json']);
  assert.equal(r.code, 0, r.err);
  return Object.fromEntries((JSON.parse(r.out) as { table: string; version: number }[]).map((t) => [t.table, t.version]));
}

describe('flights pipeline on real data', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let project: string;
  before(async () => {
    ({ dir, cleanup } = await tempDir('pipeline'));
    project = await flightsProject(dir, DAYS);
  });
  after(() => cleanup());

  it('builds the graph in dependency order', async () => {
    const r = await cli(['graph', '-p', project]);
    assert.equal(r.code, 0, r.err);
    const order = r.out.split('\n').filter((l) => !l.startsWith(' ')).map((l) => l.split(' ')[0]);
    assert.deepEqual(order, ['bronze.airports', 'bronze.flights_raw', 'silver.flights', 'gold.airport_daily', 'gold.route_monthly', 'gold.top5_monthly']);
    assert.match(r.out, /silver\.flights .*\n {2}← bronze\.airports\n {2}← bronze\.flights_raw/);
  });

  it('backfills a range with one commit per table per run, rows matching the source', async () => {
    const r = await cli(['run', '-p', project, '--from', DAYS[0]!, '--to', DAYS[2]!]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /\[3\/3\] 2001-01-03 {2}ok/);
    assert.match(r.out, /3 of 3 runs succeeded/);
    const truth = await sourceCounts(DAYS);
    const bronze = await sql(project, 'SELECT CAST(flight_date AS VARCHAR) AS d, CAST(count(*) AS INTEGER) AS n, count(DISTINCT _run_id) AS runs, min(_source) AS src FROM bronze.flights_raw GROUP BY 1 ORDER BY 1');
    assert.deepEqual(bronze.map((b) => [b['d'], b['n']]), DAYS.map((d) => [d, truth.get(d)]));
    assert.equal(bronze[0]!['src'], 'landing/flights/date=2001-01-01/flights.csv');
    const silver = await sql(project, 'SELECT CAST(count(*) AS INTEGER) AS n FROM silver.flights');
    const quarantine = await sql(project, 'SELECT CAST(count(*) AS INTEGER) AS n FROM silver.flights_quarantine');
    const total = DAYS.reduce((s, d) => s + truth.get(d)!, 0);
    assert.equal(Number(silver[0]!['n']) + Number(quarantine[0]!['n']), total);
    const v = await versions(project);
    assert.equal(v['bronze.flights_raw'], 2);
    assert.equal(v['silver.flights'], 2);
    assert.equal(v['gold.route_monthly'], 2);
    const runs = await sql(project, "SELECT count(*) AS n FROM _ingot.runs WHERE status = 'success'");
    assert.equal(Number(runs[0]!['n']), 3);
    const checks = await sql(project, "SELECT e.name, e.action FROM (SELECT unnest(expectations) AS e FROM _ingot.run_datasets WHERE dataset = 'silver.flights') ORDER BY 1 LIMIT 3");
    assert.deepEqual(checks.map((c) => c['name']), ['delay_in_range', 'delay_in_range', 'delay_in_range']);
  });

  it('re-running a date replaces that date: no duplicates', async () => {
    const before = await sql(project, 'SELECT CAST(count(*) AS INTEGER) AS n FROM silver.flights');
    const r = await cli(['run', '-p', project, '--date', '2001-01-02']);
    assert.equal(r.code, 0, r.err);
    const afterRows = await sql(project, 'SELECT CAST(count(*) AS INTEGER) AS n FROM silver.flights');
    assert.equal(afterRows[0]!['n'], before[0]!['n']);
    const bronze = await sql(project, "SELECT count(DISTINCT _run_id) AS runs FROM bronze.flights_raw WHERE flight_date = DATE '2001-01-02'");
    assert.equal(Number(bronze[0]!['runs']), 1);
  });

  it('quarantines rows failing an expectation, with the expectation names', async () => {
    // corrupt one row's delay to an impossible value and one row's airport to an unknown code
    const file = path.join(project, 'landing', 'flights', 'date=2001-01-03', 'flights.csv');
    const lines = (await fs.readFile(file, 'utf8')).split('\n');
    const cols = lines[1]!.split(',');
    lines[1] = [cols[0], '9999', cols[2], cols[3], cols[4]].join(',');
    const cols2 = lines[2]!.split(',');
    lines[2] = [cols2[0], '-500', cols2[2], 'ZZZ', cols2[4]].join(',');
    await fs.writeFile(file, lines.join('\n'));
    const r = await cli(['run', '-p', project, '--date', '2001-01-03']);
    assert.equal(r.code, 0, r.err);
    const q = await sql(project, "SELECT delay_min, origin, _failed_expectations FROM silver.flights_quarantine WHERE flight_date = DATE '2001-01-03' AND (delay_min = 9999 OR origin = 'ZZZ') ORDER BY delay_min");
    assert.deepEqual(q.map((x) => [x['delay_min'], x['origin'], x['_failed_expectations']]), [
      [-500, 'ZZZ', 'delay_in_range,known_airports'],
      [9999, cols[3], 'delay_in_range'],
    ]);
    const s = await sql(project, "SELECT count(*) AS n FROM silver.flights WHERE delay_min IN (9999, -500)");
    assert.equal(Number(s[0]!['n']), 0);
  });

  it('time travel and read-only SQL through the CLI', async () => {
    const v0 = await sql(project, 'SELECT count(DISTINCT flight_date) AS days FROM silver.flights');
    assert.equal(Number(v0[0]!['days']), 3);
    const r = await cli(['sql', '-p', project, '--version', 'silver.flights=0', '--format', 'json', 'SELECT count(DISTINCT flight_date) AS days FROM silver.flights']);
    assert.equal(r.code, 0, r.err);
    assert.equal(Number((JSON.parse(r.out) as { days: number }[])[0]!.days), 1);
    const csv = await cli(['sql', '-p', project, '--format', 'csv', "SELECT airport, departures FROM gold.airport_daily WHERE flight_date = DATE '2001-01-01' ORDER BY departures DESC LIMIT 2"]);
    assert.equal(csv.code, 0, csv.err);
    assert.equal(csv.out, "airport,departures\nORD,878\nDFW,730");
    const write = await cli(['sql', '-p', project, 'DELETE FROM silver.flights']);
    assert.equal(write.code, 1);
    assert.match(write.err, /SQL_NOT_READ_ONLY/);
    const lake = new Lake(path.join(project, 'lake'));
    const byPath = await cli(['sql', '--table', `x.flights=${lake.table('silver.flights').location}`, '--format', 'json', 'SELECT count(*) AS n FROM x.flights']);
    assert.equal(byPath.code, 0, byPath.err);
    assert.ok(Number((JSON.parse(byPath.out) as { n: number }[])[0]!.n) > 40000);
    const history = await cli(['history', 'silver.flights', '-p', project]);
    assert.match(history.out, /CREATE TABLE/);
    assert.match(history.out, /predicate=\["flight_date >= '2001-01-03' AND flight_date < '2001-01-04'"\]/);
  });

  it('a full refresh rebuilds every table from all landing data in one run', async () => {
    const r = await cli(['run', '-p', project, '--full-refresh']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /1 of 1 run succeeded/);
    const engine = await DuckDBEngine.open();
    try {
      const rows = await queryLake(new Lake(path.join(project, 'lake')), engine, "SELECT CAST(count(*) AS INTEGER) AS n, count(DISTINCT _run_id) AS runs FROM bronze.flights_raw");
      const truth = await sourceCounts(DAYS);
      assert.equal(rows[0]!['n'], DAYS.reduce((s, d) => s + truth.get(d)!, 0));
      assert.equal(Number(rows[0]!['runs']), 1);
    } finally {
      await engine.close();
    }
  });
});

describe('bad input fails the run and leaves every table as it was', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let project: string;
  const day = '2001-01-02';
  const file = (): string => path.join(project, 'landing', 'flights', `date=${day}`, 'flights.csv');
  let original: string;
  before(async () => {
    ({ dir, cleanup } = await tempDir('badinput'));
    project = await flightsProject(dir, ['2001-01-01', day]);
    const r = await cli(['run', '-p', project, '--from', '2001-01-01', '--to', day]);
    assert.equal(r.code, 0, r.err);
    original = await fs.readFile(file(), 'utf8');
  });
  after(() => cleanup());

  async function expectFailure(pattern: RegExp): Promise<void> {
    const before = await versions(project);
    const filesBefore = (await fs.readdir(path.join(project, 'lake', 'silver', 'flights', `flight_date=${day}`))).sort();
    const r = await cli(['run', '-p', project, '--date', day]);
    assert.equal(r.code, 1, 'the run must exit non-zero');
    assert.match(r.err, pattern);
    assert.match(r.err, /nothing was committed/);
    assert.deepEqual(await versions(project), before, 'every table stays at its previous version');
    const filesAfter = (await fs.readdir(path.join(project, 'lake', 'silver', 'flights', `flight_date=${day}`))).sort();
    assert.deepEqual(filesAfter, filesBefore, 'no staged files are left behind');
    const failed = await sql(project, "SELECT status, error FROM _ingot.runs WHERE logical_date = DATE '2001-01-02' ORDER BY started_at DESC LIMIT 1");
    assert.equal(failed[0]!['status'], 'failed');
    await fs.writeFile(file(), original);
  }

  it('a truncated file names the file and line', async () => {
    const cut = original.slice(0, Math.floor(original.length / 2));
    await fs.writeFile(file(), cut.slice(0, cut.lastIndexOf(',')));
    await expectFailure(/INPUT_MALFORMED|cannot read .*date=2001-01-02\/flights\.csv \(line \d+\)/);
  });

  it('a malformed value names the file, line and column', async () => {
    const lines = original.split('\n');
    lines[100] = lines[100]!.replace(/^([^,]+),[^,]+,/, '$1,late,');
    await fs.writeFile(file(), lines.join('\n'));
    await expectFailure(/date=2001-01-02\/flights\.csv \(line 101\).*delay/);
  });

  it('a missing column names the file and the column', async () => {
    const lines = original.split('\n').map((l) => l.split(',').filter((_c, i) => i !== 2).join(','));
    await fs.writeFile(file(), lines.join('\n'));
    await expectFailure(/date=2001-01-02\/flights\.csv: column distance missing/);
  });

  it('a date with no landing data names the date and the path', async () => {
    await fs.rm(file());
    await expectFailure(/no input files: .*landing\/flights\/date=2001-01-02\/\*\.csv \(flight_date in \[2001-01-02, 2001-01-03\)\)/);
  });
});

describe('project errors name what is wrong', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await tempDir('graph')));
  after(() => cleanup());

  async function project(files: Record<string, string>): Promise<string> {
    const p = await fs.mkdtemp(path.join(dir, 'p-'));
    await fs.writeFile(path.join(p, 'ingot.config.ts'), 'export default { lake: "./lake" };\n');
    for (const [name, text] of Object.entries(files)) {
      await fs.mkdir(path.dirname(path.join(p, 'datasets', name)), { recursive: true });
      await fs.writeFile(path.join(p, 'datasets', name), text);
    }
    return p;
  }

  it('a cycle is named', async () => {
    const p = await project({ 'silver/a.sql': 'SELECT * FROM silver.b', 'silver/b.sql': 'SELECT * FROM gold.c', 'gold/c.sql': 'SELECT * FROM silver.a' });
    const r = await cli(['graph', '-p', p]);
    assert.equal(r.code, 1);
    assert.match(r.err, /GRAPH_CYCLE.*cycle: gold\.c → silver\.a → silver\.b → gold\.c/);
  });

  it('an unknown dataset is named with the file that reads it', async () => {
    const p = await project({ 'silver/a.sql': 'SELECT 1 AS x', 'gold/b.sql': 'SELECT * FROM silver.a JOIN silver.nope USING (x)' });
    const r = await cli(['run', '-p', p, '--date', '2001-01-01']);
    assert.equal(r.code, 1);
    assert.match(r.err, /DATASET_UNKNOWN\]: .*b\.sql:1: gold\.b reads silver\.nope, which is not a dataset of this project \(closest: silver\.a/);
  });

  it('an invalid definition names the file and field', async () => {
    const p = await project({ 'silver/a.ts': "export default { name: 'silver.a', sql: 'SELECT 1', materialization: 'replace partition' };" });
    const r = await cli(['graph', '-p', p]);
    assert.equal(r.code, 1);
    assert.match(r.err, /DATASET_INVALID.*a\.ts: partitionBy: materialization 'replace partition' needs partitionBy/);
  });

  it('a failing expectation with action fail stops the run and commits nothing', async () => {
    const p = await project({
      'silver/a.sql': '-- expect small (warn): x < 5\n-- expect positive (fail): x > 0\nSELECT range AS x FROM range(10)',
    });
    const r = await cli(['run', '-p', p, '--date', '2001-01-01']);
    assert.equal(r.code, 1);
    assert.match(r.err, /EXPECTATION_FAILED|expectation positive \(x > 0\) failed for 1 of 10 rows/);
    assert.equal(await new Lake(path.join(p, 'lake')).table('silver.a').exists(), false);
  });

  it('expectations that all fail the run are checked in the write itself: counted when one fails, recorded as passed otherwise; a merge counts its warn expectations over its batch', async () => {
    // only fail expectations (and warn ones of a merge): nothing is staged for the check; the write's query stops at the first failing row
    const p = await project({
      // unique: a window function (count(*) OVER), evaluated in the guarded write too
      'silver/a.sql': '-- expect positive (fail): x > 0\n-- expect small (fail): x < 100\n-- expect: unique(x) fail\nSELECT range + 1 AS x FROM range(10)',
      'silver/k.sql': '-- materialization: merge\n-- key: x\n-- expect positive (fail): x > 0\n-- expect even (warn): x % 2 = 0\nSELECT x, x * 2 AS y FROM silver.a',
    });
    const ok = await cli(['run', '-p', p, '--date', '2001-01-01']);
    assert.equal(ok.code, 0, ok.err);
    const recs = JSON.parse((await cli(['sql', '-p', p, '--format', 'json', 'SELECT dataset, rows_in, rows_out, expectations FROM _ingot.run_datasets ORDER BY dataset'])).out) as { dataset: string; rows_in: number; rows_out: number; expectations: { name: string; failed: number }[] }[];
    assert.deepEqual(recs.map((r) => [r.dataset, Number(r.rows_in), Number(r.rows_out), r.expectations.map((e) => [e.name, Number(e.failed)])]), [
      ['silver.a', 10, 10, [['positive', 0], ['small', 0], ['x_unique', 0]]],
      ['silver.k', 10, 10, [['positive', 0], ['even', 5]]],
    ]);
    // the merge's guarded query fails: the error counts the rows, and the table stays at its version
    const before = (await new Lake(path.join(p, 'lake')).table('silver.k').snapshot()).version;
    await fs.writeFile(path.join(p, 'datasets', 'silver', 'k.sql'), '-- materialization: merge\n-- key: x\n-- expect positive (fail): x > 7\n-- expect even (warn): x % 2 = 0\nSELECT x, x * 2 AS y FROM silver.a');
    const bad = await cli(['run', '-p', p, '--date', '2001-01-02', '--select', 'silver.k']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /expectation positive \(x > 7\) failed for 7 of 10 rows, e\.g\. \{"x":/);
    assert.equal((await new Lake(path.join(p, 'lake')).table('silver.k').snapshot()).version, before);
    const failed = JSON.parse((await cli(['sql', '-p', p, '--format', 'json', "SELECT expectations FROM _ingot.run_datasets WHERE dataset = 'silver.k' AND status = 'failed'"])).out) as { expectations: { name: string; failed: number }[] }[];
    assert.deepEqual(failed[0]!.expectations.map((e) => [e.name, Number(e.failed)]), [['positive', 7], ['even', 5]]);
    // the table holds the table's columns only (no flag of the warn expectation)
    const columns = (await new Lake(path.join(p, 'lake')).table('silver.k').snapshot()).schema.fields.map((f) => f.name);
    assert.deepEqual(columns.filter((c) => c.startsWith('__')), []);
  });

  it('warn and drop count rows and keep or remove them', async () => {
    const p = await project({
      'silver/a.sql': '-- expect small (warn): x < 5\n-- expect even (drop): x % 2 = 0\nSELECT range AS x FROM range(10)',
    });
    const r = await cli(['run', '-p', p, '--date', '2001-01-01']);
    assert.equal(r.code, 0, r.err);
    const rows = await cli(['sql', '-p', p, '--format', 'csv', 'SELECT x FROM silver.a ORDER BY x']);
    assert.equal(rows.out, 'x\n0\n2\n4\n6\n8');
    const checks = await cli(['sql', '-p', p, '--format', 'json', "SELECT rows_in, rows_out, rows_dropped, expectations FROM _ingot.run_datasets"]);
    const [rec] = JSON.parse(checks.out) as { rows_in: number; rows_out: number; rows_dropped: number; expectations: { name: string; failed: number }[] }[];
    assert.equal(Number(rec!.rows_in), 10);
    assert.equal(Number(rec!.rows_out), 5);
    assert.equal(Number(rec!.rows_dropped), 5);
    assert.deepEqual(rec!.expectations.map((e) => [e.name, Number(e.failed)]), [['small', 5], ['even', 5]]);
  });
});
