import type { StructType } from '../table/schema.js';
import type { DataFile } from '../table/write.js';

/**
 * The engine boundary: SQL in, Parquet files out. The pipeline layer talks to engines only
 * through this interface, so DuckDB (in process) and Spark (over Spark Connect) are
 * interchangeable; the table layer turns the files an engine wrote into Delta commits.
 */

/** A Delta snapshot as an engine needs it to read the table. */
export interface TableScan {
  /** Absolute local directory of the table root (for a table on a remote store, its local copy). */
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
}

/** A row of a query result, JSON-friendly: numbers, strings (dates, timestamps, big integers), booleans, nulls, arrays, objects. */
export type Row = Record<string, unknown>;

export interface Engine {
  readonly name: string;
  /** Makes a Delta snapshot queryable under `qualifiedName` (`layer.table`), replacing any earlier one. */
  attachTable(qualifiedName: string, scan: TableScan): Promise<void>;
  /** Makes raw files queryable as relation `name`. Errors name the file and row. */
  attachFiles(name: string, scan: FileScan): Promise<void>;
  /** Schema-qualified table names (`layer.table`) that a SELECT statement reads. Errors: SQL_ERROR, SQL_NOT_READ_ONLY. */
  references(sql: string): Promise<string[]>;
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
