import { z } from 'zod';

/**
 * How an HTTP source finds its next page:
 * - `offset`: `?{param}=0&{limitParam}={pageSize}`, then `param` += rows received, until a page
 *   has fewer than `pageSize` rows;
 * - `cursor`: the value at the dotted path `next` in a JSON body goes into `?{param}=` of the
 *   next request, until it is absent, null or empty;
 * - `next-url`: the dotted path `next` in a JSON body holds the next page's URL (absolute or
 *   relative to the current one), e.g. Dune's `next_uri`;
 * - `link`: the RFC 8288 `Link: <url>; rel="next"` response header.
 */
export type HttpPagination =
  | { kind: 'offset'; param?: string; limitParam?: string; pageSize: number }
  | { kind: 'cursor'; param: string; next: string }
  | { kind: 'next-url'; next: string }
  | { kind: 'link' };

/** Retries of a request answered 429, 5xx, or not answered at all (network error, timeout). */
export interface HttpRetry {
  /** Attempts per request, the first included (default 5). */
  maxAttempts?: number;
  /** Wait before the second attempt in ms, doubled before each further one (default 500). */
  baseDelayMs?: number;
  /** Longest wait in ms (default 60 000); a `Retry-After` asking for longer fails the request. */
  maxDelayMs?: number;
}

/**
 * Rows from an HTTP API, one GET per page. `url` and `query` values may hold `{{start}}`,
 * `{{end}}`, `{{logical_date}}` (`YYYY-MM-DD`) and `{{run_id}}`, so a run fetches its interval.
 * Header values of the form `env:NAME` are read from the environment when the run starts.
 */
export interface HttpSource {
  kind: 'http';
  url: string;
  /** Body format (default json). A CSV body has a header line on every page. */
  format?: 'json' | 'csv';
  /** Dotted path to the array of row objects in a JSON body, e.g. `result.rows` (default: the body is the array). */
  records?: string;
  /** Query parameters added to the first request's URL. */
  query?: Record<string, string>;
  /** Request headers; a value `env:NAME` is the environment variable NAME (an API key). */
  headers?: Record<string, string>;
  pagination?: HttpPagination;
  retry?: HttpRetry;
  /** Most requests per second, retries included (default: unlimited). */
  rateLimit?: number;
  /** Per-attempt timeout in ms (default 30 000); a timeout is retried like a network error. */
  timeoutMs?: number;
  /** Declared columns (name → SQL type): exactly these are read, typed while reading. */
  columns?: Record<string, string>;
}

const dottedPath = z.string().regex(/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/, 'a dotted path such as result.rows');

/** Validates an `HttpSource` (one member of the definition's `sourceSchema` union). */
export const httpSourceSchema = z
  .object({
    kind: z.literal('http'),
    url: z.string().regex(/^https?:\/\//, 'an http:// or https:// URL'),
    format: z.enum(['json', 'csv']).optional(),
    records: dottedPath.optional(),
    query: z.record(z.string(), z.string()).optional(),
    headers: z.record(z.string(), z.string()).optional(),
    pagination: z
      .discriminatedUnion('kind', [
        z.object({ kind: z.literal('offset'), param: z.string().min(1).optional(), limitParam: z.string().min(1).optional(), pageSize: z.number().int().positive() }).strict(),
        z.object({ kind: z.literal('cursor'), param: z.string().min(1), next: dottedPath }).strict(),
        z.object({ kind: z.literal('next-url'), next: dottedPath }).strict(),
        z.object({ kind: z.literal('link') }).strict(),
      ])
      .optional(),
    retry: z.object({ maxAttempts: z.number().int().positive().optional(), baseDelayMs: z.number().nonnegative().optional(), maxDelayMs: z.number().nonnegative().optional() }).strict().optional(),
    rateLimit: z.number().positive().optional(),
    timeoutMs: z.number().positive().optional(),
    columns: z.record(z.string(), z.string()).optional(),
  })
  .strict()
  .refine((s) => s.format !== 'csv' || (s.pagination?.kind !== 'cursor' && s.pagination?.kind !== 'next-url' && s.records === undefined), {
    message: 'a csv source has no body paths: use offset or link pagination and no records',
  });

/** Declares an HTTP source. */
export function http(source: Omit<HttpSource, 'kind'>): HttpSource {
  return { kind: 'http', ...source };
}
