/**
 * Documenting a project (issue 14, "Document"): column descriptions written as Delta field
 * `comment` metadata and read back by delta-rs, Spark (DESCRIBE TABLE) and the API; the static
 * documentation site opened from disk in Chromium; column-level lineage of every gold column of
 * examples/flights and of CTEs, joins, `SELECT *` and what cannot be resolved.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli, flightsProject, tempDir } from './fixtures.js';
import { chromium, type Browser } from 'playwright-core';
import { readWithSpark, type SparkRead } from './helpers.js';

const PYTHON = process.env['INGOT_PYTHON'] ?? 'python3';

/** Each field's `comment` metadata as delta-rs reads the table's schema (`field.metadata['comment']`). */
function deltaRsComments(location: string): Record<string, string | null> {
  const code = [
    'import json, os, sys, deltalake',
    'dt = deltalake.DeltaTable(sys.argv[1])',
    'print(json.dumps({f.name: f.metadata.get("comment") for f in dt.schema().fields}))',
    'sys.stdout.flush(); os._exit(0)',
  ].join('\n');
  const r = spawnSync(PYTHON, ['-c', code, location], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`delta-rs could not read ${location}: ${r.stderr || r.error?.message}`);
  return JSON.parse(r.stdout) as Record<string, string | null>;
}

const SILVER_COMMENTS = {
  flight_date: 'departure day',
  dep_time: 'scheduled departure, local time',
  dep_hour: 'hour of the scheduled departure, 0-23',
  origin: 'origin airport, FAA code',
  destination: 'destination airport, FAA code',
  route: 'origin-destination, e.g. ORD-LGA',
  delay_min: 'departure delay, minutes (negative: early)',
  distance_mi: 'route distance, miles',
  is_delayed: 'departed more than 15 minutes late',
};

