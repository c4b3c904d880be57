import { BIGINT, BOOLEAN, DATE, DOUBLE, TIMESTAMP, VARCHAR, dateValue, timestampValue, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { IngotError } from '../errors.js';
import type { EndpointDefinition, EndpointParam } from './config.js';
import { DEFAULT_LIMIT, type ServeContext } from './server.js';
import { errorSchema, pageQuery, pagedSchema } from './schemas.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on the routes of the project's own endpoints. */
    endpoint?: EndpointDefinition;
  }
}

/** What an endpoint cursor holds: the offset of the next page, the table versions paged and the total count. */
interface EndpointCursor {
  o: number;
  v: number[];
  c: number;
}

const PARAM_NAME = /\$([A-Za-z_][A-Za-z0-9_]*)/g;
const RESERVED = new Set(['limit', 'cursor']);
/** Pages (of at most 1000 rows) kept per endpoint, least recently used dropped first. */
const PAGE_CACHE = 10_000;

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

/** The DuckDB value and type of a validated parameter value. */
function bindValue(p: EndpointParam, v: unknown): [DuckDBValue, DuckDBType] {
  switch (p.type) {
    case 'integer': return [BigInt(v as number), BIGINT];
    case 'number': return [Number(v), DOUBLE];
    case 'boolean': return [Boolean(v), BOOLEAN];
    case 'date': return [dateValue(Date.parse(`${String(v)}T00:00:00Z`) / 86_400_000), DATE];
    case 'timestamp': return [timestampValue(BigInt(Date.parse(String(v))) * 1000n), TIMESTAMP];
    default: return [String(v), VARCHAR];
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
 * Registers the project's endpoints (`endpoints: [endpoint({ path, params, sql })]`, read scope):
 * `GET <path>` validates the typed parameters (422 `VALIDATION` with `field`), binds them as
 * DuckDB parameters, and answers a page `{ items, count, next }` in the SQL's ORDER BY order.
 * `?limit=` (capped by serve.maxRows) and `?cursor=` (the previous page's `next`) page through the
 * result; a cursor holds the versions of the tables it read, and is refused (409
 * `CURSOR_EXPIRED`) once one of them has a newer commit, so pages never repeat or skip rows.
 * Pages are cached by parameters, page and table versions (tables are checked for new commits
 * at most every second, so a cached page is never older than that).
 */
export function addEndpointRoutes(app: FastifyInstance, ctx: ServeContext): void {
  for (const def of ctx.project.config.endpoints ?? []) {
    checkEndpoint(def);
    const declared = def.params ?? {};
    const inPath = new Set([...def.path.matchAll(/:([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!));
    const inQuery = Object.keys(declared).filter((n) => !inPath.has(n));
    const base = def.sql.trim().replace(/;\s*$/, '');
    let prepared: Promise<{ tables: string[]; page: string; count: string }> | undefined;
    const cache = new Map<string, { items: Record<string, unknown>[]; count: number; next: string | null }>();
    const prepare = () => {
      prepared ??= (async () => {
        const tables = await ctx.reader.references(base);
        const [row] = (await ctx.reader.query('SELECT json_serialize_sql($sql::VARCHAR) AS j', { sql: base })).rows;
        const limited = /"LIMIT_MODIFIER"|"LIMIT_PERCENT_MODIFIER"/.test(JSON.stringify((JSON.parse(String(row!['j'])) as { statements: { node: { modifiers?: unknown } }[] }).statements[0]?.node.modifiers ?? []));
        const page = limited ? `SELECT * FROM (\n${base}\n) LIMIT $__limit OFFSET $__offset` : `${base}\nLIMIT $__limit OFFSET $__offset`;
        return { tables, page, count: `SELECT count(*) AS n FROM (\n${base}\n)` };
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
        response: { 200: pagedSchema, 409: errorSchema, 422: errorSchema },
      },
    }, async (req, reply) => {
      const { tables, page, count } = await prepare();
      const versions = await Promise.all(tables.map((t) => ctx.reader.latest(t)));
      const values: Record<string, DuckDBValue> = {};
      const types: Record<string, DuckDBType> = {};
      for (const [name, p] of Object.entries(declared)) {
        const raw = inPath.has(name) ? req.params[name] : req.query[name];
        if (raw === undefined) continue;
        [values[name], types[name]] = bindValue(p, raw);
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
        if (cursor.v.join(',') !== versions.join(',')) {
          return reply.code(409).send({ error: 'CURSOR_EXPIRED', message: `the tables changed since the first page (${tables.join(', ')}); start again without a cursor` });
        }
      }
      const offset = cursor?.o ?? 0;
      // pages are cached by parameters, page and table versions: a new commit makes new keys
      const cacheKey = JSON.stringify([Object.entries(values).map(([k, v]) => [k, String(v)]), limit, offset, versions]);
      const hit = cache.get(cacheKey);
      if (hit) {
        cache.delete(cacheKey);
        cache.set(cacheKey, hit);
        return hit;
      }
      const [rows, total] = await Promise.all([
        ctx.reader.query(page, { ...values, __limit: limit + 1, __offset: offset }, { types: { ...types, __limit: BIGINT, __offset: BIGINT } }),
        cursor ? undefined : ctx.reader.query(count, values, { types }),
      ]);
      const more = rows.rows.length > limit;
      const c = cursor?.c ?? Number(total!.rows[0]!['n']);
      const result = {
        items: more ? rows.rows.slice(0, limit) : rows.rows,
        count: c,
        next: more ? Buffer.from(JSON.stringify({ o: offset + limit, v: versions, c } satisfies EndpointCursor)).toString('base64url') : null,
      };
      if (limit <= 1000) {
        cache.set(cacheKey, result);
        if (cache.size > PAGE_CACHE) cache.delete(cache.keys().next().value!);
      }
      return result;
    });
  }
}
