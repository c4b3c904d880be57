import type { DataType } from '../table/schema.js';
import type { PortableDialect } from './portable-functions.js';
import type { LexRules } from './sql-tokens.js';

/**
 * How an engine spells SQL: the one value code outside `src/engine` asks when it writes SQL for
 * whichever engine runs a dataset (it never asks which engine that is). Each engine folder
 * exports one (`duckdb/dialect.ts`, `spark/dialect.ts`), registered in `registry.ts`.
 */
export interface Dialect {
  /** The engine's name as users write it: `engine: '<name>'`, `-- engine: <name>`, override files `x.<name>.sql`. */
  readonly name: string;
  /** How the engine's parser reads string literals and quoted identifiers (see `tokenize`). */
  readonly lex: LexRules;
  /** An identifier: `"a""b"`. */
  quoteIdent(name: string): string;
  /** A string literal whose value is exactly `value` (`'it''s'` on DuckDB, `'it\'s'` on Spark). */
  quoteString(value: string): string;
  /**
   * A string literal token as a user wrote it in portable SQL (`''` inside stands for one quote,
   * as in standard SQL) rewritten so this engine reads the same value.
   */
  stringToken(text: string): string;
  /** The SQL type that stores Delta type `t` (`VARCHAR` / `STRING`, `TIMESTAMPTZ` / `TIMESTAMP`...). Error: PROTOCOL_UNSUPPORTED. */
  typeName(t: DataType): string;
  /** A literal of the instant `iso` (ISO 8601, UTC) typed as Delta `timestamp`. */
  timestampLiteral(iso: string): string;
  /**
   * An interval bound the engine can hold: `-infinity` / `infinity` as they are where the engine
   * has infinite dates, else the earliest / latest date it has; other bounds unchanged.
   */
  finiteBound(bound: string): string;
  /** An expression giving the named columns of a row as JSON text (`{"id":1}`), for messages. */
  jsonOf(columns: string[]): string;
  /**
   * A 32-bit fingerprint of the tuple of `exprs` (SQL expressions): an integer in [0, 2^32)
   * that is the same for equal tuples of values of the same types, within one process at
   * least (tuples of different types may differ: callers cast first). Different tuples may share
   * a fingerprint. The MERGE key index (`operations/key-index.ts`) compares them in JavaScript.
   */
  keyFingerprint(exprs: string[]): string;
  /**
   * An expression that fails the query evaluating it, with `message` in the engine's error (DuckDB
   * `error(...)`); absent on engines without one. The check stage guards a write's query with it
   * (`run/step/check.ts`).
   */
  raiseError?(message: string): string;
  /** The engine's SQL for each portable function (`ingot.<name>(...)`). */
  readonly portable: PortableDialect;
}

/** Standard SQL quoting of an identifier: `"a""b"`. */
export function standardIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Standard SQL quoting of a string: `'it''s'`. */
export function standardString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
