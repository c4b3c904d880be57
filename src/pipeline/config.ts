import { z } from 'zod';
import type { EngineSettings } from '../engine/engine.js';

/** `ingot.config.ts`: where the lake is and how the engine runs. Paths are relative to the project folder. */
export interface ProjectConfig {
  /** Project name (default: the folder name). */
  name?: string;
  /** Lake root: a directory (default `./lake`) or `s3://bucket/prefix` (credentials and endpoint from the AWS environment). */
  lake?: string;
  /** Folder with dataset definitions, `.ts` and `.sql` (default `./datasets`). */
  datasets?: string;
  engine?: EngineSettings;
}

export const configSchema = z
  .object({
    name: z.string().optional(),
    lake: z.string().optional(),
    datasets: z.string().optional(),
    engine: z
      .object({
        memoryLimit: z.string().regex(/^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i, 'a size such as 1GB').optional(),
        spillDirectory: z.string().optional(),
        threads: z.number().int().positive().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/** Declares the project configuration (identity function for type checking in `ingot.config.ts`). */
export function defineConfig(config: ProjectConfig): ProjectConfig {
  return config;
}
