import { IngotError } from '../errors.js';
import { parseInterval } from '../table/checkpoint.js';
import { deletionVectorKey, type DeletionVectorDescriptor } from '../table/deletion-vector.js';
import type { DeltaTable } from '../table/table.js';
import { decodePath } from '../table/write.js';
import { writableSnapshot } from './rewrite.js';

/** Default retention of removed files: 7 days, as in Delta (`delta.deletedFileRetentionDuration`). */
const DEFAULT_RETENTION_MS = 7 * 24 * 3_600_000;

/** Options of `vacuum`. */
export interface VacuumOptions {
  /** Keep files removed less than this many hours ago. Default: the table's `delta.deletedFileRetentionDuration`, else 168. */
  retentionHours?: number;
  /** List what would be deleted without deleting it. */
  dryRun?: boolean;
  /** Allow a retention shorter than the table's (default 7 days): it breaks time travel and concurrent readers of old versions. */
  enforceRetention?: boolean;
  /**
   * Keys (relative to the table root) never deleted: files other tables' logs name, such as an
   * environment's shallow clone of this table (`environmentReferences`).
   */
  keep?: Iterable<string>;
}

/** What vacuum deleted (or would delete, on a dry run). */
export interface VacuumResult {
  /** Paths relative to the table root. */
  files: string[];
  /** Bytes. */
  bytes: number;
  dryRun: boolean;
}

/**
 * The VACUUM operation: deletes files in the table's folder that no version newer than the
 * retention period needs: files not live in the latest snapshot whose removal (or, for files
 * never committed, whose modification) is older than the retention; deletion vector files
 * (`deletion_vector_<uuid>.bin`) the same way, by the logical files naming them. The log (`_delta_log`) and
 * hidden files and folders (names starting with `_` or `.`, except partition folders) are never
 * touched. Errors: RETENTION_TOO_SHORT for a retention under the table's unless
 * `enforceRetention: false`, PROTOCOL_UNSUPPORTED (tables with writer features ingot lacks, whose
 * extra files it cannot recognize).
 */
export async function vacuum(table: DeltaTable, options: VacuumOptions = {}): Promise<VacuumResult> {
  const snapshot = await writableSnapshot(table);
  const configured = parseInterval(snapshot.metadata.configuration?.['delta.deletedFileRetentionDuration']) ?? DEFAULT_RETENTION_MS;
  const retention = options.retentionHours === undefined ? configured : options.retentionHours * 3_600_000;
  if (retention < configured && options.enforceRetention !== false) {
    throw new IngotError('RETENTION_TOO_SHORT', `${table.location}: a retention of ${options.retentionHours} hours is shorter than the table's ${configured / 3_600_000} hours; readers of older versions could lose files. Pass enforceRetention: false (--force) to do it anyway`, { table: table.location });
  }
  const cutoff = Date.now() - retention;
  const keep = new Set<string>(options.keep ?? []);
  const root = table.store.root;
  // a deletion vector file is needed as long as a logical file naming it is (relative `u` and in-table `p` DVs)
  const dvKey = (dv: DeletionVectorDescriptor | null | undefined): string[] => {
    if (dv?.storageType === 'u') return [deletionVectorKey(dv, root)];
    if (dv?.storageType !== 'p') return [];
    try {
      return [deletionVectorKey(dv, root)];
    } catch {
      return []; // a DV outside the table (a shallow clone's source): never under this table's root, so vacuum cannot touch it
    }
  };
  for (const add of snapshot.files.values()) {
    keep.add(decodePath(add.path, root));
    for (const k of dvKey(add.deletionVector)) keep.add(k);
  }
  for (const rm of snapshot.tombstones.values()) {
    if ((rm.deletionTimestamp ?? 0) <= cutoff) continue;
    keep.add(decodePath(rm.path, root));
    for (const k of dvKey(rm.deletionVector)) keep.add(k);
  }
  const doomed = (await table.store.list('', { recursive: true }))
    .filter((o) => !hidden(o.key) && !keep.has(o.key) && o.modified < cutoff)
    .sort((a, b) => a.key.localeCompare(b.key));
  if (!options.dryRun) {
    for (let i = 0; i < doomed.length; i += 64) await Promise.all(doomed.slice(i, i + 64).map((o) => table.store.delete(o.key)));
  }
  return { files: doomed.map((o) => o.key), bytes: doomed.reduce((n, o) => n + o.size, 0), dryRun: options.dryRun === true };
}

/** Whether a key lies in the log or a hidden file or folder (Delta readers ignore `_`/`.` names; `col=v` partition folders are data). */
function hidden(key: string): boolean {
  return key.split('/').some((part) => (part.startsWith('_') || part.startsWith('.')) && !part.includes('='));
}
