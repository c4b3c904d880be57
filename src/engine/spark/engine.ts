import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { IngotError } from '../../errors.js';
import type { StructType } from '../../table/schema.js';
import type { DataFile } from '../../table/write.js';
import type { CommittedWrite, Engine, Row, StagedRelation, TableCommit, TableScan, WriteTarget } from '../engine.js';
import { deltaSchemaOfArrow } from './arrow.js';
import { SparkConnectClient } from './client.js';
import { SPARK_DIALECT } from './dialect.js';
import { sparkLocation } from './s3a.js';
import { deltaPath, emptyRowsSql, mergeSql, relationsOfPlan, sparkIdent, sparkTypeOf } from './sql.js';

/** Session confs of every Spark engine session. */
const SESSION_CONF: Record<string, string> = {
  'spark.sql.session.timeZone': 'UTC',
  // ingot quotes identifiers with double quotes (quoteIdent), as DuckDB does
  'spark.sql.ansi.enabled': 'true',
  'spark.sql.ansi.doubleQuotedIdentifiers': 'true',
};
const TXN_APP_ID = 'spark.databricks.delta.write.txnAppId';
const TXN_VERSION = 'spark.databricks.delta.write.txnVersion';
const USER_METADATA = 'spark.databricks.delta.commitInfo.userMetadata';
const AUTO_MERGE = 'spark.databricks.delta.schema.autoMerge.enabled';

/**
 * The Spark engine: datasets' SQL runs on a Spark cluster over Spark Connect (`SparkConnectClient`),
 * and writes go to Delta through Spark's Delta Lake support (`Engine.commit`: `CREATE OR REPLACE
 * TABLE ... AS SELECT`, `INSERT INTO ... BY NAME`, `INSERT INTO ... REPLACE WHERE`, `INSERT
 * OVERWRITE`, `MERGE INTO`), each with the run's Delta `txn` (session confs
 * `spark.databricks.delta.write.txnAppId` / `txnVersion`), so Delta Lake writes the log and a
 * rerun commits nothing twice. Tables are read by path (`` delta.`/lake/layer/table` VERSION AS OF n ``)
 * through views `layer.table` in the server's session catalog, which every session of the server
 * shares: point one ingot project at a server at a time. Staged relations are cached temp views.
 * The lake must be a path the Spark driver and executors see (a shared filesystem) or on S3
 * (`s3://bucket/prefix`, read and written as `s3a://`: the server needs hadoop-aws, and the
 * session the S3A confs of `s3aConfFromEnv`, passed to `open`).
 */
export class SparkEngine implements Engine {
  readonly dialect = SPARK_DIALECT;
  private readonly databases = new Set<string>();
  /** Temp views this engine created, and the local files each owns (`view`). */
  private readonly temp = new Map<string, string[]>();
  /** `describe` results since the last statement (see `exec`). */
  private readonly described = new Map<string, StructType>();

  private constructor(readonly client: SparkConnectClient) {}

  /**
   * Connects to the Spark Connect server at `url` (`sc://...`, see `parseConnection`) and sets the
   * session up, with the extra session confs `conf` (e.g. `s3aConfFromEnv()` for a lake on S3).
   * Errors: CONNECTION_INVALID, ENGINE_UNAVAILABLE.
   */
  static async open(url: string, conf: Record<string, string> = {}): Promise<SparkEngine> {
    const client = SparkConnectClient.connect(url);
    try {
      await client.setConf({ ...SESSION_CONF, ...conf });
    } catch (err) {
      await client.close();
      throw err;
    }
    return new SparkEngine(client);
  }

  async attachTable(qualifiedName: string, scan: TableScan): Promise<void> {
    if (scan.rowIds) throw new IngotError('PROTOCOL_UNSUPPORTED', `${qualifiedName}: the Spark engine does not expose row ids; it merges through Delta Lake (MERGE INTO)`);
    const [db, table] = splitName(qualifiedName);
    if (!this.databases.has(db)) {
      await this.exec(`CREATE DATABASE IF NOT EXISTS ${sparkIdent(db)}`);
      this.databases.add(db);
    }
    const source = scan.version === undefined ? emptyRowsSql(scan.schema) : `SELECT * FROM ${deltaPath(sparkLocation(scan.location), scan.version)}`;
    await this.exec(`CREATE OR REPLACE VIEW ${sparkIdent(db)}.${sparkIdent(table)} AS ${source}`);
  }

  /** Sources are read by DuckDB (the runner runs datasets with a source there): raw files are not attached on Spark. */
  attachFiles(name: string): Promise<void> {
    return Promise.reject(new IngotError('PROTOCOL_UNSUPPORTED', `${name}: the Spark engine does not read sources; datasets with a source run on DuckDB`));
  }

