import { Cron } from 'croner';
import { IngotError } from '../errors.js';
import type { CoreConfig } from '../pipeline/config.js';
import type { LoadedDataset, Project } from '../pipeline/project.js';
import { checkRange, parseDate } from '../pipeline/interval.js';
import { grainOf, intervalStart } from './calendar.js';
import type { Duration, IntervalKind, PipelineDefinition, ScheduleConfig } from './config.js';

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
  /** Paused until resumed (`paused: true` in its declaration). */
  startsPaused: boolean;
  /** Runs started by arriving files (see `FileTriggerDefinition`); `pollMs` defaulted. */
  trigger?: { files: string; pollMs: number; maxFiles?: number; maxBytes?: number };
  onBadFile: 'reject' | 'fail';
}

/** The pipeline a project without declarations gets: every dataset, no schedule. */
export const DEFAULT_PIPELINE = 'default';

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
export function pipelinesOf(project: Project<CoreConfig & ScheduleConfig>): Pipeline[] {
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

/** The names of `pipelines` declared to start paused, for `MetadataStore.paused`. */
export function startingPaused(pipelines: Pipeline[]): string[] {
  return pipelines.filter((p) => p.startsPaused).map((p) => p.name);
}

/** The pipeline called `name`. Errors: PIPELINE_UNKNOWN listing the known ones. */
export function pipelineNamed(project: Project<CoreConfig & ScheduleConfig>, name: string): Pipeline {
  const all = pipelinesOf(project);
  const p = all.find((x) => x.name === name);
  if (!p) throw new IngotError('PIPELINE_UNKNOWN', `no pipeline ${name} in ${project.dir} (known: ${all.map((x) => x.name).join(', ')})`, { pipeline: name });
  return p;
}

/**
 * Checks a logical date a user asks `p` to run (a trigger's date, a backfill's first date): not
 * before the pipeline's `start`. `what` names the argument or field (`--date`, `from`).
 * Errors: CONFIG_INVALID naming it, the date and the start.
 */
export function checkStarted(p: Pipeline, date: string, what: string): void {
  if (p.start !== undefined && intervalStart(date, p.interval) < p.start) {
    throw new IngotError('CONFIG_INVALID', `${what} ${date} is before pipeline ${p.name}'s start ${p.start}`, { pipeline: p.name, column: what });
  }
}

/**
 * Checks a backfill range of `p` before anything is listed or run: `from` not before the
 * pipeline's start, `from` not after `to`, at most `MAX_RANGE_INTERVALS` intervals of the
 * pipeline's kind. Dates as `parseDate` returns them. Errors: CONFIG_INVALID naming the argument.
 */
export function checkBackfillRange(p: Pipeline, from: string, to: string, fromWhat = '--from', toWhat = '--to'): void {
  checkStarted(p, from, fromWhat);
  checkRange(from, to, grainOf(p.interval), fromWhat, toWhat);
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
    ...(d.start ? { start: intervalStart(parseDate(d.start, `${where}: start`), interval) } : {}),
    interval,
    catchup: d.catchup ?? true,
    retries: d.retries ?? 0,
    retryDelayMs: durationMs(d.retryDelay ?? 10),
    ...(d.timeout !== undefined ? { timeoutMs: durationMs(d.timeout) } : {}),
    maxActiveRuns: d.maxActiveRuns ?? 1,
    dependsOn: (d.dependsOn ?? []).map((x) => ({ dataset: x.dataset, timeoutMs: durationMs(x.timeout ?? 3600), interval })),
    startsPaused: d.paused ?? false,
    ...(d.trigger ? { trigger: {
      files: d.trigger.files, pollMs: durationMs(d.trigger.poll ?? (/^s3a?:\/\//i.test(d.trigger.files) ? 5 : 1)),
      ...(d.trigger.maxFiles !== undefined ? { maxFiles: d.trigger.maxFiles } : {}), ...(d.trigger.maxBytes !== undefined ? { maxBytes: d.trigger.maxBytes } : {}),
    } } : {}),
    onBadFile: d.onBadFile ?? 'reject',
  };
}
