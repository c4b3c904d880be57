import { Option, type Command } from 'commander';
import { IngotError } from '../errors.js';
import { formatRows, n, type OutputFormat } from './format.js';
import type { Io } from './io.js';

/** Options of the environment commands: the project (or a lake directory). */
interface EnvOptions {
  project: string;
  lake?: string;
}

/**
 * `ingot promote <env> [--select ...] [--force]`, `ingot env list`, `ingot env drop <name>`:
 * the environment commands (the work is in `operations/environment.ts`).
 */
export function addEnvCommands(program: Command, io: Io): void {
  const lakeOptions = (c: Command): Command => c
    .addOption(new Option('-p, --project <dir>', 'project folder (with ingot.config.ts)').default('.'))
    .option('--lake <dir>', 'a lake directory instead of the project\'s');

  lakeOptions(program.command('promote <env>'))
    .description('make production tables equal to the environment\'s: one production commit per table, naming the files the environment wrote (no data copied); refused when production moved since the environment was made, unless --force')
    .option('-s, --select <table...>', 'tables to promote: layer.table or layer.* (default: all the environment holds)')
    .option('--force', 'promote even over production commits made since the environment was made')
    .action(async (env: string, opts: EnvOptions & { select?: string[]; force?: boolean }) => {
      await withEngine(opts, async (root, parquet) => {
        const [{ promoteEnvironment, listEnvironments }, { intervalVersionRecords }] = await Promise.all([import('../operations/environment.js'), import('../plan/state.js')]);
        const held = (await listEnvironments(root, parquet)).get(env)?.map((t) => t.table) ?? [];
        const select = opts.select ? expand(opts.select, held, env) : undefined;
        const promoted = await promoteEnvironment(root, env, { ...(select ? { select } : {}), force: opts.force === true, parquet, versions: intervalVersionRecords });
        io.out(formatRows(promoted.map((p) => ({ table: p.table, version: p.version, committed: p.committed, added_files: p.addedFiles, removed_files: p.removedFiles })), 'table'));
        io.err(`promoted ${promoted.filter((p) => p.committed).length} of ${promoted.length} tables of environment ${env} (the others were already equal)`);
      });
    });

  const env = program.command('env').description('environments: named zero-copy sets of tables for development (run, plan, sql, tables take --env <name>)');

  lakeOptions(env.command('list'))
    .description('the environments of the lake, a row per table: its version, the production version it was cloned from, production\'s version now')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'csv', 'json']).default('table'))
    .action(async (opts: EnvOptions & { format: OutputFormat }) => {
      await withEngine(opts, async (root, parquet) => {
        const { listEnvironments } = await import('../operations/environment.js');
        const rows = [...await listEnvironments(root, parquet)].flatMap(([name, tables]) => tables.map((t) => ({
          environment: name, table: t.table, version: t.version, cloned_from: t.clonedFrom, production: t.production, moved: t.moved,
        })));
        io.out(rows.length === 0 ? 'no environments' : formatRows(rows, opts.format, ['environment', 'table', 'version', 'cloned_from', 'production', 'moved']));
      });
    });

  lakeOptions(env.command('drop <name>'))
    .description('delete an environment: its tables and the files it wrote, except files production (after a promote) or another environment references')
    .action(async (name: string, opts: EnvOptions) => {
      await withEngine(opts, async (root, parquet) => {
        const { dropEnvironment } = await import('../operations/environment.js');
        const r = await dropEnvironment(root, name, parquet);
        io.err(`dropped environment ${name}: ${r.tables.length} tables, ${n(r.deletedFiles)} files deleted${r.keptFiles.length > 0 ? `, ${n(r.keptFiles.length)} data files kept because production or another environment references them` : ''}`);
      });
    });
}

/** `select` (names and `layer.*`) as the tables of `held` they name. Errors: CONFIG_INVALID for a pattern naming none. */
function expand(select: string[], held: string[], env: string): string[] {
  const out = new Set<string>();
  for (const s of select) {
    const hits = s.endsWith('.*') ? held.filter((t) => t.startsWith(s.slice(0, -1))) : held.filter((t) => t === s);
    if (hits.length === 0) throw new IngotError('CONFIG_INVALID', `--select ${s}: environment ${env} holds no such table (it holds ${held.join(', ') || 'none'})`, { environment: env });
    for (const h of hits) out.add(h);
  }
  return [...out];
}

/** Runs `fn` with the lake root (`--lake`, else the project's) and the local engine (checkpoints), closed afterwards. */
async function withEngine(opts: EnvOptions, fn: (root: string, parquet: import('../engine/registry.js').LocalEngine) => Promise<void>): Promise<void> {
  const [{ openLocalEngine }, { resolveLocation }] = await Promise.all([import('../engine/registry.js'), import('../storage/open.js')]);
  const root = opts.lake ? resolveLocation(opts.lake) : (await (await import('../project.js')).loadProject(opts.project)).lake;
  const engine = await openLocalEngine();
  try {
    await fn(root, engine);
  } finally {
    await engine.close();
  }
}
