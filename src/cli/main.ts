import * as path from 'node:path';
import { Command, Option } from 'commander';
import type { LocalEngine } from '../engine/registry.js';
import { IngotError, messageOf } from '../errors.js';
import type { Lake } from '../table/lake.js';
import type { MetadataStore } from '../metadata/store.js';
import { VERSION } from '../version.js';
import { formatRows, n, type OutputFormat } from './format.js';
import type { Io } from './io.js';
import { addDocsCommand } from './docs.js';
import { addLineageCommand } from './lineage.js';
import { addFilesCommand } from './files.js';
import { addGraphCommand } from './graph.js';
import { addInitCommand } from './init.js';
import { addRunCommands } from './run.js';
import { addScheduleCommands } from './schedule.js';
import { addTestCommand } from './test.js';
import { addEnvCommands } from './env.js';
import { addTablesCommand } from './tables.js';

// Every other module loads when a command needs it (`await import(...)` in its action), so that
// `ingot --version` and `ingot --help` load no engine, server, database client or config loader.

const stdio: Io = { out: (t) => process.stdout.write(t + '\n'), err: (t) => process.stderr.write(t + '\n'), progress: process.stderr.isTTY === true };

/**
 * The `ingot` command line. Returns the exit code: 0 on success, 1 on a failed run or any error
 * (printed as `error [CODE]: message`).
 */
