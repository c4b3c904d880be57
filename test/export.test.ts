import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { loadProject } from '../src/project.js';
import { Runner } from '../src/run/runner.js';
import { tempDir } from './helpers.js';
import { startPostgres, type PostgresServer } from './postgres-server.js';

/** A report dataset of `n` rows per logical date (values with commas, quotes, NULLs, lists), exported to CSV and PostgreSQL. */
function daily(n: number, table = 'mart.daily'): string {
  return `export default {
  name: 'gold.daily',
  sql: \`SELECT {{logical_date}} AS day, i AS n, 'a,"b" ' || i AS label, CASE WHEN i = 1 THEN NULL ELSE i * 1.5 END AS x,
               [i, i + 1] AS xs, CAST(i AS DECIMAL(10,2)) AS amount, TIMESTAMPTZ '2024-01-01 10:00:00+00' AS at
        FROM range(${n}) t(i)\`,
  materialization: 'replace partition',
  partitionBy: ['day'],
  exports: { file: 'reports/daily/date={logical_date}/report.csv', postgres: { connection: 'env:INGOT_EXPORT_PG', table: '${table}' } },
};\n`;
}

const TOTALS = `export default {
  name: 'gold.totals',
  sql: 'SELECT count(*) AS days, sum(n) AS n FROM gold.daily',
  materialization: 'overwrite',
  exports: { postgres: { connection: 'env:INGOT_EXPORT_PG', table: 'totals' } },
};\n`;

async function project(datasets: Record<string, string>): Promise<{ dir: string; cleanup: () => void }> {
  const t = tempDir('export');
  await fs.writeFile(path.join(t.dir, 'ingot.config.ts'), "export default { lake: './lake' };\n");
  await write(t.dir, datasets);
  return t;
}

async function write(dir: string, datasets: Record<string, string>): Promise<void> {
  for (const [file, text] of Object.entries(datasets)) {
    await fs.mkdir(path.dirname(path.join(dir, 'datasets', file)), { recursive: true });
    await fs.writeFile(path.join(dir, 'datasets', file), text);
  }
}

async function run(dir: string, date: string): Promise<{ status: string; error?: string }> {
  const runner = await Runner.open(await loadProject(dir));
  try {
    return await runner.run(date);
  } finally {
    await runner.close();
  }
}

