import type { Cell, PositionalParam } from '../../engine/reader.js';

/**
 * PostgreSQL data types of the lake's columns: the reader's SQL type names (Delta types as the
 * engine spells them) mapped to PostgreSQL type OIDs (the `pg_type` catalog), and each value
 * encoded in the text and binary formats of PostgreSQL's own `typoutput`/`typsend` functions
 * (PostgreSQL documentation, "Frontend/Backend Protocol" → "Formats and Format Codes"; the
 * binary layouts are those of the server's `*send`/`*recv` functions). Decoding of Bind
 * parameters goes the other way.
 */

/** Type OIDs used here (pg_type.oid). */
export const OID = {
  bool: 16, bytea: 17, int8: 20, int2: 21, int4: 23, text: 25, oid: 26, json: 114, float4: 700, float8: 701, unknown: 705,
  varchar: 1043, date: 1082, time: 1083, timestamp: 1114, timestamptz: 1184, interval: 1186, numeric: 1700, uuid: 2950,
} as const;

/** Array type OID of each element OID that has one. */
const ARRAY_OF: Record<number, number> = {
  16: 1000, 17: 1001, 20: 1016, 21: 1005, 23: 1007, 25: 1009, 114: 199, 700: 1021, 701: 1022, 1043: 1015,
  1082: 1182, 1083: 1183, 1114: 1115, 1184: 1185, 1186: 1187, 1700: 1231, 2950: 2951,
};
const ELEMENT_OF: Record<number, number> = Object.fromEntries(Object.entries(ARRAY_OF).map(([e, a]) => [a, Number(e)]));

/** `pg_type.typlen` of fixed-size types; others are -1 (varlena). */
const TYPLEN: Record<number, number> = { 16: 1, 20: 8, 21: 2, 23: 4, 26: 4, 700: 4, 701: 8, 1082: 4, 1083: 8, 1114: 8, 1184: 8, 1186: 16, 2950: 16 };

/** A result column's PostgreSQL type: OID, `typlen` and `typmod` (numeric precision and scale; -1 when none). */
export interface PgType {
  oid: number;
  typlen: number;
  typmod: number;
}

/**
 * The PostgreSQL type of a column of engine type `type` (`BIGINT`, `DECIMAL(10,2)`,
 * `TIMESTAMP WITH TIME ZONE`, `VARCHAR[]`, `STRUCT(...)`...): integers to int2/int4/int8 (wider
 * and unsigned 64-bit ones to numeric), floats to float4/float8, decimals to numeric(p,s), text
 * to text, binary to bytea, date/time/timestamp/timestamptz/interval/uuid to theirs, JSON,
 * structs, maps and unions to json, lists and arrays of a mapped type to its array type (of
 * anything else: json), and an unknown type to text.
 */
export function pgTypeOf(type: string): PgType {
  const t = type.trim().toUpperCase();
  const of = (oid: number, typmod = -1): PgType => ({ oid, typlen: TYPLEN[oid] ?? -1, typmod });
  const list = /^(.*)\[\d*\]$/.exec(t);
  if (list) {
    const element = pgTypeOf(list[1]!);
    const array = ARRAY_OF[element.oid];
    return array ? of(array, element.typmod) : of(OID.json);
  }
  const decimal = /^(?:DECIMAL|NUMERIC)\((\d+),\s*(\d+)\)$/.exec(t);
  if (decimal) return of(OID.numeric, ((Number(decimal[1]) << 16) | Number(decimal[2])) + 4);
  if (/^(STRUCT|MAP|UNION)\b/.test(t)) return of(OID.json);
  switch (t) {
    case 'BOOLEAN': return of(OID.bool);
    case 'TINYINT': case 'SMALLINT': case 'UTINYINT': return of(OID.int2);
    case 'INTEGER': case 'USMALLINT': return of(OID.int4);
    case 'BIGINT': case 'UINTEGER': return of(OID.int8);
    case 'HUGEINT': case 'UBIGINT': case 'UHUGEINT': case 'DECIMAL': case 'NUMERIC': case 'VARINT': case 'BIGNUM': return of(OID.numeric);
    case 'FLOAT': case 'REAL': return of(OID.float4);
    case 'DOUBLE': return of(OID.float8);
    case 'BLOB': case 'BYTEA': return of(OID.bytea);
    case 'DATE': return of(OID.date);
    case 'TIME': return of(OID.time);
    case 'TIMESTAMP': case 'TIMESTAMP_S': case 'TIMESTAMP_MS': case 'TIMESTAMP_NS': case 'DATETIME': return of(OID.timestamp);
    case 'TIMESTAMP WITH TIME ZONE': case 'TIMESTAMPTZ': return of(OID.timestamptz);
    case 'INTERVAL': return of(OID.interval);
    case 'UUID': return of(OID.uuid);
    case 'JSON': return of(OID.json);
    default: return of(OID.text);
  }
}

