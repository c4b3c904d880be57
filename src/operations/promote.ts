import { IngotError } from '../errors.js';
import type { Action, Add, DomainMetadata, Protocol } from '../table/actions.js';
import { deletionVectorKey, relativeDeletionVector } from '../table/deletion-vector.js';
import type { DeltaTable } from '../table/table.js';
import { absoluteDataPath, assertWritable, decodePath, encodePath, tombstone } from '../table/write.js';
import { clonedVersion } from './clone.js';
import { metricStrings, type OperationResult } from './rewrite.js';

/** Options of `promote`. */
export interface PromoteOptions {
  /** Promote even when `target` moved since `source` was cloned from it. */
  force?: boolean;
  /** Recorded in commitInfo.operationParameters (`environment`). */
  environment?: string;
  /** Rewrites an application metadata domain of `source` before it goes to `target` (e.g. versions of other promoted tables recorded in it). */
  rewriteDomain?: (domain: DomainMetadata) => DomainMetadata;
}

/**
 * PROMOTE: one new commit of `target` (a production table) after which its state equals
 * `source`'s (an environment's table, a shallow clone of `target` or a table of its own): files
 * live in `source` and not in `target` are added, by path relative to `target`'s root when they
 * lie under it (an environment writes its files there), by absolute path otherwise (PROTOCOL.md,
 * "Add File"), files live in `target` and not in `source` are
 * removed (both `dataChange: true`), no data file is copied or written. Files are matched by
 * their absolute location (and deletion vector), so the files the clone shares with `target`
 * stay as they are. Schema, partitioning and properties become `source`'s (the table id stays
 * `target`'s), application metadata domains (ingot's interval states) and transaction identifiers
 * become `source`'s; the protocol only ever goes up. A missing `target` is created.
 *
 * `target` "moved" when its latest version is not the one `source` was cloned from (or it exists
 * while `source` was not cloned from it): then PRODUCTION_MOVED, naming both versions, unless
 * `options.force`. Metrics: numAddedFiles, numRemovedFiles, addedFilesSize, removedFilesSize.
 * Errors: PRODUCTION_MOVED, TABLE_NOT_FOUND (no `source`), COMMIT_CONFLICT (a commit of
 * `target` during the promote), PROTOCOL_UNSUPPORTED (tables on object stores).
 */