describe('exports', () => {
  let server: PostgresServer;
  let client: pg.Client;
  before(async () => {
    server = await startPostgres();
    process.env['INGOT_EXPORT_PG'] = server.url;
    client = new pg.Client({ connectionString: server.url });
    await client.connect();
    await client.query("SET TimeZone = 'UTC'");
  });
  after(async () => {
    await client?.end();
    await server?.stop();
  });

  const rows = async (sql: string): Promise<Record<string, unknown>[]> => (await client.query(sql)).rows;

  it('writes a CSV per logical date and keeps a PostgreSQL table in step; reruns replace their date only', async (t) => {
    const p = await project({ 'gold/daily.ts': daily(3), 'gold/totals.ts': TOTALS });
    t.after(p.cleanup);
    for (const date of ['2024-01-01', '2024-01-02', '2024-01-01']) {
      const r = await run(p.dir, date);
      assert.equal(r.status, 'success', r.error);
    }
    const csv = await fs.readFile(path.join(p.dir, 'reports/daily/date=2024-01-02/report.csv'), 'utf8');
    assert.equal(csv, [
      'day,n,label,x,xs,amount,at',
      '2024-01-02,0,"a,""b"" 0",0.0,"[0, 1]",0.00,2024-01-01 10:00:00+00',
      '2024-01-02,1,"a,""b"" 1",,"[1, 2]",1.00,2024-01-01 10:00:00+00',
      '2024-01-02,2,"a,""b"" 2",3.0,"[2, 3]",2.00,2024-01-01 10:00:00+00',
      '',
    ].join('\n'));
    const types = await rows("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'mart' AND table_name = 'daily' ORDER BY ordinal_position");
    assert.deepEqual(types.map((r) => `${String(r['column_name'])} ${String(r['data_type'])}`), [
      'day date', 'n bigint', 'label text', 'x numeric', 'xs jsonb', 'amount numeric', 'at timestamp with time zone',
    ]);
    // three runs, two dates: each date once
    assert.deepEqual(await rows("SELECT day::text AS day, count(*)::int AS c, sum(n)::int AS s, count(x)::int AS x FROM mart.daily GROUP BY day ORDER BY day"), [
      { day: '2024-01-01', c: 3, s: 3, x: 2 }, { day: '2024-01-02', c: 3, s: 3, x: 2 },
    ]);
    assert.deepEqual(await rows("SELECT xs::text AS xs, amount::text AS amount, at = '2024-01-01 10:00:00+00' AS at FROM mart.daily WHERE day = '2024-01-02' AND n = 2"), [{ xs: '[2, 3]', amount: '2.00', at: true }]);
    // not partitioned: the whole table is replaced each run
    assert.deepEqual(await rows('SELECT days::int AS days, n::int AS n FROM public.totals'), [{ days: 6, n: 6 }]);

    // the report of 2024-01-01 changes: only that date's rows and file change
    // (a new file: a changed module is not imported again in this process)
    await fs.rm(path.join(p.dir, 'datasets/gold/daily.ts'));
    await write(p.dir, { 'gold/daily5.ts': daily(5) });
    assert.equal((await run(p.dir, '2024-01-01')).status, 'success');
    assert.deepEqual(await rows('SELECT day::text AS day, count(*)::int AS c FROM mart.daily GROUP BY day ORDER BY day'), [{ day: '2024-01-01', c: 5 }, { day: '2024-01-02', c: 3 }]);
    assert.equal((await fs.readFile(path.join(p.dir, 'reports/daily/date=2024-01-01/report.csv'), 'utf8')).trim().split('\n').length, 6);
    assert.equal((await fs.readFile(path.join(p.dir, 'reports/daily/date=2024-01-02/report.csv'), 'utf8')), csv);
    assert.deepEqual(await rows('SELECT days::int AS days, n::int AS n FROM public.totals'), [{ days: 8, n: 13 }]);
  });

  it('fails the run naming the table, and leaves the PostgreSQL table as it was', async (t) => {
    await client.query('CREATE TABLE public.clash (day date, n date)');
    await client.query("INSERT INTO public.clash VALUES ('2024-03-01', '2000-01-01')");
    const p = await project({ 'gold/daily.ts': daily(2, 'public.clash') });
    t.after(p.cleanup);
    const r = await run(p.dir, '2024-03-01');
    assert.equal(r.status, 'failed');
    assert.match(r.error!, /export failed: gold\.daily: export to postgres table public\.clash: /);
    assert.deepEqual(await rows('SELECT day::text AS day, n::text AS n FROM public.clash'), [{ day: '2024-03-01', n: '2000-01-01' }]);

    const saved = process.env['INGOT_EXPORT_PG'];
    delete process.env['INGOT_EXPORT_PG'];
    try {
      await fs.rm(path.join(p.dir, 'datasets/gold/daily.ts'));
      await write(p.dir, { 'gold/other.ts': daily(2, 'public.other') });
      const r2 = await run(p.dir, '2024-03-02');
      assert.equal(r2.status, 'failed');
      assert.match(r2.error!, /public\.other: environment variable INGOT_EXPORT_PG \(the connection URL\) is not set/);
    } finally {
      process.env['INGOT_EXPORT_PG'] = saved;
    }
    // with the variable back, a rerun exports (its commit already made, skipped)
    const r3 = await run(p.dir, '2024-03-02');
    assert.equal(r3.status, 'success', r3.error);
    assert.deepEqual(await rows('SELECT count(*)::int AS c FROM public.other'), [{ c: 2 }]);
  });
  it('writes Parquet report files with the table\'s types; an hourly dataset exports one hour per run', async (t) => {
    const p = await project({ 'gold/hourly.ts': `export default {
  name: 'gold.hourly',
  sql: \`SELECT {{start}} AS hour, i AS n, CAST(i * 1.25 AS DECIMAL(10,2)) AS amount, 'h' || hour({{start}}) AS label FROM range(3) t(i)\`,
  materialization: 'replace partition',
  partitionBy: ['hour'],
  grain: 'hour',
  exports: { file: 'reports/hourly/{logical_date}.parquet', postgres: { connection: 'env:INGOT_EXPORT_PG', table: 'mart.hourly' } },
};\n` });
    t.after(p.cleanup);
    for (const date of ['2024-01-01T05:00', '2024-01-01T06:00', '2024-01-01T05:00']) {
      const r = await run(p.dir, date);
      assert.equal(r.status, 'success', r.error);
    }
    // read back by pyarrow: the Delta table's types, only the run's hour
    const read = execFileSync('python3', ['-c', `import json, sys, pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
print(json.dumps({"types": [str(f.type) for f in t.schema], "rows": [[str(v) for v in r.values()] for r in t.to_pylist()]}))`, path.join(p.dir, 'reports/hourly/2024-01-01T06:00.parquet')], { encoding: 'utf8' });
    const parquet = JSON.parse(read) as { types: string[]; rows: string[][] };
    assert.deepEqual(parquet.types, ['timestamp[us, tz=UTC]', 'int64', 'decimal128(10, 2)', 'string']);
    assert.deepEqual(parquet.rows, [0, 1, 2].map((i) => ['2024-01-01 06:00:00+00:00', String(i), (i * 1.25).toFixed(2), 'h6']));
    assert.deepEqual(await rows("SELECT to_char(hour, 'HH24') AS h, count(*)::int AS c FROM mart.hourly GROUP BY 1 ORDER BY 1"), [{ h: '05', c: 3 }, { h: '06', c: 3 }]);
  });
});
