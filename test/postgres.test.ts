import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { queryLake } from '../src/operations/query.js';
import { datasetSchema } from '../src/pipeline/definition.js';
import { postgres } from '../src/pipeline/sources/postgres-source.js';
import { loadProject } from '../src/project.js';
import { Runner } from '../src/run/runner.js';
import { tempDir } from './fixtures.js';
import { startPostgres, type PostgresServer } from './postgres-server.js';

const CREATE = `CREATE TABLE public.orders (
  id bigserial PRIMARY KEY, qty int2, n int4, big int8, amount numeric(12,2), ratio numeric, f4 real, f8 double precision,
  ok boolean, name text, code varchar(10), day date, at timestamp, at_tz timestamptz, uid uuid, doc jsonb, raw json,
  tags text[], nums int4[], prices numeric(6,2)[], blob bytea)`;

const INSERT = `INSERT INTO public.orders (qty, n, big, amount, ratio, f4, f8, ok, name, code, day, at, at_tz, uid, doc, raw, tags, nums, prices, blob)`;

/** Rows of every type: values, edge values, unicode, NULLs everywhere but the id. */
const FIRST_ROWS = `${INSERT} VALUES
  (3, 42, 9007199254740993, 1234567890.12, 3.14159265358979323846264338327950288419716939937510, 1.5, -2.25, true, 'Zürich, "☃"' || chr(10) || '東京 \\' || chr(13) || chr(10) || ',', 'A-1',
   '2024-02-29', '2024-02-29 13:45:00.123456', '2024-02-29 13:45:00.654321+05:30', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
   '{"b": [1, 2.5, null], "a": "é"}', '{"keep":  "spacing"}', '{"a,b","c\\"d",NULL,"δ"}', '{1,NULL,-3}', '{1.50,NULL,2.00}', '\\x00ff10'),
  (-32768, -2147483648, -9223372036854775808, -0.01, 0, 0, 0, false, '', '', '0001-01-01', '1970-01-01 00:00:00', '1970-01-01 00:00:00+00',
   '00000000-0000-0000-0000-000000000000', '[]', 'null', '{}', '{}', '{}', '\\x'),
  (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`;

/** Canonical text of each column, computed in PostgreSQL and in DuckDB over the Delta table. */
const COLUMNS = ['id', 'qty', 'n', 'big', 'amount', 'ratio', 'f4', 'f8', 'ok', 'name', 'code', 'day', 'at', 'at_tz', 'uid', 'doc', 'raw', 'tags', 'nums', 'prices', 'blob'];
const PG_CANON = COLUMNS.map((c) => {
  if (['tags', 'nums'].includes(c)) return `array_to_json(${c})::text AS ${c}`;
  if (c === 'prices') return `array_to_json(${c}::text[])::text AS ${c}`;
  if (c === 'blob') return `encode(${c}, 'hex') AS ${c}`;
  if (c === 'f4' || c === 'f8') return `${c}::numeric(18,6)::text AS ${c}`;
  return `${c}::text AS ${c}`;
}).join(', ');
const DUCK_CANON = COLUMNS.map((name) => {
  const c = `"${name}"`;
  if (['tags', 'nums'].includes(name)) return `CAST(to_json(${c}) AS VARCHAR) AS ${c}`;
  if (name === 'prices') return `CAST(to_json(CAST(${c} AS VARCHAR[])) AS VARCHAR) AS ${c}`;
  if (name === 'blob') return `lower(hex(${c})) AS ${c}`;
  if (name === 'at') return `CAST(CAST(${c} AS TIMESTAMP) AS VARCHAR) AS ${c}`;
  if (name === 'f4' || name === 'f8') return `CAST(CAST(${c} AS DECIMAL(18,6)) AS VARCHAR) AS ${c}`;
  return `CAST(${c} AS VARCHAR) AS ${c}`;
}).join(', ');

async function project(prefix: string, datasets: Record<string, string>): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const t = await tempDir(prefix);
  await fs.writeFile(path.join(t.dir, 'ingot.config.ts'), "export default { lake: './lake' };\n");
  for (const [file, text] of Object.entries(datasets)) {
    await fs.mkdir(path.dirname(path.join(t.dir, 'datasets', file)), { recursive: true });
    await fs.writeFile(path.join(t.dir, 'datasets', file), text);
  }
  return t;
}

async function withRunner<T>(dir: string, fn: (r: Runner) => Promise<T>): Promise<T> {
  const runner = await Runner.open(await loadProject(dir));
  try {
    return await fn(runner);
  } finally {
    await runner.close();
  }
}

