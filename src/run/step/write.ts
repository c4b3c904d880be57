import { QUARANTINE_SUFFIX } from '../../pipeline/graph.js';
import { partitionSlice } from '../../pipeline/partition-slice.js';
import type { Filter } from '../../table/filter.js';
import type { WriteMode } from '../../table/write.js';
import { isKeyed, stageKeyed } from '../materialize.js';
import type { DatasetResult } from '../../metadata/records.js';
import { stateWrites } from '../../plan/state.js';
import type { Checked } from './check.js';
import { fieldOf } from '../../table/schema.js';
import { stepError, type StagedWrite, type StepContext } from './context.js';
import { parametersOf, writeTable } from './write-table.js';
import type { StepInput } from './read.js';
import { addTime, timed } from '../profile.js';

/**
 * Write stage: the kept rows go to the dataset's table by its materialization (`append`,
 * `overwrite`, `replace partition` of the run's interval; `merge` / `apply changes` through
 * `stageKeyed`), quarantined rows are appended to `<table>_quarantine` (replaced with the
 * partition or table). Every write goes through the engine's write path: staged for the run's
 * commit, or committed by the engine. A table that already holds this run's `txn` (a retry) is
 * not written again. The own table's write carries the interval state to record (see
 * `plan/state.ts`). Column descriptions (`columns`) become the table fields' `comment` metadata
 * (`describeColumns`); one naming a column the output lacks is DATASET_INVALID. Errors: PARTITION_VIOLATION (rows outside the run's interval), SQL_ERROR,
 * INPUT_MALFORMED, CHANGES_INVALID, SCHEMA_MISMATCH.
 */
export async function writeRows(ctx: StepContext, checked: Checked, input: StepInput): Promise<DatasetResult> {
  const { ds, full } = ctx;
  const mode: WriteMode = full ? 'overwrite' : ds.materialization === 'replace partition' ? 'replace' : ds.materialization === 'overwrite' ? 'overwrite' : 'append';
  const replaceWhere: Filter[] | undefined = mode === 'replace' ? partitionSlice(ds.partitionBy ?? [], ctx.interval, ds.name) : undefined;
  const described = Object.keys(ds.columns ?? {}).filter((c) => !fieldOf(checked.schema, c));
  if (described.length > 0) {
    throw stepError(ctx, 'DATASET_INVALID', `describes column${described.length > 1 ? 's' : ''} ${described.join(', ')}, which the output lacks (its columns: ${checked.schema.fields.map((f) => f.name).join(', ')})`);
  }
  const result: DatasetResult = { dataset: ds.name, status: 'success', rowsIn: 0, rowsOut: 0, dropped: checked.dropped, quarantined: checked.quarantined, expectations: ctx.checked, inputs: input.inputs, ...(input.rejected ? { rejected: input.rejected } : {}), ms: 0 };

  const replacesTable = mode === 'overwrite' || (isKeyed(ds) && (full || !ctx.committed));
  const state: NonNullable<StagedWrite['state']> = {
    interval: ctx.step.stateInterval, replacesTable,
    state: { fingerprint: ctx.step.fingerprint, runId: ctx.scope.runId, ...(ctx.scope.logicalDate ? { logicalDate: ctx.scope.logicalDate } : {}) },
  };
  // the state commits with the rows; its upstream versions are filled in at commit time (see commitStaged)
  const domainMetadata = [...(input.domainMetadata ?? []), ...stateWrites(ctx.committed, state.interval, { ...state.state, upstream: {} }, replacesTable)];
  const own = await timed('run.step.write.own', () => writeTable(ctx, ds.name, ctx.committed, (base) => {
    const basics = { table: ctx.lake.table(ds.name), base, partitionBy: ds.partitionBy ?? [], txn: ctx.txn, parameters: parametersOf(ctx), domainMetadata, ...(ds.tableProperties ? { configuration: ds.tableProperties } : {}) };
    if (isKeyed(ds)) {
      return stageKeyed(ctx.engine, ctx.path, basics.table, base, checked.keptSql, ds, { ...basics, full, ...(checked.flags ? { flags: checked.flags } : {}) }).then((k) => {
        result.rowsIn = k.batchRows;
        return k;
      });
    }
    return ctx.path.write({ ...basics, sql: checked.keptSql, schema: checked.schema, mode, replaceWhere, overwriteSchema: full, mergeSchema: !full });
  }, input.read, state));
  result.rowsOut = own.rows;
  result.rowsIn = checked.rowsIn ?? (isKeyed(ds) ? result.rowsIn : own.rows);
  if (own.already) {
    // the write did not stage the rows (an earlier attempt committed them): the warn flags counted here
    if (checked.flags) await countFlags(ctx, checked.keptSql, checked.flags);
    result.alreadyCommitted = true;
    result.version = ctx.committed!.version;
  } else if (own.write.committed !== undefined) result.version = own.write.committed;
  else own.write.result = result;

  if (checked.quarantineSql) {
    const name = `${ds.name}${QUARANTINE_SUFFIX}`;
    const q = await timed('run.step.write.quarantine-snapshot', () => ctx.lake.table(name).trySnapshot());
    // a run with nothing to quarantine and nothing to replace makes no quarantine commit
    const noop = checked.quarantined === 0 && q !== undefined && (mode === 'append' || (mode === 'replace' ? q.scan(replaceWhere).length === 0 : q.files.size === 0));
    if (!noop) {
      const fresh = !q || full;
      const t0 = performance.now();
      const schema = fresh ? (await ctx.engine.stage('__quarantine', checked.quarantineSql)).schema : await ctx.engine.describe(checked.quarantineSql);
      await writeTable(ctx, name, q, (base) => ctx.path.write({
        table: ctx.lake.table(name), base, partitionBy: ds.partitionBy ?? [], txn: ctx.txn, parameters: parametersOf(ctx),
        sql: fresh ? 'SELECT * FROM "__quarantine"' : checked.quarantineSql!, schema, mode, replaceWhere, overwriteSchema: full, mergeSchema: !full,
      }), input.read);
      addTime('run.step.write.quarantine', performance.now() - t0);
    }
  }
  return result;
}

/** Counts each flag of `flags` over the rows of `sql` into its result (`Checked.flags`). */
async function countFlags(ctx: StepContext, sql: string, flags: NonNullable<Checked['flags']>): Promise<void> {
  const q = (c: string): string => ctx.engine.dialect.quoteIdent(c);
  const [n] = await ctx.engine.query(`SELECT ${flags.map((f, i) => `CAST(SUM(CASE WHEN ${q(f.column)} THEN 1 ELSE 0 END) AS BIGINT) AS n${i}`).join(', ')} FROM (${sql}) AS __k`);
  flags.forEach((f, i) => { f.result.failed = Number(n![`n${i}`] ?? 0); });
}
