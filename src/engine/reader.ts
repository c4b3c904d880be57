import type { DataType } from '../table/schema.js';
import type { Row, TableScan } from './engine.js';

/**
 * The read side of an engine, as `ingot serve` uses it: a pooled, read-only query service over
 * Delta snapshots attached to it. Nothing can be read but the snapshots attached and files under
 * `allowedDirectories`; nothing can be written, attached, installed or configured by a query.
 * Opened by `openLakeReader` (`engine/registry.ts`); code outside `src/engine` knows this
 * interface only, never which engine implements it.
 */

/** Settings of `openLakeReader`. */
export interface LakeReaderSettings {
  /**
   * Local directories whose files queries may read (a lake's root, or the local cache of a remote
   * lake's data files): every attached snapshot's files must be under one of them, and no other
   * file can be read.
   */
  allowedDirectories: string[];
  /** Connections in the query pool (default 4): queries run concurrently up to this many, the others wait. */
  connections?: number;
  /** Connections of the pool that ad-hoc queries (`QueryOptions.adHoc`) may not take (default 1; at least one is left to them). */
  reservedConnections?: number;
  /** Queries waiting for a connection, at most, per kind (ad-hoc or not; default 64): beyond, QUERY_QUEUE_FULL. */
  maxQueued?: number;
  /** Worker threads of the engine (default: the engine's, all cores). */
  threads?: number;
  /** Memory limit, e.g. `1GB` (default: the engine's). */
  memoryLimit?: string;
}

/**
 * A typed query parameter, bound by name (`$name` in the SQL), never spliced into the text:
 * BIGINT an integer, DOUBLE a number, BOOLEAN a boolean, VARCHAR a string, DATE a `YYYY-MM-DD`
 * string, TIMESTAMP an ISO 8601 instant (read at millisecond precision; a value without an offset
 * is UTC).
 */
export type QueryParam =
  | { type: 'BIGINT'; value: number | bigint }
  | { type: 'DOUBLE'; value: number }
  | { type: 'BOOLEAN'; value: boolean }
  | { type: 'VARCHAR' | 'DATE' | 'TIMESTAMP'; value: string };

/**
 * A positional parameter of `LakeReader.stream` (`$1` is the first): a typed value as
 * `QueryParam`, or `NULL` (bound as an untyped null).
 */
export type PositionalParam = QueryParam | { type: 'NULL' };

/**
 * One value of a streamed row, engine-neutral: `null`; `boolean`; `number` (floats and integers
 * of up to 32 bits); `bigint` (64-bit and wider integers); `string` for text and for values
 * with an exact text form (`DATE` `YYYY-MM-DD`, `TIMESTAMP` `YYYY-MM-DD HH:MM:SS[.ffffff]`,
 * `TIMESTAMP WITH TIME ZONE` the same in UTC followed by `+00`, `TIME`, `DECIMAL` digits, `UUID`,
 * `INTERVAL`); `Uint8Array` for binary; an array for a list; an object for a struct or a map
 * (keys as text).
 */
export type Cell = null | boolean | number | bigint | string | Uint8Array | Cell[] | { [key: string]: Cell };

/** A column of a described or streamed statement: its name and the engine's SQL type name (`BIGINT`, `DECIMAL(10,2)`, `VARCHAR[]`...; `UNKNOWN` when the type depends on parameters not yet bound). */
export interface ColumnInfo {
  name: string;
  type: string;
}

/** What `LakeReader.describe` finds out of one SELECT without running it. */
export interface StatementShape {
  /** Its result columns (types `UNKNOWN` where they depend on unbound parameters). */
  columns: ColumnInfo[];
  /** The type the engine infers for each positional parameter `$1`, `$2`... (`UNKNOWN` when it cannot tell). */
  parameters: string[];
}

/**
 * The rows of one running statement, read chunk by chunk (the engine's own chunks, typically
 * 2,048 rows): memory stays flat whatever the result's size. The statement holds one pooled
 * connection until the stream ends or `close` is called; call `close` always.
 */
export interface RowStream {
  readonly columns: ColumnInfo[];
  /** The next rows (each an array of `Cell`s in column order), or null after the last. Errors: SQL_ERROR, SQL_TIMEOUT, QUERY_CANCELLED (after `cancel`). */
  next(): Promise<Cell[][] | null>;
  /** Interrupts the statement: the pending or next `next` fails with QUERY_CANCELLED. */
  cancel(): void;
  /** Ends the statement and gives its connection back to the pool (idempotent). */
  close(): void;
}

/** Options of one `LakeReader.query`. */
export interface QueryOptions {
  /** Interrupt the query this many ms after the call (error SQL_TIMEOUT): time spent waiting for a connection counts. */
  timeoutMs?: number;
  /** A user's own statement (ad-hoc SQL): it runs only on the connections not reserved (`LakeReaderSettings.reservedConnections`). */
  adHoc?: boolean;
  /** Return at most this many rows of the query (as a subquery); `truncated` says whether more existed. */
  maxRows?: number;
  /**
   * Return at most this many bytes of rows, measured as their JSON text (UTF-8): rows are read a
   * chunk at a time and reading stops before the row that would pass it (`truncated` is then
   * true). Error RESULT_TOO_LARGE when the first row alone is larger.
   */
  maxBytes?: number;
}

/**
 * A query result. `columns`: names and the engine's SQL type names, as the dialect spells them
 * (`BIGINT`, `VARCHAR`...); `rows`: JSON-friendly objects (numbers, strings for dates, timestamps
 * and integers beyond 2^53, booleans, nulls, arrays, objects).
 */
