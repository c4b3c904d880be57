/**
 * Authoring datasets (issue "The authoring loop", its Start and SQL files sections): the
 * expectation library as `.sql` directives giving the TypeScript library's expectations, every
 * directive error naming its file and line, one default materialization for TypeScript and SQL,
 * and table references checked when the graph is built (before anything runs), naming the file,
 * the line and the closest datasets. Real projects on disk, run by the real command line.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { acceptedValues, freshness, notNull, range, regex, relationships, rowCount, unique } from '../src/pipeline/checks.js';
import { dataset, datasetSchema, DEFAULT_MATERIALIZATION } from '../src/pipeline/definition.js';
import { parseSqlDataset } from '../src/pipeline/sql-file.js';
import { IngotError } from '../src/errors.js';
import { cli, ROOT, tempDir } from './fixtures.js';

const FILE = '/p/datasets/staging/orders.sql';

/** The error `text` (a .sql file) raises, asserted to be DATASET_INVALID at `line` of FILE. */
function errorAt(text: string, line: number): IngotError {
  try {
    parseSqlDataset(text, 'staging.orders', FILE);
  } catch (err) {
    assert.ok(err instanceof IngotError, String(err));
    assert.equal(err.code, 'DATASET_INVALID');
    assert.equal(err.context.row, line, err.message);
    assert.ok(err.message.startsWith(`${FILE}:${line}: `), err.message);
    return err;
  }
  assert.fail(`no error for:\n${text}`);
}

