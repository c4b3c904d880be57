import { randomUUID } from 'node:crypto';
import { IngotError } from '../errors.js';
import type { Action, Add, FileStats } from './actions.js';
import { filtersToSql, partitionMatches, type Filter } from './filter.js';
import { fieldOf, typeName, type StructType } from './schema.js';
import type { Snapshot } from './snapshot.js';
import { READER_VERSION, WRITER_VERSION } from './snapshot.js';
import type { PreparedCommit } from './table.js';

/** A Parquet data file an engine wrote under the table root, not yet part of the table. */
export interface DataFile {
  /** Path relative to the table root, `/`-separated, not URI-encoded. */
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
  /** Table properties (`delta.*` and user keys) for a new table. */
  configuration?: Record<string, string>;
  /** Idempotency token: `txn` action with the application id and its version. */
  txn?: { appId: string; version: number };
  /** Extra commitInfo.operationParameters, such as the run id. */
  parameters?: Record<string, unknown>;
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
  if (snapshot && snapshot.protocol.minWriterVersion > WRITER_VERSION) {
    const features = snapshot.protocol.writerFeatures?.length ? snapshot.protocol.writerFeatures.join(', ') : `writer version ${snapshot.protocol.minWriterVersion}`;
    throw new IngotError('PROTOCOL_UNSUPPORTED', `${location}: writing needs table features ingot does not support yet: ${features}`, { table: location });
  }
  const replacingSchema = snapshot !== undefined && options.mode === 'overwrite' && options.overwriteSchema === true;
  if (!snapshot || replacingSchema) {
    partitionColumns = options.partitionColumns ?? [];
    for (const c of partitionColumns) {
      const f = fieldOf(options.schema, c);
      if (!f) throw new IngotError('SCHEMA_MISMATCH', `${location}: partition column ${c} is not in the schema`, { table: location, column: c });
      if (typeof f.type !== 'string') throw new IngotError('SCHEMA_MISMATCH', `${location}: partition column ${c} has nested type ${typeName(f.type)}`, { table: location, column: c });
    }
    if (!snapshot) actions.push({ protocol: { minReaderVersion: READER_VERSION, minWriterVersion: WRITER_VERSION } });
    actions.push({
      metaData: {
        id: snapshot?.metadata.id ?? randomUUID(),
        format: { provider: 'parquet', options: {} },
        schemaString: JSON.stringify(options.schema),
        partitionColumns,
        configuration: { ...(snapshot?.metadata.configuration ?? {}), ...(options.configuration ?? {}) },
        createdTime: snapshot?.metadata.createdTime ?? now,
      },
    });
  } else {
    partitionColumns = snapshot.partitionColumns;
    if (options.partitionColumns && options.partitionColumns.join(',') !== partitionColumns.join(',')) {
      throw new IngotError('SCHEMA_MISMATCH', `${location}: table is partitioned by (${partitionColumns.join(', ')}), the write by (${options.partitionColumns.join(', ')})`, { table: location });
    }
    checkSchema(snapshot.schema, options.schema, location);
  }

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
    actions.push({ add: toAdd(file) });
  }
  if (options.txn) actions.push({ txn: { ...options.txn, lastUpdated: now } });

  const modeName = options.mode === 'append' ? 'Append' : 'Overwrite';
  return {
    readVersion: snapshot?.version ?? -1,
    actions,
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
  };
}

/** Encodes a relative path as the URI the `path` field must hold (RFC 2396, `/` and `=` kept). */
export function encodePath(path: string): string {
  return path.split('/').map((seg) => encodeURIComponent(seg).replace(/%3D/g, '=')).join('/');
}

/** Decodes an `add.path` back to a relative file path. */
export function decodePath(path: string): string {
  return decodeURIComponent(path);
}

function toAdd(file: DataFile): Add {
  return {
    path: encodePath(file.path),
    partitionValues: file.partitionValues,
    size: file.size,
    modificationTime: file.modificationTime,
    dataChange: true,
    stats: JSON.stringify(file.stats),
  };
}

function tombstone(add: Add, now: number) {
  return {
    path: add.path,
    deletionTimestamp: now,
    dataChange: true,
    extendedFileMetadata: true,
    partitionValues: add.partitionValues,
    size: add.size,
    ...(add.deletionVector ? { deletionVector: add.deletionVector } : {}),
  };
}

function checkSchema(table: StructType, write: StructType, location: string): void {
  for (const f of write.fields) {
    const t = fieldOf(table, f.name);
    if (!t) throw new IngotError('SCHEMA_MISMATCH', `${location}: column ${f.name} (${typeName(f.type)}) is not in the table schema`, { table: location, column: f.name });
    if (typeName(t.type) !== typeName(f.type)) {
      throw new IngotError('SCHEMA_MISMATCH', `${location}: column ${f.name} is ${typeName(t.type)} in the table but ${typeName(f.type)} in the write`, { table: location, column: f.name });
    }
  }
  for (const t of table.fields) {
    if (!fieldOf(write, t.name)) throw new IngotError('SCHEMA_MISMATCH', `${location}: the write lacks column ${t.name} (${typeName(t.type)})`, { table: location, column: t.name });
  }
}
