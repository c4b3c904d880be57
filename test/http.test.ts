import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { EVERYTHING } from '../src/pipeline/interval.js';
import { HttpConnector } from '../src/sources/http.js';
import { http, type HttpSource } from '../src/pipeline/sources/http-source.js';
import { cli, tempDir } from './fixtures.js';

const KEY = 'test-key-7f3a';
const DAYS = ['2024-03-01', '2024-03-02'];
const PER_DAY: Record<string, number> = { '2024-03-01': 237, '2024-03-02': 164 };
/** Dune caps `limit`: a client must follow the server's next page, not its own arithmetic. */
const SERVER_LIMIT = 60;

interface Transfer { tx_id: number; block_date: string; amount: number; token: string }

/** Generated served rows: deterministic, with awkward strings (quotes, commas) and fractional amounts. */
const ROWS: Transfer[] = DAYS.flatMap((day, d) => Array.from({ length: PER_DAY[day]! }, (_, i) => ({
  tx_id: (d + 1) * 100_000 + i * 7,
  block_date: day,
  amount: Math.round(((i * 7919) % 100_003) * 1.37) / 100,
  token: i % 11 === 0 ? `tok "${i}", wrapped` : `TOK${i % 13}`,
})));

interface Logged { path: string; at: number; status: number }

/** A local API speaking Dune's execute / status / results contract plus generic offset, cursor, link and CSV endpoints. */
class Api {
  server!: Server;
  origin = '';
  log: Logged[] = [];
  /** Statuses (with optional Retry-After seconds) served instead of the next requests, in order. */
  faults: { status: number; retryAfter?: number }[] = [];

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString())).on('end', () => this.handle(req, res, body));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private send(req: IncomingMessage, res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
    this.log.push({ path: req.url!, at: performance.now(), status });
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(body);
  }

  private handle(req: IncomingMessage, res: ServerResponse, body: string): void {
    const url = new URL(req.url!, this.origin);
    const q = url.searchParams;
    const fault = this.faults.shift();
    if (fault) return this.send(req, res, fault.status, JSON.stringify({ error: `injected ${fault.status}` }), fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {});
    // Dune: execute with query_parameters, then the execution's status and results pages
    const execute = url.pathname === '/api/v1/query/4242/execute' && req.method === 'POST';
    const execution = /^\/api\/v1\/execution\/01EXEC(\d{4}-\d{2}-\d{2})\/(status|results)$/.exec(url.pathname);
    if (execute || execution) {
      if (req.headers['x-dune-api-key'] !== KEY) return this.send(req, res, 401, JSON.stringify({ error: 'invalid API Key' }));
      if (execute) {
        const day = (JSON.parse(body) as { query_parameters?: { block_date?: string } }).query_parameters?.block_date;
        if (!day) return this.send(req, res, 400, JSON.stringify({ error: 'query parameter block_date is required' }));
        return this.send(req, res, 200, JSON.stringify({ execution_id: `01EXEC${day}`, state: 'QUERY_STATE_PENDING' }));
      }
      const [, day, what] = execution!;
      if (what === 'status') return this.send(req, res, 200, JSON.stringify({ execution_id: `01EXEC${day!}`, query_id: 4242, state: 'QUERY_STATE_COMPLETED', is_execution_finished: true }));
      const rows = ROWS.filter((r) => r.block_date === day);
      const offset = Number(q.get('offset') ?? 0);
      const limit = Math.min(Number(q.get('limit')), SERVER_LIMIT);
      const page = rows.slice(offset, offset + limit);
      const more = offset + limit < rows.length;
      const exec = `01EXEC${day!}`;
      return this.send(req, res, 200, JSON.stringify({
        execution_id: exec, query_id: 4242, state: 'QUERY_STATE_COMPLETED', is_execution_finished: true,
        ...(more ? { next_offset: offset + limit, next_uri: `${this.origin}/api/v1/execution/${exec}/results?limit=${limit}&offset=${offset + limit}` } : {}),
        result: { rows: page, metadata: { column_names: ['tx_id', 'block_date', 'amount', 'token'], row_count: page.length, total_row_count: rows.length } },
      }));
    }
    switch (url.pathname) {
      case '/offset': {
        const offset = Number(q.get('start'));
        return this.send(req, res, 200, JSON.stringify(ROWS.slice(offset, offset + Number(q.get('count')))));
      }
      case '/cursor': {
        const from = q.has('after') ? Number(q.get('after')!.slice(1)) : 0;
        const next = from + 45 < ROWS.length ? `c${from + 45}` : null;
        return this.send(req, res, 200, JSON.stringify({ data: { items: ROWS.slice(from, from + 45) }, meta: { next } }));
      }
      case '/link': {
        const page = Number(q.get('page') ?? 1);
        const last = Math.ceil(ROWS.length / 80);
        const links = [`</link?page=1>; rel="first"`, ...(page < last ? [`</link?page=${page + 1}>; rel="next"`] : [])];
        return this.send(req, res, 200, JSON.stringify(ROWS.slice((page - 1) * 80, page * 80)), { link: links.join(', ') });
      }
      case '/csv': {
        const offset = Number(q.get('offset'));
        const page = ROWS.slice(offset, offset + Number(q.get('limit')));
        const quote = (s: string): string => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
        const text = ['tx_id,block_date,amount,token', ...page.map((r) => `${r.tx_id},${r.block_date},${r.amount},${quote(r.token)}`)].join('\n') + '\n';
        return this.send(req, res, 200, text, { 'content-type': 'text/csv' });
      }
      default:
        return this.send(req, res, 404, 'not found');
    }
  }
}

