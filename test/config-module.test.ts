/**
 * The configuration compiled once to JavaScript (`.ingot/config/`): reused while its files are
 * unchanged, compiled again when the configuration or a local file it imports changes, ingot's
 * API loaded only when the configuration imports more than the declarators, a broken
 * configuration reported as before (through tsx), and `loadLakeLocation`'s checks.
 */
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { IngotError } from '../src/errors.js';
import { loadLakeLocation } from '../src/pipeline/config-module.js';
import { loadProjectConfig } from '../src/project.js';
import { tempDir } from './fixtures.js';

describe('the compiled configuration', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await tempDir('config-module')));
  after(() => cleanup());

  const compiled = async (project: string): Promise<string[]> => (await fs.readdir(path.join(project, '.ingot', 'config')).catch(() => [] as string[])).filter((f) => f.endsWith('.mjs'));

  it('is compiled once, reused, and compiled again when the configuration or a file it imports changes', async () => {
    const p = path.join(dir, 'p');
    await fs.mkdir(p, { recursive: true });
    await fs.writeFile(path.join(p, 'settings.ts'), "export const where: string = './first';\n");
    await fs.writeFile(path.join(p, 'ingot.config.ts'), "import { defineConfig } from 'ingot';\nimport { where } from './settings';\nexport default defineConfig({ lake: where, engine: { memoryLimit: '1GB' } });\n");
    assert.equal(await loadLakeLocation(p), path.join(p, 'first'));
    const [module] = await compiled(p);
    assert.ok(module, 'a compiled module in .ingot/config');
    // the declarators stand for ingot: the module imports no package
    assert.doesNotMatch(await fs.readFile(path.join(p, '.ingot', 'config', module), 'utf8'), /from ["']ingot["']/);
    const { mtimeMs } = await fs.stat(path.join(p, '.ingot', 'config', module));
    assert.equal(await loadLakeLocation(p), path.join(p, 'first'));
    assert.equal((await fs.stat(path.join(p, '.ingot', 'config', module))).mtimeMs, mtimeMs, 'reused, not written again');
    // the whole configuration, validated, from the same module
    const project = await loadProjectConfig(p);
    assert.equal(project.lake, path.join(p, 'first'));
    assert.deepEqual(project.config.engine, { memoryLimit: '1GB' });

    await fs.writeFile(path.join(p, 'settings.ts'), "export const where: string = './second-lake';\n");
    assert.equal(await loadLakeLocation(p), path.join(p, 'second-lake'));
    await fs.writeFile(path.join(p, 'ingot.config.ts'), "import { defineConfig } from 'ingot';\nexport default defineConfig({ lake: './third' });\n");
    assert.equal(await loadLakeLocation(p), path.join(p, 'third'));
    assert.equal((await compiled(p)).length, 1, 'the stale module is removed');
  });

  it('imports ingot itself when the configuration uses more than the declarators', async () => {
    const p = path.join(dir, 'uses-api');
    await fs.mkdir(p, { recursive: true });
    await fs.writeFile(path.join(p, 'ingot.config.ts'), "import { defineConfig, ENGINE_NAMES } from 'ingot';\nexport default defineConfig({ lake: `./lake-${ENGINE_NAMES.join('-')}` });\n");
    const lake = await loadLakeLocation(p);
    assert.match(path.basename(lake), /^lake-duckdb-spark$/);
    assert.match(await fs.readFile(path.join(p, '.ingot', 'config', (await compiled(p))[0]!), 'utf8'), /from ["']ingot["']/);
  });

  it('reports a configuration that does not compile or whose lake is not a location, naming the file', async () => {
    const p = path.join(dir, 'broken');
    await fs.mkdir(p, { recursive: true });
    await fs.writeFile(path.join(p, 'ingot.config.ts'), "export default { lake: './lake', ;\n");
    await assert.rejects(loadLakeLocation(p), (err: IngotError) => err.code === 'CONFIG_INVALID' && err.message.includes(path.join(p, 'ingot.config.ts')) && /cannot load/.test(err.message));
    assert.deepEqual(await compiled(p), []);
    await fs.writeFile(path.join(p, 'ingot.config.ts'), 'export default { lake: 42 };\n');
    await assert.rejects(loadLakeLocation(p), (err: IngotError) => err.code === 'CONFIG_INVALID' && /ingot\.config\.ts: lake: must be a directory or s3:\/\/bucket\/prefix/.test(err.message));
    await fs.writeFile(path.join(p, 'ingot.config.ts'), "throw new Error('no configuration today');\n");
    await assert.rejects(loadLakeLocation(p), (err: IngotError) => err.code === 'CONFIG_INVALID' && /no configuration today/.test(err.message));
    await assert.rejects(loadLakeLocation(path.join(dir, 'nothing')), (err: IngotError) => err.code === 'CONFIG_INVALID' && /no ingot\.config\.ts/.test(err.message));
    assert.equal(existsSync(path.join(dir, 'nothing')), false);
  });
});