export async function promote(source: DeltaTable, target: DeltaTable, options: PromoteOptions = {}): Promise<OperationResult & { baseVersion?: number }> {
  const env = await source.snapshot();
  assertWritable(env, source.location);
  const prod = await target.trySnapshot();
  const base = await clonedVersion(source);
  if (!options.force && (prod?.version ?? undefined) !== base) {
    const was = base === undefined ? 'did not exist' : `was at version ${base}`;
    throw new IngotError('PRODUCTION_MOVED', `${target.location}: production moved since the environment's table was made (it ${was} then, it is ${prod ? `at version ${prod.version}` : 'gone'} now); promoting would undo those commits. Run the environment again from production (env drop, then run), or pass --force`, { table: target.location, ...(prod ? { version: prod.version } : {}) });
  }
  const live = new Map<string, Add>();
  for (const add of prod?.files.values() ?? []) live.set(identity(add, target.location), add);
  const wanted = new Map<string, Add>();
  for (const add of env.files.values()) wanted.set(identity(add, source.location), add);
  const now = Date.now();
  const actions: Action[] = [];
  let added = 0;
  let addedSize = 0;
  let removedSize = 0;
  for (const [id, add] of wanted) {
    if (live.has(id)) continue;
    actions.push({ add: relocate(add, source.location, target.location) });
    added++;
    addedSize += add.size;
  }
  for (const [id, add] of live) {
    if (wanted.has(id)) continue;
    actions.push({ remove: tombstone(add, now) });
    removedSize += add.size;
  }
  const removed = actions.length - added;
  const head: Action[] = [];
  const protocol = prod ? higher(prod.protocol, env.protocol) : env.protocol;
  if (!prod || JSON.stringify(protocol) !== JSON.stringify(prod.protocol)) head.push({ protocol });
  const metadata = prod ? { ...env.metadata, id: prod.metadata.id, createdTime: prod.metadata.createdTime } : env.metadata;
  if (!prod || JSON.stringify(metadata) !== JSON.stringify(prod.metadata)) head.push({ metaData: metadata });
  for (const [name, original] of env.domains) {
    const d = options.rewriteDomain && !name.startsWith('delta.') ? options.rewriteDomain(original) : original;
    if (!name.startsWith('delta.') && JSON.stringify(prod?.domains.get(name)) !== JSON.stringify(d)) actions.push({ domainMetadata: d });
  }
  for (const [name, d] of prod?.domains ?? []) {
    if (!name.startsWith('delta.') && !env.domains.has(name)) actions.push({ domainMetadata: { ...d, removed: true } });
  }
  for (const [appId, txn] of env.txns) {
    if (JSON.stringify(prod?.txns.get(appId)) !== JSON.stringify(txn)) actions.push({ txn });
  }
  const metrics = { numAddedFiles: added, numRemovedFiles: removed, addedFilesSize: addedSize, removedFilesSize: removedSize };
  if (prod && head.length === 0 && actions.length === 0) return { version: prod.version, committed: false, metrics, ...(base !== undefined ? { baseVersion: base } : {}) };
  const version = await target.commit({
    readVersion: prod?.version ?? -1,
    actions: [...head, ...actions],
    operation: 'PROMOTE',
    operationParameters: { source: source.location, sourceVersion: env.version, ...(options.environment ? { environment: options.environment } : {}), force: options.force === true },
    operationMetrics: metricStrings(metrics),
    readPredicate: [],
  });
  return { version, committed: true, metrics, ...(base !== undefined ? { baseVersion: base } : {}) };
}

/** A logical file's identity across tables: its data file's absolute location and its deletion vector's. */
function identity(add: Add, root: string): string {
  const file = absoluteDataPath(root, decodePath(add.path, root));
  const dv = add.deletionVector;
  if (!dv) return file;
  const where = dv.storageType === 'i' ? `i${dv.pathOrInlineDv}` : absoluteDataPath(root, deletionVectorKey(dv, root));
  return `${file}@${where}@${dv.offset ?? ''}`;
}

/**
 * `add` of the table at `from` as the log of the table at `to` names it: by relative path when the
 * file lies under `to` (as an environment's files do: `Lake.environmentDataLocation`), else
 * absolute; a deletion vector under `to` as a `u` descriptor (relative), else a `p` one (absolute).
 */
function relocate(add: Add, from: string, to: string): Add {
  const file = absoluteDataPath(from, decodePath(add.path, from));
  const key = decodePath(file, to);
  const out: Add = { ...add, path: key.startsWith('../') ? file : encodePath(key), dataChange: true };
  if (add.deletionVector && add.deletionVector.storageType !== 'i') {
    const dvFile = absoluteDataPath(from, deletionVectorKey(add.deletionVector, from));
    const dvKey = decodePath(dvFile, to);
    out.deletionVector = (!dvKey.startsWith('../') && relativeDeletionVector(add.deletionVector, dvKey)) || { ...add.deletionVector, storageType: 'p', pathOrInlineDv: dvFile };
  }
  return out;
}

/** The protocol that satisfies both `a` and `b`: the higher versions, the union of the features. */
function higher(a: Protocol, b: Protocol): Protocol {
  const out: Protocol = { minReaderVersion: Math.max(a.minReaderVersion, b.minReaderVersion), minWriterVersion: Math.max(a.minWriterVersion, b.minWriterVersion) };
  const readers = [...new Set([...(a.readerFeatures ?? []), ...(b.readerFeatures ?? [])])];
  const writers = [...new Set([...(a.writerFeatures ?? []), ...(b.writerFeatures ?? [])])];
  if (out.minReaderVersion >= 3) out.readerFeatures = readers;
  if (out.minWriterVersion >= 7) out.writerFeatures = writers;
  return out;
}
