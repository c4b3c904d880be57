import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import type { QueryParam } from '../engine/reader.js';
import { IngotError } from '../errors.js';
import type { EndpointDefinition, EndpointParam } from './config.js';
import type { ServedLake } from './served-lake.js';
import { DEFAULT_LIMIT, type ServeContext } from './context.js';
import { errorSchema, pageQuery, pagedSchema } from './schemas.js';
import { EndpointIndex } from './endpoint-index.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on the routes of the project's own endpoints. */
    endpoint?: EndpointDefinition;
  }
}

/** What an endpoint cursor holds: the offset of the next page, the versions of the tables read (in `references` order) and the total count. */
interface EndpointCursor {
  o: number;
  v: number[];
  c: number;
}

const PARAM_NAME = /\$([A-Za-z_][A-Za-z0-9_]*)/g;
const RESERVED = new Set(['limit', 'cursor']);
/** Results of at most this many rows are read whole, cached, and paged from memory. */
const SMALL_RESULT = 1000;
/** Cached results per endpoint, and rows over all of them; the least recently used are dropped first. */
const CACHE_ENTRIES = 20_000;
const CACHE_ROWS = 500_000;

/** JSON schema of one parameter (what Fastify validates and the OpenAPI document shows). */
export function paramJsonSchema(p: EndpointParam): Record<string, unknown> {
  const s: Record<string, unknown> = {};
  switch (p.type) {
    case 'string': Object.assign(s, { type: 'string', maxLength: p.maxLength ?? 1000 }, p.pattern ? { pattern: p.pattern } : {}); break;
    case 'integer': case 'number': Object.assign(s, { type: p.type }, p.minimum !== undefined ? { minimum: p.minimum } : {}, p.maximum !== undefined ? { maximum: p.maximum } : {}); break;
    case 'boolean': s['type'] = 'boolean'; break;
    case 'date': Object.assign(s, { type: 'string', format: 'date' }); break;
    case 'timestamp': Object.assign(s, { type: 'string', format: 'date-time' }); break;
  }
  if (p.enum) s['enum'] = p.enum;
  if (p.default !== undefined) s['default'] = p.default;
  if (p.description) s['description'] = p.description;
  return s;
}

/** What a parameter accepts, as the 422 message says it: `hours must be an integer between 1 and 24`. */
export function describeParam(name: string, p: EndpointParam): string {
  const kind = { string: 'a string', integer: 'an integer', number: 'a number', boolean: 'true or false', date: 'a date YYYY-MM-DD', timestamp: 'a timestamp (ISO 8601)' }[p.type];
  const bounds = p.minimum !== undefined && p.maximum !== undefined ? ` between ${p.minimum} and ${p.maximum}`
    : p.minimum !== undefined ? ` of at least ${p.minimum}` : p.maximum !== undefined ? ` of at most ${p.maximum}` : '';
  const more = p.enum ? ` (one of ${p.enum.join(', ')})` : p.pattern ? ` matching ${p.pattern}` : p.type === 'string' ? ` of at most ${p.maxLength ?? 1000} characters` : '';
  return `${name} must be ${kind}${bounds}${more}`;
}

/**
 * The 422 body for a request to a user endpoint that failed schema validation:
 * `{ error: 'VALIDATION', message, field }`; undefined for other routes.
 */
