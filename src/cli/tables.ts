import { Option, type Command } from 'commander';
import { formatRows, type OutputFormat } from './format.js';
import type { Io } from './io.js';

/**
 * `ingot tables [-p dir | --lake dir] [--all] [--env name] [-f table|csv|json]`: the lake's
 * tables with their version, live files, rows, bytes, partition columns and last commit time.
 * Reads the Delta logs alone (checkpoints decoded in process, snapshots loaded in parallel): no
 * engine starts, and of the configuration only the lake's location is read (`loadLakeLocation`:
 * the compiled configuration, no schema validation).
 */
export function addTablesCommand(program: Command, io: Io): void {
  program
    .command('tables')
    .description('list the tables of the lake with their version, files, rows and size')
    .addOption(new Option('-p, --project <dir>', 'project folder (with ingot.config.ts)').default('.'))
    .option('--lake <dir>', 'a lake directory instead of the project\'s')
    .option('--all', 'include ingot\'s own tables (_ingot.*)')
    .option('--env <name>', 'as environment <name> sees the lake: its tables, production\'s for the rest')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'csv', 'json']).default('table'))
    .action(async (opts: { project: string; lake?: string; all?: boolean; env?: string; format: OutputFormat }) => {
      const [{ Lake }, root] = await Promise.all([
        import('../table/lake.js'),
        opts.lake ? import('../storage/open.js').then((m) => m.resolveLocation(opts.lake!)) : import('../pipeline/config-module.js').then((m) => m.loadLakeLocation(opts.project)),
      ]);
      const lake = opts.env === undefined ? new Lake(root) : await (await import('../operations/environment.js')).environmentLake(root, opts.env);
      const rows = await Promise.all((await lake.list({ internal: opts.all })).map(async (name) => {
        const s = await lake.table(name).snapshot();
        const files = [...s.files.values()];
        return { table: name, version: s.version, files: files.length, rows: s.numRecords ?? null, bytes: files.reduce((b, f) => b + f.size, 0), partitioned_by: s.partitionColumns.join(', '), updated: new Date(s.timestamp).toISOString() };
      }));
      io.out(formatRows(rows, opts.format, ['table', 'version', 'files', 'rows', 'bytes', 'partitioned_by', 'updated']));
    });
}
