import { IngotError } from '../errors.js';
import type { Action, CommitInfo } from './actions.js';
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
}

/**
 * The change data files of `table` from version `from` to `to`, both included, oldest first.
 * Errors: CONFIG_INVALID when `from` > `to` or `to` is past the latest version;
 * CHANGE_FEED_UNAVAILABLE when the table does not set `delta.enableChangeDataFeed = true`, or a
 * commit without `cdc` actions changed rows through deletion vectors (only its cdc files would
 * say which rows); LOG_CORRUPT.
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
  for (let version = from; version <= to; version++) {
    const actions: Action[] = await readCommit(table.store, version);
    const info = actions.find((a): a is { commitInfo: CommitInfo } => 'commitInfo' in a)?.commitInfo;
    const timestamp = Number(info?.['inCommitTimestamp'] ?? info?.timestamp ?? 0);
    const cdc = actions.flatMap((a) => ('cdc' in a ? [a.cdc as { path: string; size?: number; partitionValues?: Record<string, string | null> }] : []));
    if (cdc.length > 0) {
      for (const c of cdc) out.push({ path: c.path, ...(c.size !== undefined ? { size: c.size } : {}), partitionValues: c.partitionValues ?? {}, version, timestamp });
      continue;
    }
    for (const a of actions) {
      const file = 'add' in a && a.add.dataChange !== false ? a.add : 'remove' in a && a.remove.dataChange !== false ? a.remove : undefined;
      if (!file) continue;
      if (file.deletionVector) {
        throw new IngotError('CHANGE_FEED_UNAVAILABLE', `${table.location}: version ${version} changed rows with deletion vectors and wrote no change data files: its row changes cannot be told`, { table: table.location, version });
      }
      out.push({ path: file.path, ...(file.size !== undefined ? { size: file.size } : {}), partitionValues: file.partitionValues ?? {}, changeType: 'add' in a ? 'insert' : 'delete', version, timestamp });
    }
  }
  return out;
}