describe('the expectation library in .sql directives', () => {
  it('builds the same expectations as the TypeScript library, with the action after the call', () => {
    const def = parseSqlDataset([
      '-- expect: unique(order_id)',
      '-- expect: unique(order_id, "line no") quarantine',
      '-- expect: not_null(customer_id) warn',
      "-- expect: accepted_values(status, 'placed', 'shipped', 'it''s') drop",
      '-- expect: accepted_values(size, 1, 2.5, true)',
      '-- expect: relationships(customer_id, staging.customers.customer_id)',
      '-- expect: range(amount, 0, null) warn',
      "-- expect: range(placed_on, '2018-01-01', '2019-01-01')",
      "-- expect: regex(email, '^[^@]+@[^@]+$')",
      '-- expect: row_count(1, null) warn',
      "-- expect: freshness(placed_at, '36 hours')",
      '-- expect positive (drop): amount > 0',
      'SELECT * FROM raw.orders',
    ].join('\n'), 'staging.orders', FILE);
    assert.deepEqual(def['expectations'], [
      unique('order_id'),
      unique(['order_id', 'line no'], { action: 'quarantine' }),
      notNull('customer_id', { action: 'warn' }),
      acceptedValues('status', ['placed', 'shipped', "it's"], { action: 'drop' }),
      acceptedValues('size', [1, 2.5, true]),
      relationships('customer_id', { to: 'staging.customers', field: 'customer_id' }),
      range('amount', { min: 0 }, { action: 'warn' }),
      range('placed_on', { min: '2018-01-01', max: '2019-01-01' }),
      regex('email', '^[^@]+@[^@]+$'),
      rowCount({ min: 1 }, { action: 'warn' }),
      freshness('placed_at', '36 hours'),
      { name: 'positive', action: 'drop', condition: 'amount > 0' },
    ]);
  });

  it('refuses every malformed or unknown directive, naming the file and line', () => {
    const cases: [string, RegExp][] = [
      ['-- expect delay_in_range: delay_min > 0', /an expectation is "-- expect <name> \(<action>\): <condition>"/],
      ['-- expect', /an expectation is/],
      ['-- expect: not_null', /write a check and its arguments/],
      ['-- expect: notnull(id)', /unknown check "notnull" \(checks: unique, not_null, accepted_values, relationships, range, regex, row_count, freshness\)/],
      ['-- expect: not_null(id) maybe', /unknown action "maybe" \(actions: warn, drop, quarantine, fail\)/],
      ['-- expect: not_null(id, status)', /not_null takes 1 argument: not_null\(column\)/],
      ['-- expect: not_null(\'id\')', /argument 1 of not_null must be a column name/],
      ['-- expect: unique()', /unique takes one or more columns/],
      ["-- expect: accepted_values(status, 'placed)", /a quoted value is not closed/],
      ['-- expect: accepted_values(status)', /accepted_values takes a column and one or more values/],
      ['-- expect: accepted_values(status, placed)', /argument 2 of accepted_values must be a literal/],
      ['-- expect: accepted_values(status, , 1)', /an argument is missing/],
      ["-- expect: accepted_values(status 'placed')", /expected a comma before "'placed'"/],
      ['-- expect: relationships(customer_id, customers.customer_id)', /argument 2 of relationships must be layer\.table\.column/],
      ['-- expect: range(amount, null, null)', /range needs a min, a max or both/],
      ['-- expect: range(amount, 0)', /range takes 3 arguments/],
      ['-- expect: regex(email, pattern)', /argument 2 of regex must be a 'quoted' pattern/],
      ['-- expect: row_count(1, null) quarantine', /row_count checks the whole batch: its action is warn or fail/],
      ["-- expect: freshness(placed_at, 36)", /argument 2 of freshness must be a 'quoted' interval/],
      ['-- expect positive (maybe): amount > 0', /expectations\.0\.action: Invalid option/],
      ['-- expect Positive (drop): amount > 0', /expectation names are lower_snake_case/],
      ['-- materialization: upsert', /materialization: Invalid option/],
      ['-- grain: week', /grain: Invalid option/],
      ['-- on_schema_change: ignore', /onSchemaChange: Invalid option/],
      ['-- partition_by: order date', /partitionBy\.0/],
      ['-- export_file: reports/orders.txt', /exports\.file: an export file is a \.csv or \.parquet path/],
      ['-- materialisation: append', /unknown directive "materialisation"/],
    ];
    for (const [directive, message] of cases) {
      const err = errorAt(`-- description: orders\n\n${directive}\nSELECT * FROM raw.orders`, 3);
      assert.match(err.message, message, directive);
    }
  });

  it('puts an error about a missing field at the materialization that needs it, and a value at its own line', () => {
    assert.match(errorAt('-- materialization: merge\nSELECT 1 AS id', 1).message, /materializations 'merge' and 'apply changes' need key/);
    assert.match(errorAt('-- materialization: apply changes\n-- key: id\n-- sequence_by: seq\n-- scd_type: 3\nSELECT 1 AS id', 4).message, /changes\.scdType/);
    assert.match(errorAt('-- materialization: replace partition\n-- description: x\nSELECT 1 AS id', 1).message, /'replace partition' needs partitionBy/);
  });

  it('refuses a directive below the start of the query, which would be ignored', () => {
    const err = errorAt('-- materialization: append\nSELECT *\n-- expect: not_null(id)\nFROM raw.orders', 3);
    assert.match(err.message, /directives go above the query \(this one, at line 3, is below its start at line 2\)/);
    assert.match(errorAt('SELECT *\nFROM raw.orders\n  -- materialization: append', 3).message, /directives go above the query/);
    // a plain comment is part of the query
    assert.equal(parseSqlDataset('SELECT *\n-- the raw rows: all of them\nFROM raw.orders', 'staging.orders', FILE)['sql'], 'SELECT *\n-- the raw rows: all of them\nFROM raw.orders');
  });

  it('gives TypeScript and SQL datasets the same default materialization: overwrite', () => {
    assert.equal(DEFAULT_MATERIALIZATION, 'overwrite');
    const fromSql = datasetSchema.parse(parseSqlDataset('SELECT 1 AS id', 'staging.orders', FILE));
    const fromTs = dataset({ name: 'staging.orders', sql: 'SELECT 1 AS id' });
    const plainObject = datasetSchema.parse({ name: 'staging.orders', sql: 'SELECT 1 AS id' });
    assert.equal(fromSql.materialization, 'overwrite');
    assert.equal(fromTs.materialization, 'overwrite');
    assert.equal(plainObject.materialization, 'overwrite');
    assert.equal(dataset({ name: 'staging.orders', sql: 'SELECT 1 AS id', materialization: 'append' }).materialization, 'append');
  });
});

