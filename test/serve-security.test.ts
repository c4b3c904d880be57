import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openMetadataAt } from '../src/metadata/open.js';
import { createApiKey, hashKey, KeyVerifier, listApiKeys, revokeApiKey } from '../src/serve/api-keys.js';
import { startPostgres } from './postgres-server.js';
import { cli, tempDir } from './fixtures.js';
import { call, serveProject, type Served } from './serve-helpers.js';

/** SHA-256 of every file under `dir` (the lake, the store): what "nothing changed" compares. */
async function fingerprint(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const p = path.join(e.parentPath, e.name);
    out[path.relative(dir, p)] = createHash('sha256').update(await fs.readFile(p)).digest('hex');
  }
  return out;
}

describe('ingot serve: security', () => {
  let s: Served;
  let dir: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    const t = await tempDir('serve-sec');
    dir = t.dir;
    cleanup = t.cleanup;
    s = await serveProject(dir, ['2024-01-01'], { auth: { maxFailures: 10, windowMs: 60_000 } });
  });
  after(async () => {
    await s.close();
    await cleanup();
  });

  it('stores keys hashed and refuses requests without a key, with a wrong key, with a revoked key', async () => {
    const db = await fs.readFile(path.join(dir, '.ingot', 'metadata.db'));
    assert.ok(!db.includes(Buffer.from(s.keys.read)), 'the key itself is not in the store');
    const none = await call(`${s.url}/api/tables`, undefined);
    assert.equal(none.status, 401);
    assert.equal(none.body.error, 'UNAUTHORIZED');
    assert.equal((await call(`${s.url}/api/tables`, s.keys.read.slice(0, -1) + 'x')).status, 401);
    assert.equal((await call(`${s.url}/api/tables`, undefined, { headers: { 'x-api-key': s.keys.read } })).status, 200);
    const reader = (await listApiKeys(s.store)).find((k) => k.name === 'reader')!;
    assert.ok(reader.lastUsedAt);
    // revoked through the admin route: refused at once
    const revoke = await call(`${s.url}/api/keys/${reader.id}`, s.keys.admin, { method: 'DELETE' });
    assert.equal(revoke.status, 200);
    assert.equal((await call(`${s.url}/api/tables`, s.keys.read)).status, 401);
    // a key revoked in the store by another process (ingot keys revoke): refused within a second
    const created = await call(`${s.url}/api/keys`, s.keys.admin, { method: 'POST', body: { scope: 'read' } });
    assert.equal(created.status, 201);
    assert.equal((await call(`${s.url}/api/tables`, created.body.key)).status, 200);
    await revokeApiKey(s.store, created.body.id);
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await call(`${s.url}/api/tables`, created.body.key)).status, 401);
    s.keys.read = (await call(`${s.url}/api/keys`, s.keys.admin, { method: 'POST', body: { scope: 'read' } })).body.key;
  });

  it('ingot keys create prints a key once, keys list shows it without the secret, keys revoke ends it', async () => {
    const created = await cli(['keys', 'create', '-p', dir, '--scope', 'write', '--name', 'ci']);
    assert.equal(created.code, 0, created.err);
    const key = created.out.trim();
    assert.match(key, /^ingot_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    const id = key.split('_')[1]!;
    const pause = await call(`${s.url}/api/pipelines/events/pause`, key, { method: 'POST' });
    assert.equal(pause.status, 200);
    await call(`${s.url}/api/pipelines/events/resume`, key, { method: 'POST' });
    const list = await cli(['keys', 'list', '-p', dir, '--format', 'json']);
    assert.ok(list.out.includes(id) && list.out.includes('"ci"'));
    assert.ok(!list.out.includes(key));
    assert.equal((await cli(['keys', 'revoke', id, '-p', dir])).code, 0);
    assert.equal((await cli(['keys', 'revoke', id, '-p', dir])).code, 1);
    assert.equal((await cli(['keys', 'create', '-p', dir, '--scope', 'root'])).code, 1);
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await call(`${s.url}/api/pipelines/events/pause`, key, { method: 'POST' })).status, 401);
  });

  it('enforces scopes: read < write < admin', async () => {
    const keysOf = async () => (await listApiKeys(s.store)).map((k) => [k.id, k.scope, k.revokedAt]);
    const before = { keys: await keysOf(), runs: await s.store.runs() };
    const trigger = await call(`${s.url}/api/pipelines/events/trigger`, s.keys.read, { method: 'POST', body: { date: '2024-01-05' } });
    assert.equal(trigger.status, 403);
    assert.equal(trigger.body.error, 'FORBIDDEN');
    assert.equal((await call(`${s.url}/api/pipelines/events/pause`, s.keys.read, { method: 'POST' })).status, 403);
    assert.equal((await call(`${s.url}/api/keys`, s.keys.write, { method: 'POST', body: { scope: 'admin' } })).status, 403);
    assert.equal((await call(`${s.url}/api/keys`, s.keys.read)).status, 403);
    assert.deepEqual(await s.store.intervals(), []);
    assert.deepEqual(await s.store.paused(), new Set());
    assert.deepEqual({ keys: await keysOf(), runs: await s.store.runs() }, before);
  });

  it('refuses SQL that writes, attaches, copies, sets, installs or reads files; the lake is unchanged', async () => {
    const lake = await fingerprint(path.join(dir, 'lake'));
    const outside = path.join(dir, 'outside.csv');
    await fs.writeFile(outside, 'a\n1\n');
    const attempts: [string, number][] = [
      ["SELECT * FROM read_csv('/etc/passwd')", 403],
      [`SELECT * FROM read_csv('${outside}')`, 403],
      ["SELECT * FROM read_text('/etc/hostname')", 403],
      ["SELECT * FROM glob('/etc/*')", 403],
      [`COPY (SELECT * FROM bronze.events) TO '${path.join(dir, 'lake', 'stolen.csv')}'`, 403],
      [`ATTACH '${path.join(dir, 'x.db')}' AS x`, 403],
      ['INSTALL httpfs', 403],
      ['LOAD httpfs', 403],
      ['SET enable_external_access = true', 403],
      ['PRAGMA database_list', 403],
      ['CREATE TABLE bronze.t AS SELECT 1', 403],
      ['INSERT INTO bronze.events SELECT * FROM bronze.events', 403],
      ['DELETE FROM bronze.events', 403],
      ['DROP VIEW bronze.events', 403],
      ['SELECT 1; DROP VIEW bronze.events', 403],
      ["SELECT * FROM read_parquet('/etc/*.parquet')", 403],
      ['SELECT * FROM bronze.events, range(100000000000) r ORDER BY r.range DESC', 408],
    ];
    for (const [sql, status] of attempts) {
      const r = await call(`${s.url}/api/sql`, s.keys.admin, { method: 'POST', body: { sql } });
      assert.equal(r.status, status, `${sql}: ${r.text}`);
      assert.ok(typeof r.body.message === 'string' && r.body.message.length > 0);
    }
    assert.ok(!existsSync(path.join(dir, 'x.db')));
    assert.ok(!existsSync(path.join(dir, 'lake', 'stolen.csv')));
    assert.deepEqual(await fingerprint(path.join(dir, 'lake')), lake);
    const ok = await call(`${s.url}/api/sql`, s.keys.read, { method: 'POST', body: { sql: 'SELECT count(*) AS n FROM bronze.events' } });
    assert.equal(ok.body.rows[0].n, 250);
  });

  it('never turns a table name into a path; caps oversized limits', async () => {
    for (const name of ['..%2F..%2Fetc', '..', 'bronze.events%2F..%2F..', '%2Fetc%2Fpasswd', 'bronze.events_quarantine', 'BRONZE.EVENTS']) {
      for (const route of ['', '/rows', '/history']) {
        const r = await call(`${s.url}/api/tables/${name}${route}`, s.keys.read);
        assert.ok(r.status === 404 || r.status === 400, `${name}${route}: ${r.status}`);
      }
    }
    const rows = await call(`${s.url}/api/tables/bronze.events/rows?limit=99999999`, s.keys.read);
    assert.equal(rows.body.items.length, 250);
    const sql = await call(`${s.url}/api/sql`, s.keys.read, { method: 'POST', body: { sql: 'SELECT * FROM range(100000)', limit: 99999999 } });
    assert.equal(sql.body.rows.length, 400);
    assert.equal(sql.body.truncated, true);
    const ep = await call(`${s.url}/models/events/k1/1?limit=5000000`, s.keys.read);
    assert.equal(ep.status, 200);
    assert.ok(ep.body.items.length <= 400);
    assert.equal((await call(`${s.url}/api/tables/bronze.events/rows?cursor=bm90LWEtY3Vyc29y`, s.keys.read)).status, 400);
  });

  it('rate-limits failed attempts per address and key prefix, never refusing a valid key of another prefix (issue 19, item 4)', async () => {
    // 15 failures from this address: no key, and unknown keys of many prefixes
    let status = 0;
    for (let i = 0; i < 15; i++) status = (await call(`${s.url}/api/tables`, i % 3 === 0 ? undefined : `ingot_${String(i).padStart(12, 'a')}_wrong`)).status;
    assert.equal(status, 429, 'failed attempts over the limit are answered 429');
    // valid keys from the same address still work (they got 429 for a minute before)
    assert.equal((await call(`${s.url}/api/tables`, s.keys.read)).status, 200);
    assert.equal((await call(`${s.url}/api/tables`, s.keys.admin)).status, 200);
    // guessing the secret of one key locks that key from this address, whatever X-Forwarded-For says (no proxy is trusted)
    const prefix = /^ingot_[0-9a-f]{12}/.exec(s.keys.admin)![0];
    for (let i = 0; i < 10; i++) await call(`${s.url}/api/tables`, `${prefix}_guess${i}`, { headers: { 'x-forwarded-for': `198.51.100.${i}` } });
    const locked = await call(`${s.url}/api/tables`, s.keys.admin, { headers: { 'x-forwarded-for': '198.51.100.99' } });
    assert.equal(locked.status, 429);
    assert.equal(locked.body.error, 'RATE_LIMITED');
    assert.match(locked.body.message, new RegExp(`with key ${prefix}`));
    assert.ok(Number(locked.headers.get('retry-after')) > 0);
    // the other keys are not locked
    assert.equal((await call(`${s.url}/api/tables`, s.keys.read)).status, 200);
    assert.equal((await call(`${s.url}/health`, undefined)).status, 200);
  });
});