describe('column descriptions', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir, cleanup } = await tempDir('document'));
    await flightsProject(dir, ['2001-01-12', '2001-01-13']);
    const run = await cli(['run', '-p', dir, '--date', '2001-01-12']);
    assert.equal(run.code, 0, run.err);
  });
  after(() => cleanup());

  it('are written as Delta field comments that delta-rs, Spark and the API read back (TS and SQL forms)', async () => {
    const silver = deltaRsComments(path.join(dir, 'lake', 'silver', 'flights'));
    assert.deepEqual(silver, SILVER_COMMENTS);
    const bronze = deltaRsComments(path.join(dir, 'lake', 'bronze', 'flights_raw'));
    assert.equal(bronze['delay'], 'departure delay, minutes (negative: early)');
    assert.equal(bronze['_ingested_at'], null);
    const gold = deltaRsComments(path.join(dir, 'lake', 'gold', 'route_monthly'));
    assert.equal(gold['avg_delay_min'], 'average departure delay, minutes');
    // the quarantine table holds the same columns and carries the same descriptions
    assert.equal(deltaRsComments(path.join(dir, 'lake', 'silver', 'flights_quarantine'))['delay_min'], SILVER_COMMENTS.delay_min);

    const [s, b] = readWithSpark([{ path: path.join(dir, 'lake', 'silver', 'flights') }, { path: path.join(dir, 'lake', 'bronze', 'flights_raw') }]) as SparkRead[];
    assert.deepEqual(s!.comments, SILVER_COMMENTS, JSON.stringify(s));
    assert.equal(b!.comments['distance'], 'route distance, miles');

    const [{ loadProject }, { openMetadata }, { createApiKey }, { createServer }] = await Promise.all([
      import('../src/project.js'), import('../src/metadata/open.js'), import('../src/serve/api-keys.js'), import('../src/serve/server.js'),
    ]);
    const project = await loadProject(dir);
    const store = await openMetadata(project);
    const { app } = await createServer(project, store, {});
    try {
      const url = await app.listen({ port: 0, host: '127.0.0.1' });
      const key = (await createApiKey(store, 'read', 'reader')).key;
      const res = await fetch(`${url}/api/tables/silver.flights`, { headers: { authorization: `Bearer ${key}` } });
      const body = await res.json() as { schema: { fields: { name: string; description: string | null }[] } };
      assert.equal(res.status, 200);
      assert.deepEqual(Object.fromEntries(body.schema.fields.map((f) => [f.name, f.description])), SILVER_COMMENTS);
    } finally {
      await app.close();
      await store.close();
    }
  });

  it('survive schema evolution, change with the definition, and a described column the output lacks is an error naming the file', async () => {
    const file = path.join(dir, 'datasets', 'gold', 'route_monthly.sql');
    const original = await fs.readFile(file, 'utf8');
    try {
      // a new column (schema evolution) and a changed description, in the next interval
      await fs.writeFile(file, original
        .replace('-- column flights: departures on the route in the month', '-- column flights: flights on the route in the month\n-- column max_delay_min: longest departure delay, minutes')
        .replace('avg(distance_mi) AS avg_distance_mi', 'avg(distance_mi) AS avg_distance_mi,\n  max(delay_min) AS max_delay_min'));
      const run = await cli(['run', '-p', dir, '--date', '2001-01-13', '--select', 'gold.route_monthly']);
      assert.equal(run.code, 0, run.err);
      const gold = deltaRsComments(path.join(dir, 'lake', 'gold', 'route_monthly'));
      assert.equal(gold['max_delay_min'], 'longest departure delay, minutes');
      assert.equal(gold['flights'], 'flights on the route in the month');
      assert.equal(gold['avg_delay_min'], 'average departure delay, minutes');

      await fs.writeFile(file, original.replace('-- column month:', '-- column no_such_column: nothing\n-- column month:'));
      const bad = await cli(['run', '-p', dir, '--date', '2001-01-13', '--select', 'gold.route_monthly']);
      assert.notEqual(bad.code, 0);
      assert.match(bad.err, /route_monthly\.sql.*describes column no_such_column, which the output lacks/s);
    } finally {
      await fs.writeFile(file, original);
    }
  });

  it('lineage expands SELECT * with the schema of a table already written', async () => {
    const file = path.join(dir, 'datasets', 'gold', 'raw_copy.sql');
    await fs.writeFile(file, 'SELECT * EXCLUDE (_source), delay * 60 AS delay_s FROM bronze.flights_raw\n');
    try {
      const l = await lineageOf(dir, 'gold.raw_copy');
      const bronze = Object.keys(deltaRsComments(path.join(dir, 'lake', 'bronze', 'flights_raw'))).filter((c) => c !== '_source');
      assert.deepEqual(Object.keys(l), [...bronze, 'delay_s']);
      for (const c of bronze) assert.deepEqual(l[c], col([B(c)], [B(c)]), c);
      assert.deepEqual(l['delay_s'], col([B('delay')], [B('delay')]));
    } finally {
      await fs.rm(file);
    }
  });
});


describe('column description directives', () => {
  it('parse from a .sql file, and a malformed one is an error naming file and line', async () => {
    const { parseSqlDataset } = await import('../src/pipeline/sql-file.js');
    const def = parseSqlDataset('-- materialization: overwrite\n-- column a: the first: with a colon\n-- column "b c": quoted\nSELECT 1 AS a, 2 AS "b c"', 'gold.x', 'datasets/gold/x.sql');
    assert.deepEqual(def['columns'], { a: 'the first: with a colon', 'b c': 'quoted' });
    assert.throws(() => parseSqlDataset('-- column b c: two words\nSELECT 1 AS a', 'gold.x', 'datasets/gold/x.sql'),
      (e: Error & { code?: string }) => e.code === 'DATASET_INVALID' && /^datasets\/gold\/x\.sql:1: a column description reads "-- column <name>: <text>"/.test(e.message));
    assert.throws(() => parseSqlDataset('-- column a:\nSELECT 1 AS a', 'gold.x', 'datasets/gold/x.sql'),
      (e: Error & { code?: string }) => e.code === 'DATASET_INVALID' && /^datasets\/gold\/x\.sql:1: "column a:" needs a description/.test(e.message));
    assert.throws(() => parseSqlDataset('-- column a: one\n-- column a: two\nSELECT 1 AS a', 'gold.x', 'datasets/gold/x.sql'),
      (e: Error & { code?: string }) => e.code === 'DATASET_INVALID' && /^datasets\/gold\/x\.sql:2: column a is described twice/.test(e.message));
    const { datasetSchema } = await import('../src/pipeline/definition.js');
    const bad = datasetSchema.safeParse({ name: 'gold.x', sql: 'SELECT 1 AS a', materialization: 'overwrite', columns: { a: '' } });
    assert.equal(bad.success, false);
    assert.match(JSON.stringify(bad.error?.issues), /columns.*a.*a column description is a non-empty text/);
  });
});

