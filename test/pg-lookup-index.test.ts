/**
 * Parameterized lookups over the PostgreSQL protocol answered from the per-version keyed index
 * (src/serve/postgres/lookups.ts over src/serve/endpoint-index.ts): node `pg` against a real
 * `ingot serve --pg-port 0`. Each statement's answers before its index is built (DuckDB runs
 * it) are recorded raw (text and binary values unparsed, column names, type OIDs, formats)
 * and must be the same once the server logs the index built: hits, misses, NULL parameters,
 * integer and text keys, two keys; the rows also equal `ingot sql`'s. After a new commit the new
 * version's rows are answered (its own index built in turn).
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { openMetadata } from '../src/metadata/open.js';
import { stageWrite } from '../src/operations/stage.js';
import { loadProject } from '../src/project.js';
import { createApiKey } from '../src/serve/api-keys.js';
import { Lake } from '../src/table/lake.js';
import { cli, tempDir } from './fixtures.js';
import { startPgServer, type PgServer } from './pg-wire-helpers.js';

/** A result as it came over the wire: fields (name, type OID, format) and raw values (node pg reads binary ones as UTF-8 text too). */
interface Raw {
  fields: string[];
  rows: (string | null)[][];
}

/** The statements under test and the parameter sets each is executed with. */
const CASES: { sql: string; values: unknown[][]; binary: boolean }[] = [
  // integer key (BIGINT column), every column (a list among them), text results
  { sql: 'SELECT * FROM gold.items WHERE id = $1', values: [[42], [999_999], [null], ['7']], binary: false },
  // the same statement text in binary results is another statement: its own index
  { sql: 'SELECT id, n, code, amount, day, ts FROM gold.items WHERE id = $1', values: [[42], [-1], [null]], binary: true },
  // text key, ordered, many rows a key
  { sql: 'SELECT id, n, amount, day, ts, tags FROM gold.items WHERE code = $1 ORDER BY id DESC', values: [['c3'], ['zz'], [null], ['']], binary: false },
  // two keys, INTEGER and text
  { sql: 'SELECT id, code FROM gold.items WHERE n = $1 AND code = $2 ORDER BY id', values: [[13, 'c3'], [13, 'c4'], [null, 'c3'], [14, null]], binary: true },
  // not a lookup (an aggregate): never indexed, always right
  { sql: 'SELECT count(*) AS k FROM gold.items WHERE code = $1', values: [['c3'], ['zz']], binary: false },
];
/** Statements the server must index (the aggregate is refused). */
const INDEXED = 4;

