import { randomUUID } from 'node:crypto';
import { IngotError } from '../errors.js';
import type { Action, Add } from '../table/actions.js';
import { writeCheckpoint, type ParquetFiles } from '../table/checkpoint.js';
import type { DeletionVectorDescriptor } from '../table/deletion-vector.js';
import { deletionVectorKey } from '../table/deletion-vector.js';
import type { DeltaTable } from '../table/table.js';
import { absoluteDataPath, decodePath } from '../table/write.js';

/** What a shallow clone made. */
export interface CloneResult {
  /** The clone's first version: the source's version it copies (the clone keeps the source's version numbers). */
  version: number;
  /** Data files the clone references (none copied). */
  files: number;
  /** Bytes of those files. */
  bytes: number;
}

/** The `add` of `source`'s file as another table's log names it: its path (and a `u` deletion vector's) as absolute URIs. */
export function referenceOf(add: Add, sourceRoot: string): Add {
  const out: Add = { ...add, path: absoluteDataPath(sourceRoot, decodePath(add.path, sourceRoot)), dataChange: true };
  if (add.deletionVector && add.deletionVector.storageType !== 'i') out.deletionVector = absoluteDeletionVector(add.deletionVector, sourceRoot);
  return out;
}

/** A `u`/`p` deletion vector of the table at `root` as a `p` one with an absolute path ("Deletion Vector Descriptor Schema"). */
function absoluteDeletionVector(dv: DeletionVectorDescriptor, root: string): DeletionVectorDescriptor {
  return { ...dv, storageType: 'p', pathOrInlineDv: absoluteDataPath(root, deletionVectorKey(dv, root)) };
}

/**
 * SHALLOW CLONE (Delta Lake's `CREATE TABLE target SHALLOW CLONE source`): makes `target` a new
 * table whose state equals `source`'s latest snapshot without copying a data file: its log names
 * the source's files by absolute path (PROTOCOL.md, "Add File": `path` may be "an absolute path to
 * a file that should be added to the table"; deletion vectors become `p` descriptors). Schema,
 * partitioning, properties, transaction identifiers and metadata domains (ingot's interval states)
 * are copied; the table id is new.
 *
 * The clone keeps the source's version numbers: a source at version V gives a clone whose log
 * starts at V, with a checkpoint at V ("Checkpoints": a reader starts from the newest checkpoint,
 * so versions before it need no commit files, as after log cleanup) and the CLONE commit V
 * (operationParameters `source`, `sourceVersion`, `isShallow`). So versions recorded against the
 * source (an interval state's upstream versions) stay valid in the clone, and the source having
 * moved past V is what tells that it changed since. A source at version 0 gives a plain commit 0.
 * Writing the target later never touches the source's files; vacuuming the target never deletes
 * them (they lie outside its root).
 *
 * `parquet` writes the checkpoint. Errors: TABLE_EXISTS when `target` has a log;
 * TABLE_NOT_FOUND for a missing source; COMMIT_CONFLICT when another clone took version V;
 * PROTOCOL_UNSUPPORTED for tables on object stores.
 */
export async function shallowClone(source: DeltaTable, target: DeltaTable, parquet: ParquetFiles | undefined): Promise<CloneResult> {
  if (await target.exists()) throw new IngotError('TABLE_EXISTS', `${target.location}: a table exists already; a clone needs an empty location`, { table: target.location });
  const snapshot = await source.snapshot();
  const files = new Map<string, Add>();
  let bytes = 0;
  for (const add of snapshot.files.values()) {
    const ref = referenceOf(add, source.location);
    files.set(ref.path, ref);
    bytes += add.size;
  }
  const metadata = { ...snapshot.metadata, id: randomUUID(), createdTime: Date.now() };
  const actions: Action[] = [
    { protocol: snapshot.protocol }, { metaData: metadata },
    ...[...snapshot.txns.values()].map((txn): Action => ({ txn })),
    ...[...snapshot.domains.values()].map((domainMetadata): Action => ({ domainMetadata })),
    ...[...files.values()].map((add): Action => ({ add })),
  ];
  const version = snapshot.version;
  if (version > 0) {
    if (!parquet) throw new IngotError('PROTOCOL_UNSUPPORTED', `${target.location}: cloning version ${version} of ${source.location} needs a Parquet writer for its checkpoint`, { table: target.location });
    await writeCheckpoint(target.store, { version, protocol: snapshot.protocol, metadata, files, txns: snapshot.txns, tombstones: new Map(), domains: snapshot.domains }, parquet);
  }
  await target.commit({
    readVersion: version - 1,
    actions,
    operation: 'CLONE',
    operationParameters: { source: source.location, sourceVersion: version, isShallow: true },
    operationMetrics: { numCopiedFiles: '0', copiedFilesSize: '0', numRemovedFiles: '0', sourceNumOfFiles: String(files.size), sourceTableSize: String(bytes) },
  }).then((v) => {
    if (v !== version) throw new IngotError('COMMIT_CONFLICT', `${target.location}: another writer cloned or wrote the table at version ${version} first`, { table: target.location, version });
  });
  return { version, files: files.size, bytes };
}

/** The version of `source` that `clone` was cloned from: its CLONE commit's `sourceVersion`, undefined when its log does not start with one. */
export async function clonedVersion(clone: DeltaTable): Promise<number | undefined> {
  const first = (await clone.history()).at(-1);
  if (!first || first.operation !== 'CLONE') return undefined;
  const v = first.operationParameters['sourceVersion'];
  return typeof v === 'number' ? v : undefined;
}
