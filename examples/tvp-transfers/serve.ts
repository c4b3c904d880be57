/**
 * A local stand-in for Dune's API serving `generate.ts`'s rows, so the example runs offline. It
 * speaks the part of Dune's documented contract (`/api/v1`, header `X-Dune-API-Key`) that the
 * `dune()` source uses, and only that:
 *
 *   POST /api/v1/query/{QUERY_ID}/execute   body { "query_parameters": { "block_date": "YYYY-MM-DD" }, "performance"? }
 *     → 200 { execution_id, state: "QUERY_STATE_PENDING" }
 *   GET  /api/v1/execution/{execution_id}/status
 *     → 200 { execution_id, query_id, state, is_execution_finished, submitted_at, ..., error? }
 *       each poll moves the execution on: QUERY_STATE_PENDING → QUERY_STATE_EXECUTING → QUERY_STATE_COMPLETED
 *       (or QUERY_STATE_FAILED with { error: { type, message } } for a date in `failExecution`)
 *   GET  /api/v1/execution/{execution_id}/results?limit=N&offset=M
 *     → 200 { execution_id, query_id, state, is_execution_finished, result: { rows, metadata }, next_offset?, next_uri? }
 *       once completed (before: the state and no result); pages hold at most `PAGE_LIMIT` rows.
 *
 * A wrong key is a 401, an unknown query or execution a 404, an execute request without a valid
 * `query_parameters.block_date` a 400 (the parameter has no default). `failOnce` makes the first
 * execute request of a date fail with a status (e.g. 500 or 429) to exercise retries.
 *
 * `npx tsx serve.ts [port]` runs it (key: `$DUNE_API_KEY`, default `local-key`) until Ctrl-C.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { generateDay } from './generate.js';

export const QUERY_ID = 4_302_123;
/** The most rows a page holds. */
export const PAGE_LIMIT = 100;

/** One request the server answered; `state` the execution's state after it, when it names one. */
export interface Served { method: string; path: string; blockDate: string; status: number; state?: string; body?: unknown }

/** An execution the server started: its block date, state and polls so far. */
interface Execution { id: string; blockDate: string; state: string; polls: number; fails: boolean; submittedAt: string }

export class TransferApi {
  private server: Server | undefined;
  origin = '';
  /** Every answered request, in order. */
  readonly log: Served[] = [];
  /** Block date → status the first execute request for that date gets instead of an execution. */
  readonly failOnce = new Map<string, number>();
  /** Block dates whose executions end QUERY_STATE_FAILED. */
  readonly failExecution = new Set<string>();
  private readonly executions = new Map<string, Execution>();
  private next = 0;

  constructor(readonly apiKey: string, readonly seed = 2024) {}

