import { standardIdent, standardString, type Dialect } from '../dialect.js';
import { DUCKDB_PORTABLE } from './portable.js';
import { duckTypeOf } from './types.js';

/**
 * DuckDB's SQL: standard quoting (`'it''s'`, `"a""b"`), `E'...'` and dollar-quoted literals,
 * infinite dates, `TIMESTAMPTZ` for Delta's `timestamp` (an instant).
 */
export const DUCKDB_DIALECT: Dialect = {
  name: 'duckdb',
  lex: { backslashEscapes: false, escapeStrings: true, rawStrings: false, dollarQuotes: true, backtickIdentifiers: false },
  quoteIdent: standardIdent,
  quoteString: standardString,
  stringToken: (text) => text,
  typeName: duckTypeOf,
  timestampLiteral: (iso) => `TIMESTAMPTZ ${standardString(iso)}`,
  finiteBound: (bound) => bound,
  jsonOf: (columns) => `to_json(struct_pack(${columns.map((c) => `${standardIdent(c)} := ${standardIdent(c)}`).join(', ')}))::VARCHAR`,
  portable: DUCKDB_PORTABLE,
};
