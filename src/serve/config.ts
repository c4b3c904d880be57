import { z } from 'zod';

/**
 * The section of `ingot.config.ts` for `ingot serve` (`serve`, `endpoints`, `dashboards`): its
 * types and schema, composed with the other sections in `src/project.ts`.
 */
export interface ServeConfig {
  /** The HTTP server of `ingot serve` (REST API, web UI). */
  serve?: ServeSettings;
  /** REST endpoints the project publishes (`endpoint({ path, params, sql })`). */
  endpoints?: EndpointDefinition[];
  /** Dashboards of the web UI (`dashboard({ name, title, panels })`). */
  dashboards?: DashboardDefinition[];
}

/** `serve: {...}` in `ingot.config.ts`: the HTTP server of `ingot serve`. */
export interface ServeSettings {
  /** TCP port (default 8080; `ingot serve --port` overrides). */
  port?: number;
  /** Interface to listen on (default `127.0.0.1`). */
  host?: string;
  /** Most rows one response returns: caps `limit` of rows, SQL and endpoint reads (default 10000). */
  maxRows?: number;
  /** A `POST /api/sql` query is interrupted after this many seconds (default 10). */
  sqlTimeoutSeconds?: number;
  /** The PostgreSQL protocol server (psql, JDBC, psycopg...): off unless a port is given here or by `ingot serve --pg-port`. */
  postgres?: PostgresSettings;
  /**
   * Most bytes of rows one response holds (their JSON text; default 64 MiB): SQL, dashboard,
   * endpoint and rows reads stop before the row that would pass it and say `truncated: true`
   * (pages: the next cursor continues from there); a first row larger than this alone is
   * answered 413 RESULT_TOO_LARGE.
   */
  maxResponseBytes?: number;
  /** Engine connections serving queries at once (default 4). */
  connections?: number;
  /** Of those, connections kept for published reads (endpoints, dashboards, table rows) that `POST /api/sql` cannot take (default 1). */
  reservedConnections?: number;
  /** Queries waiting for a connection, at most, for ad-hoc SQL and for published reads each (default 64); beyond, 503 with `Retry-After`. */
  maxQueuedQueries?: number;
  /**
   * Which proxies in front of the server to believe about the client's address (their
   * `X-Forwarded-For`), as Fastify's `trustProxy`: `true` (every hop: only when the server is
   * reachable through the proxy alone), or the proxies' addresses or CIDR ranges
   * (`'127.0.0.1'`, `['10.0.0.0/8']`). Default: none (the socket's peer is the client). Failed
   * key attempts are rate-limited by this address.
   */
  trustProxy?: boolean | string | string[];
  /** Serve the OpenAPI document (`/openapi.json`, `/docs/json`) and the interactive docs (`/docs`) without a key (default false: they need a read key, as every route but `/health` and `/ready`). */
  publicDocs?: boolean;
}

/** `serve.postgres: {...}`: the PostgreSQL protocol server of `ingot serve` (see `src/serve/postgres/`). */
export interface PostgresSettings {
  /** TCP port (e.g. 5433; 0: any free port, logged; `ingot serve --pg-port` overrides). */
  port?: number;
  /** Interface to listen on (default: `serve.host`, else `127.0.0.1`). */
  host?: string;
  /** PEM files of the TLS certificate (chain) and its private key, relative to the project folder: with them clients may (and for a cleartext password must) use TLS. */
  tls?: { cert: string; key: string };
  /** Every statement is interrupted after this many seconds (default 300; 0: never); a client's `SET statement_timeout` may lower it. */
  statementTimeoutSeconds?: number;
  /** Client connections at once (default 100); one more is refused (53300). */
  maxConnections?: number;
  /** A session idle this long while it holds open cursors or portals (each holds one of the lake reader's pooled connections) is ended (default 60; 0: never). */
  idleInTransactionSeconds?: number;
}

/** Type of a user endpoint parameter: how the text of the URL is parsed, checked and bound. */
export type EndpointParamType = 'string' | 'integer' | 'number' | 'boolean' | 'date' | 'timestamp';

/** One typed parameter of a user endpoint (a path parameter `:name`, or else a query parameter). */
export interface EndpointParam {
  type: EndpointParamType;
  /** Bounds of an `integer` or `number` (inclusive). */
  minimum?: number;
  maximum?: number;
  /** The only values accepted. */
  enum?: (string | number)[];
  /** A `string` must match this regular expression. */
  pattern?: string;
  /** Longest accepted `string` (default 1000 characters). */
  maxLength?: number;
  /** Value of an absent query parameter; without it the parameter is required. */
  default?: string | number | boolean;
  description?: string;
}

