import { IngotError } from '../errors.js';
import type { Action, Add } from '../table/actions.js';
import { fileKey } from '../table/snapshot.js';
import type { DeltaTable } from '../table/table.js';
import { decodePath, tombstone } from '../table/write.js';
import { metricStrings, unchanged, writableSnapshot, type OperationResult } from './rewrite.js';

/** Which version `restore` returns to: a version number, or the latest version committed at or before a time (ms since epoch). */
export type RestoreTarget = { version: number } | { timestamp: number };

/**
 * The RESTORE operation: a new version whose live files, schema and properties equal those of an
 * earlier version. Files live then but not now are re-added; files live now but not then are
 * removed (both `dataChange: true`); no data file is written. Application metadata domains
 * (not `delta.*`) return to their state at that version. The protocol is never downgraded.
 * Metrics: numRestoredFiles, numRemovedFiles, restoredFilesSize, removedFilesSize.
 * Errors: VERSION_NOT_FOUND, DATA_FILE_MISSING when a file to re-add was vacuumed (naming it),
 * PROTOCOL_UNSUPPORTED, COMMIT_CONFLICT.
 */
export async function restore(table: DeltaTable, target: RestoreTarget): Promise<OperationResult> {
  const current = await writableSnapshot(table);
  const version = 'version' in target ? target.version : await table.versionAt(target.timestamp);
  if (version > current.version) throw new IngotError('VERSION_NOT_FOUND', `${table.location}: cannot restore to version ${version}, the latest is ${current.version}`, { table: table.location, version });
  const old = await table.snapshot(version);
  const now = Date.now();
  const actions: Action[] = [];
  let restoredSize = 0;
  let removedSize = 0;
  // logical files (path and deletion vector): a file whose DV changed since is removed and re-added with its old DV
  const same = (x: Add | undefined, y: Add): boolean => x !== undefined && fileKey(x) === fileKey(y);
  for (const [key, add] of old.files) {
    if (same(current.files.get(key), add)) continue;
    const file = decodePath(add.path, table.store.root);
    if (!(await table.store.head(file))) {
      throw new IngotError('DATA_FILE_MISSING', `${table.location}: cannot restore to version ${version}: data file ${file} no longer exists (vacuumed?)`, { table: table.location, file, version });
    }
    actions.push({ add: { ...add, dataChange: true } });
    restoredSize += add.size;
  }
  const restored = actions.length;
  for (const [key, add] of current.files) {
    if (same(old.files.get(key), add)) continue;
    actions.push({ remove: tombstone(add, now) });
    removedSize += add.size;
  }
  if (JSON.stringify(old.metadata) !== JSON.stringify(current.metadata)) actions.unshift({ metaData: old.metadata });
  // application domains describe the rows (e.g. the files a source loaded): they go back with them
  for (const [name, d] of old.domains) {
    if (!name.startsWith('delta.') && JSON.stringify(current.domains.get(name)) !== JSON.stringify(d)) actions.push({ domainMetadata: d });
  }
  for (const [name, d] of current.domains) {
    if (!name.startsWith('delta.') && !old.domains.has(name)) actions.push({ domainMetadata: { ...d, removed: true } });
  }
  const metrics = { numRestoredFiles: restored, numRemovedFiles: actions.filter((a) => 'remove' in a).length, restoredFilesSize: restoredSize, removedFilesSize: removedSize };
  if (actions.length === 0) return unchanged(current, metrics);
  const committed = await table.commit({
    readVersion: current.version,
    actions,
    operation: 'RESTORE',
    operationParameters: 'version' in target ? { version } : { timestamp: new Date(target.timestamp).toISOString() },
    operationMetrics: metricStrings(metrics),
    readPredicate: [],
  });
  return { version: committed, committed: true, metrics };
}
