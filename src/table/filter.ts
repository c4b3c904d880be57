import type { Add, FileStats } from './actions.js';
import type { DataType, StructType } from './schema.js';
import { fieldOf } from './schema.js';

/**
 * File pruning ("data skipping"): decides from partition values and per-file min/max stats
 * whether a data file can hold rows matching a conjunction of simple comparisons.
 */

/** A scalar as filters and partition values carry it: dates as `YYYY-MM-DD`, timestamps as ISO-8601. */
export type Scalar = string | number | boolean | null;

export type Comparison = '=' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'is null' | 'is not null';

/** One comparison of a top-level column with a literal; a filter list is their conjunction (AND). */
export interface Filter {
  column: string;
  op: Comparison;
  value?: Scalar | Scalar[];
}

/** Renders filters as a SQL predicate (for commitInfo and messages), e.g. `flight_date >= '2001-01-05'`. */
export function filtersToSql(filters: Filter[]): string {
  const lit = (v: Scalar): string => (v === null ? 'NULL' : typeof v === 'string' ? `'${v.replace(/'/g, "''")}'` : String(v));
  return filters
    .map((f) => {
      const col = /^[A-Za-z_][A-Za-z0-9_]*$/.test(f.column) ? f.column : `\`${f.column}\``;
      if (f.op === 'is null' || f.op === 'is not null') return `${col} ${f.op.toUpperCase()}`;
      if (f.op === 'in') return `${col} IN (${(f.value as Scalar[]).map(lit).join(', ')})`;
      return `${col} ${f.op} ${lit(f.value as Scalar)}`;
    })
    .join(' AND ');
}

/** Orders two non-null values of Delta type `type`: negative, zero or positive. */
export function compareScalars(type: DataType, a: Scalar, b: Scalar): number {
  if (typeof type !== 'string') throw new Error(`cannot compare values of a nested type`);
  if (type === 'timestamp' || type === 'timestamp_ntz') return toEpochMicros(a) - toEpochMicros(b);
  if (isNumeric(type)) return Number(a) - Number(b);
  if (type === 'boolean') return Number(a === true || a === 'true') - Number(b === true || b === 'true');
  const sa = String(a);
  const sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

function isNumeric(type: string): boolean {
  return /^(byte|short|integer|long|float|double|decimal.*)$/.test(type);
}

function toEpochMicros(v: Scalar): number {
  if (typeof v === 'number') return v;
  const s = String(v);
  // "2001-01-01 00:01:00[.ffffff]" (partition values) or ISO "2001-01-01T00:01:00.000Z" (stats)
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:?\d{2})?$/.exec(s);
  if (!m) return Date.parse(s) * 1000;
  const base = Date.parse(`${m[1]}T${m[2]}${m[4] ?? 'Z'}`);
  return base * 1000 + Number((m[3] ?? '').padEnd(6, '0'));
}

function holds(type: DataType, value: Scalar, op: Comparison, target: Scalar | Scalar[] | undefined): boolean {
  if (op === 'is null') return value === null;
  if (op === 'is not null') return value !== null;
  if (value === null) return false;
  if (op === 'in') return (target as Scalar[]).some((t) => t !== null && compareScalars(type, value, t) === 0);
  if (target === null || target === undefined) return false;
  const c = compareScalars(type, value, target as Scalar);
  switch (op) {
    case '=': return c === 0;
    case '!=': return c !== 0;
    case '<': return c < 0;
    case '<=': return c <= 0;
    case '>': return c > 0;
    case '>=': return c >= 0;
  }
}

/** Whether a file's partition values satisfy every filter on a partition column. */
export function partitionMatches(schema: StructType, partitionColumns: string[], add: Pick<Add, 'partitionValues'>, filters: Filter[]): boolean {
  for (const f of filters) {
    if (!partitionColumns.includes(f.column)) continue;
    const type = fieldOf(schema, f.column)?.type ?? 'string';
    const raw = add.partitionValues[f.column];
    // an empty serialized value means NULL except for strings ("Partition Value Serialization")
    const value = raw === undefined || raw === null || (raw === '' && type !== 'string') ? null : raw;
    if (!holds(type, value, f.op, f.value)) return false;
  }
  return true;
}

/** Whether a file's min/max/null-count stats leave room for rows matching every filter on a data column. */
export function statsMayMatch(schema: StructType, partitionColumns: string[], stats: FileStats | undefined, filters: Filter[]): boolean {
  if (!stats) return true;
  for (const f of filters) {
    if (partitionColumns.includes(f.column)) continue;
    const type = fieldOf(schema, f.column)?.type;
    if (type === undefined || typeof type !== 'string') continue;
    const nulls = stats.nullCount?.[f.column];
    const allNull = typeof nulls === 'number' && nulls === stats.numRecords;
    if (f.op === 'is null') {
      if (nulls === 0) return false;
      continue;
    }
    if (allNull && stats.numRecords > 0) return false;
    if (f.op === 'is not null') continue;
    const min = stats.minValues?.[f.column] as Scalar | undefined;
    const max = stats.maxValues?.[f.column] as Scalar | undefined;
    const targets = f.op === 'in' ? (f.value as Scalar[]) : [f.value as Scalar];
    if (targets.every((t) => t === null)) return false;
    const lo = (t: Scalar): boolean => min === undefined || min === null || compareScalars(type, min, t) <= 0;
    const loStrict = (t: Scalar): boolean => min === undefined || min === null || compareScalars(type, min, t) < 0;
    const hi = (t: Scalar): boolean => max === undefined || max === null || compareScalars(type, max, t) >= 0;
    const hiStrict = (t: Scalar): boolean => max === undefined || max === null || compareScalars(type, max, t) > 0;
    const t = targets[0] as Scalar;
    let ok: boolean;
    switch (f.op) {
      case '=': ok = lo(t) && hi(t); break;
      case 'in': ok = targets.some((x) => x !== null && lo(x) && hi(x)); break;
      case '<': ok = loStrict(t); break;
      case '<=': ok = lo(t); break;
      case '>': ok = hiStrict(t); break;
      case '>=': ok = hi(t); break;
      case '!=': ok = !(min !== undefined && max !== undefined && min !== null && max !== null &&
        compareScalars(type, min, t) === 0 && compareScalars(type, max, t) === 0 && nulls === 0); break;
    }
    if (!ok) return false;
  }
  return true;
}
