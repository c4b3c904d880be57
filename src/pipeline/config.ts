import { z } from 'zod';
import type { EngineSettings } from '../engine/engine.js';
import { pipelineSchema, type PipelineDefinition } from '../schedule/pipeline.js';
import { dashboardSchema, endpointSchema, serveSchema, type DashboardDefinition, type EndpointDefinition, type ServeSettings } from '../serve/config.js';

/** `ingot.config.ts`: where the lake is and how the engine runs. Paths are relative to the project folder. */
export interface ProjectConfig {
  /** Project name (default: the folder name). */
  name?: string;
  /** Lake root: a directory (default `./lake`) or `s3://bucket/prefix` (credentials and endpoint from the AWS environment). */
  lake?: string;
  /** Folder with dataset definitions, `.ts` and `.sql` (default `./datasets`). */
  datasets?: string;
  /**
   * The default engine of the project's datasets: `'duckdb'` (embedded, the default), `'spark'`
   * (a Spark Connect server, see `spark`), or DuckDB's settings. A dataset may choose its own
   * (`engine` in its definition); both engines share the lake.
   */
  engine?: EngineName | EngineSettings;
  /** The Spark engine's server: `url` a Spark Connect string `sc://host:port/;token=...` or `env:NAME` (e.g. `env:SPARK_REMOTE`). */
  spark?: { url: string };
  /**
   * Metadata store (run history, leases): a SQLite file relative to the project (default
   * `.ingot/metadata.db`), `postgres://user:pass@host/db` to share one store between processes,
   * or `env:NAME`.
   */
  metadata?: string;
  /** Scheduled pipelines (`pipeline({...})`); none: one pipeline `default` with every dataset. */
  pipelines?: PipelineDefinition[];
  /** `ingot serve` settings. */
  scheduler?: SchedulerSettings;
  /** The HTTP server of `ingot serve` (REST API, web UI). */
  serve?: ServeSettings;
  /** REST endpoints the project publishes (`endpoint({ path, params, sql })`). */
  endpoints?: EndpointDefinition[];
  /** Dashboards of the web UI (`dashboard({ name, title, panels })`). */
  dashboards?: DashboardDefinition[];
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

/** The engines a dataset can run on. */
export type EngineName = 'duckdb' | 'spark';

/** The project's default engine. */
export function defaultEngine(config: ProjectConfig): EngineName {
  return typeof config.engine === 'string' ? config.engine : 'duckdb';
}

/** DuckDB's settings (none when `engine` names an engine). */
export function duckdbSettings(config: ProjectConfig): EngineSettings {
  return typeof config.engine === 'object' ? config.engine : {};
}

export const configSchema = z
  .object({
    name: z.string().optional(),
    lake: z.string().optional(),
    datasets: z.string().optional(),
    engine: z.enum(['duckdb', 'spark']).or(z
      .object({
        memoryLimit: z.string().regex(/^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i, 'a size such as 1GB').optional(),
        spillDirectory: z.string().optional(),
        threads: z.number().int().positive().optional(),
      })
      .strict()).optional(),
    spark: z.object({ url: z.string().min(1) }).strict().optional(),
    metadata: z.string().min(1).optional(),
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
    serve: serveSchema.optional(),
    endpoints: z.array(endpointSchema).optional(),
    dashboards: z.array(dashboardSchema).optional(),
  })
  .strict();

/** Declares the project configuration (identity function for type checking in `ingot.config.ts`). */
export function defineConfig(config: ProjectConfig): ProjectConfig {
  return config;
}
