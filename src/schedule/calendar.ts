import { Cron } from 'croner';
import { addDays, intervalOf } from '../pipeline/interval.js';
import type { IntervalKind } from './pipeline.js';

/**
 * Interval arithmetic of schedules. A pipeline's intervals are calendar days or months in its time
 * zone, named by their first day (`YYYY-MM-DD`: the logical date). A cron tick at instant T runs
 * the last interval that is complete at T, i.e. whose end (local midnight) is at or before T.
 */

/** The calendar date (`YYYY-MM-DD`) of `instant` in time zone `tz`. */
export function localDate(instant: Date, tz: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(instant);
  const get = (t: string): string => parts.find((p) => p.type === t)!.value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}

const GRAIN = { daily: 'day', monthly: 'month' } as const;

/** The logical date of the interval of `kind` containing `date`. */
export function intervalStart(date: string, kind: IntervalKind): string {
  return intervalOf(date, GRAIN[kind]).start;
}

/** The logical date of the interval after the one starting at `date`. */
export function nextInterval(date: string, kind: IntervalKind): string {
  return intervalOf(date, GRAIN[kind]).end;
}

/** The logical date of the interval before the one starting at `date`. */
export function previousInterval(date: string, kind: IntervalKind): string {
  return intervalOf(addDays(date, -1), GRAIN[kind]).start;
}

/** The last interval complete at `instant` in `tz`: the one ending at the latest local midnight (or month start) at or before it. */
export function lastComplete(instant: Date, tz: string, kind: IntervalKind): string {
  return previousInterval(intervalStart(localDate(instant, tz), kind), kind);
}

/** Logical dates of every interval from `from` to `to`, both included (`from` rounded down to its interval). */
export function intervalsBetween(from: string, to: string, kind: IntervalKind): string[] {
  const out: string[] = [];
  for (let d = intervalStart(from, kind); d <= to; d = nextInterval(d, kind)) out.push(d);
  return out;
}

/** The latest tick of cron `schedule` (in `tz`) at or before `now`, or undefined when it never fired in the past year. */
export function latestTick(schedule: string, tz: string, now: Date): Date | undefined {
  const cron = new Cron(schedule, { timezone: tz, paused: true });
  // croner's previousRuns excludes the reference instant itself: step 1 ms past it
  return cron.previousRuns(1, new Date(now.getTime() + 1))[0];
}
