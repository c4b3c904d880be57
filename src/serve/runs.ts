import { promises as fs } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { IngotError } from '../errors.js';
import type { RunRow, TaskRow } from '../metadata/store.js';
import { DEFAULT_LIMIT, type ServeContext } from './context.js';
import { errorSchema } from './schemas.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function runItem(r: RunRow) {
  return {
    id: r.run_id, pipeline: r.pipeline, logicalDate: r.logical_date, mode: r.mode, status: r.status, trigger: r.trigger, attempt: r.attempt,
    startedAt: iso(r.started_at), endedAt: iso(r.ended_at), durationMs: r.ended_at === null ? null : r.ended_at - r.started_at,
    rows: r.rows_written, error: r.error,
  };
}

function taskItem(t: TaskRow) {
  return {
    dataset: t.dataset, status: t.status, attempts: t.attempts, startedAt: iso(t.started_at), endedAt: iso(t.ended_at), durationMs: t.duration_ms,
    rows: t.rows_out, rowsIn: t.rows_in, dropped: t.rows_dropped, quarantined: t.rows_quarantined, version: t.version, error: t.error,
    expectations: t.expectations.map((e) => ({ name: e.name, action: e.action, passed: e.failed === 0, failedRows: e.failed, ...(e.scope ? { scope: e.scope } : {}) })),
    hasLog: t.log !== null,
  };
}

/**
 * Run history routes (read scope), from the metadata store: `GET /api/runs` (filters `pipeline`,
 * `status`, `limit`), `/api/runs/:id` with its tasks and their expectation results,
 * `/api/runs/:id/log` (the tasks' JSON-lines logs), `GET /api/expectations` (pass rates over runs).
 */
export function addRunRoutes(app: FastifyInstance, ctx: ServeContext): void {
  const { store } = ctx;
  const findRun = async (id: string): Promise<RunRow> => {
    const [run] = await store.runs(1, { runId: id });
    if (!run) throw new IngotError('RUN_NOT_FOUND', `no run ${JSON.stringify(id)}`);
    return run;
  };

  app.get<{ Querystring: { pipeline?: string; status?: string; limit?: number } }>('/api/runs', {
    schema: {
      tags: ['runs'], summary: 'Runs, newest first',
      querystring: { type: 'object', properties: { pipeline: { type: 'string' }, status: { type: 'string', enum: ['running', 'success', 'failed'] }, limit: { type: 'integer', minimum: 1 } } },
    },
  }, async (req) => {
    const { pipeline, status } = req.query;
    const runs = await store.runs(Math.min(req.query.limit ?? DEFAULT_LIMIT, ctx.maxRows), { ...(pipeline ? { pipeline } : {}), ...(status ? { status } : {}) });
    return { items: runs.map(runItem) };
  });

  app.get<{ Params: { id: string } }>('/api/runs/:id', {
    schema: { tags: ['runs'], summary: 'A run with its tasks (datasets), rows, expectations and quarantine counts', response: { 404: errorSchema } },
  }, async (req) => {
    const run = await findRun(req.params.id);
    return { ...runItem(run), tasks: (await store.tasks({ runId: run.run_id })).map(taskItem) };
  });

  app.get<{ Params: { id: string }; Querystring: { dataset?: string } }>('/api/runs/:id/log', {
    schema: {
      tags: ['runs'], summary: 'The JSON-lines log of a run\'s tasks (text/plain)',
      querystring: { type: 'object', properties: { dataset: { type: 'string' } } },
      response: { 404: errorSchema },
    },
  }, async (req, reply) => {
    const run = await findRun(req.params.id);
    const tasks = (await store.tasks({ runId: run.run_id })).filter((t) => !req.query.dataset || t.dataset === req.query.dataset);
    if (req.query.dataset && tasks.length === 0) throw new IngotError('DATASET_UNKNOWN', `run ${run.run_id} has no task ${JSON.stringify(req.query.dataset)}`);
    const parts: string[] = [];
    for (const t of tasks) {
      if (t.log) parts.push(await fs.readFile(t.log, 'utf8').catch(() => ''));
    }
    return reply.type('text/plain; charset=utf-8').send(parts.join(''));
  });

  app.get('/api/expectations', {
    schema: { tags: ['runs'], summary: 'Each expectation of each dataset: runs checked, runs passed, pass rate' },
  }, async () => {
    const stats = new Map<string, { dataset: string; name: string; action: string; runs: number; passed: number; failedRows: number; lastRun: string | null }>();
    for (const t of await store.tasks()) {
      for (const e of t.expectations) {
        const key = `${t.dataset}\u0000${e.name}`;
        const s = stats.get(key) ?? { dataset: t.dataset, name: e.name, action: e.action, runs: 0, passed: 0, failedRows: 0, lastRun: null };
        s.runs++;
        if (e.failed === 0) s.passed++;
        s.failedRows += e.failed;
        s.lastRun = t.run_id;
        stats.set(key, s);
      }
    }
    return { items: [...stats.values()].sort((a, b) => a.dataset.localeCompare(b.dataset) || a.name.localeCompare(b.name)).map((s) => ({ ...s, passRate: s.runs ? s.passed / s.runs : null })) };
  });
}
