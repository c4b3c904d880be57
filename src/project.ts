import { z } from 'zod';
import { coreConfigSchema, type CoreConfig } from './pipeline/config.js';
import { loadConfigWith, loadProjectWith, type Project } from './pipeline/project.js';
import { scheduleConfigSchema, type ScheduleConfig } from './schedule/config.js';
import { serveConfigSchema, type ServeConfig } from './serve/config.js';

/**
 * `ingot.config.ts`: where the lake is and how the engine runs (`CoreConfig`), the scheduler's
 * pipelines (`ScheduleConfig`) and what `ingot serve` publishes (`ServeConfig`). Paths are
 * relative to the project folder.
 */
export interface ProjectConfig extends CoreConfig, ScheduleConfig, ServeConfig {}

/** Validates a `ProjectConfig`: the sections' schemas in one object, unknown keys refused. */
export const configSchema = z
  .object({ ...coreConfigSchema.shape, ...scheduleConfigSchema.shape, ...serveConfigSchema.shape })
  .strict();

/** Declares the project configuration (identity function for type checking in `ingot.config.ts`). */
export function defineConfig(config: ProjectConfig): ProjectConfig {
  return config;
}

/**
 * Loads the project in `dir` with its whole configuration (see `loadProjectWith` for what is
 * read and the errors).
 */
export function loadProject(dir: string): Promise<Project<ProjectConfig>> {
  return loadProjectWith(dir, configSchema);
}

/**
 * The project in `dir` with its whole configuration and no datasets (see `loadConfigWith`): for
 * commands that need the lake's location and no dataset definition.
 */
export function loadProjectConfig(dir: string): Promise<Project<ProjectConfig>> {
  return loadConfigWith(dir, configSchema);
}
