import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { IngotError, type ErrorCode } from '../errors.js';
import { Lake } from '../table/lake.js';
import { cacheDir } from '../storage/s3.js';
import type { MetadataStore } from '../metadata/store.js';
import { KeyVerifier } from './api-keys.js';
import { addAuth, type AuthFailures, type AuthLimits } from './auth.js';
import { addDashboardRoutes } from './dashboards.js';
import { addDatasetRoutes } from './datasets.js';
import { addEndpointRoutes, validationError } from './endpoints.js';
import { addEventRoutes } from './events.js';
import { addKeyRoutes } from './keys-routes.js';
import { addMetrics } from './metrics.js';
import { addStrictNumbers } from './numbers.js';
import { addPipelineRoutes } from './pipelines.js';
import { addRunRoutes } from './runs.js';
import { ServedLake, type ServedLakeOptions } from './served-lake.js';
import { addSqlRoutes } from './sql.js';
import { addTableRoutes } from './tables.js';
import { VERSION } from '../version.js';
import { errorSchema } from './schemas.js';
import type { ServeContext, ServeProject } from './context.js';

/** Options of `createServer`. */
export interface ServerOptions {
  /** Folder of the built web UI (default `dist/ui` of the ingot package); served at `/` when it exists. */
  uiDir?: string;
  /** Failed-authentication limits (see `addAuth`), or the counter shared with the PostgreSQL protocol server. */
  auth?: AuthLimits | AuthFailures;
  /** Options of the lake reader (pool size, refresh intervals, the in-memory threshold); the engine's threads and memory limit default to the project's `engine` settings. */
  reader?: ServedLakeOptions;
  /** Fastify's request log (default off). */
  logger?: boolean;
}

/** HTTP status of each error code a handler may throw. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  TABLE_NOT_FOUND: 404, VERSION_NOT_FOUND: 404, RUN_NOT_FOUND: 404, PIPELINE_UNKNOWN: 404, DATASET_UNKNOWN: 404, NOT_FOUND: 404,
  SQL_NOT_READ_ONLY: 403, SQL_ERROR: 400, COLUMN_UNKNOWN: 400, CONFIG_INVALID: 400, INPUT_MALFORMED: 400,
  VALIDATION: 422, SQL_TIMEOUT: 408, RESULT_TOO_LARGE: 413, QUERY_QUEUE_FULL: 503, METADATA_UNAVAILABLE: 503,
};

/**
 * The HTTP server of `ingot serve` (Fastify): the REST API under `/api` (tables, rows, SQL,
 * pipelines, runs, dashboards, keys), the project's own endpoints, `/health`, `/ready`,
 * Prometheus `/metrics`, the OpenAPI 3.1 document at `/openapi.json` with interactive docs at
 * `/docs`, and the web UI at `/`. Every route but `/health`, `/ready` and the UI's static files
 * needs an API key (`ingot keys create`), the docs too unless `serve.publicDocs`. Failed keys
 * are rate-limited per client address (`serve.trustProxy`) and key prefix; every response
 * carries the security headers (`addSecurityHeaders`) and no error shows a server path
 * (`pathRedactor`). Not listening yet: call `app.listen`.
 * `app.close()` also closes the lake reader (not the store, which the caller owns).
 */
