import type { FastifyInstance } from 'fastify';
import { IngotError, messageOf } from '../errors.js';
import { commentOf, typeName } from '../table/schema.js';
import type { Snapshot } from '../table/snapshot.js';
import { afterClause, decodeCursor, encodeCursor, filterClause, orderBy, parseOrder, sortKeys } from './rows-cursor.js';
import { DEFAULT_LIMIT, type ServeContext } from './context.js';
import { errorSchema, pagedSchema } from './schemas.js';

const nameParam = { type: 'object', required: ['name'], properties: { name: { type: 'string', description: 'layer.table' } } } as const;

function summary(name: string, s: Snapshot) {
  const files = [...s.files.values()];
  return {
    name, version: s.version, numFiles: files.length, sizeBytes: files.reduce((b, f) => b + f.size, 0),
    numRecords: s.numRecords ?? null, partitionColumns: s.partitionColumns, lastModified: new Date(s.timestamp).toISOString(),
  };
}

/**
 * Table routes (read scope): `GET /api/tables` (a table whose log cannot be read is listed with
 * `unreadable: { error, message }` and null figures), `/api/tables/:name` (schema: each field's
 * name, type, nullable and `description`, its Delta `comment` metadata or null), `/:name/history`,
 * and `/:name/rows` with typed filters, ordering, a capped `limit`, keyset cursor paging pinned
 * to one table version, and time travel (`version=N`). Names are checked against the lake's
 * table list before anything else (404 otherwise).
 */
