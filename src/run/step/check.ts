import { IngotError, messageOf } from '../../errors.js';
import type { Expectation } from '../../pipeline/definition.js';
import { batchCheckSql, planExpectations } from '../../pipeline/expectations.js';
import { inputError } from '../../sources/files.js';
import { fieldOf, type StructType } from '../../table/schema.js';
import { CHECKED_RELATION, stepError, type StepContext } from './context.js';
import type { Conformed } from './conform.js';
import { render } from './render.js';

/** The rows to write, after the expectations. */
export interface Checked {
  /** The rows that stay (all of them without expectations). */
  keptSql: string;
  /** The rows for `<table>_quarantine` (undefined without expectations). */
  quarantineSql?: string;
  /** Schema of the kept rows. */
  schema: StructType;
  /** Rows of the query (undefined when not counted: no expectations). */
  rowsIn?: number;
  dropped: number;
  quarantined: number;
}

/**
 * Check stage. Without expectations the query is written as it is. With them, its rows are
 * staged once with a failure flag per row expectation (`__checked`), counted, and split into
 * kept and quarantined rows; batch expectations (row count, freshness) are evaluated over the
 * staged rows. Each expectation's count goes to `ctx.checked`. Errors: EXPECTATION_FAILED naming
 * every failing `fail` expectation with its count (and an example row of the first);
 * DATASET_INVALID when the partition column is not among the output columns; SQL_ERROR /
 * INPUT_MALFORMED from the engine.
 */
export async function checkRows(ctx: StepContext, c: Conformed): Promise<Checked> {
  const { ds, engine } = ctx;
  const rowExps = c.expectations.filter((e) => e.scope !== 'batch');
  const plan = c.expectations.length > 0 ? planExpectations(rowExps, (s) => render(ctx, s)) : undefined;
  let schema: StructType;
  let rowsIn: number | undefined;
  try {
    if (plan) {
      const checked = await engine.stage(CHECKED_RELATION, plan.checkedSql(`(${c.sql})`));
      schema = { type: 'struct', fields: checked.schema.fields.filter((f) => !f.name.startsWith('__fail_') && !c.hidden.includes(f.name)) };
      rowsIn = checked.rows;
    } else {
      schema = await engine.describe(c.sql);
    }
  } catch (err) {
    if (plan) await checkEachExpectation(ctx, c, rowExps);
    throw ds.source ? inputError(err, ds.name) : stepError(ctx, 'SQL_ERROR', messageOf(err), err);
  }
  const columns = schema.fields.map((f) => f.name);
  const partitionColumn = ds.partitionBy?.[0];
  if (partitionColumn && !fieldOf(schema, partitionColumn)) {
    throw stepError(ctx, 'DATASET_INVALID', `partition column ${partitionColumn} is not among the output columns (${columns.join(', ')})`);
  }
  if (!plan) return { keptSql: c.sql, schema, dropped: 0, quarantined: 0 };

  const [counts] = await engine.query(plan.countsSql(CHECKED_RELATION));
  for (const e of c.expectations) {
    const i = rowExps.indexOf(e);
    const failed = i >= 0
      ? Number(counts![`f${i}`] ?? 0)
      : (await engine.query(batchCheckSql(e, CHECKED_RELATION, (s) => render(ctx, s))).catch((err: unknown) => { throw brokenExpectation(ctx, e, err); }))[0]!['failed'] === true ? 1 : 0;
    ctx.checked.push({ name: e.name, action: e.action, failed, ...(i < 0 ? { scope: 'batch' as const } : {}) });
  }
  const failing = ctx.checked.filter((r) => r.action === 'fail' && r.failed > 0);
  if (failing.length > 0) {
    const described = failing.map((r) => {
      const e = c.expectations.find((x) => x.name === r.name)!;
      return r.scope === 'batch' ? `${e.name} (${e.condition}) failed over the run's ${rowsIn} rows` : `${e.name} (${e.condition}) failed for ${r.failed} of ${rowsIn} rows`;
    });
    const first = rowExps.findIndex((e) => e.name === failing[0]!.name);
    const [example] = first < 0 ? [] : await engine.query(`SELECT ${columns.map((x) => engine.dialect.quoteIdent(x)).join(', ')} FROM ${CHECKED_RELATION} WHERE ${engine.dialect.quoteIdent(`__fail_${first}`)} LIMIT 1`);
    throw new IngotError('EXPECTATION_FAILED', `${ds.name}: expectation${failing.length > 1 ? 's' : ''} ${described.join('; ')}${example ? `, e.g. ${JSON.stringify(example)}` : ''}`, { dataset: ds.name, expectation: failing[0]!.name });
  }
  const extra: Record<string, string> = { _quarantined_at: engine.dialect.timestampLiteral(ctx.scope.startedAt.toISOString()) };
  if (!columns.includes('_run_id')) extra['_run_id'] = engine.dialect.quoteString(ctx.scope.runId);
  return {
    keptSql: plan.keptSql(CHECKED_RELATION, columns), quarantineSql: plan.quarantineSql(CHECKED_RELATION, [...columns, ...c.hidden], extra), schema, rowsIn,
    dropped: Number(counts!['dropped'] ?? 0), quarantined: Number(counts!['quarantined'] ?? 0),
  };
}

/**
 * After the checked rows failed to stage: evaluates each row expectation's condition alone over
 * the dataset's rows (described, not run) and throws for the first that cannot be evaluated,
 * naming it. Returns when the dataset's query itself fails, or every condition is valid (the
 * error lies elsewhere).
 */
async function checkEachExpectation(ctx: StepContext, c: Conformed, expectations: Expectation[]): Promise<void> {
  try {
    await ctx.engine.describe(c.sql);
  } catch {
    return; // the dataset's own query is at fault
  }
  for (const e of expectations) {
    let broken: unknown;
    try {
      await ctx.engine.describe(`SELECT ((${render(ctx, e.condition)}) IS NOT TRUE) AS failed FROM (${c.sql}) AS __rows`);
    } catch (err) {
      broken = err;
    }
    if (broken !== undefined) throw brokenExpectation(ctx, e, broken);
  }
}

/**
 * The error of expectation `e` whose condition the engine cannot evaluate: SQL_ERROR naming the
 * expectation and its condition, with the engine's explanation (its first lines, without the
 * quoted SQL that ingot generated around the condition).
 */
function brokenExpectation(ctx: StepContext, e: Expectation, err: unknown): IngotError {
  if (err instanceof IngotError && err.code !== 'SQL_ERROR') return err;
  const lines = messageOf(err).split('\n');
  const end = lines.findIndex((l) => l.trim() === '' || /^LINE \d+:/.test(l));
  const reason = lines.slice(0, end < 0 ? undefined : end).join(' ').replace(/"?__rows"?\./g, '').trim();
  const message = `${ctx.ds.name} (${ctx.ds.file}): expectation ${e.name} (${e.condition}) cannot be evaluated: ${reason}`;
  return new IngotError('SQL_ERROR', message, { dataset: ctx.ds.name, file: ctx.ds.file, expectation: e.name }, { cause: err });
}
