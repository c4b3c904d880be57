/**
 * A real PostgreSQL server for tests, examples and the bench: `initdb` into a fresh temp folder,
 * `pg_ctl start` on a free port of 127.0.0.1 (trust authentication, user `postgres`, UTF8, locale
 * C, fsync off), `stop()` shuts it down and removes the folder. The binaries come from PATH or
 * Debian's `/usr/lib/postgresql/<version>/bin` (package `postgresql`); when we are root they run
 * as user `postgres` (`runuser`), since PostgreSQL refuses to run as root.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from './moto.js';

/** A running server: `url` of its `postgres` database, `urlOf(db)` of another one; `stop()` ends it and deletes its files. */
export interface PostgresServer {
  url: string;
  port: number;
  urlOf: (database: string) => string;
  stop: () => Promise<void>;
}

/** Extra server settings (`-c name=value`), e.g. `{ shared_buffers: '256MB' }` for the bench. */
export type PostgresSettings = Record<string, string>;

/** Path of PostgreSQL tool `name` (initdb, pg_ctl): from PATH, else the newest Debian version. Throws if absent. */
export function pgBin(name: string): string {
  for (const dir of (process.env['PATH'] ?? '').split(':')) if (dir && existsSync(path.join(dir, name))) return path.join(dir, name);
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(path.join(root, v, 'bin', name))) return path.join(root, v, 'bin', name);
  throw new Error(`${name} not found: install PostgreSQL (Debian package postgresql)`);
}

/** Starts a fresh server (see the file comment); waits until it accepts connections. */
export async function startPostgres(settings: PostgresSettings = {}): Promise<PostgresServer> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ingot-pg-server-'));
  const asRoot = process.getuid?.() === 0;
  const exec = (tool: string, args: string[]): void => {
    const bin = pgBin(tool);
    if (asRoot) execFileSync('runuser', ['-u', 'postgres', '--', bin, ...args], { stdio: 'pipe' });
    else execFileSync(bin, args, { stdio: 'pipe' });
  };
  if (asRoot) execFileSync('chown', ['postgres', dir]);
  const data = path.join(dir, 'data');
  const port = await freePort();
  const options = Object.entries({ listen_addresses: '127.0.0.1', fsync: 'off', ...settings }).map(([k, v]) => `-c ${k}=${v}`).join(' ');
  try {
    exec('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C']);
    exec('pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-w', '-o', `-p ${port} -k ${dir} ${options}`, 'start']);
  } catch (err) {
    const log = await fs.readFile(path.join(dir, 'log'), 'utf8').catch(() => '');
    await fs.rm(dir, { recursive: true, force: true });
    throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${log.slice(-2000)}`, { cause: err });
  }
  const urlOf = (database: string): string => `postgres://postgres@127.0.0.1:${port}/${database}`;
  let stopped = false;
  return {
    url: urlOf('postgres'),
    port,
    urlOf,
    async stop() {
      if (stopped) return;
      stopped = true;
      exec('pg_ctl', ['-D', data, '-w', '-m', 'fast', 'stop']);
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
