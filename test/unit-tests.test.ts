/**
 * `ingot test`: the unit tests of every example pass (and every silver and gold SQL dataset of
 * each example has at least one), then the runner itself on a small project written here: a
 * failing test's exact row diff (changed, missing, unexpected rows; quarantine; order under an
 * ORDER BY), CSV and JSON fixtures, declared column types, a failing `fail` expectation,
 * `--select`, and every error naming the file, line and test.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli, ROOT, tempDir } from './fixtures.js';

const EXAMPLES = path.join(ROOT, 'examples');

describe('ingot test on the examples', () => {
  it('passes for every example, and every silver and gold SQL dataset has a unit test', async () => {
    const { loadProject } = await import('../src/project.js');
    const { findTestFiles, readTestFile } = await import('../src/run/unit/test-file.js');
    const examples = (await fs.readdir(EXAMPLES, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    assert.ok(examples.length >= 6, examples.join(', '));
    for (const name of examples) {
      const dir = path.join(EXAMPLES, name);
      const r = await cli(['test', '-p', dir]);
      assert.equal(r.code, 0, `${name}:\n${r.out}\n${r.err}`);
      assert.doesNotMatch(r.out, /✗|!/, name);
      const tested = new Set<string>();
      for (const f of await findTestFiles(dir)) for (const t of (await readTestFile(f)).tests) tested.add(t.dataset);
      const project = await loadProject(dir);
      const untested = project.datasets.filter((d) => d.sql && !d.name.startsWith('bronze.') && !tested.has(d.name)).map((d) => d.name);
      assert.deepEqual(untested, [], `${name}: SQL datasets without a unit test`);
      const summary = /(\d+) tests? in \d+ files?: (\d+) passed, 0 failed, 0 errors/.exec(r.out);
      assert.ok(summary && summary[1] === summary[2] && Number(summary[1]) >= tested.size, `${name}: ${r.out}`);
    }
  });

});

describe('ingot test: the runner', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  const write = async (file: string, text: string): Promise<void> => {
    await fs.mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await fs.writeFile(path.join(dir, file), text);
  };
  /** Runs `ingot test` with only `tests` (file → YAML) as the project's test files. */
  const run = async (tests: Record<string, string>, args: string[] = []): Promise<{ code: number; out: string; err: string }> => {
    for (const f of await (await import('../src/run/unit/test-file.js')).findTestFiles(dir)) await fs.rm(f);
    for (const [f, text] of Object.entries(tests)) await write(f, text);
    return cli(['test', '-p', dir, ...args]);
  };

  before(async () => {
    ({ dir, cleanup } = await tempDir('unit-tests'));
    await write('ingot.config.ts', "export default { name: 'shop', lake: './lake', datasets: './datasets' };\n");
    await write('datasets/bronze/orders.ts', `import { dataset, files } from 'ingot';
export default dataset({
  name: 'bronze.orders',
  source: files({ path: 'landing/orders/day={day}/*.csv', format: 'csv', columns: { order_id: 'BIGINT', customer: 'VARCHAR', amount: 'DECIMAL(10,2)', ordered_at: 'TIMESTAMP', status: 'VARCHAR' } }),
  materialization: 'replace partition',
  partitionBy: ['day'],
});
`);
    await write('datasets/bronze/customers.ts', `import { dataset, files } from 'ingot';
export default dataset({ name: 'bronze.customers', source: files({ path: 'landing/customers.csv', format: 'csv' }), materialization: 'overwrite' });
`);
    await write('datasets/silver/orders.sql', `-- materialization: replace partition
-- partition_by: day
-- expect known_customer (quarantine): customer IN (SELECT customer FROM bronze.customers)
-- expect positive_amount (drop): amount > 0
-- expect valid_order (fail): order_id > 0
SELECT day, order_id, customer, amount, CAST(hour(ordered_at) AS INTEGER) AS hour, status = 'shipped' AS shipped
FROM bronze.orders
WHERE day >= {{start}} AND day < {{end}}
`);
    await write('datasets/gold/daily.sql', `-- materialization: overwrite
SELECT day, count(*) AS orders, sum(amount) AS revenue, avg(amount) AS mean_amount
FROM silver.orders
GROUP BY day
ORDER BY day DESC
`);
    await write('datasets/gold/customers.sql', `-- materialization: overwrite
SELECT customer, count(*) AS orders FROM silver.orders GROUP BY customer
`);
    await write('datasets/gold/ledger.sql', `-- materialization: append
-- expect new_day (quarantine): day NOT IN (SELECT day FROM {{this}})
SELECT day, sum(amount) AS revenue FROM silver.orders GROUP BY day
`);
    // columns nobody declares: bronze.customers is read as it comes, so gold.vip's cannot be described
    await write('datasets/gold/vip.sql', "-- materialization: overwrite\nSELECT customer FROM bronze.customers WHERE customer LIKE 'v%'\n");
    await write('datasets/gold/vip_orders.sql', '-- materialization: overwrite\nSELECT customer, count(*) AS orders FROM gold.vip JOIN silver.orders USING (customer) GROUP BY ALL\n');
  });
  after(() => cleanup());

  const SILVER_GIVEN = `  given:
    bronze.orders:
      rows:
        - { day: 2024-03-01, order_id: 1, customer: ann, amount: 10.50, ordered_at: '2024-03-01 09:15:00', status: shipped }
        - { day: 2024-03-01, order_id: 2, customer: bob, amount: 0, ordered_at: '2024-03-01 10:00:00', status: placed }
        - { day: 2024-03-01, order_id: 3, customer: eve, amount: 5, ordered_at: '2024-03-01 11:30:00', status: placed }
        - { day: 2024-03-02, order_id: 4, customer: ann, amount: 7, ordered_at: '2024-03-02 08:00:00', status: placed }
    bronze.customers:
      rows: [{ customer: ann }, { customer: bob }]
`;

  it('passes a correct test: declared types (TIMESTAMP, DECIMAL), the date\'s interval, drop and quarantine', async () => {
    const r = await run({ 'datasets/silver/orders.test.yaml': `march_first:
  dataset: silver.orders
  date: 2024-03-01
${SILVER_GIVEN}  expect:
    rows:
      - { day: 2024-03-01, order_id: 1, customer: ann, amount: 10.5, hour: 9, shipped: true }
    quarantine:
      rows:
        - { order_id: 3, customer: eve, _failed_expectations: known_customer }
` });
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /^✓ datasets\/silver\/orders\.test\.yaml › march_first \(silver\.orders @ 2024-03-01\) \d+ ms$/m);
    assert.match(r.out, /1 test in 1 file: 1 passed, 0 failed, 0 errors/);
  });

  it('prints the exact row diff of a failing test: changed (by key), missing and unexpected rows, and the quarantine', async () => {
    const r = await run({ 'datasets/silver/orders.test.yaml': `wrong:
  dataset: silver.orders
  date: 2024-03-01
${SILVER_GIVEN}  expect:
    rows:
      - { order_id: 1, customer: ann, amount: 10.25, hour: 9, shipped: false }
      - { order_id: 9, customer: zed, amount: 1, hour: 1, shipped: false }
    quarantine:
      rows: []
` });
    assert.equal(r.code, 1);
    const lines = r.out.split('\n');
    assert.match(lines[0]!, /^✗ datasets\/silver\/orders\.test\.yaml › wrong \(silver\.orders @ 2024-03-01\) \d+ ms$/);
    assert.deepEqual(lines.slice(1, -1), [
      '    rows: 2 expected, 1 actual (matched by order_id)',
      '    ~ changed    order_id=1: amount expected 10.25, actual 10.50; shipped expected false, actual true',
      '    - missing    order_id=9 customer=zed amount=1 hour=1 shipped=false',
      '    quarantine: 0 expected, 1 actual',
      '    + unexpected day=2024-03-01 order_id=3 customer=eve amount=5.00 hour=11 shipped=false _failed_expectations=known_customer',
    ], r.out);
    assert.match(lines.at(-1)!, /^1 test in 1 file: 0 passed, 1 failed, 0 errors \(\d+\.\d\ds\)$/);
  });

  it('reads CSV and JSON fixtures (relative to the test file), typed by the reader or declared columns', async () => {
    await write('datasets/gold/fixtures/orders.csv', 'day,order_id,customer,amount\n2024-03-01,1,ann,10.50\n2024-03-01,2,bob,4.50\n2024-03-02,3,ann,3.00\n');
    await write('datasets/gold/fixtures/daily.json', JSON.stringify([
      { day: '2024-03-02', orders: 1, revenue: 3, mean_amount: 3 },
      { day: '2024-03-01', orders: 2, revenue: 15, mean_amount: 7.5 },
    ]));
    await write('datasets/gold/fixtures/customers.ndjson', '{"customer": "ann", "orders": 2}\n{"customer": "bob", "orders": 1}\n');
    const r = await run({ 'datasets/gold/daily.test.yaml': `from_files:
  dataset: gold.daily
  given:
    silver.orders: { csv: fixtures/orders.csv, columns: { amount: 'DECIMAL(10,2)' } }
  expect: { json: fixtures/daily.json }
customers_from_files:
  dataset: gold.customers
  given:
    silver.orders: { csv: fixtures/orders.csv }
  expect: { json: fixtures/customers.ndjson }
` });
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /2 tests in 1 file: 2 passed, 0 failed, 0 errors/);
  });

  it('compares order under a top-level ORDER BY, and only there', async () => {
    const given = `  given:
    silver.orders:
      rows:
        - { day: 2024-03-01, amount: 2 }
        - { day: 2024-03-02, amount: 4 }
`;
    const r = await run({ 'datasets/gold/daily.test.yaml': `ascending:
  dataset: gold.daily
${given}  expect:
    rows:
      - { day: 2024-03-01, orders: 1 }
      - { day: 2024-03-02, orders: 1 }
`, 'datasets/gold/customers.test.yaml': `any_order:
  dataset: gold.customers
  given:
    silver.orders:
      rows: [{ customer: b }, { customer: a }, { customer: b }]
  expect:
    rows: [{ customer: a, orders: 1 }, { customer: b, orders: 2 }]
` });
    assert.equal(r.code, 1);
    assert.match(r.out, /✓ datasets\/gold\/customers\.test\.yaml › any_order/);
    const lines = r.out.split('\n');
    const at = lines.findIndex((l) => l.startsWith('✗ datasets/gold/daily.test.yaml › ascending'));
    assert.deepEqual(lines.slice(at + 1, at + 8), [
      '    rows: 2 expected, 2 actual',
      "    the same rows in another order than the query's ORDER BY gives; expected:",
      '      1. day=2024-03-01 orders=1',
      '      2. day=2024-03-02 orders=1',
      '    actual:',
      '      1. day=2024-03-02 orders=1',
      '      2. day=2024-03-01 orders=1',
    ], r.out);
  });

  it('fails a test whose rows fail a `fail` expectation, and doubles compare within six significant digits', async () => {
    const r = await run({ 'datasets/silver/orders.test.yaml': `bad_order:
  dataset: silver.orders
  date: 2024-03-01
  given:
    bronze.orders:
      rows: [{ day: 2024-03-01, order_id: -1, customer: ann, amount: 1, ordered_at: '2024-03-01 00:00:00', status: placed }]
    bronze.customers: { rows: [{ customer: ann }] }
  expect: { rows: [] }
`, 'datasets/gold/daily.test.yaml': `thirds:
  dataset: gold.daily
  given:
    silver.orders: { rows: [{ day: 2024-03-01, amount: 1 }, { day: 2024-03-01, amount: 1 }, { day: 2024-03-01, amount: 2 }] }
  expect:
    rows: [{ day: 2024-03-01, mean_amount: 1.333333 }]
rounded_too_far:
  dataset: gold.daily
  given:
    silver.orders: { rows: [{ day: 2024-03-01, amount: 1 }, { day: 2024-03-01, amount: 1 }, { day: 2024-03-01, amount: 2 }] }
  expect:
    rows: [{ day: 2024-03-01, mean_amount: 1.33 }]
` });
    assert.equal(r.code, 1);
    assert.match(r.out, /✓ datasets\/gold\/daily\.test\.yaml › thirds/);
    assert.match(r.out, /✗ datasets\/gold\/daily\.test\.yaml › rounded_too_far[^\n]*\n {4}rows: 1 expected, 1 actual \(matched by day\)\n {4}~ changed {4}day=2024-03-01: mean_amount expected 1\.33, actual 1\.333333333333333/);
    assert.match(r.out, /✗ datasets\/silver\/orders\.test\.yaml › bad_order[^\n]*\n {4}the run of silver\.orders fails: silver\.orders: expectation valid_order \(order_id > 0\) failed for 1 of 1 rows/);
  });

  it('--select runs the tests of the selected datasets only', async () => {
    const tests = {
      'datasets/gold/daily.test.yaml': `d:
  dataset: gold.daily
  given: { silver.orders: { rows: [{ day: 2024-03-01, amount: 1 }] } }
  expect: { rows: [{ orders: 1 }] }
`,
      'datasets/gold/customers.test.yaml': `c:
  dataset: gold.customers
  given: { silver.orders: { rows: [{ customer: a }] } }
  expect: { rows: [{ customer: a, orders: 1 }] }
`,
    };
    const all = await run(tests);
    assert.match(all.out, /2 tests in 2 files: 2 passed/);
    const one = await run(tests, ['--select', 'gold.daily']);
    assert.equal(one.code, 0, one.out);
    assert.match(one.out, /› d \(gold\.daily\)/);
    assert.doesNotMatch(one.out, /› c /);
    assert.match(one.out, /1 test in 2 files: 1 passed/);
    const downstream = await run(tests, ['--select', 'silver.orders+', '--exclude', 'gold.customers']);
    assert.match(downstream.out, /1 test in 2 files: 1 passed/);
    const bad = await run(tests, ['--select', 'gold.nope']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /SELECTOR_INVALID/);
  });

  it('names the file, line and test of every error', async () => {
    await write('datasets/gold/data.csv', 'day,amount\n');
    const r = await run({ 'datasets/gold/errors.test.yaml': `unknown_dataset:
  dataset: gold.dayly
  expect: { rows: [] }
not_read:
  dataset: gold.daily
  given:
    silver.orders: { rows: [] , columns: { day: DATE, amount: DOUBLE } }
    bronze.orders: { rows: [] }
  expect: { rows: [] }
not_given:
  dataset: silver.orders
  given:
    bronze.orders: { rows: [] }
  expect: { rows: [] }
unknown_column:
  dataset: gold.daily
  given:
    silver.orders: { rows: [{ day: 2024-03-01, amount: 1 }] }
  expect:
    rows: [{ day: 2024-03-01, order_count: 1 }]
source_dataset:
  dataset: bronze.customers
  expect: { rows: [] }
no_quarantine:
  dataset: gold.daily
  given:
    silver.orders: { rows: [{ day: 2024-03-01, amount: 1 }] }
  expect:
    rows: [{ orders: 1 }]
    quarantine: { rows: [] }
missing_fixture:
  dataset: gold.daily
  given:
    silver.orders: { csv: nowhere.csv }
  expect: { rows: [] }
typo:
  dataset: gold.daily
  given: {}
  expected: { rows: [] }
row_lacks_column:
  dataset: gold.daily
  given:
    silver.orders: { rows: [{ day: 2024-03-01, amount: 1 }, { day: 2024-03-02, amount: 1 }] }
  expect:
    rows:
      - { day: 2024-03-01, orders: 1 }
      - { day: 2024-03-02 }
untyped_empty:
  dataset: gold.vip_orders
  given:
    gold.vip: { rows: [] }
    silver.orders: { rows: [] }
  expect: { rows: [] }
bad_date:
  dataset: gold.daily
  date: 2024-02-30
  given:
    silver.orders: { rows: [] }
  expect: { rows: [] }
`, 'datasets/broken.test.yaml': 'a: [1, 2\nb: c\n' });
    assert.equal(r.code, 1);
    const error = (name: string): string => {
      const lines = r.out.split('\n');
      const i = lines.findIndex((l) => l.includes(` › ${name}`));
      assert.ok(i >= 0 && lines[i]!.startsWith('! '), `${name}: ${r.out}`);
      return lines[i + 1]!.trim();
    };
    const f = path.join('datasets', 'gold', 'errors.test.yaml');
    const at = (line: number, name: string): string => `error [TEST_INVALID]: ${path.relative(process.cwd(), path.join(dir, f))}:${line}: test ${name}: `;
    assert.equal(error('unknown_dataset'), `${at(2, 'unknown_dataset')}unknown dataset gold.dayly (datasets: bronze.customers, bronze.orders, gold.customers, gold.daily, gold.ledger, gold.vip, gold.vip_orders, silver.orders)`);
    assert.equal(error('not_read'), `${at(8, 'not_read')}given bronze.orders is not read by gold.daily (it reads: silver.orders)`);
    assert.equal(error('not_given'), `${at(13, 'not_given')}silver.orders reads bronze.customers (in its SQL or an expectation): give its rows under given (rows: [] for none)`);
    assert.equal(error('unknown_column'), `${at(20, 'unknown_column')}expect: column order_count is not in the output of gold.daily (columns: day, orders, revenue, mean_amount)`);
    assert.equal(error('source_dataset'), `${at(22, 'source_dataset')}bronze.customers reads a files source: unit tests run a dataset's SQL (test the datasets that read bronze.customers)`);
    assert.equal(error('no_quarantine'), `${at(30, 'no_quarantine')}expect quarantine: gold.daily has no quarantine expectation (its expectations: none)`);
    assert.match(error('missing_fixture'), /errors\.test\.yaml:34: test missing_fixture: given silver\.orders: fixture file .*nowhere\.csv does not exist$/);
    assert.equal(error('typo'), `${at(39, 'typo')}Unrecognized key: "expected"`);
    assert.equal(error('row_lacks_column'), `${at(47, 'row_lacks_column')}expect: row 2 lacks orders, which other rows list: give it (null for NULL)`);
    assert.match(error('untyped_empty'), /errors\.test\.yaml:51: test untyped_empty: given gold\.vip: no rows and no declared columns: give columns: \{ name: TYPE \} \(or at least one row\)$/);
    assert.equal(error('bad_date'), `${at(56, 'bad_date')}date "2024-02-30" is not a valid date (YYYY-MM-DD), hour (YYYY-MM-DDTHH:00) or minute (YYYY-MM-DDTHH:MM)`);
    assert.match(r.out, /! datasets\/broken\.test\.yaml › \(file\) 0 ms\n {4}error \[TEST_INVALID\]: .*broken\.test\.yaml:2: not valid YAML: /);
    assert.match(r.out, /12 tests in 2 files: 0 passed, 0 failed, 12 errors/);
  });

  it('compares values by the output column\'s type: instants, decimals, integers, doubles, nested values', async () => {
    const { equalValue, diffRows } = await import('../src/run/unit/row-diff.js');
    assert.ok(equalValue('2001-01-15T08:30', '2001-01-15 08:30:00', 'timestamp_ntz'));
    assert.ok(equalValue('2001-01-15 10:30:00+02:00', '2001-01-15 08:30:00+00', 'timestamp'));
    assert.ok(equalValue('2001-01-15 08:30:00', '2001-01-15 08:30:00+00', 'timestamp'));
    assert.ok(!equalValue('2001-01-15 08:30:01', '2001-01-15 08:30:00+00', 'timestamp'));
    assert.ok(equalValue(10.5, '10.50', 'decimal(10,2)'));
    assert.ok(!equalValue(10.25, '10.20', 'decimal(10,2)'));
    assert.ok(equalValue(5, '5', 'long'));
    assert.ok(!equalValue(5.5, '6', 'long'));
    assert.ok(equalValue(0.333333, 1 / 3, 'double'));
    assert.ok(!equalValue(0.33, 1 / 3, 'double'));
    assert.ok(equalValue({ a: [1, 2.000001] }, { a: [1, 2] }, { type: 'struct', fields: [] }));
    assert.ok(!equalValue('x', null, 'string'));
    // no key can pair the rows (one column): a missing and an unexpected row
    const d = diffRows([{ v: 1 }], [{ v: 2 }], ['v'], { v: 'long' });
    assert.deepEqual([d.missing, d.unexpected, d.changed.length], [[{ v: 1 }], [{ v: 2 }], 0]);
  });

  it('types a given table by its dataset\'s output columns (its query described over its upstreams\' declared columns)', async () => {
    // amount is text here: it sums only because silver.orders.amount is DECIMAL(10,2) (bronze.orders declares it)
    const r = await run({ 'datasets/gold/daily.test.yaml': `typed:
  dataset: gold.daily
  given:
    silver.orders: { rows: [{ day: '2024-03-01', amount: '10.5' }, { day: '2024-03-01', amount: '0.25' }] }
  expect:
    rows: [{ day: 2024-03-01, orders: 2, revenue: 10.75, mean_amount: 5.375 }]
` });
    assert.equal(r.code, 0, r.out + r.err);
    const { loadProject } = await import('../src/project.js');
    const { openLocalEngine } = await import('../src/engine/registry.js');
    const { buildGraph } = await import('../src/pipeline/graph.js');
    const { upstreamTypes } = await import('../src/run/unit/upstream-types.js');
    const engine = await openLocalEngine();
    try {
      const project = await loadProject(dir);
      const graph = await buildGraph(project.datasets, (sql) => engine.references(sql), () => engine.dialect);
      const types = await upstreamTypes(graph, engine, path.join(dir, '.types'));
      assert.deepEqual(types.get('silver.orders'), { day: 'DATE', order_id: 'BIGINT', customer: 'VARCHAR', amount: 'DECIMAL(10,2)', hour: 'INTEGER', shipped: 'BOOLEAN' });
      assert.deepEqual(types.get('gold.customers'), { customer: 'VARCHAR', orders: 'BIGINT' });
      // bronze.customers declares no columns: only its lineage columns are known, and nothing downstream of it is described from them
      assert.deepEqual(Object.keys(types.get('bronze.customers')!).sort(), ['_ingested_at', '_run_id', '_source']);
    } finally {
      await engine.close();
    }
  });

  it('gives an expectation reading the dataset\'s own table ({{this}}) the rows the test gives for it', async () => {
    const r = await run({ 'datasets/gold/ledger.test.yaml': `already_booked:
  dataset: gold.ledger
  given:
    silver.orders: { rows: [{ day: 2024-03-01, amount: 2 }, { day: 2024-03-02, amount: 3 }, { day: 2024-03-02, amount: 4 }] }
    gold.ledger: { rows: [{ day: 2024-03-01, revenue: 2 }] }
  expect:
    rows: [{ day: 2024-03-02, revenue: 7 }]
    quarantine: { rows: [{ day: 2024-03-01, revenue: 2, _failed_expectations: new_day }] }
nothing_booked:
  dataset: gold.ledger
  given:
    silver.orders: { rows: [{ day: 2024-03-01, amount: 2 }] }
  expect:
    rows: [{ day: 2024-03-01, revenue: 2 }]
    quarantine: { rows: [] }
` });
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /2 tests in 1 file: 2 passed/);
  });
});
