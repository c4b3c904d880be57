import { IngotError } from '../errors.js';
import type { Action, CommitInfo, Metadata } from './actions.js';
import type { DeletionVectorDescriptor } from './deletion-vector.js';
import { parseStats } from './snapshot.js';
import { readCommit } from './log.js';
import type { DeltaTable } from './table.js';

/**
 * One file of a table's change data feed between two versions (Delta protocol, "Change Data
 * Files" and "Add CDC File"): a commit that carries `cdc` actions has its row changes in those
 * files, whose `_change_type` column says `insert`, `update_preimage`, `update_postimage` or
 * `delete` (`changeType` undefined here); a commit without them changed rows only by whole files:
 * its `add` actions with `dataChange` are inserts, its `remove` actions with `dataChange` deletes
 * (`changeType` set). `version` and `timestamp` (ms, the commit's `commitInfo.timestamp`) become
 * `_commit_version` / `_commit_timestamp`.
 */
export interface ChangeFile {
  /** The file's path as the log spells it (relative to the table root, URL-encoded). */
  path: string;
  size?: number;
  partitionValues: Record<string, string | null>;
  changeType?: 'insert' | 'delete';
  version: number;
  timestamp: number;
  /** Rows of the file to leave out (its deletion vector; a whole added or removed file only). */
  skip?: DeletionVectorDescriptor;
  /**
   * The rows a commit deleted by replacing the file's deletion vector `older` (none: no rows
   * deleted before) with `newer`, which Spark and Databricks write without change data files:
   * the file's rows in `newer` and not in `older` (`changeType` `delete`). `numRecords`: the
   * file's rows (its statistics).
   */
  deleted?: { newer: DeletionVectorDescriptor; older?: DeletionVectorDescriptor; numRecords: number };
}

/**
 * The change data files of `table` from version `from` to `to`, both included, oldest first.
 * Errors: CONFIG_INVALID when `from` > `to` or `to` is past the latest version;
 * CHANGE_FEED_UNAVAILABLE when the table does not set `delta.enableChangeDataFeed = true`, or a
 * version of the range had it off, or a commit deleted rows with a deletion vector of a file
 * without a row count; LOG_CORRUPT.
 */
export async function changeFiles(table: DeltaTable, from: number, to: number): Promise<ChangeFile[]> {
  const latest = await table.snapshot();
  if (!(from >= 0 && from <= to && to <= latest.version)) {
    throw new IngotError('CONFIG_INVALID', `${table.location}: change feed from version ${from} to ${to}: the versions must satisfy 0 ≤ from ≤ to ≤ ${latest.version} (the latest)`, { table: table.location });
  }
  if (latest.metadata.configuration?.['delta.enableChangeDataFeed'] !== 'true') {
    throw new IngotError('CHANGE_FEED_UNAVAILABLE', `${table.location}: the table has no change data feed: set the table property delta.enableChangeDataFeed = true (changes are recorded from then on)`, { table: table.location });
  }
  const out: ChangeFile[] = [];
  // the feed must have been on at every version of the range (the metadata as of `from`, then each commit's own)
  let on = from === latest.version ? true : (await table.snapshot(from)).metadata.configuration?.['delta.enableChangeDataFeed'] === 'true';
  for (let version = from; version <= to; version++) {
    const actions: Action[] = await readCommit(table.store, version);
    const metadata = actions.find((a): a is { metaData: Metadata } => 'metaData' in a)?.metaData;
    if (metadata) on = metadata.configuration?.['delta.enableChangeDataFeed'] === 'true';
    if (!on) {
      throw new IngotError('CHANGE_FEED_UNAVAILABLE', `${table.location}: the change data feed was off at version ${version} (delta.enableChangeDataFeed was set later): its changes were not recorded; read from a later version`, { table: table.location, version });
    }
    const info = actions.find((a): a is { commitInfo: CommitInfo } => 'commitInfo' in a)?.commitInfo;
    const timestamp = Number(info?.['inCommitTimestamp'] ?? info?.timestamp ?? 0);
    const cdc = actions.flatMap((a) => ('cdc' in a ? [a.cdc as { path: string; size?: number; partitionValues?: Record<string, string | null> }] : []));
    if (cdc.length > 0) {
      for (const c of cdc) out.push({ path: c.path, ...(c.size !== undefined ? { size: c.size } : {}), partitionValues: c.partitionValues ?? {}, version, timestamp });
      continue;
    }
    // a file whose deletion vector a commit replaced (removed and added again under its path) lost the rows the new one adds
    const removed = new Map(actions.flatMap((a) => ('remove' in a && a.remove.dataChange !== false ? [[a.remove.path, a.remove] as const] : [])));
    const readded = new Set<string>();
    for (const a of actions) {
      if (!('add' in a) || a.add.dataChange === false || !a.add.deletionVector || !removed.has(a.add.path)) continue;
      const older = removed.get(a.add.path)!.deletionVector ?? undefined;
      const numRecords = parseStats(a.add)?.numRecords;
      if (numRecords === undefined) {
        throw new IngotError('CHANGE_FEED_UNAVAILABLE', `${table.location}: version ${version} deleted rows of ${a.add.path} with a deletion vector, and the file has no row count (numRecords) to tell them by`, { table: table.location, version });
      }
      readded.add(a.add.path);
      out.push({ path: a.add.path, ...(a.add.size !== undefined ? { size: a.add.size } : {}), partitionValues: a.add.partitionValues ?? {}, changeType: 'delete', version, timestamp, deleted: { newer: a.add.deletionVector, ...(older ? { older } : {}), numRecords } });
    }
    for (const a of actions) {
      const file = 'add' in a && a.add.dataChange !== false ? a.add : 'remove' in a && a.remove.dataChange !== false ? a.remove : undefined;
      if (!file || readded.has(file.path)) continue;
      out.push({
        path: file.path, ...(file.size !== undefined ? { size: file.size } : {}), partitionValues: file.partitionValues ?? {}, changeType: 'add' in a ? 'insert' : 'delete', version, timestamp,
        ...(file.deletionVector ? { skip: file.deletionVector } : {}),
      });
    }
  }
  return out;
}