/** Writes `files` (path relative to `dir` → text) and an ESM package.json. */
async function writeProject(dir: string, files: Record<string, string>): Promise<void> {
  const all = { 'package.json': '{ "type": "module" }', 'ingot.config.ts': "export default { lake: './lake' };\n", ...files };
  for (const [rel, text] of Object.entries(all)) {
    await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await fs.writeFile(path.join(dir, rel), text);
  }
}

describe('a project using the directives', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir, cleanup } = await tempDir('authoring'));
    await writeProject(dir, {
      'datasets/raw/customers.sql': "SELECT * FROM (VALUES (1, 'Ada'), (2, 'Grace')) AS t(customer_id, name)",
      'datasets/staging/orders.sql': [
        '-- description: orders, checked',
        '-- expect: unique(order_id) quarantine',
        '-- expect: not_null(customer_id) warn',
        "-- expect: accepted_values(status, 'placed', 'shipped') drop",
        '-- expect: relationships(customer_id, raw.customers.customer_id) quarantine',
        'SELECT * FROM (VALUES',
        "  (10, 1, 'placed'), (11, 2, 'shipped'), (12, NULL, 'placed'),",
        "  (13, 1, 'lost'), (14, 3, 'placed'), (15, 2, 'placed'), (15, 1, 'shipped')",
        ') AS t(order_id, customer_id, status)',
      ].join('\n'),
    });
  });
  after(() => cleanup());

  it('runs them on the engine: warn counts, drop removes, quarantine moves rows with the failed names', async () => {
    const run = await cli(['run', '-p', dir]);
    assert.equal(run.code, 0, run.err);
    const rows = async (sql: string): Promise<unknown[]> => {
      const r = await cli(['sql', '-p', dir, sql, '--format', 'json']);
      assert.equal(r.code, 0, r.err);
      return JSON.parse(r.out) as unknown[];
    };
    // 12 has no customer: a warning only (and NULL passes relationships); 13 is dropped
    assert.deepEqual(await rows('SELECT order_id, status FROM staging.orders ORDER BY order_id'), [
      { order_id: 10, status: 'placed' }, { order_id: 11, status: 'shipped' }, { order_id: 12, status: 'placed' },
    ]);
    assert.deepEqual(await rows('SELECT order_id, customer_id, _failed_expectations AS failed FROM staging.orders_quarantine ORDER BY order_id, customer_id'), [
      { order_id: 14, customer_id: 3, failed: 'customer_id_references_raw_customers' },
      { order_id: 15, customer_id: 1, failed: 'order_id_unique' },
      { order_id: 15, customer_id: 2, failed: 'order_id_unique' },
    ]);
    const graph = await cli(['graph', '-p', dir]);
    assert.match(graph.out, /staging\.orders {2}\[overwrite\]/);
    assert.match(graph.out, /← raw\.customers/);
    assert.match(graph.out, /✗ 1 failed customer_id_not_null \(warn\)/);
  });
});

