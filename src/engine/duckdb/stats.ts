import type { FileStats } from '../../table/actions.js';
import type { DataType, StructType } from '../../table/schema.js';

/**
 * Converts the per-file column statistics DuckDB returns from `COPY ... (RETURN_STATS)` into
 * Delta's per-file statistics (PROTOCOL.md, "Per-file Statistics"): JSON-typed min/max per leaf
 * column (structs nested, arrays and maps skipped) and null counts. Bounds are only ever widened:
 * strings longer than 32 characters keep a prefix as minimum and no maximum; timestamps are
 * rounded to milliseconds outward.
 */
export function deltaStats(numRecords: number, columnStats: { key: string; value: { key: string; value: string | null }[] }[], schema: StructType): FileStats {
  const stats: FileStats = { numRecords, minValues: {}, maxValues: {}, nullCount: {} };
  for (const entry of columnStats) {
    const path = parseColumnPath(entry.key);
    const type = leafType(schema, path);
    if (type === undefined) continue;
    const props = Object.fromEntries(entry.value.map((kv) => [kv.key, kv.value]));
    if (props['null_count'] != null) setPath(stats.nullCount, path, Number(props['null_count']));
    const min = props['min'] != null ? bound(type, props['min'], 'min') : undefined;
    const max = props['max'] != null ? bound(type, props['max'], 'max') : undefined;
    if (min !== undefined) setPath(stats.minValues, path, min);
    if (max !== undefined) setPath(stats.maxValues, path, max);
  }
  return stats;
}

/** `"a"."b""c"` → ['a', 'b"c']. */
function parseColumnPath(key: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"]|"")*)"|([^."]+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(key))) out.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2]!);
  return out;
}

function leafType(schema: StructType, path: string[]): string | undefined {
  let t: DataType = schema;
  for (const name of path) {
    if (typeof t === 'string' || t.type !== 'struct') return undefined;
    const f: { type: DataType } | undefined = t.fields.find((x) => x.name === name);
    if (!f) return undefined;
    t = f.type;
  }
  return typeof t === 'string' ? t : undefined;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let o = target;
  for (const p of path.slice(0, -1)) o = (o[p] ??= {}) as Record<string, unknown>;
  o[path[path.length - 1]!] = value;
}

const MAX_STRING_STAT = 32;

function bound(type: string, raw: string, side: 'min' | 'max'): unknown {
  if (/^(byte|short|integer|long)$/.test(type)) {
    const n = Number(raw);
    return Number.isSafeInteger(n) ? n : undefined;
  }
  if (type === 'float' || type === 'double') {
    const n = Number(raw);
    return Number.isFinite(n) ? n : undefined;
  }
  if (type.startsWith('decimal')) {
    const digits = raw.replace(/[-.]/g, '').replace(/^0+/, '');
    return digits.length <= 15 ? Number(raw) : undefined;
  }
  if (type === 'string') {
    const chars = [...raw];
    if (chars.length <= MAX_STRING_STAT) return raw;
    return side === 'min' ? chars.slice(0, MAX_STRING_STAT).join('') : undefined;
  }
  if (type === 'date') return /^\d{4}-\d{2}-\d{2}$/.test(raw) ? raw : undefined;
  if (type === 'timestamp' || type === 'timestamp_ntz') return timestampBound(raw, side, type === 'timestamp');
  return undefined;
}

/** "2001-01-01 00:01:00.123456+00" → "2001-01-01T00:01:00.124Z" (max) / ".123Z" (min). */
function timestampBound(raw: string, side: 'min' | 'max', utc: boolean): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([+-]\d{2}(?::?\d{2})?)?$/.exec(raw);
  if (!m) return undefined;
  const offset = m[4] ? (m[4].length === 3 ? `${m[4]}:00` : m[4]) : 'Z';
  let ms = Date.parse(`${m[1]}T${m[2]}${offset}`);
  if (Number.isNaN(ms)) return undefined;
  const frac = (m[3] ?? '').padEnd(9, '0');
  const wholeMs = Number(frac.slice(0, 3));
  const rest = Number(frac.slice(3));
  ms += wholeMs + (side === 'max' && rest > 0 ? 1 : 0);
  const iso = new Date(ms).toISOString();
  return utc ? iso : iso.slice(0, -1);
}
