import { posix } from 'node:path';
import { IngotError } from '../errors.js';
import type { ObjectStore } from '../storage/store.js';
import type { Action, Add, CommitInfo } from './actions.js';
import { partitionMatches, type Filter } from './filter.js';
import { expireLog, listLog, readCommit, writeCommit } from './log.js';
import { Snapshot } from './snapshot.js';
import { parseInterval, writeCheckpoint, type ParquetFiles } from './checkpoint.js';
import { VERSION } from '../version.js';

/**
 * A commit ready to be written: the actions of one operation plus what conflict detection needs
 * to know about it (PROTOCOL.md, "Optimistic Concurrency"; the rules follow Delta's
 * ConflictChecker in spirit: metadata changes, concurrent deletes and overlapping writes conflict).
 */
export interface PreparedCommit {
  /** The snapshot version the operation read; -1 when it creates the table. */
  readVersion: number;
  /** protocol/metaData/add/remove/txn actions; commitInfo is added at commit time. */
  actions: Action[];
  /** commitInfo.operation, e.g. `WRITE`, `CREATE TABLE`. */
  operation: string;
  operationParameters: Record<string, unknown>;
  operationMetrics?: Record<string, unknown>;
  /**
   * The rows this operation depended on: a concurrent commit adding files that match conflicts.
   * `undefined` for a blind append; `[]` means the whole table.
   */
  readPredicate?: Filter[];
  /**
   * Per metadata domain, how to rebase this commit's configuration onto a concurrent commit's
   * (see `DomainWrite.rebase`): a domain listed here conflicts only when its rule says so.
   */
  rebaseDomain?: Record<string, (theirs: string) => string | undefined>;
}

/** What one commit changed, for `dataChanges`: its data-changing files' partition values ('unknown' when a remove lacks them), whether it changed the metadata. */
interface CommitChange {
  operation: string;
  runId?: string;
  files?: { partitionValues: Record<string, string | null> }[] | 'unknown';
  metadata: boolean;
}

/** One entry of `history()`: a version and its commitInfo, or a gap in the log. */
export interface HistoryEntry {
  version: number;
  /**
   * Set on an entry that stands for commits absent from the log between two present ones
   * (versions `from` to `to`, both included; `version` is `to`, `operation` `MISSING`, timestamp
   * 0): versions from `from` on cannot be reconstructed from the commits before it.
   */
  missing?: { from: number; to: number };
  timestamp: number;
  operation: string;
  operationParameters: Record<string, unknown>;
  operationMetrics: Record<string, unknown>;
  engineInfo?: string;
  userMetadata?: string;
}

/**
 * Versions a commit may lose before giving up. Every loss means another writer committed, so the
 * loop always ends; the bound only stops a writer that falls behind a stream of others forever
 * (8 processes on 2 loaded cores have made one lose over 100 in a row).
 */
const MAX_COMMIT_ATTEMPTS = 1000;
/** Commits between checkpoints unless `delta.checkpointInterval` says otherwise. */
const DEFAULT_CHECKPOINT_INTERVAL = 10;
/** How long log files are kept unless `delta.logRetentionDuration` says otherwise: 30 days, as in Delta. */
const DEFAULT_LOG_RETENTION_MS = 30 * 86_400_000;

/**
 * A Delta table rooted at `store`. Caches its latest snapshot and updates it incrementally by
 * reading only the commits after the cached version.
 */
export class DeltaTable {
  private latest?: Snapshot;

  /**
   * Key prefix (relative to the table root, `/`-separated, no trailing `/`) under which new data
   * files are written: `''` (the root itself) unless `options.dataLocation` puts them elsewhere,
   * then a key that may climb out of the root with `..` (e.g. `../../../../gold/t/_env=dev`):
   * writers name such files by absolute path in the log (`dataFilePath`).
   */
  readonly dataPrefix: string;

