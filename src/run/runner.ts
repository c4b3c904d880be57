import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { DuckDBEngine } from '../engine/duckdb/engine.js';
import { quoteIdent, timestampLiteral, type Engine } from '../engine/engine.js';
import { SparkEngine } from '../engine/spark/engine.js';
import { s3aConfFromEnv } from '../engine/spark/s3a.js';
import { resolveEnv } from '../env.js';
import { IngotError, messageOf } from '../errors.js';
import { discardCommit, scanFor, stageWrite, Lake } from '../lake.js';
import { defaultEngine, duckdbSettings, type EngineName } from '../pipeline/config.js';
import { sqlFor, type DatasetDefinition, type Expectation, type Source } from '../pipeline/definition.js';
import type { Project } from '../pipeline/project.js';
import { buildGraph, QUARANTINE_SUFFIX, type DatasetGraph, type DatasetNode } from '../pipeline/graph.js';
import { batchCheckSql, planExpectations } from '../pipeline/expectations.js';
import { boundValue, EVERYTHING, intervalOf, type Interval } from '../pipeline/interval.js';
import { renderSql } from '../pipeline/template.js';
import { ArchiveConnector } from '../sources/archive.js';
import { FilesConnector, inputError } from '../sources/files.js';
import { HttpConnector } from '../sources/http.js';
import { PostgresConnector } from '../sources/postgres.js';
import type { SourceConnector, SourceContext } from '../sources/source.js';
import { filtersToSql, type Filter } from '../table/filter.js';
import type { Snapshot } from '../table/snapshot.js';
import type { DeltaTable, PreparedCommit } from '../table/table.js';
import type { DomainWrite, WriteMode } from '../table/write.js';
import { fieldOf, type StructType } from '../table/schema.js';
import { exportDataset } from '../load/export.js';
import { maxOfTable } from './bookmark.js';
import { attachCommitted, isKeyed, stageKeyed } from './materialize.js';
import { landCsv } from './landing.js';
import { conformSchema } from './schema-change.js';
import { openMetadata } from '../schedule/store/open.js';
import type { RunHistory } from './run-history.js';
import type { DatasetResult, ExpectationResult, RunResult } from './result.js';

/** Progress of a run, for display. */
export type RunEvent =
  | { type: 'run-start'; runId: string; logicalDate?: string; index: number; total: number }
  | { type: 'dataset-done'; runId: string; result: DatasetResult }
  | { type: 'committed'; runId: string; table: string; version: number }
  | { type: 'run-done'; result: RunResult; index: number; total: number };

/**
 * Who a run is. A retry passes the identity of the run it retries: every commit of a run carries
 * a Delta `txn` action (appId `ingot:<logical date>`, version = start time in ms), so tables the
 * first attempt already committed are neither written nor committed again, and a run older than
 * the last one committed for its date never overwrites it.
 */
export interface RunIdentity {
  runId: string;
  startedAt: Date;
}

/** Options of `Runner.run`. */
export interface RunOptions {
  onEvent?: (e: RunEvent) => void;
  /** Position in a sequence of runs, for progress events. */
  index?: number;
  total?: number;
  /** Retry of an earlier run: its identity (default: a new run). */
  identity?: RunIdentity;
  /** Run only these datasets (a pipeline's), in graph order; the others' tables are read as committed. Default: all. */
  datasets?: ReadonlySet<string>;
  /** Recorded with the run: the pipeline, what started it (`schedule`, `backfill`, `manual`...), the attempt of a taken-over run. */
  pipeline?: string;
  trigger?: string;
  attempt?: number;
  /**
   * Runs each attempt of a dataset (the scheduler's retries, timeouts and logs): calls `attempt`
   * as often as it likes; a failed attempt has already discarded what it staged. `interrupt`
   * cancels the engine's running query (the attempt then fails). The error of a final failure
   * may carry `task: { attempts, log }` for the record.
   */
  task?: (dataset: string, attempt: () => Promise<DatasetResult>, interrupt: () => void) => Promise<DatasetResult>;
}

/** The connector reading `source`. */
function connectorFor(source: Source): SourceConnector {
  switch (source.kind) {
    case 'files': return new FilesConnector(source);
    case 'archive': return new ArchiveConnector(source);
    case 'http': return new HttpConnector(source);
    case 'postgres': return new PostgresConnector(source);
  }
}