export async function main(argv: string[], io: Io = stdio): Promise<number> {
  let code = 0;
  const program = new Command('ingot')
    .description('Lakehouse pipelines: ingest, transform, check, store as Delta Lake tables.')
    .version(VERSION)
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });
  const projectOption = () => new Option('-p, --project <dir>', 'project folder (with ingot.config.ts)').default('.');
  const formatOption = () => new Option('-f, --format <format>', 'output format').choices(['table', 'csv', 'json']).default('table');

  addRunCommands(program, io, () => { code = 1; });

  addGraphCommand(program, io);
  addInitCommand(program, io);
  addTestCommand(program, io, () => { code = 1; });
  addLineageCommand(program, io);
  addDocsCommand(program, io);
  addFilesCommand(program, io);

  addTablesCommand(program, io);

  program
    .command('history <table>')
    .description('the commits of a table, newest first; a gap in the log is a MISSING row and a warning')
    .addOption(projectOption())
    .option('--lake <dir>', 'a lake directory instead of the project\'s')
    .option('--limit <n>', 'at most this many commits', (v) => Number(v))
    .addOption(formatOption())
    .action(async (table: string, opts: { project: string; lake?: string; limit?: number; format: OutputFormat }) => {
      const { Lake } = await import('../table/lake.js');
      const lake = new Lake(await lakeRoot(opts));
      if (!(await lake.table(table).exists())) throw new IngotError('TABLE_NOT_FOUND', `no table ${table} in the lake ${lake.root}`, { table });
      const entries = await lake.table(table).history(opts.limit);
      const span = (m: { from: number; to: number }): string => (m.from === m.to ? `version ${m.from} is` : `versions ${m.from} to ${m.to} are`);
      for (const e of entries) {
        if (e.missing) io.err(`warning: ${table}: the log has a gap: ${span(e.missing)} missing (their commit files are not in _delta_log), so later versions cannot be rebuilt from the commits before them`);
      }
      io.out(formatRows(entries.map((e) => ({
        version: e.missing && e.missing.from !== e.missing.to ? `${e.missing.from}-${e.missing.to}` : e.version,
        timestamp: e.missing ? null : new Date(e.timestamp).toISOString(), operation: e.operation,
        parameters: e.missing ? 'commit file missing from the log' : Object.entries(e.operationParameters).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' '),
        rows: e.operationMetrics['numOutputRows'] ?? null,
        files_added: e.operationMetrics['numFiles'] ?? e.operationMetrics['numAddedFiles'] ?? null,
        files_removed: e.operationMetrics['numRemovedFiles'] ?? null,
      })), opts.format, ['version', 'timestamp', 'operation', 'rows', 'files_added', 'files_removed', 'parameters']));
    });

  program
    .command('optimize <table>')
    .description('compact small files, partition by partition (rows unchanged)')
    .addOption(projectOption())
    .option('--lake <dir>', 'a lake directory instead of the project\'s')
    .option('--target-size <bytes>', 'target file size in bytes (default 256 MiB)', (v) => positive(v, '--target-size'))
    .action(async (table: string, opts: LakeOptions & { targetSize?: number }) => {
      await withLake(opts, async (lake, engine) => {
        const { optimize } = await import('../operations/optimize.js');
        const r = await optimize(lake.table(table), engine, { targetSize: opts.targetSize });
        io.out(r.committed ? `${table}: version ${r.version}, ${r.metrics['numFilesRemoved']} files compacted into ${r.metrics['numFilesAdded']}` : `${table}: nothing to compact`);
      });
    });

  program
    .command('vacuum <table>')
    .description('delete files no version within the retention period needs')
    .addOption(projectOption())
    .option('--lake <dir>', 'a lake directory instead of the project\'s')
    .option('--retain-hours <n>', 'keep files removed less than this many hours ago (default: the table\'s, 168)', (v) => positive(v, '--retain-hours', true))
    .option('--dry-run', 'list the files without deleting them')
    .option('--force', 'allow a retention shorter than the table\'s')
    .action(async (table: string, opts: LakeOptions & { retainHours?: number; dryRun?: boolean; force?: boolean }) => {
      await withLake(opts, async (lake) => {
        const [{ vacuum }, { environmentReferences }] = await Promise.all([import('../operations/vacuum.js'), import('../operations/environment.js')]);
        const keep = await environmentReferences(lake.root, table, lake.parquet);
        const r = await vacuum(lake.table(table), { retentionHours: opts.retainHours, dryRun: opts.dryRun, enforceRetention: !opts.force, keep });
        for (const f of r.files) io.out(f);
        io.err(`${table}: ${r.dryRun ? 'would delete' : 'deleted'} ${r.files.length} files, ${n(r.bytes)} bytes`);
      });
    });

  program
    .command('restore <table>')
    .description('make an earlier version the latest (as a new commit)')
    .addOption(projectOption())
    .option('--lake <dir>', 'a lake directory instead of the project\'s')
    .option('--version <n>', 'the version to restore', (v) => positive(v, '--version', true))
    .option('--timestamp <time>', 'restore the version current at this time (ISO 8601)', (v) => timestamp(v, '--timestamp'))
    .action(async (table: string, opts: LakeOptions & { version?: number; timestamp?: number }) => {
      if ((opts.version === undefined) === (opts.timestamp === undefined)) throw new IngotError('CONFIG_INVALID', 'give exactly one of --version and --timestamp');
      await withLake(opts, async (lake) => {
        const { restore } = await import('../operations/restore.js');
        const r = await restore(lake.table(table), opts.version !== undefined ? { version: opts.version } : { timestamp: opts.timestamp! });
        io.out(r.committed ? `${table}: restored as version ${r.version} (${r.metrics['numRestoredFiles']} files re-added, ${r.metrics['numRemovedFiles']} removed)` : `${table}: already equal to that version`);
      });
    });

  program
    .command('delete <table>')
    .description('delete the rows matching a SQL predicate')
    .addOption(projectOption())
    .option('--lake <dir>', 'a lake directory instead of the project\'s')
    .requiredOption('--where <predicate>', 'SQL predicate over the table\'s columns')
    .action(async (table: string, opts: LakeOptions & { where: string }) => {
      await withLake(opts, async (lake, engine) => {
        const { deleteRows } = await import('../operations/delete.js');
        const r = await deleteRows(lake.table(table), engine, { where: opts.where });
        io.out(`${table}: ${n(r.metrics['numDeletedRows'] ?? 0)} rows deleted${r.committed ? `, version ${r.version}` : ''}`);
      });
    });

  program
    .command('update <table>')
    .description('set columns of the rows matching a SQL predicate')
    .addOption(projectOption())
    .option('--lake <dir>', 'a lake directory instead of the project\'s')
    .option('--set <column=expression>', 'a column and its new value as SQL (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--where <predicate>', 'SQL predicate over the table\'s columns (default: every row)')
    .action(async (table: string, opts: LakeOptions & { set: string[]; where?: string }) => {
      const set = Object.fromEntries(opts.set.map((v) => splitPair(v, '--set')));
      await withLake(opts, async (lake, engine) => {
        const { updateRows } = await import('../operations/update.js');
        const r = await updateRows(lake.table(table), engine, { set, where: opts.where });
        io.out(`${table}: ${n(r.metrics['numUpdatedRows'] ?? 0)} rows updated${r.committed ? `, version ${r.version}` : ''}`);
      });
    });

  program
    .command('runs')
    .description('recent runs from the metadata store')
    .addOption(projectOption())
    .option('--lake <dir>', 'a lake directory instead of the project\'s')
    .option('--limit <n>', 'at most this many runs', (v) => Number(v), 20)
    .addOption(formatOption())
    .action(async (opts: { project: string; lake?: string; limit: number; format: OutputFormat }) => {
      const { RUN_DATASETS_TABLE, RUNS_TABLE } = await import('../schedule/history.js');
      await withHistory(opts, async (engine, store) => {
        if ((await store.runs(1)).length === 0) {
          io.out('no runs yet');
          return;
        }
        // failed_checks: rows (or batch checks) that failed an expectation, over the run's datasets
        // rejected: files the run could not read and left out (file:line), over its datasets
        const checks = `LEFT JOIN (SELECT run_id, sum(list_sum(list_transform(expectations, e -> e.failed))) AS failed_checks, nullif(string_agg(array_to_string(list_transform(rejected, r -> r.file || coalesce(':' || r.line, '')), ', '), ', ') FILTER (WHERE len(rejected) > 0), '') AS rejected FROM ${RUN_DATASETS_TABLE} GROUP BY run_id) USING (run_id)`;
        const rows = await engine.query(`SELECT run_id, pipeline, logical_date, mode, status, attempt, strftime(started_at, '%Y-%m-%d %H:%M:%S') AS started, duration_ms, rows_written, coalesce(failed_checks, 0) AS failed_checks, rejected, error FROM ${RUNS_TABLE} ${checks} ORDER BY started_at DESC, run_id DESC LIMIT ${Math.max(1, Math.floor(opts.limit))}`);
        io.out(formatRows(rows, opts.format));
      });
    });

  program
    .command('checks <table>')
    .description("a dataset's expectations over its runs: failures and pass rate (--runs: per run)")
    .addOption(projectOption())
    .option('--lake <dir>', 'a lake directory instead of the project\'s')
    .option('--runs', 'one row per run and expectation instead of the summary')
    .addOption(formatOption())
    .action(async (table: string, opts: LakeOptions & { runs?: boolean; format: OutputFormat }) => {
      const [{ RUN_DATASETS_TABLE }, { quoteString }] = await Promise.all([import('../schedule/history.js'), import('../engine/engine.js')]);
      const { loadProject } = await import('../project.js');
      const names = (await loadProject(opts.project)).datasets.map((d) => d.name);
      if (!names.includes(table)) throw new IngotError('DATASET_UNKNOWN', `no dataset ${table} in the project (datasets: ${names.join(', ')})`, { dataset: table });
      await withHistory(opts, async (engine, store) => {
        if ((await store.runs(1)).length === 0) {
          io.out('no runs yet');
          return;
        }
        // pass rate = rows passed ÷ rows checked (docs/quality.md): a batch check is one check per run; a failed task recorded no rows, its failed rows stand for them
        const checked = `SELECT run_id, logical_date, CASE WHEN e.scope = 'batch' THEN 1 ELSE greatest(rows_in, e.failed) END AS rows_in, e FROM (SELECT run_id, logical_date, rows_in, unnest(expectations) AS e FROM ${RUN_DATASETS_TABLE} WHERE dataset = ${quoteString(table)})`;
        const sql = opts.runs
          ? `SELECT run_id, CAST(logical_date AS VARCHAR) AS logical_date, e.name AS expectation, e.action AS action, e.failed AS failed, rows_in FROM (${checked}) ORDER BY logical_date DESC NULLS LAST, run_id, expectation`
          : `SELECT e.name AS expectation, e.action AS action, count(*) AS runs, count(*) FILTER (WHERE e.failed > 0) AS failing_runs,
               sum(CASE WHEN e.scope = 'batch' THEN least(e.failed, 1) ELSE e.failed END) AS failed_rows, sum(rows_in) AS rows_checked,
               round(100 * (1 - sum(CASE WHEN e.scope = 'batch' THEN least(e.failed, 1) ELSE e.failed END) / nullif(sum(rows_in), 0)), 3) AS pass_rate_pct,
               CAST(max(logical_date) FILTER (WHERE e.failed > 0) AS VARCHAR) AS last_failure
             FROM (${checked}) GROUP BY ALL ORDER BY expectation`;
        const rows = await engine.query(sql);
        io.out(rows.length === 0 ? `no expectation results for ${table}` : formatRows(rows, opts.format));
      });
    });

  program
    .command('sql <select>')
    .description('run a read-only SELECT over the lake; tables are layer.table')
    .addOption(projectOption())
    .option('--lake <dir>', 'a lake directory instead of the project\'s')
    .option('--table <name=path>', 'register a Delta table by path under a name (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--version <n|name=n>', 'time travel: read tables (or one table) as of a version (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--timestamp <time|name=time>', 'time travel: read tables (or one table) as they were at a time, ISO 8601 (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--env <name>', 'read environment <name>\'s tables where it has them, production\'s for the rest')
    .addOption(formatOption())
    .action(async (select: string, opts: { project: string; lake?: string; table: string[]; version: string[]; timestamp: string[]; env?: string; format: OutputFormat }) => {
      const [{ openLocalEngine }, { Lake }, { attachHistory, RUN_DATASETS_TABLE, RUNS_TABLE }, { attachTables }] = await Promise.all([
        import('../engine/registry.js'), import('../table/lake.js'), import('../schedule/history.js'), import('../operations/query.js'),
      ]);
      const engine = await openLocalEngine();
      const root = await lakeRoot(opts, opts.table.length > 0);
      const lake = opts.env === undefined ? new Lake(root, engine) : await (await import('../operations/environment.js')).environmentLake(root, opts.env, engine);
      for (const t of opts.table) {
        const [name, location] = splitPair(t, '--table');
        lake.register(name, location);
      }
      const versions: Record<string, number> = {};
      for (const v of opts.version) {
        const [name, value] = v.includes('=') ? splitPair(v, '--version') : ['*', v];
        if (!/^\d+$/.test(value)) throw new IngotError('CONFIG_INVALID', `--version ${v}: the version must be a non-negative integer`);
        versions[name] = Number(value);
      }
      const timestamps: Record<string, number> = {};
      for (const v of opts.timestamp) {
        const named = /^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*=/.test(v);
        const [name, value] = named ? splitPair(v, '--timestamp') : ['*', v];
        timestamps[name] = timestamp(value, '--timestamp');
      }
      let cleanup = async (): Promise<void> => {};
      try {
        // table_changes('layer.table', from, to): a table's change data feed, as Spark names it
        if (/table_changes\s*\(/i.test(select)) select = await (await import('../operations/change-feed.js')).withTableChanges(lake, engine, select);
        const names = await engine.references(select);
        // the run history comes from the project's metadata store, not from the lake
        const history: string[] = names.filter((x) => x === RUNS_TABLE || x === RUN_DATASETS_TABLE);
        if (history.length > 0) {
          const [{ openMetadata }, { loadProject }] = await Promise.all([import('../metadata/open.js'), import('../project.js')]);
          const store = await openMetadata(await loadProject(opts.project));
          try {
            cleanup = await attachHistory(engine, store, history);
          } finally {
            await store.close();
          }
        }
        const tables = names.filter((x) => !history.includes(x));
        for (const name of tables) {
          const at = timestamps[name] ?? timestamps['*'];
          if (at !== undefined && versions[name] === undefined) versions[name] = await lake.table(name).versionAt(at);
        }
        await attachTables(lake, engine, tables, Object.fromEntries(tables.flatMap((x) => {
          const v = versions[x] ?? versions['*'];
          return v === undefined ? [] : [[x, v]];
        })));
        const [rows, schema] = await Promise.all([engine.query(select), engine.describe(select)]);
        io.out(formatRows(rows, opts.format, schema.fields.map((f) => f.name), Object.fromEntries(schema.fields.map((f) => [f.name, f.type]))));
      } finally {
        await engine.close();
        await cleanup();
      }
    });

  addScheduleCommands(program, io, () => { code = 1; });
  addEnvCommands(program, io);

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    const e = err as { code?: string; exitCode?: number };
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) return e.exitCode ?? 1;
    io.err(err instanceof IngotError ? `error [${err.code}]: ${err.message}` : `error: ${messageOf(err)}`);
    return 1;
  }
  return code;
}

