import * as path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { IngotError } from '../errors.js';
import { commentOf, typeName } from '../table/schema.js';
import { pipelinesOf } from '../schedule/pipeline.js';
import type { ServeContext } from './context.js';
import { datasetStates } from './dataset-states.js';
import { projectGraph } from './run-views.js';
import { errorSchema } from './schemas.js';

const nameParam = { type: 'object', required: ['name'], properties: { name: { type: 'string', description: 'layer.table' } } } as const;

/**
 * Dataset routes (read scope): `GET /api/datasets/:name`, one dataset as the console's dataset
 * page shows it: its definition (kind, materialization, description, SQL, file, expectations with
 * their conditions), where it sits in the graph (upstream, downstream, pipelines), its latest
 * state (see `datasetStates`), latest commit and version, freshness (age of the latest commit,
 * ms) and schema with each column's description (the Delta field metadata key `comment`).
 * Its recent runs and expectation trend come from `/api/runs?dataset=` and
 * `/api/expectations/runs?dataset=`. Errors: DATASET_UNKNOWN (404).
 */
export function addDatasetRoutes(app: FastifyInstance, ctx: ServeContext): void {
  app.get<{ Params: { name: string } }>('/api/datasets/:name', {
    schema: { tags: ['pipelines'], summary: 'A dataset: definition, state, latest commit, freshness, schema with column descriptions, upstream and downstream', params: nameParam, response: { 404: errorSchema } },
  }, async (req) => {
    const graph = await projectGraph(ctx);
    const node = graph.get(req.params.name);
    if (!node) throw new IngotError('DATASET_UNKNOWN', `no dataset ${JSON.stringify(req.params.name)} in this project`, { dataset: req.params.name });
    const ds = node.dataset;
    const status = (await datasetStates(ctx)).get(ds.name)!;
    let schema: { name: string; type: string; nullable: boolean; description: string | null }[] | null = null;
    let latestCommit: { version: number; timestamp: string; operation: string } | null = null;
    if ((await ctx.reader.tables()).includes(ds.name)) {
      const s = await ctx.reader.snapshot(ds.name);
      schema = s.schema.fields.map((f) => ({ name: f.name, type: typeName(f.type), nullable: f.nullable, description: commentOf(f) ?? null }));
      const [h] = await ctx.reader.lake.table(ds.name).history(1);
      if (h) latestCommit = { version: h.version, timestamp: new Date(h.timestamp).toISOString(), operation: h.operation };
    }
    return {
      name: ds.name, kind: ds.source ? 'source' : 'sql', description: ds.description ?? null, materialization: ds.materialization ?? null,
      tags: ds.tags ?? [], file: path.relative(ctx.project.dir, ds.file), sql: ds.sql ?? null, source: ds.source ? { type: (ds.source as { type?: string }).type ?? null } : null,
      upstream: node.dependsOn, downstream: graph.order.filter((n) => n.dependsOn.includes(ds.name)).map((n) => n.dataset.name),
      pipelines: pipelinesOf(ctx.project).filter((p) => p.datasets.includes(ds.name)).map((p) => p.name),
      ...status, latestCommit, freshnessMs: status.lastModified ? Date.now() - Date.parse(status.lastModified) : null,
      schema, expectations: (ds.expectations ?? []).map((e) => ({ name: e.name, condition: e.condition, action: e.action, scope: e.scope ?? 'row' })),
    };
  });
}
