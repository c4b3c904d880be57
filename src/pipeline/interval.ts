import { IngotError } from '../errors.js';

/**
 * Logical dates and intervals. A run for logical date D owns, for each dataset, the interval of
 * the dataset's grain that contains D: `[start, end)`. A full refresh owns everything.
 * A logical date is a calendar day `YYYY-MM-DD`, an hour `YYYY-MM-DDTHH:00` or, for sub-hourly
 * grains, a minute `YYYY-MM-DDTHH:MM` (wall-clock time, no zone, like the days). Plain string
 * order is time order, also between the forms: a day sorts as its midnight
 * (`2024-01-01` < `2024-01-01T00:00` < `2024-01-01T00:15` < `2024-01-01T01:00` < `2024-01-02`).
 */
export interface Interval {
  /** Inclusive start: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM`, or `-infinity`. */
  start: string;
  /** Exclusive end: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM`, or `infinity`. */
  end: string;
}

/**
 * Size of the interval a run owns for a `replace partition` dataset (`hour`, or a minute grain
 * such as `'15 minutes'`: an interval of a TIMESTAMP partition column).
 */
export type Grain = 'hour' | 'day' | 'month' | MinuteGrain;

/** The sub-hourly interval sizes: each divides an hour, so intervals align on the hour. */
export type MinuteGrain = '1 minute' | '5 minutes' | '10 minutes' | '15 minutes' | '30 minutes';

/** Every `MinuteGrain`, widest first. */
export const MINUTE_GRAINS: readonly MinuteGrain[] = ['30 minutes', '15 minutes', '10 minutes', '5 minutes', '1 minute'];

/** The unbounded interval of a full refresh. */
export const EVERYTHING: Interval = { start: '-infinity', end: 'infinity' };

const LOGICAL_RE = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2})(?::(\d{2})(?::00)?)?)?$/;

/**
 * The supported logical dates: 1900-01-01 to 9998-12-31, both included (with every hour of both).
 * The last year is kept off the end of the calendar so that the end of any interval (the next day,
 * hour or month) is still a four-digit date that sorts after its start.
 */
export const SUPPORTED_DATES = { first: '1900-01-01', last: '9998-12-31' } as const;

/** At most this many intervals (runs) in one range: `run --from/--to`, `backfill`, the backfill route. */
export const MAX_RANGE_INTERVALS = 10_000;

/**
 * Validates a logical date: a day `YYYY-MM-DD`, an hour `YYYY-MM-DDTHH[:00[:00]]` or a minute
 * `YYYY-MM-DDTHH:MM[:00]` (a space instead of `T` too), returned as `YYYY-MM-DD` or
 * `YYYY-MM-DDTHH:MM`, within `SUPPORTED_DATES`.
 * Errors: CONFIG_INVALID with `what` (the argument or field, e.g. `--from`) in the message and as
 * the context's `column`.
 */
export function parseDate(value: string, what = 'date'): string {
  const m = LOGICAL_RE.exec(value);
  const day = m?.[1];
  if (!m || !day || Number.isNaN(Date.parse(`${day}T00:00:00Z`)) || new Date(`${day}T00:00:00Z`).toISOString().slice(0, 10) !== day || (m[2] !== undefined && Number(m[2]) > 23) || (m[3] !== undefined && Number(m[3]) > 59)) {
    throw new IngotError('CONFIG_INVALID', `${what} "${value}" is not a valid date (YYYY-MM-DD), hour (YYYY-MM-DDTHH:00) or minute (YYYY-MM-DDTHH:MM)`, { column: what });
  }
  if (day < SUPPORTED_DATES.first || day > SUPPORTED_DATES.last) {
    throw new IngotError('CONFIG_INVALID', `${what} "${value}" is outside the supported dates ${SUPPORTED_DATES.first} to ${SUPPORTED_DATES.last}`, { column: what });
  }
  return m[2] === undefined ? day : `${day}T${m[2]}:${m[3] ?? '00'}`;
}

/** Minutes of a sub-hourly grain (`'15 minutes'` → 15), undefined for hour, day and month. */
export function grainMinutes(grain: Grain | undefined): number | undefined {
  return grain !== undefined && (MINUTE_GRAINS as readonly string[]).includes(grain) ? Number(grain.split(' ')[0]) : undefined;
}