  async references(sql: string, options: { unqualified?: boolean } = {}): Promise<string[]> {
    const [row] = await this.query(`EXPLAIN EXTENDED ${sql}`);
    const plan = String(row?.['plan'] ?? '');
    // an error other than an analysis error (e.g. a view `layer.table` in the server's catalog,
    // left by an earlier run, over a table deleted since) leaves no parsed plan: no relations to
    // report, which would silently drop the dataset's dependencies
    if (!plan.includes('== Parsed Logical Plan ==')) {
      throw new IngotError('SQL_ERROR', `Spark could not plan the query (${plan.trim().slice(0, 2000)}); a view layer.table the server keeps from an earlier run may read a table deleted since: DROP VIEW it`);
    }
    const parsed = plan.split('== Analyzed Logical Plan ==')[0]!.replace('== Parsed Logical Plan ==', '').trim();
    if (/^'?\w*(Statement|Command)\b|^'?(CreateTable|ReplaceTable|DropTable|InsertInto|MergeIntoTable|DeleteFromTable|UpdateTable|SetCommand|AlterTable|TruncateTable)/.test(parsed)) {
      throw new IngotError('SQL_NOT_READ_ONLY', 'only SELECT statements are allowed here');
    }
    return relationsOfPlan(parsed, options);
  }

  /** The columns of `sql`, remembered until the next statement that may change them (views, caches, commits): a run describes one query several times. */
  async describe(sql: string): Promise<StructType> {
    let schema = this.described.get(sql);
    if (!schema) {
      schema = deltaSchemaOfArrow((await this.client.query(`SELECT * FROM (${sql}) AS __d LIMIT 0`)).schema);
      this.described.set(sql, schema);
    }
    return schema;
  }

  /** Caches the rows of `sql` as temp view `name` (`CACHE TABLE ... AS`, computed now). */
  async stage(name: string, sql: string): Promise<StagedRelation> {
    await this.drop(name);
    await this.exec(`CACHE TABLE ${sparkIdent(name)} AS ${sql}`);
    this.temp.set(name, []);
    const result = await this.client.query(`SELECT count(*) AS n FROM ${sparkIdent(name)}`);
    const schema = await this.describe(`SELECT * FROM ${sparkIdent(name)}`);
    return { name, schema, rows: Number(result.rows()[0]!['n']) };
  }

  async view(name: string, sql: string, files: string[] = []): Promise<void> {
    await this.drop(name);
    await this.exec(`CREATE OR REPLACE TEMPORARY VIEW ${sparkIdent(name)} AS ${sql}`);
    this.temp.set(name, files);
  }

  /** Rows of `sql`: a query is sent as a relation (one round trip), anything else as a command. */
  async query(sql: string): Promise<Row[]> {
    if (/^\s*(SELECT|WITH|VALUES|FROM)\b/i.test(sql)) return (await this.client.query(sql)).rows();
    this.described.clear();
    return (await this.client.sql(sql)).rows();
  }

  write(_sql: string, target: WriteTarget): Promise<DataFile[]> {
    return Promise.reject(new IngotError('PROTOCOL_UNSUPPORTED', `the Spark engine writes Delta tables itself (Engine.commit), not data files for ${target.location}`));
  }

