import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { z } from 'zod';
import { IngotError } from '../errors.js';
import { resolveLocation } from '../storage/open.js';
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

const CONFIG_FILES = ['ingot.config.ts', 'ingot.config.js', 'ingot.config.mjs'];

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
      const exported = await importDefault(file);
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
  const configFile = (await Promise.all(CONFIG_FILES.map(async (f) => ((await exists(path.join(root, f))) ? f : undefined)))).find(Boolean);
  if (!configFile) throw new IngotError('CONFIG_INVALID', `${root}: no ingot.config.ts (is this an ingot project folder?)`, { file: root });
  const configPath = path.join(root, configFile);
  const raw = await importDefault(configPath);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new IngotError('CONFIG_INVALID', `${configPath}: ${describeIssues(parsed.error)}`, { file: configPath });
  const config: C = parsed.data;
  return { dir: root, name: config.name ?? path.basename(root), config, lake: resolveLocation(config.lake ?? 'lake', root), datasets: [] };
}

let typeScriptRegistered = false;

/** Lets `import()` load TypeScript project files such as `file` (tsx's loader, registered once per process). */
async function registerTypeScript(file: string): Promise<void> {
  if (typeScriptRegistered) return;
  // the `ingot` the project resolves (its API) first, without the hooks: project files import it,
  // and once tsx's hooks are registered every module resolved goes through tsx's loader thread
  // (measured: ~0.8 s of `ingot tables` for the ~600 modules of the API and zod, none when loaded)
  let api: string | undefined;
  try {
    api = createRequire(file).resolve('ingot');
  } catch {
    // a project that does not import ingot
  }
  if (api) await import(pathToFileURL(api).href);
  // both hooks: in a package without "type": "module", Node loads a .ts file as CommonJS;
  // tsx loads here, when a TypeScript project file is first imported
  const [{ register: registerCommonJs }, { register }] = await Promise.all([import('tsx/cjs/api'), import('tsx/esm/api')]);
  registerCommonJs();
  register();
  typeScriptRegistered = true;
}

async function importDefault(file: string): Promise<unknown> {
  try {
    if (file.endsWith('.ts')) await registerTypeScript(file);
    const mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
    // outside an ESM package a .ts file loads as CommonJS: its `export default` arrives as default.default
    const d = mod.default as { default?: unknown; __esModule?: boolean } | undefined;
    return d && typeof d === 'object' && 'default' in d && (d.__esModule || Object.keys(d).length === 1) ? d.default : d;
  } catch (err) {
    throw new IngotError('CONFIG_INVALID', `${file}: cannot load: ${(err as Error).message}${await moduleHint(file, err)}`, { file }, { cause: err });
  }
}

/**
 * What to change when a project file failed to load as CommonJS requiring an ES module (Node's
 * ERR_REQUIRE_ESM or ERR_REQUIRE_CYCLE_MODULE): the package.json above `file` to mark, or none.
 */
async function moduleHint(file: string, err: unknown): Promise<string> {
  const code = (err as { code?: string }).code;
  if (code !== 'ERR_REQUIRE_ESM' && code !== 'ERR_REQUIRE_CYCLE_MODULE' && !/require\(\) (of )?ES Module/i.test((err as Error).message)) return '';
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (await exists(pkg)) return `. ${pkg} makes its .ts files CommonJS: add "type": "module" to it (ingot projects are ES modules)`;
    if (path.dirname(dir) === dir) return '. No package.json above it: create one with {"type": "module"} (ingot projects are ES modules)';
  }
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') + ': ' : ''}${i.message}`).join('; ');
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(() => true, () => false);
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
