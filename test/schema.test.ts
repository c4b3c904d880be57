import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { Lake } from '../src/table/lake.js';
import { loadProject } from '../src/project.js';
import { Runner } from '../src/run/runner.js';
import type { RunResult } from '../src/metadata/records.js';
import { losslessCast } from '../src/run/schema-change.js';
import { cli, tempDir } from './fixtures.js';
import { canonicalRows, localTable, readWithDeltaRs, readWithIngot } from './helpers.js';

/** NDJSON landing files by day: the schema drifts from day to day. */
const DAYS: Record<string, string[]> = {
  // first load: id long, name string, amount double
  '2024-01-01': ['{"id":1,"name":"a","amount":1.5}', '{"id":2,"name":"b","amount":2.25}'],
  // a new column
  '2024-01-02': ['{"id":3,"name":"c","amount":3.5,"country":"DE"}', '{"id":4,"name":"d","amount":4.75,"country":"FR"}'],
  // amount only holds whole numbers, read as long: every value fits the table's double
  '2024-01-03': ['{"id":5,"name":"e","amount":7,"country":"US"}'],
  // id is text in one row (read as string): it does not fit the table's long
  '2024-01-04': ['{"id":6,"name":"f","amount":1.0,"country":"US"}', '{"id":"x-17","name":"g","amount":2.0,"country":"US"}', '{"id":8,"name":"h","amount":3.5}'],
};

/** A project with one dataset over the landing files; `extra` adds definition fields. */
async function project(prefix: string, extra: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const t = await tempDir(prefix);
  await fs.writeFile(path.join(t.dir, 'ingot.config.ts'), "export default { lake: './lake' };\n");
  for (const [day, rows] of Object.entries(DAYS)) {
    await fs.mkdir(path.join(t.dir, 'landing', `day=${day}`), { recursive: true });
    await fs.writeFile(path.join(t.dir, 'landing', `day=${day}`, 'orders.ndjson'), rows.join('\n') + '\n');
  }
  await fs.mkdir(path.join(t.dir, 'datasets', 'bronze'), { recursive: true });
  await fs.writeFile(path.join(t.dir, 'datasets', 'bronze', 'orders.ts'), `export default {
  name: 'bronze.orders',
  source: { kind: 'files', path: 'landing/day={day}/*.ndjson', format: 'ndjson' },
  materialization: 'replace partition',
  partitionBy: ['day'],
  ${extra}
};\n`);
  return t;
}

async function run(dir: string, days: string[]): Promise<RunResult[]> {
  const runner = await Runner.open(await loadProject(dir));
  try {
    return await runner.runAll(days);
  } finally {
    await runner.close();
  }
}

async function sql(dir: string, query: string): Promise<Record<string, unknown>[]> {
  const q = await cli(['sql', '-p', dir, '--format', 'json', query]);
  assert.equal(q.code, 0, q.err);
  return JSON.parse(q.out) as Record<string, unknown>[];
}

const fieldsOf = async (dir: string, name: string): Promise<string[]> =>
  (await new Lake(path.join(dir, 'lake')).table(name).snapshot()).schema.fields.map((f) => `${f.name} ${String(f.type)}`);