  async commit(sql: string, target: TableCommit): Promise<CommittedWrite | undefined> {
    const exists = await target.table.exists();
    const table = deltaPath(sparkLocation(target.table.location));
    const nonce = randomUUID();
    const partitioned = target.partitionBy.length ? ` PARTITIONED BY (${target.partitionBy.map(sparkIdent).join(', ')})` : '';
    let statement: string;
    if (!exists || target.overwriteSchema) {
      statement = `CREATE OR REPLACE TABLE ${table} USING delta${partitioned} AS ${sql}`;
    } else if (target.mode === 'merge') {
      const evolve = target.merge!.mergeSchema ?? target.mergeSchema;
      if (Array.isArray(evolve)) {
        // only the named columns join the table (the source also has ingot's flag columns)
        const current = new Set((await this.describe(`SELECT * FROM ${table}`)).fields.map((f) => f.name));
        const added = (await this.describe(sql)).fields.filter((f) => evolve.includes(f.name) && !current.has(f.name));
        if (added.length) await this.exec(`ALTER TABLE ${table} ADD COLUMNS (${added.map((f) => `${sparkIdent(f.name)} ${sparkTypeOf(f.type)}`).join(', ')})`);
      }
      statement = mergeSql(table, sql, target.merge!, evolve === true);
    } else {
      // by position: the table's columns first, then the rows' new ones (added by schema evolution)
      const current = (await this.describe(`SELECT * FROM ${table}`)).fields.map((f) => f.name);
      const rows = (await this.describe(sql)).fields.map((f) => f.name);
      const missing = current.filter((c) => !rows.includes(c));
      const ordered = [...current.map((c) => (missing.includes(c) ? `NULL AS ${sparkIdent(c)}` : sparkIdent(c))), ...rows.filter((c) => !current.includes(c)).map(sparkIdent)];
      const select = `SELECT ${ordered.join(', ')} FROM (${sql}) AS __rows`;
      statement = target.mode === 'append' ? `INSERT INTO ${table} ${select}`
        : target.mode === 'replace' ? `INSERT INTO ${table} REPLACE WHERE ${target.replaceWhere ?? 'true'} ${select}`
          : `INSERT OVERWRITE ${table} ${select}`;
    }
    const confs: Record<string, string> = {
      [TXN_APP_ID]: target.txn.appId,
      [TXN_VERSION]: String(target.txn.version),
      // commitInfo.userMetadata carries a nonce: a latest commit with it is this write's
      [USER_METADATA]: JSON.stringify({ ...target.parameters, write: nonce }),
      ...(target.mergeSchema ? { [AUTO_MERGE]: 'true' } : {}),
    };
    await this.client.setConf(confs);
    try {
      await this.exec(statement);
    } finally {
      await this.client.setConf(Object.fromEntries(Object.keys(confs).map((k) => [k, null])));
    }
    const [last] = await target.table.history(1);
    // Delta skipped the write when the table already had the txn: the latest commit is another's
    if (!last || (JSON.parse(last.userMetadata ?? '{}') as { write?: string }).write !== nonce) return undefined;
    const { version } = last;
    const m = last.operationMetrics as Record<string, string>;
    const rows = target.mode === 'merge' && exists && !target.overwriteSchema
      ? Number(m['numTargetRowsInserted'] ?? 0) + Number(m['numTargetRowsUpdated'] ?? 0)
      : Number(m['numOutputRows'] ?? 0);
    return { version, rows };
  }

  /** Writes the rows of `sql` to the local CSV file `file` (with a header line), through the client; Parquet files are DuckDB's (SQL_ERROR). */
  async writeFile(sql: string, file: string, format: 'csv' | 'parquet'): Promise<number> {
    if (format !== 'csv') throw new IngotError('SQL_ERROR', `writing ${file}: the Spark engine writes CSV files only; Parquet report files are written by DuckDB`, { file });
    const result = await this.client.query(sql);
    const names = result.schema.fields.map((f) => f.name);
    const cell = (v: unknown): string => {
      if (v === null || v === undefined) return '';
      const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
      return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    };
    const rows = result.rows();
    await fs.writeFile(file, [names.map(cell).join(','), ...rows.map((r) => names.map((n) => cell(r[n])).join(','))].join('\n') + '\n');
    return rows.length;
  }

  interrupt(): void {
    void this.client.interrupt().catch(() => undefined);
  }

  /**
   * Uncaches, then drops the views: uncaching resolves a view, which must not reference one
   * dropped already (a staged relation often reads another), so all are uncached first, the last
   * staged first; a view whose source is gone (dropped by an earlier call) is only dropped.
   */
  async drop(...names: string[]): Promise<void> {
    const ours = names.filter((n) => this.temp.has(n));
    for (const name of [...ours].reverse()) await this.exec(`UNCACHE TABLE IF EXISTS ${sparkIdent(name)}`).catch(() => undefined);
    for (const name of ours) {
      const files = this.temp.get(name)!;
      this.temp.delete(name);
      await this.exec(`DROP VIEW IF EXISTS ${sparkIdent(name)}`);
      for (const f of files) await fs.rm(f, { force: true });
    }
  }

  async close(): Promise<void> {
    for (const files of this.temp.values()) for (const f of files) await fs.rm(f, { force: true });
    this.temp.clear();
    await this.client.close();
  }

  /** Runs a statement; it may redefine what names mean, so remembered schemas are forgotten. */
  private async exec(sql: string): Promise<void> {
    this.described.clear();
    await this.client.sql(sql);
  }
}

function splitName(qualifiedName: string): [string, string] {
  const i = qualifiedName.indexOf('.');
  if (i < 0) throw new IngotError('DATASET_INVALID', `table name ${qualifiedName} is not of the form layer.table`);
  return [qualifiedName.slice(0, i), qualifiedName.slice(i + 1)];
}
