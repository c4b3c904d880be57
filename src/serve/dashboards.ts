import type { FastifyInstance } from 'fastify';
import { IngotError } from '../errors.js';
import type { DashboardDefinition } from './config.js';
import type { ServeContext } from './context.js';
import { errorSchema } from './schemas.js';
import { readOnlyQuery } from './sql.js';

/** One CSV field (RFC 4180): quoted when it holds a comma, quote or line break; NULL is empty. */
function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Rows as CSV text with a header line. */
export function toCsv(columns: string[], rows: Record<string, unknown>[]): string {
  return [columns.map(csvField).join(','), ...rows.map((r) => columns.map((c) => csvField(r[c])).join(','))].join('\r\n') + '\r\n';
}

/**
 * Dashboard routes (read scope): `GET /api/dashboards`, `/api/dashboards/:name` (every panel
 * with its rows, each query over the lake's latest versions, capped at serve.maxRows), and
 * `/api/dashboards/:name/panels/:index.csv` (one panel's rows as a CSV download).
 */
export function addDashboardRoutes(app: FastifyInstance, ctx: ServeContext): void {
  const dashboards = ctx.project.config.dashboards ?? [];
  const find = (name: string): DashboardDefinition => {
    const d = dashboards.find((x) => x.name === name);
    if (!d) throw new IngotError('NOT_FOUND', `no dashboard ${JSON.stringify(name)}`);
    return d;
  };
  const run = (sql: string) => readOnlyQuery(ctx.reader, sql, { maxRows: ctx.maxRows, maxBytes: ctx.maxResponseBytes, timeoutMs: ctx.sqlTimeoutMs });
  const params = { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } as const;

  app.get('/api/dashboards', { schema: { tags: ['dashboards'], summary: 'The project\'s dashboards' } }, async () => ({
    items: dashboards.map((d) => ({ name: d.name, title: d.title, panels: d.panels.length })),
  }));

  app.get<{ Params: { name: string } }>('/api/dashboards/:name', {
    schema: { tags: ['dashboards'], summary: 'A dashboard with the rows of every panel', params, response: { 404: errorSchema } },
  }, async (req) => {
    const d = find(req.params.name);
    const panels = await Promise.all(d.panels.map(async (p, index) => {
      const r = await run(p.sql);
      return { index, title: p.title, type: p.type, x: p.x ?? null, y: p.y ?? null, color: p.color ?? null, columns: r.columns, rows: r.rows, truncated: r.truncated };
    }));
    return { name: d.name, title: d.title, panels };
  });

  app.get<{ Params: { name: string; index: number } }>('/api/dashboards/:name/panels/:index.csv', {
    schema: {
      tags: ['dashboards'], summary: 'One panel\'s rows as CSV',
      params: { type: 'object', required: ['name', 'index'], properties: { name: { type: 'string' }, index: { type: 'integer', minimum: 0 } } },
      response: { 404: errorSchema },
    },
  }, async (req, reply) => {
    const d = find(req.params.name);
    const panel = d.panels[req.params.index];
    if (!panel) throw new IngotError('NOT_FOUND', `dashboard ${d.name} has no panel ${req.params.index} (it has ${d.panels.length})`);
    const r = await run(panel.sql);
    const file = `${d.name}-${req.params.index}-${panel.title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')}.csv`;
    return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${file}"`)
      .send(toCsv(r.columns.map((c) => c.name), r.rows));
  });
}
