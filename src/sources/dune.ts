import { setTimeout as sleep } from 'node:timers/promises';
import type { Engine } from '../engine/engine.js';
import { IngotError } from '../errors.js';
import { VERSION } from '../version.js';
import type { DuneSource } from '../pipeline/sources/dune-source.js';
import { excerpt, getWithRetry, RateLimiter, type Fetched, type RequestOptions } from './http-client.js';
import { HttpConnector, renderValues, resolveHeaders } from './http.js';
import type { SourceBatch, SourceConnector, SourceContext } from './source.js';

/** Execution states that are still going (Dune's "Get Execution Status": pending and executing). */
const RUNNING = new Set(['QUERY_STATE_PENDING', 'QUERY_STATE_EXECUTING']);

/**
 * Reads a Dune query's rows for a run (see `DuneSource` for the three steps): executes it with
 * the run's parameters, polls the execution until it completes, then reads its results page by
 * page through `HttpConnector` (`_source` = each page's URL, which names the execution).
 *
 * A retried execute request (429, 5xx, network error) may start a second execution on Dune's
 * side; only the one whose id was answered is read.
 *
 * Errors: CONFIG_INVALID (`env:` key not set), SOURCE_ERROR naming the dataset and URL (HTTP
 * failures; a body without `execution_id` or `state`; an execution that ends FAILED, with Dune's
 * error message, CANCELED, EXPIRED or in a state Dune does not document; an execution still
 * running after `executionTimeoutMs`), and those of `HttpConnector` for the results.
 */
export class DuneConnector implements SourceConnector {
  constructor(private readonly source: DuneSource) {}

  async read(ctx: SourceContext, engine: Engine, relation: string): Promise<SourceBatch> {
    const s = this.source;
    const base = `${(s.baseUrl ?? 'https://api.dune.com').replace(/\/+$/, '')}/api/v1`;
    const request: RequestOptions = {
      dataset: ctx.dataset,
      headers: { accept: 'application/json', 'user-agent': `ingot/${VERSION}`, ...resolveHeaders({ 'X-Dune-API-Key': s.apiKey }, ctx.dataset) },
      retry: s.retry ?? {},
      timeoutMs: 30_000,
      limiter: new RateLimiter(s.rateLimit ?? 1),
    };
    const parameters = renderValues(s.queryParameters ?? {}, ctx);

    const executeUrl = `${base}/query/${encodeURIComponent(String(s.queryId))}/execute`;
    const started = body(await getWithRetry(executeUrl, { ...request, headers: { ...request.headers, 'content-type': 'application/json' } }, {
      method: 'POST', body: JSON.stringify({ query_parameters: parameters, ...(s.performance ? { performance: s.performance } : {}) }),
    }), ctx.dataset);
    const id = started['execution_id'];
    if (typeof id !== 'string' || id === '') throw sourceError(ctx.dataset, `POST ${executeUrl}`, `no execution_id in the answer: ${excerpt(JSON.stringify(started))}`);

    const statusUrl = `${base}/execution/${encodeURIComponent(id)}/status`;
    const deadline = Date.now() + (s.executionTimeoutMs ?? 1_800_000);
    for (;;) {
      const status = body(await getWithRetry(statusUrl, request), ctx.dataset);
      const state = status['state'];
      if (state === 'QUERY_STATE_COMPLETED') break;
      if (typeof state === 'string' && RUNNING.has(state)) {
        if (Date.now() >= deadline) throw sourceError(ctx.dataset, `GET ${statusUrl}`, `execution ${id} still ${state} after ${Math.round((s.executionTimeoutMs ?? 1_800_000) / 1000)} s (executionTimeoutMs)`);
        await sleep(s.pollIntervalMs ?? 1000);
        continue;
      }
      const error = status['error'] as { message?: unknown; type?: unknown } | undefined;
      const why = error && typeof error.message === 'string' ? `: ${error.message}` : '';
      throw sourceError(ctx.dataset, `GET ${statusUrl}`, `execution ${id} of query ${String(s.queryId)} ended ${typeof state === 'string' ? state : `in no known state (${excerpt(JSON.stringify(status))})`}${why}`);
    }

    return new HttpConnector({
      kind: 'http', url: `${base}/execution/${encodeURIComponent(id)}/results`, format: 'json', records: 'result.rows',
      query: { limit: String(s.pageSize ?? 1000) }, headers: { 'X-Dune-API-Key': s.apiKey },
      pagination: { kind: 'cursor', param: 'offset', next: 'next_offset' }, rateLimit: s.rateLimit ?? 1,
      ...(s.retry ? { retry: s.retry } : {}), ...(s.columns ? { columns: s.columns } : {}),
    }).read(ctx, engine, relation);
  }
}

function sourceError(dataset: string, what: string, message: string): IngotError {
  return new IngotError('SOURCE_ERROR', `${dataset}: ${what}: ${message}`, { dataset, file: what.replace(/^\w+ /, '') });
}

/** The JSON object of an answer. Error: SOURCE_ERROR when it is not one. */
function body(page: Fetched, dataset: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(page.body);
  } catch {
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw sourceError(dataset, page.url, `the answer is not a JSON object: ${excerpt(page.body)}`);
  return parsed as Record<string, unknown>;
}
