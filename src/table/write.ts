import { randomUUID } from 'node:crypto';
import { IngotError } from '../errors.js';
import type { Action, Add, DomainMetadata, FileStats, Protocol, Remove } from './actions.js';
import { filtersToSql, partitionMatches, type Filter } from './filter.js';
import { fieldOf, mergeSchemas, SchemaConflict, typeName, type StructType } from './schema.js';
import type { Snapshot } from './snapshot.js';
import { READER_VERSION, WRITER_VERSION } from './snapshot.js';
import type { PreparedCommit } from './table.js';

/** A Parquet data file an engine wrote for the table (under its root or its `DeltaTable.dataPrefix`), not yet part of the table. */
export interface DataFile {
  /**
   * Key relative to the table root, `/`-separated, not URI-encoded. It climbs out of the root
   * with `..` when the table writes its data elsewhere (`DeltaTable.dataPrefix`, a local table);
   * the log then names the file by absolute path (`dataFilePath`).
   */
  path: string;
  /** Bytes. */
  size: number;
  /** Partition column → serialized value, null for NULL ("Partition Value Serialization"). */
  partitionValues: Record<string, string | null>;
  /** ms since epoch. */
  modificationTime: number;
  stats: FileStats;
}

/**
 * How a write changes the table:
 * - `append`: adds the files;
 * - `overwrite`: removes every live file, adds the new ones;
 * - `replace`: removes the live files whose partition values match `replaceWhere` and adds the
 *   new ones, which must match it too (Delta's `replaceWhere` on partition columns).
 */
export type WriteMode = 'append' | 'overwrite' | 'replace';

export interface WriteOptions {
  mode: WriteMode;
  files: DataFile[];
  /** Schema of the written files (partition columns included). */
  schema: StructType;
  /** Partition columns for a new table; if given for an existing table they must equal its own. */
  partitionColumns?: string[];
  /** Required for `replace`: a conjunction of comparisons on partition columns. */
  replaceWhere?: Filter[];
  /** With `overwrite`, replace the table schema and partitioning instead of requiring a match. */
  overwriteSchema?: boolean;
  /** Add the write's new columns to the table schema (schema evolution) instead of refusing them. */
  mergeSchema?: boolean;
  /** Table properties (`delta.*` and user keys) for a new table. */
  configuration?: Record<string, string>;
  /** Idempotency token: `txn` action with the application id and its version. */
  txn?: { appId: string; version: number };
  /** Extra commitInfo.operationParameters, such as the run id. */
  parameters?: Record<string, unknown>;
  /**
   * Metadata domains to commit with the rows ("Domain Metadata"), e.g. what a source has loaded.
   * Application domains only (`delta.*` is refused); the table is upgraded to writer version 7
   * with the `domainMetadata` feature when it lacks it (see `withDomainMetadata`).
   */
  domainMetadata?: DomainWrite[];
}

/**
 * A metadata domain to commit, with the application's rule for a concurrent commit that changed
 * the same domain ("Domain Metadata": conflict resolution is up to the domain's owner): `rebase`
 * gets the winner's configuration and returns this commit's on top of it, or undefined when the
 * two changes overlap (a conflict). Without `rebase`, any concurrent change of the domain conflicts.
 */
export interface DomainWrite extends DomainMetadata {
  rebase?: (theirs: string) => string | undefined;
}

/**
 * Plans one write (the `WRITE` operation; `CREATE TABLE` on a new table) against `snapshot`
 * (undefined for a table that does not exist yet). Returns the commit to hand to
 * `DeltaTable.commit`. Errors: SCHEMA_MISMATCH, PARTITION_VIOLATION, DATASET_INVALID.
 */
