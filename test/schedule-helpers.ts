/**
 * Helpers of the scheduler tests: a small project with pipelines, and a real PostgreSQL server
 * (initdb + pg_ctl in a temp dir, as test/postgres.test.ts does).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs, readdirSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadProject, type Project } from '../src/pipeline/project.js';
import { Runner } from '../src/run/runner.js';

/** Default datasets: bronze.events (3 rows per date, append) and gold.daily (rows per day of bronze.events, replace partition). */
export const EVENTS = "-- materialization: append\nSELECT CAST({{logical_date}} AS DATE) AS day, range AS i FROM range(3)\n";
export const DAILY = '-- materialization: replace partition\n-- partition_by: day\nSELECT day, count(*) AS n FROM bronze.events WHERE day >= {{start}} AND day < {{end}} GROUP BY day\n';

/** Writes a project into `dir`: `config` is the object literal passed to defineConfig (TypeScript source); `datasets` maps `layer/name.sql` to SQL. */
export async function writeProject(dir: string, config: string, datasets: Record<string, string> = { 'bronze/events.sql': EVENTS, 'gold/daily.sql': DAILY }): Promise<Project> {
  for (const [file, sql] of Object.entries(datasets)) {
    await fs.mkdir(path.dirname(path.join(dir, 'datasets', file)), { recursive: true });
    await fs.writeFile(path.join(dir, 'datasets', file), sql);
  }
  await fs.writeFile(path.join(dir, 'ingot.config.ts'), `import { defineConfig, pipeline } from 'ingot';\nexport default defineConfig(${config});\n`);
  return loadProject(dir);
}

/** Rows of a query over the project's lake. */
export async function query(project: Project, sql: string): Promise<Record<string, unknown>[]> {
  const runner = await Runner.open(project);
  try {
    await runner.lake.attach(runner.engine, await runner.engine.references(sql));
    return await runner.engine.query(sql);
  } finally {
    await runner.close();
  }
}

function pgBin(name: string): string {
  for (const dir of (process.env['PATH'] ?? '').split(':')) if (existsSync(path.join(dir, name))) return path.join(dir, name);
  const root = '/usr/lib/postgresql';
  for (const v of existsSync(root) ? readdirSync(root).sort().reverse() : []) if (existsSync(path.join(root, v, 'bin', name))) return path.join(root, v, 'bin', name);
  throw new Error(`${name} not found (install PostgreSQL)`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    }).on('error', reject);
  });
}

/** A real PostgreSQL server in a temp dir (run as user postgres when we are root). */
export class PgServer {
  private constructor(readonly dir: string, readonly port: number, private readonly asRoot: boolean) {}

  static async start(): Promise<PgServer> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ingot-pg-sched-'));
    const asRoot = process.getuid?.() === 0;
    if (asRoot) execFileSync('chown', ['postgres', dir]);
    const server = new PgServer(dir, await freePort(), asRoot);
    server.exec('initdb', ['-D', path.join(dir, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C']);
    server.exec('pg_ctl', ['-D', path.join(dir, 'data'), '-l', path.join(dir, 'log'), '-w', '-o', `-p ${server.port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
    return server;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private exec(tool: string, args: string[]): void {
    const bin = pgBin(tool);
    if (this.asRoot) execFileSync('runuser', ['-u', 'postgres', '--', bin, ...args], { stdio: 'pipe' });
    else execFileSync(bin, args, { stdio: 'pipe' });
  }

  async stop(): Promise<void> {
    this.exec('pg_ctl', ['-D', path.join(this.dir, 'data'), '-w', '-m', 'fast', 'stop']);
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}
