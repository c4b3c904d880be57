import { z } from 'zod';
import type { HttpRetry } from './http-source.js';

/**
 * A saved Dune query, run for each run of the dataset the way Dune's API documents it
 * (`/api/v1`, header `X-Dune-API-Key`; see `DuneConnector`):
 * 1. `POST /query/{queryId}/execute` with `{ "query_parameters": {...}, "performance": ... }`
 *    starts an execution with the run's parameters and answers its `execution_id`;
 * 2. `GET /execution/{execution_id}/status` is polled while the state is `QUERY_STATE_PENDING` or
 *    `QUERY_STATE_EXECUTING`, until `QUERY_STATE_COMPLETED` (any other final state fails the run);
 * 3. `GET /execution/{execution_id}/results?limit={pageSize}` and then `&offset={next_offset}`
 *    while the body has a `next_offset`: the rows are at `result.rows`.
 */
export interface DuneSource {
  kind: 'dune';
  queryId: number | string;
  /** The `X-Dune-API-Key` header value, normally `env:DUNE_API_KEY`. */
  apiKey: string;
  /** Default `https://api.dune.com`. */
  baseUrl?: string;
  /**
   * The query's parameters (`query_parameters` of the execute request), by name; values are text
   * with templates: `{ block_date: '{{logical_date}}' }` runs the query for the run's date.
   */
  queryParameters?: Record<string, string>;
  /** Dune's performance tier of the execution (default: Dune's, `medium`). */
  performance?: 'medium' | 'large';
  /** Rows per results page (`limit`, default 1000); the server may send fewer. */
  pageSize?: number;
  /** Wait between two status polls, in ms (default 1000). */
  pollIntervalMs?: number;
  /** Fail when the execution has not completed after this many ms (default 1 800 000: 30 minutes). */
  executionTimeoutMs?: number;
  /** Declared columns (name → SQL type), as for any source. */
  columns?: Record<string, string>;
  /** Retries of each request answered 429 or 5xx or not answered (see `HttpRetry`). */
  retry?: HttpRetry;
  /** Requests per second, polls and pages included (default 1: Dune's free plans allow few requests a minute). */
  rateLimit?: number;
}

/** The options of `dune(...)`: a `DuneSource` without its kind. */
export type DuneOptions = Omit<DuneSource, 'kind'>;

/** Validates a `DuneSource` (one member of the definition's `sourceSchema` union). */
export const duneSourceSchema = z.object({
  kind: z.literal('dune'),
  queryId: z.union([z.number().int().positive(), z.string().regex(/^\d+$/, 'a query id such as 4302123')]),
  apiKey: z.string().min(1),
  baseUrl: z.string().regex(/^https?:\/\//, 'an http:// or https:// URL').optional(),
  queryParameters: z.record(z.string(), z.string()).optional(),
  performance: z.enum(['medium', 'large']).optional(),
  pageSize: z.number().int().positive().optional(),
  pollIntervalMs: z.number().nonnegative().optional(),
  executionTimeoutMs: z.number().positive().optional(),
  columns: z.record(z.string(), z.string()).optional(),
  retry: z.object({ maxAttempts: z.number().int().positive().optional(), baseDelayMs: z.number().nonnegative().optional(), maxDelayMs: z.number().nonnegative().optional() }).strict().optional(),
  rateLimit: z.number().positive().optional(),
}).strict();

/** Declares a Dune source (see `DuneSource`). */
export function dune(options: DuneOptions): DuneSource {
  return { kind: 'dune', ...options };
}
