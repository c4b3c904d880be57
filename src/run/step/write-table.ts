import { IngotError, messageOf } from '../../errors.js';
import type { WriteOutcome } from '../../operations/write-path.js';
import { inputError } from '../../sources/files.js';
import type { Action } from '../../table/actions.js';
import { withComments } from '../../table/schema.js';
import type { PreparedCommit } from '../../table/table.js';
import type { Snapshot } from '../../table/snapshot.js';
import { stepError, type StagedWrite, type StepContext } from './context.js';

/** Extra commitInfo.operationParameters of the run's commits. */
export function parametersOf(ctx: StepContext): Record<string, unknown> {
  return { runId: ctx.scope.runId, ...(ctx.scope.logicalDate ? { logicalDate: ctx.scope.logicalDate } : {}) };
}

/**
 * Writes table `name` (at `base`) with `write` unless it already holds the run's txn, and keeps
 * the outcome in `ctx.staged` (a staged commit, or the engine's commit). The dataset's own table
 * (`state` given) gets the interval state to record.
 */
export async function writeTable(
  ctx: StepContext, name: string, base: StagedWrite['preview'], write: (base: StagedWrite['preview']) => Promise<WriteOutcome>,
  read: StagedWrite['read'], state?: StagedWrite['state'],
): Promise<{ rows: number; already: boolean; write: StagedWrite }> {
  const table = ctx.lake.table(name);
  const staged: StagedWrite = { table, read };
  if ((base?.txns.get(ctx.txn.appId)?.version ?? -1) >= ctx.txn.version) return { rows: 0, already: true, write: staged };
  let outcome: WriteOutcome;
  try {
    outcome = await write(base);
  } catch (err) {
    if (err instanceof IngotError && err.code === 'PARTITION_VIOLATION') {
      throw stepError(ctx, 'PARTITION_VIOLATION', `wrote rows with ${ctx.ds.partitionBy?.[0]} outside the run's interval [${ctx.interval.start}, ${ctx.interval.end}): filter the query with {{start}} and {{end}} (${err.message})`);
    }
    if (err instanceof IngotError && err.code !== 'SQL_ERROR') throw err;
    throw ctx.ds.source ? inputError(err, ctx.ds.name) : stepError(ctx, 'SQL_ERROR', messageOf(err), err);
  }
  if (state) staged.state = state;
  if (outcome.kind === 'staged') {
    if (ctx.ds.columns) outcome = { ...outcome, ...describeColumns(outcome.commit, outcome.preview, ctx.ds.columns) };
    staged.commit = outcome.commit;
    staged.preview = outcome.preview;
    ctx.staged.set(name, staged);
    return { rows: outcome.rows, already: false, write: staged };
  }
  if (outcome.version === undefined) return { rows: 0, already: true, write: staged };
  staged.committed = outcome.version;
  ctx.staged.set(name, staged);
  return { rows: outcome.rows, already: false, write: staged };
}

/**
 * A staged commit whose table schema carries the dataset's column descriptions as each field's
 * `comment` metadata: the commit's own metaData action patched, or one added when the table's
 * comments differ (schema evolution keeps a table's comments: `mergeSchemas` keeps its fields).
 * Unchanged when the comments are already there. Columns the table lacks are left to the caller.
 */
export function describeColumns(commit: PreparedCommit, preview: Snapshot, columns: Record<string, string>): { commit: PreparedCommit; preview: Snapshot } {
  const schema = withComments(preview.schema, columns);
  if (!schema) return { commit, preview };
  const metaData = { ...preview.metadata, schemaString: JSON.stringify(schema) };
  const i = commit.actions.findIndex((a) => 'metaData' in a);
  const actions: Action[] = i >= 0
    ? commit.actions.map((a, j) => (j === i && 'metaData' in a ? { metaData: { ...a.metaData, schemaString: JSON.stringify(schema) } } : a))
    : [{ metaData }, ...commit.actions];
  return { commit: { ...commit, actions }, preview: preview.apply([{ metaData }], preview.version, preview.timestamp) };
}
