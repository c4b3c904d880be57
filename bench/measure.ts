import { spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A finished child process: wall time (s), peak resident set size (MB), output. */
export interface Measured {
  wallS: number;
  peakRssMB: number;
  stdout: string;
}

/**
 * Runs `cmd args` in `cwd` and measures its wall time and peak RSS (from GNU time, so any
 * program can be measured; for `node` without GNU time, from `process.resourceUsage()` at exit).
 * Throws with the end of stderr on a non-zero exit.
 */
export async function measure(cmd: string, args: string[], cwd: string): Promise<Measured> {
  const rssFile = path.join(os.tmpdir(), `ingot-bench-rss-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const gnuTime = existsSync('/usr/bin/time');
  if (!gnuTime && cmd !== process.execPath) throw new Error(`measuring ${cmd} needs GNU time (/usr/bin/time)`);
  const atExit = `import{writeFileSync}from'node:fs';process.on('exit',()=>writeFileSync(${JSON.stringify(rssFile)},String(process.resourceUsage().maxRSS)))`;
  const [bin, argv] = gnuTime
    ? ['/usr/bin/time', ['-f', '%M', '-o', rssFile, cmd, ...args]]
    : [cmd, ['--import', `data:text/javascript,${encodeURIComponent(atExit)}`, ...args]];
  const t0 = performance.now();
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(bin, argv, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  const wallS = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ').slice(0, 300)} exited with ${code}:\n${stderr.split('\n').slice(-15).join('\n')}\n${stdout.slice(-2000)}`);
  const kb = Number((await fs.readFile(rssFile, 'utf8')).trim().split('\n').pop());
  await fs.rm(rssFile, { force: true });
  return { wallS, peakRssMB: kb / 1024, stdout };
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export const round = (x: number, digits = 2): number => Number(x.toFixed(digits));
