/**
 * What the PostgreSQL wire tests share: running a client program, compiling the pgjdbc client,
 * and an `ingot serve --no-http --no-scheduler --pg-port 0` process on a project.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ROOT, startServe } from './fixtures.js';

const run = promisify(execFile);
/** test/reference/pgjdbc: the Java client program and the script that fetches pgjdbc with Maven. */
export const PGJDBC = path.join(ROOT, 'test', 'reference', 'pgjdbc');

/** Output of a command that may fail: exit code, stdout, stderr (`timeoutMs` default 180 s). */
export async function exec(file: string, args: string[], env: Record<string, string> = {}, timeoutMs = 180_000): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await run(file, args, { env: { ...process.env, ...env }, maxBuffer: 256 << 20, timeout: timeoutMs });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, out: err.stdout ?? '', err: err.stderr ?? '' };
  }
}

/**
 * pgjdbc fetched with Maven and test/reference/pgjdbc/PgClient.java compiled into `dir`:
 * `classpath` for `java -cp`, or `missing` saying why not (the JDBC tests then skip).
 */
export async function pgjdbcClient(dir: string): Promise<{ classpath?: string; missing: string }> {
  const jar = await exec('bash', [path.join(PGJDBC, 'pgjdbc-jar.sh')]);
  if (jar.code !== 0) return { missing: `the pgjdbc jar could not be fetched with Maven: ${jar.err.slice(-500)}` };
  const classes = path.join(dir, 'jdbc-classes');
  const javac = await exec('javac', ['-d', classes, path.join(PGJDBC, 'PgClient.java')]);
  if (javac.code !== 0) return { missing: `javac failed: ${javac.err}` };
  return { classpath: `${jar.out.trim().split('\n').pop()!}:${classes}`, missing: '' };
}

/** A running `ingot serve` speaking only the PostgreSQL protocol: its process, its port, and `stop`. */
export interface PgServer {
  process: ChildProcess;
  port: number;
  stop: () => Promise<void>;
}

/** Starts `ingot serve -p project --no-http --no-scheduler --pg-port 0` and resolves once it logs the port it listens on. */
export async function startPgServer(project: string): Promise<PgServer> {
  const served = await startServe(project, ['--no-http', '--no-scheduler', '--pg-port', '0'], (l) => (l.includes('"postgres listening"') ? (JSON.parse(l) as { port: number }).port : undefined));
  return { process: served.process, port: served.ready, stop: served.stop };
}
