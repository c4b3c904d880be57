import { standardIdent, standardString, type Dialect } from '../dialect.js';
import { DUCKDB_PORTABLE } from './portable.js';
import { IngotError } from '../../errors.js';
import type { DataType } from '../../table/schema.js';

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
  // hash() is a 64-bit UBIGINT; its high half (a UINTEGER reaches JavaScript as a number)
  keyFingerprint: (exprs) => `(hash(${exprs.join(', ')}) >> 32)::UINTEGER`,
  raiseError: (message) => `error(${standardString(message)})`,
  portable: DUCKDB_PORTABLE,
};

/** The DuckDB SQL type that stores Delta type `t`. */
export function duckTypeOf(t: DataType): string {
  if (typeof t === 'string') {
    const dec = /^decimal\((\d+),\s*(\d+)\)$/.exec(t);
    if (dec) return `DECIMAL(${dec[1]},${dec[2]})`;
    const map: Record<string, string> = {
      string: 'VARCHAR', long: 'BIGINT', integer: 'INTEGER', short: 'SMALLINT', byte: 'TINYINT',
      float: 'FLOAT', double: 'DOUBLE', boolean: 'BOOLEAN', binary: 'BLOB', date: 'DATE',
      timestamp: 'TIMESTAMPTZ', timestamp_ntz: 'TIMESTAMP', decimal: 'DECIMAL(10,0)',
    };
    const d = map[t];
    if (!d) throw new IngotError('PROTOCOL_UNSUPPORTED', `Delta type ${t} is not supported`);
    return d;
  }
  switch (t.type) {
    case 'array': return `${duckTypeOf(t.elementType)}[]`;
    case 'map': return `MAP(${duckTypeOf(t.keyType)}, ${duckTypeOf(t.valueType)})`;
    case 'struct': return `STRUCT(${t.fields.map((f) => `"${f.name.replace(/"/g, '""')}" ${duckTypeOf(f.type)}`).join(', ')})`;
  }
}
