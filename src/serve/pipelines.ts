import { dialectOf } from '../engine/registry.js';
import { datasetEngine } from '../pipeline/engines.js';
import type { FastifyInstance } from 'fastify';
import { IngotError } from '../errors.js';
import { buildGraph, type DatasetGraph } from '../pipeline/graph.js';
import { parseDate } from '../pipeline/interval.js';
import { intervalStart, intervalsBetween, lastComplete } from '../schedule/calendar.js';
import { checkBackfillRange, checkStarted, pipelineNamed, pipelinesOf, startingPaused } from '../schedule/pipeline.js';
import type { ServeContext } from './context.js';
import { errorSchema } from './schemas.js';

const nameParam = { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } as const;

/**
 * Runs `check` on body fields; its CONFIG_INVALID becomes VALIDATION (422) naming `field` (or the
 * field the check names). Used for dates (`parseDate`: a day or an hour within `SUPPORTED_DATES`),
 * ranges (`checkBackfillRange`) and a pipeline's start (`checkStarted`).
 */
function validated<T>(field: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (!(err instanceof IngotError) || err.code !== 'CONFIG_INVALID') throw err;
    throw new IngotError('VALIDATION', err.message, { ...err.context, column: err.context.column ?? field }, { cause: err });
  }
}

/** Parses a date body field. Errors: VALIDATION naming the field. */
function date(value: string, field: string): string {
  return validated(field, () => parseDate(value, field));
}

/**
 * Pipeline routes: `GET /api/pipelines` (read) with each pipeline's datasets and what they depend
 * on; `POST /api/pipelines/:name/trigger`, `/backfill`, `/pause`, `/resume` (write). Triggers and
 * backfills queue intervals in the metadata store: the scheduler of `ingot serve` runs them.
 */
export function addPipelineRoutes(app: FastifyInstance, ctx: ServeContext): void {
  let graph: Promise<DatasetGraph> | undefined;
  const graphOf = (): Promise<DatasetGraph> => {
    graph ??= buildGraph(ctx.project.datasets, (sql) => ctx.reader.references(sql), (d) => dialectOf(datasetEngine(d, ctx.project.config)));
    graph.catch(() => { graph = undefined; });
    return graph;
  };
  const pipeline = (name: string) => {
    try {
      return pipelineNamed(ctx.project, name);
    } catch (err) {
      throw new IngotError('PIPELINE_UNKNOWN', `no pipeline ${JSON.stringify(name)} in this project`, { pipeline: name }, { cause: err });
    }
  };

  app.get('/api/pipelines', { schema: { tags: ['pipelines'], summary: 'Pipelines with their schedule, state and dataset graph' } }, async () => {
    const g = await graphOf();
    const all = pipelinesOf(ctx.project);
    const paused = await ctx.store.paused(startingPaused(all));
    return {
      items: all.map((p) => ({
        name: p.name, schedule: p.schedule ?? null, timezone: p.timezone, interval: p.interval, paused: paused.has(p.name),
        start: p.start ?? null, retries: p.retries, maxActiveRuns: p.maxActiveRuns, dependsOnDatasets: p.dependsOn.map((d) => d.dataset),
        datasets: p.datasets.map((d) => {
          const node = g.get(d);
          return { name: d, dependsOn: node?.dependsOn ?? [], materialization: node?.dataset.materialization ?? null, kind: node?.dataset.source ? 'source' : 'sql' };
        }),
      })),
    };
  });

  app.post<{ Params: { name: string }; Body: { date?: string } | undefined }>('/api/pipelines/:name/trigger', {
    config: { auth: 'write' },
    schema: {
      tags: ['pipelines'], summary: 'Queue a run of a pipeline (default: its last complete interval)', params: nameParam,
      body: { type: ['object', 'null'], additionalProperties: false, properties: { date: { type: 'string' } } },
      response: { 404: errorSchema, 409: errorSchema, 422: errorSchema },
    },
  }, async (req, reply) => {
    const p = pipeline(req.params.name);
    const logicalDate = req.body?.date ? intervalStart(date(req.body.date, 'date'), p.interval) : lastComplete(new Date(), p.timezone, p.interval);
    validated('date', () => checkStarted(p, logicalDate, 'date'));
    if (!(await ctx.store.trigger(p.name, logicalDate))) return reply.code(409).send({ error: 'RUNNING', message: `${p.name} ${logicalDate} is running now` });
    return reply.code(202).send({ pipeline: p.name, logicalDate, status: 'queued' });
  });

  app.post<{ Params: { name: string }; Body: { from: string; to: string; rerun?: boolean } }>('/api/pipelines/:name/backfill', {
    config: { auth: 'write' },
    schema: {
      tags: ['pipelines'], summary: 'Queue every interval of a range (complete ones skipped unless rerun)', params: nameParam,
      body: { type: 'object', required: ['from', 'to'], additionalProperties: false, properties: { from: { type: 'string' }, to: { type: 'string' }, rerun: { type: 'boolean' } } },
      response: { 404: errorSchema, 422: errorSchema },
    },
  }, async (req, reply) => {
    const p = pipeline(req.params.name);
    const from = intervalStart(date(req.body.from, 'from'), p.interval);
    const to = date(req.body.to, 'to');
    validated('to', () => checkBackfillRange(p, from, to, 'from', 'to'));
    const dates = intervalsBetween(from, to, p.interval);
    const states = new Map((await ctx.store.intervals(p.name)).map((s) => [s.logicalDate, s.status]));
    const queued: string[] = [];
    const skipped: string[] = [];
    for (const d of dates) {
      if ((!req.body.rerun && states.get(d) === 'success') || !(await ctx.store.trigger(p.name, d))) skipped.push(d);
      else queued.push(d);
    }
    return reply.code(202).send({ pipeline: p.name, queued, skipped });
  });

  for (const [action, paused] of [['pause', true], ['resume', false]] as const) {
    app.post<{ Params: { name: string } }>(`/api/pipelines/:name/${action}`, {
      config: { auth: 'write' },
      schema: { tags: ['pipelines'], summary: paused ? 'Start no new runs of a pipeline' : 'Let a paused pipeline run again', params: nameParam, response: { 404: errorSchema } },
    }, async (req) => {
      const p = pipeline(req.params.name);
      await ctx.store.setPaused(p.name, paused);
      return { name: p.name, paused };
    });
  }
}
