import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { cli, ROOT, tempDir } from './fixtures.js';

const FLIGHTS = path.join(ROOT, 'node_modules', 'vega-datasets', 'data', 'flights-3m.parquet');
const DAYS = ['2001-02-01', '2001-02-02'];

/** Landing layouts: folder name, declared format, file extension, DuckDB COPY options. */
const KINDS = [
  ['json', 'json', 'json', 'FORMAT json, ARRAY true'],
  ['ndjson', 'ndjson', 'ndjson', 'FORMAT json'],
  ['parquet', 'parquet', 'parquet', 'FORMAT parquet'],
  ['csv_gz', 'csv', 'csv.gz', 'FORMAT csv, HEADER true, COMPRESSION gzip'],
  ['ndjson_gz', 'ndjson', 'ndjson.gz', 'FORMAT json, COMPRESSION gzip'],
] as const;

describe('files source: json, ndjson, parquet and gzip-compressed landing files', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  const truth = new Map<string, number>();
  before(async () => {
    ({ dir, cleanup } = await tempDir('sources'));
    await fs.writeFile(path.join(dir, 'ingot.config.ts'), "export default { lake: './lake' };\n");
    const engine = await DuckDBEngine.open();
    try {
      for (const day of DAYS) {
        const sel = `SELECT strftime(date, '%Y-%m-%d %H:%M:%S') AS date, delay, distance, origin, destination FROM read_parquet('${FLIGHTS}') WHERE CAST(date AS DATE) = DATE '${day}'`;
        for (const [name, , ext, opts] of KINDS) {
          const target = path.join(dir, 'landing', name, `day=${day}`);
          await fs.mkdir(target, { recursive: true });
          await engine.query(`COPY (${sel}) TO '${path.join(target, `part.${ext}`)}' (${opts})`);
        }
        const [row] = await engine.query(`SELECT CAST(count(*) AS INTEGER) AS n FROM (${sel})`);
        truth.set(day, Number(row!['n']));
      }
    } finally {
      await engine.close();
    }
    const columns = "{ date: 'TIMESTAMP', delay: 'INTEGER', distance: 'INTEGER', origin: 'VARCHAR', destination: 'VARCHAR' }";
    await fs.mkdir(path.join(dir, 'datasets', 'bronze'), { recursive: true });
    for (const [name, fmt, ext] of KINDS) {
      await fs.writeFile(path.join(dir, 'datasets', 'bronze', `from_${name}.ts`), `export default {
  name: 'bronze.from_${name}',
  source: { kind: 'files', path: 'landing/${name}/day={day}/*.${ext}', format: '${fmt}', columns: ${columns} },
  materialization: 'replace partition',
  partitionBy: ['day'],
};\n`);
    }
  });
  after(() => cleanup());

  it('loads each format for the run date with declared types and lineage columns', async () => {
    const r = await cli(['run', '-p', dir, '--from', DAYS[0]!, '--to', DAYS[1]!]);
    assert.equal(r.code, 0, r.err);
    for (const [fmt, , ext] of KINDS) {
      const q = await cli(['sql', '-p', dir, '--format', 'json', `SELECT CAST(day AS VARCHAR) AS day, CAST(count(*) AS INTEGER) AS n, typeof(any_value(date)) AS t, typeof(any_value(delay)) AS d, min(_source) AS src, count(DISTINCT _run_id) AS runs, bool_and(_ingested_at IS NOT NULL) AS stamped FROM bronze.from_${fmt} GROUP BY day ORDER BY day`]);
      assert.equal(q.code, 0, q.err);
      const rows = JSON.parse(q.out) as Record<string, unknown>[];
      assert.deepEqual(rows.map((x) => [x['day'], x['n']]), DAYS.map((d) => [d, truth.get(d)]), fmt);
      assert.equal(rows[0]!['t'], 'TIMESTAMP WITH TIME ZONE', `${fmt}: timestamps are stored as Delta timestamp`);
      assert.equal(rows[0]!['d'], 'INTEGER', fmt);
      assert.equal(rows[0]!['src'], `landing/${fmt}/day=${DAYS[0]}/part.${ext}`);
      assert.equal(Number(rows[0]!['runs']), 1);
      assert.equal(rows[0]!['stamped'], true);
    }
  });
});