  /**
   * @param parquet reads checkpoints; without it, tables whose history needs a checkpoint are refused.
   * @param options.dataLocation the folder new data files are written to, when it is not the table
   *   root (the log's location): an environment's table writes its data inside production's table
   *   folder, so that a promote names them by relative path. A local absolute path; errors:
   *   PROTOCOL_UNSUPPORTED for a table on an object store, or a relative `dataLocation`.
   */
  constructor(readonly store: ObjectStore, private readonly parquet?: ParquetFiles, options: { dataLocation?: string } = {}) {
    this.dataPrefix = dataPrefixOf(store.root, options.dataLocation);
  }

  /** Location of the table root. */
  get location(): string {
    return this.store.root;
  }

  /** Whether the table has at least one commit. */
  async exists(): Promise<boolean> {
    const listing = await listLog(this.store);
    return listing.commits.length > 0 || listing.checkpoints.length > 0;
  }

  /**
   * The snapshot at `version` (time travel) or at the latest version.
   * Errors: TABLE_NOT_FOUND, VERSION_NOT_FOUND, PROTOCOL_UNSUPPORTED, LOG_CORRUPT.
   */
  async snapshot(version?: number): Promise<Snapshot> {
    if (version !== undefined) {
      return Snapshot.load(this.store, { version, base: this.latest && this.latest.version <= version ? this.latest : undefined, parquet: this.parquet });
    }
    this.latest = await Snapshot.load(this.store, { base: this.latest, parquet: this.parquet });
    return this.latest;
  }

  /** The snapshot at the latest version, or undefined if the table does not exist yet. */
  async trySnapshot(): Promise<Snapshot | undefined> {
    try {
      return await this.snapshot();
    } catch (err) {
      if (err instanceof IngotError && err.code === 'TABLE_NOT_FOUND') return undefined;
      throw err;
    }
  }

  /**
   * The latest version whose commit timestamp is at or before `timestamp` (ms since epoch).
   * Errors: VERSION_NOT_FOUND when the table is younger than `timestamp`.
   */
  async versionAt(timestamp: number): Promise<number> {
    const entries = await this.history();
    const hit = entries.filter((e) => !e.missing && e.timestamp <= timestamp).sort((a, b) => b.version - a.version)[0];
    if (!hit) throw new IngotError('VERSION_NOT_FOUND', `${this.location}: no version at or before ${new Date(timestamp).toISOString()}`, { table: this.location });
    return hit.version;
  }

  /**
   * commitInfo of every version in the log, newest first, at most `limit` entries. Commits absent
   * between two present ones (a gap: a deleted or never-written commit file) are one entry with
   * `missing` and operation `MISSING`; versions before the oldest commit (expired with
   * `delta.logRetentionDuration`) are not listed. Errors: LOG_CORRUPT for an unreadable commit.
   */
  async history(limit?: number): Promise<HistoryEntry[]> {
    const { commits } = await listLog(this.store);
    const slots: (number | { from: number; to: number })[] = [];
    for (let i = commits.length - 1; i >= 0 && (limit === undefined || slots.length < limit); i--) {
      slots.push(commits[i]!);
      const before = commits[i - 1];
      if (before !== undefined && before < commits[i]! - 1 && (limit === undefined || slots.length < limit)) slots.push({ from: before + 1, to: commits[i]! - 1 });
    }
    return Promise.all(
      slots.map(async (version): Promise<HistoryEntry> => {
        if (typeof version !== 'number') return { version: version.to, missing: version, timestamp: 0, operation: 'MISSING', operationParameters: {}, operationMetrics: {} };
        const info = (await readCommit(this.store, version)).find((a): a is { commitInfo: CommitInfo } => 'commitInfo' in a)?.commitInfo ?? {};
        return {
          version,
          timestamp: info.timestamp ?? 0,
          operation: info.operation ?? 'UNKNOWN',
          operationParameters: info.operationParameters ?? {},
          operationMetrics: info.operationMetrics ?? {},
          engineInfo: info.engineInfo,
          ...(info.userMetadata !== undefined ? { userMetadata: info.userMetadata } : {}),
        };
      }),
    );
  }