/**
 * The grain a logical date names by itself: `day` for `YYYY-MM-DD`, `hour` for
 * `YYYY-MM-DDTHH:00`, and for a minute `YYYY-MM-DDTHH:MM` the widest minute grain it starts an
 * interval of (`T10:30` → `30 minutes`, `T10:45` → `15 minutes`, `T10:07` → `1 minute`). A
 * pipeline passes its own grain to runs, so this default matters only for `ingot run --date`
 * on a dataset without a `grain`.
 */
export function grainOfDate(date: string): Grain {
  if (!isHour(date)) return 'day';
  const minute = Number(date.slice(14, 16));
  if (minute === 0) return 'hour';
  return MINUTE_GRAINS.find((g) => minute % grainMinutes(g)! === 0) as MinuteGrain;
}

/**
 * The number of intervals of `grain` from the one containing `from` to the one containing `to`,
 * both included (0 when `to` is before `from`), computed without listing them. For `hour` and
 * the minute grains, a day `to` counts up to its last interval. Dates as `parseDate` returns them.
 */
export function countIntervals(from: string, to: string, grain: Grain): number {
  const dayNumber = (d: string): number => Date.parse(`${d.slice(0, 10)}T00:00:00Z`) / 86_400_000;
  const hourOf = (d: string, last: boolean): number => (isHour(d) ? Number(d.slice(11, 13)) : last ? 23 : 0);
  const minuteOf = (d: string, last: boolean): number => hourOf(d, last) * 60 + (isHour(d) ? Number(d.slice(14, 16)) : last ? 59 : 0);
  const width = grainMinutes(grain);
  let n: number;
  if (width !== undefined) {
    n = Math.floor(((dayNumber(to) - dayNumber(from)) * 1440 + minuteOf(to, true)) / width) - Math.floor(minuteOf(from, false) / width) + 1;
  } else if (grain === 'hour') n = (dayNumber(to) - dayNumber(from)) * 24 + hourOf(to, true) - hourOf(from, false) + 1;
  else if (grain === 'day') n = dayNumber(to) - dayNumber(from) + 1;
  else {
    const month = (d: string): number => Number(d.slice(0, 4)) * 12 + Number(d.slice(5, 7));
    n = month(to) - month(from) + 1;
  }
  return Math.max(0, n);
}

/**
 * Checks a range of logical dates before anything is listed or run: `from` not after `to`, and
 * at most `MAX_RANGE_INTERVALS` intervals of `grain` in it. `fromWhat` / `toWhat` name the
 * arguments or fields in the messages. Returns the number of intervals.
 * Errors: CONFIG_INVALID naming the argument.
 */
export function checkRange(from: string, to: string, grain: Grain, fromWhat = '--from', toWhat = '--to'): number {
  const n = countIntervals(from, to, grain);
  if (n === 0) throw new IngotError('CONFIG_INVALID', `${fromWhat} ${from} is after ${toWhat} ${to}`, { column: fromWhat });
  if (n > MAX_RANGE_INTERVALS) {
    throw new IngotError('CONFIG_INVALID', `${fromWhat} ${from} to ${toWhat} ${to} is ${n} ${grain === 'day' ? 'days' : grainMinutes(grain) !== undefined ? `intervals of ${grain}` : `${grain}s`}; at most ${MAX_RANGE_INTERVALS} intervals at once: split the range`, { column: toWhat });
  }
  return n;
}

/** Whether a logical date names a time of day (an hour `YYYY-MM-DDTHH:00` or a minute `YYYY-MM-DDTHH:MM`) rather than a day. */
export function isHour(date: string): boolean {
  return date.length > 10 && date[10] === 'T';
}

/** `hour` (`YYYY-MM-DDTHH:00`, or a day: its midnight) plus `hours` hours; minutes are dropped. */
export function addHours(hour: string, hours: number): string {
  const d = new Date(`${hour.slice(0, 10)}T${isHour(hour) ? hour.slice(11, 13) : '00'}:00:00Z`);
  d.setUTCHours(d.getUTCHours() + hours);
  return d.toISOString().slice(0, 16);
}

