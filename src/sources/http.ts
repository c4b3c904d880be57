import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { quoteIdent, type Engine, type FileScan } from '../engine/engine.js';
import { checkNoLineageColumns } from './lineage.js';
import { IngotError } from '../errors.js';
import { renderText } from '../pipeline/template.js';
import { VERSION } from '../version.js';
import { inputError } from './files.js';
import { excerpt, getWithRetry, nextLink, RateLimiter, type Fetched, type RequestOptions } from './http-client.js';
import type { HttpSource } from '../pipeline/sources/http-source.js';
import type { SourceBatch, SourceConnector, SourceContext } from './source.js';

/**
 * Reads an HTTP API page by page (see `HttpSource`). Each page with rows is written to a temp
 * NDJSON or CSV file, the files are read by the engine with `_source` = the page's URL, and the
 * rows are staged as `relation`, so the temp files are gone when `read` returns.
 *
 * JSON numbers pass through JavaScript numbers: integers beyond 2^53 lose precision unless the
 * API sends them as strings.
 *
 * Errors: CONFIG_INVALID (a header's `env:` variable is not set), DATASET_INVALID (a date
 * template in a full refresh), SOURCE_ERROR (HTTP failures, see `getWithRetry`; a body that is
 * not JSON or has no array at `records`; a page URL seen twice), INPUT_MISSING (no rows and no
 * declared columns), INPUT_MALFORMED (the engine cannot read a page).
 */
export class HttpConnector implements SourceConnector {
  constructor(private readonly source: HttpSource) {}

  async read(ctx: SourceContext, engine: Engine, relation: string): Promise<SourceBatch> {
    const { source } = this;
    const format = source.format ?? 'json';
    const request: RequestOptions = {
      dataset: ctx.dataset,
      headers: { accept: format === 'csv' ? 'text/csv' : 'application/json', 'user-agent': `ingot/${VERSION}`, ...resolveHeaders(source.headers ?? {}, ctx.dataset) },
      retry: source.retry ?? {},
      timeoutMs: source.timeoutMs ?? 30_000,
      limiter: new RateLimiter(source.rateLimit),
    };
    const template = { interval: ctx.interval, logicalDate: ctx.logicalDate, runId: ctx.runId ?? '' };
    const first = new URL(renderText(source.url, template, ctx.dataset, encodeURI));
    for (const [k, v] of Object.entries(source.query ?? {})) first.searchParams.set(k, renderText(v, template, ctx.dataset));
    const pagination = source.pagination;
    if (pagination?.kind === 'offset') {
      first.searchParams.set(pagination.param ?? 'offset', '0');
      first.searchParams.set(pagination.limitParam ?? 'limit', String(pagination.pageSize));
    }

    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ingot-http-'));
    try {
      const pages: FileScan['files'] = [];
      const seen = new Set<string>();
      let offset = 0;
      for (let url: string | undefined = first.href; url !== undefined;) {
        if (seen.has(url)) throw new IngotError('SOURCE_ERROR', `${ctx.dataset}: pagination loops: ${url} was already read`, { dataset: ctx.dataset, file: url });
        seen.add(url);
        const page = await getWithRetry(url, request);
        const { text, rows, body } = format === 'csv' ? { text: page.body, rows: csvRecords(page.body), body: undefined } : jsonRows(page, source.records, ctx.dataset);
        if (rows > 0) {
          const file = path.join(dir, `page-${String(pages.length).padStart(6, '0')}.${format === 'csv' ? 'csv' : 'ndjson'}`);
          await fs.writeFile(file, text);
          pages.push({ path: file, values: { _source: url } });
        }
        switch (pagination?.kind) {
          case undefined:
            url = undefined;
            break;
          case 'offset': {
            offset += rows;
            const next: URL = new URL(url);
            next.searchParams.set(pagination.param ?? 'offset', String(offset));
            url = rows < pagination.pageSize ? undefined : next.href;
            break;
          }
          case 'cursor': {
            const cursor = at(body, pagination.next);
            const next: URL = new URL(url);
            next.searchParams.set(pagination.param, String(cursor));
            url = cursor === undefined || cursor === null || cursor === '' ? undefined : next.href;
            break;
          }
          case 'next-url': {
            const next: unknown = at(body, pagination.next);
            url = typeof next === 'string' && next !== '' ? new URL(next, url).href : undefined;
            break;
          }
          case 'link':
            url = nextLink(page.headers.get('link'), url);
            break;
        }
      }
      await this.stage(engine, relation, pages, format, ctx.dataset, first.href);
      return { relation, inputs: [...seen] };
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }

  /** Makes the page files (or, with no rows, an empty relation of the declared columns) the staged relation. */
  private async stage(engine: Engine, relation: string, pages: FileScan['files'], format: 'json' | 'csv', dataset: string, url: string): Promise<void> {
    const columns = this.source.columns;
    const typed = Object.entries(columns ?? {}).map(([c, t]) => `CAST(${quoteIdent(c)} AS ${t}) AS ${quoteIdent(c)}`);
    try {
      if (pages.length === 0) {
        if (!columns) throw new IngotError('INPUT_MISSING', `${dataset}: ${url} returned no rows (declare columns to accept an empty result)`, { dataset, file: url });
        await engine.stage(relation, `SELECT ${[...Object.entries(columns).map(([c, t]) => `CAST(NULL AS ${t}) AS ${quoteIdent(c)}`), 'CAST(NULL AS VARCHAR) AS "_source"'].join(', ')} WHERE false`);
        return;
      }
      const view = `${relation}__pages`;
      // json: read_json takes the declared columns; csv pages are read as found and cast after
      const scan: FileScan = { format: format === 'csv' ? 'csv' : 'ndjson', files: pages, ...(columns && format === 'json' ? { columns } : {}) };
      await engine.attachFiles(view, scan);
      try {
        await checkNoLineageColumns(engine, dataset, view, scan, (page) => page.values['_source'] ?? url);
        await engine.stage(relation, columns && format === 'csv' ? `SELECT ${[...typed, '"_source"'].join(', ')} FROM ${quoteIdent(view)}` : `SELECT * FROM ${quoteIdent(view)}`);
      } finally {
        await engine.drop(view);
      }
    } catch (err) {
      throw err instanceof IngotError && err.code !== 'SQL_ERROR' ? err : inputError(err, dataset);
    }
  }
}

/**
 * Text values (query parameters of a request) with the run's templates rendered: `{{start}}`,
 * `{{end}}`, `{{logical_date}}`, `{{run_id}}`. Errors: DATASET_INVALID (a date template in a full refresh).
 */
export function renderValues(values: Record<string, string>, ctx: SourceContext): Record<string, string> {
  const template = { interval: ctx.interval, logicalDate: ctx.logicalDate, runId: ctx.runId ?? '' };
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, renderText(v, template, ctx.dataset)]));
}