/** Whether values of `oid` have a binary encoder here (others are sent as text when binary is asked: see `resultType`). */
export function hasBinary(oid: number): boolean {
  if (ELEMENT_OF[oid] !== undefined) return hasBinary(ELEMENT_OF[oid]) && ELEMENT_OF[oid] !== OID.json;
  return oid !== OID.interval;
}

/**
 * The type a column is described and sent as in format `format` (0 text, 1 binary): its own,
 * or text when binary is asked of a type without a binary encoder here (the client then decodes
 * it as text, which the binary format of `text` is).
 */
export function resultType(type: PgType, format: number): PgType {
  return format === 1 && !hasBinary(type.oid) ? { oid: OID.text, typlen: -1, typmod: -1 } : type;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** JSON text of a cell (bigints as numbers, binary as `\x` hex strings). */
export function jsonText(c: Cell): string {
  if (c === null) return 'null';
  if (typeof c === 'bigint') return c.toString();
  if (typeof c === 'number') return Number.isFinite(c) ? String(c) : 'null';
  if (typeof c === 'boolean' || typeof c === 'string') return JSON.stringify(c);
  if (c instanceof Uint8Array) return JSON.stringify(`\\x${hex(c)}`);
  if (Array.isArray(c)) return `[${c.map(jsonText).join(',')}]`;
  return `{${Object.entries(c).map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v)}`).join(',')}}`;
}

/** A float as PostgreSQL prints it (shortest exact form; `Infinity`, `-Infinity`, `NaN`). */
function floatText(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
  return String(v);
}

/** Quotes one element of an array literal when PostgreSQL's `array_out` would. */
function arrayElement(s: string): string {
  return s === '' || /^null$/i.test(s) || /[{}",\\\s]/.test(s) ? `"${s.replace(/[\\"]/g, '\\$&')}"` : s;
}

/** The text format of cell `c` of a column of PostgreSQL type `oid` (null stays null). */
export function textOf(c: Cell, oid: number): string | null {
  if (c === null) return null;
  if (typeof c === 'boolean') return c ? 't' : 'f';
  if (typeof c === 'number') {
    if (oid === OID.float4 && Number.isFinite(c)) {
      // the shortest text that reads back as the same 32-bit float (PostgreSQL's float4out)
      for (let p = 1; p <= 9; p++) if (Math.fround(Number(c.toPrecision(p))) === c) return String(Number(c.toPrecision(p)));
    }
    return oid === OID.float4 || oid === OID.float8 || !Number.isInteger(c) ? floatText(c) : String(c);
  }
  if (typeof c === 'bigint') return c.toString();
  if (typeof c === 'string') return c;
  if (c instanceof Uint8Array) return `\\x${hex(c)}`;
  if (Array.isArray(c) && ELEMENT_OF[oid] !== undefined) {
    const element = ELEMENT_OF[oid];
    return `{${c.map((x) => (x === null ? 'NULL' : Array.isArray(x) ? textOf(x, oid)! : arrayElement(textOf(x, element)!))).join(',')}}`;
  }
  return jsonText(c);
}