describe('postgres source', () => {
  let server: PostgresServer;
  let client: pg.Client;
  // the source's temporary files go here; the engine deletes them with the relation
  const tmp = path.join(os.tmpdir(), `ingot-pg-test-${process.pid}`);
  before(async () => {
    server = await startPostgres();
    await fs.mkdir(tmp, { recursive: true });
    process.env['TMPDIR'] = tmp;
    process.env['INGOT_TEST_PG'] = server.url;
    client = new pg.Client({ connectionString: server.url });
    await client.connect();
    await client.query("SET TimeZone = 'UTC'");
    await client.query(CREATE);
    await client.query(FIRST_ROWS);
  });
  after(async () => {
    await client?.end();
    await server?.stop();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  const pgRows = async (): Promise<string[][]> =>
    (await client.query<Record<string, string | null>>(`SELECT ${PG_CANON} FROM public.orders ORDER BY id`)).rows.map((r) => COLUMNS.map((c) => r[c] ?? 'NULL'));

  it('loads every type faithfully, then incrementally; a failed run leaves the bookmark so rows load exactly once', async (t) => {
    const p = await project('pg', {
      'bronze/orders.ts': `export default {
  name: 'bronze.orders',
  source: { kind: 'postgres', connection: 'env:INGOT_TEST_PG', table: 'public.orders', cursor: 'id' },
  materialization: 'append',
};\n`,
      'silver/orders.ts': `export default {
  name: 'silver.orders',
  sql: 'SELECT id, qty FROM bronze.orders',
  materialization: 'overwrite',
  expectations: [{ name: 'qty_not_7777', condition: 'qty IS NULL OR qty <> 7777', action: 'fail' }],
};\n`,
    });
    t.after(p.cleanup);
    await withRunner(p.dir, async (runner) => {
      const r1 = await runner.run('2024-01-01');
      assert.equal(r1.status, 'success', r1.error);
      assert.equal(r1.datasets[0]!.rowsOut, 3);
      const lakeRows = async (): Promise<string[][]> =>
        (await queryLake(runner.lake, runner.engine, `SELECT ${DUCK_CANON} FROM bronze.orders ORDER BY id`)).map((r) => COLUMNS.map((c) => (r[c] === null ? 'NULL' : String(r[c]))));
      assert.deepEqual(await lakeRows(), await pgRows());
      const [types] = await queryLake(runner.lake, runner.engine, 'SELECT typeof(amount) a, typeof(ratio) r, typeof(at_tz) z, typeof(nums) l, typeof(prices) p, typeof(blob) b, typeof(big) g, typeof(_source) s, _source src FROM bronze.orders LIMIT 1');
      assert.deepEqual(types, { a: 'DECIMAL(12,2)', r: 'VARCHAR', z: 'TIMESTAMP WITH TIME ZONE', l: 'INTEGER[]', p: 'DECIMAL(6,2)[]', b: 'BLOB', g: 'BIGINT', s: 'VARCHAR', src: 'postgres:public.orders' });

      // incremental: only the new rows
      await client.query(`${INSERT} SELECT i, i, i, i, i, i, i, true, 'row ' || i, NULL, NULL, NULL, now(), NULL, NULL, NULL, NULL, ARRAY[i], NULL, NULL FROM generate_series(1, 500) AS i`);
      const r2 = await runner.run('2024-01-02');
      assert.equal(r2.status, 'success', r2.error);
      assert.equal(r2.datasets[0]!.rowsOut, 500);
      assert.deepEqual(await lakeRows(), await pgRows());
      const r3 = await runner.run('2024-01-03');
      assert.equal(r3.status, 'success', r3.error);
      assert.equal(r3.datasets[0]!.rowsOut, 0, 'nothing new: nothing loaded');

      // a failing downstream expectation: nothing commits, the bookmark stays
      await client.query("SELECT setval('public.orders_id_seq', 999)");
      await client.query(`INSERT INTO public.orders (qty) SELECT 7777 FROM generate_series(1, 3)`);
      const r4 = await runner.run('2024-01-04');
      assert.equal(r4.status, 'failed');
      assert.match(r4.error!, /qty_not_7777/);
      const [before = {}] = await queryLake(runner.lake, runner.engine, 'SELECT CAST(count(*) AS INTEGER) n, CAST(count(DISTINCT id) AS INTEGER) ids FROM bronze.orders');
      assert.deepEqual([before['n'], before['ids']], [503, 503]);
      // the source is fixed; the same rows (same cursor values) load on the next run, once
      await client.query('UPDATE public.orders SET qty = 7 WHERE qty = 7777');
      const r5 = await runner.run('2024-01-05');
      assert.equal(r5.status, 'success', r5.error);
      assert.equal(r5.datasets[0]!.rowsOut, 3);
      const [{ n, ids, max, fixed } = {}] = await queryLake(runner.lake, runner.engine, 'SELECT CAST(count(*) AS INTEGER) n, CAST(count(DISTINCT id) AS INTEGER) ids, CAST(max(id) AS INTEGER) max, CAST(count(*) FILTER (WHERE qty = 7) AS INTEGER) fixed FROM bronze.orders');
      const [pgCount] = (await client.query<{ n: number }>('SELECT count(*)::int n FROM public.orders')).rows;
      assert.deepEqual([n, ids, max, fixed], [pgCount!.n, pgCount!.n, 1002, 4]);
      assert.deepEqual(await fs.readdir(tmp), [], 'no temporary file is left, after successful and failed runs');
    });
  });

  it('a query source with a timestamptz cursor; a full refresh reloads everything', async (t) => {
    const p = await project('pg-query', {
      'bronze/recent.ts': `export default {
  name: 'bronze.recent',
  source: { kind: 'postgres', connection: 'env:INGOT_TEST_PG', query: 'SELECT id, at_tz FROM public.orders WHERE at_tz IS NOT NULL', cursor: 'at_tz' },
  materialization: 'append',
};\n`,
    });
    t.after(p.cleanup);
    await withRunner(p.dir, async (runner) => {
      const expected = async (): Promise<number> => (await client.query<{ n: number }>('SELECT count(*)::int n FROM public.orders WHERE at_tz IS NOT NULL')).rows[0]!.n;
      const r1 = await runner.run('2024-01-01');
      assert.equal(r1.status, 'success', r1.error);
      assert.equal(r1.datasets[0]!.rowsOut, await expected());
      // a microsecond later than the bookmark is new; the bookmark itself is not
      await client.query(`INSERT INTO public.orders (at_tz) SELECT max(at_tz) + interval '1 microsecond' FROM public.orders`);
      const r2 = await runner.run('2024-01-02');
      assert.equal(r2.status, 'success', r2.error);
      assert.equal(r2.datasets[0]!.rowsOut, 1);
      const full = await runner.run(undefined);
      assert.equal(full.status, 'success', full.error);
      assert.equal(full.datasets[0]!.rowsOut, await expected());
    });
  });

  it('a large load: text with quotes, commas and line breaks read back exactly across a file DuckDB reads in parallel', async (t) => {
    await client.query(`CREATE TABLE public.notes AS SELECT i AS id, CASE i % 4
        WHEN 0 THEN 'line ' || i || chr(10) || 'next, "quoted" ' || repeat('x', i % 97)
        WHEN 1 THEN '"' || i || '",' || chr(13) || chr(10) || '\\N'
        WHEN 2 THEN '' ELSE NULL END AS note
      FROM generate_series(1, 300000) AS i`);
    const p = await project('pg-notes', {
      'bronze/notes.ts': "export default { name: 'bronze.notes', source: { kind: 'postgres', connection: 'env:INGOT_TEST_PG', table: 'public.notes', cursor: 'id' }, materialization: 'append' };\n",
    });
    t.after(p.cleanup);
    await withRunner(p.dir, async (runner) => {
      const r = await runner.run('2024-01-01');
      assert.equal(r.status, 'success', r.error);
      const [lake] = await queryLake(runner.lake, runner.engine, `SELECT CAST(count(*) AS INTEGER) n, CAST(count(note) AS INTEGER) notes, CAST(count(*) FILTER (WHERE note = '') AS INTEGER) empty,
        md5(string_agg(CAST(id AS VARCHAR) || ':' || coalesce(note, '<null>'), '|' ORDER BY id)) h FROM bronze.notes`);
      const [pgSide] = (await client.query<{ n: number; notes: number; empty: number; h: string }>(`SELECT count(*)::int n, count(note)::int notes, (count(*) FILTER (WHERE note = ''))::int empty,
        md5(string_agg(id::text || ':' || coalesce(note, '<null>'), '|' ORDER BY id)) h FROM public.notes`)).rows;
      assert.deepEqual(lake, { ...pgSide });
    });
  });

  it('validates declarations: one of table and query; a cursor needs append', () => {
    const ok = (source: unknown, materialization = 'append'): string[] =>
      datasetSchema.safeParse({ name: 'bronze.x', source, materialization }).error?.issues.map((i) => i.message) ?? [];
    assert.deepEqual(ok(postgres({ connection: 'env:X', table: 'public.t', cursor: 'id' })), []);
    assert.deepEqual(ok(postgres({ connection: 'env:X', table: 't', query: 'SELECT 1' })), ['give exactly one of table and query']);
    assert.deepEqual(ok(postgres({ connection: 'env:X', query: 'SELECT 1', cursor: 'id' }), 'overwrite'), ['an incremental postgres source (cursor) needs materialization append']);
  });

  it('a bad connection or an unknown table fails naming the dataset and the table', async (t) => {
    const p = await project('pg-bad', {
      'bronze/a.ts': "export default { name: 'bronze.a', source: { kind: 'postgres', connection: 'postgres://postgres@127.0.0.1:1/postgres', table: 'public.orders' }, materialization: 'append' };\n",
    });
    t.after(p.cleanup);
    const r = await withRunner(p.dir, (runner) => runner.run('2024-01-01'));
    assert.equal(r.status, 'failed');
    assert.match(r.error!, /bronze\.a: postgres table public\.orders: cannot connect: .*ECONNREFUSED/);

    const q = await project('pg-missing', {
      'bronze/b.ts': "export default { name: 'bronze.b', source: { kind: 'postgres', connection: 'env:INGOT_TEST_PG', table: 'public.no_such' }, materialization: 'append' };\n",
    });
    t.after(q.cleanup);
    const r2 = await withRunner(q.dir, (runner) => runner.run('2024-01-01'));
    assert.equal(r2.status, 'failed');
    assert.match(r2.error!, /bronze\.b: postgres table public\.no_such: relation "public\.no_such" does not exist/);
  });
});