/** A write staged during a run, committed when every dataset of the run succeeded. */
interface PendingWrite {
  table: DeltaTable;
  commit: PreparedCommit;
  preview: Snapshot;
  /** The dataset result to receive the committed version (not set for quarantine tables). */
  result?: DatasetResult;
  /** Version it was committed at ahead of the run's end: a dataset on an engine that commits itself (Spark) reads it. */
  committed?: number;
}

/**
 * Executes a project's dataset graph, one run per logical date or one full-refresh run.
 *
 * A run stages every dataset's output first (data files written, commits prepared, downstream
 * datasets reading the staged snapshots) and commits only when all datasets succeeded, one Delta
 * commit per table. A failing run commits nothing and deletes the files it wrote, so every table
 * stays at its previous version. Runs are recorded in the lake's metadata store. Before the
 * write, a dataset's rows are made to fit its table's schema and its declared one
 * (`conformSchema`: new columns added, lossless casts, misfits failed or quarantined).
 *
 * Each dataset runs on its engine (`engine` of the dataset, else of the project): DuckDB, or
 * Spark (`SparkEngine`), which commits its writes through Delta Lake as the dataset finishes
 * (with the run's txn, so a rerun commits nothing twice) instead of at the end of the run; tables
 * a Spark dataset reads that the run staged are committed before it reads them. Sources are read
 * by DuckDB; exports and bookmarks use DuckDB.
 */
export class Runner {
  private constructor(
    readonly project: Project,
    readonly engine: Engine,
    readonly lake: Lake,
    readonly graph: DatasetGraph,
    readonly metadata: RunHistory,
    private readonly ownsMetadata: boolean,
    /** The Spark engine, when a dataset runs on Spark. */
    readonly spark?: SparkEngine,
  ) {}

  /** The engine running `ds`'s SQL: DuckDB for a source, else the dataset's or the project's engine. */
  engineOf(ds: DatasetDefinition): Engine {
    return engineFor(ds, this.project, this.engine, this.spark);
  }

  /**
   * Opens an engine for `project` and builds its graph. Runs are recorded in `metadata` (default:
   * the project's metadata store, closed with the runner).
   * Errors: DATASET_UNKNOWN, GRAPH_CYCLE, DATASET_INVALID, METADATA_UNAVAILABLE.
   */
  static async open(project: Project, options: { metadata?: RunHistory } = {}): Promise<Runner> {
    const settings = duckdbSettings(project.config);
    const engine = await DuckDBEngine.open({
      ...settings,
      ...(settings.spillDirectory ? { spillDirectory: path.resolve(project.dir, settings.spillDirectory) } : {}),
    });
    let spark: SparkEngine | undefined;
    try {
      if (project.datasets.some((d) => !d.source && (d.engine ?? defaultEngine(project.config)) === 'spark')) {
        const fail = (message: string): IngotError => new IngotError('CONFIG_INVALID', `${project.name}: the Spark engine: ${message}`);
        const url = project.config.spark?.url;
        if (!url) throw fail("datasets run on Spark but ingot.config.ts has no spark: { url: 'sc://host:port' } (or 'env:SPARK_REMOTE')");
        // a lake on S3: Spark reaches it through S3A, pointed at the S3 of this process's AWS environment
        spark = await SparkEngine.open(resolveEnv(url, fail, 'the Spark Connect URL'), project.lake.startsWith('s3://') ? s3aConfFromEnv() : {});
      }
      const graph = await buildGraph(project.datasets, (sql, d) => engineFor(d, project, engine, spark).references(sql), (d) => dialectOf(engineFor(d, project, engine, spark)));
      const lake = new Lake(project.lake, engine);
      return new Runner(project, engine, lake, graph, options.metadata ?? (await openMetadata(project)), !options.metadata, spark);
    } catch (err) {
      await engine.close();
      await spark?.close();
      throw err;
    }
  }

  /**
   * Runs each logical date in order (or one full refresh when `dates` is 'full-refresh'),
   * stopping at the first failed run. Returns the results of the runs that happened.
   */
  async runAll(dates: string[] | 'full-refresh', onEvent?: (e: RunEvent) => void): Promise<RunResult[]> {
    const list = dates === 'full-refresh' ? [undefined] : dates;
    const results: RunResult[] = [];
    for (let i = 0; i < list.length; i++) {
      const result = await this.run(list[i], { onEvent, index: i, total: list.length });
      results.push(result);
      if (result.status === 'failed') break;
    }
    return results;
  }