/** Epoch of PostgreSQL's binary dates and timestamps (2000-01-01) in ms since 1970. */
const PG_EPOCH_MS = Date.UTC(2000, 0, 1);

/** Microseconds since 2000-01-01 of a timestamp text `YYYY-MM-DD[ T]HH:MM:SS[.ffffff][+HH[:MM]]` (UTC when no offset). Error: TypeError for other text. */
export function timestampMicros(s: string): bigint {
  const m = /^(\d{4,})-(\d\d)-(\d\d)(?:[ T](\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,9}))?)?)?\s*(?:(Z)|([+-])(\d\d)(?::?(\d\d))?)?$/.exec(s.trim());
  if (!m) throw new TypeError(`not a timestamp: ${JSON.stringify(s)}`);
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0));
  const offsetMin = m[9] ? (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11] ?? 0)) : 0;
  const frac = BigInt((m[7] ?? '').padEnd(6, '0').slice(0, 6) || '0');
  return BigInt(ms - PG_EPOCH_MS - offsetMin * 60_000) * 1000n + frac;
}

/** Microseconds since midnight of `HH:MM:SS[.ffffff]`. Error: TypeError for other text. */
function timeMicros(s: string): bigint {
  const m = /^(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?$/.exec(s.trim());
  if (!m) throw new TypeError(`not a time: ${JSON.stringify(s)}`);
  return BigInt((Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3])) * 1_000_000) + BigInt((m[4] ?? '').padEnd(6, '0').slice(0, 6) || '0');
}

/** Days since 2000-01-01 of `YYYY-MM-DD`. Error: TypeError for other text. */
function dateDays(s: string): number {
  const m = /^(\d{4,})-(\d\d)-(\d\d)$/.exec(s.trim());
  if (!m) throw new TypeError(`not a date: ${JSON.stringify(s)}`);
  return Math.round((Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) - PG_EPOCH_MS) / 86_400_000);
}

/** The binary `numeric` of a decimal text (`numeric_send`: ndigits, weight, sign, dscale, base-10000 digits). */
function numericBinary(text: string): Buffer {
  const s = text.trim();
  if (/^nan$/i.test(s)) return Buffer.from([0, 0, 0, 0, 0xc0, 0, 0, 0]);
  const m = /^([+-])?(\d*)(?:\.(\d*))?$/.exec(s);
  if (!m) throw new TypeError(`not a number: ${JSON.stringify(text)}`);
  const negative = m[1] === '-';
  const intPart = (m[2] ?? '').replace(/^0+/, '');
  const fracPart = m[3] ?? '';
  const dscale = fracPart.length;
  // group digits by 4 around the decimal point
  const intPadded = intPart.padStart(Math.ceil(intPart.length / 4) * 4, '0');
  const fracPadded = fracPart.padEnd(Math.ceil(fracPart.length / 4) * 4, '0');
  const digits: number[] = [];
  for (let i = 0; i < intPadded.length; i += 4) digits.push(Number(intPadded.slice(i, i + 4)));
  let weight = digits.length - 1;
  for (let i = 0; i < fracPadded.length; i += 4) digits.push(Number(fracPadded.slice(i, i + 4)));
  // strip leading and trailing zero groups
  while (digits.length && digits[0] === 0) {
    digits.shift();
    weight--;
  }
  while (digits.length && digits[digits.length - 1] === 0) digits.pop();
  if (digits.length === 0) weight = 0;
  const out = Buffer.alloc(8 + digits.length * 2);
  out.writeInt16BE(digits.length, 0);
  out.writeInt16BE(weight, 2);
  out.writeUInt16BE(negative && digits.length ? 0x4000 : 0, 4);
  out.writeInt16BE(dscale, 6);
  digits.forEach((d, i) => out.writeInt16BE(d, 8 + i * 2));
  return out;
}

