import type { Grain } from './definition.js';

/**
 * Logical dates and intervals. A run for logical date D owns, for each dataset, the interval of
 * the dataset's grain that contains D: `[start, end)`. A full refresh owns everything.
 * A logical date is a calendar day `YYYY-MM-DD` or an hour `YYYY-MM-DDTHH:00` (wall-clock time,
 * no zone, like the days). Plain string order is time order, also between the two forms: a day
 * sorts as its midnight (`2024-01-01` < `2024-01-01T00:00` < `2024-01-01T01:00` < `2024-01-02`).
 */
export interface Interval {
  /** Inclusive start: `YYYY-MM-DD`, `YYYY-MM-DDTHH:00`, or `-infinity`. */
  start: string;
  /** Exclusive end: `YYYY-MM-DD`, `YYYY-MM-DDTHH:00`, or `infinity`. */
  end: string;
}

/** The unbounded interval of a full refresh. */
export const EVERYTHING: Interval = { start: '-infinity', end: 'infinity' };

const LOGICAL_RE = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2})(?::00(?::00)?)?)?$/;

/**
 * Validates a logical date: a day `YYYY-MM-DD` or an hour `YYYY-MM-DDTHH[:00[:00]]` (a space
 * instead of `T` too), returned as `YYYY-MM-DD` or `YYYY-MM-DDTHH:00`. Throws with `what` in the
 * message otherwise.
 */
export function parseDate(value: string, what = 'date'): string {
  const m = LOGICAL_RE.exec(value);
  const day = m?.[1];
  if (!m || !day || Number.isNaN(Date.parse(`${day}T00:00:00Z`)) || new Date(`${day}T00:00:00Z`).toISOString().slice(0, 10) !== day || (m[2] !== undefined && Number(m[2]) > 23)) {
    throw new Error(`${what} "${value}" is not a valid date (YYYY-MM-DD) or hour (YYYY-MM-DDTHH:00)`);
  }
  return m[2] === undefined ? day : `${day}T${m[2]}:00`;
}

/** Whether a logical date names an hour (`YYYY-MM-DDTHH:00`) rather than a day. */
export function isHour(date: string): boolean {
  return date.length > 10 && date[10] === 'T';
}

/** `hour` (`YYYY-MM-DDTHH:00`, or a day: its midnight) plus `hours` hours. */
export function addHours(hour: string, hours: number): string {
  const d = new Date(`${hour.slice(0, 10)}T${isHour(hour) ? hour.slice(11, 13) : '00'}:00:00Z`);
  d.setUTCHours(d.getUTCHours() + hours);
  return d.toISOString().slice(0, 16);
}

/** `date` (`YYYY-MM-DD`; an hour counts as its day) plus `days` days. */
export function addDays(date: string, days: number): string {
  const d = new Date(`${date.slice(0, 10)}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** Every date from `from` to `to`, both inclusive; every hour when `from` is an hour. */
export function dateRange(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = from; d <= to; d = isHour(from) ? addHours(d, 1) : addDays(d, 1)) out.push(d);
  return out;
}

/**
 * The interval of `grain` containing logical date `date`; without a grain, the logical date's own:
 * an hour for `YYYY-MM-DDTHH:00`, a day for `YYYY-MM-DD`.
 */
export function intervalOf(date: string, grain: Grain = isHour(date) ? 'hour' : 'day'): Interval {
  if (grain === 'hour') {
    const start = isHour(date) ? date : `${date}T00:00`;
    return { start, end: addHours(start, 1) };
  }
  if (grain === 'day') return { start: date.slice(0, 10), end: addDays(date, 1) };
  const [y, m] = date.split('-').map(Number) as [number, number];
  const start = `${y}-${String(m).padStart(2, '0')}-01`;
  const next = m === 12 ? `${y + 1}-01-01` : `${y}-${String(m + 1).padStart(2, '0')}-01`;
  return { start, end: next };
}

/**
 * A bound of an interval as a partition value or filter literal: a day as is, an hour as the
 * timestamp `YYYY-MM-DD HH:00:00` (Delta's partition value format for timestamps).
 */
export function boundValue(bound: string): string {
  return isHour(bound) ? `${bound.replace('T', ' ')}:00` : bound;
}

/** An interval bound as a SQL literal: a day as DATE, an hour as TIMESTAMP (`-infinity`/`infinity` as DATE). */
export function boundLiteral(bound: string): string {
  return isHour(bound) ? `TIMESTAMP '${boundValue(bound)}'` : `DATE '${bound}'`;
}

/**
 * Whether `value` lies in the interval: a day `YYYY-MM-DD`, an hour, or a timestamp
 * `YYYY-MM-DD[T ]HH:MM[:SS[.ffffff]]` (read as wall-clock time). A value that is not a date or
 * time (`2024-08-01.late`) lies in no bounded interval.
 */
export function contains(interval: Interval, value: string): boolean {
  if (interval.start === '-infinity' && interval.end === 'infinity') return true;
  if (!/^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$/.test(value)) return false;
  const v = value.replace(' ', 'T');
  return (interval.start === '-infinity' || v >= interval.start) && (interval.end === 'infinity' || v < interval.end);
}
