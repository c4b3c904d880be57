import type { FastifyInstance } from 'fastify';
import { IngotError } from '../errors.js';
import { parseDate } from '../pipeline/interval.js';
import { Planner } from '../plan/plan.js';
import { datasetStates } from './dataset-states.js';
import { projectGraph } from './run-views.js';
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
  const graphOf = () => projectGraph(ctx);
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
    const states = await datasetStates(ctx);
    return {
      items: all.map((p) => ({
        name: p.name, schedule: p.schedule ?? null, timezone: p.timezone, interval: p.interval, paused: paused.has(p.name),
        start: p.start ?? null, retries: p.retries, maxActiveRuns: p.maxActiveRuns, dependsOnDatasets: p.dependsOn.map((d) => d.dataset),
        datasets: p.datasets.map((d) => {
          const node = g.get(d);
          return { name: d, dependsOn: node?.dependsOn ?? [], materialization: node?.dataset.materialization ?? null, kind: node?.dataset.source ? 'source' : 'sql', ...states.get(d)! };
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

  app.get<{ Params: { name: string }; Querystring: { from: string; to: string; rerun?: boolean } }>('/api/pipelines/:name/plan', {
    schema: {
      tags: ['pipelines'], summary: 'What a backfill of a range would do, before it is queued (nothing runs)',
      description: 'The intervals `POST /backfill` with the same body would queue (complete ones are skipped unless `rerun`), and the plan of each queued interval: one step per dataset with the reason it runs (as `ingot plan`). Runs the API queues run every step of the pipeline (trigger `manual`): a step the plan alone would skip says so.',
      params: nameParam,
      querystring: { type: 'object', required: ['from', 'to'], properties: { from: { type: 'string' }, to: { type: 'string' }, rerun: { type: 'boolean' } } },
      response: { 404: errorSchema, 422: errorSchema },
    },
  }, async (req) => {
    const p = pipeline(req.params.name);
    const from = intervalStart(date(req.query.from, 'from'), p.interval);
    const to = date(req.query.to, 'to');
    validated('to', () => checkBackfillRange(p, from, to, 'from', 'to'));
    const dates = intervalsBetween(from, to, p.interval);
    const states = new Map((await ctx.store.intervals(p.name)).map((s) => [s.logicalDate, s.status]));
    const queued = dates.filter((d) => (req.query.rerun || states.get(d) !== 'success') && states.get(d) !== 'running');
    const skipped = dates.filter((d) => !queued.includes(d)).map((d) => ({ logicalDate: d, reason: states.get(d) === 'running' ? 'running now' : 'complete (pass rerun to run it again)' }));
    const planner = new Planner(ctx.project, await graphOf(), ctx.reader.lake);
    // planned without force to say what changed; the queued runs are forced, so a step the plan would skip runs anyway
    const plan = queued.length ? await planner.plan({ dates: queued, selected: new Set(p.datasets) }) : { runs: [] };
    return {
      pipeline: p.name, from, to, queued, skipped,
      runs: plan.runs.map((r) => ({
        logicalDate: r.logicalDate ?? null,
        steps: r.steps.map((st) => ({ dataset: st.dataset, action: 'run', reason: st.action === 'skip' ? `forced (the plan alone would skip it: ${st.reason})` : st.reason, materialization: st.materialization })),
      })),
    };
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
