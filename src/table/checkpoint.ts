import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { IngotError } from '../errors.js';
import type { ObjectStore } from '../storage/store.js';
import type { Action, Add, DomainMetadata, Metadata, Protocol, Remove, Txn } from './actions.js';
import { decodeCheckpointParquet, SKIPPED_FIELDS } from './checkpoint-decoder.js';
import type { DataType, StructType } from './schema.js';


/**
 * Reading checkpoints (PROTOCOL.md, "Checkpoints"): classic (`%020d.checkpoint.parquet`),
 * multi-part (`%020d.checkpoint.%010d.%010d.parquet`) and V2 (`%020d.checkpoint.<uuid>.json|parquet`
 * with sidecar files in `_delta_log/_sidecars/`), found by listing the log: from the version
 * `_last_checkpoint` names onward when that checkpoint exists as it describes, else whole, so a
 * stale, wrong or missing `_last_checkpoint` cannot mislead a reader (`listLogFromLastCheckpoint`).
 */

/**
 * Parquet access for the log's own files (checkpoints). The table layer stays engine-free: an
 * engine supplies this.
 */
export interface ParquetFiles {
  /** Rows of a Parquet file as JSON-shaped objects: structs and maps as objects, lists as arrays. */
  readRows(file: string): Promise<Record<string, unknown>[]>;
  /**
   * Optional, faster than `readRows` (used for a file the in-process decoder cannot read): the rows of a checkpoint file as actions, each row's one non-null column of
   * `columns` (`{ add: {...} }`), reading only those columns (rows with none left out, columns
   * the file lacks skipped).
   */
  readActions?(file: string, columns: readonly string[]): Promise<Record<string, unknown>[]>;
  /** Writes JSON-shaped rows as a Parquet file with exactly `schema` (Delta types). */
  writeRows(file: string, schema: StructType, rows: Record<string, unknown>[]): Promise<void>;
}

/** One complete checkpoint in the log. */
export interface CheckpointRef {
  version: number;
  /** Keys of its files relative to the store root (several for multi-part). */
  files: string[];
  kind: 'classic' | 'multi-part' | 'v2';
}

/** The log folder (as in log.ts; repeated here to keep the import graph acyclic). */
const LOG_DIR = '_delta_log';

const CLASSIC = /^(\d{20})\.checkpoint\.parquet$/;
const MULTI = /^(\d{20})\.checkpoint\.(\d{10})\.(\d{10})\.parquet$/;
const V2 = /^(\d{20})\.checkpoint\.[0-9a-fA-F-]{36}\.(json|parquet)$/;

/** Complete checkpoints among the names of `_delta_log`, newest first (incomplete multi-part sets skipped). */
export function findCheckpoints(names: string[]): CheckpointRef[] {
  const byVersion = new Map<number, CheckpointRef[]>();
  const multi = new Map<string, { version: number; total: number; parts: Map<number, string> }>();
  const push = (ref: CheckpointRef): void => {
    byVersion.set(ref.version, [...(byVersion.get(ref.version) ?? []), ref]);
  };
  for (const name of names) {
    let m = CLASSIC.exec(name);
    if (m) { push({ version: Number(m[1]), files: [`${LOG_DIR}/${name}`], kind: 'classic' }); continue; }
    m = V2.exec(name);
    if (m) { push({ version: Number(m[1]), files: [`${LOG_DIR}/${name}`], kind: 'v2' }); continue; }
    m = MULTI.exec(name);
    if (m) {
      const key = `${m[1]}/${m[3]}`;
      const set = multi.get(key) ?? { version: Number(m[1]), total: Number(m[3]), parts: new Map() };
      set.parts.set(Number(m[2]), `${LOG_DIR}/${name}`);
      multi.set(key, set);
    }
  }
  for (const set of multi.values()) {
    if (set.parts.size === set.total) push({ version: set.version, files: [...set.parts.entries()].sort((a, b) => a[0] - b[0]).map(([, f]) => f), kind: 'multi-part' });
  }
  return [...byVersion.entries()].sort((a, b) => b[0] - a[0]).map(([, refs]) => refs.find((r) => r.kind === 'v2') ?? refs[0]!);
}

const ACTION_KEYS = ['protocol', 'metaData', 'add', 'remove', 'txn', 'domainMetadata', 'checkpointMetadata', 'sidecar'] as const;