  /**
   * The commits after version `after`, up to `upTo` (both table versions), that changed the
   * table's rows: an `add` or `remove` with `dataChange` true ("Add File and Remove File"), so
   * compaction (dataChange false) and metadata-only commits are left out. With `within` (filters
   * on partition columns), only commits changing a file whose partition values match them (a
   * `remove` without partition values, or a commit changing the schema or partitioning, always
   * counts). Each with its operation and the run that made it (commitInfo.operationParameters.runId).
   * A commit file gone from the log (expired) counts as a change. Commits are read once per table object.
   * Errors: LOG_CORRUPT.
   */
  async dataChanges(after: number, upTo: number, within?: Filter[]): Promise<{ version: number; operation: string; runId?: string }[]> {
    const out: { version: number; operation: string; runId?: string }[] = [];
    // the schema and partition columns to match against: any snapshot will do, since a commit changing them always counts
    const scope = within?.length ? (this.latest ?? await this.snapshot()) : undefined;
    for (let v = Math.max(0, after + 1); v <= upTo; v++) {
      const c = await this.commitChange(v);
      if (!c.files && !c.metadata) continue;
      if (scope && !c.metadata && c.files !== 'unknown' && !c.files!.some((f) => partitionMatches(scope.schema, scope.partitionColumns, f, within!))) continue;
      out.push({ version: v, operation: c.operation, ...(c.runId ? { runId: c.runId } : {}) });
    }
    return out;
  }

  /**
   * The rows commits `after + 1` to `upTo` appended, for an incremental reader: the `add` actions
   * with `dataChange` (a compaction's rewrites, `dataChange: false`, are not new rows), and the
   * versions that removed rows with `dataChange` (updates, deletes, overwrites: `rewrites`, whose
   * changes only a change data feed gives). Protocol: "Add File and Remove File" (`dataChange`).
   * Errors: LOG_CORRUPT; TABLE_NOT_FOUND when a commit is no longer in the log (log cleanup).
   */
  async addedSince(after: number, upTo: number): Promise<{ adds: Add[]; rewrites: number[] }> {
    const adds: Add[] = [];
    const rewrites: number[] = [];
    for (let v = Math.max(0, after + 1); v <= upTo; v++) {
      let actions: Action[];
      try {
        actions = await readCommit(this.store, v);
      } catch (err) {
        if (err instanceof IngotError) throw err;
        throw new IngotError('TABLE_NOT_FOUND', `${this.location}: commit ${v} is no longer in the log: its appended rows cannot be read incrementally (run a full refresh)`, { table: this.location, version: v }, { cause: err });
      }
      for (const a of actions) {
        if ('add' in a && a.add.dataChange !== false) adds.push(a.add);
        else if ('remove' in a && a.remove.dataChange !== false && !rewrites.includes(v)) rewrites.push(v);
      }
    }
    return { adds, rewrites };
  }

  private readonly changes = new Map<number, CommitChange>();

  /** What commit `version` changed (cached): the partition values of its data-changing files. */
  private async commitChange(version: number): Promise<CommitChange> {
    let c = this.changes.get(version);
    if (c) return c;
    let actions: Action[];
    try {
      actions = await readCommit(this.store, version);
    } catch (err) {
      if (err instanceof IngotError && err.code === 'LOG_CORRUPT') throw err;
      c = { operation: 'UNKNOWN (commit no longer in the log)', files: 'unknown', metadata: true };
      this.changes.set(version, c);
      return c;
    }
    const info = actions.find((a): a is { commitInfo: CommitInfo } => 'commitInfo' in a)?.commitInfo;
    const runId = info?.operationParameters?.['runId'];
    const files: { partitionValues: Record<string, string | null> }[] = [];
    let unknown = false;
    for (const a of actions) {
      if ('add' in a && a.add.dataChange !== false) files.push(a.add);
      else if ('remove' in a && a.remove.dataChange !== false) {
        if (a.remove.partitionValues) files.push({ partitionValues: a.remove.partitionValues });
        else unknown = true;
      }
    }
    c = {
      operation: info?.operation ?? 'UNKNOWN', ...(typeof runId === 'string' ? { runId } : {}),
      files: unknown ? 'unknown' : files.length > 0 ? files : undefined, metadata: actions.some((a) => 'metaData' in a),
    };
    this.changes.set(version, c);
    return c;
  }

