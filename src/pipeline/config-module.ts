import { createHash, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { IngotError } from '../errors.js';
import { resolveLocation } from '../storage/open.js';
import { VERSION } from '../version.js';

/**
 * The configuration file of a project: found, imported (compiled once to JavaScript, or through
 * tsx) and, for commands that need nothing else of it, read for the lake's location alone. No
 * schema (zod) is loaded here: `project.ts` validates what it imports.
 */

const CONFIG_FILES = ['ingot.config.ts', 'ingot.config.js', 'ingot.config.mjs'];

/** The configuration file of the project folder `root` (absolute). Errors: CONFIG_INVALID when it has none. */
export async function findConfigFile(root: string): Promise<string> {
  const configFile = (await Promise.all(CONFIG_FILES.map(async (f) => ((await exists(path.join(root, f))) ? f : undefined)))).find(Boolean);
  if (!configFile) throw new IngotError('CONFIG_INVALID', `${root}: no ingot.config.ts (is this an ingot project folder?)`, { file: root });
  return path.join(root, configFile);
}


/*
 * `ingot.config.ts` compiled to one JavaScript module and kept in the project's
 * `.ingot/config/`, so that a command imports plain JavaScript instead of starting a TypeScript
 * loader (tsx, ~0.3 s of `ingot tables`), and, when the configuration imports from `ingot` only
 * the declarators (`defineConfig`, `dashboard`, `endpoint`, `pipeline`: identity functions for
 * type checking), without loading ingot's API either.
 *
 * The compiled module is esbuild's bundle of the configuration and the local files it imports
 * (packages stay imports, resolved from the project folder as before; `import.meta.url`,
 * `__dirname` and `__filename` name the configuration file; `require` works as in CommonJS). It is
 * reused while every file bundled has the size and modification time recorded beside it
 * (`<name>.json`), and written again otherwise.
 */

/** The declarators `ingot.config.ts` may import without loading ingot (each returns its argument). */
const DECLARATORS = ['defineConfig', 'dashboard', 'endpoint', 'pipeline'];

/** What `<cache>/<name>.json` records: the module's file and the files bundled into it. */
interface Manifest {
  version: string;
  module: string;
  inputs: { file: string; size: number; mtimeMs: number }[];
}

/**
 * The default export of the configuration module `file` (an absolute `.ts` path), imported from
 * its compiled copy in `<project>/.ingot/config/` (compiled now when missing or stale).
 * Undefined when it cannot be compiled (esbuild missing or failing, a syntax error, an unwritable
 * folder): the caller imports the file through tsx, which reports the error as before.
 * Errors thrown by the configuration's own code when it runs are thrown.
 */
export async function importCompiledConfig(file: string, projectDir: string): Promise<{ value: unknown } | undefined> {
  const cache = path.join(projectDir, '.ingot', 'config');
  const name = createHash('sha256').update(file).digest('hex').slice(0, 16);
  const manifestPath = path.join(cache, `${name}.json`);
  let manifest = await readManifest(manifestPath);
  if (!manifest || !(await fresh(manifest))) {
    const stale = manifest?.module;
    manifest = await compile(file, cache, name).catch(() => undefined);
    if (!manifest) return undefined;
    if (stale && stale !== manifest.module) await fs.rm(path.join(cache, stale), { force: true });
  }
  const mod = (await import(pathToFileURL(path.join(cache, manifest.module)).href)) as { default?: unknown };
  return { value: mod.default };
}

async function readManifest(file: string): Promise<Manifest | undefined> {
  try {
    const m = JSON.parse(await fs.readFile(file, 'utf8')) as Manifest;
    return m.version === VERSION && typeof m.module === 'string' && Array.isArray(m.inputs) ? m : undefined;
  } catch {
    return undefined;
  }
}

/** Whether every input still has its recorded size and modification time. */
async function fresh(manifest: Manifest): Promise<boolean> {
  const stats = await Promise.all(manifest.inputs.map((i) => fs.stat(i.file).catch(() => undefined)));
  return stats.every((st, k) => st !== undefined && st.size === manifest.inputs[k]!.size && st.mtimeMs === manifest.inputs[k]!.mtimeMs);
}

/**
 * Bundles `file` with esbuild into `<cache>/<name>.<hash>.mjs` and records its inputs. A build
 * with the declarators alone standing for `ingot` is tried first; one importing anything else of
 * ingot (an error or warning from that build) is built again with `ingot` imported as a package.
 */
async function compile(file: string, cache: string, name: string): Promise<Manifest> {
  const esbuild = await import('esbuild');
  const stats = await fs.stat(file);
  const dir = path.dirname(file);
  const declarators: import('esbuild').Plugin = {
    name: 'ingot-declarators',
    setup(build) {
      build.onResolve({ filter: /^ingot$/ }, () => ({ path: 'ingot', namespace: 'ingot-declarators' }));
      build.onLoad({ filter: /.*/, namespace: 'ingot-declarators' }, () => ({
        contents: DECLARATORS.map((d) => `export const ${d} = (definition) => definition;`).join('\n'),
        loader: 'js',
      }));
    },
  };
  const build = (plugins: import('esbuild').Plugin[]) => esbuild.build({
    entryPoints: [file], absWorkingDir: dir, bundle: true, packages: 'external', format: 'esm', platform: 'node', target: 'node20',
    write: false, metafile: true, logLevel: 'silent', plugins,
    define: {
      'import.meta.url': JSON.stringify(pathToFileURL(file).href), 'import.meta.filename': JSON.stringify(file), 'import.meta.dirname': JSON.stringify(dir),
      __filename: JSON.stringify(file), __dirname: JSON.stringify(dir),
    },
    // `require` of a package, as a CommonJS configuration may do, resolved from the configuration's folder
    banner: { js: `import { createRequire as __ingotRequire } from 'node:module'; const require = __ingotRequire(${JSON.stringify(pathToFileURL(file).href)});` },
  });
  let result = await build([declarators]).catch(() => undefined);
  if (!result || result.warnings.length > 0) result = await build([]);
  const code = result.outputFiles[0]!.text;
  const module = `${name}.${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`;
  const inputs = await Promise.all(Object.keys(result.metafile.inputs).filter((i) => !i.startsWith('ingot-declarators:')).map(async (i) => {
    const abs = path.resolve(dir, i);
    const st = abs === file ? stats : await fs.stat(abs);
    return { file: abs, size: st.size, mtimeMs: st.mtimeMs };
  }));
  const manifest: Manifest = { version: VERSION, module, inputs };
  await fs.mkdir(cache, { recursive: true });
  await writeAtomically(path.join(cache, module), code);
  await writeAtomically(path.join(cache, `${name}.json`), JSON.stringify(manifest));
  return manifest;
}

/** Writes `file` through a temporary file and a rename, so that a concurrent reader never sees part of it. */
async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = `${file}.${randomUUID()}.tmp`;
  await fs.writeFile(tmp, text);
  await fs.rename(tmp, file);
}

