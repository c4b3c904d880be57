import { ROW_FILE, ROW_NUMBER } from '../engine/engine.js';
import type { QueryParam, ReaderDialect } from '../engine/reader.js';
import { IngotError } from '../errors.js';
import type { DataType, StructType } from '../table/schema.js';

/** One ORDER BY key of a rows read. */
export interface OrderKey {
  column: string;
  desc: boolean;
}

/** What a rows cursor holds: the table version being paged and the sort keys of the last row returned (as the reader's casts to its string type print them; null for NULL). */
interface CursorState {
  /** Table version. */
  v: number;
  /** `order` as requested (`col:desc,col2`), so a cursor is not reused with another order. */
  o: string;
  /** Values of the order columns, then `__ingot_file` and `__ingot_row`. */
  k: (string | null)[];
}

/** Filter operators of `?<col>.<op>=`; `<col>=` alone is `eq`. */
const OPERATORS = { eq: '=', ne: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=', in: 'IN' } as const;
type Operator = keyof typeof OPERATORS;

/** Query parameters of the rows route that are not filters. */
export const ROW_PARAMS = new Set(['limit', 'cursor', 'order', 'version']);

/** A WHERE clause with its parameters (`$p0`, `$p1`... bound as VARCHAR and cast in SQL). */
export interface Clause {
  sql: string;
  params: Record<string, QueryParam>;
}

const isPrimitive = (schema: StructType, column: string): boolean => typeof schema.fields.find((f) => f.name === column)?.type === 'string';

/** The Delta type of primitive column `column`. Errors: COLUMN_UNKNOWN naming it (in `what`). */
function columnType(schema: StructType, column: string, what: string): DataType {
  const f = schema.fields.find((x) => x.name === column);
  if (!f) throw new IngotError('COLUMN_UNKNOWN', `${what}: unknown column ${JSON.stringify(column)} (columns: ${schema.fields.map((x) => x.name).join(', ')})`, { column });
  if (typeof f.type !== 'string') throw new IngotError('COLUMN_UNKNOWN', `${what}: column ${column} is a ${f.type.type}; only columns of primitive types can be filtered or ordered`, { column });
  return f.type;
}

/**
 * The filters of a rows query: `<col>=v` (eq), `<col>.<op>=v` for op in eq, ne, gt, gte, lt, lte,
 * and `<col>.in=a,b,c`. Values are bound as text and cast to the column's type in SQL (as
 * `dialect` spells it), so a value that does not parse as that type fails the query (SQL_ERROR).
 * Errors: COLUMN_UNKNOWN naming the column (also for `<col>.<unknown op>`).
 */
export function filterClause(query: Record<string, unknown>, schema: StructType, dialect: ReaderDialect): Clause {
  const parts: string[] = [];
  const params: Record<string, QueryParam> = {};
  let n = 0;
  const bind = (v: string, type: string): string => {
    const p = `p${n++}`;
    params[p] = { type: 'VARCHAR', value: v };
    return `CAST($${p} AS ${type})`;
  };
  for (const [key, raw] of Object.entries(query)) {
    if (ROW_PARAMS.has(key)) continue;
    const dot = key.lastIndexOf('.');
    const suffix = dot > 0 ? key.slice(dot + 1) : '';
    const op: Operator = suffix in OPERATORS ? (suffix as Operator) : 'eq';
    const column = suffix in OPERATORS ? key.slice(0, dot) : key;
    const type = dialect.typeName(columnType(schema, column, `filter ${key}`));
    for (const value of Array.isArray(raw) ? raw.map(String) : [String(raw)]) {
      if (op === 'in') {
        const values = value.split(',');
        parts.push(`${dialect.quoteIdent(column)} IN (${values.map((v) => bind(v, type)).join(', ')})`);
      } else {
        parts.push(`${dialect.quoteIdent(column)} ${OPERATORS[op]} ${bind(value, type)}`);
      }
    }
  }
  return { sql: parts.length ? parts.join(' AND ') : 'true', params };
}

/** Parses `order=col[:desc][,col2[:asc]]`. Errors: COLUMN_UNKNOWN naming the column. */
export function parseOrder(order: string | undefined, schema: StructType): OrderKey[] {
  if (!order) return [];
  return order.split(',').map((part) => {
    const [column = '', dir = 'asc'] = part.split(':');
    if (dir !== 'asc' && dir !== 'desc') throw new IngotError('INPUT_MALFORMED', `order ${part}: direction must be asc or desc`, { column });
    columnType(schema, column, 'order');
    if (!isPrimitive(schema, column)) throw new IngotError('COLUMN_UNKNOWN', `order: column ${column} cannot be ordered`, { column });
    return { column, desc: dir === 'desc' };
  });
}

/** The full sort of a rows read: the requested keys, then the row's file and position (unique, so the order is total). */
export function sortKeys(order: OrderKey[]): OrderKey[] {
  return [...order, { column: ROW_FILE, desc: false }, { column: ROW_NUMBER, desc: false }];
}

/** `ORDER BY` text of `keys` (NULLs last, as the keyset condition assumes). */
export function orderBy(keys: OrderKey[], dialect: ReaderDialect): string {
  return keys.map((k) => `${dialect.quoteIdent(k.column)} ${k.desc ? 'DESC' : 'ASC'} NULLS LAST`).join(', ');
}

/** Opaque cursor text (base64url JSON) for the row with sort-key values `k`. */
export function encodeCursor(version: number, order: string, k: (string | null)[]): string {
  return Buffer.from(JSON.stringify({ v: version, o: order, k } satisfies CursorState)).toString('base64url');
}

/** Reads a cursor. Errors: INPUT_MALFORMED when it is not one this server issued for `order`. */
export function decodeCursor(cursor: string, order: string, keys: number): CursorState {
  let state: CursorState;
  try {
    state = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as CursorState;
  } catch {
    throw new IngotError('INPUT_MALFORMED', 'cursor: not a cursor this server issued');
  }
  if (!state || !Number.isInteger(state.v) || typeof state.o !== 'string' || !Array.isArray(state.k) || state.k.length !== keys
    || state.k.some((x) => x !== null && typeof x !== 'string')) {
    throw new IngotError('INPUT_MALFORMED', 'cursor: not a cursor this server issued');
  }
  if (state.o !== order) throw new IngotError('INPUT_MALFORMED', `cursor: issued for order ${JSON.stringify(state.o)}, not ${JSON.stringify(order)}`);
  return state;
}

/**
 * The keyset condition "after the row with sort values `after`" for `keys` (ascending or
 * descending, NULLs last): a disjunction over key prefixes, values bound as text (`$k0`...) and
 * cast to each column's type (as `dialect` spells it). Errors: COLUMN_UNKNOWN.
 */
export function afterClause(keys: OrderKey[], after: (string | null)[], schema: StructType, dialect: ReaderDialect): Clause {
  const params: Record<string, QueryParam> = {};
  const typeOf = (c: string): string => dialect.typeName(c === ROW_FILE ? 'string' : c === ROW_NUMBER ? 'long' : columnType(schema, c, 'cursor'));
  const equal: string[] = [];
  const ors: string[] = [];
  keys.forEach((key, i) => {
    const col = dialect.quoteIdent(key.column);
    const v = after[i] ?? null;
    let value = '';
    if (v !== null) {
      params[`k${i}`] = { type: 'VARCHAR', value: v };
      value = `CAST($k${i} AS ${typeOf(key.column)})`;
    }
    // strictly after in this key (NULLs sort last: nothing is after a NULL)
    if (v !== null) ors.push([...equal, `(${col} ${key.desc ? '<' : '>'} ${value} OR ${col} IS NULL)`].join(' AND '));
    equal.push(v === null ? `${col} IS NULL` : `${col} = ${value}`);
  });
  return { sql: ors.length ? `(${ors.map((o) => `(${o})`).join(' OR ')})` : 'false', params };
}
