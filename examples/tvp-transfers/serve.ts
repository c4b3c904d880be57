/**
 * A local stand-in for Dune's query-results API serving `generate.ts`'s rows, so the example runs
 * offline:
 *
 *   GET /api/v1/query/{QUERY_ID}/results?block_date=YYYY-MM-DD&limit=N&offset=0   (header X-Dune-API-Key)
 *   → { execution_id, query_id, state, result: { rows, metadata }, next_offset?, next_uri? }
 *
 * Pages hold at most `PAGE_LIMIT` rows whatever `limit` asks; `next_uri` points at
 * `/api/v1/execution/{execution_id}/results?...` for the next page, as Dune does. A wrong key is a
 * 401, a missing or invalid `block_date` a 400. `failOnce` makes the first request of a date fail
 * (e.g. 500 or 429) to exercise retries.
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

/** One request the server answered. */
export interface Served { path: string; blockDate: string; status: number }

export class TransferApi {
  private server: Server | undefined;
  origin = '';
  /** Every answered request, in order. */
  readonly log: Served[] = [];
  /** Block date → status the first request for that date gets instead of rows. */
  readonly failOnce = new Map<string, number>();

  constructor(readonly apiKey: string, readonly seed = 2024) {}

  async start(port = 0): Promise<string> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.origin;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private send(req: IncomingMessage, res: ServerResponse, blockDate: string, status: number, body: unknown): void {
    this.log.push({ path: req.url!, blockDate, status });
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url!, this.origin);
    const m = /^\/api\/v1\/(?:query\/(\d+)|execution\/01TVP-(\d{4}-\d{2}-\d{2}))\/results$/.exec(url.pathname);
    if (!m || (m[1] !== undefined && Number(m[1]) !== QUERY_ID)) return this.send(req, res, '', 404, { error: 'Query not found' });
    if (req.headers['x-dune-api-key'] !== this.apiKey) return this.send(req, res, '', 401, { error: 'invalid API Key' });
    const blockDate = m[2] ?? url.searchParams.get('block_date') ?? '';
    if (!/^\d{4}-\d{2}-\d{2}$/.test(blockDate)) return this.send(req, res, blockDate, 400, { error: 'parameter block_date (YYYY-MM-DD) is required' });
    const fault = this.failOnce.get(blockDate);
    if (fault !== undefined) {
      this.failOnce.delete(blockDate);
      return this.send(req, res, blockDate, fault, { error: `injected ${fault}` });
    }
    const rows = generateDay(blockDate, this.seed).map((r) => r.row);
    const offset = Number(url.searchParams.get('offset') ?? 0);
    const limit = Math.min(Number(url.searchParams.get('limit') ?? PAGE_LIMIT), PAGE_LIMIT);
    const page = rows.slice(offset, offset + limit);
    const exec = `01TVP-${blockDate}`;
    const more = offset + limit < rows.length;
    this.send(req, res, blockDate, 200, {
      execution_id: exec, query_id: QUERY_ID, state: 'QUERY_STATE_COMPLETED', is_execution_finished: true,
      ...(more ? { next_offset: offset + limit, next_uri: `${this.origin}/api/v1/execution/${exec}/results?limit=${limit}&offset=${offset + limit}` } : {}),
      result: { rows: page, metadata: { column_names: Object.keys(rows[0] ?? {}), row_count: page.length, total_row_count: rows.length } },
    });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const api = new TransferApi(process.env['DUNE_API_KEY'] ?? 'local-key');
  const origin = await api.start(Number(process.argv[2] ?? 8547));
  console.log(`Dune-shaped API for query ${QUERY_ID} on ${origin} (X-Dune-API-Key: ${api.apiKey})`);
}
