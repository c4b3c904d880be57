import type { Grain } from './definition.js';

/**
 * Logical dates and intervals. A run for logical date D owns, for each dataset, the interval of
 * the dataset's grain that contains D: `[start, end)`. A full refresh owns everything.
 * Dates are `YYYY-MM-DD` strings (UTC calendar days).
 */
export interface Interval {
  /** Inclusive start, `YYYY-MM-DD`, or `-infinity`. */
  start: string;
  /** Exclusive end, `YYYY-MM-DD`, or `infinity`. */
  end: string;
}

/** The unbounded interval of a full refresh. */
export const EVERYTHING: Interval = { start: '-infinity', end: 'infinity' };

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/** Validates a `YYYY-MM-DD` date; throws with `what` in the message otherwise. */
export function parseDate(value: string, what = 'date'): string {
  if (!DATE_RE.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`)) || new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10) !== value) {
    throw new Error(`${what} "${value}" is not a valid YYYY-MM-DD date`);
  }
  return value;
}

/** `date` plus `days` days. */
export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** Every date from `from` to `to`, both inclusive. */
export function dateRange(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) out.push(d);
  return out;
}

/** The interval of `grain` containing `date`. */
export function intervalOf(date: string, grain: Grain): Interval {
  if (grain === 'day') return { start: date, end: addDays(date, 1) };
  const [y, m] = date.split('-').map(Number) as [number, number];
  const start = `${y}-${String(m).padStart(2, '0')}-01`;
  const next = m === 12 ? `${y + 1}-01-01` : `${y}-${String(m + 1).padStart(2, '0')}-01`;
  return { start, end: next };
}

/** Whether `date` (YYYY-MM-DD) lies in the interval. */
export function contains(interval: Interval, date: string): boolean {
  return (interval.start === '-infinity' || date >= interval.start) && (interval.end === 'infinity' || date < interval.end);
}