  /** Runs the graph for `logicalDate` (undefined: full refresh). Never throws for dataset failures: they are in the result. */
  async run(logicalDate: string | undefined, options: RunOptions = {}): Promise<RunResult> {
    const { index = 0, total = 1 } = options;
    const onEvent = options.onEvent ?? (() => {});
    const runId = options.identity?.runId ?? `${logicalDate ?? 'full'}_${randomUUID().slice(0, 8)}`;
    const startedAt = options.identity?.startedAt ?? new Date();
    onEvent({ type: 'run-start', runId, logicalDate, index, total });
    const pending = new Map<string, PendingWrite>();
    const results: DatasetResult[] = [];
    let error: string | undefined;
    for (const node of this.graph.order) {
      if (options.datasets && !options.datasets.has(node.dataset.name)) continue;
      const t0 = performance.now();
      const taskStart = new Date();
      // expectation results of a dataset that then fails are recorded too
      const checked: ExpectationResult[] = [];
      const attempt = async (): Promise<DatasetResult> => {
        checked.length = 0;
        try {
          return await this.runDataset(node, logicalDate, { runId, startedAt }, pending, checked);
        } catch (err) {
          await this.discardDataset(node.dataset.name, pending);
          throw err;
        }
      };
      try {
        const engine = this.engineOf(node.dataset);
        const result = options.task ? await options.task(node.dataset.name, attempt, () => engine.interrupt?.()) : await attempt();
        result.ms = Math.round(performance.now() - t0);
        result.startedAt = taskStart;
        results.push(result);
        onEvent({ type: 'dataset-done', runId, result });
      } catch (err) {
        error = messageOf(err);
        const task = (err as { task?: { attempts: number; log: string } }).task;
        const failed: DatasetResult = { dataset: node.dataset.name, status: 'failed', rowsIn: 0, rowsOut: 0, dropped: 0, quarantined: 0, expectations: checked, inputs: [], ms: Math.round(performance.now() - t0), startedAt: taskStart, error, ...task };
        results.push(failed);
        onEvent({ type: 'dataset-done', runId, result: failed });
        break;
      }
    }
    if (error === undefined) {
      try {
        for (const [name, w] of pending) {
          const version = w.committed ?? await w.table.commit(w.commit);
          if (w.result) w.result.version = version;
          onEvent({ type: 'committed', runId, table: name, version });
        }
      } catch (err) {
        error = `commit failed: ${messageOf(err)}`;
      }
      // exports follow the commits; a rerun (its commits skipped by txn) exports again, idempotently
      if (error === undefined) error = await this.exportAll(results, logicalDate);
    } else {
      for (const w of pending.values()) {
        if (w.committed === undefined) await discardCommit(w.table, w.commit);
      }
    }
    const result: RunResult = {
      runId, project: this.project.name, ...(logicalDate ? { logicalDate } : {}), mode: logicalDate ? 'date' : 'full_refresh',
      status: error === undefined ? 'success' : 'failed', startedAt, endedAt: new Date(), datasets: results, ...(error !== undefined ? { error } : {}),
      ...(options.pipeline ? { pipeline: options.pipeline } : {}), ...(options.trigger ? { trigger: options.trigger } : {}), ...(options.attempt ? { attempt: options.attempt } : {}),
    };
    await this.metadata.record(result);
    onEvent({ type: 'run-done', result, index, total });
    return result;
  }

