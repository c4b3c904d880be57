/**
 * Start-up: each command loads only the modules it needs. A real `ingot` process (the built
 * package, as `npx ingot` runs it) with a module-resolution hook that records every package it
 * imports (and, at exit, every package in the CommonJS cache, which `require` fills without the
 * hook); `--version` must load no package at all, `ingot tables` no engine (the Delta logs alone),
 * and `ingot sql` / `ingot tables` none of the HTTP server, the Spark client, the AWS SDK or the
 * database clients. `ingot tables` imports the configuration compiled to JavaScript (no TypeScript
 * loader, no schema library, no ingot API: the flights configuration imports only declarators).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli, flightsProject, ROOT, tempDir } from './fixtures.js';

const BIN = path.join(ROOT, 'dist', 'cli', 'bin.js');
/** Packages that only some commands need: never loaded by `--version`, `sql` or `tables`. */
const HEAVY = ['fastify', '@fastify/static', '@fastify/swagger', '@fastify/swagger-ui', 'prom-client', '@grpc/grpc-js', 'protobufjs', 'apache-arrow', '@aws-sdk/client-s3', 'pg', 'yauzl', 'better-sqlite3', 'ua-parser-js', 'geoip-lite'];
/** Scopes of heavy packages: none of theirs either (the AWS SDK's and gRPC's many packages). */
const HEAVY_SCOPES = ['@aws-sdk/', '@smithy/', '@grpc/', '@fastify/'];
const heavy = (loaded: Set<string>): string[] => [...loaded].filter((p) => HEAVY.includes(p) || HEAVY_SCOPES.some((s) => p.startsWith(s)));

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
  else if (r.url.startsWith('file:') && (r.url.endsWith('.ts') || r.url.includes('/.ingot/config/'))) process.stderr.write('file-loaded ' + r.url + '\\n');
  return r;
}\n`);
    hook = path.join(dir, 'register.mjs');
    await fs.writeFile(hook, `import { createRequire, register } from 'node:module';
register('./hooks.mjs', import.meta.url);
const cache = createRequire(import.meta.url).cache;
process.on('exit', () => {
  for (const k of Object.keys(cache)) {
    const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(k);
    if (m) process.stderr.write('package-loaded ' + m[1] + '\\n');
  }
});\n`);
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

  it('ingot --version loads no package, not even the command-line parser', () => {
    const loaded = packagesOf(['--version']);
    assert.deepEqual([...loaded], []);
  });

  it('ingot tables reads the Delta logs alone: no engine, no dataset file, no server, Spark client, AWS SDK or database client', async () => {
    // the first run compiles the configuration (esbuild), the next ones import the compiled copy
    await fs.rm(path.join(dir, 'p', '.ingot', 'config'), { recursive: true, force: true });
    const first = packagesOf(['tables', '-p', path.join(dir, 'p')]);
    const again = packagesOf(['tables', '-p', path.join(dir, 'p')]);
    // the hook sees what it should: the command-line parser and, compiling, esbuild
    assert.ok(first.has('commander') && first.has('esbuild') && again.has('commander'), [...first].join(', '));
    for (const loaded of [first, again]) {
      assert.deepEqual([...loaded].filter((p) => p.startsWith('@duckdb/')), [], 'ingot tables started DuckDB');
      assert.deepEqual(heavy(loaded), [], 'ingot tables loaded them');
      // no TypeScript loader, no schema library: the lake's location is all it reads of the configuration
      assert.deepEqual([...loaded].filter((p) => p === 'tsx' || p === 'zod'), [], 'ingot tables loaded the TypeScript loader or zod');
    }
    assert.deepEqual([...again].filter((p) => p === 'esbuild'), [], 'the compiled configuration was compiled again');
  });

  it('ingot tables imports the compiled configuration only, no dataset file', () => {
    const r = spawnSync(process.execPath, ['--import', hook, BIN, 'tables', '-p', path.join(dir, 'p')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /silver\.flights/);
    const projectFiles = [...r.stderr.matchAll(/^file-loaded (\S+)$/gm)].map((m) => m[1]!);
    assert.ok(projectFiles.some((f) => /\/p\/\.ingot\/config\/[0-9a-f]{16}\.[0-9a-f]{16}\.mjs$/.test(f)), projectFiles.join(', '));
    assert.deepEqual(projectFiles.filter((f) => f.includes('/datasets/') || f.endsWith('.ts')), []);
  });

  it('ingot sql loads DuckDB and no HTTP server, Spark client, AWS SDK or database client', () => {
    const loaded = packagesOf(['sql', '-p', path.join(dir, 'p'), 'SELECT count(*) AS n FROM silver.flights']);
    assert.ok(loaded.has('@duckdb/node-api') && loaded.has('zod'), [...loaded].join(', '));
    assert.deepEqual(heavy(loaded), [], 'ingot sql loaded them');
  });
});