/** `time` (`YYYY-MM-DDTHH:MM`, or a day: its midnight) plus `minutes` minutes, as `YYYY-MM-DDTHH:MM`. */
export function addMinutes(time: string, minutes: number): string {
  const d = new Date(`${time.slice(0, 10)}T${isHour(time) ? time.slice(11, 16) : '00:00'}:00Z`);
  d.setUTCMinutes(d.getUTCMinutes() + minutes);
  return d.toISOString().slice(0, 16);
}

/** `date` (`YYYY-MM-DD`; an hour counts as its day) plus `days` days. */
export function addDays(date: string, days: number): string {
  const d = new Date(`${date.slice(0, 10)}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/**
 * Every date from `from` to `to`, both inclusive; every hour when `from` is an hour; every
 * interval of `from`'s own minute grain (`grainOfDate`) when it is a minute, unless `grain` says.
 * Errors: CONFIG_INVALID when the dates leave the four-digit calendar (the next date would not
 * sort after the last one); callers check the range with `checkRange` first.
 */
export function dateRange(from: string, to: string, grain: Grain = grainOfDate(from)): string[] {
  const out: string[] = [];
  const width = grainMinutes(grain);
  for (let d = from; d <= to;) {
    out.push(d);
    const next = width !== undefined ? addMinutes(d, width) : isHour(from) ? addHours(d, 1) : addDays(d, 1);
    if (next <= d) throw new IngotError('CONFIG_INVALID', `the date after ${d} is outside the supported dates ${SUPPORTED_DATES.first} to ${SUPPORTED_DATES.last}`);
    d = next;
  }
  return out;
}

/**
 * The interval of `grain` containing logical date `date`; without a grain, the logical date's own
 * (`grainOfDate`): an hour for `YYYY-MM-DDTHH:00`, a day for `YYYY-MM-DD`, a minute grain for
 * `YYYY-MM-DDTHH:MM`. Minute intervals align on the hour (`'15 minutes'`: :00, :15, :30, :45).
 * Errors: CONFIG_INVALID when the interval would end past year 9999 (a run for it would commit a
 * predicate on a five-digit year).
 */
export function intervalOf(date: string, grain: Grain = grainOfDate(date)): Interval {
  let interval: Interval;
  const width = grainMinutes(grain);
  if (width !== undefined) {
    const minute = isHour(date) ? Number(date.slice(14, 16)) : 0;
    const start = `${date.slice(0, 10)}T${isHour(date) ? date.slice(11, 13) : '00'}:${String(minute - (minute % width)).padStart(2, '0')}`;
    interval = { start, end: addMinutes(start, width) };
  } else if (grain === 'hour') {
    const start = isHour(date) ? `${date.slice(0, 13)}:00` : `${date}T00:00`;
    interval = { start, end: addHours(start, 1) };
  } else if (grain === 'day') interval = { start: date.slice(0, 10), end: addDays(date, 1) };
  else {
    const [y, m] = date.split('-').map(Number) as [number, number];
    const start = `${y}-${String(m).padStart(2, '0')}-01`;
    interval = { start, end: m === 12 ? `${y + 1}-01-01` : `${y}-${String(m + 1).padStart(2, '0')}-01` };
  }
  // past the four-digit calendar an end would sort before its start (`+010000-01-01`)
  if (!(interval.end > interval.start) || interval.end.length !== interval.start.length) {
    throw new IngotError('CONFIG_INVALID', `logical date ${date}: its ${grain} ends outside the supported dates ${SUPPORTED_DATES.first} to ${SUPPORTED_DATES.last}`);
  }
  return interval;
}

/**
 * A bound of an interval as a partition value or filter literal: a day as is, an hour or minute
 * as the timestamp `YYYY-MM-DD HH:MM:00` (Delta's partition value format for timestamps).
 */
export function boundValue(bound: string): string {
  return isHour(bound) ? `${bound.replace('T', ' ')}:00` : bound;
}

/** An interval bound as a SQL literal: a day as DATE, an hour or minute as TIMESTAMP (`-infinity`/`infinity` as DATE). */
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
