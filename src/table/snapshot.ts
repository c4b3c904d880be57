import { IngotError } from '../errors.js';
import type { ObjectStore } from '../storage/store.js';
import type { Action, Add, CommitInfo, DomainMetadata, FileStats, Metadata, Protocol, Remove, Txn } from './actions.js';
import { partitionMatches, statsMayMatch, type Filter } from './filter.js';
import { readCheckpoint, type ParquetFiles } from './checkpoint.js';
import { deletionVectorId } from './deletion-vector.js';
import { listLogFromLastCheckpoint, readCommit, readCommitsAfter } from './log.js';
import { parseSchema, physicalName, type StructType } from './schema.js';

/** Reader protocol this implementation supports (PROTOCOL.md, "Protocol Evolution"). */
export const READER_VERSION = 1;
/** Writer protocol this implementation supports. */
export const WRITER_VERSION = 2;

/**
 * The state of a table at one version: the result of replaying its log ("Action Reconciliation").
 * Immutable; `apply` returns a new snapshot.
 */
export class Snapshot {
  private constructor(
    /** The version this snapshot is at; -1 for a table whose first commit is still pending. */
    readonly version: number,
    readonly protocol: Protocol,
    readonly metadata: Metadata,
    /** Live logical files by path (a data file is live with at most one deletion vector). */
    readonly files: ReadonlyMap<string, Add>,
    /** Latest transaction version per application id. */
    readonly txns: ReadonlyMap<string, Txn>,
    /** Removed logical files (tombstones) by `fileKey`, kept for checkpoints and vacuum. */
    readonly tombstones: ReadonlyMap<string, Remove>,
    /** commitInfo.timestamp of the commit at `version`, ms since epoch (file mtime if absent). */
    readonly timestamp: number,
    /**
     * Live metadata domains by name ("Domain Metadata", "Action Reconciliation"): the latest
     * `domainMetadata` action per domain, removed domains (tombstones) left out.
     */
    readonly domains: ReadonlyMap<string, DomainMetadata>,
  ) {}

  /** The table schema. */
  get schema(): StructType {
    return parseSchema(this.metadata.schemaString);
  }

  get partitionColumns(): string[] {
    return this.metadata.partitionColumns;
  }

  /** Rows in live files (`numRecords` less the rows deletion vectors delete); undefined if any file lacks stats. */
  get numRecords(): number | undefined {
    let n = 0;
    for (const f of this.files.values()) {
      const s = parseStats(f);
      if (!s) return undefined;
      n += s.numRecords - (f.deletionVector?.cardinality ?? 0);
    }
    return n;
  }

  /**
   * Live files that may hold rows matching `filters` (AND): pruned by partition values, then by
   * min/max stats. With no filters, every live file.
   */
  scan(filters: Filter[] = []): Add[] {
    const out: Add[] = [];
    let schema = this.schema;
    let partitionColumns = this.partitionColumns;
    if (this.columnMapping && filters.length > 0) {
      // partition values and stats are keyed by physical names under column mapping
      const physical = new Map(schema.fields.map((f) => [f.name, physicalName(f, true)]));
      const rename = (n: string): string => physical.get(n) ?? n;
      filters = filters.map((f) => ({ ...f, column: rename(f.column) }));
      partitionColumns = partitionColumns.map(rename);
      schema = { type: 'struct', fields: schema.fields.map((f) => ({ ...f, name: rename(f.name) })) };
    }
    for (const f of this.files.values()) {
      if (!partitionMatches(schema, partitionColumns, f, filters)) continue;
      if (!statsMayMatch(schema, partitionColumns, parseStats(f), filters)) continue;
      out.push(f);
    }
    return out;
  }

  /** Whether column mapping (`delta.columnMapping.mode` name or id) is on: files use physical names. */
  get columnMapping(): boolean {
    const mode = this.metadata.configuration?.['delta.columnMapping.mode'];
    return mode !== undefined && mode !== 'none';
  }

  /** The snapshot after applying one more commit's actions at `version`. */
  apply(actions: Action[], version: number, timestamp?: number): Snapshot {
    return Snapshot.replay([{ version, actions, timestamp }], this);
  }

