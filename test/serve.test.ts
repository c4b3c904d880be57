import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { query } from './schedule-helpers.js';
import { tempDir } from './fixtures.js';
import { call, serveProject, type Served } from './serve-helpers.js';
import { Runner } from '../src/run/runner.js';

describe('ingot serve: REST API over a real lake', () => {
  let s: Served;
  let cleanup: () => Promise<void>;
  const get = (path: string, key = s.keys.read) => call(s.url + path, key);

  before(async () => {
    const t = await tempDir('serve');
    cleanup = t.cleanup;
    // settleMs 0: each new version is copied into memory at once (the clustering check below reads the copy)
    s = await serveProject(t.dir, ['2024-01-01', '2024-01-02'], { reader: { settleMs: 0 } });
  });
  after(async () => {
    await s.close();
    await cleanup();
  });

  it('lists tables, schemas and history as the Delta log has them', async () => {
    const list = await get('/api/tables');
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.items.map((t: { name: string }) => t.name), ['bronze.events', 'gold.by_k']);
    const events = list.body.items[0];
    assert.equal(events.version, 1);
    assert.equal(events.numRecords, 500);
    assert.equal(events.numFiles, 2);
    const schema = await get('/api/tables/bronze.events');
    assert.deepEqual(schema.body.schema.fields.map((f: { name: string; type: string }) => `${f.name}:${f.type}`), ['day:date', 'i:long', 'k:string', 'x:decimal(21,1)', 'm:long']);
    const history = await get('/api/tables/bronze.events/history');
    assert.deepEqual(history.body.items.map((h: { version: number }) => h.version), [1, 0]);
    assert.equal(history.body.items[0].operationParameters.logicalDate, '2024-01-02');
    assert.equal((await get('/api/tables/bronze.events/history?limit=1')).body.items.length, 1);
  });

  it('filters rows by typed values, orders them, and pages through every row exactly once', async () => {
    const where = "k IN ('k1', 'k3') AND i >= 20 AND i < 200 AND day = DATE '2024-01-02'";
    const expected = await query(s.project, `SELECT i, k FROM bronze.events WHERE ${where} ORDER BY k DESC, i`);
    assert.ok(expected.length > 40);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await get(`/api/tables/bronze.events/rows?k.in=k1,k3&i.gte=20&i.lt=200&day=2024-01-02&order=k:desc,i&limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.count, expected.length);
      assert.ok(r.body.items.length <= 7);
      seen.push(...r.body.items.map((x: { i: number; k: string }) => `${x.k}/${x.i}`));
      cursor = r.body.next;
      pages++;
    } while (cursor);
    assert.equal(pages, Math.ceil(expected.length / 7));
    assert.deepEqual(seen, expected.map((x) => `${x['k']}/${x['i']}`));
  });

  it('pages with ties and NULLs in the order column without duplicates or gaps', async () => {
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const r = await get(`/api/tables/bronze.events/rows?order=m:desc&limit=37${cursor ? `&cursor=${cursor}` : ''}`);
      ids.push(...r.body.items.map((x: { day: string; i: number; m: number | null }) => `${x.m}|${x.day}|${x.i}`));
      cursor = r.body.next;
    } while (cursor);
    assert.equal(ids.length, 500);
    assert.equal(new Set(ids).size, 500);
    const ms = ids.map((x) => x.split('|')[0]);
    // descending, NULLs last
    assert.deepEqual(ms, [...ms].sort((a, b) => (a === 'null' ? 1 : b === 'null' ? -1 : Number(b) - Number(a))));
  });

  it('a cursor keeps reading the version it started on while new commits arrive; version=N travels in time', async () => {
    const first = await get('/api/tables/bronze.events/rows?limit=300&order=i');
    assert.equal(first.body.version, 1);
    const endpointFirst = await get('/models/events/k3/5?limit=20');
    const atVersion1 = await query(s.project, "SELECT day, i FROM bronze.events WHERE k = 'k3' AND i >= 5 ORDER BY day, i");
    const runner = await Runner.open(s.project);
    try {
      assert.equal((await runner.run('2024-01-03')).status, 'success');
    } finally {
      await runner.close();
    }
    await new Promise((r) => setTimeout(r, 1100));
    const rest = await get(`/api/tables/bronze.events/rows?limit=300&order=i&cursor=${first.body.next}`);
    assert.equal(rest.body.version, 1);
    assert.equal(rest.body.count, 500);
    assert.equal(first.body.items.length + rest.body.items.length, 500);
    assert.equal(rest.body.next, null);
    // the endpoint's cursor also reads version 1: the new day's rows (which sort last) do not appear
    const endpointRows = endpointFirst.body.items.map((x: { day: string; i: number }) => `${x.day}/${x.i}`);
    for (let next = endpointFirst.body.next; next;) {
      const page = await get(`/models/events/k3/5?limit=20&cursor=${next}`);
      assert.equal(page.status, 200, page.text);
      assert.equal(page.body.count, atVersion1.length);
      endpointRows.push(...page.body.items.map((x: { day: string; i: number }) => `${x.day}/${x.i}`));
      next = page.body.next;
    }
    assert.deepEqual(endpointRows, atVersion1.map((x) => `${x['day']}/${x['i']}`));
    assert.equal((await get('/models/events/k3/5?limit=1')).body.count, atVersion1.length * 3 / 2);
    const latest = await get('/api/tables/bronze.events/rows?limit=1');
    assert.equal(latest.body.version, 2);
    assert.equal(latest.body.count, 750);
    const v0 = await get('/api/tables/bronze.events/rows?version=0&limit=1');
    assert.equal(v0.body.count, 250);
    assert.equal((await get('/api/tables/bronze.events?version=0')).body.numRecords, 250);
    const sql = await call(`${s.url}/api/sql`, s.keys.read, { method: 'POST', body: { sql: 'SELECT count(*) AS n FROM bronze.events' } });
    assert.equal(sql.body.rows[0].n, 750);
    assert.equal((await get('/api/tables/bronze.events/rows?version=99')).status, 404);
  });

  it('rejects unknown filter and order columns naming them; caps the limit at serve.maxRows', async () => {
    const bad = await get('/api/tables/bronze.events/rows?colour=red');
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /colour/);
    const badOrder = await get('/api/tables/bronze.events/rows?order=nope:desc');
    assert.equal(badOrder.status, 400);
    assert.match(badOrder.body.message, /nope/);
    const badValue = await get('/api/tables/bronze.events/rows?i.gt=abc');
    assert.equal(badValue.status, 400);
    const big = await get('/api/tables/bronze.events/rows?limit=1000000');
    assert.equal(big.status, 200);
    assert.equal(big.body.items.length, 400);
  });

  it('runs read-only SQL with a row cap', async () => {
    const r = await call(`${s.url}/api/sql`, s.keys.read, { method: 'POST', body: { sql: 'SELECT k, count(*) AS n FROM bronze.events GROUP BY k ORDER BY k', limit: 3 } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.columns, [{ name: 'k', type: 'VARCHAR' }, { name: 'n', type: 'BIGINT' }]);
    assert.deepEqual(r.body.rows.map((x: { k: string }) => x.k), ['k0', 'k1', 'k2']);
    assert.equal(r.body.truncated, true);
    const semicolon = await call(`${s.url}/api/sql`, s.keys.read, { method: 'POST', body: { sql: 'SELECT count(*) AS n FROM gold.by_k;\n' } });
    assert.deepEqual(semicolon.body.rows, [{ n: 7 }]);
    // the endpoint looks bronze.events up by k: its in-memory copy is sorted by k
    const clustered = await call(`${s.url}/api/sql`, s.keys.read, { method: 'POST', body: { sql: 'SELECT k FROM bronze.events', limit: 60 } });
    assert.deepEqual([...new Set(clustered.body.rows.map((x: { k: string }) => x.k))], ['k0']);
    const unknown = await call(`${s.url}/api/sql`, s.keys.read, { method: 'POST', body: { sql: 'SELECT * FROM silver.nothing' } });
    assert.equal(unknown.status, 404);
  });

  it('serves a user endpoint: typed parameters, 422 with field, pages matching a direct query', async () => {
    const expected = await query(s.project, "SELECT day, i FROM bronze.events WHERE k = 'k3' AND i >= 5 AND day >= DATE '2024-01-02' ORDER BY day, i");
    const seen: string[] = [];
    let next: string | null = null;
    do {
      const r = await get(`/models/events/k3/5?day=2024-01-02&limit=9${next ? `&cursor=${next}` : ''}`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.count, expected.length);
      seen.push(...r.body.items.map((x: { day: string; i: number }) => `${x.day}/${x.i}`));
      next = r.body.next;
    } while (next);
    assert.deepEqual(seen, expected.map((x) => `${x['day']}/${x['i']}`));
    const defaulted = await get('/models/events/k3/5?limit=1');
    assert.equal(defaulted.body.count, Number((await query(s.project, "SELECT count(*) AS n FROM bronze.events WHERE k = 'k3' AND i >= 5"))[0]!['n']));
    const tooMany = await get('/models/events/k3/25');
    assert.equal(tooMany.status, 422);
    assert.deepEqual(tooMany.body, { error: 'VALIDATION', message: 'min must be an integer between 1 and 24', field: 'min' });
    assert.equal((await get('/models/events/k3/abc')).body.field, 'min');
    const injected = await get(`/models/events/${encodeURIComponent("k3' OR '1'='1")}/5`);
    assert.equal(injected.status, 422);
    assert.equal(injected.body.field, 'k');
    assert.equal((await get('/models/events/k3/5?day=yesterday')).body.field, 'day');
  });

  it('pages a large endpoint result (more rows than are cached whole) exactly once each', async () => {
    const expected = await query(s.project, 'SELECT e.day, e.i, r.range AS j FROM bronze.events AS e, range(3) AS r ORDER BY e.day, e.i, j');
    assert.ok(expected.length > 1000);
    const seen: string[] = [];
    for (let next: string | null = '', pages = 0; next !== null; pages++) {
      const r = await get(`/models/copies?limit=1000${next ? `&cursor=${next}` : ''}`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.count, expected.length);
      assert.equal(r.body.items.length, Math.min(400, expected.length - pages * 400));
      seen.push(...r.body.items.map((x: { day: string; i: number; j: number }) => `${x.day}/${x.i}/${x.j}`));
      next = r.body.next;
    }
    assert.deepEqual(seen, expected.map((x) => `${x['day']}/${x['i']}/${x['j']}`));
  });

  it('serves dashboards with panel rows and CSV downloads', async () => {
    const list = await get('/api/dashboards');
    assert.deepEqual(list.body.items, [{ name: 'events', title: 'Events', panels: 2 }]);
    const d = await get('/api/dashboards/events');
    assert.equal(d.body.panels[0].type, 'bar');
    const byK = await query(s.project, 'SELECT k, n FROM gold.by_k ORDER BY k');
    assert.deepEqual(d.body.panels[0].rows, byK.map((r) => ({ k: r['k'], n: Number(r['n']) })));
    const csv = await get('/api/dashboards/events/panels/1.csv');
    assert.equal(csv.status, 200);
    assert.match(csv.headers.get('content-type') ?? '', /text\/csv/);
    assert.match(csv.headers.get('content-disposition') ?? '', /attachment/);
    const lines = csv.text.trim().split('\r\n');
    assert.equal(lines[0], 'day,rows,"sum, x"');
    assert.equal(lines[1], '2024-01-01,250,46687.5');
    assert.equal((await get('/api/dashboards/nope')).status, 404);
    assert.equal((await get('/api/dashboards/events/panels/7.csv')).status, 404);
  });

  it('shows pipelines, runs, tasks, logs and expectation results; write keys trigger, pause and resume', async () => {
    const p = await get('/api/pipelines');
    assert.equal(p.body.items[0].name, 'events');
    assert.deepEqual(p.body.items[0].datasets.find((d: { name: string }) => d.name === 'gold.by_k').dependsOn, ['bronze.events']);
    const runs = await get('/api/runs?limit=10');
    assert.equal(runs.body.items.length, 3);
    assert.ok(runs.body.items.every((r: { status: string }) => r.status === 'success'));
    const run = await get(`/api/runs/${runs.body.items[0].id}`);
    assert.deepEqual(run.body.tasks.map((t: { dataset: string }) => t.dataset).sort(), ['bronze.events', 'gold.by_k']);
    assert.equal(run.body.tasks.find((t: { dataset: string }) => t.dataset === 'bronze.events').rows, 250);
    assert.equal((await get('/api/runs/nope')).status, 404);
    assert.equal((await get(`/api/runs/${runs.body.items[0].id}/log`)).status, 200);
    assert.equal((await get('/api/expectations')).status, 200);
    assert.equal((await get('/api/runs?status=failed')).body.items.length, 0);
    const trig = await call(`${s.url}/api/pipelines/events/trigger`, s.keys.write, { method: 'POST', body: { date: '2024-02-01' } });
    assert.equal(trig.status, 202, trig.text);
    assert.deepEqual((await s.store.intervals('events')).map((i) => [i.logicalDate, i.status]), [['2024-02-01', 'queued']]);
    const back = await call(`${s.url}/api/pipelines/events/backfill`, s.keys.write, { method: 'POST', body: { from: '2024-02-01', to: '2024-02-03' } });
    assert.deepEqual(back.body.queued, ['2024-02-01', '2024-02-02', '2024-02-03']);
    assert.equal((await call(`${s.url}/api/pipelines/events/pause`, s.keys.write, { method: 'POST' })).status, 200);
    assert.equal((await get('/api/pipelines')).body.items[0].paused, true);
    await call(`${s.url}/api/pipelines/events/resume`, s.keys.write, { method: 'POST' });
    assert.equal((await get('/api/pipelines')).body.items[0].paused, false);
    assert.equal((await call(`${s.url}/api/pipelines/nope/pause`, s.keys.write, { method: 'POST' })).status, 404);
  });

  it('publishes an OpenAPI 3.1 document of every route, interactive docs, and Prometheus metrics', async () => {
    // the document and the docs need a key, as every route but /health and /ready (issue 19, item 11)
    assert.equal((await call(`${s.url}/openapi.json`, undefined)).status, 401);
    assert.equal((await call(`${s.url}/docs/`, undefined)).status, 401);
    const doc = await call(`${s.url}/openapi.json`, s.keys.read);
    assert.equal(doc.status, 200);
    assert.equal(doc.body.openapi, '3.1.0');
    for (const p of ['/api/tables', '/api/tables/{name}/rows', '/api/sql', '/api/runs/{id}', '/api/pipelines/{name}/trigger', '/api/dashboards/{name}', '/models/events/{k}/{min}', '/models/copies', '/health']) {
      assert.ok(doc.body.paths[p], `${p} in the OpenAPI document`);
    }
    const ep = doc.body.paths['/models/events/{k}/{min}'].get;
    assert.deepEqual(ep.parameters.find((x: { name: string }) => x.name === 'min').schema, { type: 'integer', minimum: 1, maximum: 24 });
    assert.ok(doc.body.components.securitySchemes.bearer);
    for (const [p, ops] of Object.entries(doc.body.paths as Record<string, Record<string, { responses?: object }>>)) {
      for (const [m, op] of Object.entries(ops)) assert.ok(op.responses, `${m} ${p} has responses`);
    }
    const docs = await call(`${s.url}/docs/`, s.keys.read);
    assert.equal(docs.status, 200);
    assert.match(docs.text, /swagger-ui/);
    assert.doesNotMatch(docs.text, /https?:\/\/(cdn|unpkg)/);
    const metrics = await get('/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.text, /ingot_http_requests_total\{method="GET",route="\/api\/tables",status="200"\} \d+/);
    assert.match(metrics.text, /ingot_http_request_duration_seconds_bucket\{le="0.05",method="GET",route="\/api\/tables\/:name\/rows",status="200"\}/);
    assert.match(metrics.text, /ingot_runs\{status="success"\} 3/);
    assert.deepEqual((await call(`${s.url}/health`, undefined)).body, { status: 'ok' });
    assert.deepEqual((await call(`${s.url}/ready`, undefined)).body, { status: 'ready' });
  });
});