export function planWrite(snapshot: Snapshot | undefined, options: WriteOptions, location = ''): PreparedCommit {
  const actions: Action[] = [];
  const now = Date.now();
  let partitionColumns: string[];
  if (snapshot) assertWritable(snapshot, location);
  const replacingSchema = snapshot !== undefined && options.mode === 'overwrite' && options.overwriteSchema === true;
  if (!snapshot || replacingSchema) {
    partitionColumns = options.partitionColumns ?? [];
    for (const c of partitionColumns) {
      const f = fieldOf(options.schema, c);
      if (!f) throw new IngotError('SCHEMA_MISMATCH', `${location}: partition column ${c} is not in the schema`, { table: location, column: c });
      if (typeof f.type !== 'string') throw new IngotError('SCHEMA_MISMATCH', `${location}: partition column ${c} has nested type ${typeName(f.type)}`, { table: location, column: c });
    }
    const configuration = { ...(snapshot?.metadata.configuration ?? {}), ...(options.configuration ?? {}) };
    if (!snapshot) {
      const base = options.domainMetadata?.length ? withDomainMetadata(undefined) : { minReaderVersion: READER_VERSION, minWriterVersion: WRITER_VERSION };
      actions.push({ protocol: withPropertyFeatures(base, configuration) });
    } else if (withPropertyFeatures(snapshot.protocol, configuration) !== snapshot.protocol) {
      actions.push({ protocol: withPropertyFeatures(snapshot.protocol, configuration) });
    }
    actions.push({
      metaData: {
        id: snapshot?.metadata.id ?? randomUUID(),
        format: { provider: 'parquet', options: {} },
        schemaString: JSON.stringify(options.schema),
        partitionColumns,
        configuration,
        createdTime: snapshot?.metadata.createdTime ?? now,
      },
    });
  } else {
    partitionColumns = snapshot.partitionColumns;
    if (options.partitionColumns && options.partitionColumns.join(',') !== partitionColumns.join(',')) {
      throw new IngotError('SCHEMA_MISMATCH', `${location}: table is partitioned by (${partitionColumns.join(', ')}), the write by (${options.partitionColumns.join(', ')})`, { table: location });
    }
    const merged = checkSchema(snapshot.schema, options.schema, options.mergeSchema === true, location);
    const changed = Object.entries(options.configuration ?? {}).filter(([k, v]) => snapshot.metadata.configuration?.[k] !== v);
    const upgraded = withPropertyFeatures(snapshot.protocol, { ...Object.fromEntries(changed), 'delta.columnMapping.mode': snapshot.metadata.configuration?.['delta.columnMapping.mode'] ?? 'none' });
    if (changed.length > 0 && upgraded !== snapshot.protocol) actions.push({ protocol: upgraded });
    if (merged || changed.length > 0) {
      actions.push({ metaData: { ...snapshot.metadata, ...(merged ? { schemaString: JSON.stringify(merged) } : {}), configuration: { ...(snapshot.metadata.configuration ?? {}), ...Object.fromEntries(changed) } } });
    }
  }

  if (options.domainMetadata?.length && snapshot) actions.unshift(...domainActions(snapshot, options.domainMetadata, location));
  else if (options.domainMetadata?.length) actions.push(...domainActions(undefined, options.domainMetadata, location));

  let readPredicate: Filter[] | undefined;
  if (options.mode === 'overwrite') {
    readPredicate = [];
    for (const f of snapshot?.files.values() ?? []) actions.push({ remove: tombstone(f, now) });
  } else if (options.mode === 'replace') {
    const where = options.replaceWhere;
    if (!where || where.length === 0) throw new IngotError('DATASET_INVALID', `${location}: replace needs a replaceWhere predicate`, { table: location });
    for (const f of where) {
      if (!partitionColumns.includes(f.column)) {
        throw new IngotError('DATASET_INVALID', `${location}: replaceWhere column ${f.column} is not a partition column (${partitionColumns.join(', ') || 'none'})`, { table: location, column: f.column });
      }
    }
    const schema = snapshot?.schema ?? options.schema;
    for (const file of options.files) {
      if (!partitionMatches(schema, partitionColumns, file, where)) {
        throw new IngotError('PARTITION_VIOLATION', `${location}: written file ${file.path} with partition ${JSON.stringify(file.partitionValues)} is outside ${filtersToSql(where)}`, { table: location, file: file.path });
      }
    }
    readPredicate = where;
    for (const f of snapshot?.scan(where) ?? []) actions.push({ remove: tombstone(f, now) });
  }

  let rows = 0;
  let bytes = 0;
  for (const file of options.files) {
    rows += file.stats.numRecords;
    bytes += file.size;
    actions.push({ add: toAdd(file, true, location) });
  }
  if (options.txn) actions.push({ txn: { ...options.txn, lastUpdated: now } });

  const modeName = options.mode === 'append' ? 'Append' : 'Overwrite';
  return {
    readVersion: snapshot?.version ?? -1,
    actions: oneProtocol(actions),
    operation: snapshot ? 'WRITE' : 'CREATE TABLE',
    operationParameters: {
      mode: modeName,
      partitionBy: JSON.stringify(partitionColumns),
      ...(options.mode === 'replace' ? { predicate: JSON.stringify([filtersToSql(options.replaceWhere!)]) } : {}),
      ...(options.parameters ?? {}),
    },
    operationMetrics: {
      numFiles: String(options.files.length),
      numOutputRows: String(rows),
      numOutputBytes: String(bytes),
      numRemovedFiles: String(actions.filter((a) => 'remove' in a).length),
    },
    readPredicate,
    ...withRebases(options.domainMetadata),
  };
}

