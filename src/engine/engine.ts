import type { MergeClauses } from './merge-clauses.js';
import type { Dialect } from './dialect.js';
import type { StructType } from '../table/schema.js';
import type { DataFile, WriteMode } from '../table/write.js';
import type { DeltaTable } from '../table/table.js';

/**
 * The engine boundary: SQL in, Parquet files out. The pipeline layer talks to engines only
 * through this interface, so DuckDB (in process) and Spark (over Spark Connect) are
 * interchangeable; the table layer turns the files an engine wrote into Delta commits. An engine
 * with its own Delta support (Spark) instead commits itself (`Engine.commit`).
 */

/** A Delta snapshot as an engine needs it to read the table. */
export interface TableScan {
  /**
   * Absolute local directory of the table root (for a table on a remote store, its local copy);
   * for an engine reading Delta itself (see `scanFor`), the table's own location, a path or `s3://...`.
   */
  location: string;
  schema: StructType;
  partitionColumns: string[];
  /** Column mapping is on: data files name columns (and nested fields) by `delta.columnMapping.physicalName`. */
  columnMapping?: boolean;
  /**
   * Live files: path relative to the root (decoded), partition values by logical column name, and
   * the rows a deletion vector deletes (0-based positions in the file, ascending), which readers
   * must skip.
   */
  files: { path: string; partitionValues: Record<string, string | null>; deletedRows?: readonly number[] }[];
  /**
   * Also expose each row's origin, for operations that rewrite files: `__ingot_file` (the file's
   * absolute path) and `__ingot_row` (its 0-based row number in that file, BIGINT).
   */
  rowIds?: boolean;
  /** The snapshot's version (undefined: no table yet); engines reading through their own Delta support read this version. */
  version?: number;
}

/** Column names `TableScan.rowIds` adds. */
export const ROW_FILE = '__ingot_file';
export const ROW_NUMBER = '__ingot_row';

/** Raw files to read as one relation. */
export interface FileScan {
  format: 'csv' | 'tsv' | 'json' | 'ndjson' | 'parquet';
  /**
   * Files with literal values to add as columns to their rows (lineage and path-derived
   * partition values), e.g. `{ path: '/abs/a.csv', values: { _source: 'landing/a.csv' } }`.
   */
  files: { path: string; values: Record<string, string> }[];
  /** Declared column name → SQL type (`TIMESTAMP`, `INTEGER`, `VARCHAR`, `DECIMAL(10,2)`...); inferred if absent. */
  columns?: Record<string, string>;
  /** SQL types of the `values` columns (default VARCHAR). */
  valueTypes?: Record<string, string>;
}

/** A relation materialized inside the engine for the rest of a run (expectations, writes). */
export interface StagedRelation {
  name: string;
  /** Delta schema of its columns, in order. */
  schema: StructType;
  rows: number;
}

/** Where and how `write` lays out Parquet files. */
export interface WriteTarget {
  /** Absolute local directory (a table root or a staging directory); files go to hive-style partition folders under it. */
  location: string;
  partitionColumns: string[];
  /** The Delta schema the files must have (partition columns included). */
  schema: StructType;
  /** Split files larger than this many bytes (default 256 MiB). */
  targetFileSize?: number;
  /**
   * The partition values (column → serialized value, as the Delta log holds them) every row is
   * expected to have: a run's one replaced partition. An engine may write the rows straight into
   * that partition's folder, checking each row's values as it writes; when a row has other values
   * it must write them partitioned as without the guess (nothing of the first attempt kept).
   */
  partitionGuess?: Record<string, string>;
}

/**
 * A write that an engine with its own Delta support performs and commits (`Engine.commit`):
 * the Delta log is then written by that engine's Delta implementation.
 */
export interface TableCommit {
  /**
   * The table as ingot reads it: its `location` (a path the engine's server shares, or
   * `s3://bucket/key`) is where the engine writes, and its log where the engine learns what its
   * commit did (a file read, not a query).
   */
  table: DeltaTable;
  /** `replace`: the rows matching `replaceWhere` are replaced; `merge`: see `merge`. */
  mode: WriteMode | 'merge';
  /** `replace`: a predicate in the engine's SQL over the table's columns (the run's interval). */
  replaceWhere?: string;
  /** `merge`: the MERGE, its source being the rows of the SQL; its `mergeSchema` names the source columns that may join the table. */
  merge?: MergeClauses;
  /** Partition columns of a new (or overwritten) table. */
  partitionBy: string[];
  /** Add columns the rows have and the table lacks. */
  mergeSchema?: boolean;
  /** Replace the table's schema and partitioning with the rows' (a full refresh). */
  overwriteSchema?: boolean;
  /** The commit's Delta `txn`: a table already holding this appId at this version or later is left unchanged. */
  txn: { appId: string; version: number };
  /** Recorded with the commit (run id, logical date). */
  parameters?: Record<string, unknown>;
}