describe('schema on load: evolution and incompatible types', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await project('schema-fail', '')));
  after(() => cleanup());

  it('adds a new column by schema evolution and casts a lossless change', async () => {
    const results = await run(dir, ['2024-01-01', '2024-01-02', '2024-01-03']);
    assert.deepEqual(results.map((r) => r.status), ['success', 'success', 'success'], results.map((r) => r.error).join('; '));
    assert.deepEqual(await fieldsOf(dir, 'bronze.orders'), [
      'id long', 'name string', 'amount double', 'day date', '_source string', '_ingested_at timestamp', '_run_id string', 'country string',
    ]);
    const rows = await sql(dir, 'SELECT CAST(id AS INTEGER) AS id, amount, country FROM bronze.orders ORDER BY id');
    assert.deepEqual(rows, [
      { id: 1, amount: 1.5, country: null }, { id: 2, amount: 2.25, country: null },
      { id: 3, amount: 3.5, country: 'DE' }, { id: 4, amount: 4.75, country: 'FR' }, { id: 5, amount: 7, country: 'US' },
    ]);
  });

  it('reads the evolved table identically with delta-rs', async () => {
    const location = path.join(dir, 'lake', 'bronze', 'orders');
    const engine = await DuckDBEngine.open();
    try {
      const ours = await readWithIngot(engine, localTable(location));
      const theirs = readWithDeltaRs(location);
      assert.equal(theirs.version, ours.version);
      assert.deepEqual(theirs.schema.map((f) => f.name), ours.schema.fields.map((f) => f.name));
      assert.equal(ours.rows.length, 5);
      assert.deepEqual(canonicalRows(ours.schema, theirs.rows), canonicalRows(ours.schema, ours.rows));
    } finally {
      await engine.close();
    }
  });

  it("fails a run whose value does not fit the table's type, naming column, types and file", async () => {
    const before = (await new Lake(path.join(dir, 'lake')).table('bronze.orders').snapshot()).version;
    const [r] = await run(dir, ['2024-01-04']);
    assert.equal(r!.status, 'failed');
    assert.match(r!.error!, /bronze\.orders: column id: value '"x-17"' \(string\) in landing\/day=2024-01-04\/orders\.ndjson does not fit the table's type long/);
    assert.equal((await new Lake(path.join(dir, 'lake')).table('bronze.orders').snapshot()).version, before, 'nothing committed');
  });
});

describe("schema on load: onSchemaChange 'quarantine'", () => {
  it('quarantines the rows whose value does not fit and keeps the rest', async (t) => {
    const { dir, cleanup } = await project('schema-quarantine', "onSchemaChange: 'quarantine',");
    t.after(cleanup);
    const results = await run(dir, Object.keys(DAYS));
    assert.deepEqual(results.map((r) => r.status), ['success', 'success', 'success', 'success'], results.map((r) => r.error).join('; '));
    const last = results[3]!.datasets[0]!;
    assert.equal(last.quarantined, 1);
    assert.deepEqual(last.expectations.map((e) => [e.name, e.failed]), [['column_types_fit', 1]]);
    const kept = await sql(dir, "SELECT CAST(id AS INTEGER) AS id, name FROM bronze.orders WHERE day = DATE '2024-01-04' ORDER BY id");
    assert.deepEqual(kept, [{ id: 6, name: 'f' }, { id: 8, name: 'h' }]);
    const q = await sql(dir, 'SELECT id, name, _schema_error, _failed_expectations FROM bronze.orders_quarantine');
    assert.deepEqual(q, [{ id: null, name: 'g', _schema_error: 'id: "x-17" (string) does not fit BIGINT', _failed_expectations: 'column_types_fit' }]);
    assert.ok(!(await fieldsOf(dir, 'bronze.orders')).some((f) => f.startsWith('_schema_error')), 'kept rows have no _schema_error');
  });
});