describe('ingot serve behind a trusted proxy (serve.trustProxy)', () => {
  it('counts failed attempts by the client address the proxy names, so one client does not lock out the others', async (t) => {
    const { dir, cleanup } = await tempDir('serve-proxy');
    const s = await serveProject(dir, ['2024-01-01'], { auth: { maxFailures: 5, windowMs: 60_000 } }, { trustProxy: '127.0.0.1' });
    t.after(async () => {
      await s.close();
      await cleanup();
    });
    const from = (client: string) => ({ headers: { 'x-forwarded-for': client } });
    const prefix = /^ingot_[0-9a-f]{12}/.exec(s.keys.read)![0];
    let status = 0;
    for (let i = 0; i < 8; i++) status = (await call(`${s.url}/api/tables`, `${prefix}_guess${i}`, from('203.0.113.7'))).status;
    assert.equal(status, 429);
    assert.equal((await call(`${s.url}/api/tables`, s.keys.read, from('203.0.113.7'))).status, 429, 'the guessing client is locked out of that key');
    assert.equal((await call(`${s.url}/api/tables`, s.keys.read, from('203.0.113.8'))).status, 200, 'another client behind the same proxy is not');
    assert.equal((await call(`${s.url}/api/tables`, s.keys.read)).status, 200, 'nor the proxy itself');
    for (let i = 0; i < 8; i++) await call(`${s.url}/api/tables`, undefined, from('203.0.113.7'));
    assert.equal((await call(`${s.url}/api/tables`, s.keys.write, from('203.0.113.7'))).status, 200, 'a valid key of another prefix from the guessing client still works');
  });
  it('refuses a trustProxy setting of the wrong type, naming the field', async (t) => {
    const { dir, cleanup } = await tempDir('serve-proxy-bad');
    t.after(cleanup);
    await assert.rejects(serveProject(dir, [], {}, { trustProxy: { yes: 1 } }), (e: Error) => /trustProxy/.test(e.message));
  });
});