/** What `Engine.commit` committed: the table version and the rows written (inserted or updated). */
export interface CommittedWrite {
  version: number;
  rows: number;
}

/** A row of a query result, JSON-friendly: numbers, strings (dates, timestamps, big integers), booleans, nulls, arrays, objects. */
export type Row = Record<string, unknown>;

/** A column of a table: `layer.table` and the column's name. */
export interface ColumnRef {
  table: string;
  column: string;
}

/**
 * Where one output column of a query comes from (see `Engine.lineage`): the table columns its
 * value is computed from (sorted, none for a constant or a row count) and what could not be
 * followed, each said in words (never guessed).
 */
export interface OutputColumnLineage {
  name: string;
  from: ColumnRef[];
  unresolved: string[];
}

export interface Engine {
  /** How the engine spells SQL (quoting, literals, type names, portable functions); its `name` is the engine's. */
  readonly dialect: Dialect;
  /** Makes a Delta snapshot queryable under `qualifiedName` (`layer.table`), replacing any earlier one. */
  attachTable(qualifiedName: string, scan: TableScan): Promise<void>;
  /**
   * Makes the rows of the attached tables `parts` (`layer.table` names, one schema) together
   * (UNION ALL, in order) queryable under `qualifiedName`, replacing any earlier relation: a
   * change data feed read in parts (`operations/change-feed.ts`). Engines reading Delta tables
   * themselves lack it.
   */
  attachUnion?(qualifiedName: string, parts: string[]): Promise<void>;
  /** Makes raw files queryable as relation `name`. Errors name the file and row. */
  attachFiles(name: string, scan: FileScan): Promise<void>;
  /**
   * Schema-qualified table names (`layer.table`) that a SELECT statement reads; with
   * `unqualified`, also the bare names of tables it names without a schema, its own CTEs left
   * out (a dataset must name every table `layer.table`). Errors: SQL_ERROR, SQL_NOT_READ_ONLY.
   */
  references(sql: string, options?: { unqualified?: boolean }): Promise<string[]>;
  /**
   * Present on engines whose parse tree ingot reads (DuckDB): the column-level lineage of a
   * SELECT, each output column with the table columns it derives from. `columnsOf` gives the
   * columns of a table the query reads (undefined: unknown), for `SELECT *` and unqualified
   * names over joins. Errors: SQL_ERROR (naming the parser's message), SQL_NOT_READ_ONLY.
   */
  lineage?(sql: string, columnsOf: (table: string) => string[] | undefined): Promise<OutputColumnLineage[]>;
  /** The Delta schema of a query's result, without running it. */
  describe(sql: string): Promise<StructType>;
  /** Runs a query and keeps its result as relation `name`. */
  stage(name: string, sql: string): Promise<StagedRelation>;
  /**
   * Makes the rows of `sql` queryable as relation `name` without running it (a view, read anew by
   * each query), owning `files`, local temporary files `sql` reads: they are deleted when the
   * relation is dropped or replaced, or the engine closes.
   */
  view(name: string, sql: string, files?: string[]): Promise<void>;
  /** Runs a query and returns all rows (for small results). */
  query(sql: string): Promise<Row[]>;
  /** Writes the rows of `sql` as Parquet data files for a Delta table; returns them with stats. Writes nothing visible to readers. */
  write(sql: string, target: WriteTarget): Promise<DataFile[]>;
  /**
   * Present on engines that commit to Delta themselves (Spark): writes the rows of `sql` into
   * the table at `target.table.location` and commits, creating the table if absent. Returns undefined
   * when the table already had `target.txn` (nothing written). Errors: SQL_ERROR (with the
   * engine's error class), SCHEMA_MISMATCH.
   */
  commit?(sql: string, target: TableCommit): Promise<CommittedWrite | undefined>;
  /**
   * Writes the rows of `sql` to the local file `file` (replacing it): `csv` with a header line
   * (RFC 4180 quoting, NULL as an empty field) or `parquet`; returns the row count. Error: SQL_ERROR.
   */
  writeFile(sql: string, file: string, format: 'csv' | 'parquet'): Promise<number>;
  /** Cancels the query running now, if any (it fails with an error); optional. */
  interrupt?(): void;
  /** Drops staged relations or views (deleting the files they own); absent names are ignored. */
  drop(...names: string[]): Promise<void>;
  close(): Promise<void>;
}

/** Engine settings from `ingot.config.ts`. */
export interface EngineSettings {
  /** Memory limit, e.g. `1GB`. */
  memoryLimit?: string;
  /** Directory for spilling intermediate results to disk. */
  spillDirectory?: string;
  /** Worker threads (default: all cores). */
  threads?: number;
}

/** Quotes an identifier for SQL: `"a""b"`. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quotes a string literal for SQL: `'it''s'`. */
export function quoteString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
