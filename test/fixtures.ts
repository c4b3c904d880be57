import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { prepare } from '../examples/flights/prepare.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const FLIGHTS = path.join(ROOT, 'examples', 'flights');

/**
 * A fresh temp directory, removed by the returned cleanup. It lies inside the repository
 * (`.tmp/`, ignored by git) so that project files there resolve `import ... from 'ingot'`.
 */
export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  await fs.mkdir(path.join(ROOT, '.tmp'), { recursive: true });
  const dir = await fs.mkdtemp(path.join(ROOT, '.tmp', `${prefix}-`));
  return { dir, cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
}

/**
 * A copy of the flights project (config + datasets) whose landing zone holds copies of the real
 * landing files of `days` (so a test can damage them). Returns the project folder.
 */
export async function flightsProject(dir: string, days: string[]): Promise<string> {
  await prepare(FLIGHTS);
  await fs.cp(path.join(FLIGHTS, 'datasets'), path.join(dir, 'datasets'), { recursive: true });
  await fs.copyFile(path.join(FLIGHTS, 'ingot.config.ts'), path.join(dir, 'ingot.config.ts'));
  await fs.mkdir(path.join(dir, 'landing', 'airports'), { recursive: true });
  await fs.copyFile(path.join(FLIGHTS, 'landing', 'airports', 'airports.csv'), path.join(dir, 'landing', 'airports', 'airports.csv'));
  for (const day of days) {
    const target = path.join(dir, 'landing', 'flights', `date=${day}`);
    await fs.mkdir(target, { recursive: true });
    await fs.copyFile(path.join(FLIGHTS, 'landing', 'flights', `date=${day}`, 'flights.csv'), path.join(target, 'flights.csv'));
  }
  return dir;
}

/** Runs the CLI in process; returns exit code and captured output. */
export async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const { main } = await import('../src/cli/main.js');
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** Calls `fn` with each line of `stream` (a child's stdout or stderr) as it arrives, without the line break. */
export function eachLine(stream: NodeJS.ReadableStream, fn: (line: string) => void): void {
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', fn);
}

/** A running `ingot serve` child process: what its log said when ready (`ready`'s value), and `stop` (SIGTERM, waits for the exit). */
export interface ServeProcess<T> {
  process: ChildProcess;
  ready: T;
  stop: () => Promise<void>;
}

/**
 * Starts `ingot serve -p project ...args` from the source tree and resolves once `ready` returns
 * a value for one of its log lines (stderr, JSON lines): the HTTP URL, the PostgreSQL port...
 * Rejects with the whole log when the server exits first.
 */
export async function startServe<T>(project: string, args: string[], ready: (line: string) => T | undefined): Promise<ServeProcess<T>> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'cli', 'bin.ts'), 'serve', '-p', project, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  const value = await new Promise<T>((resolve, reject) => {
    const lines: string[] = [];
    eachLine(child.stderr!, (l) => {
      lines.push(l);
      const v = ready(l);
      if (v !== undefined) resolve(v);
    });
    child.on('exit', (code) => reject(new Error(`ingot serve exited (${code}): ${lines.join('\n')}`)));
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  return { process: child, ready: value, stop };
}

/** `startServe`'s `ready` for HTTP: the URL of the `listening` log line. */
export const httpListening = (line: string): string | undefined => /"event":"listening".*?"url":"(http:[^"]+)"/.exec(line)?.[1];