export function addTableRoutes(app: FastifyInstance, ctx: ServeContext): void {
  const { reader } = ctx;

  app.get('/api/tables', {
    schema: {
      tags: ['tables'], summary: 'The tables of the lake',
      response: { 200: { type: 'object', properties: { items: { type: 'array', items: { type: 'object', additionalProperties: true } } } } },
    },
  }, async () => {
    const names = await reader.tables();
    // one unreadable table (a corrupt log, a missing commit) is listed as such; the others as usual
    return {
      items: await Promise.all(names.map(async (n) => {
        try {
          return summary(n, await reader.lake.table(n).snapshot());
        } catch (err) {
          const code = err instanceof IngotError ? err.code : 'INTERNAL';
          const message = messageOf(err).split(reader.lake.table(n).location).join(n);
          return { name: n, version: null, numFiles: null, sizeBytes: null, numRecords: null, partitionColumns: [], lastModified: null, unreadable: { error: code, message } };
        }
      })),
    };
  });

  app.get<{ Params: { name: string }; Querystring: { version?: number } }>('/api/tables/:name', {
    schema: {
      tags: ['tables'], summary: 'A table: version, schema, partition columns, properties', params: nameParam,
      querystring: { type: 'object', properties: { version: { type: 'integer', minimum: 0 } } },
      response: { 404: errorSchema },
    },
  }, async (req) => {
    const s = await reader.snapshot(req.params.name, req.query.version);
    return {
      ...summary(req.params.name, s),
      schema: { fields: s.schema.fields.map((f) => ({ name: f.name, type: typeName(f.type), nullable: f.nullable, description: commentOf(f) ?? null })) },
      properties: s.metadata.configuration,
    };
  });

  app.get<{ Params: { name: string }; Querystring: { limit?: number; offset?: number } }>('/api/tables/:name/history', {
    schema: {
      tags: ['tables'], summary: 'The commits of a table, newest first, a page at a time',
      description: '`count`: the entries of the whole history, on the last page (null before); `next`: the `offset` of the next page (null on the last).',
      params: nameParam,
      querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1 }, offset: { type: 'integer', minimum: 0 } } },
      response: { 404: errorSchema },
    },
  }, async (req) => {
    await reader.check(req.params.name);
    const limit = Math.min(req.query.limit ?? DEFAULT_LIMIT, ctx.maxRows);
    const offset = req.query.offset ?? 0;
    const table = reader.lake.table(req.params.name);
    const all = await table.history(offset + limit + 1);
    const entries = all.slice(offset, offset + limit);
    // the total is known on the last page only (counting reads every commit)
    const count = all.length <= offset + limit ? all.length : null;
    return { count, next: all.length > offset + limit ? String(offset + limit) : null, items: entries.map((e) => ({ version: e.version, timestamp: new Date(e.timestamp).toISOString(), operation: e.operation, operationParameters: e.operationParameters, operationMetrics: e.operationMetrics, ...(e.missing ? { missing: e.missing } : {}) })) };
  });

  app.get<{ Params: { name: string }; Querystring: Record<string, unknown> & { limit?: number; cursor?: string; order?: string; version?: number } }>('/api/tables/:name/rows', {
    schema: {
      tags: ['tables'], summary: 'Rows of a table: filters, order, cursor paging, time travel',
      description: 'Filters: `<col>=v`, `<col>.in=a,b`, `<col>.gte=`, `.gt=`, `.lte=`, `.lt=`, `.ne=`; values are cast to the column\'s type. '
        + '`order=col[:desc],...`. `limit` is capped by the server (serve.maxRows). Pass `next` back as `cursor` for the next page: pages of one cursor chain read one table version, so they never repeat or skip rows.',
      params: nameParam,
      querystring: {
        type: 'object', additionalProperties: true,
        properties: { limit: { type: 'integer', minimum: 1 }, cursor: { type: 'string', maxLength: 4096 }, order: { type: 'string' }, version: { type: 'integer', minimum: 0 } },
      },
      response: { 200: pagedSchema, 400: errorSchema, 404: errorSchema },
    },
  }, async (req) => {
    const { name } = req.params;
    const q = req.query;
    await reader.check(name);
    const limit = Math.min(q.limit ?? DEFAULT_LIMIT, ctx.maxRows);
    const orderText = q.order ?? '';
    let version = q.version;
    const base = await reader.snapshot(name, version);
    const order = parseOrder(orderText, base.schema);
    const keys = sortKeys(order);
    const cursor = q.cursor ? decodeCursor(q.cursor, orderText, keys.length) : undefined;
    version = cursor?.v ?? base.version;
    const snapshot = version === base.version ? base : await reader.snapshot(name, version);
    const relation = await reader.pinned(name, version, true);
    // a cursor holds a row's file relative to the table's directory: no server path leaves the server
    const dir = reader.pinnedDirectory(name, version) ?? '';
    const fileKey = keys.length - 2;
    if (cursor) {
      const f = cursor.k[fileKey];
      if (f !== null && f !== undefined) cursor.k[fileKey] = `${dir.replace(/\/+$/, '')}/${f}`;
    }
    const { dialect } = reader;
    const filters = filterClause(q, snapshot.schema, dialect);
    const after = cursor ? afterClause(keys, cursor.k, snapshot.schema, dialect) : { sql: 'true', params: {} };
    // the table's columns (not the row ids), then each sort key as text for the cursor
    const columns = snapshot.schema.fields.map((f) => dialect.quoteIdent(f.name)).join(', ');
    const keyCols = keys.map((k, i) => `CAST(${dialect.quoteIdent(k.column)} AS ${dialect.typeName('string')}) AS __k${i}`).join(', ');
    const page = await reader.query(
      `SELECT ${columns}, ${keyCols} FROM ${relation} WHERE ${filters.sql} AND ${after.sql} ORDER BY ${orderBy(keys, dialect)} LIMIT ${limit + 1}`,
      { ...filters.params, ...after.params }, { maxBytes: ctx.maxResponseBytes });
    const count = await reader.query(`SELECT count(*) AS n FROM ${relation} WHERE ${filters.sql}`, filters.params);
    // a page stops early at serve.maxResponseBytes: the cursor goes on from its last row
    const more = page.rows.length > limit || page.truncated;
    const rows = page.rows.slice(0, limit);
    const last = rows[rows.length - 1];
    const strip = (r: Record<string, unknown>) => Object.fromEntries(Object.entries(r).filter(([k]) => !/^__k\d+$/.test(k)));
    return {
      items: rows.map(strip),
      count: Number(count.rows[0]!['n']),
      next: more && last ? encodeCursor(version, orderText, keys.map((_, i) => {
        const v = (last[`__k${i}`] ?? null) as string | null;
        const base = `${dir.replace(/\/+$/, '')}/`;
        return i === fileKey && v !== null && v.startsWith(base) ? v.slice(base.length) : v;
      })) : null,
      version,
    };
  });
}
