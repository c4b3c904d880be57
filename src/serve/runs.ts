import { promises as fs } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { IngotError } from '../errors.js';
import type { ExpectationResult } from '../metadata/records.js';
import type { RunRow, TaskRow } from '../metadata/store.js';
import { checkedRows, pipelinesOfRuns, runTasks, taskLogFile, type TaskView } from './run-views.js';
import { DEFAULT_LIMIT, type ServeContext } from './context.js';
import { errorSchema } from './schemas.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function runItem(r: RunRow, owner?: { pipeline: string; attributed: boolean }) {
  return {
    id: r.run_id, pipeline: owner?.pipeline ?? r.pipeline, attributed: owner?.attributed ?? false, logicalDate: r.logical_date, mode: r.mode, status: r.status, trigger: r.trigger, attempt: r.attempt,
    startedAt: iso(r.started_at), endedAt: iso(r.ended_at), durationMs: r.ended_at === null ? null : r.ended_at - r.started_at,
    rows: r.rows_written, error: r.error,
  };
}

function taskItem(v: TaskView) {
  const t = v.task;
  return {
    dataset: v.dataset, state: v.state, reason: v.reason, status: t?.status ?? null, attempts: t?.attempts ?? 0, startedAt: iso(t?.started_at ?? null), endedAt: iso(t?.ended_at ?? null),
    durationMs: t?.duration_ms ?? null, rows: t ? t.rows_out : null, rowsIn: t?.rows_in ?? null, dropped: t?.rows_dropped ?? null, quarantined: t?.rows_quarantined ?? null,
    version: t?.version ?? null, error: v.error,
    expectations: (t?.expectations ?? []).map((e) => ({ name: e.name, action: e.action, passed: e.failed === 0, failedRows: e.failed, ...checkedOf(t!, e), ...(e.scope ? { scope: e.scope } : {}) })),
    hasLog: t ? t.log !== null : false,
  };
}

function checkedOf(t: TaskRow, e: ExpectationResult) {
  const c = checkedRows(t, e);
  return { rowsChecked: c.checked, passRate: c.checked ? (c.checked - c.failed) / c.checked : null };
}

/** `YYYY-MM-DD` (or an hour) query value, or a VALIDATION error naming it. */
function dateParam(value: string | undefined, field: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}(:00)?)?$/.test(value)) throw new IngotError('VALIDATION', `${field} ${JSON.stringify(value)}: expected a date YYYY-MM-DD`, { column: field });
  return value;
}

