/**
 * A scheduler in a child process for tests that kill it: `ingot serve` itself, or the scheduler
 * with a fixed schedule clock (test/workers/scheduler-at.ts). Its JSON log events are collected.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { eachLine, ROOT } from './fixtures.js';

/** One JSON log line of the scheduler (`event`: run-start, run-done, task-retry, run-recovered...). */
export type LogEvent = { event: string; [k: string]: unknown };

export interface SchedulerProcess {
  child: ChildProcess;
  /** Log events so far, in order; lines that are not JSON as `{ event: 'text', text }`. */
  events: LogEvent[];
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/** `ingot serve -p <dir> --no-http`: the scheduler alone, evaluating schedules every 100 ms (real clock). */
export function serve(dir: string): SchedulerProcess {
  return spawnLogging([path.join(ROOT, 'src', 'cli', 'bin.ts'), 'serve', '-p', dir, '--tick', '100', '--no-http'], {});
}

/** The project's scheduler with its schedule clock fixed at `now` (ISO instant). */
export function schedulerAt(dir: string, now: string): SchedulerProcess {
  return spawnLogging([path.join(ROOT, 'test', 'workers', 'scheduler-at.ts')], { PROJECT: dir, NOW: now });
}

function spawnLogging(args: string[], env: Record<string, string>): SchedulerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  const events: LogEvent[] = [];
  eachLine(child.stderr!, (l) => {
    try {
      events.push(JSON.parse(l) as LogEvent);
    } catch {
      events.push({ event: 'text', text: l });
    }
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, events, exited };
}

/** Polls `cond` every 50 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