  private async runDataset(node: DatasetNode, logicalDate: string | undefined, { runId, startedAt }: RunIdentity, pending: Map<string, PendingWrite>, expectationResults: ExpectationResult[]): Promise<DatasetResult> {
    const ds = node.dataset;
    const engine = this.engineOf(ds);
    const txn = { appId: `ingot:${logicalDate ?? 'full'}`, version: startedAt.getTime() };
    const full = logicalDate === undefined;
    const interval: Interval = full ? EVERYTHING : intervalOf(logicalDate, ds.grain);
    const partitionColumn = ds.partitionBy?.[0];
    const fail = (code: ConstructorParameters<typeof IngotError>[0], message: string, err?: unknown): IngotError =>
      err instanceof IngotError && err.code !== 'SQL_ERROR' ? err : new IngotError(code, `${ds.name} (${ds.file}): ${message}`, { dataset: ds.name, file: ds.file }, { cause: err });

    for (const ref of node.reads) {
      if (ref === ds.name) continue; // its own committed table ({{this}} in an expectation), attached below
      const table = this.lake.table(ref);
      const staged = pending.get(ref);
      // an engine that reads tables through its own Delta support reads committed versions only
      if (engine.commit && staged && staged.committed === undefined) staged.committed = await table.commit(staged.commit);
      const snapshot = pending.get(ref)?.preview ?? (await table.trySnapshot());
      if (!snapshot) throw fail('TABLE_NOT_FOUND', `reads ${ref}, which has never been written: run its dataset first`);
      await engine.attachTable(ref, await scanFor(engine, table, snapshot));
    }

    // the dataset's own table as committed: a source's bookkeeping (domain metadata, bookmark) is
    // read from it, the schema is checked against it, and the run's commit is built on it
    const committed = await this.lake.table(ds.name).trySnapshot();
    let sql: string;
    let inputs: string[] = [];
    // a connector's and the schema check's own expectations, and the columns only their quarantined rows keep
    const auto: Expectation[] = [];
    const hidden: string[] = [];
    const render = (s: string): string => renderSql(s, { interval, logicalDate, runId, dialect: dialectOf(engine) }, ds.name);
    let domainMetadata: DomainWrite[] | undefined;
    if (ds.source) {
      const ctx: SourceContext = { projectDir: this.project.dir, dataset: ds.name, interval, partitionColumn, logicalDate, runId, appends: !full && ds.materialization === 'append' };
      // the bookmark of an incremental source is derived from the committed table (never in a full refresh)
      if (!full) {
        ctx.maxOfTarget = (column) => maxOfTable(engine, this.lake.table(ds.name), committed, ds.name, column);
        ctx.committed = new Map([...(committed?.domains.values() ?? [])].map((d) => [d.domain, d.configuration]));
      }
      const batch = await connectorFor(ds.source).read(ctx, engine, '__source');
      inputs = batch.inputs;
      auto.push(...(batch.expectations ?? []));
      hidden.push(...(batch.quarantineColumns ?? []));
      if (batch.unchanged) {
        await engine.drop('__source');
        return { dataset: ds.name, status: 'success', rowsIn: 0, rowsOut: 0, dropped: 0, quarantined: 0, expectations: [], inputs, ms: 0 };
      }
      if (ds.landing) await landCsv(engine, '__source', ds.landing, { projectDir: this.project.dir, dataset: ds.name, interval, logicalDate, runId });
      domainMetadata = batch.domainMetadata;
      sql = `SELECT *, TIMESTAMPTZ '${startedAt.toISOString()}' AS "_ingested_at", '${runId}' AS "_run_id" FROM "__source"`;
    } else {
      // the dataset's override for its engine, if any (`x.spark.sql`)
      sql = render(sqlFor(ds, dialectOf(engine))!);
    }

    if (node.reads.includes(ds.name)) await attachCommitted(engine, this.lake.table(ds.name), ds.name, full ? undefined : committed, sql);
    try {
      const conformed = await conformSchema(engine, { dataset: ds, sql, table: full ? undefined : committed?.schema, exempt: hidden, inputs });
      sql = conformed.sql;
      auto.push(...conformed.expectations);
      hidden.push(...conformed.quarantineColumns);
    } catch (err) {
      if (err instanceof IngotError && err.code !== 'SQL_ERROR') throw err;
      throw ds.source ? inputError(err, ds.name) : fail('SQL_ERROR', messageOf(err), err);
    }

    const exps = [...auto, ...(ds.expectations ?? [])];
    const rowExps = exps.filter((e) => e.scope !== 'batch');
    const plan = exps.length > 0 ? planExpectations(rowExps, render) : undefined;
    // Without expectations the query is written straight to Parquet; with them, it is staged
    // once with a failure flag per expectation, then split into kept and quarantined rows.
    let schema: StructType;
    let rowsIn: number | undefined;
    try {
      if (plan) {
        const checked = await engine.stage('__checked', plan.checkedSql(`(${sql})`));
        schema = { type: 'struct', fields: checked.schema.fields.filter((f) => !f.name.startsWith('__fail_') && !hidden.includes(f.name)) };
        rowsIn = checked.rows;
      } else {
        schema = await engine.describe(sql);
      }
    } catch (err) {
      throw ds.source ? inputError(err, ds.name) : fail('SQL_ERROR', messageOf(err), err);
    }
    const columns = schema.fields.map((f) => f.name);
    if (partitionColumn && !fieldOf(schema, partitionColumn)) {
      throw fail('DATASET_INVALID', `partition column ${partitionColumn} is not among the output columns (${columns.join(', ')})`);
    }

    let keptSql = sql;
    let quarantineSql: string | undefined;
    let dropped = 0;
    let quarantined = 0;
    if (plan) {
      const [counts] = await engine.query(plan.countsSql('__checked'));
      dropped = Number(counts!['dropped'] ?? 0);
      quarantined = Number(counts!['quarantined'] ?? 0);
      for (const e of exps) {
        const i = rowExps.indexOf(e);
        const failed = i >= 0
          ? Number(counts![`f${i}`] ?? 0)
          : (await engine.query(batchCheckSql(e, '__checked', render)).catch((err: unknown) => { throw fail('SQL_ERROR', `expectation ${e.name}: ${messageOf(err)}`, err); }))[0]!['failed'] === true ? 1 : 0;
        expectationResults.push({ name: e.name, action: e.action, failed, ...(i < 0 ? { scope: 'batch' as const } : {}) });
      }
      const failing = expectationResults.find((r) => r.action === 'fail' && r.failed > 0);
      if (failing) {
        const e = exps.find((x) => x.name === failing.name)!;
        const i = rowExps.indexOf(e);
        if (i < 0) throw new IngotError('EXPECTATION_FAILED', `${ds.name}: expectation ${e.name} (${e.condition}) failed over the run's ${rowsIn} rows`, { dataset: ds.name, expectation: e.name });
        const [example] = await engine.query(`SELECT ${columns.map(quoteIdent).join(', ')} FROM "__checked" WHERE ${quoteIdent(`__fail_${i}`)} LIMIT 1`);
        throw new IngotError('EXPECTATION_FAILED', `${ds.name}: expectation ${failing.name} (${e.condition}) failed for ${failing.failed} of ${rowsIn} rows, e.g. ${JSON.stringify(example)}`, { dataset: ds.name, expectation: failing.name });
      }
      keptSql = plan.keptSql('__checked', columns);
      const extra: Record<string, string> = { _quarantined_at: timestampLiteral(engine, startedAt.toISOString()) };
      if (!columns.includes('_run_id')) extra['_run_id'] = `'${runId}'`;
      quarantineSql = plan.quarantineSql('__checked', [...columns, ...hidden], extra);
    }

    // merge / apply changes write through stageKeyed; their quarantine table is appended to
    const mode: WriteMode = full ? 'overwrite' : ds.materialization === 'replace partition' ? 'replace' : ds.materialization === 'overwrite' ? 'overwrite' : 'append';
    // replace: the table layer refuses files outside the interval (PARTITION_VIOLATION)
    const replaceWhere: Filter[] | undefined = mode === 'replace'
      ? [{ column: partitionColumn!, op: '>=', value: boundValue(interval.start) }, { column: partitionColumn!, op: '<', value: boundValue(interval.end) }]
      : undefined;
    const parameters = { runId, ...(logicalDate ? { logicalDate } : {}) };

    let alreadyCommitted = false;
    let committedVersion: number | undefined;
    const write = async (name: string, query: string, rowsSchema: StructType): Promise<number> => {
      const table = this.lake.table(name);
      const own = name === ds.name;
      const base = own ? committed : await table.trySnapshot();
      if ((base?.txns.get(txn.appId)?.version ?? -1) >= txn.version) {
        alreadyCommitted = true;
        return 0;
      }
      if (engine.commit && !(own && isKeyed(ds))) {
        const done = await engine.commit(query, {
          table, mode, ...(replaceWhere ? { replaceWhere: filtersToSql(replaceWhere) } : {}), partitionBy: ds.partitionBy ?? [],
          mergeSchema: !full, overwriteSchema: full, txn, parameters,
        }).catch((err: unknown) => { throw fail('SQL_ERROR', messageOf(err), err); });
        if (own) committedVersion = done?.version;
        if (!done && own) alreadyCommitted = true;
        return done?.rows ?? 0;
      }
      if (own && isKeyed(ds)) {
        const k = await stageKeyed(engine, table, base, query, ds, { full, partitionBy: ds.partitionBy ?? [], parameters, txn, domainMetadata })
          .catch((err: unknown) => { throw fail('SQL_ERROR', messageOf(err), err); });
        if (k.commit && k.preview) pending.set(name, { commit: k.commit, preview: k.preview, table });
        else if (k.committed !== undefined) committedVersion = k.committed;
        else alreadyCommitted = true;
        rowsIn ??= k.batchRows;
        return k.rows;
      }
      try {
        const w = await stageWrite(engine, table, base, query, {
          mode, schema: rowsSchema, partitionBy: ds.partitionBy ?? [], replaceWhere, overwriteSchema: full, mergeSchema: !full, parameters, txn, domainMetadata: own ? domainMetadata : undefined,
        });
        pending.set(name, { ...w, table });
        return w.commit.actions.reduce((n, a) => n + ('add' in a && a.add.stats ? (JSON.parse(a.add.stats) as { numRecords: number }).numRecords : 0), 0);
      } catch (err) {
        if (err instanceof IngotError && err.code === 'PARTITION_VIOLATION') {
          throw fail('PARTITION_VIOLATION', `wrote rows with ${partitionColumn} outside the run's interval [${interval.start}, ${interval.end}): filter the query with {{start}} and {{end}} (${err.message})`);
        }
        throw ds.source ? inputError(err, ds.name) : fail('SQL_ERROR', messageOf(err), err);
      }
    };
    const rowsOut = await write(ds.name, keptSql, schema);
    const result: DatasetResult = { dataset: ds.name, status: 'success', rowsIn: rowsIn ?? rowsOut, rowsOut, dropped, quarantined, expectations: expectationResults, inputs, ms: 0 };
    if (alreadyCommitted) {
      result.alreadyCommitted = true;
      result.version = committed!.version;
    } else if (committedVersion !== undefined) {
      result.version = committedVersion;
    } else {
      pending.get(ds.name)!.result = result;
    }
    if (quarantineSql) {
      // A run with nothing to quarantine and nothing to replace makes no quarantine commit.
      const q = await this.lake.table(`${ds.name}${QUARANTINE_SUFFIX}`).trySnapshot();
      const noop = quarantined === 0 && q !== undefined && (mode === 'append' || (mode === 'replace' ? q.scan(replaceWhere).length === 0 : q.files.size === 0));
      if (!noop) {
        const qSchema = q && !full ? await engine.describe(quarantineSql) : (await engine.stage('__quarantine', quarantineSql)).schema;
        await write(`${ds.name}${QUARANTINE_SUFFIX}`, q && !full ? quarantineSql : 'SELECT * FROM "__quarantine"', qSchema);
      }
    }
    await engine.drop('__quarantine', '__checked', '__source');
    return result;
  }

