import { z } from 'zod';
import { engineConfigShape, type EngineConfig } from '../engine/registry.js';

/**
 * The core of `ingot.config.ts`: where the lake is and how the engines run. Paths are relative
 * to the project folder. The full configuration (`ProjectConfig` in `src/project.ts`) adds the
 * sections of the scheduler (`schedule/config.ts`) and of `ingot serve` (`serve/config.ts`).
 * The engine sections (`engine`: the default engine's name or the in-process engine's settings;
 * one section per engine that needs settings, such as `spark: { url }`) come from the engine
 * registry (`EngineConfig`).
 */
export interface CoreConfig extends EngineConfig {
  /** Project name (default: the folder name). */
  name?: string;
  /** Lake root: a directory (default `./lake`) or `s3://bucket/prefix` (credentials and endpoint from the AWS environment). */
  lake?: string;
  /** Folder with dataset definitions, `.ts` and `.sql` (default `./datasets`). */
  datasets?: string;
  /**
   * Metadata store (run history, leases): a SQLite file relative to the project (default
   * `.ingot/metadata.db`), `postgres://user:pass@host/db` to share one store between processes,
   * or `env:NAME`.
   */
  metadata?: string;
}

/** Validates a `CoreConfig`; `src/project.ts` composes it with the other sections' schemas. */
export const coreConfigSchema = z
  .object({
    name: z.string().optional(),
    lake: z.string().optional(),
    datasets: z.string().optional(),
    ...engineConfigShape,
    metadata: z.string().min(1).optional(),
  })
  .strict();