export function addRunRoutes(app: FastifyInstance, ctx: ServeContext): void {
  const { store } = ctx;
  const findRun = async (id: string): Promise<RunRow> => {
    const [run] = await store.runs(1, { runId: id });
    if (!run) throw new IngotError('RUN_NOT_FOUND', `no run ${JSON.stringify(id)}`);
    return run;
  };

  app.get<{ Querystring: { pipeline?: string; status?: string; dataset?: string; limit?: number; offset?: number } }>('/api/runs', {
    schema: {
      tags: ['runs'], summary: 'Runs, newest first, a page at a time',
      description: 'Every run, whoever started it: a run of `ingot run` (no pipeline recorded) belongs to the pipeline holding most of the datasets it ran, else `default` (`attributed: true`). `count` is the number of runs matching; `next` the `offset` of the next page (null on the last).',
      querystring: { type: 'object', properties: {
        pipeline: { type: 'string' }, status: { type: 'string', enum: ['running', 'success', 'failed'] }, dataset: { type: 'string', description: 'runs that ran or skipped this dataset' },
        limit: { type: 'integer', minimum: 1 }, offset: { type: 'integer', minimum: 0 },
      } },
    },
  }, async (req) => {
    const { pipeline, status, dataset } = req.query;
    let runs = await store.runs(undefined, { ...(status ? { status } : {}) });
    if (dataset) {
      const ids = new Set((await store.tasks(dataset)).filter((t) => t.status !== 'not_run').map((t) => t.run_id));
      runs = runs.filter((r) => ids.has(r.run_id));
    }
    const owners = await pipelinesOfRuns(ctx, runs);
    if (pipeline) runs = runs.filter((r) => owners.get(r.run_id)?.pipeline === pipeline);
    const limit = Math.min(req.query.limit ?? DEFAULT_LIMIT, ctx.maxRows);
    const offset = req.query.offset ?? 0;
    const page = runs.slice(offset, offset + limit);
    return { items: page.map((r) => runItem(r, owners.get(r.run_id))), count: runs.length, next: offset + limit < runs.length ? String(offset + limit) : null };
  });

  app.get<{ Params: { id: string } }>('/api/runs/:id', {
    schema: {
      tags: ['runs'], summary: 'A run with every dataset of it and its state',
      description: 'Each dataset: `state` succeeded, failed (with `error`), skipped (with `reason`), not run (the run stopped before it: `reason` names the failed dataset), staged, not committed (it ran but the run failed); for a running run, running, staged or waiting, from the task logs. `current` and `rowsSoFar` for a running run.',
      response: { 404: errorSchema },
    },
  }, async (req) => {
    const run = await findRun(req.params.id);
    const owner = (await pipelinesOfRuns(ctx, [run])).get(run.run_id)!;
    const { views, progress } = await runTasks(ctx, run, owner.pipeline, await store.tasks({ runId: run.run_id }));
    const running = progress.filter((p) => p.state === 'running').map((p) => p.dataset);
    return {
      ...runItem(run, owner), tasks: views.map(taskItem),
      ...(run.status === 'running' ? { current: running[0] ?? null, rowsSoFar: progress.reduce((n, p) => n + (p.rows ?? 0), 0) } : {}),
    };
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
    // a running run's task has no record yet: its log is where the scheduler writes it
    const files = tasks.map((t) => t.log).filter((f): f is string => f !== null);
    if (tasks.length === 0 && req.query.dataset && run.status === 'running') {
      const file = taskLogFile(ctx, run, req.query.dataset);
      if (file) files.push(file);
    }
    if (req.query.dataset && tasks.length === 0 && files.length === 0) throw new IngotError('DATASET_UNKNOWN', `run ${run.run_id} has no task ${JSON.stringify(req.query.dataset)}`);
    const parts: string[] = [];
    for (const f of files) parts.push(await fs.readFile(f, 'utf8').catch(() => ''));
    return reply.type('text/plain; charset=utf-8').send(parts.join(''));
  });

  app.get<{ Querystring: { from?: string; to?: string; dataset?: string } }>('/api/expectations', {
    schema: {
      tags: ['runs'], summary: 'Each expectation of each dataset over a period: rows checked, failed rows, pass rate',
      description: 'Pass rate = rows that passed ÷ rows checked, summed over the runs of the period (logical dates `from`..`to`, inclusive; default every run). A row check checks the rows the dataset produced; a batch check counts one check per run. Failed runs count too.',
      querystring: { type: 'object', properties: { from: { type: 'string' }, to: { type: 'string' }, dataset: { type: 'string' } } },
    },
  }, async (req) => {
    const from = dateParam(req.query.from, 'from');
    const to = dateParam(req.query.to, 'to');
    const stats = new Map<string, { dataset: string; name: string; action: string; runs: number; failingRuns: number; rowsChecked: number; failedRows: number; lastFailure: string | null; lastRun: string | null }>();
    for (const t of await store.tasks(req.query.dataset || undefined)) {
      if ((from || to) && (!t.logical_date || (from && t.logical_date.slice(0, 10) < from.slice(0, 10)) || (to && t.logical_date.slice(0, 10) > to.slice(0, 10)))) continue;
      for (const e of t.expectations) {
        const key = `${t.dataset}\u0000${e.name}`;
        const s = stats.get(key) ?? { dataset: t.dataset, name: e.name, action: e.action, runs: 0, failingRuns: 0, rowsChecked: 0, failedRows: 0, lastFailure: null, lastRun: null };
        const c = checkedRows(t, e);
        s.runs++;
        s.rowsChecked += c.checked;
        s.failedRows += c.failed;
        if (e.failed > 0) {
          s.failingRuns++;
          if (t.logical_date && (!s.lastFailure || t.logical_date > s.lastFailure)) s.lastFailure = t.logical_date;
        }
        s.lastRun = t.run_id;
        stats.set(key, s);
      }
    }
    return {
      items: [...stats.values()].sort((a, b) => a.dataset.localeCompare(b.dataset) || a.name.localeCompare(b.name))
        .map((s) => ({ ...s, passRate: s.rowsChecked ? (s.rowsChecked - s.failedRows) / s.rowsChecked : null })),
    };
  });

  app.get<{ Querystring: { dataset?: string; limit?: number } }>('/api/expectations/runs', {
    schema: {
      tags: ['runs'], summary: 'Each expectation in each run (the latest `limit` runs), ordered by logical date: rows checked, failed rows, pass rate',
      querystring: { type: 'object', properties: { dataset: { type: 'string' }, limit: { type: 'integer', minimum: 1 } } },
    },
  }, async (req) => {
    const limit = Math.min(req.query.limit ?? DEFAULT_LIMIT, ctx.maxRows);
    const tasks = (await store.tasks(req.query.dataset || undefined)).filter((t) => t.expectations.length > 0);
    const runs = new Map((await store.runs()).map((r) => [r.run_id, r]));
    // the latest runs by logical date (then start), shown oldest first
    const key = (t: TaskRow) => `${t.logical_date ?? ''}\u0000${String(runs.get(t.run_id)?.started_at ?? 0).padStart(15, '0')}\u0000${t.run_id}`;
    const runIds = [...new Set(tasks.sort((a, b) => key(a).localeCompare(key(b))).map((t) => t.run_id))].slice(-limit);
    const wanted = new Set(runIds);
    return {
      items: tasks.filter((t) => wanted.has(t.run_id)).flatMap((t) => t.expectations.map((e) => ({
        runId: t.run_id, logicalDate: t.logical_date, startedAt: iso(runs.get(t.run_id)?.started_at ?? null), runStatus: runs.get(t.run_id)?.status ?? null,
        dataset: t.dataset, name: e.name, action: e.action, failedRows: e.failed, ...checkedOf(t, e),
      }))),
    };
  });
}
