import { IngotError, messageOf } from '../../errors.js';
import { batchCheckSql, planExpectations } from '../../pipeline/expectations.js';
import { inputError } from '../../sources/files.js';
import { fieldOf, type StructType } from '../../table/schema.js';
import { CHECKED_RELATION, stepError, type StepContext } from './context.js';
import type { Conformed } from './conform.js';
import { render } from './render.js';
import { brokenExpectation, checkEachExpectation } from './broken-expectation.js';
import { isKeyed } from '../materialize.js';
import type { ExpectationResult } from '../../metadata/records.js';

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
  /**
   * The expectations were not evaluated yet: `keptSql` fails at the first row failing one (see
   * `checkRows`). When the write fails, `checkRows` with `stage` says why.
   */
  guarded?: boolean;
  /**
   * Failure flags of `warn` expectations that `keptSql` carries as extra columns, each to be
   * counted into its result by the keyed write, which stages the rows anyway (`stageKeyed`).
   */
  flags?: { column: string; result: ExpectationResult }[];
}

/** The message of a guarded query's failure (`Checked.guarded`). */
const GUARD_MESSAGE = 'a row fails an expectation whose action is fail';

/**
 * Check stage. Without expectations the query is written as it is. With them, its rows are
 * staged once with a failure flag per row expectation (`__checked`), counted, and split into
 * kept and quarantined rows; batch expectations (row count, freshness) are evaluated over the
 * staged rows. Each expectation's count goes to `ctx.checked`. When every expectation is a row
 * expectation with action `fail` (and the engine can raise an error in a query), nothing is
 * staged: the kept rows are the query's, guarded so that the write's query fails at the first
 * row failing one (`Checked.guarded`; each expectation is recorded as failed by 0 rows, true
 * when the write succeeds); the step then calls `checkRows` again with `stage` for the error.
 * A keyed write (`merge`, `apply changes`) stages its rows anyway: its `warn` expectations are
 * flags among them, counted there (`Checked.flags`), so it stages nothing here either.
 * Errors: EXPECTATION_FAILED naming every failing `fail` expectation with its count (and an
 * example row of the first); DATASET_INVALID when the partition column is not among the output
 * columns; SQL_ERROR / INPUT_MALFORMED from the engine.
 */
export async function checkRows(ctx: StepContext, c: Conformed, options: { stage?: boolean } = {}): Promise<Checked> {
  const { ds, engine } = ctx;
  const rowExps = c.expectations.filter((e) => e.scope !== 'batch');
  const raise = engine.dialect.raiseError;
  // warn expectations are counted over the rows a keyed write stages anyway
  const counted = (e: Conformed['expectations'][number]): boolean => e.action === 'warn' && isKeyed(ds);
  if (!options.stage && c.expectations.length > 0 && c.expectations.every((e) => e.scope !== 'batch' && ((e.action === 'fail' && raise) || counted(e)))) {
    return guardRows(ctx, c, raise?.(GUARD_MESSAGE), counted);
  }
  const plan = c.expectations.length > 0 ? planExpectations(rowExps, (s) => render(ctx, s)) : undefined;
  let schema: StructType;
  let rowsIn: number | undefined;
  try {
    if (plan) {
      const checked = await engine.stage(CHECKED_RELATION, plan.checkedSql(`(${c.sql})`));
      schema = { type: 'struct', fields: checked.schema.fields.filter((f) => !f.name.startsWith('__fail_') && !c.hidden.includes(f.name)) };
      rowsIn = checked.rows;
    } else {
      schema = c.schema ?? await engine.describe(c.sql);
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
 * The kept rows of `c` when its expectations all fail the run or are `counted` by the write (see
 * `checkRows`): its rows less the columns only quarantined rows keep, each row passing every
 * fail condition or `raise` (an expression failing the query), with a failure flag per counted
 * expectation. Errors: as `checkRows` (the query described, not run).
 */
async function guardRows(ctx: StepContext, c: Conformed, raise: string | undefined, counted: (e: Conformed['expectations'][number]) => boolean): Promise<Checked> {
  const { ds, engine } = ctx;
  let described: StructType;
  try {
    described = c.schema ?? await engine.describe(c.sql);
  } catch (err) {
    throw ds.source ? inputError(err, ds.name) : stepError(ctx, 'SQL_ERROR', messageOf(err), err);
  }
  const schema: StructType = { type: 'struct', fields: described.fields.filter((f) => !c.hidden.includes(f.name)) };
  const columns = schema.fields.map((f) => f.name);
  const partitionColumn = ds.partitionBy?.[0];
  if (partitionColumn && !fieldOf(schema, partitionColumn)) {
    throw stepError(ctx, 'DATASET_INVALID', `partition column ${partitionColumn} is not among the output columns (${columns.join(', ')})`);
  }
  const failed = (e: Conformed['expectations'][number]): string => `(${render(ctx, e.condition)}) IS NOT TRUE`;
  const failing = c.expectations.filter((e) => !counted(e)).map(failed);
  const flags: NonNullable<Checked['flags']> = [];
  const select = columns.map((x) => engine.dialect.quoteIdent(x));
  for (const e of c.expectations) {
    const result: ExpectationResult = { name: e.name, action: e.action, failed: 0 };
    ctx.checked.push(result);
    if (!counted(e)) continue;
    const column = `__fail_${flags.length}`;
    flags.push({ column, result });
    select.push(`${failed(e)} AS ${engine.dialect.quoteIdent(column)}`);
  }
  // the fail conditions are evaluated in a SELECT list of their own, filtered outside it: a
  // condition may hold a window function (unique: count(*) OVER), which no WHERE clause may
  const rows = failing.length > 0
    ? `(SELECT *, ${failing.join(' OR ')} AS __ingot_guard FROM (${c.sql}) AS __unguarded) AS __rows WHERE CASE WHEN __ingot_guard THEN ${raise!} ELSE true END`
    : `(${c.sql}) AS __rows`;
  return {
    keptSql: `SELECT ${select.join(', ')} FROM ${rows}`,
    schema, dropped: 0, quarantined: 0, guarded: true, ...(flags.length > 0 ? { flags } : {}),
  };
}