/**
 * `actions` with their protocol actions (a domain upgrade, a change-feed upgrade) made one, at
 * the place of the first: a commit holds at most one ("Protocol Evolution"). Versions are the
 * highest asked, features the union of those listed.
 */
export function oneProtocol(actions: Action[]): Action[] {
  const protocols = actions.flatMap((a) => ('protocol' in a ? [a.protocol] : []));
  if (protocols.length < 2) return actions;
  const union = (lists: (string[] | undefined)[]): string[] | undefined => (lists.some((l) => l) ? [...new Set(lists.flatMap((l) => l ?? []))] : undefined);
  const readerFeatures = union(protocols.map((p) => p.readerFeatures));
  const writerFeatures = union(protocols.map((p) => p.writerFeatures));
  const merged: Protocol = {
    minReaderVersion: Math.max(...protocols.map((p) => p.minReaderVersion)),
    minWriterVersion: Math.max(...protocols.map((p) => p.minWriterVersion)),
    ...(readerFeatures ? { readerFeatures } : {}),
    ...(writerFeatures ? { writerFeatures } : {}),
  };
  const first = actions.findIndex((a) => 'protocol' in a);
  return actions.flatMap((a, i): Action[] => ('protocol' in a ? (i === first ? [{ protocol: merged }] : []) : [a]));
}

/** `{ rebaseDomain }` when some of `domains` carry a rebase rule, else `{}`. */
export function withRebases(domains: DomainWrite[] | undefined): Pick<PreparedCommit, 'rebaseDomain'> {
  const rules = Object.fromEntries((domains ?? []).flatMap((d) => (d.rebase ? [[d.domain, d.rebase] as const] : [])));
  return Object.keys(rules).length > 0 ? { rebaseDomain: rules } : {};
}

/**
 * Writer table features ingot honours at writer version 7 ("Table Features"): `domainMetadata`
 * (domains survive replay, checkpoints and every operation; two concurrent commits carrying the
 * same domain conflict) and `appendOnly` (`delta.appendOnly` is checked before any commit that
 * removes data). Column invariants, CHECK constraints, generated and identity columns, change data
 * feed (`changeDataFeed`: ingot's rewrites write change data files, see `changeFeedEnabled`) and
 * deletion vectors (`deletionVectors`: every operation keeps or carries the DVs of the files it
 * touches, and marks rows in DVs when `deletionVectorsEnabled`).
 * Column invariants, CHECK constraints, generated and identity columns,
 * row tracking and clustering are not enforced, so tables listing them are refused.
 */
