import { IngotError, messageOf } from '../../errors.js';
import type { Expectation } from '../../pipeline/definition.js';
import type { StepContext } from './context.js';
import type { Conformed } from './conform.js';
import { render } from './render.js';

/**
 * After the checked rows failed to stage: evaluates each row expectation's condition alone over
 * the dataset's rows (described, not run) and throws for the first that cannot be evaluated,
 * naming it. Returns when the dataset's query itself fails, or every condition is valid (the
 * error lies elsewhere).
 */
export async function checkEachExpectation(ctx: StepContext, c: Conformed, expectations: Expectation[]): Promise<void> {
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
export function brokenExpectation(ctx: StepContext, e: Expectation, err: unknown): IngotError {
  if (err instanceof IngotError && err.code !== 'SQL_ERROR') return err;
  const lines = messageOf(err).split('\n');
  const end = lines.findIndex((l) => l.trim() === '' || /^LINE \d+:/.test(l));
  const reason = lines.slice(0, end < 0 ? undefined : end).join(' ').replace(/"?__rows"?\./g, '').trim();
  const message = `${ctx.ds.name} (${ctx.ds.file}): expectation ${e.name} (${e.condition}) cannot be evaluated: ${reason}`;
  return new IngotError('SQL_ERROR', message, { dataset: ctx.ds.name, file: ctx.ds.file, expectation: e.name }, { cause: err });
}