  /** Runs the exports of the run's successful datasets (see `exportDataset`); the first failure's message, if any. */
  private async exportAll(results: DatasetResult[], logicalDate: string | undefined): Promise<string | undefined> {
    for (const r of results) {
      const ds = this.graph.get(r.dataset)?.dataset;
      if (!ds?.exports || r.status !== 'success') continue;
      try {
        await exportDataset(this.engine, this.lake, this.project.dir, ds, logicalDate, logicalDate === undefined ? EVERYTHING : intervalOf(logicalDate, ds.grain));
      } catch (err) {
        return `export failed: ${messageOf(err)}`;
      }
    }
    return undefined;
  }

  /** Deletes what a failed attempt of `dataset` staged (its table's and its quarantine table's files). */
  private async discardDataset(dataset: string, pending: Map<string, PendingWrite>): Promise<void> {
    for (const name of [dataset, `${dataset}${QUARANTINE_SUFFIX}`]) {
      const w = pending.get(name);
      if (!w || w.committed !== undefined) continue;
      pending.delete(name);
      await discardCommit(w.table, w.commit);
    }
    await this.engineOf(this.graph.get(dataset)!.dataset).drop('__quarantine', '__checked', '__source');
  }

  async close(): Promise<void> {
    await this.engine.close();
    await this.spark?.close();
    if (this.ownsMetadata) await this.metadata.close();
  }
}

/** The SQL dialect of `engine`. */
function dialectOf(engine: Engine): EngineName {
  return engine.name === 'spark' ? 'spark' : 'duckdb';
}

/** The engine running `ds`: DuckDB for a dataset with a source, else the dataset's or the project's engine. */
function engineFor(ds: DatasetDefinition, project: Project, duckdb: Engine, spark: SparkEngine | undefined): Engine {
  if (ds.source || (ds.engine ?? defaultEngine(project.config)) === 'duckdb') return duckdb;
  if (!spark) throw new IngotError('CONFIG_INVALID', `${ds.name}: runs on Spark, which is not connected`, { dataset: ds.name });
  return spark;
}