/**
 * The actions a checkpoint holds (sidecars of a V2 checkpoint included), in file order. Parquet
 * parts are read in this process by a JavaScript Parquet decoder (no engine start, parts and
 * sidecars read in parallel); `reader` (an engine) reads any file the decoder cannot, such as a
 * codec it lacks. Errors: LOG_CORRUPT naming the file.
 */
export async function readCheckpoint(store: ObjectStore, ref: CheckpointRef, reader?: ParquetFiles): Promise<Action[]> {
  const load = async (key: string): Promise<Action[]> => {
    let rows: Record<string, unknown>[];
    try {
      if (key.endsWith('.json')) {
        rows = (await store.get(key)).toString('utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, unknown>);
      } else {
        const read = await readParquetActions(store, key, reader);
        if (read.decoded) return read.rows as Action[]; // one action each already
        rows = read.rows;
      }
    } catch (err) {
      throw new IngotError('LOG_CORRUPT', `${store.locate(key)}: cannot read checkpoint: ${(err as Error).message}`, { file: store.locate(key), version: ref.version }, { cause: err });
    }
    const actions: Action[] = [];
    for (const row of rows) {
      for (const k of ACTION_KEYS) {
        const v = row[k];
        if (v !== null && v !== undefined) actions.push({ [k]: v } as Action);
      }
    }
    return actions;
  };
  const actions = (await Promise.all(ref.files.map(load))).flat();
  if (ref.kind === 'v2') {
    const sidecars = actions.flatMap((a) => ('sidecar' in a ? [(a.sidecar as { path: string }).path] : []));
    for (const part of await Promise.all(sidecars.map((s) => load(s.includes('/') ? s : `${LOG_DIR}/_sidecars/${s}`)))) actions.push(...part);
  }
  return actions;
}

/**
 * The actions of one checkpoint Parquet file (only the action columns read; structs and maps as
 * objects, lists as arrays, 64-bit integers as numbers; Spark's `stats_parsed` and
 * `partitionValues_parsed` left out). Decoded in this process (`decodeCheckpointParquet`:
 * `decoded`, each row one action); a file the decoder cannot read (a codec it lacks) goes to
 * `reader` when one is given (rows that may hold several actions), else the decoder's error is thrown.
 */
async function readParquetActions(store: ObjectStore, key: string, reader?: ParquetFiles): Promise<{ rows: Record<string, unknown>[]; decoded: boolean }> {
  const bytes = await store.get(key);
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  try {
    return { rows: await decodeCheckpointParquet(file, ACTION_KEYS), decoded: true };
  } catch (err) {
    if (!reader) throw err;
    const local = path.join(await store.localCopy([{ key }]), ...key.split('/'));
    const rows = await (reader.readActions ? reader.readActions(local, ACTION_KEYS) : reader.readRows(local));
    for (const row of rows) {
      for (const k of ACTION_KEYS) {
        const v = row[k] as Record<string, unknown> | null | undefined;
        if (v && typeof v === 'object') for (const f of SKIPPED_FIELDS) delete v[f];
      }
    }
    return { rows, decoded: false };
  }
}

const field = (name: string, type: DataType) => ({ name, type, nullable: true, metadata: {} });
const struct = (...fields: ReturnType<typeof field>[]): StructType => ({ type: 'struct', fields });
const stringMap: DataType = { type: 'map', keyType: 'string', valueType: 'string', valueContainsNull: true };
const strings: DataType = { type: 'array', elementType: 'string', containsNull: true };

/** "Deletion Vector Descriptor Schema", as add and remove carry it. */
const deletionVector = field('deletionVector', struct(
  field('storageType', 'string'), field('pathOrInlineDv', 'string'), field('offset', 'integer'), field('sizeInBytes', 'integer'), field('cardinality', 'long'),
));

/** The classic checkpoint schema ("Checkpoint Schema"): one struct column per action kind. */
export const CHECKPOINT_SCHEMA: StructType = struct(
  field('txn', struct(field('appId', 'string'), field('version', 'long'), field('lastUpdated', 'long'))),
  field('add', struct(
    field('path', 'string'), field('partitionValues', stringMap), field('size', 'long'), field('modificationTime', 'long'),
    field('dataChange', 'boolean'), field('tags', stringMap), field('stats', 'string'), deletionVector,
  )),
  field('remove', struct(
    field('path', 'string'), field('deletionTimestamp', 'long'), field('dataChange', 'boolean'), field('extendedFileMetadata', 'boolean'),
    field('partitionValues', stringMap), field('size', 'long'), field('tags', stringMap), deletionVector,
  )),
  field('metaData', struct(
    field('id', 'string'), field('name', 'string'), field('description', 'string'),
    field('format', struct(field('provider', 'string'), field('options', stringMap))),
    field('schemaString', 'string'), field('partitionColumns', strings), field('configuration', stringMap), field('createdTime', 'long'),
  )),
  field('protocol', struct(field('minReaderVersion', 'integer'), field('minWriterVersion', 'integer'), field('readerFeatures', strings), field('writerFeatures', strings))),
);

/** The `domainMetadata` column ("Domain Metadata"), added to a checkpoint of a table that has domains. */
const DOMAIN_METADATA = field('domainMetadata', struct(field('domain', 'string'), field('configuration', 'string'), field('removed', 'boolean')));

/** Default `delta.deletedFileRetentionDuration`: tombstones younger than this stay in checkpoints. */
const TOMBSTONE_RETENTION_MS = 7 * 24 * 3600 * 1000;

/**
 * What a checkpoint holds of a table's state: the parts of a `Snapshot` that `writeCheckpoint`
 * reads (declared here so that the checkpoint module needs no import of the snapshot module,
 * which reads checkpoints).
 */
export interface CheckpointState {
  readonly version: number;
  readonly protocol: Protocol;
  readonly metadata: Metadata;
  readonly files: ReadonlyMap<string, Add>;
  readonly txns: ReadonlyMap<string, Txn>;
  readonly tombstones: ReadonlyMap<string, Remove>;
  readonly domains: ReadonlyMap<string, DomainMetadata>;
}

/**
 * Writes a classic checkpoint of `snapshot` (protocol, metadata, transactions, live metadata
 * domains, live files and tombstones younger than the retention) and points `_last_checkpoint` at it. The Parquet file
 * is written to a local temporary directory first and then put whole, so a reader never sees a
 * partial file.
 */
export async function writeCheckpoint(store: ObjectStore, snapshot: CheckpointState, parquet: ParquetFiles, now = Date.now()): Promise<void> {
  const retention = parseInterval(snapshot.metadata.configuration?.['delta.deletedFileRetentionDuration']) ?? TOMBSTONE_RETENTION_MS;
  const rows: Record<string, unknown>[] = [{ protocol: snapshot.protocol }, { metaData: snapshot.metadata }];
  for (const t of snapshot.txns.values()) rows.push({ txn: t });
  for (const d of snapshot.domains.values()) rows.push({ domainMetadata: d });
  for (const a of snapshot.files.values()) rows.push({ add: { ...a, dataChange: false } });
  for (const r of snapshot.tombstones.values()) {
    if ((r.deletionTimestamp ?? 0) >= now - retention) rows.push({ remove: { ...r, dataChange: false } satisfies Remove });
  }
  const name = `${String(snapshot.version).padStart(20, '0')}.checkpoint.parquet`;
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ingot-checkpoint-'));
  try {
    const schema = snapshot.domains.size > 0 ? struct(...CHECKPOINT_SCHEMA.fields, DOMAIN_METADATA) : CHECKPOINT_SCHEMA;
    await parquet.writeRows(path.join(tmp, name), schema, rows);
    await store.put(`${LOG_DIR}/${name}`, await fs.readFile(path.join(tmp, name)));
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
  await store.put(`${LOG_DIR}/_last_checkpoint`, JSON.stringify({ version: snapshot.version, size: rows.length }));
}

/** Parses a Delta interval string such as `interval 7 days` into milliseconds. */
export function parseInterval(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const m = /^\s*(?:interval\s+)?(\d+)\s*(millisecond|second|minute|hour|day|week)s?\s*$/i.exec(value);
  if (!m) return undefined;
  const unit = { millisecond: 1, second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000, week: 604_800_000 }[m[2]!.toLowerCase() as 'day'];
  return Number(m[1]) * unit;
}
