/**
 * The object-store interface every table reads and writes through. Keys are `/`-separated paths
 * relative to the store's root. Commit atomicity lives here: `putIfAbsent` is the only primitive
 * the Delta log needs to guarantee that two writers never both create the same version.
 */

/** One object as listed: its key relative to the root, size in bytes, modification time in ms since epoch. */
export interface ObjectMeta {
  key: string;
  size: number;
  modified: number;
}

export interface ObjectStore {
  /** Root of the store as a URL-ish location (a directory path or `s3://bucket/prefix`). */
  readonly root: string;
  /** Absolute location of `key`, usable by an engine to read or write the file directly. */
  locate(key: string): string;
  /** Objects directly or recursively under `prefix` (a folder key, no trailing slash). Missing prefix → []. */
  list(prefix: string, options?: { recursive?: boolean }): Promise<ObjectMeta[]>;
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
}

/** Thrown by `get` for a missing key. */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
  constructor(readonly key: string) {
    super(`not found: ${key}`);
  }
}