describe('API keys on a PostgreSQL metadata store', () => {
  it('stores only the hash, verifies, lists and revokes', async (t) => {
    const server = await startPostgres();
    t.after(() => server.stop());
    const { dir, cleanup } = await tempDir('serve-pg');
    t.after(cleanup);
    const store = await openMetadataAt(server.url, dir);
    t.after(() => store.close());
    const { id, key } = await createApiKey(store, 'write', 'pg');
    const rows = await store.db.all<Record<string, unknown>>('SELECT * FROM ingot_api_keys');
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!['hash'], hashKey(key));
    assert.ok(!JSON.stringify(rows).includes(key));
    const verifier = new KeyVerifier(store);
    assert.deepEqual(await verifier.verify(key), { id, scope: 'write' });
    assert.equal(await verifier.verify(key + 'x'), undefined);
    await revokeApiKey(store, id);
    verifier.forget();
    assert.equal(await verifier.verify(key), undefined);
    const [listed] = await listApiKeys(store);
    assert.equal(listed!.name, 'pg');
    assert.ok(listed!.revokedAt! > 0 && listed!.lastUsedAt! > 0);
  });
});

describe('ingot serve: response size (serve.maxResponseBytes)', () => {
  let s: Served;
  let cleanup: () => Promise<void>;
  before(async () => {
    const t = await tempDir('serve-bytes');
    cleanup = t.cleanup;
    s = await serveProject(t.dir, ['2024-01-01'], {}, { maxResponseBytes: 4096, sqlTimeoutSeconds: 60 });
  });
  after(async () => {
    await s.close();
    await cleanup();
  });

  it('answers 413 for a result whose first row is over the cap, truncates larger results, and still answers after (issue 19, item 6)', async () => {
    // it took the server to 4.2 GB and a bare 500
    const sql = async (q: string) => call(`${s.url}/api/sql`, s.keys.read, { method: 'POST', body: { sql: q } });
    const [a, b] = await Promise.all([sql("SELECT repeat('x', 10000000) AS big FROM range(100)"), sql("SELECT repeat('y', 10000000) AS big FROM range(100)")]);
    for (const r of [a, b]) {
      assert.equal(r.status, 413, r.text.slice(0, 200));
      assert.equal(r.body.error, 'RESULT_TOO_LARGE');
      assert.match(r.body.message, /larger than the 4096 bytes a response may hold/);
    }
    const part = await sql("SELECT range AS i, repeat('x', 1000) AS s FROM range(100)");
    assert.equal(part.status, 200);
    assert.equal(part.body.truncated, true);
    assert.deepEqual(part.body.rows.map((r: { i: number }) => r.i), [0, 1, 2, 3], 'rows of about 1 KB: four fit in 4096 bytes');
    assert.ok(part.text.length < 4096 + 500, `${part.text.length} bytes`);
    assert.equal((await call(`${s.url}/health`, undefined)).status, 200);
    const small = await sql('SELECT count(*) AS n FROM bronze.events');
    assert.equal(small.body.rows[0].n, 250);
    assert.equal(small.body.truncated, false);
  });

  it('pages of rows and endpoints stop at the cap and their cursors go on from there, every row once', async () => {
    const seen: number[] = [];
    let next: string | null = null;
    let pages = 0;
    do {
      const r = await call(`${s.url}/api/tables/bronze.events/rows?limit=200&order=i${next ? `&cursor=${next}` : ''}`, s.keys.read);
      assert.equal(r.status, 200, r.text);
      assert.ok(r.text.length < 4096 + 500);
      seen.push(...r.body.items.map((x: { i: number }) => x.i));
      next = r.body.next;
      pages++;
    } while (next && pages < 100);
    assert.ok(pages > 2, `${pages} pages`);
    assert.deepEqual(seen, Array.from({ length: 250 }, (_, i) => i));
    const copies: string[] = [];
    next = null;
    pages = 0;
    do {
      const r = await call(`${s.url}/models/copies?limit=300${next ? `&cursor=${next}` : ''}`, s.keys.read);
      assert.equal(r.status, 200, r.text);
      copies.push(...r.body.items.map((x: { i: number; j: number }) => `${x.i}/${x.j}`));
      next = r.body.next;
      pages++;
    } while (next && pages < 200);
    assert.ok(pages > 2);
    assert.equal(copies.length, 750);
    assert.equal(new Set(copies).size, 750);
  });
});