  /**
   * Writes a checkpoint at `version` when it is a multiple of `delta.checkpointInterval`
   * (default 10), then deletes log files older than `delta.logRetentionDuration` (default 30
   * days) that the checkpoint makes unnecessary. A failed checkpoint does not undo the commit: it is reported as a warning and
   * readers keep replaying JSON commits.
   */
  private async maybeCheckpoint(version: number): Promise<void> {
    if (!this.parquet || version === 0) return;
    try {
      const snapshot = this.latest?.version === version ? this.latest : await this.snapshot(version);
      const interval = Number(snapshot.metadata.configuration?.['delta.checkpointInterval'] ?? DEFAULT_CHECKPOINT_INTERVAL);
      if (!(interval > 0) || version % interval !== 0) return;
      await writeCheckpoint(this.store, snapshot, this.parquet);
      const config = snapshot.metadata.configuration ?? {};
      if (config['delta.enableExpiredLogCleanup'] !== 'false') {
        await expireLog(this.store, parseInterval(config['delta.logRetentionDuration']) ?? DEFAULT_LOG_RETENTION_MS);
      }
    } catch (err) {
      process.emitWarning(`${this.location}: checkpoint at version ${version} failed: ${(err as Error).message}`, { code: 'INGOT_CHECKPOINT' });
    }
  }

  /**
   * Writes `prepared` as the next version with put-if-absent. If another writer took that
   * version first, its commit is checked for conflicts; without one, the commit is retried at
   * the following version. Returns the committed version.
   * A concurrent commit carrying a metadata domain this one carries too is a conflict.
   * Errors: COMMIT_CONFLICT naming the winning version and the reason; TABLE_APPEND_ONLY when
   * the commit removes data (`remove` with dataChange) from a table with `delta.appendOnly`.
   */
  async commit(prepared: PreparedCommit): Promise<number> {
    const removes = new Set(prepared.actions.flatMap((a) => ('remove' in a ? [a.remove.path] : [])));
    const appIds = new Set(prepared.actions.flatMap((a) => ('txn' in a ? [a.txn.appId] : [])));
    const domains = new Set(prepared.actions.flatMap((a) => ('domainMetadata' in a ? [a.domainMetadata.domain] : [])));
    const blind = prepared.readPredicate === undefined && removes.size === 0;
    let version = prepared.readVersion + 1;
    let base = this.latest && this.latest.version === prepared.readVersion ? this.latest : undefined;
    if (prepared.actions.some((a) => 'remove' in a && a.remove.dataChange)) {
      const read = base ?? (await this.snapshot(prepared.readVersion));
      if (read.metadata.configuration?.['delta.appendOnly'] === 'true') {
        throw new IngotError('TABLE_APPEND_ONLY', `${this.location}: the table is append-only (delta.appendOnly = true); ${prepared.operation} would remove rows`, { table: this.location });
      }
    }
    for (let attempt = 0; attempt < MAX_COMMIT_ATTEMPTS; attempt++) {
      const info: CommitInfo = {
        timestamp: Date.now(),
        operation: prepared.operation,
        operationParameters: prepared.operationParameters,
        ...(prepared.operationMetrics ? { operationMetrics: prepared.operationMetrics } : {}),
        readVersion: prepared.readVersion >= 0 ? prepared.readVersion : undefined,
        isBlindAppend: blind,
        engineInfo: `ingot/${VERSION}`,
      };
      const actions: Action[] = [{ commitInfo: info }, ...prepared.actions];
      if (await writeCommit(this.store, version, actions)) {
        if (base) this.latest = base.apply(actions, version, info.timestamp);
        await this.maybeCheckpoint(version);
        return version;
      }
      const winner = await readCommit(this.store, version);
      const reason = conflictReason(winner, prepared, removes, appIds, domains, base) ?? rebaseDomains(winner, prepared);
      if (reason) {
        throw new IngotError('COMMIT_CONFLICT', `${this.location}: concurrent commit ${version} conflicts with this ${prepared.operation}: ${reason}`, { table: this.location, version });
      }
      base = base?.apply(winner, version);
      version++;
    }
    throw new IngotError('COMMIT_CONFLICT', `${this.location}: gave up after ${MAX_COMMIT_ATTEMPTS} concurrent commits`, { table: this.location });
  }
}