  /**
   * Replays commits in order on top of `base` (or from nothing). Throws if no protocol/metaData results.
   * A logical file is identified by (path, deletion vector `uniqueId`) ("Add File and Remove File"):
   * an add replaces the live file at its path (a valid commit removes the old (path, DV) with it),
   * and a remove takes a file out only if its deletion vector matches, so a commit's order of
   * remove(path, dv1) and add(path, dv2) does not matter.
   */
  static replay(commits: { version: number; actions: Action[]; timestamp?: number }[], base?: Snapshot, location = ''): Snapshot {
    let protocol = base?.protocol;
    let metadata = base?.metadata;
    const files = new Map(base?.files ?? []);
    const txns = new Map(base?.txns ?? []);
    const tombstones = new Map(base?.tombstones ?? []);
    const domains = new Map(base?.domains ?? []);
    let version = base?.version ?? -1;
    let timestamp = base?.timestamp ?? 0;
    for (const c of commits) {
      let info: CommitInfo | undefined;
      for (const a of c.actions) {
        if ('add' in a) {
          files.set(a.add.path, a.add);
          if (tombstones.size > 0) tombstones.delete(fileKey(a.add));
        } else if ('remove' in a) {
          const live = files.get(a.remove.path);
          if (live && deletionVectorId(live.deletionVector) === deletionVectorId(a.remove.deletionVector)) files.delete(a.remove.path);
          tombstones.set(fileKey(a.remove), a.remove);
        }
        else if ('metaData' in a) metadata = a.metaData;
        else if ('protocol' in a) protocol = a.protocol;
        else if ('txn' in a) txns.set(a.txn.appId, a.txn);
        else if ('domainMetadata' in a) {
          if (a.domainMetadata.removed) domains.delete(a.domainMetadata.domain);
          else domains.set(a.domainMetadata.domain, a.domainMetadata);
        }
        else if ('commitInfo' in a) info = a.commitInfo;
      }
      version = c.version;
      timestamp = typeof info?.timestamp === 'number' ? info.timestamp : (c.timestamp ?? timestamp);
    }
    if (!protocol || !metadata) {
      throw new IngotError('LOG_CORRUPT', `${location}: the log up to version ${version} has no ${protocol ? 'metaData' : 'protocol'} action`, { table: location, version });
    }
    checkReadable(protocol, metadata, location);
    return new Snapshot(version, protocol, metadata, files, txns, tombstones, timestamp, domains);
  }