describe('ingot serve: slow ad-hoc SQL does not stall published endpoints', () => {
  it('keeps a connection for endpoints, counts waiting toward the time limit, and answers 503 with Retry-After beyond the queue (issue 19, item 5)', async (t) => {
    const { dir, cleanup } = await tempDir('serve-pool');
    const s = await serveProject(dir, ['2024-01-01'], {}, { sqlTimeoutSeconds: 12, connections: 4, reservedConnections: 1, maxQueuedQueries: 2 });
    t.after(async () => {
      await s.close();
      await cleanup();
    });
    // warm the endpoint (its table attached) so the request below measures the pool only
    assert.equal((await call(`${s.url}/models/events/k1/1`, s.keys.read)).status, 200);
    const slowSql = 'SELECT count(*) AS n FROM range(1000000000000)';
    let finished = 0;
    // 3 run on the connections open to ad-hoc SQL, 2 wait in line
    const slow = Array.from({ length: 5 }, () => call(`${s.url}/api/sql`, s.keys.read, { method: 'POST', body: { sql: slowSql } }).finally(() => { finished++; }));
    await new Promise((r) => setTimeout(r, 3000));
    // the line is full: refused at once
    for (let i = 0; i < 2; i++) {
      const over = await call(`${s.url}/api/sql`, s.keys.read, { method: 'POST', body: { sql: slowSql } });
      assert.equal(over.status, 503, over.text);
      assert.equal(over.body.error, 'QUERY_QUEUE_FULL');
      assert.ok(Number(over.headers.get('retry-after')) > 0);
    }
    // a published endpoint answers while every slow query is still running or waiting (before: it waited behind them)
    const ep = await call(`${s.url}/models/events/k1/2`, s.keys.read);
    assert.equal(ep.status, 200);
    assert.equal(finished, 0, `the endpoint answered before any slow query ended (${ep.status})`);
    const rows = await call(`${s.url}/api/tables/bronze.events/rows?limit=5`, s.keys.read);
    assert.equal(rows.status, 200);
    assert.equal(finished, 0);
    // the waiting ones time out within their own limit (waiting counted), not a limit after they got a connection
    const answers = await Promise.all(slow);
    for (const a of answers) assert.equal(a.status, 408, a.text);
    assert.equal(finished, 5);
    // the two that waited report it: their waiting (about 12 s, behind the three running) was part of their 12 s, not added to it
    const waits = answers.map((a) => {
      const m = /time limit (?:for a free connection|.*\((\d+) ms of it waiting for a free connection\))/.exec(a.body.message);
      assert.ok(m, a.body.message);
      return m[1] === undefined ? 12_000 : Number(m[1]);
    }).sort((a, b) => a - b);
    assert.ok(waits[3]! >= 6000 && waits[4]! >= 6000, `waited ${waits.join(', ')} ms`);
    assert.equal((await call(`${s.url}/api/sql`, s.keys.read, { method: 'POST', body: { sql: 'SELECT 1 AS one' } })).body.rows[0].one, 1);
  });
});

