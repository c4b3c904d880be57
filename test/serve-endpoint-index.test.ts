/**
 * Endpoint misses answered from an index built once per table version (src/serve/endpoint-index.ts)
 * and timestamps served as ISO 8601: a real lake written by ingot's runner, the real DuckDB
 * reader, a real server over HTTP. Every index answer is compared with the endpoint's own query.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { loadProject } from '../src/project.js';
import { Runner } from '../src/run/runner.js';
import { openMetadata } from '../src/metadata/open.js';
import type { MetadataStore } from '../src/metadata/store.js';
import { createApiKey } from '../src/serve/api-keys.js';
import { createServer } from '../src/serve/server.js';
import { EndpointIndex } from '../src/serve/endpoint-index.js';
import { isoTimestamp, ServedLake } from '../src/serve/served-lake.js';
import { Lake } from '../src/table/lake.js';
import { call } from './serve-helpers.js';
import { tempDir } from './fixtures.js';

// 13 players (one of them NULL for some rows), µs and ms in the timestamps, 64-bit integers beyond 2^53, doubles
const SESSIONS = `-- materialization: overwrite
SELECT CASE WHEN i % 50 = 7 THEN NULL ELSE 'p' || (i % 13) END AS player, 's' || i AS session,
  CASE WHEN i % 3 = 0 THEN 'open' ELSE 'done' END AS status,
  TIMESTAMPTZ '2016-12-31 22:49:00.063+00' - to_microseconds(i * 1000001 * (i % 5)) AS ts,
  TIMESTAMP '2016-12-31 22:49:00' + to_milliseconds(i) AS local_ts,
  i * 3000000000000 AS n, i / 7 AS x, DATE '2016-01-01' + CAST(i AS INTEGER) AS day
FROM range(600) AS t(i)
`;
const LOOKUP = "SELECT player, session, ts, local_ts, n, x, day FROM silver.sessions WHERE player = $player AND status = 'done' ORDER BY ts DESC, session";
const CONFIG = `import { defineConfig, endpoint, pipeline } from 'ingot';
export default defineConfig({
  pipelines: [pipeline({ name: 'all' })],
  endpoints: [
    endpoint({ path: '/models/done/:player', params: { player: { type: 'string', maxLength: 10 } }, sql: ${JSON.stringify(LOOKUP)} }),
    endpoint({ path: '/models/count/:player', params: { player: { type: 'string', maxLength: 10 } }, sql: 'SELECT count(*) AS n FROM silver.sessions WHERE player = $player' }),
  ],
});
`;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(\d{3})?Z$/;

describe('endpoint index and ISO 8601 timestamps', () => {
  let dir: string;
  let cleanup: (() => Promise<void>) | undefined;
  let store: MetadataStore;
  let app: FastifyInstance;
  let url: string;
  let key: string;
  let lake: ServedLake;
  const players = [...Array.from({ length: 13 }, (_, i) => `p${i}`), 'nobody'];

  before(async () => {
    ({ dir, cleanup } = await tempDir('endpoint-index'));
    await fs.mkdir(path.join(dir, 'datasets', 'silver'), { recursive: true });
    await fs.writeFile(path.join(dir, 'datasets', 'silver', 'sessions.sql'), SESSIONS);
    await fs.writeFile(path.join(dir, 'ingot.config.ts'), CONFIG);
    const project = await loadProject(dir);
    const runner = await Runner.open(project);
    try {
      const r = await runner.run('2024-01-01');
      assert.equal(r.status, 'success', r.error);
    } finally {
      await runner.close();
    }
    store = await openMetadata(project);
    key = (await createApiKey(store, 'read')).key;
    ({ app } = await createServer(project, store));
    url = await app.listen({ port: 0, host: '127.0.0.1' });
    lake = await ServedLake.open(new Lake(project.lake));
  });

  after(async () => {
    await lake?.close();
    await app?.close();
    await store?.close();
    await cleanup?.();
  });

  it('prints timestamps of the engine as ISO 8601 UTC, keeping micro- and nanoseconds', () => {
    assert.equal(isoTimestamp('2016-12-31 22:49:00.063+00'), '2016-12-31T22:49:00.063Z');
    assert.equal(isoTimestamp('2016-12-31 22:49:00+00'), '2016-12-31T22:49:00.000Z');
    assert.equal(isoTimestamp('2016-12-31 22:49:00.5'), '2016-12-31T22:49:00.500Z');
    assert.equal(isoTimestamp('2016-12-31 22:49:00.000123+00'), '2016-12-31T22:49:00.000123Z');
    assert.equal(isoTimestamp('2016-12-31 22:49:00.123456789'), '2016-12-31T22:49:00.123456789Z');
    assert.equal(isoTimestamp('2017-01-01 00:19:00.063+01:30'), '2016-12-31T22:49:00.063Z');
    assert.equal(isoTimestamp('2016-12-31 20:49:00.25-02'), '2016-12-31T22:49:00.250Z');
    for (const kept of ['infinity', '-infinity', '0044-03-15 12:00:00 (BC)', '12345-01-01 00:00:00']) assert.equal(isoTimestamp(kept), kept);
  });

  it('rewrites a lookup into its keyed form, and refuses statements that are not plain lookups', async () => {
    const keyed = await lake.keyed(LOOKUP, ['player']);
    assert.ok(keyed, 'a lookup has a keyed form');
    assert.deepEqual(keyed.columns, { player: 'player' });
    assert.match(keyed.sql, /player AS __ingot_key_player/);
    assert.doesNotMatch(keyed.sql, /\$player/);
    for (const sql of [
      'SELECT count(*) AS n FROM silver.sessions WHERE player = $player',
      'SELECT player, max(ts) AS t FROM silver.sessions WHERE player = $player GROUP BY player',
      'SELECT * FROM silver.sessions WHERE player = $player OR status = \'open\'',
      'SELECT * FROM silver.sessions WHERE player = $player ORDER BY ts LIMIT 3',
      'SELECT DISTINCT status FROM silver.sessions WHERE player = $player',
      'SELECT *, row_number() OVER (ORDER BY ts) AS r FROM silver.sessions WHERE player = $player',
      'SELECT * FROM silver.sessions WHERE player = $player AND session IN (SELECT session FROM silver.sessions)',
      'SELECT * FROM silver.sessions WHERE upper(player) = $player',
      'SELECT * FROM silver.sessions AS a JOIN silver.sessions AS b USING (session) WHERE a.player = $player',
      'SELECT * FROM silver.sessions WHERE player = $player AND session <> $player',
    ]) {
      assert.equal(await lake.keyed(sql, ['player']), undefined, sql);
    }
  });

  it("answers each key from the index exactly as the endpoint's query does, once built", async () => {
    const version = await lake.latest('silver.sessions');
    const index = new EndpointIndex(lake, LOOKUP, ['silver.sessions'], ['player'], (m) => assert.fail(m));
    let answered: Record<string, unknown>[] | undefined;
    for (let i = 0; i < 200 && !answered; i++) {
      answered = index.lookup([version], ['p1']);
      if (!answered) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(answered, 'the index was built after repeated misses');
    for (const player of players) {
      const direct = await lake.query(LOOKUP, { player: { type: 'VARCHAR', value: player } });
      assert.deepEqual(index.lookup([version], [player]), direct.rows, player);
      if (player !== 'nobody') assert.ok(direct.rows.length > 10, `${player} has rows`);
    }
    const row = index.lookup([version], ['p2'])![0]!;
    assert.match(String(row['ts']), ISO);
    assert.match(String(row['local_ts']), ISO);
    assert.equal(typeof row['n'], 'number');
    // an older version is not answered from the newer version's index
    assert.equal(index.lookup([version - 1], ['p1']), undefined);
  });

  it('serves the endpoints over HTTP with every page equal to a direct query, timestamps in ISO 8601', async () => {
    // several rounds: the first ones miss and build the index, the last ones are answered from it
    for (let round = 0; round < 3; round++) {
      for (const player of players) {
        const want = (await lake.query(LOOKUP, { player: { type: 'VARCHAR', value: player } })).rows;
        const got: unknown[] = [];
        let cursor: string | null = null;
        do {
          const res = await call(`${url}/models/done/${player}?limit=7${cursor ? `&cursor=${cursor}` : ''}`, key);
          assert.equal(res.status, 200, res.text);
          assert.equal(res.body.count, want.length, player);
          got.push(...(res.body.items as unknown[]));
          cursor = res.body.next as string | null;
        } while (cursor);
        assert.deepEqual(got, want, `${player}, round ${round}`);
        const count = await call(`${url}/models/count/${player}`, key);
        const n = (await lake.query('SELECT count(*) AS n FROM silver.sessions WHERE player = $player', { player: { type: 'VARCHAR', value: player } })).rows[0]!['n'];
        assert.deepEqual(count.body.items, [{ n }], player);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const first = await call(`${url}/models/done/p3?limit=1`, key);
    assert.match(first.body.items[0].ts, ISO);
    // the REST API's SQL and rows routes print timestamps the same way
    const sql = await call(`${url}/api/sql`, key, { method: 'POST', body: { sql: "SELECT TIMESTAMPTZ '2016-12-31 22:49:00.063+00' AS t, TIMESTAMP '2016-12-31 22:49:00.000123' AS u" } });
    assert.equal(sql.status, 200, sql.text);
    assert.deepEqual(sql.body.rows, [{ t: '2016-12-31T22:49:00.063Z', u: '2016-12-31T22:49:00.000123Z' }]);
    const rows = await call(`${url}/api/tables/silver.sessions/rows?session=s1`, key);
    assert.equal(rows.status, 200, rows.text);
    assert.equal(rows.body.items[0].ts, '2016-12-31T22:48:59.062999Z');
  });
});