  async start(port = 0): Promise<string> {
    this.server = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString())).on('end', () => this.handle(req, res, text));
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.origin;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private send(req: IncomingMessage, res: ServerResponse, blockDate: string, status: number, body: Record<string, unknown>, requestBody?: unknown): void {
    this.log.push({ method: req.method!, path: req.url!, blockDate, status, ...(typeof body['state'] === 'string' ? { state: body['state'] } : {}), ...(requestBody !== undefined ? { body: requestBody } : {}) });
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private handle(req: IncomingMessage, res: ServerResponse, text: string): void {
    const url = new URL(req.url!, this.origin);
    if (req.headers['x-dune-api-key'] !== this.apiKey) return this.send(req, res, '', 401, { error: 'invalid API Key' });
    const execute = /^\/api\/v1\/query\/(\d+)\/execute$/.exec(url.pathname);
    if (execute && req.method === 'POST') return this.execute(req, res, Number(execute[1]), text);
    const m = /^\/api\/v1\/execution\/([^/]+)\/(status|results)$/.exec(url.pathname);
    const exec = m ? this.executions.get(decodeURIComponent(m[1]!)) : undefined;
    if (!m || req.method !== 'GET') return this.send(req, res, '', 404, { error: 'Not found' });
    if (!exec) return this.send(req, res, '', 404, { error: 'Execution not found' });
    const about = { execution_id: exec.id, query_id: QUERY_ID };
    if (m[2] === 'status') {
      exec.polls++;
      if (exec.state === 'QUERY_STATE_PENDING') exec.state = 'QUERY_STATE_EXECUTING';
      else if (exec.state === 'QUERY_STATE_EXECUTING') exec.state = exec.fails ? 'QUERY_STATE_FAILED' : 'QUERY_STATE_COMPLETED';
      const finished = exec.state === 'QUERY_STATE_COMPLETED' || exec.state === 'QUERY_STATE_FAILED';
      return this.send(req, res, exec.blockDate, 200, {
        ...about, state: exec.state, is_execution_finished: finished, submitted_at: exec.submittedAt,
        ...(exec.state === 'QUERY_STATE_COMPLETED' ? { result_metadata: { total_row_count: generateDay(exec.blockDate, this.seed).length } } : {}),
        ...(exec.state === 'QUERY_STATE_FAILED' ? { error: { type: 'FAILED_TYPE_EXECUTION_FAILED', message: `line 3:7: division by zero (block_date ${exec.blockDate})` } } : {}),
      });
    }
    if (exec.state !== 'QUERY_STATE_COMPLETED') return this.send(req, res, exec.blockDate, 200, { ...about, state: exec.state, is_execution_finished: exec.state === 'QUERY_STATE_FAILED' });
    const rows = generateDay(exec.blockDate, this.seed).map((r) => r.row);
    const offset = Number(url.searchParams.get('offset') ?? 0);
    const limit = Math.min(Number(url.searchParams.get('limit') ?? PAGE_LIMIT), PAGE_LIMIT);
    if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(limit) || limit < 1) return this.send(req, res, exec.blockDate, 400, { error: 'limit and offset are non-negative integers' });
    const page = rows.slice(offset, offset + limit);
    const more = offset + limit < rows.length;
    this.send(req, res, exec.blockDate, 200, {
      ...about, state: exec.state, is_execution_finished: true, submitted_at: exec.submittedAt,
      ...(more ? { next_offset: offset + limit, next_uri: `${this.origin}/api/v1/execution/${exec.id}/results?limit=${limit}&offset=${offset + limit}` } : {}),
      result: { rows: page, metadata: { column_names: Object.keys(rows[0] ?? {}), row_count: page.length, total_row_count: rows.length } },
    });
  }

  private execute(req: IncomingMessage, res: ServerResponse, queryId: number, text: string): void {
    if (queryId !== QUERY_ID) return this.send(req, res, '', 404, { error: 'Query not found' });
    let body: unknown;
    try {
      body = JSON.parse(text || '{}');
    } catch {
      return this.send(req, res, '', 400, { error: 'the body is not JSON' });
    }
    const params = (body as { query_parameters?: Record<string, unknown> }).query_parameters;
    const blockDate = typeof params?.['block_date'] === 'string' ? params['block_date'] : '';
    if (!/^\d{4}-\d{2}-\d{2}$/.test(blockDate)) return this.send(req, res, blockDate, 400, { error: 'query parameter block_date (YYYY-MM-DD) is required' }, body);
    const fault = this.failOnce.get(blockDate);
    if (fault !== undefined) {
      this.failOnce.delete(blockDate);
      return this.send(req, res, blockDate, fault, { error: `injected ${fault}` }, body);
    }
    const id = `01TVP${String(++this.next).padStart(6, '0')}${blockDate.replaceAll('-', '')}`;
    this.executions.set(id, { id, blockDate, state: 'QUERY_STATE_PENDING', polls: 0, fails: this.failExecution.has(blockDate), submittedAt: new Date().toISOString() });
    this.send(req, res, blockDate, 200, { execution_id: id, state: 'QUERY_STATE_PENDING' }, body);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const api = new TransferApi(process.env['DUNE_API_KEY'] ?? 'local-key');
  const origin = await api.start(Number(process.argv[2] ?? 8547));
  console.log(`Dune-shaped API for query ${QUERY_ID} on ${origin} (X-Dune-API-Key: ${api.apiKey})`);
}
