import { DataType as A, type Field, type Schema, type Table } from 'apache-arrow';
import { IngotError } from '../../errors.js';
import type { DataType, StructType } from '../../table/schema.js';
import type { Row } from '../engine.js';

/**
 * Arrow (as Spark Connect sends results) → ingot rows and Delta schemas. Row values take the
 * JSON-friendly forms the DuckDB engine's `query` gives, so both engines' rows compare equal:
 * 64-bit integers and decimals as strings (decimals with all their scale digits, `"1.50"`),
 * dates `YYYY-MM-DD`, timestamps `YYYY-MM-DD HH:MM:SS[.ffffff]+00` (UTC; without `+00` for
 * timestamp_ntz, fraction digits trimmed), binary as base64, lists as arrays, structs and maps as objects.
 */

/** The Delta type of an Arrow type (Spark's Arrow mapping: Timestamp with a time zone is `timestamp`). Error: SCHEMA_MISMATCH naming the column. */
export function deltaTypeOfArrow(t: A, column: string): DataType {
  if (A.isBool(t)) return 'boolean';
  if (A.isInt(t)) {
    const bits = t.bitWidth;
    return bits === 8 ? 'byte' : bits === 16 ? 'short' : bits === 32 ? 'integer' : 'long';
  }
  if (A.isFloat(t)) return t.precision === 0 || t.precision === 1 ? 'float' : 'double';
  if (A.isDecimal(t)) return `decimal(${t.precision},${t.scale})`;
  if (A.isUtf8(t) || A.isLargeUtf8(t)) return 'string';
  if (A.isBinary(t) || A.isLargeBinary(t)) return 'binary';
  if (A.isDate(t)) return 'date';
  if (A.isTimestamp(t)) return t.timezone ? 'timestamp' : 'timestamp_ntz';
  if (A.isList(t)) return { type: 'array', elementType: deltaTypeOfArrow(t.children[0]!.type, `${column}[]`), containsNull: true };
  if (A.isStruct(t)) return { type: 'struct', fields: t.children.map((f) => fieldOf(f, `${column}.${f.name}`)) };
  if (A.isMap(t)) {
    const entry = t.children[0]!.type as A;
    return { type: 'map', keyType: deltaTypeOfArrow(entry.children[0]!.type, `${column}.key`), valueType: deltaTypeOfArrow(entry.children[1]!.type, `${column}.value`), valueContainsNull: true };
  }
  if (A.isNull(t)) throw new IngotError('SCHEMA_MISMATCH', `column ${column} has no type (a bare NULL): cast it, e.g. CAST(NULL AS STRING)`, { column });
  throw new IngotError('SCHEMA_MISMATCH', `column ${column} has Arrow type ${String(t)}, which Delta tables cannot store: cast it to a supported type`, { column });
}

function fieldOf(f: Field, column: string): StructType['fields'][number] {
  return { name: f.name, type: deltaTypeOfArrow(f.type as A, column), nullable: true, metadata: {} };
}

/** The Delta schema of an Arrow schema (every field nullable, as ingot's engines report them). */
export function deltaSchemaOfArrow(schema: Schema): StructType {
  return { type: 'struct', fields: schema.fields.map((f) => fieldOf(f, f.name)) };
}

/** The rows of an Arrow table as JSON-friendly objects (see the file comment). */
export function rowsOf(table: Table): Row[] {
  const fields = table.schema.fields;
  const columns = fields.map((f, i) => table.getChildAt(i)!);
  const rows: Row[] = new Array<Row>(table.numRows);
  for (let r = 0; r < table.numRows; r++) {
    const row: Row = {};
    for (let c = 0; c < fields.length; c++) row[fields[c]!.name] = jsonValue(fields[c]!.type as A, columns[c]!.get(r));
    rows[r] = row;
  }
  return rows;
}

/** One Arrow value (as `Vector.get` returns it) of type `t` in the JSON-friendly form. */
export function jsonValue(t: A, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (A.isInt(t)) return t.bitWidth === 64 ? String(v) : Number(v);
  if (A.isFloat(t)) return Number(v);
  if (A.isDecimal(t)) return decimalString(v as Uint32Array, t.scale);
  if (A.isDate(t)) return new Date(Number(v)).toISOString().slice(0, 10);
  if (A.isTimestamp(t)) return timestampString(v as number, t.unit, Boolean(t.timezone));
  if (A.isBinary(t) || A.isLargeBinary(t)) return Buffer.from(v as Uint8Array).toString('base64');
  if (A.isList(t)) {
    const inner = t.children[0]!.type as A;
    return [...(v as Iterable<unknown>)].map((x) => jsonValue(inner, x));
  }
  if (A.isStruct(t)) {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(t.children.map((f) => [f.name, jsonValue(f.type as A, o[f.name])]));
  }
  if (A.isMap(t)) {
    const entry = t.children[0]!.type as A;
    const out: Record<string, unknown> = {};
    for (const [k, x] of (v as Map<unknown, unknown>)) out[String(jsonValue(entry.children[0]!.type as A, k))] = jsonValue(entry.children[1]!.type as A, x);
    return out;
  }
  return v;
}

/** A 128-bit two's complement little-endian decimal (four 32-bit words) as a string with `scale` fraction digits. */
function decimalString(words: Uint32Array, scale: number): string {
  let n = 0n;
  for (let i = words.length - 1; i >= 0; i--) n = (n << 32n) | BigInt(words[i]!);
  const bits = BigInt(words.length * 32);
  if (n >> (bits - 1n)) n -= 1n << bits;
  const neg = n < 0n;
  const digits = (neg ? -n : n).toString().padStart(scale + 1, '0');
  const s = scale > 0 ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return neg ? `-${s}` : s;
}

/** Arrow TimeUnit: 0 s, 1 ms, 2 µs, 3 ns. `v` as Vector.get gives it: milliseconds since the epoch (a float). */
function timestampString(v: number, _unit: number, utc: boolean): string {
  const ms = Math.floor(v);
  const micros = Math.round((v - ms) * 1000);
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  const fraction = `${iso.slice(20, 23)}${String(micros).padStart(3, '0')}`.replace(/0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${fraction ? `.${fraction}` : ''}${utc ? '+00' : ''}`;
}