/**
 * The lake's location of the project in `dir` (absolute: a directory or `s3://bucket/prefix`),
 * read from `ingot.config.ts` without validating the rest of it (no zod schema is loaded): for
 * commands that read the lake and nothing else of the configuration (`ingot tables`). Errors:
 * CONFIG_INVALID for a folder without a configuration, a configuration that does not load or is
 * not an object, or a `lake` that is not a non-empty string.
 */
export async function loadLakeLocation(dir: string): Promise<string> {
  const root = path.resolve(dir);
  const configPath = await findConfigFile(root);
  const raw = await importConfig(configPath, root);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new IngotError('CONFIG_INVALID', `${configPath}: the default export must be an object (defineConfig({...}))`, { file: configPath });
  }
  const lake = (raw as { lake?: unknown }).lake;
  if (lake !== undefined && (typeof lake !== 'string' || lake === '')) {
    throw new IngotError('CONFIG_INVALID', `${configPath}: lake: must be a directory or s3://bucket/prefix (a non-empty string)`, { file: configPath });
  }
  return resolveLocation((lake as string | undefined) ?? 'lake', root);
}

/**
 * The default export of the configuration file: a TypeScript one from its compiled copy in
 * `.ingot/config/` (`importCompiledConfig`: no TypeScript loader, often no ingot module), else
 * imported through tsx. Errors: CONFIG_INVALID naming the file.
 */
export async function importConfig(file: string, root: string): Promise<unknown> {
  if (file.endsWith('.ts')) {
    let compiled: { value: unknown } | undefined;
    try {
      compiled = await importCompiledConfig(file, root);
    } catch (err) {
      throw new IngotError('CONFIG_INVALID', `${file}: cannot load: ${(err as Error).message}`, { file }, { cause: err });
    }
    if (compiled) return compiled.value;
  }
  return importModuleDefault(file);
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

/**
 * The default export of a project file (the configuration, a dataset's `.ts`), TypeScript loaded
 * through tsx. Errors: CONFIG_INVALID naming the file and, for a CommonJS package, what to change.
 */
export async function importModuleDefault(file: string): Promise<unknown> {
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

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(() => true, () => false);
}
