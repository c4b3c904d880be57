import type { FastifyInstance } from 'fastify';
import type { QueryParam, QueryResult } from '../engine/reader.js';
import type { ServedLake } from './served-lake.js';
import type { ServeContext } from './context.js';
import { errorSchema, rowSchema } from './schemas.js';

/**
 * Runs one read-only SELECT over the lake's tables (`layer.table`, each attached at its latest
 * version) with at most `maxRows` rows, at most `maxBytes` bytes of rows (JSON text) and a time
 * limit; `truncated` tells whether more rows existed. The statement must be a single SELECT (anything else: SQL_NOT_READ_ONLY); reading a
 * file outside the lake is refused by the reader itself (only the lake's directories are
 * readable), reported as SQL_NOT_READ_ONLY too. Errors: TABLE_NOT_FOUND for a table that is not
 * in the lake, SQL_ERROR, SQL_TIMEOUT (time waiting for a connection included), RESULT_TOO_LARGE (the first row alone is over `maxBytes`), QUERY_QUEUE_FULL.
 * With `adHoc` (a user's own statement), the query never takes the connections kept for published reads.
 */
export async function readOnlyQuery(reader: ServedLake, sql: string, options: { maxRows: number; maxBytes?: number; timeoutMs?: number; adHoc?: boolean; params?: Record<string, QueryParam> }): Promise<QueryResult> {
  // table_changes('layer.table', from, to): the table's change data feed, read from relations pinned for it
  sql = await reader.changes(sql.trim().replace(/;\s*$/, ''));
  const names = await reader.references(sql);
  for (const name of names) if (!name.startsWith('__ingot.')) await reader.latest(name);
  return reader.query(sql, options.params ?? {}, { maxRows: options.maxRows, ...(options.maxBytes ? { maxBytes: options.maxBytes } : {}), ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}), ...(options.adHoc ? { adHoc: true } : {}) });
}

/** `POST /api/sql` (read scope): `{ sql, limit? }` → `{ columns, rows, truncated }`. */
export function addSqlRoutes(app: FastifyInstance, ctx: ServeContext): void {
  app.post<{ Body: { sql: string; limit?: number } }>('/api/sql', {
    schema: {
      tags: ['sql'], summary: 'Run one read-only SELECT over the lake',
      description: 'Tables are addressed as `layer.table`. Only a single SELECT is accepted; files outside the lake cannot be read. Rows are capped by `limit` and serve.maxRows, and by serve.maxResponseBytes of JSON (`truncated` is then true; 413 when the first row alone is larger); the query is interrupted after serve.sqlTimeoutSeconds.',
      body: { type: 'object', required: ['sql'], additionalProperties: false, properties: { sql: { type: 'string', minLength: 1, maxLength: 100_000 }, limit: { type: 'integer', minimum: 1 } } },
      response: {
        200: {
          type: 'object', required: ['columns', 'rows', 'truncated'],
          properties: {
            columns: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, type: { type: 'string' } } } },
            rows: { type: 'array', items: rowSchema },
            truncated: { type: 'boolean' },
          },
        },
        400: errorSchema, 403: errorSchema, 404: errorSchema, 408: errorSchema, 413: errorSchema, 503: errorSchema,
      },
    },
  }, async (req) => readOnlyQuery(ctx.reader, req.body.sql, { maxRows: Math.min(req.body.limit ?? ctx.maxRows, ctx.maxRows), maxBytes: ctx.maxResponseBytes, timeoutMs: ctx.sqlTimeoutMs, adHoc: true }));
}