/** The key prefix of `dataLocation` relative to local table root `root` ('' for none or the root itself). Errors: PROTOCOL_UNSUPPORTED. */
function dataPrefixOf(root: string, dataLocation: string | undefined): string {
  if (dataLocation === undefined) return '';
  if (!root.startsWith('/') || !dataLocation.startsWith('/')) {
    throw new IngotError('PROTOCOL_UNSUPPORTED', `${root}: writing data files outside the table root (to ${dataLocation}) is supported for tables on a local file system only`, { table: root });
  }
  return posix.relative(posix.normalize(root), posix.normalize(dataLocation));
}

/**
 * Rebases `prepared`'s domain actions onto the winner's changes of the same domains (in place),
 * by the domains' `rebaseDomain` rules. Returns the conflict when a rule refuses, or when the
 * winner removed the domain.
 */
function rebaseDomains(winner: Action[], prepared: PreparedCommit): string | undefined {
  for (const a of winner) {
    if (!('domainMetadata' in a)) continue;
    const rule = prepared.rebaseDomain?.[a.domainMetadata.domain];
    if (!rule) continue;
    const rebased = a.domainMetadata.removed ? undefined : rule(a.domainMetadata.configuration);
    if (rebased === undefined) return `it changed the same entries of metadata domain ${a.domainMetadata.domain}`;
    prepared.actions = prepared.actions.map((b) => ('domainMetadata' in b && b.domainMetadata.domain === a.domainMetadata.domain ? { domainMetadata: { ...b.domainMetadata, configuration: rebased } } : b));
  }
  return undefined;
}

function conflictReason(winner: Action[], prepared: PreparedCommit, removes: Set<string>, appIds: Set<string>, domains: Set<string>, base: Snapshot | undefined): string | undefined {
  if (prepared.readVersion < 0) return 'the table was created by another writer';
  for (const a of winner) {
    if ('metaData' in a) return 'it changed the table metadata';
    if ('protocol' in a) return 'it changed the protocol';
    if ('txn' in a && appIds.has(a.txn.appId)) return `it committed for application ${a.txn.appId} too`;
    // "Domain Metadata": overlapping transactions carrying the same domain conflict
    if ('domainMetadata' in a && domains.has(a.domainMetadata.domain) && !prepared.rebaseDomain?.[a.domainMetadata.domain]) return `it committed metadata domain ${a.domainMetadata.domain} too`;
    if ('remove' in a && removes.has(a.remove.path)) return `it removed ${a.remove.path}, which this commit removes too`;
    // files a concurrent optimize rearranged hold no new rows (dataChange false)
    if ('add' in a && a.add.dataChange !== false && prepared.readPredicate) {
      if (prepared.readPredicate.length === 0) return 'it added files this overwrite would have replaced';
      if (!base || partitionMatches(base.schema, base.partitionColumns, a.add, prepared.readPredicate)) {
        return `it added ${a.add.path} in the partitions this commit replaces`;
      }
    }
  }
  return undefined;
}