/**
 * The binary format of cell `c` (not null) of a column of PostgreSQL type `oid` (one with
 * `hasBinary`). Errors: TypeError when the value does not fit the type.
 */
export function binaryOf(c: Exclude<Cell, null>, oid: number): Buffer {
  switch (oid) {
    case OID.bool: return Buffer.from([c === true || c === 't' ? 1 : 0]);
    case OID.int2: { const b = Buffer.alloc(2); b.writeInt16BE(Number(c)); return b; }
    case OID.int4: { const b = Buffer.alloc(4); b.writeInt32BE(Number(c)); return b; }
    case OID.int8: { const b = Buffer.alloc(8); b.writeBigInt64BE(BigInt(c as number | bigint | string)); return b; }
    case OID.float4: { const b = Buffer.alloc(4); b.writeFloatBE(Number(c)); return b; }
    case OID.float8: { const b = Buffer.alloc(8); b.writeDoubleBE(Number(c)); return b; }
    case OID.bytea: return c instanceof Uint8Array ? Buffer.from(c) : Buffer.from(String(c), 'utf8');
    case OID.date: { const b = Buffer.alloc(4); b.writeInt32BE(c === 'infinity' ? 0x7fffffff : c === '-infinity' ? -0x80000000 : dateDays(String(c))); return b; }
    case OID.time: { const b = Buffer.alloc(8); b.writeBigInt64BE(timeMicros(String(c))); return b; }
    case OID.timestamp: case OID.timestamptz: {
      // PostgreSQL's infinite timestamps are the extreme 64-bit values
      const b = Buffer.alloc(8);
      b.writeBigInt64BE(c === 'infinity' ? 0x7fffffffffffffffn : c === '-infinity' ? -0x8000000000000000n : timestampMicros(String(c)));
      return b;
    }
    case OID.uuid: return Buffer.from(String(c).replace(/-/g, ''), 'hex');
    case OID.numeric: return numericBinary(typeof c === 'number' ? (Number.isInteger(c) ? String(c) : c.toFixed(15).replace(/0+$/, '')) : String(c));
    default: {
      const element = ELEMENT_OF[oid];
      if (element !== undefined && Array.isArray(c)) return arrayBinary(c, element);
      return Buffer.from(textOf(c, oid) ?? '', 'utf8');
    }
  }
}

/** A one-dimensional array in `array_send`'s layout (ndim, has-null flag, element OID, size, lower bound 1, elements). */
function arrayBinary(items: Cell[], element: number): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(20);
  head.writeInt32BE(1, 0);
  head.writeInt32BE(items.some((x) => x === null) ? 1 : 0, 4);
  head.writeInt32BE(element, 8);
  head.writeInt32BE(items.length, 12);
  head.writeInt32BE(1, 16);
  parts.push(head);
  for (const x of items) {
    const len = Buffer.alloc(4);
    if (x === null) {
      len.writeInt32BE(-1);
      parts.push(len);
    } else {
      const v = binaryOf(x, element);
      len.writeInt32BE(v.length);
      parts.push(len, v);
    }
  }
  return Buffer.concat(parts);
}

/** A Bind parameter the client sent that does not parse as its type (SQLSTATE 22P02). */
export class ParameterInvalid extends Error {
  override readonly name = 'ParameterInvalid';
}

/**
 * The typed value of Bind parameter `raw` (null: SQL NULL) in format `format` (0 text, 1
 * binary) of type `oid` — the client's OID, or 0 when it left the type to the server, then
 * `inferred` (the engine's type of the parameter, e.g. `INTEGER`) decides. Integers bind as
 * BIGINT, floats and numerics as DOUBLE, booleans, dates and timestamps as theirs, anything
 * else as VARCHAR (the engine casts it where the statement needs another type). Errors:
 * ParameterInvalid for a value that does not parse, or a binary value of a type not decoded here.
 */
