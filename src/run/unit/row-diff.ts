import type { Row } from '../../engine/engine.js';
import type { DataType } from '../../table/schema.js';

/**
 * The row diff of a unit test: the expected rows against the rows a dataset produced, over the
 * columns the expected rows list. Rows are a multiset (order-insensitive) unless an order is
 * given. Values compare by the actual column's Delta type: `double` / `float` within a relative
 * 1e-5 (six significant digits; 1e-9 absolute near zero), integers and decimals exactly as
 * numbers, dates and timestamps as instants whatever their spelling (`2001-01-15T08:30` equals
 * `2001-01-15 08:30:00`; a zone-less timestamptz is UTC), others as text.
 */
export interface RowDiff {
  /** Expected rows no actual row matches (not paired by key with one). */
  missing: Row[];
  /** Actual rows no expected row matches (not paired by key with one). */
  unexpected: Row[];
  /** Rows with the same key and other values: the key's values and each differing column. */
  changed: { key: Row; columns: { column: string; expected: unknown; actual: unknown }[] }[];
  /** The columns pairing missing and unexpected rows into `changed` (empty: none could). */
  key: string[];
  /** Every row matched, in another order than the query's ORDER BY gives: both orders. */
  order?: { expected: Row[]; actual: Row[] };
  expectedCount: number;
  actualCount: number;
}

/** Whether `diff` shows no difference. */
export function isEmptyDiff(diff: RowDiff): boolean {
  return diff.missing.length === 0 && diff.unexpected.length === 0 && diff.changed.length === 0 && !diff.order;
}

/**
 * Compares `expected` with `actual` over `columns` (typed by `types`, the actual output's Delta
 * types). `key`: the columns identifying a row when the dataset declares them (its `key`); else
 * the shortest prefix of `columns` (non-floating) unique among both sides, if any, pairs rows.
 * `ranks`: with an ORDER BY, each actual row's rank under it (ties share one); the expected rows
 * must then come in a non-decreasing rank order.
 */
export function diffRows(expected: Row[], actual: Row[], columns: string[], types: Record<string, DataType>, options: { key?: string[]; ranks?: number[] } = {}): RowDiff {
  const eq = (a: Row, b: Row, cols: string[]): boolean => cols.every((c) => equalValue(a[c], b[c], types[c] ?? 'string'));
  const matchOf = new Array<number>(expected.length).fill(-1);
  const taken = new Array<boolean>(actual.length).fill(false);
  for (let i = 0; i < expected.length; i++) {
    for (let j = 0; j < actual.length; j++) {
      if (!taken[j] && eq(expected[i]!, actual[j]!, columns)) {
        matchOf[i] = j;
        taken[j] = true;
        break;
      }
    }
  }
  const missing = expected.filter((_r, i) => matchOf[i] === -1);
  const unexpected = actual.filter((_r, j) => !taken[j]);
  const key = options.key && options.key.length > 0 && options.key.every((c) => columns.includes(c)) ? options.key : inferKey(expected, actual, columns, types);
  const changed: RowDiff['changed'] = [];
  if (key.length > 0) {
    for (let i = 0; i < missing.length; i++) {
      const j = unexpected.findIndex((u) => eq(missing[i]!, u, key));
      if (j < 0) continue;
      const [e, a] = [missing[i]!, unexpected[j]!];
      changed.push({
        key: Object.fromEntries(key.map((c) => [c, e[c]])),
        columns: columns.filter((c) => !key.includes(c) && !equalValue(e[c], a[c], types[c] ?? 'string')).map((c) => ({ column: c, expected: e[c], actual: a[c] })),
      });
      missing.splice(i--, 1);
      unexpected.splice(j, 1);
    }
  }
  const diff: RowDiff = { missing, unexpected, changed, key, expectedCount: expected.length, actualCount: actual.length };
  if (options.ranks && isEmptyDiff(diff)) {
    const ranks = matchOf.map((j) => options.ranks![j]!);
    if (ranks.some((r, i) => i > 0 && r < ranks[i - 1]!)) {
      const order = actual.map((_r, j) => j).sort((a, b) => options.ranks![a]! - options.ranks![b]! || matchOf.indexOf(a) - matchOf.indexOf(b));
      diff.order = { expected, actual: order.map((j) => actual[j]!) };
    }
  }
  return diff;
}

/** The shortest prefix of the non-floating `columns` whose values are unique among `expected` and among `actual` (not all columns); empty if none. */
function inferKey(expected: Row[], actual: Row[], columns: string[], types: Record<string, DataType>): string[] {
  const candidates = columns.filter((c) => !['double', 'float'].includes(String(types[c])));
  for (let n = 1; n < Math.min(columns.length, candidates.length + 1); n++) {
    const cols = candidates.slice(0, n);
    const unique = (rows: Row[]): boolean => new Set(rows.map((r) => JSON.stringify(cols.map((c) => canonical(r[c], types[c] ?? 'string'))))).size === rows.length;
    if (unique(expected) && unique(actual)) return cols;
  }
  return [];
}

const INTEGRAL = new Set(['byte', 'short', 'integer', 'long']);

/** Whether expected value `e` (as written) equals actual value `a` (as the engine returned it) for Delta type `type`. */
export function equalValue(e: unknown, a: unknown, type: DataType): boolean {
  if (e === null || e === undefined || a === null || a === undefined) return (e ?? null) === (a ?? null);
  if (typeof type !== 'string') return deepEqual(e, a);
  if (type === 'double' || type === 'float') {
    const [x, y] = [Number(e), Number(a)];
    if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) && Number.isNaN(y) && String(e) !== '' ;
    if (x === y) return true;
    const d = Math.abs(x - y);
    return d <= 1e-9 || d <= 1e-5 * Math.max(Math.abs(x), Math.abs(y));
  }
  const c = canonical(e, type);
  return c !== undefined && c === canonical(a, type);
}

