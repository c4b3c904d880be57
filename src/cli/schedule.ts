import { Option, type Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import { IngotError } from '../errors.js';
import { parseDate } from '../pipeline/interval.js';
import type { Project } from '../pipeline/project.js';
import type { ProjectConfig } from '../project.js';
import type { MetadataStore } from '../metadata/store.js';
import { duration, formatRows, n, type OutputFormat } from './format.js';
import type { Io } from './io.js';

// The scheduler, the server and the metadata store load when a command runs (see main.ts).

/** Runs `fn` with the project in `dir` and its metadata store (closed afterwards). */
async function withStore<T>(dir: string, fn: (project: Project<ProjectConfig>, store: MetadataStore) => Promise<T>): Promise<T> {
  const [{ loadProject }, { openMetadata }] = await Promise.all([import('../project.js'), import('../metadata/open.js')]);
  const project = await loadProject(dir);
  const store = await openMetadata(project);
  try {
    return await fn(project, store);
  } finally {
    await store.close();
  }
}

/**
 * The scheduling commands: `serve`, `keys`, `backfill`, `trigger`, `pause`, `resume`, `pipelines`,
 * `intervals`. `fail()` sets the exit code to 1.
 */
export function addScheduleCommands(program: Command, io: Io, fail: () => void): void {
  const projectOption = () => new Option('-p, --project <dir>', 'project folder (with ingot.config.ts)').default('.');
  const formatOption = () => new Option('-f, --format <format>', 'output format').choices(['table', 'csv', 'json']).default('table');

  program
    .command('serve')
    .description('the scheduler and the HTTP server (REST API, web UI, /docs) until SIGTERM/SIGINT: pipelines on their cron schedules, catchup, triggers, crash recovery (JSON logs on stderr)')
    .addOption(projectOption())
    .option('--max-active-runs <n>', 'runs at once over all pipelines (default: config, else 4)', (v) => Number(v))
    .option('--tick <ms>', 'how often schedules are evaluated, ms', (v) => Number(v), 1000)
    .option('--port <port>', 'HTTP port (default: serve.port, else 8080; 0: any free port)', (v) => Number(v))
    .option('--host <host>', 'interface to listen on (default: serve.host, else 127.0.0.1)')
    .option('--pg-port <port>', 'also serve the PostgreSQL protocol (psql, JDBC, psycopg) on this port (default: serve.postgres.port; 0: any free port)', (v) => Number(v))
    .option('--no-http', 'no HTTP server (the scheduler, and the PostgreSQL protocol server when it has a port)')
    .option('--no-scheduler', 'serve only (no runs start in this process)')
    .action(async (opts: { project: string; maxActiveRuns?: number; tick: number; port?: number; host?: string; pgPort?: number; http: boolean; scheduler: boolean }) => {
      const [{ Scheduler }, { jsonLog }, { createServer }, { AuthFailures }, { startPgServer }] = await Promise.all([
        import('../schedule/scheduler.js'), import('../schedule/task-log.js'), import('../serve/server.js'), import('../serve/auth.js'), import('../serve/postgres/server.js'),
      ]);
      await withStore(opts.project, async (project, store) => {
        const log = jsonLog((line) => io.err(line));
        // the served lake reads a table's log again as soon as a run of this process committed to it
        // and does no whole-table work (in-memory copies, endpoint indexes) for versions a run is about to replace
        let served: { changed(names?: string[]): void; writing(names: string[], run: Promise<unknown>): void } | undefined;
        const scheduler = opts.scheduler
          ? new Scheduler(project, store, {
            tickMs: opts.tick, log, onRunDone: (r) => served?.changed(r.datasets.map((d) => d.dataset)), onRunStart: (names, run) => served?.writing(names, run),
            ...(opts.maxActiveRuns ? { maxActiveRuns: opts.maxActiveRuns } : {}),
          })
          : undefined;
        const graceMs = (project.config.scheduler?.gracePeriodSeconds ?? 30) * 1000;
        let app: FastifyInstance | undefined;
        let pg: { close(): Promise<void> } | undefined;
        // one failed-authentication counter for HTTP and the PostgreSQL protocol
        const failures = new AuthFailures();
        const pgPort = opts.pgPort ?? project.config.serve?.postgres?.port;
        if (pgPort !== undefined && (!Number.isInteger(pgPort) || pgPort < 0 || pgPort > 65535)) throw new IngotError('CONFIG_INVALID', `--pg-port ${opts.pgPort}: expected a port number from 0 to 65535`);
        try {
          if (opts.http) {
            const { app: created, context } = await createServer(project, store, { auth: failures });
            app = created;
            served = context.reader;
            const address = await app.listen({ port: opts.port ?? project.config.serve?.port ?? 8080, host: opts.host ?? project.config.serve?.host ?? '127.0.0.1' });
            log('info', 'listening', { url: address, docs: `${address}/docs` });
            if (pgPort !== undefined) pg = await startPgServer(project, store, { lake: context.reader, verifier: context.verifier, failures, port: pgPort, ...(opts.host ? { host: opts.host } : {}), log });
          } else if (pgPort !== undefined) {
            pg = await startPgServer(project, store, { failures, port: pgPort, ...(opts.host ? { host: opts.host } : {}), log });
          }
        } catch (err) {
          await app?.close();
          failures.close();
          throw err;
        }
        if (pg) {
          const { address } = pg as Awaited<ReturnType<typeof startPgServer>>;
          log('info', 'postgres listening', { host: address.host, port: address.port, url: `postgresql://${address.host}:${address.port}/${project.name}` });
        }
        await new Promise<void>((resolve) => {
          const shutdown = (signal: string): void => {
            process.off('SIGTERM', onTerm).off('SIGINT', onInt);
            log('info', 'signal', { signal });
            Promise.all([pg?.close(), scheduler?.stop(graceMs)]).then(() => app?.close()).finally(() => failures.close()).then(() => resolve(), () => resolve());
          };
          const onTerm = (): void => shutdown('SIGTERM');
          const onInt = (): void => shutdown('SIGINT');
          process.on('SIGTERM', onTerm).on('SIGINT', onInt);
          scheduler?.start();
        });
      });
    });

  const keys = program.command('keys').description('API keys of `ingot serve`: create, list, revoke');
  keys
    .command('create')
    .description('create an API key and print it (once: only its SHA-256 hash is stored)')
    .addOption(projectOption())
    .addOption(new Option('--scope <scope>', 'what the key may do').choices(['read', 'write', 'admin']).makeOptionMandatory())
    .option('--name <name>', 'a name to recognize the key by')
    .action(async (opts: { project: string; scope: string; name?: string }) => {
      await withStore(opts.project, async (_project, store) => {
        const { createApiKey } = await import('../serve/api-keys.js');
        const { id, key } = await createApiKey(store, opts.scope, opts.name);
        io.err(`key ${id} (${opts.scope}${opts.name ? `, ${opts.name}` : ''}) created; it is shown only now:`);
        io.out(key);
      });
    });
  keys
    .command('list')
    .description('the API keys (never their secrets)')
    .addOption(projectOption())
    .addOption(formatOption())
    .action(async (opts: { project: string; format: OutputFormat }) => {
      await withStore(opts.project, async (_project, store) => {
        const { listApiKeys } = await import('../serve/api-keys.js');
        const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
        io.out(formatRows((await listApiKeys(store)).map((k) => ({ id: k.id, name: k.name, scope: k.scope, created: iso(k.createdAt), last_used: iso(k.lastUsedAt), revoked: iso(k.revokedAt) })),
          opts.format, ['id', 'name', 'scope', 'created', 'last_used', 'revoked']));
      });
    });
  keys
    .command('revoke <id>')
    .description('revoke an API key (refused from then on)')
    .addOption(projectOption())
    .action(async (id: string, opts: { project: string }) => {
      await withStore(opts.project, async (_project, store) => {
        const { revokeApiKey } = await import('../serve/api-keys.js');
        await revokeApiKey(store, id);
        io.out(`key ${id}: revoked`);
      });
    });

  program
    .command('backfill <pipeline>')
    .description('run every interval of a pipeline in a range, skipping complete ones (unless --rerun)')
    .addOption(projectOption())
    .requiredOption('--from <date>', 'first logical date: YYYY-MM-DD, or an hour YYYY-MM-DDTHH:00')
    .requiredOption('--to <date>', 'last logical date, inclusive')
    .option('--parallel <n>', 'intervals at once', (v) => Number(v), 1)
    .option('--rerun', 'run complete intervals again, every step forced')
    .option('-s, --select <selector...>', "only these of the pipeline's datasets (dbt's grammar, as for run)")
    .option('--exclude <selector...>', 'not these datasets (same grammar)')
    .action(async (name: string, opts: { project: string; from: string; to: string; parallel: number; rerun?: boolean; select?: string[]; exclude?: string[] }) => {
      const from = parseDate(opts.from, '--from');
      const to = parseDate(opts.to, '--to');
      if (!Number.isInteger(opts.parallel) || opts.parallel < 1) throw new IngotError('CONFIG_INVALID', `--parallel ${opts.parallel}: expected a positive integer`);
      const [{ backfill }, { checkBackfillRange, pipelineNamed }] = await Promise.all([import('../schedule/backfill.js'), import('../schedule/pipeline.js')]);
      await withStore(opts.project, async (project, store) => {
        const t0 = performance.now();
        const p = pipelineNamed(project, name);
        checkBackfillRange(p, from, to);
        const r = await backfill(project, store, p, from, to, {
          parallel: opts.parallel, rerun: opts.rerun, ...(opts.select ? { select: opts.select } : {}), ...(opts.exclude ? { exclude: opts.exclude } : {}),
          onInterval: (date, run, done, total) => {
            const w = String(total).length;
            const head = `[${String(done).padStart(w)}/${total}] ${date}`;
            if (!run) io.err(`${head}  skipped`);
            else if (run.status === 'success') io.err(`${head}  ok  ${n(run.datasets.reduce((s, d) => s + d.rowsOut, 0))} rows  ${duration(run.endedAt.getTime() - run.startedAt.getTime())}`);
            else io.err(`${head}  FAILED: ${run.error}`);
          },
        });
        const failed = r.runs.filter((x) => x.status === 'failed').length;
        io.out(`${name}: ${r.runs.length - failed} intervals ran, ${failed} failed, ${r.skipped.length} skipped, in ${duration(performance.now() - t0)}`);
        if (failed > 0) fail();
      });
    });

  program
    .command('trigger <pipeline>')
    .description('queue a run of a pipeline now (a running `ingot serve` picks it up); default: its last complete interval')
    .addOption(projectOption())
    .option('--date <date>', 'logical date YYYY-MM-DD')
    .action(async (name: string, opts: { project: string; date?: string }) => {
      const [{ intervalStart, lastComplete }, { checkStarted, pipelineNamed }] = await Promise.all([import('../schedule/calendar.js'), import('../schedule/pipeline.js')]);
      await withStore(opts.project, async (project, store) => {
        const p = pipelineNamed(project, name);
        const date = opts.date ? intervalStart(parseDate(opts.date, '--date'), p.interval) : lastComplete(new Date(), p.timezone, p.interval);
        checkStarted(p, date, opts.date ? '--date' : 'the last complete interval');
        if (!(await store.trigger(p.name, date))) throw new IngotError('CONFIG_INVALID', `${p.name} ${date} is running now`, { pipeline: p.name });
        io.out(`${p.name} ${date}: queued`);
      });
    });

  for (const [command, paused] of [['pause', true], ['resume', false]] as const) {
    program
      .command(`${command} <pipeline>`)
      .description(paused ? 'start no new runs of a pipeline (runs in flight finish)' : 'let a paused pipeline run again (catchup included)')
      .addOption(projectOption())
      .action(async (name: string, opts: { project: string }) => {
        const { pipelineNamed } = await import('../schedule/pipeline.js');
        await withStore(opts.project, async (project, store) => {
          await store.setPaused(pipelineNamed(project, name).name, paused);
          io.out(`${name}: ${paused ? 'paused' : 'resumed'}`);
        });
      });
  }

  program
    .command('pipelines')
    .description('the pipelines with their schedule, state and interval counts')
    .addOption(projectOption())
    .addOption(formatOption())
    .action(async (opts: { project: string; format: OutputFormat }) => {
      const { pipelinesOf, startingPaused } = await import('../schedule/pipeline.js');
      await withStore(opts.project, async (project, store) => {
        const all = pipelinesOf(project);
        const paused = await store.paused(startingPaused(all));
        const states = await store.intervals();
        io.out(formatRows(all.map((p) => {
          const mine = states.filter((s) => s.pipeline === p.name);
          const count = (status: string): number => mine.filter((s) => s.status === status).length;
          return {
            pipeline: p.name, schedule: p.schedule ?? null, timezone: p.timezone, interval: p.interval, paused: paused.has(p.name),
            datasets: p.datasets.length, succeeded: count('success'), failed: count('failed'), running: count('running'), queued: count('queued'),
            last_success: mine.filter((s) => s.status === 'success').map((s) => s.logicalDate).sort().pop() ?? null,
          };
        }), opts.format));
      });
    });

  program
    .command('intervals <table>')
    .description('the logical dates for which a dataset is complete (metadata store and the table\'s commits), as ranges')
    .addOption(projectOption())
    .addOption(formatOption())
    .action(async (table: string, opts: { project: string; format: OutputFormat }) => {
      const [{ completeDates, dateRanges }, { Lake }] = await Promise.all([import('../schedule/complete-dates.js'), import('../table/lake.js')]);
      await withStore(opts.project, async (project, store) => {
        const dates = await completeDates(store, new Lake(project.lake), table);
        if (dates.length === 0) {
          io.out(`${table}: no complete interval`);
          return;
        }
        io.out(formatRows(dateRanges(dates), opts.format));
      });
    });
}