export function validationError(request: FastifyRequest, err: FastifyError): { error: 'VALIDATION'; message: string; field: string } | undefined {
  const def = request.routeOptions.config.endpoint;
  const issue = err.validation?.[0];
  if (!issue) return undefined;
  const field = String((issue.params as { missingProperty?: string } | undefined)?.missingProperty ?? issue.instancePath.replace(/^\//, '').split('/')[0] ?? '');
  if (!def) return undefined;
  const p = def.params?.[field];
  return { error: 'VALIDATION', message: p ? describeParam(field, p) : `${field || 'request'} ${issue.message ?? 'is not valid'}`, field };
}

/** The typed query parameter of a validated parameter value (a timestamp normalized to ISO 8601 UTC, milliseconds). */
function bindValue(p: EndpointParam, v: unknown): QueryParam {
  switch (p.type) {
    case 'integer': return { type: 'BIGINT', value: BigInt(v as number) };
    case 'number': return { type: 'DOUBLE', value: Number(v) };
    case 'boolean': return { type: 'BOOLEAN', value: Boolean(v) };
    case 'date': return { type: 'DATE', value: String(v) };
    case 'timestamp': return { type: 'TIMESTAMP', value: new Date(Date.parse(String(v))).toISOString() };
    default: return { type: 'VARCHAR', value: String(v) };
  }
}

/** Checks an endpoint definition against itself: path parameters and `$name`s all declared. Errors: CONFIG_INVALID naming the endpoint and parameter. */
export function checkEndpoint(def: EndpointDefinition): void {
  const declared = def.params ?? {};
  const where = `endpoint ${def.path}`;
  for (const m of def.path.matchAll(/:([A-Za-z_][A-Za-z0-9_]*)/g)) {
    if (!declared[m[1]!]) throw new IngotError('CONFIG_INVALID', `${where}: path parameter :${m[1]} has no entry in params`);
  }
  const withoutStrings = def.sql.replace(/'(?:[^']|'')*'/g, "''");
  for (const m of withoutStrings.matchAll(PARAM_NAME)) {
    if (!declared[m[1]!]) throw new IngotError('CONFIG_INVALID', `${where}: $${m[1]} in the SQL has no entry in params`);
  }
  for (const [name, p] of Object.entries(declared)) {
    if (RESERVED.has(name)) throw new IngotError('CONFIG_INVALID', `${where}: parameter ${name} is reserved for paging`);
    if (p.pattern) new RegExp(p.pattern);
  }
}

/**
 * Columns that `sql` compares for equality with a parameter (`col = $name`, either side, casts
 * allowed), with the one lake table it reads; none when it reads several (the column's table is
 * then unknown). Parsed by the reader's engine (`analyze`), nothing is run.
 */
export async function equalityColumns(reader: ServedLake, sql: string): Promise<{ table?: string; columns: string[] }> {
  const facts = await reader.analyze(sql);
  if (facts.tables.length !== 1) return { columns: [] };
  return { table: facts.tables[0]!, columns: facts.equalities };
}

/**
 * Registers the project's endpoints (`endpoints: [endpoint({ path, params, sql })]`, read scope):
 * `GET <path>` validates the typed parameters (422 `VALIDATION` with `field`), binds them as
 * typed query parameters, and answers a page `{ items, count, next }` in the SQL's ORDER BY order.
 * `?limit=` (capped by serve.maxRows) and `?cursor=` (the previous page's `next`) page through the
 * result; a cursor holds the versions of the tables its first page read, and later pages read
 * those versions (`ServedLake.atVersions`) even after new commits, so pages never repeat or skip rows.
 * Results are cached by parameters and table versions (tables are checked for new commits at
 * most every second, so a cached result is never older than that); those of older versions are
 * dropped once a request reads newer ones. A table an endpoint looks
 * up by `col = $param` is kept in memory sorted by `col` (`ServedLake.clusterBy`); an endpoint
 * that is only such a lookup (string parameters, one table) answers misses from an index of
 * every key's rows built once per table version (`EndpointIndex`).
 */
export async function addEndpointRoutes(app: FastifyInstance, ctx: ServeContext): Promise<void> {
  for (const def of ctx.project.config.endpoints ?? []) {
    checkEndpoint(def);
    // a table looked up by `col = $param` is kept in memory sorted by col
    const eq = await equalityColumns(ctx.reader, def.sql.trim().replace(/;\s*$/, '')).catch(() => ({ table: undefined, columns: [] }));
    if (eq.table) ctx.reader.clusterBy(eq.table, eq.columns);
    const declared = def.params ?? {};
    const inPath = new Set([...def.path.matchAll(/:([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!));
    const inQuery = Object.keys(declared).filter((n) => !inPath.has(n));
    const base = def.sql.trim().replace(/;\s*$/, '');
    let prepared: Promise<{ tables: string[]; page: string; count: string; index?: EndpointIndex }> | undefined;
    // an endpoint whose parameters are all strings looked up by equality is answered from an index per table version
    const lookupParams = Object.entries(declared).every(([, p]) => p.type === 'string') ? Object.keys(declared) : [];
    const cache = new Map<string, { rows?: Record<string, unknown>[]; count: number; versions: string }>();
    let cachedRows = 0;
    // the latest table versions requests read; results of older versions are dropped when they change
    let latestRead = '';
    const prepare = () => {
      prepared ??= (async () => {
        const { tables, limited } = await ctx.reader.analyze(base);
        const page = limited ? `SELECT * FROM (\n${base}\n) LIMIT $__limit OFFSET $__offset` : `${base}\nLIMIT $__limit OFFSET $__offset`;
        const index = lookupParams.length > 0 && tables.length === 1
          ? new EndpointIndex(ctx.reader, base, tables, lookupParams, (message) => app.log.warn({ endpoint: def.path, message }, 'endpoint index failed'))
          : undefined;
        return { tables, page, count: `SELECT count(*) AS n FROM (\n${base}\n)`, ...(index ? { index } : {}) };
      })();
      prepared.catch(() => { prepared = undefined; });
      return prepared;
    };

    app.get<{ Params: Record<string, unknown>; Querystring: Record<string, unknown> & { limit?: number; cursor?: string } }>(def.path, {
      config: { endpoint: def },
      schema: {
        tags: ['endpoints'], summary: def.description ?? `GET ${def.path}`,
        ...(inPath.size ? { params: { type: 'object', required: [...inPath], properties: Object.fromEntries([...inPath].map((n) => [n, paramJsonSchema(declared[n]!)])) } } : {}),
        querystring: {
          type: 'object',
          required: inQuery.filter((n) => declared[n]!.default === undefined),
          properties: { ...pageQuery, ...Object.fromEntries(inQuery.map((n) => [n, paramJsonSchema(declared[n]!)])) },
        },
        response: { 200: pagedSchema, 422: errorSchema },
      },
    }, async (req) => {
      const { tables, page, count, index } = await prepare();
      const versions = await Promise.all(tables.map((t) => ctx.reader.latest(t)));
      // a table committed to every second would otherwise fill the cache with results of versions no one reads
      if (versions.join(',') !== latestRead) {
        latestRead = versions.join(',');
        for (const [k, v] of cache) {
          if (v.versions === latestRead) continue;
          cache.delete(k);
          cachedRows -= v.rows?.length ?? 0;
        }
      }
      const values: Record<string, QueryParam> = {};
      for (const [name, p] of Object.entries(declared)) {
        const raw = inPath.has(name) ? req.params[name] : req.query[name];
        if (raw === undefined) continue;
        values[name] = bindValue(p, raw);
      }
      const limit = Math.min(req.query.limit ?? DEFAULT_LIMIT, ctx.maxRows);
      let cursor: EndpointCursor | undefined;
      if (req.query.cursor) {
        try {
          cursor = JSON.parse(Buffer.from(req.query.cursor, 'base64url').toString('utf8')) as EndpointCursor;
        } catch { /* checked below */ }
        if (!cursor || !Number.isInteger(cursor.o) || cursor.o < 0 || !Number.isInteger(cursor.c) || !Array.isArray(cursor.v)) {
          throw new IngotError('VALIDATION', 'cursor is not a cursor this server issued', { column: 'cursor' });
        }
        if (cursor.v.length !== tables.length) throw new IngotError('VALIDATION', 'cursor is not a cursor of this endpoint', { column: 'cursor' });
      }
      // a cursor keeps reading the table versions of its first page, whatever was committed since
      const pinned = cursor && cursor.v.join(',') !== versions.join(',');
      const pageSql = pinned ? await ctx.reader.atVersions(page, Object.fromEntries(tables.map((t, i) => [t, cursor!.v[i]!]))) : page;
      const read = pinned ? cursor!.v : versions;
      const offset = cursor?.o ?? 0;
      // results are cached by parameters and table versions (a new commit makes new keys); a result
      // of at most SMALL_RESULT rows is read whole by one query, and its pages are slices of it
      const key = JSON.stringify([Object.entries(values).map(([k, v]) => [k, String(v.value)]), read]);
      let cached = cache.get(key);
      // the index of the versions read answers a miss from memory (it holds every key's rows)
      const indexed = cached || !index || lookupParams.some((n) => values[n] === undefined) ? undefined : index.lookup(read, lookupParams.map((n) => String(values[n]!.value)));
      if (indexed) {
        cached = { rows: indexed, count: indexed.length, versions: read.join(',') };
      } else if (cached) {
        cache.delete(key);
        cache.set(key, cached);
      } else {
        const whole = await ctx.reader.query(pageSql, { ...values, __limit: { type: 'BIGINT', value: SMALL_RESULT + 1 }, __offset: { type: 'BIGINT', value: 0 } }, { maxBytes: ctx.maxResponseBytes });
        cached = whole.rows.length <= SMALL_RESULT && !whole.truncated
          ? { rows: whole.rows, count: whole.rows.length, versions: read.join(',') }
          : { count: cursor?.c ?? Number((await ctx.reader.query(count, values)).rows[0]!['n']), versions: read.join(',') };
        cache.set(key, cached);
        cachedRows += cached.rows?.length ?? 0;
        for (const [k, v] of cache) {
          if (cache.size <= CACHE_ENTRIES && cachedRows <= CACHE_ROWS) break;
          cache.delete(k);
          cachedRows -= v.rows?.length ?? 0;
        }
      }
      let items: Record<string, unknown>[];
      let more: boolean;
      if (cached.rows) {
        items = cached.rows.slice(offset, offset + limit);
        more = offset + limit < cached.rows.length;
      } else {
        // a page stops early at serve.maxResponseBytes: the next page goes on from its last row
        const page = await ctx.reader.query(pageSql, { ...values, __limit: { type: 'BIGINT', value: limit + 1 }, __offset: { type: 'BIGINT', value: offset } }, { maxBytes: ctx.maxResponseBytes });
        const rows = page.rows;
        more = rows.length > limit || page.truncated;
        items = more ? rows.slice(0, limit) : rows;
      }
      const c = cached.count;
      const result = {
        items,
        count: c,
        next: more ? Buffer.from(JSON.stringify({ o: offset + items.length, v: read, c } satisfies EndpointCursor)).toString('base64url') : null,
      };
      return result;
    });
  }
}