export function decodeParam(raw: Buffer | null, format: number, oid: number, inferred: string): PositionalParam {
  if (raw === null) return { type: 'NULL' };
  const kind = oid && oid !== OID.unknown ? kindOfOid(oid) : kindOfEngineType(inferred);
  if (format === 1) {
    switch (oid) {
      case OID.bool: return { type: 'BOOLEAN', value: raw[0] === 1 };
      case OID.int2: return { type: 'BIGINT', value: raw.readInt16BE(0) };
      case OID.int4: return { type: 'BIGINT', value: raw.readInt32BE(0) };
      case OID.int8: return { type: 'BIGINT', value: raw.readBigInt64BE(0) };
      case OID.float4: return { type: 'DOUBLE', value: raw.readFloatBE(0) };
      case OID.float8: return { type: 'DOUBLE', value: raw.readDoubleBE(0) };
      case OID.date: return { type: 'DATE', value: new Date(PG_EPOCH_MS + raw.readInt32BE(0) * 86_400_000).toISOString().slice(0, 10) };
      case OID.timestamp: case OID.timestamptz: return { type: 'TIMESTAMP', value: new Date(PG_EPOCH_MS + Number(raw.readBigInt64BE(0) / 1000n)).toISOString() };
      case OID.text: case OID.varchar: case OID.unknown: case 0: case OID.json: return textParam(raw.toString('utf8'), kind);
      default: throw new ParameterInvalid(`binary parameters of type OID ${oid} are not supported; send it in text format`);
    }
  }
  return textParam(raw.toString('utf8'), kind);
}

type ParamKind = 'integer' | 'float' | 'boolean' | 'date' | 'timestamp' | 'text';

function kindOfOid(oid: number): ParamKind {
  switch (oid) {
    case OID.int2: case OID.int4: case OID.int8: case OID.oid: return 'integer';
    case OID.float4: case OID.float8: case OID.numeric: return 'float';
    case OID.bool: return 'boolean';
    case OID.date: return 'date';
    case OID.timestamp: case OID.timestamptz: return 'timestamp';
    default: return 'text';
  }
}

function kindOfEngineType(type: string): ParamKind {
  const oid = pgTypeOf(type).oid;
  return oid === OID.numeric ? 'float' : kindOfOid(oid);
}

function textParam(text: string, kind: ParamKind): PositionalParam {
  const bad = (what: string): never => { throw new ParameterInvalid(`invalid input syntax for type ${what}: ${JSON.stringify(text)}`); };
  switch (kind) {
    case 'integer': return /^\s*[+-]?\d+\s*$/.test(text) ? { type: 'BIGINT', value: BigInt(text.trim()) } : bad('integer');
    case 'float': { const v = Number(text); return text.trim() !== '' && !Number.isNaN(v) || /^\s*nan\s*$/i.test(text) ? { type: 'DOUBLE', value: v } : bad('double precision'); }
    case 'boolean': {
      const t = text.trim().toLowerCase();
      if (['t', 'true', 'y', 'yes', 'on', '1'].includes(t)) return { type: 'BOOLEAN', value: true };
      if (['f', 'false', 'n', 'no', 'off', '0'].includes(t)) return { type: 'BOOLEAN', value: false };
      return bad('boolean');
    }
    case 'date': return /^\s*\d{4,}-\d\d-\d\d\s*$/.test(text) ? { type: 'DATE', value: text.trim() } : bad('date');
    case 'timestamp': {
      try {
        return { type: 'TIMESTAMP', value: new Date(Number(timestampMicros(text) / 1000n) + PG_EPOCH_MS).toISOString() };
      } catch {
        return bad('timestamp');
      }
    }
    case 'text': return { type: 'VARCHAR', value: text };
  }
}
