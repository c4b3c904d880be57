import { IngotError } from '../errors.js';
import type { Filter } from '../table/filter.js';
import { addDays, addHours, boundValue, EVERYTHING, intervalOf, isHour, type Interval } from './interval.js';

/**
 * Hive-style date-part partition columns, coarsest first: a table partitioned by `year, month`
 * lies out as `year=2024/month=11/` (the layout Spark jobs write with `partitionBy("year",
 * "month")`). A `replace partition` dataset whose partition columns start with `year` is one of
 * these: its columns are integers, and a run replaces the one value of each that its interval is.
 */
export const DATE_PARTS = ['year', 'month', 'day', 'hour'] as const;

/** The interval size each number of date parts replaces: `year, month` a month, ..., all four an hour. */
const GRAIN_OF = { 2: 'month', 3: 'day', 4: 'hour' } as const;

/** The date-part columns leading `partitionBy` (`['year', 'month']`), or undefined when it does not start with `year`. */
export function dateParts(partitionBy: readonly string[] | undefined): string[] | undefined {
  if (partitionBy?.[0] !== 'year') return undefined;
  let n = 0;
  while (n < DATE_PARTS.length && partitionBy[n] === DATE_PARTS[n]) n++;
  return DATE_PARTS.slice(0, n);
}

/** Year, month, day and hour of an interval bound (`YYYY-MM-DD` or `YYYY-MM-DDTHH:00`). */
function partsOf(bound: string): number[] {
  return [Number(bound.slice(0, 4)), Number(bound.slice(5, 7)), Number(bound.slice(8, 10)), isHour(bound) ? Number(bound.slice(11, 13)) : 0];
}

/**
 * The partition filters of a `replace partition` run of `interval` (what the run replaces, and
 * where its rows must lie): `column >= start AND column < end` on the first partition column, or
 * with date parts (`DATE_PARTS`), one value of each: `year = 2024 AND month = 11` for November.
 * `dataset` names the dataset in errors. Errors: DATASET_INVALID when the date parts do not
 * match the interval (`year, month` need `grain: month`; a lone `year` is not supported).
 */
export function partitionSlice(partitionBy: readonly string[], interval: Interval, dataset: string): Filter[] {
  const parts = dateParts(partitionBy);
  if (!parts) {
    const column = partitionBy[0]!;
    return [{ column, op: '>=', value: boundValue(interval.start) }, { column, op: '<', value: boundValue(interval.end) }];
  }
  const grain = GRAIN_OF[parts.length as 2 | 3 | 4];
  const own = grain && interval.start !== EVERYTHING.start ? intervalOf(interval.start, grain) : undefined;
  if (!grain || !own || own.start !== interval.start || own.end !== interval.end) {
    throw new IngotError('DATASET_INVALID', `${dataset}: partition columns ${parts.join(', ')} replace ${grain ? `one ${grain}` : 'nothing a run can own'} per run, but the run's interval is [${interval.start}, ${interval.end}): ${grain ? `declare grain: ${grain}` : 'partition by year, month (and day, hour)'}`, { dataset });
  }
  const values = partsOf(interval.start);
  return parts.map((column, i) => ({ column, op: '=', value: values[i]! }));
}

/**
 * The date-part filters (`year = 2024 AND month = 11`) of the partitions holding every instant
 * of `interval`: the values its first and last instants share, coarsest first. Undefined when
 * they share none (an interval across years) or the interval is unbounded.
 */
export function datePartScope(parts: readonly string[], interval: Interval): Filter[] | undefined {
  if (interval.start === EVERYTHING.start || interval.end === EVERYTHING.end) return undefined;
  const first = partsOf(interval.start);
  const last = partsOf(isHour(interval.end) ? addHours(interval.end, -1) : addDays(interval.end, -1));
  let n = 0;
  while (n < parts.length && first[n] === last[n]) n++;
  return n === 0 ? undefined : parts.slice(0, n).map((column, i) => ({ column, op: '=' as const, value: first[i]! }));
}
