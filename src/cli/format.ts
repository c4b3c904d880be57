import type { Row } from '../engine/engine.js';

/** Output formats of `ingot sql` and the listing commands. */
export type OutputFormat = 'table' | 'csv' | 'json';

/** Renders rows as an aligned text table (numbers right-aligned), CSV (RFC 4180) or a JSON array. */
export function formatRows(rows: Row[], format: OutputFormat, columns: string[] = rows[0] ? Object.keys(rows[0]) : []): string {
  if (format === 'json') return JSON.stringify(rows, null, 2);
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
