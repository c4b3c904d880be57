import { IngotError } from '../errors.js';
import type { ObjectStore } from '../storage/store.js';
import { decodeCommit, encodeCommit, type Action } from './actions.js';
import { findCheckpoints, type CheckpointRef } from './checkpoint.js';

/** The log folder of a table, relative to the table root (PROTOCOL.md, "Delta Log Entries"). */
export const LOG_DIR = '_delta_log';

/** Key of the commit file for `version`: `_delta_log/00000000000000000007.json`. */
export function commitKey(version: number): string {
  return `${LOG_DIR}/${String(version).padStart(20, '0')}.json`;
}

/** What a listing of `_delta_log` holds: commit versions (ascending) and complete checkpoints (newest first). */
export interface LogListing {
  commits: number[];
  checkpoints: CheckpointRef[];
}

const COMMIT_RE = /^(\d{20})\.json$/;

/** Lists the commits and checkpoints present in the log; both empty if the table does not exist. */
export async function listLog(store: ObjectStore): Promise<LogListing> {
  const commits: number[] = [];
  const names = await store.names(LOG_DIR);
  for (const name of names) {
    const c = COMMIT_RE.exec(name);
    if (c) commits.push(Number(c[1]));
  }
  commits.sort((a, b) => a - b);
  return { commits, checkpoints: findCheckpoints(names) };
}

/** Reads and parses the commit file of `version`. */
export async function readCommit(store: ObjectStore, version: number): Promise<Action[]> {
  const key = commitKey(version);
  const text = (await store.get(key)).toString('utf8');
  try {
    return decodeCommit(text, key);
  } catch (err) {
    throw new IngotError('LOG_CORRUPT', `${store.locate(key)}: ${(err as Error).message}`, { file: store.locate(key), version });
  }
}

/**
 * Writes `actions` as commit `version` with put-if-absent. Returns false if another writer
 * created that version first (the caller resolves the conflict and retries at a later version).
 */
export async function writeCommit(store: ObjectStore, version: number, actions: Action[]): Promise<boolean> {
  return store.putIfAbsent(commitKey(version), encodeCommit(actions));
}

/** Version a log file belongs to: commits, checkpoints (classic, multi-part, v2), checksums; undefined for others. */
function versionOfLogFile(name: string): number | undefined {
  const m = /^(\d{20})\.(?:json|crc|checkpoint\.[^/]+)$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/**
 * Deletes log files that expired ("Metadata Cleanup"): with E the newest commit older than
 * `retentionMs` and C the newest complete checkpoint at or before E, every commit, checkpoint and
 * checksum file of a version below C goes, so each remaining version can still be reconstructed
 * from C. `_last_checkpoint` and sidecars are kept. Returns the deleted keys.
 */
export async function expireLog(store: ObjectStore, retentionMs: number, now = Date.now()): Promise<string[]> {
  const objects = await store.list(LOG_DIR);
  const cutoff = now - retentionMs;
  let expired = -1;
  for (const o of objects) {
    const c = COMMIT_RE.exec(o.key.slice(LOG_DIR.length + 1));
    if (c && o.modified < cutoff) expired = Math.max(expired, Number(c[1]));
  }
  const checkpoint = findCheckpoints(objects.map((o) => o.key.slice(LOG_DIR.length + 1))).find((c) => c.version <= expired);
  if (!checkpoint) return [];
  const doomed = objects.map((o) => o.key).filter((key) => (versionOfLogFile(key.slice(LOG_DIR.length + 1)) ?? Infinity) < checkpoint.version);
  for (const key of doomed) await store.delete(key);
  return doomed;
}
