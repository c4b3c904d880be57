import { quoteIdent, type Engine } from '../engine/engine.js';
import { IngotError } from '../errors.js';
import type { WriteOutcome, WritePath } from '../operations/write-path.js';
import {
  changeProblemsSql, DELETE_FLAG, firstPerKeySql, historyDiffSql, historySql, keyMatch, latestPerKeySql, LINEAGE_COLUMNS,
  newEventsSql, recordedEventsSql, SCD2_COLUMNS, type Scd2Columns,
} from '../pipeline/changes.js';
import type { DatasetDefinition } from '../pipeline/definition.js';
import type { MergeOptions } from '../operations/merge.js';
import type { Snapshot } from '../table/snapshot.js';
import type { DeltaTable } from '../table/table.js';
import type { DomainWrite } from '../table/write.js';

/**
 * The keyed materializations, staged like every write of a run (data files written, commit
 * prepared, the snapshot after it returned for downstream datasets; the runner commits):
 *
 * - `merge`: the batch keeps one row per key, the first arrival (`orderBy`, see
 *   `firstPerKeySql`); new keys are inserted; rows whose key the table already holds are skipped
 *   (Delta MERGE with only `whenNotMatched`: new rows are appended, no file rewritten) or, with
 *   `mergeUpdate`, update the table's row (`WHEN MATCHED THEN UPDATE SET column = expression`
 *   over `target.` and `source.`: an aggregate accumulating incremental batches).
 * - `apply changes`, SCD type 1: per key the change with the highest sequence; it replaces the
 *   table's row only when its sequence is greater than the row's (so a late, older change never
 *   overwrites newer state) except its `insertOnly` columns, which keep the values the key was
 *   inserted with (and, with `ignoreNullUpdates`, the row's values where the change has a NULL);
 *   a delete removes the row, a new key is inserted unless deleted.
 *   A key deleted in an earlier run leaves no trace: a change older than the delete arriving
 *   later inserts the key again (there are no tombstones in an SCD1 table).
 * - `apply changes`, SCD type 2: the table's rows for the batch's keys are turned back into the
 *   events they record (`recordedEventsSql`), the batch's changes are added (a change whose key
 *   and sequence the table already records is skipped: a re-delivery), and each key's history is
 *   replayed in sequence order (`historySql`), so a late change lands in its place: it splits the
 *   version it falls in, and a later version it makes redundant (same tracked values) is merged
 *   into it. A change that changed nothing when applied (same tracked values as the open
 *   version) leaves no trace, so it cannot reopen a version later: with X at 30 and X again at
 *   40 applied, then Y at 35 arriving, the history is X [30, 35), Y [35, -); the three in one
 *   batch give X [30, 35), Y [35, 40), X [40, -). Keeping every change would make the table a
 *   change log; this keeps it one row per version, as SCD2 readers expect.
 *
 * Each MERGE rewrites only the files holding affected rows. A full refresh (or a table's first
 * run) computes the table from the batch alone and overwrites it. The writes go through the
 * engine's `WritePath`: staged for the run to commit, or committed by the engine itself.
 */

/** Whether `ds` is materialized by key (`merge` or `apply changes`). */
export function isKeyed(ds: DatasetDefinition): boolean {
  return ds.materialization === 'merge' || ds.materialization === 'apply changes';
}

/** Options of `stageKeyed`. */
export interface KeyedWriteOptions {
  /** Rebuild the table from the batch (a full refresh). */
  full: boolean;
  partitionBy: string[];
  /** Extra commitInfo.operationParameters (run id, logical date). */
  parameters: Record<string, unknown>;
  txn: { appId: string; version: number };
  /** Metadata domains the source commits with its rows (e.g. the files it loaded). */
  domainMetadata?: DomainWrite[];
  /** Table properties (`DatasetDefinition.tableProperties`), set when a write creates the table. */
  configuration?: Record<string, string>;
  /**
   * Boolean columns of `sql` that are not the table's: an expectation's failure flag per row
   * (`Checked.flags`), counted over the staged batch into `failed` of each one's result.
   */
  flags?: { column: string; result: { failed: number } }[];
}

/** What `stageKeyed` wrote, and the rows of the batch (the dataset's output). */
export type KeyedWrite = WriteOutcome & { batchRows: number };