describe('column descriptions of merge, overwrite and full refresh tables', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir, cleanup } = await tempDir('comments'));
    await fs.writeFile(path.join(dir, 'ingot.config.ts'), "import { defineConfig } from 'ingot';\nexport default defineConfig({ name: 'c', lake: './lake', datasets: './datasets' });\n");
    await fs.mkdir(path.join(dir, 'datasets', 'silver'), { recursive: true });
    await fs.writeFile(path.join(dir, 'datasets', 'silver', 'keyed.sql'), '-- materialization: merge\n-- key: id\n-- column id: the key\n-- column v: a value\nSELECT range AS id, range * 2 AS v FROM range(5)\n');
    await fs.writeFile(path.join(dir, 'datasets', 'silver', 'whole.ts'), "import { dataset } from 'ingot';\nexport default dataset({ name: 'silver.whole', sql: 'SELECT 1 AS a, 2 AS b', materialization: 'overwrite', columns: { b: 'the second' } });\n");
  });
  after(() => cleanup());

  it('are written on create, kept by later commits, and restored by a full refresh', async () => {
    const keyed = path.join(dir, 'lake', 'silver', 'keyed');
    const whole = path.join(dir, 'lake', 'silver', 'whole');
    for (const args of [['run'], ['run', '--rerun'], ['run', '--full-refresh']]) {
      const r = await cli([...args, '-p', dir]);
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(deltaRsComments(keyed), { id: 'the key', v: 'a value' }, args.join(' '));
      assert.deepEqual(deltaRsComments(whole), { a: null, b: 'the second' }, args.join(' '));
    }
    // a changed description on an unchanged schema: the run's commit carries the new one
    const file = path.join(dir, 'datasets', 'silver', 'keyed.sql');
    await fs.writeFile(file, (await fs.readFile(file, 'utf8')).replace('-- column v: a value', '-- column v: twice the key'));
    const r = await cli(['run', '--rerun', '-p', dir]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(deltaRsComments(keyed), { id: 'the key', v: 'twice the key' });
    const versions = await fs.readdir(path.join(keyed, '_delta_log'));
    assert.equal(versions.filter((f) => f.endsWith('.json')).length, 4, 'one commit per run: the comments ride on the write, no extra commit');
  });
});

