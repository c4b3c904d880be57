import { Cron } from 'croner';
import type { Grain } from '../pipeline/definition.js';
import { IngotError } from '../errors.js';
import { addDays, addHours, addMinutes, grainMinutes, intervalOf, isHour, SUPPORTED_DATES } from '../pipeline/interval.js';
import type { IntervalKind } from './config.js';

/**
 * Interval arithmetic of schedules. A pipeline's intervals are wall-clock hours, calendar days or
 * months in its time zone, named by their start (the logical date: `YYYY-MM-DDTHH:00` for an hour,
 * `YYYY-MM-DD` for a day or a month's first day). A cron tick at instant T runs the last interval
 * that is complete at T, i.e. whose end (the next local hour, midnight or month start) is at or
 * before T. Across a daylight-saving change an hour that happens twice is one interval and an
 * hour that is skipped has none to run.
 */

/**
 * The wall-clock calendar date (`YYYY-MM-DD`) or, for `hourly`, hour (`YYYY-MM-DDTHH:00`), or,
 * for a minute kind, minute (`YYYY-MM-DDTHH:MM`) of `instant` in time zone `tz`.
 */
export function localDate(instant: Date, tz: string, kind: IntervalKind = 'daily'): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(instant);
  const get = (t: string): string => parts.find((p) => p.type === t)!.value;
  const day = `${get('year')}-${get('month')}-${get('day')}`;
  if (kind === 'hourly') return `${day}T${get('hour')}:00`;
  return grainMinutes(grainOf(kind)) !== undefined ? `${day}T${get('hour')}:${get('minute')}` : day;
}

const GRAIN = { hourly: 'hour', daily: 'day', monthly: 'month' } as const;

/** The interval grain (`hour`, `day`, `month`, or the minute grain itself) of a pipeline's interval kind. */
export function grainOf(kind: IntervalKind): Grain {
  return kind === 'hourly' || kind === 'daily' || kind === 'monthly' ? GRAIN[kind] : kind;
}

/** The logical date of the interval of `kind` containing `date`. */
export function intervalStart(date: string, kind: IntervalKind): string {
  return intervalOf(date, grainOf(kind)).start;
}

/** The logical date of the interval after the one starting at `date`. */
export function nextInterval(date: string, kind: IntervalKind): string {
  return intervalOf(date, grainOf(kind)).end;
}

/** The logical date of the interval before the one starting at `date`. */
export function previousInterval(date: string, kind: IntervalKind): string {
  const minutes = grainMinutes(grainOf(kind));
  if (minutes !== undefined) return addMinutes(intervalStart(date, kind), -minutes);
  return kind === 'hourly' ? addHours(intervalStart(date, kind), -1) : intervalOf(addDays(date, -1), grainOf(kind)).start;
}

/** The last interval complete at `instant` in `tz`: the one ending at the latest local interval boundary (midnight, month start, hour, minute) at or before it. */
export function lastComplete(instant: Date, tz: string, kind: IntervalKind): string {
  return previousInterval(intervalStart(localDate(instant, tz, kind), kind), kind);
}

/**
 * Logical dates of every interval from `from` to `to`, both included and rounded down to their
 * intervals; for `hourly` and minute kinds, a day `to` includes its last interval (`--to 2024-01-02`:
 * up to `T23:00`, or `T23:45` for `'15 minutes'`).
 * Errors: CONFIG_INVALID when an interval would end outside the four-digit calendar (callers
 * check dates with `parseDate` and the range with `checkRange` first).
 */
export function intervalsBetween(from: string, to: string, kind: IntervalKind): string[] {
  const subDaily = kind === 'hourly' || grainMinutes(grainOf(kind)) !== undefined;
  const last = subDaily && !isHour(to) ? intervalStart(`${to}T23:59`, kind) : intervalStart(to, kind);
  const out: string[] = [];
  for (let d = intervalStart(from, kind); d <= last;) {
    out.push(d);
    const next = nextInterval(d, kind);
    if (next <= d) throw new IngotError('CONFIG_INVALID', `the interval after ${d} is outside the supported dates ${SUPPORTED_DATES.first} to ${SUPPORTED_DATES.last}`);
    d = next;
  }
  return out;
}

/**
 * The logical dates of `upstream` intervals that cover the `kind` interval starting at `date`:
 * the one containing it when `upstream` is as coarse or coarser, every one inside it when finer.
 */
export function coveringIntervals(date: string, kind: IntervalKind, upstream: IntervalKind): string[] {
  const end = nextInterval(date, kind);
  const out: string[] = [];
  for (let d = intervalStart(date, upstream); d < end; d = nextInterval(d, upstream)) out.push(d);
  return out;
}

/** The latest tick of cron `schedule` (in `tz`) at or before `now`, or undefined when it never fired in the past year. */
export function latestTick(schedule: string, tz: string, now: Date): Date | undefined {
  const cron = new Cron(schedule, { timezone: tz, paused: true });
  // croner's previousRuns excludes the reference instant itself: step 1 ms past it
  return cron.previousRuns(1, new Date(now.getTime() + 1))[0];
}