async function lakeRoot(opts: { project: string; lake?: string }, optional = false): Promise<string> {
  if (opts.lake) return (await import('../storage/open.js')).resolveLocation(opts.lake);
  // the configuration alone: no dataset file is imported
  const { loadProjectConfig } = await import('../project.js');
  try {
    return (await loadProjectConfig(opts.project)).lake;
  } catch (err) {
    if (optional) return path.resolve('.ingot-no-lake');
    throw err;
  }
}

/** The options of commands that work on one lake. */
interface LakeOptions {
  project: string;
  lake?: string;
}

/** Runs `fn` with the local engine where the project's run history is attached (`_ingot.runs`, `_ingot.run_datasets`). */
async function withHistory(opts: LakeOptions, fn: (engine: LocalEngine, store: MetadataStore) => Promise<void>): Promise<void> {
  const [{ openMetadata }, { loadProject }, { openLocalEngine }, { attachHistory }] = await Promise.all([
    import('../metadata/open.js'), import('../project.js'), import('../engine/registry.js'), import('../schedule/history.js'),
  ]);
  const store = await openMetadata(await loadProject(opts.project));
  const engine = await openLocalEngine();
  let cleanup = async (): Promise<void> => {};
  try {
    cleanup = await attachHistory(engine, store);
    await fn(engine, store);
  } finally {
    await engine.close();
    await store.close();
    await cleanup();
  }
}

