import { standardIdent, type Dialect } from '../dialect.js';
import { SPARK_PORTABLE } from './portable.js';
import { sparkQuotes, sparkString, sparkTypeOf } from './sql.js';

/**
 * Spark SQL as the Spark engine's sessions read it (ANSI mode, double-quoted identifiers):
 * backslash escapes and `r'...'` raw literals, backquoted identifiers, no infinite dates (a full
 * refresh's bounds become 0001-01-01 and 9999-12-31), `TIMESTAMP` for Delta's `timestamp`.
 */
export const SPARK_DIALECT: Dialect = {
  name: 'spark',
  lex: { backslashEscapes: true, escapeStrings: false, rawStrings: true, dollarQuotes: false, backtickIdentifiers: true },
  quoteIdent: standardIdent,
  quoteString: sparkString,
  stringToken: sparkQuotes,
  typeName: sparkTypeOf,
  timestampLiteral: (iso) => `TIMESTAMP ${sparkString(iso)}`,
  finiteBound: (bound) => (bound === '-infinity' ? '0001-01-01' : bound === 'infinity' ? '9999-12-31' : bound),
  jsonOf: (columns) => `to_json(named_struct(${columns.map((c) => `${sparkString(c)}, ${standardIdent(c)}`).join(', ')}))`,
  // xxhash64 is a signed BIGINT; its high half, unsigned
  keyFingerprint: (exprs) => `shiftrightunsigned(xxhash64(${exprs.join(', ')}), 32)`,
  portable: SPARK_PORTABLE,
};
