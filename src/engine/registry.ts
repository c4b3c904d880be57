import * as path from 'node:path';
import { z } from 'zod';
import { resolveEnv } from '../env.js';
import { IngotError } from '../errors.js';
import type { ParquetFiles } from '../table/checkpoint.js';
import type { Dialect } from './dialect.js';
import { DUCKDB_DIALECT } from './duckdb/dialect.js';
import type { Engine, EngineSettings } from './engine.js';
import type { LakeReader, LakeReaderSettings } from './reader.js';
import { SPARK_DIALECT } from './spark/dialect.js';

/**
 * The engines ingot knows, by name: the only file outside an engine's folder that names one.
 * A new engine is a folder `src/engine/<name>/` (an `Engine` and its `Dialect`) and one entry
 * in `ENGINES`. Engines' modules load when a project first opens one, so a command that needs
 * no Spark never loads the Spark client.
 */

/** Settings of the in-process engine (`engine: { memoryLimit, spillDirectory, threads }` in ingot.config.ts). */
export type LocalEngineSettings = EngineSettings;

/** The Spark engine's server: `url` a Spark Connect string `sc://host:port/;token=...` or `env:NAME` (e.g. `env:SPARK_REMOTE`). */
export interface SparkSettings {
  url: string;
}

/**
 * The sections of `ingot.config.ts` that configure engines: `engine`, the name of the project's
 * default engine or the in-process engine's settings, and one section per engine that needs
 * settings of its own (`spark`).
 */
export interface EngineConfig {
  engine?: string | LocalEngineSettings;
  spark?: SparkSettings;
}

/** Where an engine is opened for: the project folder and the lake root (a directory or `s3://...`). */
export interface EngineSite {
  projectDir: string;
  projectName: string;
  lake: string;
}

/** The in-process engine: it also reads raw source files and Delta checkpoints (`ParquetFiles`). */
export type LocalEngine = Engine & ParquetFiles;

/** One engine: its SQL dialect (available without loading the engine) and how to open it. */
interface EngineKind {
  dialect: Dialect;
  open(config: EngineConfig, site: EngineSite): Promise<Engine>;
}

const localSettingsSchema = z
  .object({
    memoryLimit: z.string().regex(/^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i, 'a size such as 1GB').optional(),
    spillDirectory: z.string().optional(),
    threads: z.number().int().positive().optional(),
  })
  .strict();

const ENGINES = {
  duckdb: {
    dialect: DUCKDB_DIALECT,
    open: (config, site) => openLocalEngine(localSettings(config, site.projectDir)),
  },
  spark: {
    dialect: SPARK_DIALECT,
    async open(config, site) {
      const fail = (message: string): IngotError => new IngotError('CONFIG_INVALID', `${site.projectName}: the Spark engine: ${message}`);
      const url = config.spark?.url;
      if (!url) throw fail("datasets run on Spark but ingot.config.ts has no spark: { url: 'sc://host:port' } (or 'env:SPARK_REMOTE')");
      const [{ SparkEngine }, { s3aConfFromEnv }] = await Promise.all([import('./spark/engine.js'), import('./spark/s3a.js')]);
      // a lake on S3: Spark reaches it through S3A, pointed at the S3 of this process's AWS environment
      return SparkEngine.open(resolveEnv(url, fail, 'the Spark Connect URL'), site.lake.startsWith('s3://') ? s3aConfFromEnv() : {});
    },
  },
} satisfies Record<string, EngineKind>;

/** An engine's name: `'duckdb' | 'spark'`. */
export type EngineName = keyof typeof ENGINES;

/** The engine that runs in process: it reads sources, checkpoints and exports, and serves. */
export const LOCAL_ENGINE: EngineName = 'duckdb';

/** Names of the engines, in registry order. */
export const ENGINE_NAMES = Object.keys(ENGINES) as readonly EngineName[];

/** Whether `name` is an engine's name. */
export function isEngineName(name: string): name is EngineName {
  return Object.hasOwn(ENGINES, name);
}

/** The dialect of engine `name`. Error: CONFIG_INVALID naming the known engines. */
export function dialectOf(name: string): Dialect {
  return kindOf(name).dialect;
}

/** The project's default engine: `engine` when it names one, else the in-process engine. */
export function defaultEngineName(config: EngineConfig): EngineName {
  return typeof config.engine === 'string' && isEngineName(config.engine) ? config.engine : LOCAL_ENGINE;
}

/** The in-process engine's settings with the spill directory resolved against `projectDir`. */
export function localSettings(config: EngineConfig, projectDir: string): LocalEngineSettings {
  const s = typeof config.engine === 'object' ? config.engine : {};
  return { ...s, ...(s.spillDirectory ? { spillDirectory: path.resolve(projectDir, s.spillDirectory) } : {}) };
}

/** Opens engine `name` for a project. Errors: CONFIG_INVALID (unknown engine, missing settings), the engine's own (ENGINE_UNAVAILABLE...). */
export function openEngine(name: string, config: EngineConfig, site: EngineSite): Promise<Engine> {
  return kindOf(name).open(config, site);
}

/** Opens the in-process engine with `settings` (paths absolute). */
export async function openLocalEngine(settings: LocalEngineSettings = {}): Promise<LocalEngine> {
  const { DuckDBEngine } = await import('./duckdb/engine.js');
  return DuckDBEngine.open(settings);
}

/**
 * The zod shapes of the engine sections of `ingot.config.ts` (see `EngineConfig`), for the
 * project's configuration schema.
 */
export const engineConfigShape = {
  engine: z.string().refine(isEngineName, { message: `an engine name (${ENGINE_NAMES.join(', ')}) or the in-process engine's settings` }).or(localSettingsSchema).optional(),
  spark: z.object({ url: z.string().min(1) }).strict().optional(),
};

/** A zod schema of an engine name, with an error listing the known ones. */
export const engineNameSchema = z.string().refine(isEngineName, { message: `unknown engine (known: ${ENGINE_NAMES.join(', ')})` });

function kindOf(name: string): EngineKind {
  const kind: EngineKind | undefined = isEngineName(name) ? ENGINES[name] : undefined;
  if (!kind) throw new IngotError('CONFIG_INVALID', `unknown engine "${name}" (known: ${ENGINE_NAMES.join(', ')})`);
  return kind;
}

/**
 * Opens the serving reader (`LakeReader`, see `engine/reader.ts`) of the in-process engine with
 * `settings`; its driver is loaded on this first use. Errors: the engine's, when it cannot start.
 */
export async function openLakeReader(settings: LakeReaderSettings): Promise<LakeReader> {
  const { DuckDBLakeReader } = await import('./duckdb/reader.js');
  return DuckDBLakeReader.open(settings);
}