export const SUPPORTED_WRITER_FEATURES = new Set(['appendOnly', 'domainMetadata', 'changeDataFeed', 'deletionVectors']);

/** The table property turning the change data feed on ("Add CDC File", "Writer Requirements for AddCDCFile"). */
export const CHANGE_FEED_PROPERTY = 'delta.enableChangeDataFeed';

/**
 * Whether writers of `snapshot` must record its row changes as change data files ("Writer
 * Requirements for AddCDCFile"): at writer version 7, when `delta.enableChangeDataFeed` is `true`
 * and the protocol lists the `changeDataFeed` writer feature (ingot writes no table at versions 3 to 6).
 */
export function changeFeedEnabled(snapshot: Snapshot): boolean {
  return snapshot.metadata.configuration?.[CHANGE_FEED_PROPERTY] === 'true' && snapshot.protocol.minWriterVersion === 7 && (snapshot.protocol.writerFeatures ?? []).includes('changeDataFeed');
}

/**
 * `protocol` with the `changeDataFeed` writer feature ("Table Features": writer version 7; the
 * reader version is kept). Upgrading from writer version 2 keeps `appendOnly`, which it implied
 * and ingot honours (as `withDomainMetadata`).
 */
export function withChangeDataFeed(protocol: Protocol): Protocol {
  const features = protocol.minWriterVersion === 7 ? (protocol.writerFeatures ?? []) : ['appendOnly'];
  return { ...protocol, minWriterVersion: 7, writerFeatures: [...new Set([...features, 'changeDataFeed'])] };
}

/** The table property letting writers mark deleted rows in deletion vectors ("Deletion Vectors", table property `delta.enableDeletionVectors`). */
export const DELETION_VECTORS_PROPERTY = 'delta.enableDeletionVectors';

/**
 * Whether delete, update and merge on `snapshot` mark removed rows in deletion vectors instead of
 * rewriting files ("Deletion Vectors"): `delta.enableDeletionVectors` is `true` and the protocol
 * lists the `deletionVectors` feature (reader version 3 and writer version 7).
 */
export function deletionVectorsEnabled(snapshot: Snapshot): boolean {
  const p = snapshot.protocol;
  return snapshot.metadata.configuration?.[DELETION_VECTORS_PROPERTY] === 'true' && p.minWriterVersion === 7 && (p.writerFeatures ?? []).includes('deletionVectors')
    && p.minReaderVersion === 3 && (p.readerFeatures ?? []).includes('deletionVectors');
}

/**
 * `protocol` with the `deletionVectors` reader and writer feature ("Table Features": reader
 * version 3 and writer version 7; a reader-writer feature is listed in both lists). Upgrading keeps
 * what the old versions implied and ingot honours: `appendOnly` from writer version 2, and
 * `columnMapping` from reader version 2 (when `columnMapping` is set, a table in a mapping mode).
 */
export function withDeletionVectors(protocol: Protocol, columnMapping = false): Protocol {
  const writer = protocol.minWriterVersion === 7 ? (protocol.writerFeatures ?? []) : ['appendOnly', ...(columnMapping ? ['columnMapping'] : [])];
  const reader = protocol.minReaderVersion === 3 ? (protocol.readerFeatures ?? []) : (columnMapping ? ['columnMapping'] : []);
  return {
    ...protocol,
    minReaderVersion: 3,
    minWriterVersion: 7,
    readerFeatures: [...new Set([...reader, 'deletionVectors'])],
    writerFeatures: [...new Set([...writer, 'deletionVectors'])],
  };
}