describe('ingot docs', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let browser: Browser;
  before(async () => {
    ({ dir, cleanup } = await tempDir('docs'));
    await flightsProject(dir, ['2001-01-12', '2001-01-13']);
    // without Boston in airports.csv, its flights fail known_airports (and go to quarantine)
    const airports = path.join(dir, 'landing', 'airports', 'airports.csv');
    await fs.writeFile(airports, (await fs.readFile(airports, 'utf8')).split('\n').filter((l) => !l.startsWith('BOS,')).join('\n'));
    const run = await cli(['run', '-p', dir, '--from', '2001-01-12', '--to', '2001-01-13']);
    assert.equal(run.code, 0, run.err);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  });
  after(async () => {
    await browser?.close();
    await cleanup();
  });

  it('writes a site that opens from disk: index, a dataset page with typed, described columns, pass rates, links and SQL', async () => {
    const out = path.join(dir, 'site');
    const r = await cli(['docs', '-p', dir, '--out', out]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /wrote 7 pages to /);

    // the pass rate of known_airports, counted independently from the tables: rows checked are
    // the kept rows plus the quarantined ones; failed are the quarantined rows naming it
    const sql = async (q: string): Promise<Record<string, number>> => {
      const res = await cli(['sql', '-p', dir, q, '--format', 'json']);
      assert.equal(res.code, 0, res.err);
      return (JSON.parse(res.out) as Record<string, number>[])[0]!;
    };
    const kept = (await sql('SELECT count(*) AS n FROM silver.flights'))['n']!;
    const q = await sql("SELECT count(*) AS n, count(*) FILTER (WHERE list_contains(string_split(_failed_expectations, ','), 'known_airports')) AS known FROM silver.flights_quarantine");
    const checked = Number(kept) + Number(q['n']);
    const passed = checked - Number(q['known']);
    assert.ok(Number(q['known']) > 0, 'the two days hold flights from or to Boston');

    const page = await browser.newPage();
    try {
      await page.goto(`file://${path.join(out, 'index.html')}`);
      assert.equal(await page.title(), 'flights: datasets');
      await page.click('a[href="datasets/silver.flights.html"]');
      await page.waitForURL(/datasets\/silver\.flights\.html$/);
      assert.equal(await page.locator('h1').textContent(), 'silver.flights');
      const row = page.locator('table.columns tr', { has: page.locator('td code', { hasText: /^delay_min$/ }) });
      assert.deepEqual(await row.locator('td').allTextContents(), ['delay_min', 'integer', 'departure delay, minutes (negative: early)', 'bronze.flights_raw.delay']);
      const rate = await page.locator('table.expectations tr', { hasText: 'known_airports' }).locator('td').nth(3).textContent();
      assert.equal(rate, `${(100 * passed / checked).toFixed(2)}% (${passed.toLocaleString('en-US')} of ${checked.toLocaleString('en-US')} rows, 2 runs, last 2001-01-13)`);
      assert.deepEqual(await page.locator('ul.upstream a').allTextContents(), ['bronze.airports', 'bronze.flights_raw']);
      assert.deepEqual(await page.locator('ul.downstream a').allTextContents(), ['gold.airport_daily', 'gold.route_monthly']);
      assert.match((await page.locator('pre.sql').textContent())!, /delay AS delay_min/);
      // follow a link downstream, then a column's upstream link
      await page.click('ul.downstream a:text("gold.route_monthly")');
      await page.waitForURL(/gold\.route_monthly\.html$/);
      assert.match((await page.locator('p.description').textContent())!, /per route and month/);
      const avg = page.locator('table.columns tr', { has: page.locator('td code', { hasText: /^avg_delay_min$/ }) });
      assert.deepEqual(await avg.locator('td').allTextContents(), ['avg_delay_min', 'double', 'average departure delay, minutes', 'silver.flights.delay_min']);
    } finally {
      await page.close();
    }
  });
});

/** A lineage summary: direct upstream columns, the sources it ends at, what was not followed. */
interface Summary { from: string[]; sources: string[]; unresolved: string[] }

async function lineageOf(dir: string, target: string): Promise<Record<string, Summary>> {
  const { projectLineage } = await import('../src/cli/lineage.js');
  const out: Record<string, Summary> = {};
  for (const l of await projectLineage(dir, target)) out[l.column] = { from: l.from.map((f) => f.id).sort(), sources: l.sources, unresolved: l.unresolvedAnywhere };
  return out;
}

const B = (c: string) => `bronze.flights_raw.${c}`;
const S = (c: string) => `silver.flights.${c}`;
const R = (c: string) => `gold.route_monthly.${c}`;
const A = (c: string) => `gold.airport_daily.${c}`;
const col = (from: string[], sources: string[]): Summary => ({ from: from.sort(), sources: sources.sort(), unresolved: [] });