describe('schema on load: declared schema (data contract)', () => {
  const contract = "schema: { id: 'INTEGER', name: 'VARCHAR', amount: 'DECIMAL(10,2)', day: 'DATE' },";

  it('casts to the declared types and drops undeclared columns when told to', async (t) => {
    const { dir, cleanup } = await project('contract', `${contract} extraColumns: 'drop',`);
    t.after(cleanup);
    const results = await run(dir, ['2024-01-01', '2024-01-02', '2024-01-03']);
    assert.deepEqual(results.map((r) => r.status), ['success', 'success', 'success'], results.map((r) => r.error).join('; '));
    assert.deepEqual(await fieldsOf(dir, 'bronze.orders'), [
      'id integer', 'name string', 'amount decimal(10,2)', 'day date', '_source string', '_ingested_at timestamp', '_run_id string',
    ]);
    const rows = await sql(dir, 'SELECT id, CAST(amount AS VARCHAR) AS amount FROM bronze.orders ORDER BY id');
    assert.deepEqual(rows, [{ id: 1, amount: '1.50' }, { id: 2, amount: '2.25' }, { id: 3, amount: '3.50' }, { id: 4, amount: '4.75' }, { id: 5, amount: '7.00' }]);
  });

  it('fails on an undeclared column by default, naming it', async (t) => {
    const { dir, cleanup } = await project('contract-extra', contract);
    t.after(cleanup);
    const [r1, r2] = await run(dir, ['2024-01-01', '2024-01-02']);
    assert.equal(r1!.status, 'success', r1!.error);
    assert.equal(r2!.status, 'failed');
    assert.match(r2!.error!, /bronze\.orders: column country \(string\) is not in the declared schema/);
  });

  it('fails on a missing declared column and on a value the declared type cannot hold', async (t) => {
    const { dir, cleanup } = await project('contract-missing', "schema: { id: 'INTEGER', email: 'VARCHAR' }, extraColumns: 'allow',");
    t.after(cleanup);
    const [r] = await run(dir, ['2024-01-01']);
    assert.equal(r!.status, 'failed');
    assert.match(r!.error!, /declared column email is missing from the output/);

    const p2 = await project('contract-value', "schema: { amount: 'DECIMAL(3,1)' }, extraColumns: 'allow',");
    t.after(p2.cleanup);
    const [r2] = await run(p2.dir, ['2024-01-01']);
    assert.equal(r2!.status, 'failed');
    assert.match(r2!.error!, /column amount: value '2\.25' \(double\) in landing\/day=2024-01-01\/orders\.ndjson does not fit the declared type DECIMAL\(3,1\)/);

    const p3 = await project('contract-bad-type', "schema: { amount: 'MONEY(2)' }, extraColumns: 'allow',");
    t.after(p3.cleanup);
    const [r3] = await run(p3.dir, ['2024-01-01']);
    assert.match(r3!.error!, /declared type MONEY\(2\) of column amount is not a SQL type/);
  });

  it('quarantines values the declared type cannot hold with onSchemaChange quarantine', async (t) => {
    const { dir, cleanup } = await project('contract-quarantine', "schema: { id: 'INTEGER', amount: 'DECIMAL(3,1)' }, extraColumns: 'allow', onSchemaChange: 'quarantine',");
    t.after(cleanup);
    const [r] = await run(dir, ['2024-01-01']);
    assert.equal(r!.status, 'success', r!.error);
    assert.deepEqual(await sql(dir, 'SELECT id, CAST(amount AS VARCHAR) AS amount FROM bronze.orders'), [{ id: 1, amount: '1.5' }]);
    assert.deepEqual(await sql(dir, 'SELECT id, amount, _schema_error FROM bronze.orders_quarantine'), [{ id: 2, amount: null, _schema_error: 'amount: 2.25 (double) does not fit DECIMAL(3,1)' }]);
  });
});

describe('lossless casts', () => {
  it('widen integers, decimals and dates, never narrow', () => {
    const yes = [['integer', 'long'], ['short', 'double'], ['integer', 'decimal(10,0)'], ['decimal(5,2)', 'decimal(7,3)'], ['float', 'double'], ['date', 'timestamp'], ['long', 'string']];
    const no = [['long', 'integer'], ['long', 'double'], ['integer', 'decimal(9,0)'], ['decimal(5,2)', 'decimal(5,1)'], ['double', 'float'], ['timestamp', 'date'], ['string', 'long'], ['binary', 'string']];
    for (const [a, b] of yes) assert.equal(losslessCast(a!, b!), true, `${a} → ${b}`);
    for (const [a, b] of no) assert.equal(losslessCast(a!, b!), false, `${a} → ${b}`);
  });
});