describe('pg wire: parameterized lookups answered from the keyed index', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let engine: DuckDBEngine;
  let lake: Lake;
  let server: PgServer | undefined;
  let client: pg.Client;
  const log: string[] = [];

  /** Appends the rows of `select` (columns id, n, code, amount, day, ts, tags) to gold.items as one commit. */
  const append = async (select: string): Promise<void> => {
    const table = lake.table('gold.items');
    const staged = await engine.stage('__rows', select);
    const { commit } = await stageWrite(engine, table, await table.trySnapshot(), 'SELECT * FROM __rows', { mode: 'append', schema: staged.schema });
    await table.commit(commit);
    await engine.drop('__rows');
  };
  const rows = (from: number, to: number): string =>
    `SELECT i::BIGINT AS id, CAST(i % 50 AS INTEGER) AS n, CASE WHEN i % 10 = 0 THEN NULL WHEN i = 5 THEN '' ELSE 'c' || CAST(i % 7 AS VARCHAR) END AS code,
       CAST(i * 1.25 AS DOUBLE) AS amount, DATE '2024-01-01' + CAST(i % 30 AS INTEGER) AS day, TIMESTAMP '2024-01-01 00:00:00' + to_seconds(i * 61) AS ts, [i, i + 1] AS tags
     FROM range(${from}, ${to}) AS t(i)`;

  /** One execution of `c` as a named prepared statement (text or binary results), raw. */
  const run = async (c: (typeof CASES)[number], values: unknown[], name: string): Promise<Raw> => {
    const r = await client.query({
      name, text: c.sql, values, rowMode: 'array', binary: c.binary,
      types: { getTypeParser: () => (v: string) => v },
    } as unknown as pg.QueryConfig);
    return {
      fields: r.fields.map((f) => `${f.name}:${f.dataTypeID}:${f.format}`),
      rows: r.rows as unknown as (string | null)[][],
    };
  };

  /** `ingot sql -f csv` of `sql`, its lines. */
  const truth = async (sql: string): Promise<string[]> => {
    const r = await cli(['sql', '-p', dir, '-f', 'csv', sql]);
    assert.equal(r.code, 0, r.err);
    return r.out.trim().split('\n');
  };

  /** Resolves once `count` `postgres lookup index built` lines at `version` were logged (fails after 30 s). */
  const built = async (version: number, count: number): Promise<void> => {
    const deadline = Date.now() + 30_000;
    const n = (): number => log.filter((l) => l.includes('"postgres lookup index built"') && l.includes(`"version":${version},`)).length;
    while (n() < count) {
      assert.ok(Date.now() < deadline, `${n()} of ${count} indexes built at version ${version}:\n${log.join('\n')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  before(async () => {
    ({ dir, cleanup } = await tempDir('pg-lookup-index'));
    await fs.mkdir(path.join(dir, 'datasets'));
    await fs.writeFile(path.join(dir, 'ingot.config.ts'), "export default { name: 'lookups', lake: './lake', datasets: './datasets' };\n");
    engine = await DuckDBEngine.open({ memoryLimit: '512MB' });
    lake = new Lake(path.join(dir, 'lake'), engine);
    await append(rows(0, 2000));
    const store = await openMetadata(await loadProject(dir));
    let key: string;
    try {
      key = (await createApiKey(store, 'read', 'analyst')).key;
    } finally {
      await store.close();
    }
    server = await startPgServer(dir);
    let rest = '';
    server.process.stderr!.on('data', (d: Buffer) => {
      const lines = (rest + d.toString()).split('\n');
      rest = lines.pop()!;
      log.push(...lines);
    });
    client = new pg.Client({ host: '127.0.0.1', port: server.port, user: 'analyst', database: 'lookups', password: key });
    await client.connect();
  });
  after(async () => {
    await client?.end().catch(() => {});
    await server?.stop();
    await engine?.close();
    await cleanup();
  });

  it('answers from the index equal the DuckDB path (raw values, types, formats) and ingot sql; a new commit is answered at its version', async () => {
    // 1. before any index: DuckDB answers (each statement run at most 7 times: below the build threshold of 8)
    const before: Raw[][] = [];
    for (const [i, c] of CASES.entries()) before.push(await Promise.all(c.values.map((v) => run(c, v, `s${i}`))));
    assert.equal(log.filter((l) => l.includes('postgres lookup index built')).length, 0);
    // the DuckDB answers are the lake's: hits have rows, misses and NULLs none
    assert.equal(before[0]![0]!.rows.length, 1);
    assert.equal(before[0]![0]!.rows[0]![0], '42');
    assert.equal(before[0]![3]!.rows[0]![0], '7');
    for (const [c, v] of [[0, 1], [0, 2], [1, 1], [1, 2], [2, 1], [2, 2], [3, 2], [3, 3]] as const) assert.equal(before[c]![v]!.rows.length, 0, `${CASES[c]!.sql} ${JSON.stringify(CASES[c]!.values[v])}`);
    assert.equal(before[2]![0]!.rows.map((r) => r[0]).join(','), (await truth("SELECT id FROM gold.items WHERE code = 'c3' ORDER BY id DESC")).slice(1).join(','));
    assert.equal(before[2]![3]!.rows.map((r) => r[0]).join(','), '5');
    assert.deepEqual(before[3]![0]!.rows.length, (await truth("SELECT id FROM gold.items WHERE n = 13 AND code = 'c3'")).length - 1);
    assert.ok(before[3]![0]!.rows.length > 0);

    // 2. enough executions to build every lookup's index at version 0
    for (const [i, c] of CASES.entries()) for (let k = 0; k < 8; k++) await run(c, c.values[0]!, `s${i}`);
    await built(0, INDEXED);
    assert.ok(log.some((l) => l.includes('"postgres lookup index built"') && l.includes('"rows":2000')), 'the id index holds every row');
    for (const [i, c] of CASES.entries()) {
      for (const [v, values] of c.values.entries()) assert.deepEqual(await run(c, values, `s${i}`), before[i]![v], `${c.sql} ${JSON.stringify(values)} from the index`);
    }
    // hits equal ingot sql (text values as the CSV writes them)
    const hit = await run(CASES[0]!, [1234], 's0');
    const want = await truth('SELECT id, n, code FROM gold.items WHERE id = 1234');
    assert.deepEqual([hit.fields.slice(0, 3).map((f) => f.split(':')[0]).join(','), ...hit.rows.map((r) => r.slice(0, 3).join(','))], want);
    const c4 = await run(CASES[2]!, ['c4'], 's2');
    assert.deepEqual(c4.rows.map((r) => r[0]), (await truth("SELECT id FROM gold.items WHERE code = 'c4' ORDER BY id DESC")).slice(1));
    // another prepared statement of the same text (the index is per text, shared by sessions)
    assert.deepEqual((await run(CASES[0]!, [42], 'other')).rows, before[0]![0]!.rows);

    // 3. a new commit: new keys and a key with a second row, answered at version 1
    await append(`${rows(2000, 2010)} UNION ALL SELECT 42::BIGINT, 7::INTEGER, 'new', CAST(0.5 AS DOUBLE), DATE '2025-01-01', TIMESTAMP '2025-01-01 00:00:00', [42::BIGINT]`);
    const deadline = Date.now() + 15_000;
    while ((await run(CASES[0]!, [2005], 's0')).rows.length === 0) {
      assert.ok(Date.now() < deadline, 'the new version is not answered');
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const [i, c] of CASES.entries()) for (let k = 0; k < 8; k++) await run(c, c.values[0]!, `s${i}`);
    await built(1, INDEXED);
    const id42 = await run(CASES[0]!, [42], 's0');
    assert.deepEqual(id42.rows.map((r) => `${r[0]},${r[1]},${r[2]}`).sort(), (await truth('SELECT id, n, code FROM gold.items WHERE id = 42')).slice(1).sort());
    assert.equal(id42.rows.length, 2);
    assert.deepEqual((await run(CASES[2]!, ['new'], 's2')).rows.map((r) => r[0]), ['42']);
    assert.deepEqual((await run(CASES[3]!, [7, 'new'], 's3')).rows, [['\0\0\0\0\0\0\0*', 'new']]);
    assert.equal((await run(CASES[0]!, [null], 's0')).rows.length, 0);
    assert.equal((await run(CASES[4]!, ['new'], 's4')).rows[0]![0], '1');
  });
});