/**
 * `protocol` upgraded for the table properties of `configuration` that need a table feature:
 * `delta.enableChangeDataFeed` (`withChangeDataFeed`) and `delta.enableDeletionVectors`
 * (`withDeletionVectors`). Returns `protocol` itself when nothing is missing.
 */
export function withPropertyFeatures(protocol: Protocol, configuration: Record<string, string>): Protocol {
  let p = protocol;
  if (configuration[CHANGE_FEED_PROPERTY] === 'true' && !(p.minWriterVersion === 7 && p.writerFeatures?.includes('changeDataFeed'))) p = withChangeDataFeed(p);
  if (configuration[DELETION_VECTORS_PROPERTY] === 'true' && !(p.minReaderVersion === 3 && p.readerFeatures?.includes('deletionVectors') && p.writerFeatures?.includes('deletionVectors'))) {
    p = withDeletionVectors(p, (configuration['delta.columnMapping.mode'] ?? 'none') !== 'none');
  }
  return p;
}

/**
 * Refuses tables whose writer protocol ingot does not implement ("Protocol Evolution", "Table
 * Features"): writer versions 3 to 6, and version 7 listing a feature outside
 * `SUPPORTED_WRITER_FEATURES`. Errors: PROTOCOL_UNSUPPORTED naming the features.
 */
export function assertWritable(snapshot: Snapshot, location: string): void {
  const { minWriterVersion, writerFeatures } = snapshot.protocol;
  if (minWriterVersion <= WRITER_VERSION) return;
  const missing = minWriterVersion === 7 ? (writerFeatures ?? []).filter((f) => !SUPPORTED_WRITER_FEATURES.has(f)) : [`writer version ${minWriterVersion}`];
  if (missing.length === 0) return;
  throw new IngotError('PROTOCOL_UNSUPPORTED', `${location}: writing needs table features ingot does not support yet: ${missing.join(', ')}`, { table: location });
}

/**
 * The actions committing `domains` on top of `snapshot` (undefined: a new table, whose protocol
 * action the caller writes): a protocol upgrade when the table lacks the `domainMetadata` feature,
 * then one `domainMetadata` action each. Errors: DATASET_INVALID for a `delta.*` domain,
 * PROTOCOL_UNSUPPORTED (see `withDomainMetadata`).
 */
export function domainActions(snapshot: Snapshot | undefined, domains: DomainWrite[], location: string): Action[] {
  const actions: Action[] = [];
  if (snapshot && !snapshot.protocol.writerFeatures?.includes('domainMetadata')) actions.push({ protocol: withDomainMetadata(snapshot, location) });
  for (const d of domains) {
    if (d.domain.startsWith('delta.')) throw new IngotError('DATASET_INVALID', `${location}: domain ${d.domain} is system-controlled (delta.*): writers must not set it`, { table: location });
    actions.push({ domainMetadata: { domain: d.domain, configuration: d.configuration, removed: d.removed } });
  }
  return actions;
}

/**
 * The protocol of `snapshot` (undefined: a new table) with the `domainMetadata` writer feature
 * ("Domain Metadata": writer version 7). The reader version is kept. Upgrading from writer
 * version 2 keeps what it implied and ingot honours, `appendOnly`; column invariants, which it
 * also implied, are not enforced, so a schema using them (`delta.invariants`) is refused.
 * Errors: PROTOCOL_UNSUPPORTED.
 */
export function withDomainMetadata(snapshot: Snapshot | undefined, location = ''): Protocol {
  const p = snapshot?.protocol ?? { minReaderVersion: READER_VERSION, minWriterVersion: WRITER_VERSION };
  if (snapshot && JSON.stringify(snapshot.schema).includes('"delta.invariants"')) {
    throw new IngotError('PROTOCOL_UNSUPPORTED', `${location}: writing needs table features ingot does not support yet: invariants (the schema has delta.invariants)`, { table: location });
  }
  const features = p.minWriterVersion === 7 ? (p.writerFeatures ?? []) : ['appendOnly'];
  return { ...p, minWriterVersion: 7, writerFeatures: [...new Set([...features, 'domainMetadata'])] };
}

