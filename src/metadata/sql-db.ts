/**
 * The SQL connection a metadata store runs on: SQLite (one file, `better-sqlite3`) or PostgreSQL
 * (`pg`, shared by several ingot processes). Statements are written once with `?` placeholders;
 * the PostgreSQL adapter numbers them (`$1`, `$2`...). Both dialects understand the subset used:
 * `ON CONFLICT ... DO UPDATE ... WHERE`, `RETURNING`, `BIGINT` for epoch milliseconds.
 */
export interface SqlDb {
  /** Where the store lives, for messages (file path or URL without password). */
  readonly location: string;
  /** Runs a statement; returns the number of rows it changed. */
  run(sql: string, params?: unknown[]): Promise<number>;
  /** Runs a query; returns its rows (BIGINT columns may come back as strings from PostgreSQL). */
  all<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}
