import { IngotError } from '../errors.js';
import { NotFoundError, type ObjectStore } from '../storage/store.js';
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
  return listingOf(await store.names(LOG_DIR));
}

/** The commits and complete checkpoints among the names of `_delta_log`. */
function listingOf(names: string[]): LogListing {
  const commits: number[] = [];
  for (const name of names) {
    const c = COMMIT_RE.exec(name);
    if (c) commits.push(Number(c[1]));
  }
  commits.sort((a, b) => a - b);
  return { commits, checkpoints: findCheckpoints(names) };
}

/** A listing of the log that may start at a checkpoint: `from` is the lowest version it can hold (0 for a full listing). */
export interface PartialLogListing extends LogListing {
  from: number;
}

/**
 * Lists the log from the checkpoint `_last_checkpoint` names ("Last Checkpoint File") onward:
 * only the names at or after its version (`ObjectStore.names` with `startAfter`: S3's
 * ListObjectsV2 skips the earlier keys on the server), so that a table of many versions is not
 * listed whole, while every checkpoint and commit newer than the pointer is still seen (a stale
 * pointer costs a longer listing, never an older version) and a gap after the checkpoint is still
 * visible as a missing commit. The pointer is used only when the listing holds the checkpoint it
 * names, complete: its `parts` for a multi-part one, its `v2Checkpoint.path` for a V2 one, and
 * `atLeast` (a version the caller needs) is not below it. Otherwise (no pointer, unparsable,
 * naming a missing or incomplete checkpoint) the whole log is listed, `from` 0.
 */
export async function listLogFromLastCheckpoint(store: ObjectStore, atLeast?: number): Promise<PartialLogListing> {
  const pointer = await readLastCheckpoint(store);
  if (pointer && (atLeast === undefined || atLeast >= pointer.version)) {
    const prefix = String(pointer.version).padStart(20, '0');
    // names after the 20 digits alone: every file of that version (`<digits>.checkpoint...`) and later
    const names = (await store.names(LOG_DIR, { startAfter: prefix })).filter((n) => n > prefix);
    const listing = listingOf(names);
    const named = listing.checkpoints.find((c) => c.version === pointer.version);
    if (named && matchesPointer(named, pointer)) return { ...listing, from: pointer.version };
  }
  return { ...(await listLog(store)), from: 0 };
}

/** `_last_checkpoint`'s fields ingot uses ("Last Checkpoint File"). */
export interface LastCheckpoint {
  version: number;
  /** Number of parts of a multi-part checkpoint; absent for a single file. */
  parts?: number;
  /** For a V2 checkpoint: its file name in `_delta_log`. */
  v2Path?: string;
}

/** `_delta_log/_last_checkpoint` parsed; undefined when it is absent or not a valid pointer (a reader then lists the log). */
export async function readLastCheckpoint(store: ObjectStore): Promise<LastCheckpoint | undefined> {
  let text: string;
  try {
    text = (await store.get(`${LOG_DIR}/_last_checkpoint`)).toString('utf8');
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
  let p: { version?: unknown; parts?: unknown; v2Checkpoint?: { path?: unknown } | null };
  try {
    p = JSON.parse(text) as typeof p;
  } catch {
    return undefined;
  }
  if (typeof p !== 'object' || p === null) return undefined;
  const { version, parts } = p;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) return undefined;
  if (parts !== undefined && parts !== null && (typeof parts !== 'number' || !Number.isSafeInteger(parts) || parts < 1)) return undefined;
  const v2 = p.v2Checkpoint;
  if (v2 !== undefined && v2 !== null && (typeof v2 !== 'object' || typeof v2.path !== 'string')) return undefined;
  return { version, ...(typeof parts === 'number' ? { parts } : {}), ...(v2 ? { v2Path: String(v2.path) } : {}) };
}

/** Whether `ref` is the checkpoint `pointer` describes: the same kind, with the number of parts or the V2 file it names. */
function matchesPointer(ref: CheckpointRef, pointer: LastCheckpoint): boolean {
  if (pointer.v2Path !== undefined) return ref.kind === 'v2' && ref.files[0] === `${LOG_DIR}/${pointer.v2Path.split('/').pop()}`;
  if (pointer.parts !== undefined && pointer.parts > 1) return ref.kind === 'multi-part' && ref.files.length === pointer.parts;
  return ref.kind !== 'multi-part' || ref.files.length === 1;
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

/** Reads and parses the commit file of `version`; undefined when it does not exist (one request, no `head` first). */
export async function tryReadCommit(store: ObjectStore, version: number): Promise<Action[] | undefined> {
  try {
    return await readCommit(store, version);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

/**
 * The commits after `version` that exist one after the other (put-if-absent writes them in
 * order), read until the first missing version, one request each, with no listing: a cached
 * snapshot catching up with the commits made since.
 */
export async function readCommitsAfter(store: ObjectStore, version: number): Promise<{ version: number; actions: Action[] }[]> {
  const out: { version: number; actions: Action[] }[] = [];
  for (let v = version + 1; ; v++) {
    const actions = await tryReadCommit(store, v);
    if (!actions) return out;
    out.push({ version: v, actions });
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