/** Runs `fn` with the lake (checkpoints readable; as environment `env` sees it when given) and the local engine, closed afterwards. */
async function withLake(opts: LakeOptions & { env?: string }, fn: (lake: Lake, engine: LocalEngine) => Promise<void>): Promise<void> {
  const [{ openLocalEngine }, { Lake }] = await Promise.all([import('../engine/registry.js'), import('../table/lake.js')]);
  const engine = await openLocalEngine();
  try {
    const root = await lakeRoot(opts);
    await fn(opts.env === undefined ? new Lake(root, engine) : await (await import('../operations/environment.js')).environmentLake(root, opts.env, engine), engine);
  } finally {
    await engine.close();
  }
}

function positive(v: string, option: string, zero = false): number {
  const x = Number(v);
  if (!Number.isInteger(x) || x < (zero ? 0 : 1)) throw new IngotError('CONFIG_INVALID', `${option} ${v}: expected a ${zero ? 'non-negative' : 'positive'} integer`);
  return x;
}

/** ms since epoch of an ISO 8601 date or time (UTC unless it says otherwise). */
function timestamp(v: string, option: string): number {
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : /[zZ]|[+-]\d{2}:?\d{2}$/.test(v) ? v : `${v}Z`;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) throw new IngotError('CONFIG_INVALID', `${option} ${v}: expected an ISO 8601 time such as 2026-01-31T12:00:00Z`);
  return t;
}

function splitPair(v: string, option: string): [string, string] {
  const i = v.indexOf('=');
  const name = v.slice(0, i).trim();
  if (i <= 0 || name === '') throw new IngotError('CONFIG_INVALID', `${option} ${v}: expected name=value`);
  // as a user types it: `v = 'z'` as well as `v='z'`
  return [name, v.slice(i + 1).trim()];
}
