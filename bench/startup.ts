/**
 * Start-up section of `npm run bench` (`npm run bench -- --startup`): whole-process wall times of
 * `node -e 1` (the floor: Node alone), `ingot --version` and `ingot tables` on the flights lake
 * (the example backfilled over 182 days, 7 tables with checkpoints), each the median of 5 runs
 * taken in turn, with the load average. Every `ingot tables` run must print the same listing.
 *
 * The lake is built once in bench/out/startup/flights (`ingot run --from 2001-01-01 --to
 * 2001-07-01`, kept between runs). Writes bench/out/startup.json.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { flightsProject, median, round } from './measure.js';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const OUT = path.join(BENCH, 'out');
const PROJECT = path.join(OUT, 'startup', 'flights');
const BUILT = path.join(PROJECT, '.built');
const CLI = path.join(ROOT, 'dist', 'cli', 'bin.js');
const RUNS = 5;
/** Issue 18's targets, ms (median of 5 whole processes). */
const TARGETS = { versionMs: 150, tablesMs: 500 };

/** What the section writes to bench/out/startup.json. */
export interface StartupResults {
  runs: number;
  /** Wall times of each run, ms, in the order taken. */
  nodeMs: number[];
  versionMs: number[];
  tablesMs: number[];
  /** Tables and live files `ingot tables` listed (the same in every run). */
  tables: number;
  files: number;
  loadAvg: number;
  checks: { figure: string; value: string; target: string; pass: boolean | undefined }[];
}

/** Wall time (ms) and stdout of one whole process; throws with its stderr on a non-zero exit. */
function timed(args: string[]): { ms: number; stdout: string } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(-2000)}`);
  return { ms, stdout: r.stdout };
}

/** The flights project with its lake backfilled over 182 days (built once). */
async function flightsLake(): Promise<void> {
  if (existsSync(BUILT)) return;
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  await flightsProject(PROJECT);
  console.log(`building ${path.relative(ROOT, PROJECT)}/lake (182 daily runs, once) ...`);
  timed([CLI, 'run', '-p', PROJECT, '--from', '2001-01-01', '--to', '2001-07-01']);
  await fs.writeFile(BUILT, new Date().toISOString());
}

export async function startupBench(): Promise<StartupResults> {
  await flightsLake();
  const nodeMs: number[] = [];
  const versionMs: number[] = [];
  const tablesMs: number[] = [];
  let listing: string | undefined;
  const version = (JSON.parse(await fs.readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  // one warm-up of each (file cache), then the runs in turn so that load changes hit all three alike
  timed(['-e', '1']);
  timed([CLI, '--version']);
  timed([CLI, 'tables', '-p', PROJECT]);
  for (let i = 0; i < RUNS; i++) {
    nodeMs.push(timed(['-e', '1']).ms);
    const v = timed([CLI, '--version']);
    if (v.stdout.trim() !== version) throw new Error(`ingot --version printed ${JSON.stringify(v.stdout)}, expected ${version}`);
    versionMs.push(v.ms);
    const t = timed([CLI, 'tables', '-p', PROJECT, '-f', 'json']);
    // the updated column is the commit time, the same in every run: the whole listing must be
    if (listing !== undefined && t.stdout !== listing) throw new Error('ingot tables printed a different listing from one run to the next');
    listing = t.stdout;
    tablesMs.push(t.ms);
  }
  const rows = JSON.parse(listing!) as { table: string; files: number }[];
  if (rows.length < 7 || !rows.some((r) => r.table === 'silver.flights')) throw new Error(`ingot tables listed ${rows.map((r) => r.table).join(', ')}`);
  const [n, v, t] = [median(nodeMs), median(versionMs), median(tablesMs)];
  const loadAvg = round(os.loadavg()[0]!);
  const ms = (x: number): string => `${Math.round(x)} ms`;
  return {
    runs: RUNS, nodeMs: nodeMs.map((x) => round(x, 1)), versionMs: versionMs.map((x) => round(x, 1)), tablesMs: tablesMs.map((x) => round(x, 1)),
    tables: rows.length, files: rows.reduce((s, r) => s + r.files, 0), loadAvg,
    checks: [
      { figure: `\`node -e 1\` (Node alone, median of ${RUNS} processes)`, value: ms(n), target: '', pass: undefined },
      { figure: '`ingot --version`', value: `${ms(v)} (${(v / n).toFixed(2)}× node)`, target: `< ${TARGETS.versionMs} ms`, pass: v < TARGETS.versionMs },
      { figure: `\`ingot tables\` on the flights lake (${rows.length} tables, ${rows.reduce((s, r) => s + r.files, 0)} files)`, value: `${ms(t)} (${(t / n).toFixed(2)}× node)`, target: `< ${TARGETS.tablesMs} ms`, pass: t < TARGETS.tablesMs },
      { figure: 'load average (1 min) at the end', value: String(loadAvg), target: '', pass: undefined },
    ],
  };
}

export function startupMarkdown(r: StartupResults): string {
  return [
    '## Start-up (bench/startup.ts)',
    '',
    '| figure | value | target | result |',
    '| --- | ---: | ---: | --- |',
    ...r.checks.map((c) => `| ${c.figure} | ${c.value} | ${c.target} | ${c.pass === undefined ? '' : c.pass ? 'pass' : '**FAIL**'} |`),
    '',
    `Whole processes, taken in turn: node ${r.nodeMs.join(', ')} ms; --version ${r.versionMs.join(', ')} ms; tables ${r.tablesMs.join(', ')} ms.`,
  ].join('\n') + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const results = await startupBench();
  await fs.mkdir(OUT, { recursive: true });
  await fs.writeFile(path.join(OUT, 'startup.json'), JSON.stringify({ machine: { cpus: os.cpus().length, loadAvg: os.loadavg()[0] }, ...results }, null, 2) + '\n');
  console.log('\n' + startupMarkdown(results));
}
