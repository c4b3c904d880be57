import { spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepare } from '../examples/flights/prepare.js';

/** A finished child process: wall time (s), peak resident set size (MB), output. */
export interface Measured {
  wallS: number;
  peakRssMB: number;
  stdout: string;
  stderr: string;
  /** With `options.tree`: peak summed RSS (MB) of the process, its descendants and the `tree` processes (see `treeRss`). */
  peakTreeRssMB?: number;
}

/**
 * Runs `cmd args` in `cwd` and measures its wall time and peak RSS (from GNU time, so any
 * program can be measured; for `node` without GNU time, from `process.resourceUsage()` at exit).
 * Throws with the end of stderr on a non-zero exit. `options.env` adds environment variables;
 * `options.tree` (pids, e.g. a server the child talks to) also samples the process tree's summed RSS.
 */
export async function measure(cmd: string, args: string[], cwd: string, options: { env?: Record<string, string>; tree?: number[] } = {}): Promise<Measured> {
  const rssFile = path.join(os.tmpdir(), `ingot-bench-rss-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const gnuTime = existsSync('/usr/bin/time');
  if (!gnuTime && cmd !== process.execPath) throw new Error(`measuring ${cmd} needs GNU time (/usr/bin/time)`);
  const atExit = `import{writeFileSync}from'node:fs';process.on('exit',()=>writeFileSync(${JSON.stringify(rssFile)},String(process.resourceUsage().maxRSS)))`;
  const [bin, argv] = gnuTime
    ? ['/usr/bin/time', ['-f', '%M', '-o', rssFile, cmd, ...args]]
    : [cmd, ['--import', `data:text/javascript,${encodeURIComponent(atExit)}`, ...args]];
  const t0 = performance.now();
  let sampler: ReturnType<typeof treeRss> | undefined;
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(bin, argv, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
    if (options.tree) sampler = treeRss(() => [child.pid!, ...options.tree!]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => { void sampler?.stop(); reject(err); });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  const wallS = (performance.now() - t0) / 1000;
  const peakTreeRssMB = await sampler?.stop();
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ').slice(0, 300)} exited with ${code}:\n${stderr.split('\n').slice(-15).join('\n')}\n${stdout.slice(-2000)}`);
  const kb = Number((await fs.readFile(rssFile, 'utf8')).trim().split('\n').pop());
  await fs.rm(rssFile, { force: true });
  return { wallS, peakRssMB: kb / 1024, stdout, stderr, ...(peakTreeRssMB !== undefined ? { peakTreeRssMB } : {}) };
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

/**
 * Samples, every `everyMs`, the summed resident set size (MB) of the processes `roots()` names and
 * all their descendants (from /proc: a Python driver and the JVM it launches, ingot and a Spark
 * server), and keeps the peak. `stop()` ends sampling and returns the peak. Linux only.
 */
export function treeRss(roots: () => number[], everyMs = 250): { stop: () => Promise<number> } {
  let peak = 0;
  const sample = async (): Promise<void> => {
    const children = new Map<number, number[]>();
    const rss = new Map<number, number>();
    for (const name of await fs.readdir('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const status = await fs.readFile(`/proc/${name}/status`, 'utf8');
        const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]);
        rss.set(Number(name), Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0));
        children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
      } catch {
        // the process ended while listed
      }
    }
    const seen = new Set<number>();
    const stack = [...roots()];
    let kb = 0;
    while (stack.length > 0) {
      const pid = stack.pop()!;
      if (seen.has(pid)) continue;
      seen.add(pid);
      kb += rss.get(pid) ?? 0;
      stack.push(...(children.get(pid) ?? []));
    }
    peak = Math.max(peak, kb / 1024);
  };
  let running = true;
  const loop = (async () => {
    while (running) {
      await sample();
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return { stop: async () => { running = false; await loop; return peak; } };
}

/**
 * A Python snippet (`python3 -c`) that leaves deterministically: its output flushed, then
 * `os._exit` (0, or 1 after printing the exception on stderr), skipping interpreter teardown, where
 * deltalake's native runtime can abort ("terminate called without an active exception", exit 134)
 * after a correct result.
 */
export function pythonSnippet(code: string): string {
  const body = code.trim().split('\n').map((l) => `    ${l}`).join('\n');
  return `import os, sys\ntry:\n${body}\nexcept BaseException as err:\n    print(f"{type(err).__name__}: {err}", file=sys.stderr)\n    sys.stdout.flush(); sys.stderr.flush()\n    os._exit(1)\nsys.stdout.flush(); sys.stderr.flush()\nos._exit(0)\n`;
}

/**
 * The JSON object a reference tool printed last on stdout (`what` names it in errors). Errors:
 * when there is none, with the tool's stderr: an exit code of 0 alone does not make a result.
 */
export function lastJson<T>(m: Pick<Measured, 'stdout' | 'stderr'>, what: string): T {
  const line = m.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as T;
  } catch (err) {
    throw new Error(`${what} printed no JSON result (${(err as Error).message}); stdout: ${m.stdout.slice(-500) || '(empty)'}; stderr:\n${m.stderr.split('\n').slice(-15).join('\n')}`, { cause: err });
  }
}

/**
 * A Python program for delta-rs: merges the Parquet file argv[2] into the Delta table argv[1]
 * on `on` (update all when matched, insert all when not), the source read with pyarrow and cast
 * to the table's schema; prints `{ s, metrics }` (seconds from opening the table).
 */
export function deltaRsMergeScript(on: string): string {
  return `
import json, sys, time
import pyarrow as pa, pyarrow.parquet as pq
from deltalake import DeltaTable
t0 = time.perf_counter()
dt = DeltaTable(sys.argv[1])
schema = pa.schema(dt.schema().to_arrow())
source = pq.read_table(sys.argv[2]).select(schema.names).cast(schema)
metrics = (dt.merge(source=source, predicate=${JSON.stringify(on)}, source_alias="source", target_alias="target")
  .when_matched_update_all().when_not_matched_insert_all().execute())
print(json.dumps({"s": time.perf_counter() - t0, "metrics": metrics}))
`;
}

/** examples/flights, whose scratch copies several bench sections run. */
export const FLIGHTS_EXAMPLE = path.join(path.dirname(path.dirname(fileURLToPath(import.meta.url))), 'examples', 'flights');

/**
 * A fresh scratch copy of the flights example in `dir` (removed first): its landing zone prepared
 * (one CSV per day, made once) and linked, its datasets copied, `config` (default: the example's
 * own) as ingot.config.ts. Returns the number of daily files.
 */
export async function flightsProject(dir: string, config?: string): Promise<number> {
  const days = await prepare(FLIGHTS_EXAMPLE);
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(dir, { recursive: true });
  if (config === undefined) await fs.copyFile(path.join(FLIGHTS_EXAMPLE, 'ingot.config.ts'), path.join(dir, 'ingot.config.ts'));
  else await fs.writeFile(path.join(dir, 'ingot.config.ts'), config);
  await fs.cp(path.join(FLIGHTS_EXAMPLE, 'datasets'), path.join(dir, 'datasets'), { recursive: true });
  await fs.symlink(path.join(FLIGHTS_EXAMPLE, 'landing'), path.join(dir, 'landing'), 'dir');
  return days;
}