const BATCH = '__ingot_changes_batch';
const OUT = '__ingot_changes_out';
const OLD = '__ingot_changes_old';
const RECORDED = '__ingot_changes_recorded';
const EVENTS = '__ingot_changes_events';
const HISTORY = '__ingot_changes_history';
const TABLE_VIEW = '__ingot_changes.target';

/**
 * Writes the rows of `sql` into `table` (at `base`, undefined when it does not exist yet) as
 * `ds.materialization` (`merge` or `apply changes`) says, through `path`. Returns the outcome
 * (`rows`: inserted or updated) and the rows of `sql` (`batchRows`).
 * Errors: CHANGES_INVALID (a NULL key or sequence, two changes of a key with the same sequence:
 * the message names the key), COLUMN_UNKNOWN (a key, sequence, except or mergeUpdate column the
 * output lacks),
 * DATASET_INVALID (a feed column named like an SCD2 column), SQL_ERROR, SCHEMA_MISMATCH.
 */
export async function stageKeyed(engine: Engine, path: WritePath, table: DeltaTable, base: Snapshot | undefined, sql: string, ds: DatasetDefinition, options: KeyedWriteOptions): Promise<KeyedWrite> {
  const key = ds.key!;
  const changes = ds.changes;
  const invalid = (code: 'CHANGES_INVALID' | 'COLUMN_UNKNOWN' | 'DATASET_INVALID', message: string, column?: string): IngotError =>
    new IngotError(code, `${ds.name}: ${message}`, { dataset: ds.name, ...(column ? { column } : {}) });
  try {
    const flag = changes ? `, coalesce((${changes.deleteWhen ?? 'false'}), false) AS ${DELETE_FLAG}` : '';
    const batch = await engine.stage(BATCH, `SELECT *${flag} FROM (${sql}) AS __b`);
    const flags = options.flags ?? [];
    // the flags stay in the batch (and the merge's source, which writes the table's columns only)
    const columns = batch.schema.fields.map((f) => f.name).filter((n) => n !== DELETE_FLAG && !flags.some((f) => f.column === n));
    for (const c of [...key, ...(changes ? [changes.sequenceBy, ...(changes.exceptColumns ?? [])] : [])]) {
      if (!columns.includes(c)) throw invalid('COLUMN_UNKNOWN', `column ${c} (key, sequenceBy or exceptColumns) is not among the output columns (${columns.join(', ')})`, c);
    }
    for (const c of Object.keys(ds.mergeUpdate ?? {})) {
      if (!columns.includes(c)) throw invalid('COLUMN_UNKNOWN', `mergeUpdate sets column ${c}, which is not among the output columns (${columns.join(', ')})`, c);
    }
    const [problems] = await engine.query(changeProblemsSql(BATCH, key, engine.dialect, changes?.sequenceBy, flags.map((f) => f.column)));
    flags.forEach((f, i) => { f.result.failed = Number(problems![`n${i}`] ?? 0); });
    if (Number(problems!['nulls']) > 0) {
      throw invalid('CHANGES_INVALID', `${String(problems!['nulls'])} output rows have a NULL in key (${key.join(', ')})${changes ? ` or sequenceBy (${changes.sequenceBy})` : ''}: drop them first, e.g. with notNull(..., { action: 'drop' })`);
    }
    if (problems!['dup_key'] !== null && problems!['dup_key'] !== undefined) {
      throw invalid('CHANGES_INVALID', `${String(problems!['dup_n'])} changes of key ${String(problems!['dup_key'])} have the same ${changes!.sequenceBy} ${String(problems!['dup_seq'])}: which one wins is undefined`, changes!.sequenceBy);
    }

    // the columns the table keeps (the feed's, less except columns); a merge adds the new ones to the schema
    const stored = columns.filter((c) => !(changes?.exceptColumns ?? []).includes(c));
    const rebuild = options.full || !base;
    const basics = { table, base, partitionBy: options.partitionBy, txn: options.txn, parameters: options.parameters, domainMetadata: options.domainMetadata, ...(options.configuration ? { configuration: options.configuration } : {}) };
    const write = async (query: string): Promise<KeyedWrite> => {
      const out = await engine.stage(OUT, query);
      const w = await path.write({ ...basics, sql: `SELECT * FROM ${quoteIdent(OUT)}`, schema: out.schema, mode: options.full ? 'overwrite' : 'append', overwriteSchema: options.full });
      return { ...w, rows: out.rows, batchRows: batch.rows };
    };
    const mergeInto = async (merge: MergeOptions): Promise<KeyedWrite> => ({ ...(await path.merge({ ...basics, merge: { ...merge, mergeSchema: stored } })), batchRows: batch.rows });

    // every key once in the batch (as an aggregate per key gives it): no row to choose, no sort
    const unique = Number(problems!['repeated_keys']) === 0;
    if (!changes) {
      const first = firstPerKeySql(BATCH, columns, key, ds.orderBy, unique);
      if (rebuild) return await write(first);
      const set = ds.mergeUpdate ? { whenMatched: [{ update: ds.mergeUpdate }] } : {};
      return await mergeInto({ source: first, on: keyMatch(key), ...set, whenNotMatched: [{ insert: '*' }] });
    }

    const seq = quoteIdent(changes.sequenceBy);
    if ((changes.scdType ?? 1) === 1) {
      const latest = latestPerKeySql(BATCH, key, changes.sequenceBy, unique);
      if (rebuild) return await write(`SELECT ${stored.map(quoteIdent).join(', ')} FROM (${latest}) AS __l WHERE NOT ${DELETE_FLAG}`);
      return await mergeInto({
        source: latest,
        on: keyMatch(key),
        whenMatched: [
          { delete: true, condition: `source.${DELETE_FLAG} AND source.${seq} > target.${seq}` },
          { update: updateOf(stored, changes.insertOnly, changes.ignoreNullUpdates), condition: `source.${seq} > target.${seq}` },
        ],
        whenNotMatched: [{ insert: '*', condition: `NOT source.${DELETE_FLAG}` }],
      });
    }

    const clash = stored.find((c) => (SCD2_COLUMNS as readonly string[]).includes(c));
    if (clash) throw invalid('DATASET_INVALID', `the change feed has a column ${clash}, which an SCD type 2 table adds: rename it or list it in exceptColumns`, clash);
    const c: Scd2Columns = { key, stored, tracked: stored.filter((s) => !key.includes(s) && s !== changes.sequenceBy && !LINEAGE_COLUMNS.includes(s)) };
    if (rebuild) {
      await engine.stage(EVENTS, newEventsSql(BATCH, changes.sequenceBy, c));
      return await write(historySql(EVENTS, c));
    }
    await engine.attachTable(TABLE_VIEW, await path.scan(table, base));
    const all = [...stored, ...SCD2_COLUMNS].map(quoteIdent).join(', ');
    const sameKey = key.map((k) => `b.${quoteIdent(k)} = t.${quoteIdent(k)}`).join(' AND ');
    await engine.stage(OLD, `SELECT ${all} FROM ${TABLE_VIEW} AS t WHERE EXISTS (SELECT 1 FROM ${BATCH} AS b WHERE ${sameKey})`);
    await engine.stage(RECORDED, recordedEventsSql(OLD, c));
    await engine.stage(EVENTS, `SELECT * FROM ${RECORDED} UNION ALL ${newEventsSql(BATCH, changes.sequenceBy, c, RECORDED)}`);
    await engine.stage(HISTORY, historySql(EVENTS, c));
    return await mergeInto({
      source: historyDiffSql(OLD, HISTORY, c),
      on: `${keyMatch(key)} AND target.valid_from = source.valid_from`,
      whenMatched: [{ delete: true, condition: 'source.__ingot_drop' }, { update: '*' }],
      whenNotMatched: [{ insert: '*', condition: 'NOT source.__ingot_drop' }],
    });
  } finally {
    await engine.drop(BATCH, OUT, OLD, RECORDED, EVENTS, HISTORY);
  }
}

/**
 * The SET list of an SCD1 update: every stored column from the source (`'*'`), less `insertOnly`
 * columns (kept); with `ignoreNull`, a NULL in the source keeps the target's value.
 */
function updateOf(stored: string[], insertOnly: string[] | undefined, ignoreNull: boolean | undefined): '*' | Record<string, string> {
  if (!insertOnly?.length && !ignoreNull) return '*';
  return Object.fromEntries(stored.filter((c) => !insertOnly?.includes(c)).map((c) => [c, ignoreNull ? `coalesce(source.${quoteIdent(c)}, target.${quoteIdent(c)})` : `source.${quoteIdent(c)}`]));
}