/** Encodes a relative path as the URI the `path` field must hold (RFC 2396, `/` and `=` kept). */
export function encodePath(path: string): string {
  return path.split('/').map((seg) => encodeURIComponent(seg).replace(/%3D/g, '=')).join('/');
}

/**
 * The store key (relative to the table root, `/`-separated, decoded) of the data file an `add` or
 * `remove` names by `path` (PROTOCOL.md, "Add File": "a relative path, from the root of the table,
 * or an absolute URI", URI-encoded). `root` is the table's location (`ObjectStore.root`: a
 * directory or `s3://bucket/prefix`); an absolute URI (or absolute path) under it is read as
 * its relative key. An absolute path or `file:` URI outside a local table's root (as a shallow
 * clone writes, referencing its source table's files) is read as a key that climbs out of the
 * root with `..` segments (e.g. `../../gold/t/part-1.parquet`): the store resolves it, and
 * vacuum, which lists only under the root, never deletes it.
 * Errors: LOG_CORRUPT for a path that is not valid URI encoding or whose relative form leaves the
 * table root through `..`; PROTOCOL_UNSUPPORTED for an absolute URI outside the root of a table
 * on an object store (S3), or of another scheme than the root's.
 */
export function decodePath(path: string, root: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    throw new IngotError('LOG_CORRUPT', `${root}: data file path ${JSON.stringify(path)} in the Delta log is not valid URI encoding`, { table: root, file: path });
  }
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(decoded) || decoded.startsWith('/')) {
    const base = root.replace(/\/+$/, '');
    const forms = base.startsWith('s3://')
      ? ['s3://', 's3a://', 's3n://'].map((scheme) => scheme + base.slice('s3://'.length))
      : [base, `file://${base}`, `file:${base}`];
    const form = forms.find((f) => decoded.startsWith(`${f}/`));
    if (form === undefined) {
      const outside = base.startsWith('/') ? localFile(decoded) : undefined;
      if (outside === undefined) {
        throw new IngotError('PROTOCOL_UNSUPPORTED', `${root}: data file ${decoded} lies outside the table root; ingot reads absolute paths outside a table's location (shallow clones) only for tables on a local file system`, { table: root, file: decoded });
      }
      return outsideKey(base, outside);
    }
    decoded = decoded.slice(form.length + 1);
  }
  const segments: string[] = [];
  for (const seg of decoded.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (segments.length === 0) {
        throw new IngotError('LOG_CORRUPT', `${root}: data file path ${JSON.stringify(path)} in the Delta log leaves the table root; a relative path must stay under the table (PROTOCOL.md, "Add File")`, { table: root, file: path });
      }
      segments.pop();
    } else segments.push(seg);
  }
  if (segments.length === 0) throw new IngotError('LOG_CORRUPT', `${root}: data file path ${JSON.stringify(path)} in the Delta log names no file`, { table: root, file: path });
  return segments.join('/');
}

/** The local absolute path an absolute path or `file:` URI names (`file:///a`, `file:/a`, `/a`), undefined for other schemes. */
function localFile(decoded: string): string | undefined {
  const m = /^file:(?:\/\/(?:localhost)?)?(\/.*)$/.exec(decoded);
  if (m) return m[1];
  return decoded.startsWith('/') ? decoded : undefined;
}

/** The key, relative to local root `base`, of absolute file `file` outside it: `..` segments up to their common folder, then down. */
function outsideKey(base: string, file: string): string {
  const from = base.split('/').filter((p) => p !== '' && p !== '.');
  const to: string[] = [];
  for (const seg of file.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') to.pop();
    else to.push(seg);
  }
  let common = 0;
  while (common < from.length && common < to.length - 1 && from[common] === to[common]) common++;
  return [...from.slice(common).map(() => '..'), ...to.slice(common)].join('/');
}

