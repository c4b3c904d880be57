/**
 * Starting a project (issue "The authoring loop", its Start section), as a user would: ingot
 * packed by `npm pack`, the tarball installed with npm into a folder of its own, `npx ingot init`
 * there, then in the new project `npm install` (offline: the project links the installed ingot)
 * and `npx ingot run`, each a real process. The gold rows are checked against the seed CSV
 * computed here in plain TypeScript; the same project as a CommonJS package (no "type": "module")
 * runs alike; the empty template runs; init refuses a folder holding files.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, tempDir } from './fixtures.js';

/** Runs `command args` in `cwd`, asserting exit code 0; returns stdout. */
function sh(cwd: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r: SpawnSyncReturns<string> = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 600_000 });
  assert.equal(r.status, 0, `${command} ${args.join(' ')} in ${cwd} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** `npx ingot sql <sql> --format json` in `dir`. */
function sqlRows(dir: string, sql: string): Record<string, unknown>[] {
  return JSON.parse(sh(dir, 'npx', ['--no-install', 'ingot', 'sql', sql, '--format', 'json'])) as Record<string, unknown>[];
}

/** gold.route_delays computed from the seeds as silver.flights defines it: known airports, delays in [-60, 1440]. */
async function expectedRoutes(dir: string): Promise<Record<string, unknown>[]> {
  const rows = (file: string): Promise<string[][]> => fs.readFile(path.join(dir, 'seeds', file), 'utf8').then((t) => t.trim().split('\n').slice(1).map((l) => l.split(',')));
  const airports = new Set((await rows('airports.csv')).map((r) => r[0]));
  const routes = new Map<string, number[]>();
  for (const [, delay, , origin, destination] of await rows('flights.csv')) {
    const d = Number(delay);
    if (!airports.has(destination) || d < -60 || d > 1440) continue;
    const key = `${origin}>${destination}`;
    routes.set(key, [...(routes.get(key) ?? []), d]);
  }
  return [...routes].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, delays]) => {
    const [origin, destination] = key.split('>');
    // DuckDB's round(x, 1) rounds halves away from zero
    const avg = delays.reduce((s, d) => s + d, 0) / delays.length;
    return { origin, destination, flights: delays.length, avg_delay_min: Math.sign(avg) * Math.round(Math.abs(avg) * 10) / 10 };
  });
}

describe('ingot init: a project that runs at once, from a packed ingot', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let tools: string;
  before(async () => {
    assert.ok(existsSync(path.join(ROOT, 'dist', 'cli', 'bin.js')), 'dist/ is missing: npm run build');
    ({ dir, cleanup } = await tempDir('init'));
    // the package as it would be published (dist/ already built: no prepare script)
    const packed = JSON.parse(sh(ROOT, 'npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir])) as { filename: string; files: { path: string }[] }[];
    const tarball = path.join(dir, packed[0]!.filename);
    const files = packed[0]!.files.map((f) => f.path);
    assert.ok(files.includes('templates/flights/datasets/flights.test.yaml') && files.includes('templates/flights/gitignore') && files.includes('scripts/prepare.mjs'), files.join(' '));
    // installed into a folder of its own, as a user installs a tarball (ingot's dependencies from the registry or npm's cache)
    tools = path.join(dir, 'tools');
    await fs.mkdir(tools);
    await fs.writeFile(path.join(tools, 'package.json'), '{ "private": true }\n');
    sh(tools, 'npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund']);
  });
  after(() => cleanup());

  it('init → npm install → ingot run succeeds offline, with the gold rows the seed gives', async (t) => {
    const started = performance.now();
    const out = sh(tools, 'npx', ['--no-install', 'ingot', 'init', '../flights-project']);
    const project = path.join(dir, 'flights-project');
    assert.match(out, /next: {2}cd \.\.\/flights-project && npm install && npx ingot run/);
    sh(project, 'npm', ['install', '--offline', '--no-audit', '--no-fund']);
    const run = sh(project, 'npx', ['--no-install', 'ingot', 'run']);
    const seconds = (performance.now() - started) / 1000;
    t.diagnostic(`ingot init → npm install → first successful ingot run: ${seconds.toFixed(1)} s`);
    assert.match(run, /silver\.flights +1 +0 +24 +23 +0 +1 /);

    const pkg = JSON.parse(await fs.readFile(path.join(project, 'package.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(pkg, {
      name: 'flights-project', version: '0.1.0', private: true, type: 'module',
      scripts: { run: 'ingot run', test: 'ingot test' },
      dependencies: { ingot: `file:${path.join(tools, 'node_modules', 'ingot')}` },
    });
    // the project links the installed package: nothing downloaded, one ingot
    assert.equal(await fs.realpath(path.join(project, 'node_modules', 'ingot')), await fs.realpath(path.join(tools, 'node_modules', 'ingot')));
    for (const f of ['.gitignore', 'README.md', 'ingot.config.ts', 'seeds/flights.csv', 'datasets/flights.test.yaml']) assert.ok(existsSync(path.join(project, f)), f);

    assert.deepEqual(sqlRows(project, 'SELECT * FROM gold.route_delays ORDER BY origin, destination'), await expectedRoutes(project));
    assert.deepEqual(sqlRows(project, 'SELECT origin, destination, _failed_expectations AS failed FROM silver.flights_quarantine'),
      [{ origin: 'BOS', destination: 'XYZ', failed: 'destination_references_bronze_airports' }]);
    // the project's unit tests pass, run as its README says (`npm test` → `ingot test`)
    assert.match(sh(project, 'npm', ['test']), /2 tests in 1 file: 2 passed, 0 failed, 0 errors/);
    // a second run finds everything up to date
    assert.match(sh(project, 'npx', ['--no-install', 'ingot', 'run']), /skipped \(the plan found nothing to do\):\n {2}bronze\.airports: 1 × up to date: no new or changed files\n/);
  });

  it('the same project as a CommonJS package (no "type": "module") loads and runs alike', async () => {
    const project = path.join(dir, 'cjs-project');
    sh(tools, 'npx', ['--no-install', 'ingot', 'init', project]);
    const pkgFile = path.join(project, 'package.json');
    const pkg = JSON.parse(await fs.readFile(pkgFile, 'utf8')) as Record<string, unknown>;
    delete pkg['type'];
    await fs.writeFile(pkgFile, JSON.stringify(pkg, null, 2));
    sh(project, 'npm', ['install', '--offline', '--no-audit', '--no-fund']);
    assert.match(sh(project, 'npx', ['--no-install', 'ingot', 'graph']), /bronze\.flights_raw {2}\[overwrite\] {2}source files: seeds\/flights\.csv/);
    sh(project, 'npx', ['--no-install', 'ingot', 'run']);
    assert.deepEqual(sqlRows(project, 'SELECT * FROM gold.route_delays ORDER BY origin, destination'), await expectedRoutes(project));
  });

  it('the empty template runs, and init refuses a folder that holds files', async () => {
    const project = path.join(dir, 'empty-project');
    sh(tools, 'npx', ['--no-install', 'ingot', 'init', project, '--template', 'empty']);
    assert.deepEqual((await fs.readdir(project)).sort(), ['.gitignore', 'README.md', 'datasets', 'ingot.config.ts', 'package.json']);
    sh(project, 'npm', ['install', '--offline', '--no-audit', '--no-fund']);
    assert.match(sh(project, 'npx', ['--no-install', 'ingot', 'run']), /1 of 1 run succeeded/);

    const again = spawnSync('npx', ['--no-install', 'ingot', 'init', project], { cwd: tools, encoding: 'utf8' });
    assert.equal(again.status, 1);
    assert.match(again.stderr, /error \[CONFIG_INVALID\]: .*empty-project is not empty \(\.gitignore, .*\): choose a new folder, or --force/);
    const forced = spawnSync('npx', ['--no-install', 'ingot', 'init', project, '--force'], { cwd: tools, encoding: 'utf8' });
    assert.equal(forced.status, 1);
    assert.match(forced.stderr, /already has .*README\.md.*: ingot init replaces no file/);
    const unknown = spawnSync('npx', ['--no-install', 'ingot', 'init', path.join(dir, 'x'), '--template', 'jaffle'], { cwd: tools, encoding: 'utf8' });
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /argument 'jaffle' is invalid\. Allowed choices are flights, empty/);
  });
});
