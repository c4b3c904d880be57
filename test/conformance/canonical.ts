/**
 * Canonical JSON lines of rows as ingot's DuckDB engine returns them (`getRowObjectsJson`), the
 * same text `delta_rs_dump.py` writes for delta-rs's rows (its docstring is the specification;
 * the two must stay in step). Integers, floats, decimals, strings and booleans go through
 * `canonicalValue` of test/helpers.ts; dates, timestamps (any year, BC included), binary and maps
 * are handled here.
 */
import { createHash } from 'node:crypto';
import type { DataType, StructType } from '../../src/table/schema.js';
import { canonicalValue } from '../helpers.js';

/** Rows of one version in canonical form: count, hash of all sorted lines, and the lines (all, or the first `sample`). */
export interface CanonicalRows {
  count: number;
  hash: string;
  rows: string[];
  truncated: boolean;
}

const DATE = /^(\d{4,})-(\d{2})-(\d{2})$/;
const TIMESTAMP = /^(\d{4,})-(\d{2})-(\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(?:[+-]00(?::?00)?)?$/;

/** `YYYY-MM-DD`, with DuckDB's ` (BC)` suffix turned into a signed astronomical year (1 BC = 0000). */
function canonicalDate(y: string, m: string, d: string, bc: boolean): string {
  if (!bc) return `${y}-${m}-${d}`;
  const year = Number(y) - 1;
  return `${year === 0 ? '' : '-'}${String(year).padStart(4, '0')}-${m}-${d}`;
}

/**
 * Decodes DuckDB's BLOB text (`\xHH` escapes, other bytes as is) to lowercase hex. Ambiguous
 * when the blob holds a backslash followed by `xHH` (DuckDB prints the backslash raw), so
 * `selectHex` turns top-level binary columns into hex in SQL and only nested ones come here.
 */
function blobHex(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && /^x[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 4))) {
      bytes.push(parseInt(s.slice(i + 2, i + 4), 16));
      i += 3;
    } else {
      bytes.push(s.charCodeAt(i));
    }
  }
  return Buffer.from(bytes).toString('hex');
}

export { selectHex } from '../helpers.js';

/**
 * The canonical value of `v`, a DuckDB JSON value of Delta type `type` (binary: already hex when
 * `hex`). Throws when `v` does not fit `type`.
 */
export function canonical(type: DataType, v: unknown, where: string, hex = false): unknown {
  if (v === null || v === undefined) return null;
  if (typeof type !== 'string') {
    switch (type.type) {
      case 'struct': {
        if (typeof v !== 'object' || Array.isArray(v)) throw new Error(`${where}: expected a struct, got ${JSON.stringify(v)}`);
        const o = v as Record<string, unknown>;
        const extra = Object.keys(o).filter((k) => !type.fields.some((f) => f.name === k));
        if (extra.length > 0) throw new Error(`${where}: struct has unexpected fields ${extra.join(', ')}`);
        return Object.fromEntries(type.fields.map((f) => [f.name, canonical(f.type, o[f.name], `${where}.${f.name}`)]));
      }
      case 'array':
        if (!Array.isArray(v)) throw new Error(`${where}: expected an array, got ${JSON.stringify(v)}`);
        return v.map((x, i) => canonical(type.elementType, x, `${where}[${i}]`));
      case 'map': {
        if (!Array.isArray(v)) throw new Error(`${where}: expected a map (list of {key, value}), got ${JSON.stringify(v)}`);
        const pairs = (v as { key: unknown; value: unknown }[]).map((e) => [canonical(type.keyType, e.key, `${where}.key`), canonical(type.valueType, e.value, `${where}.value`)]);
        const k = (p: unknown[]): string => JSON.stringify(p[0]);
        return pairs.sort((a, b) => (k(a) < k(b) ? -1 : k(a) > k(b) ? 1 : 0));
      }
    }
  }
  const bc = typeof v === 'string' && v.endsWith(' (BC)');
  const text = bc ? (v as string).slice(0, -5) : v;
  if (type === 'date') {
    const m = typeof text === 'string' ? DATE.exec(text) : null;
    if (!m) throw new Error(`${where}: ${JSON.stringify(v)} is not a date value`);
    return canonicalDate(m[1]!, m[2]!, m[3]!, bc);
  }
  if (type === 'timestamp' || type === 'timestamp_ntz') {
    const m = typeof text === 'string' ? TIMESTAMP.exec(text) : null;
    if (!m) throw new Error(`${where}: ${JSON.stringify(v)} is not a ${type} value`);
    return `${canonicalDate(m[1]!, m[2]!, m[3]!, bc)}T${m[4]}.${(m[5] ?? '').padEnd(6, '0')}${type === 'timestamp' ? 'Z' : ''}`;
  }
  if (type === 'binary') {
    if (typeof v !== 'string' || (hex && !/^[0-9a-f]*$/.test(v))) throw new Error(`${where}: ${JSON.stringify(v)} is not a binary value`);
    return hex ? v : blobHex(v);
  }
  return canonicalValue(type, v, where);
}

/** One canonical JSON line per row (columns in schema order), sorted by UTF-16 code units, hashed. Rows come from `selectHex`. */
export function canonicalRows(schema: StructType, rows: Record<string, unknown>[], cap: number, sample: number): CanonicalRows {
  const lines = rows.map((row, i) => {
    const extra = Object.keys(row).filter((k) => !schema.fields.some((f) => f.name === k));
    if (extra.length > 0) throw new Error(`row ${i} has columns not in the schema: ${extra.join(', ')}`);
    return JSON.stringify(Object.fromEntries(schema.fields.map((f) => [f.name, canonical(f.type, row[f.name], `row ${i} column ${f.name}`, true)])));
  });
  lines.sort();
  const hash = createHash('sha256').update(lines.join('\n')).digest('hex');
  const truncated = lines.length > cap;
  return { count: lines.length, hash, rows: truncated ? lines.slice(0, sample) : lines, truncated };
}
