import { Option, type Command } from 'commander';
import { IngotError } from '../errors.js';
import { checkRange, dateRange, grainOfDate, parseDate } from '../pipeline/interval.js';
import type { Plan, PlanRequest } from '../plan/plan.js';
import type { RunResult } from '../metadata/records.js';
import type { Runner, RunEvent } from '../run/runner.js';
import { duration, formatRows, n } from './format.js';
import type { Io } from './io.js';

/** Options `run` and `plan` share: what to run and over which dates. */
interface RunArgs {
  project: string;
  date?: string;
  from?: string;
  to?: string;
  fullRefresh?: boolean;
  select?: string[];
  exclude?: string[];
  rerun?: boolean;
  env?: string;
}

/**
 * `ingot run` and `ingot plan`: the same arguments, one executes the plan the other prints.
 * `fail()` sets the exit code to 1.
 */
export function addRunCommands(program: Command, io: Io, fail: () => void): void {
  const common = (c: Command): Command => c
    .addOption(new Option('-p, --project <dir>', 'project folder (with ingot.config.ts)').default('.'))
    .option('--date <date>', 'logical date YYYY-MM-DD (or an hour YYYY-MM-DDTHH:00, a minute YYYY-MM-DDTHH:MM)')
    .option('--from <date>', 'first logical date of a range (one run per date)')
    .option('--to <date>', 'last logical date of a range, inclusive')
    .option('--full-refresh', 'one run that rebuilds every selected table from all input')
    .option('-s, --select <selector...>', "datasets to run (dbt's grammar: x, x+, +x, layer.*, tag:t; several: a union)")
    .option('--exclude <selector...>', 'datasets not to run (same grammar)')
    .option('--rerun', 'run every selected dataset even when the plan finds it up to date')
    .option('--env <name>', 'work in environment <name>: selected tables are written under _envs/<name>/ (starting as zero-copy clones of production), the others read from production');

  common(program.command('run'))
    .description('plan and run the dataset graph for a logical date, a range of dates, or once (no date: a project without intervals); steps whose inputs did not change are skipped')
    .option('--retry <run-id>', 'run a failed run again as the same run: tables it committed are not committed twice')
    .action(async (opts: RunArgs & { retry?: string }) => {
      const runner = await openRunner(opts.project, opts.env);
      try {
        const t0 = performance.now();
        let results: RunResult[];
        if (opts.retry) {
          const identity = await runner.metadata.find(opts.retry);
          results = [await runner.run(identity.logicalDate, { identity, onEvent: (e) => printProgress(e, io) })];
        } else {
          const request = await planRequest(runner, opts);
          results = await runner.runAll(request.dates, (e) => printProgress(e, io), { ...(request.selected ? { datasets: request.selected } : {}), force: request.force });
        }
        printSummary(results, performance.now() - t0, io);
        if (results.some((r) => r.status === 'failed')) fail();
      } finally {
        await runner.close();
      }
    });

  common(program.command('plan'))
    .description('what `ingot run` with the same arguments would do, without running anything: one step per dataset and interval, run or skip, and why')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (opts: RunArgs & { format: 'text' | 'json' }) => {
      const runner = await openRunner(opts.project, opts.env);
      try {
        const plan = await runner.plan(await planRequest(runner, opts));
        io.out(opts.format === 'json' ? JSON.stringify(plan, null, 2) : planText(plan));
      } finally {
        await runner.close();
      }
    });
}

/** A runner of the project in `dir` (its modules load only when a command runs), in `environment` when given. */
async function openRunner(dir: string, environment?: string): Promise<Runner> {
  const [{ Runner }, { loadProject }] = await Promise.all([import('../run/runner.js'), import('../project.js')]);
  return Runner.open(await loadProject(dir), environment === undefined ? {} : { environment });
}

/**
 * The plan request of the command line's arguments. Errors: CONFIG_INVALID (conflicting dates, a
 * date outside `SUPPORTED_DATES`, a range of more than `MAX_RANGE_INTERVALS` runs), SELECTOR_INVALID, SELECTION_EMPTY.
 */
async function planRequest(runner: Runner, opts: RunArgs): Promise<PlanRequest> {
  const given = [opts.date !== undefined && '--date', (opts.from !== undefined || opts.to !== undefined) && '--from/--to', opts.fullRefresh && '--full-refresh'].filter(Boolean);
  if (given.length > 1) throw new IngotError('CONFIG_INVALID', `give one of --date, --from and --to, or --full-refresh (got ${given.join(' and ')})`);
  let dates: PlanRequest['dates'] = 'once';
  if (opts.fullRefresh) dates = 'full-refresh';
  else if (opts.date !== undefined) dates = [parseDate(opts.date, '--date')];
  else if (opts.from !== undefined || opts.to !== undefined) {
    if (opts.from === undefined || opts.to === undefined) throw new IngotError('CONFIG_INVALID', 'give both --from and --to');
    const from = parseDate(opts.from, '--from');
    const to = parseDate(opts.to, '--to');
    checkRange(from, to, grainOfDate(from));
    dates = dateRange(from, to);
  }
  const nodes = runner.graph.order.map((x) => ({ name: x.dataset.name, dependsOn: x.dependsOn, tags: x.dataset.tags }));
  const { selectDatasets } = await import('../plan/selector.js');
  const selected = opts.select || opts.exclude ? selectDatasets(nodes, { select: opts.select, exclude: opts.exclude }) : undefined;
  return { dates, ...(selected ? { selected } : {}), force: opts.rerun === true };
}