  /**
   * Loads the snapshot of the table in `store` at `version` (latest if omitted): from the newest
   * checkpoint at or before it (decoded in process; `parquet` reads a file the decoder cannot),
   * then the JSON commits after it (read in parallel). The log is listed from the checkpoint
   * `_last_checkpoint` names onward when that pointer is valid and not after `version`
   * (`listLogFromLastCheckpoint`), else whole; either way every newer checkpoint and commit is
   * seen and a missing commit is an error. With `base` and no `version`, only the commits after
   * `base.version` are read, until the first that does not exist (no listing).
   * Errors: TABLE_NOT_FOUND, VERSION_NOT_FOUND, PROTOCOL_UNSUPPORTED, LOG_CORRUPT.
   */
  static async load(store: ObjectStore, options: { version?: number; base?: Snapshot; parquet?: ParquetFiles } = {}): Promise<Snapshot> {
    if (options.base && options.version === undefined) {
      // Commits are contiguous: reading the next versions until one is missing is cheaper than listing the log.
      const commits = await readCommitsAfter(store, options.base.version);
      return commits.length === 0 ? options.base : Snapshot.replay(commits, options.base, store.root);
    }
    const listing = await listLogFromLastCheckpoint(store, options.version);
    if (listing.commits.length === 0 && listing.checkpoints.length === 0) {
      throw new IngotError('TABLE_NOT_FOUND', `no Delta table at ${store.root} (no _delta_log commits)`, { table: store.root });
    }
    const latest = Math.max(listing.commits[listing.commits.length - 1] ?? -1, listing.checkpoints[0]?.version ?? -1);
    const target = options.version ?? latest;
    if (target > latest || target < 0) {
      throw new IngotError('VERSION_NOT_FOUND', `${store.root}: version ${target} does not exist (latest is ${latest})`, { table: store.root, version: target });
    }
    let base = options.base && options.base.version <= target ? options.base : undefined;
    if (base && base.version === target) return base;
    // Start from the newest checkpoint at or before the target when it is ahead of what we have.
    const checkpoint = listing.checkpoints.find((c) => c.version <= target);
    // the checkpoint's actions, replayed with the commits after it in one pass (no copy of its files)
    let fromCheckpoint: { version: number; actions: Action[]; timestamp?: number } | undefined;
    if (checkpoint && checkpoint.version > (base?.version ?? -1)) {
      const [actions, head] = await Promise.all([readCheckpoint(store, checkpoint, options.parquet), store.head(checkpoint.files[0]!)]);
      fromCheckpoint = { version: checkpoint.version, actions, timestamp: head?.modified };
      base = undefined;
      if (checkpoint.version === target) return Snapshot.replay([fromCheckpoint], undefined, store.root);
    }
    const from = fromCheckpoint ? fromCheckpoint.version + 1 : base ? base.version + 1 : 0;
    const needed = listing.commits.filter((v) => v >= from && v <= target);
    if (needed[0] !== from || needed.length !== target - from + 1) {
      // the first version absent from `from` on (the listing is sorted, each version once)
      const gapAt = needed.findIndex((v, i) => v !== from + i);
      const missing = from + (gapAt < 0 ? needed.length : gapAt);
      if (!checkpoint && from === 0 && (listing.commits[0] ?? 0) > 0 && listing.checkpoints.length > 0) {
        const earliest = listing.checkpoints[listing.checkpoints.length - 1]!.version;
        throw new IngotError('VERSION_NOT_FOUND', `${store.root}: version ${target} has expired from the log (delta.logRetentionDuration); the oldest version is ${earliest}`, { table: store.root, version: target });
      }
      throw new IngotError('LOG_CORRUPT', `${store.root}: commit ${missing} is missing from the log, so version ${target} cannot be reconstructed`, { table: store.root, version: target });
    }
    const commits = await Promise.all(needed.map(async (v) => ({ version: v, actions: await readCommit(store, v) })));
    return Snapshot.replay(fromCheckpoint ? [fromCheckpoint, ...commits] : commits, base, store.root);
  }
}

/** A logical file's identity ("Add File and Remove File"): its path, plus `@` and the DV's `uniqueId` when it has one. */
export function fileKey(file: Pick<Add, 'path' | 'deletionVector'>): string {
  const dv = deletionVectorId(file.deletionVector);
  return dv === undefined ? file.path : `${file.path}@${dv}`;
}

/** Parses an add action's JSON stats; undefined when absent or unreadable. */
export function parseStats(add: Pick<Add, 'stats'>): FileStats | undefined {
  if (!add.stats) return undefined;
  try {
    return JSON.parse(add.stats) as FileStats;
  } catch {
    return undefined;
  }
}

/**
 * Reader table features ingot reads correctly ("Table Features"): V2 checkpoints are read,
 * timestamp_ntz maps to a timestamp without time zone, column mapping (name and id modes) reads
 * files by physical names, deletion vectors hide their rows from scans (`readDeletionVectors`),
 * and vacuumProtocolCheck only binds vacuum.
 */
export const SUPPORTED_READER_FEATURES = new Set(['v2Checkpoint', 'timestampNtz', 'vacuumProtocolCheck', 'columnMapping', 'deletionVectors']);

function checkReadable(protocol: Protocol, metadata: Metadata, location: string): void {
  if (typeof metadata.schemaString !== 'string') {
    throw new IngotError('LOG_CORRUPT', `${location}: the metaData action has no schemaString`, { table: location });
  }
  const mode = metadata.configuration?.['delta.columnMapping.mode'];
  if (mode !== undefined && !['none', 'name', 'id'].includes(mode)) {
    throw new IngotError('PROTOCOL_UNSUPPORTED', `${location}: unknown column mapping mode ${mode}`, { table: location });
  }
  let missing: string[] = [];
  if (protocol.minReaderVersion === 3) {
    missing = (protocol.readerFeatures ?? []).filter((f) => !SUPPORTED_READER_FEATURES.has(f));
  } else if (protocol.minReaderVersion > 3) {
    missing = [`reader version ${protocol.minReaderVersion}`];
  }
  if (missing.length > 0) {
    throw new IngotError('PROTOCOL_UNSUPPORTED', `${location}: table needs reader features ingot does not support yet: ${missing.join(', ')}`, { table: location });
  }
}
