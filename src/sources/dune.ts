import { http, type HttpRetry, type HttpSource } from './http-source.js';

/** A Dune-style query-results API (`GET {baseUrl}/api/v1/query/{queryId}/results`). */
export interface DuneOptions {
  queryId: number | string;
  /** The `X-Dune-API-Key` header value, normally `env:DUNE_API_KEY`. */
  apiKey: string;
  /** Default `https://api.dune.com`. */
  baseUrl?: string;
  /**
   * Query-string parameters passed through as given, templates allowed, e.g.
   * `{ block_date: '{{logical_date}}' }` for a query filtered by the run's date.
   */
  params?: Record<string, string>;
  /** Rows per page (`limit`, default 1000); the server may send fewer. */
  pageSize?: number;
  /** Declared columns (name → SQL type), as for any source. */
  columns?: Record<string, string>;
  retry?: HttpRetry;
  /** Requests per second (default 1: Dune's free plans allow few requests a minute). */
  rateLimit?: number;
}

/**
 * Declares a source reading the latest results of a saved query the way Dune's API serves them:
 * the first request is `?limit={pageSize}&offset=0` with header `X-Dune-API-Key`, rows are at
 * `result.rows`, and each next page is the body's `next_uri` (which Dune pins to the same
 * execution, so pages never mix two executions) until the body has none.
 */
export function dune(options: DuneOptions): HttpSource {
  const base = (options.baseUrl ?? 'https://api.dune.com').replace(/\/+$/, '');
  return http({
    url: `${base}/api/v1/query/${encodeURIComponent(String(options.queryId))}/results`,
    format: 'json',
    records: 'result.rows',
    query: { ...options.params, limit: String(options.pageSize ?? 1000), offset: '0' },
    headers: { 'X-Dune-API-Key': options.apiKey },
    pagination: { kind: 'next-url', next: 'next_uri' },
    rateLimit: options.rateLimit ?? 1,
    ...(options.retry ? { retry: options.retry } : {}),
    ...(options.columns ? { columns: options.columns } : {}),
  });
}
