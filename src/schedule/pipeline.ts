import { Cron } from 'croner';
import { z } from 'zod';
import { IngotError } from '../errors.js';
import type { LoadedDataset, Project } from '../pipeline/project.js';
import { intervalStart } from './calendar.js';

/** How long an interval (a run's logical date) is. */
export type IntervalKind = 'hourly' | 'daily' | 'monthly';

/**
 * An upstream dataset a pipeline waits for (a sensor): its intervals covering the run's interval
 * must be complete — the upstream pipeline's interval containing the run's when it is coarser
 * (a daily run waits for its month), every one inside it when finer (a daily run waits for 24 hours).
 */
export interface Dependency {
  /** `layer.table` of a dataset, usually another pipeline's. */
  dataset: string;
  /** Give up (the run fails with SENSOR_TIMEOUT) after this long; seconds or `'30s' | '10m' | '2h'`. Default 1h. */
  timeout?: Duration;
}

/** Seconds, or a string such as `'500ms'`, `'30s'`, `'10m'`, `'2h'`, `'1d'`. */
export type Duration = number | string;

/**
 * A pipeline: a set of datasets run together per interval, on a schedule. What `pipeline({...})`
 * declares in `ingot.config.ts` (`pipelines: [...]`). Like an Airflow DAG or a Dagster job with a
 * schedule: the run for a tick covers the last complete interval before it.
 */
export interface PipelineDefinition {
  /** lower_snake_case or kebab-case name. */
  name: string;
  /** Dataset names or `layer.*` patterns (default: every dataset of the project). Run in graph order. */
  datasets?: string[];
  /**
   * Cron expression (5 fields, or 6 with seconds first), read in `timezone`. A tick runs the last
   * complete interval ending at or before it: `'0 1 * * *'` daily runs yesterday at 01:00.
   * Without it, the pipeline runs only by `ingot backfill` and `ingot trigger`.
   */
  schedule?: string;
  /** IANA time zone of the schedule and of interval boundaries (default `UTC`). */
  timezone?: string;
  /** First logical date, `YYYY-MM-DD` or `YYYY-MM-DDTHH:00` (default: the first interval the scheduler sees due). */
  start?: string;
  /**
   * Interval covered by one run: `hourly` (logical date `YYYY-MM-DDTHH:00`, the hour's start),
   * `daily` (the day) or `monthly` (the month's first day). Default daily.
   */
  interval?: IntervalKind;
  /** Run the intervals missed while the scheduler was down, oldest first (default true); false: only the latest. */
  catchup?: boolean;
  /** Attempts after the first for each dataset of a run (default 0). */
  retries?: number;
  /** Delay before the first retry; doubles on each further retry (default 10s). */
  retryDelay?: Duration;
  /** Time limit of one attempt of one dataset (default none). */
  timeout?: Duration;
  /** At most this many runs of this pipeline at once (default 1). */
  maxActiveRuns?: number;
  /** Upstream datasets to wait for before each run. */
  dependsOn?: Dependency[];
}

/** A pipeline with defaults applied and datasets resolved. Durations are in milliseconds. */
export interface Pipeline {
  name: string;
  datasets: string[];
  schedule?: string;
  timezone: string;
  start?: string;
  interval: IntervalKind;
  catchup: boolean;
  retries: number;
  retryDelayMs: number;
  timeoutMs?: number;
  maxActiveRuns: number;
  /** `interval`: the interval kind of the pipeline that runs the upstream dataset (its first), else this pipeline's. */
  dependsOn: { dataset: string; timeoutMs: number; interval: IntervalKind }[];
}

/** The pipeline a project without declarations gets: every dataset, no schedule. */
export const DEFAULT_PIPELINE = 'default';

const duration = z.union([z.number().nonnegative(), z.string().regex(/^\d+(\.\d+)?\s*(ms|s|m|h|d)$/, "a duration such as '30s', '10m', '2h'")]);

export const pipelineSchema = z.object({
  name: z.string().regex(/^[a-z][a-z0-9_-]*$/, 'pipeline names are lower_snake_case or kebab-case'),
  datasets: z.array(z.string().min(1)).optional(),
  schedule: z.string().min(1).optional(),
  timezone: z.string().min(1).optional(),
  start: z.string().regex(/^\d{4}-\d{2}-\d{2}(T\d{2}:00)?$/, 'a date YYYY-MM-DD (or an hour YYYY-MM-DDTHH:00)').optional(),
  interval: z.enum(['hourly', 'daily', 'monthly']).optional(),
  catchup: z.boolean().optional(),
  retries: z.number().int().nonnegative().optional(),
  retryDelay: duration.optional(),
  timeout: duration.optional(),
  maxActiveRuns: z.number().int().positive().optional(),
  dependsOn: z.array(z.object({ dataset: z.string().min(1), timeout: duration.optional() }).strict()).optional(),
}).strict();

