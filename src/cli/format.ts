import type { Row } from '../engine/engine.js';
import type { DataType } from '../table/schema.js';

/** Output formats of `ingot sql` and the listing commands. */
export type OutputFormat = 'table' | 'csv' | 'json';

/**
 * Renders rows as an aligned text table (numbers right-aligned), CSV (RFC 4180) or a JSON array.
 * `columns` (default: the first row's keys) give the header, printed for zero rows too. With the
 * columns' Delta `types`, JSON prints integers and decimals (which the engine returns as text) as
 * numbers when a double holds them exactly (integers within ±2^53, decimals whose shortest
 * double spelling is the same number), and as strings otherwise, so no digit is lost.
 */
export function formatRows(rows: Row[], format: OutputFormat, columns: string[] = rows[0] ? Object.keys(rows[0]) : [], types: Record<string, DataType> = {}): string {
  if (format === 'json') {
    const exact = columns.filter((c) => isExactNumberType(types[c]));
    if (exact.length === 0) return JSON.stringify(rows, null, 2);
    return JSON.stringify(rows.map((r) => {
      const o: Row = { ...r };
      for (const c of exact) o[c] = asExactNumber(o[c]);
      return o;
    }), null, 2);
  }
  const cell = (v: unknown): string => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  if (format === 'csv') {
    const esc = (s: string): string => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
    return [columns.map(esc).join(','), ...rows.map((r) => columns.map((c) => esc(cell(r[c]))).join(','))].join('\n');
  }
  const text = rows.map((r) => columns.map((c) => (r[c] === null || r[c] === undefined ? 'NULL' : cell(r[c]))));
  const numeric = columns.map((c) => rows.length > 0 && rows.every((r) => r[c] === null || typeof r[c] === 'number' || /^-?\d+(\.\d+)?$/.test(String(r[c]))));
  const widths = columns.map((c, i) => Math.max(c.length, ...text.map((t) => t[i]!.length)));
  const line = (cells: string[]): string => cells.map((s, i) => (numeric[i] ? s.padStart(widths[i]!) : s.padEnd(widths[i]!))).join('  ').trimEnd();
  const out = [line(columns), widths.map((w) => '-'.repeat(w)).join('  '), ...text.map(line)];
  out.push(`(${rows.length} row${rows.length === 1 ? '' : 's'})`);
  return out.join('\n');
}

/** Integer and decimal types, whose values the engine returns as text. */
function isExactNumberType(t: DataType | undefined): boolean {
  return t === 'long' || t === 'integer' || t === 'short' || t === 'byte' || (typeof t === 'string' && t.startsWith('decimal'));
}

/** A numeric text as a number when a double holds it exactly, otherwise as it is. */
function asExactNumber(v: unknown): unknown {
  if (typeof v === 'bigint') v = v.toString();
  if (typeof v !== 'string' || !/^-?\d+(\.\d+)?$/.test(v)) return v;
  const x = Number(v);
  if (/^-?\d+$/.test(v)) return Number.isSafeInteger(x) ? x : v;
  // a decimal: exact when its digits, trailing zeros aside, are the double's shortest spelling
  const canonical = v.replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '').replace(/^(-?)0+(?=\d)/, '$1');
  return String(x) === canonical ? x : v;
}

/** `1234567` → `1,234,567`. */
export function n(value: number): string {
  return value.toLocaleString('en-US');
}

/** Milliseconds as `0.42s` / `1m 03s`. */
export function duration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
}
