/**
 * Start-up: each command loads only the modules it needs. A real `ingot` process (the built
 * package, as `npx ingot` runs it) with a module-resolution hook that records every package it
 * imports; `--version` must load none but the command-line parser, and `ingot sql` / `ingot tables`
 * none of the HTTP server, the Spark client, the AWS SDK or the database clients.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli, flightsProject, ROOT, tempDir } from './fixtures.js';

const BIN = path.join(ROOT, 'dist', 'cli', 'bin.js');
/** Packages that only some commands need: never loaded by `--version`, `sql` or `tables`. */
const HEAVY = ['fastify', '@fastify/static', '@fastify/swagger', '@fastify/swagger-ui', 'prom-client', '@grpc/grpc-js', 'protobufjs', 'apache-arrow', '@aws-sdk/client-s3', 'pg', 'yauzl'];

describe('start-up: modules load when a command needs them', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let hook: string;
  before(async () => {
    assert.ok(existsSync(BIN), `${BIN} is missing: npm run build`);
    ({ dir, cleanup } = await tempDir('startup'));
    // a resolve hook printing the package of every module resolved into node_modules
    await fs.writeFile(path.join(dir, 'hooks.mjs'), `export async function resolve(spec, ctx, next) {
  const r = await next(spec, ctx);
  const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(r.url);
  if (m) process.stderr.write('package-loaded ' + m[1] + '\\n');
  return r;
}\n`);
    hook = path.join(dir, 'register.mjs');
    await fs.writeFile(hook, `import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n`);
    await flightsProject(path.join(dir, 'p'), ['2001-01-12']);
    const r = await cli(['run', '-p', path.join(dir, 'p'), '--date', '2001-01-12']);
    assert.equal(r.code, 0, r.err);
  });
  after(() => cleanup());

  /** The packages a real `ingot <args>` process loads, after checking it succeeded. */
  function packagesOf(args: string[]): Set<string> {
    const r = spawnSync(process.execPath, ['--import', hook, BIN, ...args], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return new Set([...r.stderr.matchAll(/^package-loaded (\S+)$/gm)].map((m) => m[1]!));
  }

  it('ingot --version loads the command-line parser alone', () => {
    const loaded = packagesOf(['--version']);
    assert.deepEqual([...loaded], ['commander']);
  });

  it('ingot sql and ingot tables load no HTTP server, Spark client, AWS SDK or database client', () => {
    for (const args of [['sql', '-p', path.join(dir, 'p'), 'SELECT count(*) AS n FROM silver.flights'], ['tables', '-p', path.join(dir, 'p')]]) {
      const loaded = packagesOf(args);
      // the hook sees what it should: the engine and the config loader are there
      assert.ok(loaded.has('@duckdb/node-api') && loaded.has('zod'), `${args[0]}: ${[...loaded].join(', ')}`);
      assert.deepEqual(HEAVY.filter((p) => loaded.has(p)), [], `ingot ${args[0]} loaded them`);
    }
  });
});