export interface QueryResult {
  columns: { name: string; type: string }[];
  rows: Row[];
  /** The query had more rows than were returned (`maxRows` or `maxBytes` stopped the reading). */
  truncated: boolean;
}

/** What `LakeReader.analyze` finds in one SELECT, without running it. */
export interface StatementFacts {
  /** Schema-qualified table names it reads (`layer.table`), sorted. */
  tables: string[];
  /** The statement's outermost query has a LIMIT (so paging must wrap it). */
  limited: boolean;
  /** Columns compared for equality with a parameter (`col = $name`, either side, casts allowed). */
  equalities: string[];
}

/** Options of `LakeReader.attach`. */
export interface AttachOptions {
  /** Read the snapshot once into memory (for small tables); queries then read the copy. */
  memory?: boolean;
  /** With `memory`: sort the copy by these columns (primitive types), so equality filters on them skip most of it. */
  orderBy?: string[];
}

/** The SQL spelling serve's routes need from the reader's engine (a subset of the engine's dialect). */
export interface ReaderDialect {
  /** An identifier: `"a""b"`. */
  quoteIdent(name: string): string;
  /** A string literal whose value is exactly `value`. */
  quoteString(value: string): string;
  /** The SQL type that stores Delta type `t` (`VARCHAR`, `BIGINT`, `TIMESTAMPTZ`...). Error: PROTOCOL_UNSUPPORTED. */
  typeName(t: DataType): string;
}

/** A pooled, read-only query service over attached Delta snapshots (see the module comment). */
export interface LakeReader {
  readonly dialect: ReaderDialect;
  /**
   * Makes `name` (`layer.table`) read `scan`, replacing the snapshot attached before (queries
   * running on the earlier one finish on it; its resources are released a minute later). With
   * `memory`, an in-memory copy attached now that `scan` changes little (`updatable`) is updated
   * in place, in one transaction. Errors: SQL_ERROR.
   */
  attach(name: string, scan: TableScan, options?: AttachOptions): Promise<void>;
  /**
   * Whether attaching `scan` as `name` with `memory` would update the in-memory copy attached now
   * in place, at the cost of what changed (files added and removed, rows newly deleted) rather
   * than of the whole table: a table committed to every second can be kept in memory.
   */
  updatable(name: string, scan: TableScan): boolean;
  /**
   * Attaches `scan` as a relation of its own, identified by `key` (any text, e.g.
   * `bronze.events@3#rows`) until `unpin(key)`, and returns its quoted SQL name; with
   * `scan.rowIds` the relation also has `ROW_FILE` and `ROW_NUMBER`. Errors: SQL_ERROR.
   */
  pin(key: string, scan: TableScan): Promise<string>;
  /** Drops the relation `pin(key)` made; an unknown key is ignored. */
  unpin(key: string): Promise<void>;
  /**
   * Schema-qualified table names (`layer.table`) that `sql` reads, sorted. `sql` must be exactly
   * one SELECT. Errors: SQL_NOT_READ_ONLY (anything else), SQL_ERROR (it does not parse).
   */
  references(sql: string): Promise<string[]>;
  /** The facts of `sql` (one SELECT) that paging and clustering need. Errors: as `references`. */
  analyze(sql: string): Promise<StatementFacts>;
  /**
   * `sql` (one SELECT) with every read of table `t` replaced by the pinned relation `keys[t]`
   * (see `pin`; tables not in `keys` are left as they are), through the engine's own parser.
   * Errors: as `references`.
   */
  retarget(sql: string, keys: Record<string, string>): Promise<string>;
  /**
   * The keyed form of a lookup statement (one SELECT of one table, `column = $param` conjuncts
   * for each of `params`, an ORDER BY; no aggregate, window, DISTINCT, LIMIT, subquery): the rows
   * of every value of the parameters at once, in the statement's order, each with its key as
   * column `__ingot_key_<param>`; `columns`: the column each parameter is compared with.
   * Undefined when `sql` is not such a statement. Errors: as `references`.
   */
  keyed(sql: string, params: string[]): Promise<{ sql: string; columns: Record<string, string> } | undefined>;
  /**
   * Runs `sql` on a pooled connection, binding `params` by name (`$name`; parameters the
   * statement does not have are ignored). Statements are prepared once per connection and
   * reused. Errors: SQL_NOT_READ_ONLY when it reads a file outside `allowedDirectories` or
   * changes anything; SQL_TIMEOUT after `options.timeoutMs`; RESULT_TOO_LARGE (see
   * `options.maxBytes`); QUERY_QUEUE_FULL when `maxQueued` queries of its kind already wait
   * for a connection; SQL_ERROR.
   */
  query(sql: string, params?: Record<string, QueryParam>, options?: QueryOptions): Promise<QueryResult>;
  /**
   * The result columns and parameter types of `sql` (exactly one SELECT, positional parameters
   * `$1`, `$2`...), prepared but not run. Errors: as `references`; SQL_ERROR (with
   * `context.position`, a 0-based offset, for a syntax error).
   */
  describe(sql: string): Promise<StatementShape>;
  /**
   * Runs `sql` (exactly one SELECT, checked as by `references`) with positional `params` (`$1`
   * is `params[0]`) on a pooled connection and returns its rows as a stream. The time limit
   * `options.timeoutMs` runs from the call until the stream is closed; aborting `options.signal`
   * interrupts the statement, also while the call has not returned yet. Errors: as `query`;
   * QUERY_CANCELLED after the abort.
   */
  stream(sql: string, params?: PositionalParam[], options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<RowStream>;
  /** Closes the pool and frees what the reader holds (memory copies, spill files). */
  close(): Promise<void>;
}