/** A value's canonical text for `type` (undefined: not a value of that type). */
function canonical(v: unknown, type: DataType): string | undefined {
  if (v === null || v === undefined) return 'NULL';
  if (typeof type !== 'string') return JSON.stringify(v);
  const s = v instanceof Date ? v.toISOString() : typeof v === 'object' ? JSON.stringify(v) : String(v);
  if (INTEGRAL.has(type) || type.startsWith('decimal')) return decimalText(s);
  if (type === 'boolean') return s === 'true' || s === 'false' ? s : undefined;
  if (type === 'date') return /^\d{4}-\d{2}-\d{2}/.test(s) && (s.length === 10 || /^\d{4}-\d{2}-\d{2}[T ]00:00(:00(\.0+)?)?Z?$/.test(s)) ? s.slice(0, 10) : undefined;
  if (type === 'timestamp_ntz') return timestampText(s, false);
  if (type === 'timestamp') return timestampText(s, true);
  return s;
}

/** `12.50` → `12.5`, `007` → `7`, `1e3` → `1000`; undefined for text that is no number. */
function decimalText(s: string): string | undefined {
  const t = s.trim();
  if (/^[+-]?\d+(\.\d+)?$/.test(t)) {
    const neg = t.startsWith('-');
    let [int, frac = ''] = t.replace(/^[+-]/, '').split('.') as [string, string?];
    int = int.replace(/^0+(?=\d)/, '');
    frac = frac.replace(/0+$/, '');
    const out = frac ? `${int}.${frac}` : int;
    return neg && out !== '0' ? `-${out}` : out;
  }
  const n = Number(t);
  return t !== '' && Number.isFinite(n) ? decimalText(n.toFixed(20).replace(/\.?0+$/, '')) : undefined;
}

/**
 * A timestamp's canonical text: `YYYY-MM-DD HH:MM:SS.ffffff`, in UTC for `zoned` (an offset in
 * the text applied; none: UTC). A date alone is its midnight. Undefined when not a timestamp.
 */
function timestampText(s: string, zoned: boolean): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/.exec(s.trim());
  if (!m) return undefined;
  const [, day, hh = '00', mm = '00', ss = '00', frac = '', zone] = m;
  const micros = frac.padEnd(6, '0').slice(0, 6);
  if (!zoned) return zone ? undefined : `${day} ${hh}:${mm}:${ss}.${micros}`;
  const offset = !zone || zone === 'Z' ? 'Z' : zone.length === 3 ? `${zone}:00` : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const ms = Date.parse(`${day}T${hh}:${mm}:${ss}${offset}`);
  if (Number.isNaN(ms)) return undefined;
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')}.${micros}`;
}

function deepEqual(e: unknown, a: unknown): boolean {
  if (e === null || e === undefined || a === null || a === undefined) return (e ?? null) === (a ?? null);
  if (typeof e === 'number' || typeof a === 'number') return equalValue(e, a, 'double');
  if (Array.isArray(e) || Array.isArray(a)) return Array.isArray(e) && Array.isArray(a) && e.length === a.length && e.every((x, i) => deepEqual(x, a[i]));
  if (typeof e === 'object' && typeof a === 'object') {
    const [ek, ak] = [Object.keys(e), Object.keys(a)];
    return ek.length === ak.length && ek.every((k) => deepEqual((e as Row)[k], (a as Row)[k]));
  }
  return String(e) === String(a);
}

/** A value as the diff prints it: NULL, plain words bare, other text quoted. */
export function showValue(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') return JSON.stringify(v);
  const s = String(v);
  return typeof v === 'string' && (s === '' || s === 'NULL' || !/^[\w.:+\-/@ ]+$/.test(s) || s.trim() !== s) ? JSON.stringify(s) : s;
}

/** A row as the diff prints it: `col=value col=value` over `columns`. */
export function showRow(row: Row, columns: string[]): string {
  return columns.map((c) => `${c}=${showValue(row[c])}`).join(' ');
}

/**
 * The diff as text lines (without indentation), `label` naming the compared output (`rows`,
 * `quarantine`):
 * ```
 * rows: 2 expected, 2 actual (matched by flight_date, airport)
 * ~ changed    flight_date=2001-01-15 airport=SFO: avg_delay_min expected 10, actual 12.5
 * - missing    flight_date=2001-01-15 airport=LAX departures=1
 * + unexpected flight_date=2001-01-15 airport=JFK departures=1
 * ```
 */
export function formatDiff(diff: RowDiff, columns: string[], label: string): string[] {
  const lines = [`${label}: ${diff.expectedCount} expected, ${diff.actualCount} actual${diff.key.length > 0 && diff.changed.length > 0 ? ` (matched by ${diff.key.join(', ')})` : ''}`];
  for (const c of diff.changed) {
    lines.push(`~ changed    ${showRow(c.key, Object.keys(c.key))}: ${c.columns.map((x) => `${x.column} expected ${showValue(x.expected)}, actual ${showValue(x.actual)}`).join('; ')}`);
  }
  for (const r of diff.missing) lines.push(`- missing    ${showRow(r, columns)}`);
  for (const r of diff.unexpected) lines.push(`+ unexpected ${showRow(r, columns)}`);
  if (diff.order) {
    lines.push('the same rows in another order than the query\'s ORDER BY gives; expected:');
    diff.order.expected.forEach((r, i) => lines.push(`  ${i + 1}. ${showRow(r, columns)}`));
    lines.push('actual:');
    diff.order.actual.forEach((r, i) => lines.push(`  ${i + 1}. ${showRow(r, columns)}`));
  }
  return lines;
}
