import { z } from 'zod';
import { MINUTE_GRAINS, type MinuteGrain } from '../pipeline/interval.js';

/**
 * The scheduler's section of `ingot.config.ts` (`pipelines`, `scheduler`): its types and schema,
 * composed with the other sections in `src/project.ts`.
 */
export interface ScheduleConfig {
  /** Scheduled pipelines (`pipeline({...})`); none: one pipeline `default` with every dataset. */
  pipelines?: PipelineDefinition[];
  /** `ingot serve` settings. */
  scheduler?: SchedulerSettings;
}

/** Settings of the scheduler process (`ingot serve`). */
export interface SchedulerSettings {
  /** At most this many runs at once over all pipelines (default 4). */
  maxActiveRuns?: number;
  /** POST a JSON description of every failed run to this URL (or `env:NAME`). */
  webhook?: string;
  /** Lease duration in seconds: a crashed scheduler's runs are taken over after this long (default 30). */
  leaseSeconds?: number;
  /** On SIGTERM, wait this many seconds for runs in flight before abandoning them (default 30). */
  gracePeriodSeconds?: number;
}

/**
 * How long an interval (a run's logical date) is: `hourly`, `daily`, `monthly`, or a sub-hourly
 * size (`'1 minute'`, `'5 minutes'`, `'10 minutes'`, `'15 minutes'`, `'30 minutes'`: intervals
 * aligned on the hour, logical dates `YYYY-MM-DDTHH:MM`).
 */
export type IntervalKind = 'hourly' | 'daily' | 'monthly' | MinuteGrain;

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
  /** First logical date, `YYYY-MM-DD`, `YYYY-MM-DDTHH:00` or `YYYY-MM-DDTHH:MM` (default: the first interval the scheduler sees due). */
  start?: string;
  /**
   * Interval covered by one run: `hourly` (logical date `YYYY-MM-DDTHH:00`, the hour's start),
   * `daily` (the day), `monthly` (the month's first day), or minutes: `'15 minutes'` (logical
   * date `YYYY-MM-DDTHH:MM`, the interval's start; 1, 5, 10, 15 or 30 minutes, aligned on the
   * hour, with a schedule such as `'0,15,30,45 * * * *'`). Default daily.
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
  /**
   * Start paused (Airflow's paused-on-creation): the scheduler starts no run of the pipeline until
   * it is resumed (`ingot resume <name>`, `POST /api/pipelines/<name>/resume`); once resumed or
   * paused by hand, that choice holds. Default false.
   */
  paused?: boolean;
  /**
   * Runs started by arriving files (`ingot serve`), as well as or instead of `schedule`: as soon
   * as files matching `files` land, one run at a time, each over everything with the declared
   * materializations (the datasets' files sources read what is new since their committed file list).
   */
  trigger?: FileTriggerDefinition;
  /**
   * What a run started by arriving files does with a file it cannot read (truncated, wrong
   * columns, not UTF-8): `reject` (default) records it as rejected with its error in the table's
   * committed file list and the run's results, and loads the other files; `fail` fails the run.
   */
  onBadFile?: 'reject' | 'fail';
}

/** A file-arrival trigger: what to watch, how often to list it, and how much one run takes. */
export interface FileTriggerDefinition {
  /** Glob of the arriving files, as a files source's `path`: relative to the project (`landing/events/** /*.json` without the space), or `s3://bucket/prefix/...`. */
  files: string;
  /** How often to list the files (default 1 s for a local folder, also watched for file-system events; 5 s for S3, listed with ListObjectsV2). */
  poll?: Duration;
  /** At most this many files per run, oldest first (default: all new files). */
  maxFiles?: number;
  /** At most this many bytes of files per run (at least one file; default: no bound). */
  maxBytes?: number;
}

const duration = z.union([z.number().nonnegative(), z.string().regex(/^\d+(\.\d+)?\s*(ms|s|m|h|d)$/, "a duration such as '30s', '10m', '2h'")]);

export const pipelineSchema = z.object({
  name: z.string().regex(/^[a-z][a-z0-9_-]*$/, 'pipeline names are lower_snake_case or kebab-case'),
  datasets: z.array(z.string().min(1)).optional(),
  schedule: z.string().min(1).optional(),
  timezone: z.string().min(1).optional(),
  start: z.string().regex(/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2})?$/, 'a date YYYY-MM-DD (or an hour YYYY-MM-DDTHH:00, a minute YYYY-MM-DDTHH:MM)').optional(),
  interval: z.enum(['hourly', 'daily', 'monthly', ...MINUTE_GRAINS]).optional(),
  catchup: z.boolean().optional(),
  retries: z.number().int().nonnegative().optional(),
  retryDelay: duration.optional(),
  timeout: duration.optional(),
  maxActiveRuns: z.number().int().positive().optional(),
  dependsOn: z.array(z.object({ dataset: z.string().min(1), timeout: duration.optional() }).strict()).optional(),
  paused: z.boolean().optional(),
  trigger: z.object({
    files: z.string().min(1),
    poll: duration.optional(),
    maxFiles: z.number().int().positive().optional(),
    maxBytes: z.number().int().positive().optional(),
  }).strict().optional(),
  onBadFile: z.enum(['reject', 'fail']).optional(),
}).strict();

/** Declares a pipeline (identity function that gives type checking in `ingot.config.ts`). */
export function pipeline(definition: PipelineDefinition): PipelineDefinition {
  return definition;
}

/** Validates a `ScheduleConfig` (one section of the configuration `src/project.ts` composes). */
export const scheduleConfigSchema = z
  .object({
    pipelines: z.array(pipelineSchema).optional(),
    scheduler: z
      .object({
        maxActiveRuns: z.number().int().positive().optional(),
        webhook: z.string().min(1).optional(),
        leaseSeconds: z.number().positive().optional(),
        gracePeriodSeconds: z.number().nonnegative().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
