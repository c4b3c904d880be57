/**
 * `table_changes('layer.table', from, to)` (the change data feed) through the serving reader: a
 * table ingot wrote with `delta.enableChangeDataFeed = true` (appends, an update, a delete, a
 * merge, a delete of whole files) read by `POST /api/sql` and by node `pg` over ingot's
 * PostgreSQL protocol server must give exactly the rows `ingot sql` gives.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { openMetadata } from '../src/metadata/open.js';
import { loadProject } from '../src/project.js';
import { createApiKey } from '../src/serve/api-keys.js';
import { startPgServer } from '../src/serve/postgres/server.js';
import { createServer } from '../src/serve/server.js';
import { LocalStore } from '../src/storage/local.js';
import { DeltaTable } from '../src/table/table.js';
import { cli, tempDir } from './fixtures.js';
import { writeChangeHistory } from './helpers.js';

const COLUMNS = 'id, status, grp, _change_type, _commit_version';
const QUERIES = [
  `SELECT ${COLUMNS} FROM table_changes('raw.orders', 0, 5) ORDER BY _commit_version, id, _change_type`,
  `SELECT ${COLUMNS} FROM table_changes('raw.orders', 2, 4) WHERE grp = 1 ORDER BY _commit_version, id, _change_type`,
  // `to` left out: up to the latest version; two ranges in one statement
  `SELECT c._change_type, count(*) AS n, max(c._commit_version) AS last FROM table_changes('raw.orders', 3) c
     JOIN (SELECT DISTINCT id FROM table_changes('raw.orders', 0, 1)) f ON f.id = c.id GROUP BY 1 ORDER BY 1`,
];

/** Rows as comparable text: every value as `String`, NULL as `NULL`. */
const text = (rows: Record<string, unknown>[]): string[][] => rows.map((r) => Object.values(r).map((v) => (v === null ? 'NULL' : String(v))));

describe('table_changes in the serving reader', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let engine: DuckDBEngine;

  before(async () => {
    ({ dir, cleanup } = await tempDir('cdf-serve'));
    await fs.mkdir(path.join(dir, 'datasets'), { recursive: true });
    await fs.writeFile(path.join(dir, 'ingot.config.ts'), "export default { name: 'cdf', lake: './lake', datasets: './datasets' };\n");
    engine = await DuckDBEngine.open();
    const table = new DeltaTable(new LocalStore(path.join(dir, 'lake', 'raw', 'orders')), engine);
    await writeChangeHistory(engine, table);
  });
  after(async () => {
    await engine?.close();
    await cleanup?.();
  });

  it('POST /api/sql and node pg over the PostgreSQL protocol give the rows ingot sql gives', async () => {
    const truth: string[][][] = [];
    for (const sql of QUERIES) {
      const r = await cli(['sql', '-p', dir, '-f', 'json', sql]);
      assert.equal(r.code, 0, r.err);
      truth.push(text(JSON.parse(r.out) as Record<string, unknown>[]));
    }
    // the feed has every kind of change, and the queries return rows
    assert.deepEqual([...new Set(truth[0]!.map((r) => r[3]))].sort(), ['delete', 'insert', 'update_postimage', 'update_preimage']);
    assert.equal(truth[0]!.length, 20); // v0 6 inserts, v1 2, v2 2 + 2 images, v3 1 delete, v4 2 images + delete + insert, v5 3 deletes
    assert.ok(truth[1]!.length > 0 && truth[2]!.length > 0);

    const project = await loadProject(dir);
    const store = await openMetadata(project);
    const { app, context } = await createServer(project, store, {});
    let pgServer: Awaited<ReturnType<typeof startPgServer>> | undefined;
    let client: pg.Client | undefined;
    try {
      const url = await app.listen({ port: 0, host: '127.0.0.1' });
      const key = (await createApiKey(store, 'read', 'analyst')).key;
      pgServer = await startPgServer(project, store, { lake: context.reader, verifier: context.verifier, port: 0 });
      client = new pg.Client({ host: '127.0.0.1', port: pgServer.address.port, user: 'analyst', password: key, database: 'cdf' });
      await client.connect();
      for (const [i, sql] of QUERIES.entries()) {
        const res = await fetch(`${url}/api/sql`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ sql }) });
        const body = await res.json() as { rows: Record<string, unknown>[]; truncated: boolean };
        assert.equal(res.status, 200, JSON.stringify(body));
        assert.deepEqual(text(body.rows), truth[i], `HTTP: ${sql}`);
        // simple and extended query protocols
        assert.deepEqual(text((await client.query(sql)).rows), truth[i], `pg: ${sql}`);
        assert.deepEqual(text((await client.query({ text: sql, values: [] })).rows), truth[i], `pg (extended): ${sql}`);
      }
      // a bound parameter beside table_changes, and the commit timestamp as a timestamp
      const p = await client.query({ text: "SELECT id, _commit_timestamp FROM table_changes('raw.orders', 2, 2) WHERE id = $1 ORDER BY _change_type", values: [1] });
      assert.equal(p.rows.length, 2);
      assert.ok(p.rows[0]._commit_timestamp instanceof Date && p.rows[0]._commit_timestamp.getUTCFullYear() === new Date().getUTCFullYear(), String(p.rows[0]._commit_timestamp));
      // bad ranges and tables without a feed are clear errors on both
      const bad = await fetch(`${url}/api/sql`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ sql: "SELECT * FROM table_changes('raw.orders', 3, 9)" }) });
      assert.equal(bad.status, 400);
      assert.match((await bad.json() as { message: string }).message, /versions must satisfy 0 ≤ from ≤ to ≤ 5/);
      await assert.rejects(client.query("SELECT * FROM table_changes('raw.nope', 0, 1)"), /raw\.nope/);
    } finally {
      await client?.end();
      await pgServer?.close();
      await app.close();
      await store.close();
    }
  });
});