export async function createServer(project: ServeProject, store: MetadataStore, options: ServerOptions = {}): Promise<{ app: FastifyInstance; context: ServeContext }> {
  const settings = project.config.serve ?? {};
  const engine = typeof project.config.engine === 'object' ? project.config.engine : {};
  const pool = {
    ...(settings.connections !== undefined ? { connections: settings.connections } : {}),
    ...(settings.reservedConnections !== undefined ? { reservedConnections: settings.reservedConnections } : {}),
    ...(settings.maxQueuedQueries !== undefined ? { maxQueued: settings.maxQueuedQueries } : {}),
  };
  const reader = await ServedLake.open(new Lake(project.lake), { threads: engine.threads, memoryLimit: engine.memoryLimit, ...pool, ...options.reader });
  const context: ServeContext = {
    project, store, reader, verifier: new KeyVerifier(store),
    maxRows: settings.maxRows ?? 10_000, maxResponseBytes: settings.maxResponseBytes ?? 64 * 1024 * 1024, sqlTimeoutMs: (settings.sqlTimeoutSeconds ?? 10) * 1000,
  };
  const app = Fastify({ logger: options.logger ?? false, ...(settings.trustProxy !== undefined ? { trustProxy: settings.trustProxy } : {}), bodyLimit: 1024 * 1024, ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false } } });
  app.addHook('onClose', async () => reader.close());

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: `${project.name} (ingot)`, version: VERSION, description: 'The lake, pipelines and runs of an ingot project. Send an API key as `Authorization: Bearer <key>` (`ingot keys create --scope read`).' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } } },
      security: [{ bearer: [] }, { apiKey: [] }],
    },
  });
  const docsAuth = settings.publicDocs ? 'public' : 'read';
  app.get('/openapi.json', { config: { auth: docsAuth }, schema: { hide: true } }, async () => app.swagger());

  addAuth(app, context.verifier, options.auth);
  addMetrics(app, context);
  addStrictNumbers(app);

  const redact = pathRedactor(project, reader.lake.root);
  addSecurityHeaders(app);

  app.setErrorHandler((err: FastifyError | IngotError, request, reply) => {
    if (err instanceof IngotError) {
      const status = STATUS[err.code] ?? 500;
      err.message = redact(err.message);
      if (err.code === 'QUERY_QUEUE_FULL') reply.header('retry-after', '2');
      return reply.code(status).send({ error: err.code, message: err.message, ...(err.code === 'VALIDATION' && err.context.column ? { field: err.context.column } : {}) });
    }
    if ('validation' in err && err.validation) {
      const v = validationError(request, err);
      if (v) return reply.code(422).send(v);
      return reply.code(400).send({ error: 'BAD_REQUEST', message: redact(err.message) });
    }
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) request.log.error(err);
    return reply.code(status).send({ error: status >= 500 ? 'INTERNAL' : (err.code ?? 'BAD_REQUEST'), message: status >= 500 ? 'internal error' : redact(err.message) });
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` }));

  app.get('/health', { config: { auth: 'public' }, schema: { tags: ['service'], security: [], response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({ status: 'ok' }));
  app.get('/ready', { config: { auth: 'public' }, schema: { tags: ['service'], security: [], response: { 200: { type: 'object', properties: { status: { type: 'string' } } }, 503: errorSchema } } }, async (_req, reply) => {
    try {
      await store.db.all('SELECT 1 AS one');
      await reader.tables();
      return { status: 'ready' };
    } catch (err) {
      return reply.code(503).send({ error: 'NOT_READY', message: redact((err as Error).message) });
    }
  });

  addTableRoutes(app, context);
  addSqlRoutes(app, context);
  addPipelineRoutes(app, context);
  addRunRoutes(app, context);
  addDatasetRoutes(app, context);
  addEventRoutes(app, context);
  addDashboardRoutes(app, context);
  addKeyRoutes(app, context);
  await addEndpointRoutes(app, context);

  // the docs need a read key unless serve.publicDocs; the UI's static files are public (they hold no data; the UI asks for a key)
  const uiDir = options.uiDir ?? path.resolve(import.meta.dirname, '..', '..', 'dist', 'ui');
  await app.register(async (scope) => {
    scope.addHook('onRoute', (route) => {
      route.config = { ...(route.config as object), auth: docsAuth };
    });
    await scope.register(fastifySwaggerUi, { routePrefix: '/docs', uiConfig: { persistAuthorization: true }, staticCSP: true });
  });
  await app.register(async (scope) => {
    scope.addHook('onRoute', (route) => {
      route.config = { ...(route.config as object), auth: 'public' };
    });
    if (existsSync(path.join(uiDir, 'index.html'))) await scope.register(fastifyStatic, { root: uiDir, prefix: '/', wildcard: false, index: 'index.html' });
  });
  return { app, context };
}

/**
 * The Content-Security-Policy of ingot's responses: the web UI loads its scripts, styles and
 * charts from this server only (Vega runs with its expression interpreter, no `eval`); inline
 * styles are allowed (the chart library sets them); nothing may frame it.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:", "font-src 'self'",
  "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'",
].join('; ');

/**
 * Sends the usual security headers on every response: `Content-Security-Policy`
 * (`CONTENT_SECURITY_POLICY`, unless a route set its own, as the interactive docs do),
 * `X-Frame-Options: DENY`, `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`,
 * `Cross-Origin-Opener-Policy: same-origin`.
 */
export function addSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
    reply.header('x-frame-options', 'DENY');
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('cross-origin-opener-policy', 'same-origin');
    return payload;
  });
}

/**
 * A function that replaces the server's own directories in a message sent to a client: the
 * lake (`<lake>`), the project folder (`<project>`), the local cache of a remote lake
 * (`<cache>`) and the temporary directory (`<tmp>`), longest first, so no absolute server path
 * leaves in an error.
 */
export function pathRedactor(project: ServeProject, lakeRoot: string): (message: string) => string {
  const dirs: [string, string][] = [[lakeRoot, '<lake>'], [project.dir, '<project>'], [cacheDir(), '<cache>'], [os.tmpdir(), '<tmp>']];
  const all = dirs
    .filter(([d]) => path.isAbsolute(d) && d.length > 1)
    .flatMap(([d, name]) => [[path.resolve(d), name], [path.resolve(d).replace(/\\/g, '/'), name]] as [string, string][])
    .sort((a, b) => b[0].length - a[0].length);
  return (message) => {
    let out = message;
    for (const [d, name] of all) out = out.split(d).join(name);
    return out;
  };
}
