/**
 * The object-store interface every table reads and writes through. Keys are `/`-separated paths
 * relative to the store's root. Commit atomicity lives here: `putIfAbsent` is the only primitive
 * the Delta log needs to guarantee that two writers never both create the same version.
 */

import { IngotError } from '../errors.js';

/**
 * One object as listed: its key relative to the root, size in bytes, modification time in ms
 * since epoch, and (S3) the ETag as the server sends it, quotes included.
 */
export interface ObjectMeta {
  key: string;
  size: number;
  modified: number;
  etag?: string;
  /**
   * `LocalStore.list` with `links`: a symbolic link (to a file or a folder) whose target lies
   * outside the folders links may lead to; it was not followed and nothing of it was read.
   */
  outside?: true;
}

export interface ObjectStore {
  /** Root of the store as a URL-ish location (a directory path or `s3://bucket/prefix`). */
  readonly root: string;
  /** Absolute location of `key`: a file path, or `s3://bucket/prefix/key`. For messages and readers that know the scheme. */
  locate(key: string): string;
  /** Objects directly or recursively under `prefix` (a folder key, no trailing slash). Missing prefix → []. */
  list(prefix: string, options?: { recursive?: boolean }): Promise<ObjectMeta[]>;
  /**
   * Names of the objects directly under `prefix` (no folders), sorted, without sizes or times:
   * cheaper than `list` where metadata costs a call per object (a file system). Missing prefix → [].
   * With `startAfter` (a name), only the names after it in string order (S3: ListObjectsV2's
   * `StartAfter`, so the server skips the earlier keys; a file system reads the folder and filters).
   */
  names(prefix: string, options?: { startAfter?: string }): Promise<string[]>;
  /**
   * Names of the folders directly under `prefix` (S3: the common prefixes of a listing with a
   * `/` delimiter), sorted. Missing prefix → [].
   */
  folders(prefix: string): Promise<string[]>;
  /** The bytes of `key`; throws `NotFoundError` if it does not exist. */
  get(key: string): Promise<Buffer>;
  /** Metadata of `key`, or undefined if absent. */
  head(key: string): Promise<ObjectMeta | undefined>;
  /** Writes `key`, replacing any existing object. Never leaves a partial object visible. */
  put(key: string, body: Buffer | string): Promise<void>;
  /**
   * Writes `key` only if no object has that key, atomically. Returns false (and writes nothing)
   * if the key already exists. This is the Delta log's commit primitive.
   */
  putIfAbsent(key: string, body: Buffer | string): Promise<boolean>;
  /** Deletes `key`; absent keys are ignored. */
  delete(key: string): Promise<void>;
  /**
   * A local directory holding `files` at their keys (`<dir>/<key>`), for engines that read only
   * local files. Objects are taken as immutable (Delta data and checkpoint files are): a copy
   * with the expected size is reused. `size` in bytes (as the Delta log's `add.size` records it);
   * when absent it is looked up. A local store returns its root and copies nothing, checking each
   * file's size (one `stat`). Errors: FILE_MISMATCH (`fileMismatch`) for a file whose size is not
   * `size` (replaced outside Delta); remote stores: `NotFoundError` for a missing key.
   */
  localCopy(files: { key: string; size?: number }[]): Promise<string>;
  /**
   * A local directory in which an engine writes new objects at `<dir>/<key>`; `publish` makes
   * them objects of the store. A local store stages in its own root: files are in place once
   * written, invisible to readers until a commit names them.
   */
  localStaging(): Promise<LocalStaging>;
}

/** A local directory for writing new objects (see `ObjectStore.localStaging`). */
export interface LocalStaging {
  /** Absolute local directory. */
  readonly dir: string;
  /** Makes the files written at `<dir>/<key>` objects of the store at `key`, and removes the staged copies. */
  publish(keys: string[]): Promise<void>;
  /** Removes whatever publish did not (a no-op for a local store). Call it in a `finally`. */
  close(): Promise<void>;
}

/** Thrown by `get` for a missing key. */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
  constructor(readonly key: string) {
    super(`not found: ${key}`);
  }
}

/**
 * The error for a data file whose size is not the one its table's log records (`add.size`,
 * PROTOCOL.md "Add File"): the file was replaced outside Delta, and reading it would return other
 * rows or NULL columns. `root`: the table's location; `key`: the file; sizes in bytes.
 */
export function fileMismatch(root: string, key: string, recorded: number, actual: number): IngotError {
  return new IngotError('FILE_MISMATCH',
    `${root}: data file ${key} has ${actual} bytes but the Delta log records ${recorded} (add.size): it was replaced or changed outside Delta; restore the original file, or remove the file from the table (restore to an earlier version or overwrite the table)`,
    { table: root, file: key, recordedSize: recorded, actualSize: actual });
}

/** Runs `fn` on every item, at most `limit` at a time; rejects with the first error (after the running calls end). */
export async function forEachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  let error: unknown;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        if (!failed) error = err;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed) throw error;
}
