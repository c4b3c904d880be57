import type { DatasetResult } from '../../metadata/records.js';
import { checkRows } from './check.js';
import { conformRows } from './conform.js';
import { CHECKED_RELATION, QUARANTINE_RELATION, SOURCE_RELATION, type StepContext } from './context.js';
import { readInputs } from './read.js';
import { renderQuery } from './render.js';
import { writeRows } from './write.js';
import { timed } from '../profile.js';
import { messageOf } from '../../errors.js';

/**
 * One dataset step of a run, the road itself: read inputs → render the query → conform it to
 * the table's schema → check expectations → write (staged for the run's commit, or committed by
 * the engine). A source with nothing new ends the step after reading: nothing is written, and
 * the result says `skipped` with the reason. Errors: those of each stage; what the step staged
 * is left in `ctx.staged` for the runner to discard.
 */
export async function runStep(ctx: StepContext): Promise<DatasetResult> {
  try {
    const input = await timed('run.step.read', () => readInputs(ctx));
    if (input.unchanged) {
      return { dataset: ctx.ds.name, status: 'skipped', reason: 'up to date: the source has nothing new', rowsIn: 0, rowsOut: 0, dropped: 0, quarantined: 0, expectations: [], inputs: input.inputs, ms: 0 };
    }
    const sql = await timed('run.step.render', () => renderQuery(ctx));
    const conformed = await timed('run.step.conform', () => conformRows(ctx, sql, input));
    const checked = await timed('run.step.check', () => checkRows(ctx, conformed));
    try {
      return await timed('run.step.write', () => writeRows(ctx, checked, input));
    } catch (err) {
      // an interrupted write (a task's time limit, shutdown) is not checked again
      if (!checked.guarded || /interrupt/i.test(messageOf(err))) throw err;
      // the write's query met a row failing an expectation (or failed otherwise): the rows are
      // staged and counted, which throws the error saying which and how many (else the write's error stands)
      ctx.checked.length = 0;
      await checkRows(ctx, conformed, { stage: true });
      throw err;
    }
  } finally {
    await timed('run.step.drop', () => ctx.engine.drop(QUARANTINE_RELATION, CHECKED_RELATION, SOURCE_RELATION));
  }
}