describe('table references are checked when the project loads', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir, cleanup } = await tempDir('references'));
  });
  after(() => cleanup());

  /** `ingot graph` and `ingot run` of a project of the datasets `files`: both fail, before running anything, with the same error. */
  async function refused(name: string, files: Record<string, string>): Promise<string> {
    const project = path.join(dir, name);
    await writeProject(project, { 'datasets/raw/orders.sql': 'SELECT 1 AS order_id, 1 AS customer_id', 'datasets/raw/customers.sql': 'SELECT 1 AS customer_id', ...files });
    const graph = await cli(['graph', '-p', project]);
    assert.equal(graph.code, 1);
    const run = await cli(['run', '-p', project]);
    assert.equal(run.code, 1);
    assert.equal(run.err, graph.err);
    await assert.rejects(fs.access(path.join(project, 'lake', 'raw', 'orders')), 'nothing ran');
    return graph.err;
  }

  it('an unqualified name in a .sql dataset: the file, the line and the dataset it probably means', async () => {
    const err = await refused('bare', { 'datasets/staging/orders.sql': '-- description: x\nSELECT o.order_id\nFROM\n  orders AS o' });
    assert.match(err, /^error \[DATASET_UNKNOWN\]: .*bare\/datasets\/staging\/orders\.sql:4: staging\.orders reads orders, a table without a layer: name tables layer\.table \(closest: raw\.orders, /);
  });

  it('a misspelt layer.table, in a TypeScript dataset', async () => {
    const err = await refused('typo', { 'datasets/staging/orders.ts': "export default {\n  name: 'staging.orders',\n  sql: `SELECT *\n    FROM raw.order`,\n};\n" });
    assert.match(err, /typo\/datasets\/staging\/orders\.ts:4: staging\.orders reads raw\.order, which is not a dataset of this project \(closest: raw\.orders, /);
  });

  it('a table an expectation directive names', async () => {
    const err = await refused('expect', { 'datasets/staging/orders.sql': '-- expect: relationships(customer_id, raw.customer.customer_id)\nSELECT * FROM raw.orders' });
    assert.match(err, /expect\/datasets\/staging\/orders\.sql:1: staging\.orders reads raw\.customer, which is not a dataset of this project \(closest: raw\.customers, /);
  });

  it('CTEs, table functions and quarantine tables are not unknown tables', async () => {
    const project = path.join(dir, 'fine');
    await writeProject(project, {
      'datasets/raw/orders.sql': '-- expect positive (quarantine): order_id > 0\nSELECT * FROM range(-1, 3) AS t(order_id)',
      'datasets/staging/orders.sql': [
        'WITH kept AS (SELECT * FROM raw.orders), Bad AS (SELECT * FROM raw.orders_quarantine)',
        'SELECT k.order_id, (SELECT count(*) FROM bad) AS quarantined FROM kept AS k',
        '  JOIN (WITH inner_cte AS (SELECT 1 AS x) SELECT * FROM inner_cte) AS i ON true',
      ].join('\n'),
    });
    const run = await cli(['run', '-p', project]);
    assert.equal(run.code, 0, run.err);
    const r = await cli(['sql', '-p', project, 'SELECT count(*) AS n, max(quarantined) AS q FROM staging.orders', '--format', 'json']);
    assert.deepEqual(JSON.parse(r.out), [{ n: 2, q: 2 }]);
  });
});

describe('docs/coming-from-dbt.md: its project runs and its files are the doc\'s', () => {
  const DOC = path.join(ROOT, 'docs', 'coming-from-dbt.md');
  const SOURCE = path.join(ROOT, 'docs', 'coming-from-dbt');
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir, cleanup } = await tempDir('dbt'));
    await fs.cp(SOURCE, dir, { recursive: true, filter: (src) => !/[\\/](lake|\.ingot)$/.test(src) });
  });
  after(() => cleanup());

  const json = async (sql: string): Promise<unknown[]> => {
    const r = await cli(['sql', '-p', dir, sql, '--format', 'json']);
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out) as unknown[];
  };

  it('every code block headed by a file path is that file of the project, and every dataset file is shown', async () => {
    const doc = await fs.readFile(DOC, 'utf8');
    const shown = new Set<string>();
    for (const m of doc.matchAll(/```(?:sql|ts)\n((?:--|\/\/) (datasets\/\S+)\n[\s\S]*?)```/g)) {
      assert.equal(m[1], await fs.readFile(path.join(SOURCE, m[2]!), 'utf8'), m[2]);
      shown.add(m[2]!);
    }
    const files = (await fs.readdir(path.join(SOURCE, 'datasets'), { recursive: true })).filter((f) => /\.(sql|ts)$/.test(f)).map((f) => `datasets/${f.split(path.sep).join('/')}`);
    assert.deepEqual([...shown].sort(), files.sort());
  });

  it('runs: the marts, the SCD2 snapshot and the SCD1 staging table hold the rows the seeds give', async () => {
    const run = await cli(['run', '-p', dir]);
    assert.equal(run.code, 0, run.err);
    assert.deepEqual(await json('SELECT customer_id, last_name, CAST(first_order AS VARCHAR) AS first, CAST(most_recent_order AS VARCHAR) AS last, number_of_orders AS n, customer_lifetime_value AS value FROM marts.customers ORDER BY 1'), [
      { customer_id: 1, last_name: 'Lovelace', first: '2018-01-01', last: '2018-01-09', n: 3, value: 53 },
      { customer_id: 2, last_name: 'Hopper', first: '2018-01-02', last: '2018-01-07', n: 2, value: 28 },
      { customer_id: 3, last_name: 'Turing', first: '2018-01-05', last: '2018-01-05', n: 1, value: 12 },
      { customer_id: 4, last_name: 'Dijkstra', first: '2018-01-08', last: '2018-01-08', n: 1, value: 30 },
    ]);
    assert.deepEqual(await json('SELECT order_id, credit_card_amount AS cc, coupon_amount AS coupon, bank_transfer_amount AS bank, gift_card_amount AS gift, amount FROM marts.orders WHERE order_id IN (2, 7) ORDER BY 1'), [
      { order_id: 2, cc: 15, coupon: 5, bank: 0, gift: 0, amount: 20 },
      { order_id: 7, cc: 0, coupon: 2, bank: 18, gift: 0, amount: 20 },
    ]);
    assert.deepEqual(await json("SELECT last_name, strftime(valid_from, '%Y-%m-%d') AS valid_from, strftime(valid_to, '%Y-%m-%d') AS valid_to, is_current FROM snapshots.customers WHERE customer_id = 1 ORDER BY valid_from"), [
      { last_name: 'Byron', valid_from: '2018-01-01', valid_to: '2018-02-01', is_current: false },
      { last_name: 'Lovelace', valid_from: '2018-02-01', valid_to: null, is_current: true },
    ]);
    assert.deepEqual(await json('SELECT count(*) AS n FROM snapshots.customers'), [{ n: 5 }]);
    assert.deepEqual(await json('SELECT customer_id, last_name FROM staging.customers ORDER BY 1'), [
      { customer_id: 1, last_name: 'Lovelace' }, { customer_id: 2, last_name: 'Hopper' }, { customer_id: 3, last_name: 'Turing' }, { customer_id: 4, last_name: 'Dijkstra' },
    ]);
  });

  it('the selector and the error the doc shows are what ingot prints', async () => {
    const plan = await cli(['plan', '-p', dir, '--select', 'staging.payments+', '--rerun', '--format', 'json']);
    assert.equal(plan.code, 0, plan.err);
    const steps = (JSON.parse(plan.out) as { steps?: { dataset: string }[]; dates?: { steps: { dataset: string }[] }[] });
    const names = new Set(JSON.stringify(steps).match(/"dataset":"[a-z_.]+"/g)!.map((s) => s.slice(11, -1)));
    assert.deepEqual([...names].sort(), ['marts.customers', 'marts.orders', 'staging.payments']);

    const file = path.join(dir, 'datasets', 'marts', 'customers.sql');
    await fs.writeFile(file, (await fs.readFile(file, 'utf8')).replace('LEFT JOIN marts.orders AS o', 'LEFT JOIN orders AS o'));
    const graph = await cli(['graph', '-p', dir]);
    const shown = /```\n(error \[DATASET_UNKNOWN\]: .*)\n```/.exec(await fs.readFile(DOC, 'utf8'))![1]!;
    assert.equal(graph.err, shown.replace('datasets/', `${dir}/datasets/`));
  });
});

describe('unqualified names in a Spark parsed plan', () => {
  it('are reported with `unqualified`, except in a plan with CTEs (whose references look the same)', async () => {
    const { relationsOfPlan } = await import('../src/engine/spark/sql.js');
    const plain = "'Project [*]\n+- 'Join Inner\n   :- 'UnresolvedRelation [silver, flights], [], false\n   +- 'UnresolvedRelation [flights_raw], [], false";
    assert.deepEqual(relationsOfPlan(plain), ['silver.flights']);
    assert.deepEqual(relationsOfPlan(plain, { unqualified: true }), ['flights_raw', 'silver.flights']);
    const withCte = "CTE [a]\n:  +- 'SubqueryAlias a\n:     +- 'Project [*]\n:        +- 'UnresolvedRelation [bronze, x], [], false\n+- 'Project [*]\n   +- 'UnresolvedRelation [a], [], false";
    assert.deepEqual(relationsOfPlan(withCte, { unqualified: true }), ['bronze.x']);
  });
});
