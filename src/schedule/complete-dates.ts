import type { Lake } from '../table/lake.js';
import { addDays, addHours, addMinutes, grainMinutes, grainOfDate, isHour, type Grain } from '../pipeline/interval.js';
import type { Snapshot } from '../table/snapshot.js';
import type { MetadataStore } from '../metadata/store.js';

/** Delta `txn` appId prefix of the runner's commits: `ingot:<logical date>`. */
const TXN_PREFIX = 'ingot:';

/**
 * Logical dates for which `dataset` is complete, ascending: a run recorded a successful task for
 * it in the metadata store, or its table holds a commit of that date (the runner's Delta `txn`
 * `ingot:<date>`, which survives even when the history was lost or the run was made elsewhere).
 */
export async function completeDates(store: MetadataStore, lake: Lake, dataset: string): Promise<string[]> {
  const dates = new Set(await store.completeDates(dataset));
  const snapshot = await lake.table(dataset).trySnapshot();
  for (const appId of snapshot?.txns.keys() ?? []) {
    const date = appId.startsWith(TXN_PREFIX) ? appId.slice(TXN_PREFIX.length) : '';
    if (/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2})?$/.test(date)) dates.add(date);
  }
  return [...dates].sort();
}

/** Whether `dataset` is complete for every one of `logicalDates` (see `completeDates`). */
export async function isComplete(store: MetadataStore, lake: Lake, dataset: string, logicalDates: string[]): Promise<boolean> {
  let snapshot: Promise<Snapshot | undefined> | undefined;
  for (const date of logicalDates) {
    if (await store.completeOn(dataset, date)) continue;
    snapshot ??= lake.table(dataset).trySnapshot();
    if (!(await snapshot)?.txns.has(`${TXN_PREFIX}${date}`)) return false;
  }
  return true;
}

/**
 * Consecutive logical dates (days, hours or minute intervals) grouped into ranges:
 * `[{ from, to, intervals }]` (`intervals`: how many between `from` and `to`, both included).
 * Minute dates step by `grain` (default: the finest grain the dates name by themselves,
 * `grainOfDate`: `T10:00`, `T10:15`, `T10:30` step by 15 minutes).
 */
export function dateRanges(dates: string[], grain?: Grain): { from: string; to: string; intervals: number }[] {
  const minuteDates = dates.filter((d) => isHour(d) && d.slice(14, 16) !== '00');
  const width = grainMinutes(grain) ?? (minuteDates.length > 0 ? Math.min(...minuteDates.map((d) => grainMinutes(grainOfDate(d))!)) : undefined);
  const out: { from: string; to: string; intervals: number }[] = [];
  for (const d of dates) {
    const last = out[out.length - 1];
    if (last && (isHour(d) ? (width !== undefined ? addMinutes(last.to, width) : addHours(last.to, 1)) : addDays(last.to, 1)) === d) {
      last.to = d;
      last.intervals++;
    } else out.push({ from: d, to: d, intervals: 1 });
  }
  return out;
}