/** A plan as text: a line per run, a line per step (`run` / `skip`, dataset, materialization and engine, reason), then totals. */
export function planText(plan: Plan): string {
  const lines: string[] = [];
  let run = 0;
  let skip = 0;
  const width = Math.max(0, ...plan.runs.flatMap((r) => r.steps.map((s) => s.dataset.length)));
  for (const r of plan.runs) {
    lines.push(r.logicalDate ?? (r.mode === 'full_refresh' ? 'full refresh' : 'once (everything)'));
    for (const s of r.steps) {
      if (s.action === 'run') run++;
      else skip++;
      lines.push(`  ${s.action.padEnd(4)}  ${s.dataset.padEnd(width)}  ${s.reason}`);
    }
  }
  lines.push(`${plan.runs.length} run${plan.runs.length === 1 ? '' : 's'}: ${run} step${run === 1 ? '' : 's'} to run, ${skip} to skip`);
  return lines.join('\n');
}

function printProgress(e: RunEvent, io: Io): void {
  if (e.type === 'dataset-done' && io.progress) {
    const d = e.result;
    const what = d.status === 'skipped' ? `skipped: ${d.reason ?? 'up to date'}` : d.status === 'failed' ? 'FAILED' : `${n(d.rowsOut)} rows${d.quarantined ? `, ${n(d.quarantined)} quarantined` : ''}`;
    io.err(`    ${d.dataset}  ${what}  ${duration(d.ms)}`);
    return;
  }
  if (e.type !== 'run-done') return;
  const r = e.result;
  const width = String(e.total).length;
  const label = r.logicalDate ?? (r.mode === 'once' ? 'once' : 'full refresh');
  const ran = r.datasets.filter((d) => d.status === 'success');
  const skipped = r.datasets.length - ran.length - r.datasets.filter((d) => d.status === 'failed').length;
  const rows = r.datasets.reduce((s, d) => s + d.rowsOut, 0);
  const q = r.datasets.reduce((s, d) => s + d.quarantined, 0);
  const ms = r.endedAt.getTime() - r.startedAt.getTime();
  const prefix = `[${String(e.index + 1).padStart(width)}/${e.total}] ${label}`;
  if (r.replanned) io.err(`${prefix}  planned again ${r.replanned.length}× (a concurrent run moved a table before this run's commit: ${r.replanned[0]})`);
  if (r.status === 'success') {
    const what = ran.length === 0 ? 'nothing to do: every step up to date, nothing committed' : `${ran.length} datasets, ${n(rows)} rows written, ${n(q)} quarantined`;
    io.err(`${prefix}  ok  ${what}${skipped > 0 && ran.length > 0 ? `, ${skipped} up to date` : ''}  ${duration(ms)}`);
    return;
  }
  const failed = r.datasets.find((d) => d.status === 'failed');
  io.err(`${prefix}  FAILED in ${failed?.dataset ?? 'commit'}: ${r.error}`);
  const committed = r.datasets.filter((d) => d.version !== undefined && !d.alreadyCommitted);
  if (committed.length === 0) io.err('  nothing was committed: every table is at its previous version');
  else if (failed) io.err(`  committed before the failure: ${committed.map((d) => `${d.dataset} at version ${d.version}`).join(', ')}`);
}

function printSummary(results: RunResult[], ms: number, io: Io): void {
  const byDataset = new Map<string, { runs: number; skipped: number; rowsIn: number; rowsOut: number; dropped: number; quarantined: number; ms: number; version?: number; reasons: Set<string> }>();
  for (const r of results) {
    for (const d of r.datasets) {
      const t = byDataset.get(d.dataset) ?? { runs: 0, skipped: 0, rowsIn: 0, rowsOut: 0, dropped: 0, quarantined: 0, ms: 0, reasons: new Set<string>() };
      if (d.status === 'skipped') {
        t.skipped++;
        if (d.reason) t.reasons.add(d.reason);
      } else t.runs++;
      t.rowsIn += d.rowsIn;
      t.rowsOut += d.rowsOut;
      t.dropped += d.dropped;
      t.quarantined += d.quarantined;
      t.ms += d.ms;
      if (d.version !== undefined) t.version = d.version;
      byDataset.set(d.dataset, t);
    }
  }
  const ok = results.filter((r) => r.status === 'success').length;
  io.out(`\n${ok} of ${results.length} run${results.length === 1 ? '' : 's'} succeeded in ${duration(ms)}${results.length > 1 ? ' (rows and time: sums over the runs; version: the last committed)' : ''}`);
  io.out(formatRows([...byDataset].map(([dataset, t]) => ({
    dataset, ran: t.runs, skipped: t.skipped, rows_in: n(t.rowsIn), rows_out: n(t.rowsOut), dropped: n(t.dropped), quarantined: n(t.quarantined), time: duration(t.ms), version: t.version ?? null,
  })), 'table'));
  const skips = [...byDataset].filter(([, t]) => t.skipped > 0);
  if (skips.length > 0) {
    io.out('skipped (the plan found nothing to do):');
    for (const [dataset, t] of skips) io.out(`  ${dataset}: ${t.skipped} × ${[...t.reasons].join('; ')}`);
  }
}
