import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IngotError } from '../errors.js';

/**
 * `ingot init`: a new project from a template of the package's `templates/` folder, with a
 * `package.json` depending on the ingot that writes it, so `npm install && npx ingot run` works
 * at once and offline (beyond the package registry, for ingot's own dependencies).
 */

/** Templates `ingot init --template` knows: a folder each under `templates/`. */
export const TEMPLATES = ['flights', 'empty'] as const;
export type TemplateName = (typeof TEMPLATES)[number];

/** What `initProject` takes. */
export interface InitOptions {
  /** Default `flights`: bronze/silver/gold over a small CSV seed, with a unit test file. */
  template?: TemplateName;
  /**
   * The `ingot` dependency as package.json spells it. Default: `file:` and the folder of the ingot
   * package running this (a clone, or where a tarball was installed): npm links it, with no
   * download. A version range (`^0.1.0`) needs ingot in the registry the project installs from.
   */
  ingot?: string;
  /** Write into a folder that already holds files (never replacing one: those are refused). */
  force?: boolean;
}

/** What `initProject` wrote. */
export interface InitResult {
  dir: string;
  /** Project name in package.json: the folder's name, as npm allows it. */
  name: string;
  /** Files written, relative to `dir`, sorted. */
  files: string[];
  /** The `ingot` dependency written into package.json. */
  ingot: string;
}

/** The root of the ingot package running this: two folders above this file (`dist/pipeline` or `src/pipeline`). */
export function packageRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
}

/**
 * Writes a project into `dir` (created when missing): the template's files, `package.json` (ESM,
 * scripts `run` and `test`, `ingot` as a dependency), `.gitignore`. `{{project_name}}` in a
 * template's text files becomes the project's name.
 * Errors: CONFIG_INVALID for an unknown template, a folder holding files (without `force`), a file
 * the template would replace (always), or a package root that is not ingot's.
 */
export async function initProject(dir: string, options: InitOptions = {}): Promise<InitResult> {
  const template = options.template ?? 'flights';
  if (!(TEMPLATES as readonly string[]).includes(template)) {
    throw new IngotError('CONFIG_INVALID', `unknown template "${template}" (templates: ${TEMPLATES.join(', ')})`);
  }
  const root = packageRoot();
  const own = JSON.parse(await fs.readFile(path.join(root, 'package.json'), 'utf8')) as { name?: string; version?: string };
  if (own.name !== 'ingot') throw new IngotError('CONFIG_INVALID', `${root}: not the ingot package (its package.json names ${own.name ?? 'nothing'})`, { file: path.join(root, 'package.json') });
  const target = path.resolve(dir);
  const name = packageName(path.basename(target));
  const existing = (await fs.readdir(target).catch(() => [] as string[])).sort();
  if (existing.length > 0 && !options.force) {
    throw new IngotError('CONFIG_INVALID', `${target} is not empty (${existing.slice(0, 5).join(', ')}${existing.length > 5 ? ', ...' : ''}): choose a new folder, or --force to add the project's files beside these (none is replaced)`, { file: target });
  }
  const templateDir = path.join(root, 'templates', template);
  const files = new Map<string, string | Buffer>();
  for (const file of await listFiles(templateDir)) {
    const rel = path.relative(templateDir, file);
    // npm leaves .gitignore files out of a package: templates keep theirs as `gitignore`
    const out = rel === 'gitignore' ? '.gitignore' : rel;
    const bytes = await fs.readFile(file);
    files.set(out, /\.(md|ts|sql|ya?ml|json)$/.test(out) ? bytes.toString('utf8').replaceAll('{{project_name}}', name) : bytes);
  }
  const ingot = options.ingot ?? `file:${root}`;
  files.set('package.json', JSON.stringify({
    name, version: '0.1.0', private: true, type: 'module',
    scripts: { run: 'ingot run', test: 'ingot test' },
    dependencies: { ingot },
  }, null, 2) + '\n');
  const clashes: string[] = [];
  for (const rel of files.keys()) if (await fs.access(path.join(target, rel)).then(() => true, () => false)) clashes.push(rel);
  if (clashes.length > 0) throw new IngotError('CONFIG_INVALID', `${target} already has ${clashes.join(', ')}: ingot init replaces no file`, { file: target });
  for (const [rel, content] of files) {
    const out = path.join(target, rel);
    await fs.mkdir(path.dirname(out), { recursive: true });
    await fs.writeFile(out, content, { flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'EEXIST' ? new IngotError('CONFIG_INVALID', `${out} exists: ingot init replaces no file`, { file: out }) : err;
    });
  }
  return { dir: target, name, files: [...files.keys()].sort(), ingot };
}

/** A package name npm accepts made from a folder name: lower case, `-` for anything else. */
function packageName(folder: string): string {
  const name = folder.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[._-]+|[-]+$/g, '');
  return name === '' ? 'ingot-project' : name;
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new IngotError('CONFIG_INVALID', `${dir}: the template folder is missing from this ingot package`, { file: dir }, { cause: err });
  }
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p)));
    else out.push(p);
  }
  return out;
}
