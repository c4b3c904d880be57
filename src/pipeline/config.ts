import { z } from 'zod';
import type { EngineSettings } from '../engine/engine.js';

/**
 * The core of `ingot.config.ts`: where the lake is and how the engine runs. Paths are relative to
 * the project folder. The full configuration (`ProjectConfig` in `src/project.ts`) adds the
 * sections of the scheduler (`schedule/config.ts`) and of `ingot serve` (`serve/config.ts`).
 */
export interface CoreConfig {
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
}

/** The engines a dataset can run on. */
export type EngineName = 'duckdb' | 'spark';

/** The project's default engine. */
export function defaultEngine(config: CoreConfig): EngineName {
  return typeof config.engine === 'string' ? config.engine : 'duckdb';
}

/** DuckDB's settings (none when `engine` names an engine). */
export function duckdbSettings(config: CoreConfig): EngineSettings {
  return typeof config.engine === 'object' ? config.engine : {};
}

/** Validates a `CoreConfig`; `src/project.ts` composes it with the other sections' schemas. */
export const coreConfigSchema = z
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
  })
  .strict();
