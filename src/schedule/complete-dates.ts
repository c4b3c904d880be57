import type { Lake } from '../lake.js';
import { addDays } from '../pipeline/interval.js';
import type { MetadataStore } from './store/store.js';

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
    if (/^\d{4}-\d{2}-\d{2}$/.test(date)) dates.add(date);
  }
  return [...dates].sort();
}

/** Whether `dataset`'s interval for `logicalDate` is complete (see `completeDates`). */
export async function isComplete(store: MetadataStore, lake: Lake, dataset: string, logicalDate: string): Promise<boolean> {
  if (await store.completeOn(dataset, logicalDate)) return true;
  const snapshot = await lake.table(dataset).trySnapshot();
  return snapshot?.txns.has(`${TXN_PREFIX}${logicalDate}`) ?? false;
}

/** Consecutive dates grouped into ranges: `[{ from, to, days }]` (days between `from` and `to`, both included). */
export function dateRanges(dates: string[]): { from: string; to: string; days: number }[] {
  const out: { from: string; to: string; days: number }[] = [];
  for (const d of dates) {
    const last = out[out.length - 1];
    if (last && addDays(last.to, 1) === d) {
      last.to = d;
      last.days++;
    } else out.push({ from: d, to: d, days: 1 });
  }
  return out;
}