/**
 * A user endpoint: `GET <path>` runs `sql` over the lake with `$name` placeholders bound as typed
 * parameters (never spliced into the text) and answers `{ items, count, next }`, paged by
 * `?limit=&cursor=` in the order of the SQL's ORDER BY.
 */
export interface EndpointDefinition {
  /** Fastify-style path, e.g. `/models/started_sessions/:country/:hours`; must not start with `/api/`. */
  path: string;
  /** Parameters by name; every `:name` of the path and every `$name` of the SQL needs one. */
  params?: Record<string, EndpointParam>;
  /** One SELECT over `layer.table` names. */
  sql: string;
  description?: string;
}

/** One chart or table of a dashboard: the rows of `sql`, drawn by the web UI. */
export interface DashboardPanel {
  title: string;
  type: 'bar' | 'line' | 'table';
  /** One SELECT over `layer.table` names. */
  sql: string;
  /** Columns for the x axis, the y axis and the color (series) of a bar or line chart. */
  x?: string;
  y?: string;
  color?: string;
}

/** A dashboard: named panels the web UI shows at `/dashboards/<name>` and the API at `/api/dashboards/<name>`. */
export interface DashboardDefinition {
  /** lower_snake_case or kebab-case name. */
  name: string;
  title: string;
  panels: DashboardPanel[];
}

const paramSchema = z
  .object({
    type: z.enum(['string', 'integer', 'number', 'boolean', 'date', 'timestamp']),
    minimum: z.number().optional(),
    maximum: z.number().optional(),
    enum: z.array(z.union([z.string(), z.number()])).min(1).optional(),
    pattern: z.string().optional(),
    maxLength: z.number().int().positive().optional(),
    default: z.union([z.string(), z.number(), z.boolean()]).optional(),
    description: z.string().optional(),
  })
  .strict();

const serveObject = z
  .object({
    port: z.number().int().min(0).max(65535).optional(),
    host: z.string().min(1).optional(),
    maxRows: z.number().int().positive().optional(),
    sqlTimeoutSeconds: z.number().positive().optional(),
    postgres: z
      .object({
        port: z.number().int().min(0).max(65535).optional(),
        host: z.string().min(1).optional(),
        tls: z.object({ cert: z.string().min(1), key: z.string().min(1) }).strict().optional(),
        statementTimeoutSeconds: z.number().min(0).optional(),
        idleInTransactionSeconds: z.number().min(0).optional(),
        maxConnections: z.number().int().positive().optional(),
      })
      .strict()
      .optional(),
    maxResponseBytes: z.number().int().min(1024).optional(),
    connections: z.number().int().min(2).max(64).optional(),
    reservedConnections: z.number().int().min(0).optional(),
    maxQueuedQueries: z.number().int().min(0).optional(),
    trustProxy: z.union([z.boolean(), z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    publicDocs: z.boolean().optional(),
  })
  .strict();

export const serveSchema = serveObject.refine((s) => s.reservedConnections === undefined || s.reservedConnections < (s.connections ?? 4), {
  message: 'reservedConnections must leave at least one of the connections (default 4) to ad-hoc SQL',
  path: ['reservedConnections'],
});

export const endpointSchema = z
  .object({
    path: z
      .string()
      .regex(/^(\/([A-Za-z0-9_.-]+|:[A-Za-z_][A-Za-z0-9_]*))+$/, 'a path such as /models/sessions/:country')
      .refine((p) => !/^\/(api|docs|metrics|openapi\.json|health|ready)(\/|$)/.test(p), 'paths under /api, /docs, /metrics, /health and /ready are ingot\'s own'),
    params: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), paramSchema).optional(),
    sql: z.string().min(1),
    description: z.string().optional(),
  })
  .strict();

const panelSchema = z
  .object({
    title: z.string().min(1),
    type: z.enum(['bar', 'line', 'table']),
    sql: z.string().min(1),
    x: z.string().optional(),
    y: z.string().optional(),
    color: z.string().optional(),
  })
  .strict();

export const dashboardSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_-]*$/, 'dashboard names are lower_snake_case or kebab-case'),
    title: z.string().min(1),
    panels: z.array(panelSchema).min(1),
  })
  .strict();

/** Validates a `ServeConfig` (one section of the configuration `src/project.ts` composes). */
export const serveConfigSchema = z
  .object({
    serve: serveSchema.optional(),
    endpoints: z.array(endpointSchema).optional(),
    dashboards: z.array(dashboardSchema).optional(),
  })
  .strict();

/** Declares a user endpoint for `endpoints: [...]` in `ingot.config.ts` (identity function for type checking). */
export function endpoint(definition: EndpointDefinition): EndpointDefinition {
  return definition;
}

/** Declares a dashboard for `dashboards: [...]` in `ingot.config.ts` (identity function for type checking). */
export function dashboard(definition: DashboardDefinition): DashboardDefinition {
  return definition;
}