describe('ingot serve: nothing of the server shows (issue 19, item 11)', () => {
  let s: Served;
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir, cleanup } = await tempDir('serve-paths'));
    s = await serveProject(dir, ['2024-01-01']);
  });
  after(async () => {
    await s.close();
    await cleanup();
  });
  /** The server's own directories, which no response may show. */
  const secret = () => [dir, path.join(dir, 'lake'), `${os.tmpdir()}/`];
  const clean = (text: string, what: string) => {
    for (const d of secret()) assert.ok(!text.includes(d), `${what} shows ${d}: ${text.slice(0, 300)}`);
  };

  it('the OpenAPI document and the interactive docs need a key, as the README says (serve.publicDocs opens them)', async (t) => {
    for (const route of ['/openapi.json', '/docs', '/docs/json', '/docs/static/index.html']) {
      const r = await call(`${s.url}${route}`, undefined);
      assert.equal(r.status, 401, `${route} without a key`);
      const ok = await call(`${s.url}${route}`, s.keys.read);
      assert.equal(ok.status, 200, `${route} with a key`);
    }
    assert.equal((await call(`${s.url}/openapi.json`, s.keys.read)).body.openapi, '3.1.0');
    assert.equal((await call(`${s.url}/health`, undefined)).status, 200);
    const other = await tempDir('serve-docs');
    const open = await serveProject(other.dir, [], {}, { publicDocs: true });
    t.after(async () => {
      await open.close();
      await other.cleanup();
    });
    for (const route of ['/openapi.json', '/docs/json']) assert.equal((await call(`${open.url}${route}`, undefined)).status, 200, route);
    assert.equal((await call(`${open.url}/api/tables`, undefined)).status, 401);
  });

  it('refuses the engine\'s settings, catalog and configuration functions to a read key', async () => {
    const attempts = [
      'SELECT * FROM duckdb_settings()',
      "SELECT current_setting('temp_directory') AS t",
      "SELECT current_setting('allowed_directories') AS t",
      'SELECT * FROM duckdb_databases()',
      'SELECT * FROM system.main.duckdb_settings()',
      'SELECT * FROM pragma_database_list',
      'SELECT * FROM pragma_database_list()',
      'SELECT sql FROM duckdb_views()',
      'SELECT sql FROM duckdb_views',
      'SELECT sql FROM sqlite_master',
      'SELECT * FROM duckdb_temporary_files()',
      "SELECT getenv('HOME') AS h",
      'SELECT view_definition FROM information_schema.views',
      'SELECT definition FROM pg_catalog.pg_views',
      'SELECT definition FROM pg_views',
      'WITH s AS (SELECT * FROM duckdb_settings()) SELECT value FROM s',
      "SELECT (SELECT value FROM duckdb_settings() WHERE name = 'temp_directory') AS v",
    ];
    for (const sql of attempts) {
      const r = await call(`${s.url}/api/sql`, s.keys.read, { method: 'POST', body: { sql } });
      assert.ok(r.status === 403 || r.status === 404, `${sql}: ${r.status} ${r.text.slice(0, 300)}`);
      clean(r.text, sql);
    }
    const ok = await call(`${s.url}/api/sql`, s.keys.read, { method: 'POST', body: { sql: 'SELECT count(*) AS n, version() IS NOT NULL AS v FROM bronze.events' } });
    assert.equal(ok.body.rows[0].n, 250);
  });

  it('row cursors and errors carry no server path; responses carry the security headers', async () => {
    const first = await call(`${s.url}/api/tables/bronze.events/rows?limit=5&order=i`, s.keys.read);
    assert.equal(first.status, 200);
    clean(Buffer.from(first.body.next, 'base64url').toString('utf8'), 'a rows cursor');
    const second = await call(`${s.url}/api/tables/bronze.events/rows?limit=5&order=i&cursor=${first.body.next}`, s.keys.read);
    assert.deepEqual(second.body.items.map((r: { i: number }) => r.i), [5, 6, 7, 8, 9]);
    for (const h of [first.headers, (await call(`${s.url}/health`, undefined)).headers]) {
      assert.match(h.get('content-security-policy') ?? '', /default-src 'self'/);
      assert.equal(h.get('x-frame-options'), 'DENY');
      assert.equal(h.get('x-content-type-options'), 'nosniff');
      assert.equal(h.get('referrer-policy'), 'no-referrer');
    }
    // a data file gone: the engine's error names the file; the response names no server directory
    const table = path.join(dir, 'lake', 'bronze', 'events');
    const data = (await fs.readdir(table, { recursive: true })).filter((f) => String(f).endsWith('.parquet'));
    assert.ok(data.length > 0);
    for (const f of data) await fs.rm(path.join(table, String(f)));
    const broken = await call(`${s.url}/api/tables/bronze.events/rows?version=0&order=k`, s.keys.read);
    assert.ok(broken.status >= 400, broken.text);
    assert.ok(broken.body.message.length > 0);
    clean(broken.text, 'an error');
  });
});