/** Declares a pipeline (identity function that gives type checking in `ingot.config.ts`). */
export function pipeline(definition: PipelineDefinition): PipelineDefinition {
  return definition;
}

/** Milliseconds of a `Duration` (a number is seconds). */
export function durationMs(d: Duration): number {
  if (typeof d === 'number') return d * 1000;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(d);
  if (!m) throw new IngotError('CONFIG_INVALID', `duration ${d}: expected seconds or a string such as '30s', '10m', '2h'`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
}

/**
 * The project's pipelines: its declarations (`pipelines` in ingot.config.ts) with defaults
 * applied, or one pipeline `default` with every dataset when there are none. Errors
 * (CONFIG_INVALID): a pattern matching no dataset, an unknown upstream dataset, an invalid cron
 * expression or time zone, a name declared twice.
 */
export function pipelinesOf(project: Project): Pipeline[] {
  const defs = project.config.pipelines ?? [];
  if (defs.length === 0) return [resolve({ name: DEFAULT_PIPELINE }, project.datasets)];
  const seen = new Set<string>();
  const all = defs.map((d) => {
    if (seen.has(d.name)) throw new IngotError('CONFIG_INVALID', `pipeline ${d.name} is declared twice`, { pipeline: d.name });
    seen.add(d.name);
    return resolve(d, project.datasets);
  });
  for (const p of all) {
    for (const dep of p.dependsOn) dep.interval = all.find((u) => u.datasets.includes(dep.dataset))?.interval ?? p.interval;
  }
  return all;
}

/** The pipeline called `name`. Errors: PIPELINE_UNKNOWN listing the known ones. */
export function pipelineNamed(project: Project, name: string): Pipeline {
  const all = pipelinesOf(project);
  const p = all.find((x) => x.name === name);
  if (!p) throw new IngotError('PIPELINE_UNKNOWN', `no pipeline ${name} in ${project.dir} (known: ${all.map((x) => x.name).join(', ')})`, { pipeline: name });
  return p;
}

function resolve(d: PipelineDefinition, datasets: LoadedDataset[]): Pipeline {
  const where = `pipeline ${d.name}`;
  const names = datasets.map((x) => x.name);
  const selected = new Set<string>();
  for (const pattern of d.datasets ?? ['*']) {
    const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    const hits = names.filter((n) => re.test(n));
    if (hits.length === 0 && pattern !== '*') throw new IngotError('CONFIG_INVALID', `${where}: datasets: ${pattern} matches no dataset (known: ${names.join(', ')})`, { pipeline: d.name });
    for (const h of hits) selected.add(h);
  }
  const timezone = d.timezone ?? 'UTC';
  const interval = d.interval ?? 'daily';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw new IngotError('CONFIG_INVALID', `${where}: timezone ${timezone} is not an IANA time zone such as Europe/Paris`, { pipeline: d.name });
  }
  if (d.schedule) {
    try {
      new Cron(d.schedule, { timezone, paused: true });
    } catch (err) {
      throw new IngotError('CONFIG_INVALID', `${where}: schedule ${d.schedule}: ${(err as Error).message}`, { pipeline: d.name });
    }
  }
  for (const dep of d.dependsOn ?? []) {
    if (!names.includes(dep.dataset)) throw new IngotError('CONFIG_INVALID', `${where}: dependsOn ${dep.dataset} is not a dataset of this project`, { pipeline: d.name, dataset: dep.dataset });
  }
  return {
    name: d.name,
    datasets: names.filter((n) => selected.has(n)),
    ...(d.schedule ? { schedule: d.schedule } : {}),
    timezone,
    ...(d.start ? { start: intervalStart(d.start, interval) } : {}),
    interval,
    catchup: d.catchup ?? true,
    retries: d.retries ?? 0,
    retryDelayMs: durationMs(d.retryDelay ?? 10),
    ...(d.timeout !== undefined ? { timeoutMs: durationMs(d.timeout) } : {}),
    maxActiveRuns: d.maxActiveRuns ?? 1,
    dependsOn: (d.dependsOn ?? []).map((x) => ({ dataset: x.dataset, timeoutMs: durationMs(x.timeout ?? 3600), interval })),
  };
}
