import { sqlFor } from '../../pipeline/definition.js';
import { renderSql } from '../../pipeline/template.js';
import { SOURCE_RELATION, type StepContext } from './context.js';

/**
 * Render stage: the query whose rows the step writes. A source's rows with lineage columns
 * (`_ingested_at` the run's start, `_run_id`; `_source` comes from the connector); otherwise the
 * dataset's SQL for its engine (its override for that engine, if any) with templates filled in
 * and portable functions rewritten. When an expectation reads the dataset's own table
 * (`{{this}}`), the committed table is attached under its name (no rows in a full refresh, which
 * replaces it). Errors: DATASET_INVALID (an unknown template, a portable function's misuse).
 */
export async function renderQuery(ctx: StepContext): Promise<string> {
  const { ds, engine, scope } = ctx;
  const d = engine.dialect;
  const sql = ds.source
    ? `SELECT *, ${d.timestampLiteral(scope.startedAt.toISOString())} AS ${d.quoteIdent('_ingested_at')}, ${d.quoteString(scope.runId)} AS ${d.quoteIdent('_run_id')} FROM ${d.quoteIdent(SOURCE_RELATION)}`
    : render(ctx, sqlFor(ds, d.name)!);
  if (ctx.node.reads.includes(ds.name)) {
    const table = ctx.lake.table(ds.name);
    const snapshot = ctx.full ? undefined : ctx.committed;
    await engine.attachTable(ds.name, snapshot
      ? await ctx.path.scan(table, snapshot)
      : { location: table.location, schema: await engine.describe(sql), partitionColumns: [], files: [] });
  }
  return sql;
}

/** `sql` (the dataset's query or an expectation's condition) with the step's templates filled in, in its engine's dialect. */
export function render(ctx: StepContext, sql: string): string {
  return renderSql(sql, { interval: ctx.interval, logicalDate: ctx.scope.logicalDate, runId: ctx.scope.runId, dialect: ctx.engine.dialect }, ctx.ds.name);
}