/** Header values with `env:NAME` replaced by the environment variable. Error: CONFIG_INVALID naming the header and variable. */
export function resolveHeaders(headers: Record<string, string>, dataset: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!value.startsWith('env:')) {
      out[name] = value;
      continue;
    }
    const variable = value.slice(4);
    const resolved = process.env[variable];
    if (resolved === undefined || resolved === '') {
      throw new IngotError('CONFIG_INVALID', `${dataset}: header ${name} reads environment variable ${variable}, which is not set`, { dataset });
    }
    out[name] = resolved;
  }
  return out;
}

/** The rows of a JSON page as NDJSON text, their count and the parsed body. */
function jsonRows(page: Fetched, records: string | undefined, dataset: string): { text: string; rows: number; body: unknown } {
  let body: unknown;
  try {
    body = JSON.parse(page.body);
  } catch (err) {
    throw new IngotError('SOURCE_ERROR', `${dataset}: GET ${page.url}: body is not JSON (${(err as Error).message}): ${excerpt(page.body)}`, { dataset, file: page.url }, { cause: err });
  }
  const rows = records ? at(body, records) : body;
  if (!Array.isArray(rows)) {
    throw new IngotError('SOURCE_ERROR', `${dataset}: GET ${page.url}: no array of rows at ${records ?? 'the top level'} of the body: ${excerpt(page.body)}`, { dataset, file: page.url });
  }
  return { text: rows.map((r) => JSON.stringify(r)).join('\n') + '\n', rows: rows.length, body };
}

/** The value at a dotted path (`result.rows`), or undefined. */
function at(value: unknown, dotted: string): unknown {
  let v = value;
  for (const key of dotted.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** Data records in a CSV text: record ends outside quotes, less the header and blank lines. */
function csvRecords(text: string): number {
  let records = 0;
  let quoted = false;
  let filled = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') quoted = !quoted;
    if (!quoted && c === '\n') {
      if (filled) records++;
      filled = false;
    } else if (c !== '\r') filled = true;
  }
  if (filled) records++;
  return Math.max(0, records - 1);
}
