import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ServeContext } from './context.js';

/**
 * Prometheus metrics at `GET /metrics` (read scope, text exposition format), in a registry of
 * this server: `ingot_http_requests_total` and `ingot_http_request_duration_seconds` by method,
 * route (the route pattern, not the URL) and status; `ingot_runs` by status (from the metadata
 * store, read at scrape time); the process's default metrics.
 */
export function addMetrics(app: FastifyInstance, ctx: ServeContext): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ingot_' });
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({ name: 'ingot_http_requests_total', help: 'HTTP requests by method, route and status', labelNames, registers: [registry] });
  const latency = new Histogram({
    name: 'ingot_http_request_duration_seconds', help: 'HTTP request duration by method, route and status', labelNames, registers: [registry],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
  });
  new Gauge({
    name: 'ingot_runs', help: 'Runs recorded in the metadata store, by status', labelNames: ['status'], registers: [registry],
    async collect() {
      this.reset();
      for (const r of await ctx.store.db.all<{ status: string; n: unknown }>('SELECT status, count(*) AS n FROM ingot_runs GROUP BY status')) this.set({ status: r.status }, Number(r.n));
    },
  });
  app.addHook('onResponse', async (request, reply) => {
    const labels = { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) };
    requests.inc(labels);
    latency.observe(labels, reply.elapsedTime / 1000);
  });
  app.get('/metrics', { schema: { tags: ['service'], summary: 'Prometheus metrics (text format)' } }, async (_req, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()));
  return registry;
}
