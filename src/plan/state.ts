import { IngotError } from '../errors.js';
import { EVERYTHING, type Interval } from '../pipeline/interval.js';
import type { Snapshot } from '../table/snapshot.js';
import type { DomainWrite } from '../table/write.js';

/**
 * What a dataset's table records about each interval it holds, so a later plan can tell whether
 * running it again would change anything: one Delta metadata domain per interval
 * (`ingot.interval.<start>`, or `ingot.interval.all` for a run over everything), committed in the
 * same commit as the interval's rows ("Domain Metadata": the snapshot keeps the latest of each
 * domain, checkpoints included, so reading it costs no log reads). A commit that replaces the
 * whole table removes the other intervals' domains.
 */
export interface IntervalState {
  /** `fingerprint()` of the definition that wrote the interval. */
  fingerprint: string;
  /** The version of every upstream table the interval was computed from (`layer.table` → version). */
  upstream: Record<string, number>;
  /** The run that wrote it. */
  runId: string;
  /** Its logical date (absent for a run over everything). */
  logicalDate?: string;
}

/** Prefix of the interval domains. */
export const INTERVAL_DOMAIN = 'ingot.interval.';

/** The domain recording `interval`: `ingot.interval.<start>`, `ingot.interval.all` for everything. */
export function intervalDomain(interval: Interval): string {
  return INTERVAL_DOMAIN + (interval.start === EVERYTHING.start && interval.end === EVERYTHING.end ? 'all' : interval.start);
}

/**
 * The recorded state of `interval` in `snapshot`: its own domain, else the state of a run over
 * everything (which covers every interval). Undefined when neither exists.
 * Errors: LOG_CORRUPT naming the domain when its configuration is not an `IntervalState`.
 */
export function recordedState(snapshot: Snapshot | undefined, interval: Interval): IntervalState | undefined {
  if (!snapshot) return undefined;
  const own = snapshot.domains.get(intervalDomain(interval)) ?? snapshot.domains.get(intervalDomain(EVERYTHING));
  return own ? parseState(own.domain, own.configuration) : undefined;
}

/**
 * The domain writes recording `state` for `interval` on top of `base`: the interval's domain,
 * plus, when the write replaces the whole table (`replacesTable`), the removal of every other
 * interval domain. Two concurrent commits of the same interval conflict (same domain).
 */
export function stateWrites(base: Snapshot | undefined, interval: Interval, state: IntervalState, replacesTable: boolean): DomainWrite[] {
  const domain = intervalDomain(interval);
  const writes: DomainWrite[] = [{ domain, configuration: JSON.stringify(state), removed: false }];
  if (replacesTable && base) {
    for (const d of base.domains.values()) {
      if (d.domain.startsWith(INTERVAL_DOMAIN) && d.domain !== domain) writes.push({ domain: d.domain, configuration: d.configuration, removed: true });
    }
  }
  return writes;
}

/**
 * The upstream versions an incremental dataset has processed, from `snapshot` (its table): per
 * upstream table, the greatest version any interval state records (each run records the
 * versions it read up to, committed with its output). Empty when nothing is recorded (a new
 * table: everything is read). Errors: LOG_CORRUPT as `recordedState`.
 */
export function processedUpstream(snapshot: Snapshot | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of snapshot?.domains.values() ?? []) {
    if (!d.domain.startsWith(INTERVAL_DOMAIN) || d.removed) continue;
    for (const [ref, v] of Object.entries(parseState(d.domain, d.configuration).upstream)) out[ref] = Math.max(out[ref] ?? -1, v);
  }
  return out;
}

function parseState(domain: string, configuration: string): IntervalState {
  try {
    const s = JSON.parse(configuration) as IntervalState;
    if (typeof s.fingerprint === 'string' && s.upstream && typeof s.upstream === 'object') return s;
  } catch {
    // reported below
  }
  throw new IngotError('LOG_CORRUPT', `metadata domain ${domain} is not an interval state: ${configuration.slice(0, 200)}`);
}

/**
 * Interval states as records of other tables' versions (`VersionRecords` of `promoteEnvironment`):
 * an interval domain records the version of each upstream table; after a promote, the version an
 * upstream table had in the environment becomes the version its promote committed in production.
 * Other domains, and states that do not parse, are left as they are.
 */
/**
 * A promoted table's versions: `cloned` production's that the environment's table was cloned from
 * (null: made in the environment), `before` production's just before the promote (null: none),
 * `from` the environment's latest, `to` production's after the promote.
 */
export interface PromotedVersions {
  cloned: number | null;
  before: number | null;
  from: number;
  to: number;
}

export const intervalVersionRecords = {
  tables(domain: string, configuration: string): string[] {
    if (!domain.startsWith(INTERVAL_DOMAIN)) return [];
    try {
      return Object.keys(parseState(domain, configuration).upstream);
    } catch {
      return [];
    }
  },
  rebase(domain: string, configuration: string, promoted: ReadonlyMap<string, PromotedVersions>): string {
    if (!domain.startsWith(INTERVAL_DOMAIN)) return configuration;
    let state: IntervalState;
    try {
      state = parseState(domain, configuration);
    } catch {
      return configuration;
    }
    let changed = false;
    const upstream = { ...state.upstream };
    for (const [table, v] of Object.entries(upstream)) {
      const p = promoted.get(table);
      if (!p) continue;
      // the environment's latest version is production's new one; an earlier environment-only
      // version has no production twin: it becomes the version before the promote, so the plan
      // looks at what the promote changed (in the interval's partitions) instead of trusting an alias
      const to = v === p.from ? p.to : v > (p.cloned ?? -1) && v < p.from ? (p.before ?? -1) : v;
      if (to !== v) {
        upstream[table] = to;
        changed = true;
      }
    }
    return changed ? JSON.stringify({ ...state, upstream }) : configuration;
  },
};