describe('column lineage', () => {
  const flights = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'examples', 'flights');

  it('of every gold column of examples/flights, down to the bronze columns', async () => {
    // derived by reading the SQL: count(*) derives from no column; a window's PARTITION BY and
    // ORDER BY count; a UNION ALL column derives from both branches; WHERE and GROUP BY do not count
    assert.deepEqual(await lineageOf(flights, 'gold.route_monthly'), {
      month: col([S('flight_date')], [B('flight_date')]),
      origin: col([S('origin')], [B('origin')]),
      destination: col([S('destination')], [B('destination')]),
      flights: col([], []),
      avg_delay_min: col([S('delay_min')], [B('delay')]),
      avg_distance_mi: col([S('distance_mi')], [B('distance')]),
    });
    assert.deepEqual(await lineageOf(flights, 'gold.airport_daily'), {
      flight_date: col([S('flight_date')], [B('flight_date')]),
      airport: col([S('origin')], [B('origin')]),
      departures: col([], []),
      avg_delay_min: col([S('delay_min')], [B('delay')]),
      on_time_rate: col([S('delay_min')], [B('delay')]),
    });
    assert.deepEqual(await lineageOf(flights, 'gold.top5_monthly'), {
      month: col([R('month'), A('flight_date')], [B('flight_date')]),
      ranking: col([], []),
      rank: col([R('month'), R('flights'), R('origin'), R('destination'), A('flight_date'), A('avg_delay_min'), A('departures'), A('airport')], [B('flight_date'), B('delay'), B('origin'), B('destination')]),
      subject: col([R('origin'), R('destination'), A('airport')], [B('origin'), B('destination')]),
      value: col([R('flights'), A('avg_delay_min'), A('departures')], [B('delay')]),
    });
    // silver, whose expressions mix columns
    const silver = await lineageOf(flights, 'silver.flights');
    assert.deepEqual(silver['route'], col([B('origin'), B('destination')], [B('origin'), B('destination')]));
    assert.deepEqual(silver['dep_hour'], col([B('date')], [B('date')]));
    assert.deepEqual(silver['is_delayed'], col([B('delay')], [B('delay')]));
  });

  it('prints the chain as text and JSON from the command line', async () => {
    const text = await cli(['lineage', '-p', flights, 'gold.route_monthly.avg_delay_min']);
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /^gold\.route_monthly\.avg_delay_min {2}\(average departure delay, minutes\)\n {2}← silver\.flights\.delay_min .*\n {4}← bronze\.flights_raw\.delay {2}\[source\]/);
    assert.match(text.out, /^sources: bronze\.flights_raw\.delay$/m);
    const json = await cli(['lineage', '-p', flights, 'gold.route_monthly.avg_delay_min', '--format', 'json']);
    assert.equal(json.code, 0, json.err);
    const l = JSON.parse(json.out) as { id: string; kind: string; from: { id: string; from: { id: string; kind: string }[] }[]; sources: string[] };
    assert.equal(l.id, 'gold.route_monthly.avg_delay_min');
    assert.deepEqual(l.from.map((f) => f.id), ['silver.flights.delay_min']);
    assert.deepEqual(l.from[0]!.from.map((f) => [f.id, f.kind]), [['bronze.flights_raw.delay', 'source']]);
    assert.deepEqual(l.sources, ['bronze.flights_raw.delay']);

    const unknown = await cli(['lineage', '-p', flights, 'gold.route_monthly.nope']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /COLUMN_UNKNOWN.*gold\.route_monthly has no column nope \(its columns: month, origin, destination, flights, avg_delay_min, avg_distance_mi\)/);
  });

  describe('of CTEs, joins, stars, subqueries and what cannot be resolved', () => {
    let dir: string;
    let cleanup: () => Promise<void>;
    const datasets: Record<string, string> = {
      // a source whose table does not exist yet: its columns are unknown
      'bronze/raw.ts': "import { dataset, files } from 'ingot';\nexport default dataset({ name: 'bronze.raw', source: files({ path: 'landing/*.csv', format: 'csv' }), materialization: 'overwrite' });\n",
      'bronze/orders.sql': 'SELECT CAST(r.id AS INTEGER) AS id, r.cust AS customer_id, r.amt AS amount FROM bronze.raw AS r\n',
      'bronze/customers.sql': 'SELECT x.id, x.name, x.country FROM bronze.raw AS x\n',
      'silver/joined.sql': [
        'WITH big AS (SELECT *, amount * 2 AS doubled FROM bronze.orders WHERE amount > 10)',
        'SELECT big.id, c.name AS customer, doubled, upper(country) AS country,',
        '  (SELECT max(o.amount) FROM bronze.orders AS o WHERE o.customer_id = big.customer_id) AS top_amount,',
        '  sub.n',
        'FROM big JOIN bronze.customers AS c ON big.customer_id = c.id',
        'LEFT JOIN (SELECT customer_id, count(*) AS n FROM bronze.orders GROUP BY ALL) AS sub ON sub.customer_id = c.id',
      ].join('\n'),
      'silver/starred.sql': 'SELECT * EXCLUDE (amount) FROM bronze.orders\nUNION ALL\nSELECT id, id AS customer_id FROM bronze.customers\n',
      'silver/using.sql': 'SELECT id, name, amount FROM bronze.orders JOIN bronze.customers USING (id)\n',
      'silver/unresolved.sql': 'SELECT r.*, id, range AS k, t.z FROM bronze.raw AS r, bronze.customers, range(3) AS g, (SELECT 1 AS y) AS t\n',
    };
    before(async () => {
      ({ dir, cleanup } = await tempDir('lineage'));
      await fs.writeFile(path.join(dir, 'ingot.config.ts'), "import { defineConfig } from 'ingot';\nexport default defineConfig({ name: 'lineage', lake: './lake', datasets: './datasets' });\n");
      for (const [f, text] of Object.entries(datasets)) {
        await fs.mkdir(path.dirname(path.join(dir, 'datasets', f)), { recursive: true });
        await fs.writeFile(path.join(dir, 'datasets', f), text);
      }
    });
    after(() => cleanup());

    it('follows CTEs with stars, joins, scalar and FROM subqueries', async () => {
      const j = await lineageOf(dir, 'silver.joined');
      assert.deepEqual(j['id'], col(['bronze.orders.id'], ['bronze.raw.id']));
      assert.deepEqual(j['customer'], col(['bronze.customers.name'], ['bronze.raw.name']));
      assert.deepEqual(j['doubled'], col(['bronze.orders.amount'], ['bronze.raw.amt']));
      // unqualified, found in exactly one relation of the join
      assert.deepEqual(j['country'], col(['bronze.customers.country'], ['bronze.raw.country']));
      assert.deepEqual(j['top_amount'], col(['bronze.orders.amount'], ['bronze.raw.amt']));
      assert.deepEqual(j['n'], col([], []));
    });

    it('expands SELECT * with EXCLUDE, unions branches, and merges USING columns', async () => {
      assert.deepEqual(await lineageOf(dir, 'silver.starred'), {
        id: col(['bronze.orders.id', 'bronze.customers.id'], ['bronze.raw.id']),
        customer_id: col(['bronze.orders.customer_id', 'bronze.customers.id'], ['bronze.raw.cust', 'bronze.raw.id']),
      });
      const u = await lineageOf(dir, 'silver.using');
      assert.deepEqual(u['id'], col(['bronze.customers.id', 'bronze.orders.id'], ['bronze.raw.id']));
      assert.deepEqual(u['amount'], col(['bronze.orders.amount'], ['bronze.raw.amt']));
    });

    it('says what it cannot resolve instead of guessing', async () => {
      const u = await lineageOf(dir, 'silver.unresolved');
      assert.deepEqual(Object.keys(u), ['r.*', 'id', 'k', 'z']);
      assert.deepEqual(u['r.*']!.from, []);
      assert.match(u['r.*']!.unresolved.join('\n'), /r\.\* over bronze\.raw, whose columns are unknown/);
      // id: of customers, the one relation known to have it (a valid query cannot also read it from another: DuckDB refuses ambiguous names)
      assert.deepEqual(u['id'], col(['bronze.customers.id'], ['bronze.raw.id']));
      assert.match(u['k']!.unresolved.join('\n'), /range: not a known column/);
      assert.deepEqual(u['z']!.unresolved, ['silver.unresolved.z: t.z: the subquery t has no column z']);
      const text = await cli(['lineage', '-p', dir, 'silver.unresolved.k']);
      assert.equal(text.code, 0, text.err);
      assert.match(text.out, /^ {2}\? range: not a known column of the FROM clause, and bronze\.raw, the table function g have unknown columns$/m);
      assert.match(text.out, /^not resolved: 1 reference \(marked \?\)$/m);
    });
  });
});
