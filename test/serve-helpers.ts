/**
 * Helpers of the `ingot serve` tests: a project with a real lake written by ingot's runner, a
 * real server on a free port, and API keys from the real metadata store.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Project } from '../src/pipeline/project.js';
import { loadProject, type ProjectConfig } from '../src/project.js';
import { Runner } from '../src/run/runner.js';
import { openMetadata } from '../src/metadata/open.js';
import type { MetadataStore } from '../src/metadata/store.js';
import { createApiKey } from '../src/serve/api-keys.js';
import { createServer, type ServerOptions } from '../src/serve/server.js';
import type { ServedLake } from '../src/serve/served-lake.js';
import type { Cell, PositionalParam } from '../src/engine/reader.js';

/** bronze.events: 250 rows per date (k has ties, x is a decimal, some NULLs); gold.by_k: rows per k. */
const EVENTS = "-- materialization: append\nSELECT CAST({{logical_date}} AS DATE) AS day, range AS i, 'k' || (range % 7) AS k, range * 1.5 AS x, CASE WHEN range % 10 = 0 THEN NULL ELSE range % 4 END AS m FROM range(250)\n";
const BY_K = '-- materialization: overwrite\nSELECT k, count(*) AS n FROM bronze.events GROUP BY k\n';
const CONFIG = (serve: Record<string, unknown>) => `import { defineConfig, endpoint, dashboard, pipeline } from 'ingot';
export default defineConfig({
  serve: ${JSON.stringify({ maxRows: 400, sqlTimeoutSeconds: 2, ...serve })},
  pipelines: [pipeline({ name: 'events', datasets: ['bronze.*', 'gold.*'] })],
  endpoints: [endpoint({
    path: '/models/events/:k/:min', description: 'events of one k from i = min',
    params: { k: { type: 'string', pattern: '^k[0-9]$' }, min: { type: 'integer', minimum: 1, maximum: 24 }, day: { type: 'date', default: '2024-01-01' } },
    sql: 'SELECT day, i, k FROM bronze.events WHERE k = $k AND i >= $min AND day >= $day ORDER BY day, i',
  }), endpoint({
    path: '/models/copies', params: { copies: { type: 'integer', minimum: 1, maximum: 5, default: 3 } },
    sql: 'SELECT e.day, e.i, r.range AS j FROM bronze.events AS e, range($copies) AS r ORDER BY e.day, e.i, j',
  })],
  dashboards: [dashboard({ name: 'events', title: 'Events', panels: [
    { title: 'Rows by k', type: 'bar', sql: 'SELECT k, n FROM gold.by_k ORDER BY k', x: 'k', y: 'n' },
    { title: 'Per day', type: 'table', sql: 'SELECT day, count(*) AS rows, sum(x) AS "sum, x" FROM bronze.events GROUP BY day ORDER BY day' },
  ] })],
});
`;

/** A running server over a project in `dir` whose lake has `dates` of bronze.events; `keys` by scope. */
export interface Served {
  project: Project<ProjectConfig>;
  store: MetadataStore;
  app: FastifyInstance;
  url: string;
  keys: { read: string; write: string; admin: string };
  close(): Promise<void>;
}

/** `serve` settings are merged into the project's `serve: { maxRows: 400, sqlTimeoutSeconds: 2 }`. */
export async function serveProject(dir: string, dates: string[], options: ServerOptions = {}, serve: Record<string, unknown> = {}): Promise<Served> {
  for (const [file, sql] of Object.entries({ 'bronze/events.sql': EVENTS, 'gold/by_k.sql': BY_K })) {
    await fs.mkdir(path.dirname(path.join(dir, 'datasets', file)), { recursive: true });
    await fs.writeFile(path.join(dir, 'datasets', file), sql);
  }
  await fs.writeFile(path.join(dir, 'ingot.config.ts'), CONFIG(serve));
  const project = await loadProject(dir);
  const runner = await Runner.open(project);
  try {
    for (const d of dates) {
      const r = await runner.run(d);
      if (r.status !== 'success') throw new Error(`run ${d} failed: ${r.error}`);
    }
  } finally {
    await runner.close();
  }
  const store = await openMetadata(project);
  const keys = {
    read: (await createApiKey(store, 'read', 'reader')).key,
    write: (await createApiKey(store, 'write')).key,
    admin: (await createApiKey(store, 'admin')).key,
  };
  const { app } = await createServer(project, store, options);
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { project, store, app, url, keys, close: async () => { await app.close(); await store.close(); } };
}

/** A GET or POST over real HTTP; JSON answers parsed (`body` is loosely typed: tests read deep fields). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function call(url: string, key: string | undefined, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; body: any; text: string; headers: Headers }> {
  const headers: Record<string, string> = { ...(key ? { authorization: `Bearer ${key}` } : {}), ...init.headers };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, { method: init.method ?? 'GET', headers, ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}) });
  const text = await res.text();
  let body: unknown = undefined;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body, text, headers: res.headers };
}

/** Every row of `sql` as `served` streams it (chunk by chunk, the stream closed at the end). */
export async function streamAll(served: ServedLake, sql: string, params: PositionalParam[] = []): Promise<Cell[][]> {
  const stream = await served.stream(sql, params);
  const rows: Cell[][] = [];
  try {
    for (let chunk = await stream.next(); chunk; chunk = await stream.next()) rows.push(...chunk);
  } finally {
    stream.close();
  }
  return rows;
}