const COLUMNS = { tx_id: 'BIGINT', block_date: 'DATE', amount: 'DOUBLE', token: 'VARCHAR' };
const SELECT_ROWS = 'CAST(tx_id AS INTEGER) AS tx_id, CAST(block_date AS VARCHAR) AS block_date, amount, token';

describe('http source against a local API', () => {
  const api = new Api();
  let engine: DuckDBEngine;
  before(async () => {
    await api.start();
    engine = await DuckDBEngine.open();
  });
  after(async () => {
    await engine.close();
    await api.stop();
  });

  /** Reads `source` with a connector and returns its rows ordered by tx_id and the distinct `_source` values. */
  async function read(source: HttpSource): Promise<{ rows: Record<string, unknown>[]; sources: string[] }> {
    await new HttpConnector(source).read({ projectDir: '.', dataset: 'bronze.t', interval: EVERYTHING }, engine, 'src');
    const rows = await engine.query(`SELECT ${SELECT_ROWS} FROM src ORDER BY tx_id`);
    const sources = (await engine.query('SELECT DISTINCT _source AS s FROM src ORDER BY 1')).map((r) => String(r['s']));
    await engine.drop('src');
    return { rows, sources };
  }

  it('offset pagination: every row once, _source = each page URL', async () => {
    api.log = [];
    const { rows, sources } = await read(http({ url: `${api.origin}/offset`, pagination: { kind: 'offset', param: 'start', limitParam: 'count', pageSize: 50 }, columns: COLUMNS }));
    assert.deepEqual(rows, ROWS);
    assert.equal(api.log.length, Math.ceil(ROWS.length / 50) + (ROWS.length % 50 === 0 ? 1 : 0));
    assert.deepEqual(sources, api.log.map((l) => `${api.origin}${l.path}`).sort());
  });

  it('cursor pagination from a nested body path', async () => {
    api.log = [];
    const { rows } = await read(http({ url: `${api.origin}/cursor`, records: 'data.items', pagination: { kind: 'cursor', param: 'after', next: 'meta.next' }, columns: COLUMNS }));
    assert.deepEqual(rows, ROWS);
    assert.equal(api.log.length, Math.ceil(ROWS.length / 45));
  });

  it('Link header pagination (RFC 8288), types inferred without declared columns', async () => {
    api.log = [];
    const { rows, sources } = await read(http({ url: `${api.origin}/link`, pagination: { kind: 'link' } }));
    assert.deepEqual(rows, ROWS);
    assert.equal(sources.length, Math.ceil(ROWS.length / 80));
  });

  it('CSV pages with quoted fields', async () => {
    const { rows } = await read(http({ url: `${api.origin}/csv`, format: 'csv', pagination: { kind: 'offset', pageSize: 70 }, columns: COLUMNS }));
    assert.deepEqual(rows, ROWS);
  });

  it('retries 429 after Retry-After and 503 with backoff', async () => {
    api.log = [];
    api.faults = [{ status: 503 }, { status: 429, retryAfter: 1 }];
    const { rows } = await read(http({ url: `${api.origin}/link`, pagination: { kind: 'link' }, retry: { baseDelayMs: 100 } }));
    assert.deepEqual(rows, ROWS);
    assert.deepEqual(api.log.slice(0, 3).map((l) => [l.path, l.status]), [['/link', 503], ['/link', 429], ['/link', 200]]);
    assert.ok(api.log[1]!.at - api.log[0]!.at >= 95, `backoff after 503: ${api.log[1]!.at - api.log[0]!.at} ms`);
    assert.ok(api.log[2]!.at - api.log[1]!.at >= 995, `Retry-After: 1 honoured: ${api.log[2]!.at - api.log[1]!.at} ms`);
  });

  it('honours the rate limit: request starts at least 1/rate apart', async () => {
    api.log = [];
    await read(http({ url: `${api.origin}/cursor`, records: 'data.items', pagination: { kind: 'cursor', param: 'after', next: 'meta.next' }, rateLimit: 20 }));
    const gaps = api.log.length - 1;
    assert.equal(gaps, Math.ceil(ROWS.length / 45) - 1);
    // the server logs arrivals, which a loaded machine may delay one by one: the span over all
    // requests is what the limit bounds (50 ms per request at 20/s; unlimited, a few ms each)
    const span = api.log.at(-1)!.at - api.log[0]!.at;
    assert.ok(span >= 50 * (gaps - 1), `${gaps + 1} requests in ${span.toFixed(0)} ms at 20 requests/s`);
  });

  it('a client error fails at once naming dataset, URL, status and body', async () => {
    api.log = [];
    await assert.rejects(read(http({ url: `${api.origin}/nowhere?x=1` })), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'SOURCE_ERROR');
      assert.match(err.message, new RegExp(`^bronze\\.t: GET ${api.origin}/nowhere\\?x=1: HTTP 404 Not Found: not found$`));
      return true;
    });
    assert.equal(api.log.length, 1);
  });

  describe('pipeline: Dune-shaped API → bronze → silver', () => {
    let dir: string;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ dir, cleanup } = await tempDir('http'));
      await fs.writeFile(path.join(dir, 'ingot.config.ts'), "export default { lake: './lake' };\n");
      await fs.mkdir(path.join(dir, 'datasets', 'bronze'), { recursive: true });
      await fs.mkdir(path.join(dir, 'datasets', 'silver'), { recursive: true });
      await fs.writeFile(path.join(dir, 'datasets', 'bronze', 'transfers.ts'), `import { dataset, dune } from 'ingot';
export default dataset({
  name: 'bronze.transfers',
  source: dune({ queryId: 4242, apiKey: 'env:DUNE_API_KEY', baseUrl: '${api.origin}', queryParameters: { block_date: '{{logical_date}}' },
                 pageSize: 100, pollIntervalMs: 10, rateLimit: 40, retry: { baseDelayMs: 20, maxAttempts: 4 }, columns: ${JSON.stringify(COLUMNS)} }),
  materialization: 'replace partition',
  partitionBy: ['block_date'],
});
`);
      await fs.writeFile(path.join(dir, 'datasets', 'silver', 'daily.sql'), `-- materialization: replace partition
-- partition_by: block_date
SELECT block_date, count(*) AS transfers, count(DISTINCT tx_id) AS txs, sum(amount) AS volume
FROM bronze.transfers WHERE block_date >= {{start}} AND block_date < {{end}} GROUP BY block_date
`);
    });
    after(async () => {
      delete process.env['DUNE_API_KEY'];
      await cleanup();
    });

    async function sql(select: string): Promise<Record<string, unknown>[]> {
      const r = await cli(['sql', '-p', dir, '--format', 'json', select]);
      assert.equal(r.code, 0, r.err);
      return JSON.parse(r.out) as Record<string, unknown>[];
    }
    async function state(): Promise<unknown> {
      const t = await cli(['tables', '-p', dir, '--format', 'json']);
      assert.equal(t.code, 0, t.err);
      return { tables: JSON.parse(t.out), bronze: await sql(`SELECT ${SELECT_ROWS} FROM bronze.transfers ORDER BY tx_id`), silver: await sql('SELECT * FROM silver.daily ORDER BY block_date') };
    }

    it('loads each day through 429/503 retries: the Delta table holds exactly the served rows', async () => {
      process.env['DUNE_API_KEY'] = KEY;
      api.log = [];
      api.faults = [{ status: 429, retryAfter: 1 }];
      const r = await cli(['run', '-p', dir, '--from', DAYS[0]!, '--to', DAYS[1]!]);
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(await sql(`SELECT ${SELECT_ROWS} FROM bronze.transfers ORDER BY tx_id`), ROWS);
      // per day: one execution of the query with the day as its parameter, then every page of its results once
      assert.deepEqual(api.log.filter((l) => l.status === 200 && !l.path.includes('/results')).map((l) => l.path),
        DAYS.flatMap((d) => ['/api/v1/query/4242/execute', `/api/v1/execution/01EXEC${d}/status`]));
      const ok = api.log.filter((l) => l.status === 200 && l.path.includes('/results')).map((l) => l.path);
      assert.equal(ok.length, DAYS.reduce((n, d) => n + Math.ceil(PER_DAY[d]! / SERVER_LIMIT), 0));
      assert.equal(new Set(ok).size, ok.length);
      assert.equal(ok[0], '/api/v1/execution/01EXEC2024-03-01/results?limit=100');
      assert.equal(ok[1], '/api/v1/execution/01EXEC2024-03-01/results?limit=100&offset=60');
      const src = await sql("SELECT DISTINCT _source AS s FROM bronze.transfers WHERE block_date = DATE '2024-03-02' ORDER BY 1");
      assert.deepEqual(src.map((s) => String(s['s']).replace(api.origin, '')), ok.filter((p) => /2024-03-02/.test(p)).sort());
      assert.ok(api.log[1]!.at - api.log[0]!.at >= 995, 'Retry-After honoured');
      const silver = await sql('SELECT CAST(block_date AS VARCHAR) AS d, CAST(transfers AS INTEGER) AS n, CAST(txs AS INTEGER) AS txs, volume FROM silver.daily ORDER BY 1');
      assert.deepEqual(silver.map((s) => [s['d'], s['n'], s['txs']]), DAYS.map((d) => [d, PER_DAY[d], PER_DAY[d]]));
      for (const s of silver) {
        const want = ROWS.filter((x) => x.block_date === s['d']).reduce((a, x) => a + x.amount, 0);
        assert.ok(Math.abs(Number(s['volume']) - want) < 1e-6, `${String(s['d'])}: volume ${String(s['volume'])} vs ${want}`);
      }

      api.faults = [{ status: 503 }, { status: 502 }];
      const again = await cli(['run', '-p', dir, '--date', DAYS[0]!]);
      assert.equal(again.code, 0, again.err);
      assert.deepEqual(await sql(`SELECT ${SELECT_ROWS} FROM bronze.transfers ORDER BY tx_id`), ROWS, 're-run: no duplicates, no missing page');
    });

    it('a wrong API key fails the run with the 401 and changes no table', async () => {
      const before = await state();
      process.env['DUNE_API_KEY'] = 'wrong';
      const r = await cli(['run', '-p', dir, '--date', DAYS[1]!]);
      process.env['DUNE_API_KEY'] = KEY;
      assert.equal(r.code, 1);
      assert.match(r.err, /FAILED in bronze\.transfers: bronze\.transfers: POST http:\/\/127\.0\.0\.1:\d+\/api\/v1\/query\/4242\/execute: HTTP 401 Unauthorized: \{"error":"invalid API Key"\}/);
      assert.deepEqual(await state(), before);
    });

    it('a missing API key variable is a CONFIG_INVALID naming it, before any request', async () => {
      delete process.env['DUNE_API_KEY'];
      api.log = [];
      const r = await cli(['run', '-p', dir, '--date', DAYS[1]!]);
      process.env['DUNE_API_KEY'] = KEY;
      assert.equal(r.code, 1);
      assert.match(r.err, /bronze\.transfers: header X-Dune-API-Key reads environment variable DUNE_API_KEY, which is not set/);
      assert.equal(api.log.length, 0);
    });

    it('a server that keeps failing fails the run after maxAttempts and leaves every table unchanged', async () => {
      const before = await state();
      api.log = [];
      // the first page succeeds, then every request fails: a partial read must not land
      api.faults = [];
      const failing = Array.from({ length: 10 }, () => ({ status: 503 }));
      let served = 0;
      const listener = (req: IncomingMessage): void => {
        // the handler reads a request's body first: faults set here apply to this very request
        if (req.url?.includes('/results') && ++served === 2) api.faults = failing;
      };
      api.server.on('request', listener);
      const r = await cli(['run', '-p', dir, '--date', DAYS[1]!]);
      api.server.off('request', listener);
      api.faults = [];
      assert.equal(r.code, 1);
      assert.match(r.err, /bronze\.transfers: GET \S+\/api\/v1\/execution\/01EXEC2024-03-02\/results\?limit=100&offset=60: failed after 4 attempts, last: HTTP 503 Service Unavailable/);
      assert.deepEqual(api.log.map((l) => l.status), [200, 200, 200, 503, 503, 503, 503]);
      assert.deepEqual(await state(), before);
    });
  });
});
