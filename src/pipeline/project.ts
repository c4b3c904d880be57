import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { z } from 'zod';
import { IngotError } from '../errors.js';
import { resolveLocation } from '../storage/open.js';
import { findConfigFile, importConfig, importModuleDefault } from './config-module.js';
import type { CoreConfig } from './config.js';
import { ENGINE_NAMES } from '../engine/registry.js';
import { datasetSchema, type DatasetDefinition } from './definition.js';
import { parseSqlDataset, parseSqlOverride } from './sql-file.js';

/**
 * A loaded project: its folder, validated configuration, resolved paths and dataset definitions.
 * `C`: the configuration's type, the core (`CoreConfig`) and the sections the code at hand reads
 * (the whole of it, `ProjectConfig`, in `src/project.ts`).
 */
export interface Project<C extends CoreConfig = CoreConfig> {
  dir: string;
  name: string;
  config: C;
  /** Absolute lake root: a directory or `s3://bucket/prefix`. */
  lake: string;
  datasets: LoadedDataset[];
}

/** A dataset definition and the file it came from. */
export interface LoadedDataset extends DatasetDefinition {
  file: string;
}


/**
 * Loads the project in `dir`, its configuration validated by `configSchema` (the whole of it,
 * composed of the sections, is `loadProject` in `src/project.ts`):
 * `ingot.config.ts` and every `.ts`/`.sql` file under its datasets
 * folder. `.sql` files are named by their path (`datasets/silver/flights.sql` → `silver.flights`);
 * `.ts` files default-export a dataset or an array of them. `x.<engine>.sql` next to `x.sql` (or
 * `x.ts` defining one dataset) is that dataset's SQL on that engine (`sqlByEngine`).
 * Errors: CONFIG_INVALID and DATASET_INVALID naming the file and field; for an override, an
 * unknown engine, a missing or ambiguous dataset file, or a second override for the same engine.
 */
export async function loadProjectWith<C extends CoreConfig>(dir: string, configSchema: z.ZodType<C>): Promise<Project<C>> {
  const { dir: root, config } = await loadConfigWith(dir, configSchema);

  const datasetsDir = path.resolve(root, config.datasets ?? 'datasets');
  const datasets: LoadedDataset[] = [];
  const overrides: { file: string; base: string; engine: string }[] = [];
  for (const file of await walk(datasetsDir)) {
    const rel = path.relative(datasetsDir, file);
    const override = /^(.+)\.([^.]+)\.sql$/.exec(path.basename(file));
    if (override) {
      overrides.push({ file, base: path.join(path.dirname(file), override[1]!), engine: override[2]! });
      continue;
    }
    const nameFromPath = rel.replace(/\.(sql|ts|js|mjs)$/, '').split(path.sep).join('.');
    let defs: unknown[];
    if (file.endsWith('.sql')) {
      defs = [parseSqlDataset(await fs.readFile(file, 'utf8'), nameFromPath, file)];
    } else if (/\.(ts|js|mjs)$/.test(file) && !file.endsWith('.d.ts')) {
      const exported = await importModuleDefault(file);
      defs = Array.isArray(exported) ? exported : [exported];
    } else continue;
    for (const d of defs) {
      const withName = typeof d === 'object' && d !== null && !('name' in d) ? { ...d, name: nameFromPath } : d;
      const result = datasetSchema.safeParse(withName);
      if (!result.success) throw new IngotError('DATASET_INVALID', `${file}: ${describeIssues(result.error)}`, { file });
      datasets.push({ ...(result.data as DatasetDefinition), file });
    }
  }
  for (const o of overrides) {
    const fail = (message: string): IngotError => new IngotError('DATASET_INVALID', `${o.file}: ${message}`, { file: o.file });
    const name = path.basename(o.base);
    if (!(ENGINE_NAMES as readonly string[]).includes(o.engine)) {
      throw fail(`unknown engine "${o.engine}" in an SQL override's file name (known: ${ENGINE_NAMES.join(', ')}): name it ${ENGINE_NAMES.map((e) => `${name}.${e}.sql`).join(' or ')}`);
    }
    const owners = datasets.filter((d) => d.file.replace(/\.(sql|ts|js|mjs)$/, '') === o.base);
    if (owners.length !== 1) {
      throw fail(owners.length === 0
        ? `an SQL override for engine ${o.engine} needs its dataset next to it (${name}.sql or ${name}.ts)`
        : `${owners[0]!.file} defines ${owners.length} datasets: give each its overrides in sqlByEngine`);
    }
    const owner = owners[0]!;
    if (owner.source) throw fail(`${owner.name} reads a source, which runs on DuckDB: it has no SQL to override`);
    if (owner.sqlByEngine?.[o.engine as keyof typeof owner.sqlByEngine] !== undefined) throw fail(`${owner.name} already has SQL for engine ${o.engine} (sqlByEngine in ${owner.file})`);
    owner.sqlByEngine = { ...owner.sqlByEngine, [o.engine]: parseSqlOverride(await fs.readFile(o.file, 'utf8'), owner.name, o.file) };
  }
  const seen = new Map<string, string>();
  for (const d of datasets) {
    const other = seen.get(d.name);
    if (other) throw new IngotError('DATASET_INVALID', `dataset ${d.name} is defined twice: ${other} and ${d.file}`, { dataset: d.name, file: d.file });
    seen.set(d.name, d.file);
  }
  return { dir: root, name: config.name ?? path.basename(root), config, lake: resolveLocation(config.lake ?? 'lake', root), datasets };
}

/**
 * The project in `dir` without its datasets (`datasets` empty): only `ingot.config.ts` is loaded
 * and validated, for commands that need the lake's location or settings and no dataset (`ingot
 * tables`, `history`, `sql`...), so no dataset file is imported. Errors as `loadProjectWith`.
 */
export async function loadConfigWith<C extends CoreConfig>(dir: string, configSchema: z.ZodType<C>): Promise<Project<C>> {
  const root = path.resolve(dir);
  const configPath = await findConfigFile(root);
  const raw = await importConfig(configPath, root);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new IngotError('CONFIG_INVALID', `${configPath}: ${describeIssues(parsed.error)}`, { file: configPath });
  const config: C = parsed.data;
  return { dir: root, name: config.name ?? path.basename(root), config, lake: resolveLocation(config.lake ?? 'lake', root), datasets: [] };
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') + ': ' : ''}${i.message}`).join('; ');
}


async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}