/**
 * The absolute URI an `add.path` takes to name the data file at `key` of the local table rooted at
 * `root` from another table's log (a shallow clone's, or production's after a promote):
 * `file:///abs/path`, URI-encoded (PROTOCOL.md, "Add File": "an absolute path to a file that should be added to the table").
 * Errors: PROTOCOL_UNSUPPORTED for a root on an object store.
 */
export function absoluteDataPath(root: string, key: string): string {
  if (!root.startsWith('/')) throw new IngotError('PROTOCOL_UNSUPPORTED', `${root}: shallow clones and promotes are supported for lakes on a local file system only`, { table: root });
  const parts = [...root.split('/'), ...key.split('/')];
  const out: string[] = [];
  for (const seg of parts) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return `file:///${encodePath(out.join('/'))}`;
}

/**
 * The `add.path` naming the data file at `key` (a `DataFile.path`) of the table rooted at `root`:
 * the URI-encoded relative path when the file lies under the root, else (a key climbing out with
 * `..`, see `DeltaTable.dataPrefix`) its absolute `file:///` URI (PROTOCOL.md, "Add File").
 * Errors: PROTOCOL_UNSUPPORTED for a key outside a root that is not local.
 */
export function dataFilePath(key: string, root: string): string {
  return key === '..' || key.startsWith('../') ? absoluteDataPath(root, key) : encodePath(key);
}

/**
 * The `add` action for a newly written data file (`dataChange: false` for rearrangements such as
 * optimize) of the table rooted at `root` (needed when the file lies outside it: `dataFilePath`).
 */
export function toAdd(file: DataFile, dataChange = true, root = ''): Add {
  return {
    path: dataFilePath(file.path, root),
    partitionValues: file.partitionValues,
    size: file.size,
    modificationTime: file.modificationTime,
    dataChange,
    stats: JSON.stringify(file.stats),
  };
}

/** The `remove` action retiring `add` at `now` (ms since epoch), with its partition values and size. */
export function tombstone(add: Add, now: number, dataChange = true): Remove {
  return {
    path: add.path,
    deletionTimestamp: now,
    dataChange,
    extendedFileMetadata: true,
    partitionValues: add.partitionValues,
    size: add.size,
    ...(add.deletionVector ? { deletionVector: add.deletionVector } : {}),
  };
}

/**
 * Checks a write's schema against the table's ("Schema Enforcement"): every written column must
 * exist with the same type, unless `merge` adds new ones; table columns the write lacks must be
 * nullable (they read as NULL). Returns the evolved schema when `merge` added columns.
 */
function checkSchema(table: StructType, write: StructType, merge: boolean, location: string): StructType | undefined {
  let merged: StructType | undefined;
  try {
    merged = mergeSchemas(table, write);
  } catch (err) {
    if (!(err instanceof SchemaConflict)) throw err;
    throw new IngotError('SCHEMA_MISMATCH', `${location}: ${err.message}; changing a column's type needs an overwrite with overwriteSchema`, { table: location, column: err.column });
  }
  const added = merged.fields.filter((f) => !fieldOf(table, f.name));
  const changed = JSON.stringify(merged) !== JSON.stringify(table);
  if (changed && !merge) {
    const f = added[0];
    const what = f ? `column ${f.name} (${typeName(f.type)}) is not in the table schema` : 'nested fields are not in the table schema';
    throw new IngotError('SCHEMA_MISMATCH', `${location}: ${what}; write with mergeSchema to add it`, { table: location, column: f?.name });
  }
  for (const t of table.fields) {
    if (!fieldOf(write, t.name) && !t.nullable) throw new IngotError('SCHEMA_MISMATCH', `${location}: the write lacks column ${t.name} (${typeName(t.type)}), which is not nullable`, { table: location, column: t.name });
  }
  return changed ? merged : undefined;
}
