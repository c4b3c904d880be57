import { promises as fs } from 'node:fs';
import { randomUUID } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DuckDBAppender, DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { IngotError, messageOf } from '../../errors.js';
import { fieldOf, physicalName, type DataType, type StructType } from '../../table/schema.js';
import type { DataFile } from '../../table/write.js';
import type { ParquetFiles } from '../../table/checkpoint.js';
import { quoteIdent, quoteString, ROW_FILE, ROW_NUMBER, type Engine, type OutputColumnLineage, type EngineSettings, type FileScan, type Row, type StagedRelation, type TableScan, type WriteTarget } from '../engine.js';
import { DUCKDB_DIALECT } from './dialect.js';
import { duckdb } from './native.js';
import { registerFunctions } from './functions.js';
import { literalPath } from './paths.js';
import { deltaStats } from './stats.js';
import { duckTypeOf } from './dialect.js';
import { deltaSchemaOf } from './types.js';
import { lineageOfTree, type ColumnsOf } from './lineage.js';

const DEFAULT_FILE_SIZE = 256 * 1024 * 1024;
/** Rows per appended chunk (DuckDB's vector size). */
const CHUNK_ROWS = 2048;
const DELETIONS_PREFIX = '__ingot_deleted.';
/** Data files whose columns an engine remembers (see `DuckDBEngine.written`); the oldest are forgotten beyond it. */
const WRITTEN_FILES = 100_000;
/** The catalog of the stand-ins of attached tables (`DuckDBEngine.standIns`). */
const SHAPES = 'ingot_shapes';
/** The error a one-partition write raises at the first row of another partition (`writeOnePartition`). */
const OTHER_PARTITION = 'ingot: a row of another partition';
/** Partition column types a one-partition write handles: their values are spelled alike in folder names and in the log. */
const ONE_PARTITION_TYPES = new Set(['date', 'byte', 'short', 'integer', 'long', 'string']);
/** Partition column names and values that DuckDB writes into folder names unescaped. */
const PLAIN_NAME = /^[A-Za-z0-9_.-]+$/;
/** The temp table holding the deleted rows of attached table `qualifiedName`. */
const deletionTable = (qualifiedName: string): string => `temp.main.${quoteIdent(DELETIONS_PREFIX + qualifiedName)}`;

/**
 * The DuckDB engine (`@duckdb/node-api`), in process. Delta snapshots become views over
 * `read_parquet` of their live files; writes go through `COPY ... TO ... (RETURN_STATS)`, which
 * gives each file's row count, size, partition values and column bounds in the same pass.
 * Sessions run in UTC. The enrichment functions of `registerFunctions` (`ip_country`,
 * `ua_browser`, `ua_os`, `ua_device`) are available in every query.
 */
export class DuckDBEngine implements Engine, ParquetFiles {
  readonly dialect = DUCKDB_DIALECT;
  /** View SQL of each attached table, to skip re-creating unchanged views. */
  private readonly attached = new Map<string, string>();
  private readonly schemas = new Set<string>();
  /** Temp relations this engine created: name → TABLE or VIEW. */
  private readonly temp = new Map<string, 'TABLE' | 'VIEW'>();
  /**
   * Data files this engine wrote (absolute path) → their columns (`columnsKey`). A scan whose
   * every file is here with exactly the table's data columns is read without unifying the files'
   * schemas (`union_by_name`), which reads every file's footer each time a query is bound: with
   * 182 daily files, 40 ms per query instead of 7. Files it did not write are always unified.
   */
  private readonly written = new Map<string, string>();
  /** Temporary files owned by a temp view (`view`), deleted with it. */
  private readonly owned = new Map<string, string[]>();
  /** Attached tables whose deleted rows are in a `deletionTable`. */
  private readonly deletionTables = new Set<string>();
  /** Write locations where a `partitionGuess` proved wrong: written partitioned from then on. */
  private readonly partitionedLocations = new Set<string>();
  /**
   * Stand-ins of attached tables in catalog `SHAPES`: qualified name → SQL of a view with the
   * table view's columns and types but no files (`tableScanSql` of no files). `describe` binds a
   * query against them: the same types, without globbing and parsing the partition folders of
   * every data file (a view over a table of 182 daily files binds in ~9 ms, its stand-in in <1).
   */
  private readonly standIns = new Map<string, string>();
  private readonly standInSchemas = new Set<string>();

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
    /** The in-memory database's own catalog (the default one). */
    private readonly catalog: string,
  ) {}

  /** Opens an in-memory database with the given memory limit, spill directory and threads. */
  static async open(settings: EngineSettings = {}): Promise<DuckDBEngine> {
    const options: Record<string, string> = {};
    if (settings.memoryLimit) options['memory_limit'] = settings.memoryLimit;
    if (settings.threads) options['threads'] = String(settings.threads);
    if (settings.spillDirectory) {
      await fs.mkdir(settings.spillDirectory, { recursive: true });
      options['temp_directory'] = settings.spillDirectory;
    }
    const instance = await duckdb().DuckDBInstance.create(':memory:', options);
    const conn = await instance.connect();
    await conn.run("SET TimeZone = 'UTC'");
    await conn.run('SET preserve_insertion_order = false');
    // Delta data files never change once written: their footers are read once per engine, not per
    // query (a daily run binds and scans views over every file of its upstream tables several
    // times); DuckDB reads a file's footer again when its modification time moves
    await conn.run('SET parquet_metadata_cache = true');
    await conn.run(`ATTACH ':memory:' AS ${SHAPES}`);
    registerFunctions(conn);
    const catalog = String((await conn.runAndReadAll('SELECT current_database()')).getRowsJS()[0]![0]);
    return new DuckDBEngine(instance, conn, catalog);
  }

  async attachTable(qualifiedName: string, scan: TableScan): Promise<void> {
    const deletions = await this.loadDeletions(qualifiedName, scan);
    await this.createView(qualifiedName, tableScanSql(scan, deletions, this.sameColumns(scan)), scan.location);
    await this.standIn(qualifiedName, tableScanSql({ ...scan, files: [] }));
    if (!deletions && this.deletionTables.delete(qualifiedName)) await this.exec(`DROP TABLE IF EXISTS ${deletionTable(qualifiedName)}`);
  }

  async attachUnion(qualifiedName: string, parts: string[]): Promise<void> {
    if (parts.length === 0) throw new Error('attachUnion: needs at least one part');
    const sql = parts.map((p) => `SELECT * FROM ${splitName(p).map(quoteIdent).join('.')}`).join(' UNION ALL ');
    await this.standIn(qualifiedName, undefined);
    await this.createView(qualifiedName, sql, '');
    if (this.deletionTables.delete(qualifiedName)) await this.exec(`DROP TABLE IF EXISTS ${deletionTable(qualifiedName)}`);
  }

  /** Creates (or replaces, when its SQL changed) the view `qualifiedName` over `sql`, which reads files under `location`. */
  private async createView(qualifiedName: string, sql: string, location: string): Promise<void> {
    const [schemaName, table] = splitName(qualifiedName);
    if (this.attached.get(qualifiedName) === sql) return;
    if (!this.schemas.has(schemaName)) {
      await this.exec(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schemaName)}`);
      this.schemas.add(schemaName);
    }
    try {
      await this.conn.run(`CREATE OR REPLACE VIEW ${quoteIdent(schemaName)}.${quoteIdent(table)} AS ${sql}`);
    } catch (err) {
      const missing = /No files found that match the pattern "([^"]+)"/.exec(messageOf(err))?.[1];
      if (missing) {
        const file = path.relative(location, missing).split(path.sep).join('/');
        throw new IngotError('DATA_FILE_MISSING', `${qualifiedName}: data file ${file} of the Delta table at ${location} is missing (deleted outside Delta, or vacuumed while this version was still needed)`, { table: qualifiedName, file }, { cause: err });
      }
      throw new IngotError('SQL_ERROR', messageOf(err), {}, { cause: err });
    }
    this.attached.set(qualifiedName, sql);
  }

  /**
   * Creates (or replaces, when its SQL changed) the stand-in of attached table `qualifiedName`
   * (see `standIns`); undefined removes it, so that queries reading that table are described
   * against the table itself.
   */
  private async standIn(qualifiedName: string, sql: string | undefined): Promise<void> {
    if (this.standIns.get(qualifiedName) === sql) return;
    const [schemaName, table] = splitName(qualifiedName);
    const name = `${SHAPES}.${quoteIdent(schemaName)}.${quoteIdent(table)}`;
    this.standIns.delete(qualifiedName);
    if (sql === undefined) {
      await this.exec(`DROP VIEW IF EXISTS ${name}`);
      return;
    }
    if (!this.standInSchemas.has(schemaName)) {
      await this.exec(`CREATE SCHEMA IF NOT EXISTS ${SHAPES}.${quoteIdent(schemaName)}`);
      this.standInSchemas.add(schemaName);
    }
    await this.exec(`CREATE OR REPLACE VIEW ${name} AS ${sql}`);
    this.standIns.set(qualifiedName, sql);
  }

  /**
   * Forgets what this engine knows of the relations it created (views of attached tables, their
   * schemas, the stand-ins): after SQL it did not write (`query`), which may have replaced or
   * dropped them. Attaching a table creates its view and stand-in again.
   */
  private async forgetRelations(): Promise<void> {
    this.attached.clear();
    this.schemas.clear();
    if (this.standIns.size === 0 && this.standInSchemas.size === 0) return;
    this.standIns.clear();
    this.standInSchemas.clear();
    await this.exec(`DETACH ${SHAPES}; ATTACH ':memory:' AS ${SHAPES}`);
  }

  /** Whether this engine wrote every file of `scan` with exactly the scan's data columns and types (see `written`). */
  private sameColumns(scan: TableScan): boolean {
    if (scan.files.length === 0 || this.written.size === 0) return false;
    const key = columnsKey(scan.schema.fields.filter((f) => !scan.partitionColumns.includes(f.name)).map((f) => [physicalName(f, scan.columnMapping === true), f.type]));
    return scan.files.every((f) => this.written.get(path.join(scan.location, ...f.path.split('/'))) === key);
  }

  /**
   * Puts the deleted rows of `scan`'s files into the temp table `tableScanSql` anti-joins them
   * with (`file`: index in `withDeletions(scan.files)`, `pos`: row position), one per attached
   * table, through an appender. Returns its name; undefined when no file has deleted rows.
   */
  private async loadDeletions(qualifiedName: string, scan: TableScan): Promise<string | undefined> {
    const files = withDeletions(scan.files);
    if (files.length === 0) return undefined;
    const name = deletionTable(qualifiedName);
    await this.exec(`CREATE OR REPLACE TEMP TABLE ${name} (file INTEGER, pos BIGINT)`);
    this.deletionTables.add(qualifiedName);
    appendDeletedRows(await this.conn.createAppender(`${DELETIONS_PREFIX}${qualifiedName}`, 'main', 'temp'), files);
    return name;
  }

  async attachFiles(name: string, scan: FileScan): Promise<void> {
    if (this.owned.has(name)) await this.drop(name);
    await this.exec(`CREATE OR REPLACE TEMP VIEW ${quoteIdent(name)} AS ${fileScanSql(scan)}`);
    this.temp.set(name, 'VIEW');
  }

  /** The statement tree of `sql` (`json_serialize_sql`). Errors: SQL_ERROR, SQL_NOT_READ_ONLY. */
  private async parseTree(sql: string): Promise<{ error: boolean; error_message?: string; statements?: { node: Record<string, unknown> }[] }> {
    const reader = await this.conn.runAndReadAll('SELECT json_serialize_sql($1::VARCHAR) AS j', [sql]);
    // positions can be 2^64-1, beyond a double: lineage does not need them
    const parsed = JSON.parse(String(reader.getRowObjectsJS()[0]!['j']).replace(/"query_location":\d+/g, '"query_location":0')) as { error: boolean; error_message?: string; statements?: { node: Record<string, unknown> }[] };
    if (parsed.error) {
      const msg = parsed.error_message ?? 'cannot parse';
      const notSelect = /only SELECT statements can be serialized/i.test(msg);
      throw new IngotError(notSelect ? 'SQL_NOT_READ_ONLY' : 'SQL_ERROR', notSelect ? 'only SELECT statements are allowed here' : msg);
    }
    return parsed;
  }

  async lineage(sql: string, columnsOf: ColumnsOf): Promise<OutputColumnLineage[]> {
    return lineageOfTree(await this.parseTree(sql), columnsOf);
  }

  async references(sql: string, options: { unqualified?: boolean } = {}): Promise<string[]> {
    const parsed = await this.parseTree(sql);
    const names = new Set<string>();
    const bare = new Set<string>();
    const ctes = new Set<string>();
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(walk);
      if (node === null || typeof node !== 'object') return;
      const o = node as Record<string, unknown>;
      if (o['type'] === 'BASE_TABLE' && typeof o['schema_name'] === 'string') {
        if (o['schema_name'] !== '') names.add(`${o['schema_name']}.${String(o['table_name'])}`);
        else bare.add(String(o['table_name']));
      }
      const map = (o['cte_map'] as { map?: { key?: unknown }[] } | undefined)?.map;
      for (const entry of map ?? []) if (typeof entry.key === 'string') ctes.add(entry.key.toLowerCase());
      for (const v of Object.values(o)) walk(v);
    };
    walk(parsed.statements);
    if (options.unqualified) for (const b of bare) if (!ctes.has(b.toLowerCase())) names.add(b);
    return [...names].sort();
  }

  /** Rows of a Parquet file as JSON objects (the `ParquetFiles` the table layer uses for checkpoints). */
  async readRows(file: string): Promise<Record<string, unknown>[]> {
    const reader = await this.conn.runAndReadAll('SELECT CAST(to_json(t) AS VARCHAR) AS j FROM read_parquet($1::VARCHAR) AS t', [literalPath(file)]);
    return reader.getRowsJS().map((r) => JSON.parse(String(r[0])) as Record<string, unknown>);
  }

  /**
   * The actions of a Delta checkpoint file, one object per row with its one non-null column of
   * `columns` (`{ add: {...} }`; rows where all are null are left out; columns the file lacks are
   * skipped). DuckDB reads only those columns and hands back a single JSON text, parsed once.
   */
  async readActions(file: string, columns: readonly string[]): Promise<Record<string, unknown>[]> {
    const source = `read_parquet(${quoteString(literalPath(file))})`;
    const present = new Set((await this.conn.runAndReadAll(`SELECT * FROM ${source} LIMIT 0`)).columnNames());
    const cols = columns.filter((c) => present.has(c));
    if (cols.length === 0) return [];
    const json = (c: string): string => `WHEN ${quoteIdent(c)} IS NOT NULL THEN '{${JSON.stringify(c)}:' || CAST(to_json(${quoteIdent(c)}) AS VARCHAR) || '}'`;
    const reader = await this.conn.runAndReadAll(
      `SELECT string_agg(CASE ${cols.map(json).join(' ')} END, ',') FROM ${source} WHERE ${cols.map((c) => `${quoteIdent(c)} IS NOT NULL`).join(' OR ')}`,
    );
    const text = reader.getRowsJS()[0]?.[0];
    return typeof text === 'string' ? (JSON.parse(`[${text}]`) as Record<string, unknown>[]) : [];
  }

  /** Writes rows as a Parquet file with exactly `schema` (through a temporary NDJSON file). */
  async writeRows(file: string, schema: StructType, rows: Record<string, unknown>[]): Promise<void> {
    // the NDJSON goes to the OS temp folder, never next to `file` (a table's log)
    const tmp = path.join(os.tmpdir(), `ingot-rows-${randomUUID()}.ndjson`);
    await fs.writeFile(tmp, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    try {
      const columns = schema.fields.map((f) => `${quoteString(f.name)}: ${quoteString(duckTypeOf(f.type))}`).join(', ');
      await this.exec(`COPY (SELECT * FROM read_json(${quoteString(tmp)}, format = 'newline_delimited', columns = {${columns}})) TO ${quoteString(file)} (FORMAT parquet)`);
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  async writeFile(sql: string, file: string, format: 'csv' | 'parquet'): Promise<number> {
    const [row] = await this.query(`COPY (${sql}) TO ${quoteString(file)} (${format === 'csv' ? 'FORMAT csv, HEADER' : 'FORMAT parquet'})`);
    return Number(row?.['Count'] ?? 0);
  }

  /**
   * The schema of `sql`'s rows, bound without running it. Bound first against the stand-ins of
   * the attached tables (`standIns`: same columns and types, no files to look at), with the
   * tables' own views when that fails (a relation without a stand-in, or an error to report).
   */
  async describe(sql: string): Promise<StructType> {
    if (this.standIns.size > 0) {
      let shape: StructType | undefined;
      await this.conn.run(`USE ${SHAPES}`);
      try {
        const reader = await this.conn.runAndReadAll(`SELECT * FROM (${sql}) LIMIT 0`);
        shape = deltaSchemaOf(reader.columnNames(), reader.columnTypes());
      } catch {
        // described against the tables themselves below
      } finally {
        await this.conn.run(`USE ${quoteIdent(this.catalog)}`);
      }
      if (shape) return shape;
    }
    try {
      const reader = await this.conn.runAndReadAll(`SELECT * FROM (${sql}) LIMIT 0`);
      return deltaSchemaOf(reader.columnNames(), reader.columnTypes());
    } catch (err) {
      throw new IngotError('SQL_ERROR', messageOf(err), {}, { cause: err });
    }
  }

  async stage(name: string, sql: string): Promise<StagedRelation> {
    if (this.owned.has(name)) await this.drop(name);
    let created;
    try {
      created = await this.conn.runAndReadAll(`CREATE OR REPLACE TEMP TABLE ${quoteIdent(name)} AS ${sql}`);
    } catch (err) {
      throw new IngotError('SQL_ERROR', messageOf(err), {}, { cause: err });
    }
    this.temp.set(name, 'TABLE');
    const reader = await this.conn.runAndReadAll(`SELECT * FROM ${quoteIdent(name)} LIMIT 0`);
    const schema = deltaSchemaOf(reader.columnNames(), reader.columnTypes());
    // CREATE TABLE AS reports the number of rows it inserted
    return { name, schema, rows: Number(created.getRowsJS()[0]?.[0] ?? 0) };
  }

  async query(sql: string): Promise<Row[]> {
    // any statement may define relations: what the engine knows of its own cannot be trusted after it
    await this.forgetRelations();
    try {
      const reader = await this.conn.runAndReadAll(sql);
      return reader.getRowObjectsJson() as Row[];
    } catch (err) {
      throw new IngotError('SQL_ERROR', messageOf(err), {}, { cause: err });
    }
  }

  async write(sql: string, target: WriteTarget): Promise<DataFile[]> {
    const one = this.onePartition(target);
    if (one) {
      const files = await this.writeOnePartition(sql, target, one);
      if (files) return files;
    }
    const projection = target.schema.fields
      .map((f) => `CAST(${quoteIdent(f.name)} AS ${duckTypeOf(f.type)}) AS ${quoteIdent(f.name)}`)
      .join(', ');
    const options = ['FORMAT parquet', "FILENAME_PATTERN 'part-{uuid}'", 'RETURN_STATS', 'APPEND'];
    if (target.partitionColumns.length > 0) options.push(`PARTITION_BY (${target.partitionColumns.map(quoteIdent).join(', ')})`);
    else options.push(`FILE_SIZE_BYTES ${target.targetFileSize ?? DEFAULT_FILE_SIZE}`);
    await fs.mkdir(target.location, { recursive: true });
    const reader = await this.conn.runAndReadAll(`COPY (SELECT ${projection} FROM (${sql})) TO ${quoteString(target.location)} (${options.join(', ')})`)
      .catch((err: unknown) => { throw new IngotError('SQL_ERROR', messageOf(err), {}, { cause: err }); });
    return this.writtenFiles(reader.getRowObjectsJson() as Record<string, unknown>[], target);
  }

  /**
   * The folder (`flight_date=2001-01-05`, relative to the target's location) of the one partition
   * `target.partitionGuess` names, when it can be written directly: every partition column guessed,
   * of a type whose value DuckDB spells in a folder name as the log does (date, integers, string),
   * names and values that need no escaping, and no earlier guess for this location proved wrong.
   */
  private onePartition(target: WriteTarget): string | undefined {
    const guess = target.partitionGuess;
    if (!guess || target.partitionColumns.length === 0 || this.partitionedLocations.has(target.location)) return undefined;
    const dirs: string[] = [];
    for (const c of target.partitionColumns) {
      const v = guess[c];
      const type = fieldOf(target.schema, c)?.type;
      if (v === undefined || typeof type !== 'string' || !ONE_PARTITION_TYPES.has(type) || !PLAIN_NAME.test(c) || !PLAIN_NAME.test(v)) return undefined;
      // the value as DuckDB spells it: a valid day, an integer without leading zeros or sign
      if (type === 'date' && !(/^\d{4}-\d{2}-\d{2}$/.test(v) && new Date(`${v}T00:00:00Z`).toISOString().startsWith(v))) return undefined;
      if (type !== 'date' && type !== 'string' && !/^(?:0|-?[1-9]\d{0,17})$/.test(v)) return undefined;
      dirs.push(`${c}=${v}`);
    }
    return dirs.join('/');
  }

  /**
   * Writes the rows of `sql` as one file in partition folder `dir` without partitioning them
   * (DuckDB's partitioned COPY buffers every partition before writing: ~10-15 ms more for a
   * day's rows), each row's partition values checked in the same pass. Undefined, with nothing
   * left behind, when a row has other partition values (this location is then always written
   * partitioned by this engine).
   */
  private async writeOnePartition(sql: string, target: WriteTarget, dir: string): Promise<DataFile[] | undefined> {
    const cast = (f: StructType['fields'][number]): string => `CAST(${quoteIdent(f.name)} AS ${duckTypeOf(f.type)})`;
    const data = target.schema.fields.filter((f) => !target.partitionColumns.includes(f.name)).map((f) => `${cast(f)} AS ${quoteIdent(f.name)}`);
    const same = target.partitionColumns.map((c) => {
      const f = fieldOf(target.schema, c)!;
      return `${cast(f)} IS NOT DISTINCT FROM CAST(${quoteString(target.partitionGuess![c]!)} AS ${duckTypeOf(f.type)})`;
    });
    const file = path.join(target.location, ...dir.split('/'), `part-${randomUUID()}.parquet`);
    await fs.mkdir(path.dirname(file), { recursive: true });
    let rows: Record<string, unknown>[];
    try {
      const reader = await this.conn.runAndReadAll(
        `COPY (SELECT ${data.join(', ') || '*'} FROM (${sql}) WHERE CASE WHEN ${same.join(' AND ')} THEN true ELSE error(${quoteString(OTHER_PARTITION)}) END) TO ${quoteString(file)} (FORMAT parquet, RETURN_STATS)`,
      );
      rows = reader.getRowObjectsJson() as Record<string, unknown>[];
    } catch (err) {
      await fs.rm(file, { force: true });
      if (messageOf(err).includes(OTHER_PARTITION)) {
        this.partitionedLocations.add(target.location);
        return undefined;
      }
      throw new IngotError('SQL_ERROR', messageOf(err), {}, { cause: err });
    }
    const values = Object.fromEntries(target.partitionColumns.map((c) => [c, target.partitionGuess![c]!]));
    return this.writtenFiles(rows.map((r) => ({ ...r, filename: file, partition_keys: Object.entries(values).map(([key, value]) => ({ key, value })) })), target);
  }

  /** The data files a COPY ... (RETURN_STATS) into `target` reported (files of no rows deleted), remembered as written by this engine. */
  private async writtenFiles(rows: Record<string, unknown>[], target: WriteTarget): Promise<DataFile[]> {
    const dataSchema: StructType = { type: 'struct', fields: target.schema.fields.filter((f) => !target.partitionColumns.includes(f.name)) };
    const columns = columnsKey(dataSchema.fields.map((f) => [f.name, f.type]));
    const now = Date.now();
    const files: DataFile[] = [];
    for (const row of rows) {
      const file = String(row['filename']);
      const count = Number(row['count']);
      if (count === 0) {
        await fs.rm(file, { force: true });
        continue;
      }
      const partitionValues: Record<string, string | null> = {};
      for (const kv of (row['partition_keys'] ?? []) as { key: string; value: string | null }[]) partitionValues[kv.key] = kv.value;
      for (const c of target.partitionColumns) {
        if (!(c in partitionValues)) throw new Error(`DuckDB returned no partition value for ${c} of ${file}`);
        const type = fieldOf(target.schema, c)?.type;
        if (partitionValues[c] === '' && type !== 'string') partitionValues[c] = null;
        if (type === 'timestamp' && partitionValues[c]) partitionValues[c] = utcPartitionValue(partitionValues[c]);
      }
      this.written.set(path.resolve(file), columns);
      if (this.written.size > WRITTEN_FILES) this.written.delete(this.written.keys().next().value!);
      files.push({
        path: path.relative(target.location, file).split(path.sep).join('/'),
        size: Number(row['file_size_bytes']),
        partitionValues,
        modificationTime: now,
        stats: deltaStats(count, (row['column_statistics'] ?? []) as never, dataSchema),
      });
    }
    return files;
  }

  async view(name: string, sql: string, files: string[] = []): Promise<void> {
    await this.drop(name);
    this.owned.set(name, files);
    await this.exec(`CREATE TEMP VIEW ${quoteIdent(name)} AS ${sql}`);
    this.temp.set(name, 'VIEW');
  }

  async drop(...names: string[]): Promise<void> {
    const statements = names.flatMap((name) => {
      const kind = this.temp.get(name);
      this.temp.delete(name);
      return kind ? [`DROP ${kind} IF EXISTS ${quoteIdent(name)}`] : [];
    });
    if (statements.length > 0) await this.exec(statements.join('; '));
    await this.deleteOwned(names);
  }

  interrupt(): void {
    this.conn.interrupt();
  }

  async close(): Promise<void> {
    this.conn.closeSync();
    this.instance.closeSync();
    await this.deleteOwned([...this.owned.keys()]);
  }

  /** Deletes the files the views `names` owned. */
  private async deleteOwned(names: string[]): Promise<void> {
    for (const name of names) {
      for (const file of this.owned.get(name) ?? []) await fs.rm(file, { force: true });
      this.owned.delete(name);
    }
  }

  private async exec(sql: string): Promise<void> {
    try {
      await this.conn.run(sql);
    } catch (err) {
      throw new IngotError('SQL_ERROR', messageOf(err), {}, { cause: err });
    }
  }
}

function splitName(qualifiedName: string): [string, string] {
  const i = qualifiedName.indexOf('.');
  if (i < 0) throw new IngotError('DATASET_INVALID', `table name ${qualifiedName} is not of the form layer.table`);
  return [qualifiedName.slice(0, i), qualifiedName.slice(i + 1)];
}

/** A key of a data file's columns (name and type, in any order): equal keys, same columns. */
function columnsKey(fields: [string, DataType][]): string {
  return fields.map(([name, type]) => `${JSON.stringify(name)} ${JSON.stringify(type)}`).sort().join(',');
}

/**
 * A `timestamp` partition value as DuckDB prints TIMESTAMPTZ in the UTC session
 * ("2001-01-01 10:00:00.5+00") in the protocol's ISO-8601 UTC form, as Spark writes it
 * ("2001-01-01T10:00:00.500000Z"; PROTOCOL.md, "Partition Value Serialization"): the form without
 * an offset would be read in the reader's session time zone.
 */
function utcPartitionValue(v: string): string {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\+00(?::?00)?$/.exec(v);
  return m ? `${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(6, '0')}Z` : v;
}

const HIVE_SAFE = /^[A-Za-z0-9_.\- ]*$/;

/**
 * SQL reading a Delta snapshot. Partition values come from the log, never from paths; when
 * every path spells its partition values hive-style (as ingot, Spark and delta-rs write them),
 * DuckDB's hive partitioning is used so that filters on partition columns prune files.
 * Files with deleted rows are read apart, with their row numbers, and anti-joined with
 * `deletions`: a relation `(file INTEGER, pos BIGINT)` of the deleted rows, `file` indexing
 * `withDeletions(scan.files)` (required when that list is not empty).
 */
export function tableScanSql(scan: TableScan, deletions?: string, sameColumns = false): string {
  if (scan.files.length === 0) {
    const nullIds = scan.rowIds ? `, NULL::VARCHAR AS ${ROW_FILE}, NULL::BIGINT AS ${ROW_NUMBER}` : '';
    return `SELECT ${scan.schema.fields.map((f) => `CAST(NULL AS ${duckTypeOf(f.type)}) AS ${quoteIdent(f.name)}`).join(', ')}${nullIds} WHERE false`;
  }
  const deleting = withDeletions(scan.files);
  if (deleting.length === 0) return filesSql(scan, scan.files, scan.rowIds === true, sameColumns);
  if (deletions === undefined) throw new Error('tableScanSql: files have deleted rows but no deletions relation was given');
  const abs = (p: string): string => path.join(scan.location, ...p.split('/'));
  const ids = `${ROW_FILE}, ${ROW_NUMBER}`;
  const fileIds = deleting.map((f, i) => `(${quoteString(abs(f.path))}, ${i})`).join(', ');
  const kept = `SELECT __s.*${scan.rowIds ? '' : ` EXCLUDE (${ids})`} FROM (${filesSql(scan, deleting, true)}) AS __s`
    + ` JOIN (VALUES ${fileIds}) AS __f(path, id) ON __s.${ROW_FILE} = __f.path`
    + ` ANTI JOIN ${deletions} AS __d ON __d.file = __f.id AND __d.pos = __s.${ROW_NUMBER}`;
  const others = scan.files.filter((f) => !f.deletedRows?.length);
  return others.length === 0 ? kept : `${filesSql(scan, others, scan.rowIds === true)} UNION ALL ${kept}`;
}

/**
 * Appends the deleted rows of `files` (`withDeletions`) to a `(file INTEGER, pos BIGINT)` table
 * through `appender` — `file` the index in `files`, `pos` the 0-based row — then flushes and
 * closes the appender.
 */
export function appendDeletedRows(appender: DuckDBAppender, files: TableScan['files']): void {
  try {
    for (let i = 0; i < files.length; i++) {
      const rows = files[i]!.deletedRows!;
      for (let start = 0; start < rows.length; start += CHUNK_ROWS) {
        const n = Math.min(CHUNK_ROWS, rows.length - start);
        const { BIGINT, DuckDBDataChunk, INTEGER } = duckdb();
        const chunk = DuckDBDataChunk.create([INTEGER, BIGINT], n);
        chunk.setColumnValues(0, new Array<number>(n).fill(i));
        chunk.setColumnValues(1, Array.from({ length: n }, (_, k) => BigInt(rows[start + k]!)));
        appender.appendDataChunk(chunk);
      }
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

/** The files of a scan that have deleted rows, in order: the `file` ids of `tableScanSql`'s deletions relation. */
export function withDeletions(files: TableScan['files']): TableScan['files'] {
  return files.filter((f) => f.deletedRows !== undefined && f.deletedRows.length > 0);
}

/**
 * SQL reading `files` (not empty) of a scan, with `ROW_FILE` and `ROW_NUMBER` when `rowIds`.
 * `sameColumns`: every file is known to hold exactly the scan's data columns, so their schemas
 * need no unifying.
 */
function filesSql(scan: TableScan, files: TableScan['files'], rowIds: boolean, sameColumns = false): string {
  const fields = scan.schema.fields;
  const mapping = scan.columnMapping === true;
  const cast = (name: string, expr: string): string => {
    const f = fieldOf(scan.schema, name)!;
    const value = expr === quoteIdent(name) ? logicalValue(f.type, quoteIdent(physicalName(f, mapping)), mapping) : expr;
    return `CAST(${value} AS ${duckTypeOf(f.type)}) AS ${quoteIdent(name)}`;
  };
  const ids = rowIds ? `, ${ROW_FILE}, file_row_number AS ${ROW_NUMBER}` : '';
  const idOpts = rowIds ? `, filename = '${ROW_FILE}', file_row_number = true` : '';
  const abs = (p: string): string => path.join(scan.location, ...p.split('/'));
  const parts = scan.partitionColumns;
  const hive = parts.length > 0 && files.every((f) => isHivePath(f.path, parts, f.partitionValues));
  const list = (files: TableScan['files']): string => `[${files.map((f) => quoteString(literalPath(abs(f.path)))).join(', ')}]`;
  // Files written before a column was added lack it: an empty row set naming every data column,
  // unioned by name with the files, makes such columns NULL instead of unknown.
  const template = `SELECT ${fields.filter((f) => !parts.includes(f.name)).map((f) => `NULL AS ${quoteIdent(physicalName(f, mapping))}`).join(', ') || 'NULL AS __ingot_none'} WHERE false`;
  const read = (files: TableScan['files'], opts: string): string => sameColumns
    ? `(SELECT * FROM read_parquet(${list(files)}${opts}${idOpts}))`
    : `(${template} UNION ALL BY NAME SELECT * FROM read_parquet(${list(files)}, union_by_name = true${opts}${idOpts}))`;
  if (parts.length === 0 || hive) {
    const hiveTypes = parts.map((c) => `${quoteString(c)}: ${quoteString(duckTypeOf(fieldOf(scan.schema, c)!.type))}`).join(', ');
    const opts = hive ? `, hive_partitioning = true, hive_types = {${hiveTypes}}` : ', hive_partitioning = false';
    return `SELECT ${fields.map((f) => cast(f.name, quoteIdent(f.name))).join(', ')}${ids} FROM ${read(files, opts)}`;
  }
  const groups = new Map<string, TableScan['files']>();
  for (const f of files) {
    const key = JSON.stringify(parts.map((c) => f.partitionValues[c] ?? null));
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  const selects = [...groups.values()].map((files) => {
    const pv = files[0]!.partitionValues;
    const cols = fields.map((f) => {
      if (!parts.includes(f.name)) return cast(f.name, quoteIdent(f.name));
      return cast(f.name, partitionLiteral(f.type, pv[f.name]));
    });
    return `SELECT ${cols.join(', ')}${ids} FROM ${read(files, ', hive_partitioning = false')}`;
  });
  return selects.join(' UNION ALL ');
}

/** An expression giving `expr` (a file column) its logical shape: nested fields renamed from physical names. */
function logicalValue(type: DataType, expr: string, mapping: boolean, depth = 0): string {
  if (!mapping || !hasStruct(type) || typeof type === 'string') return expr;
  const v = `__v${depth}`;
  switch (type.type) {
    case 'struct': {
      const parts = type.fields.map((f) => `${quoteIdent(f.name)} := ${logicalValue(f.type, `${expr}.${quoteIdent(physicalName(f, true))}`, true, depth + 1)}`);
      return `CASE WHEN ${expr} IS NULL THEN NULL ELSE struct_pack(${parts.join(', ')}) END`;
    }
    case 'array':
      return `list_transform(${expr}, ${v} -> ${logicalValue(type.elementType, v, true, depth + 1)})`;
    case 'map':
      return `CASE WHEN ${expr} IS NULL THEN NULL ELSE map_from_entries(list_transform(map_entries(${expr}), ${v} -> struct_pack(key := ${logicalValue(type.keyType, `${v}.key`, true, depth + 1)}, value := ${logicalValue(type.valueType, `${v}.value`, true, depth + 1)}))) END`;
  }
}

function hasStruct(type: DataType): boolean {
  if (typeof type === 'string') return false;
  if (type.type === 'struct') return true;
  if (type.type === 'array') return hasStruct(type.elementType);
  return hasStruct(type.keyType) || hasStruct(type.valueType);
}

/**
 * A SQL literal of the serialized partition value `v` of a column of type `type`
 * (PROTOCOL.md, "Partition Value Serialization"): NULL for a missing or null value (and an
 * empty one, except for string and binary columns, as `partitionMatches` reads them); a binary
 * value is the UTF-8 bytes of its string, as delta-rs and Spark read it (DuckDB's VARCHAR → BLOB
 * cast would read `\xHH` escapes and refuse bytes outside ASCII); other types are the string,
 * cast by the caller.
 */
function partitionLiteral(type: DataType, v: string | null | undefined): string {
  // an empty value is NULL, except for strings and binary (as delta-rs reads them)
  if (v === null || v === undefined || (v === '' && type !== 'string' && type !== 'binary')) return 'NULL';
  if (type === 'binary') return `from_hex(${quoteString(Buffer.from(v, 'utf8').toString('hex'))})`;
  return quoteString(v);
}

function isHivePath(p: string, parts: string[], values: Record<string, string | null>): boolean {
  const dirs = p.split('/').slice(0, -1);
  if (dirs.length !== parts.length) return false;
  return parts.every((c, i) => {
    const v = values[c];
    return v !== null && v !== undefined && v !== '' && HIVE_SAFE.test(v) && dirs[i] === `${c}=${v}`;
  });
}

/**
 * SQL reading raw files, with each file's literal `values` added as columns. DuckDB's hive
 * partitioning is off: `key=value` folders become columns only through `values`, never twice.
 */
export function fileScanSql(scan: FileScan): string {
  const files = scan.files;
  if (files.length === 0) throw new IngotError('INPUT_MISSING', 'no files to read');
  // each file by its exact path: DuckDB would expand `*`, `?` and `[` in a file's name
  const list = `[${files.map((f) => quoteString(literalPath(f.path))).join(', ')}]`;
  const FILE_COL = '__ingot_file';
  const typed = (cols: Record<string, string>): string => `{${Object.entries(cols).map(([k, t]) => `${quoteString(k)}: ${quoteString(t)}`).join(', ')}}`;
  let reader: string;
  switch (scan.format) {
    case 'csv':
    case 'tsv': {
      const delim = scan.format === 'tsv' ? '\\t' : ',';
      const cols = scan.columns ? `, columns = ${typed(scan.columns)}, auto_detect = false, quote = '"', escape = '"'` : '';
      reader = `read_csv(${list}, header = true, delim = '${delim}'${cols}, filename = '${FILE_COL}', hive_partitioning = false)`;
      break;
    }
    case 'json':
    case 'ndjson': {
      const fmt = scan.format === 'ndjson' ? 'newline_delimited' : 'auto';
      // without declared columns, files that bring different keys (a field added on some day) are read by the union of their keys
      const cols = scan.columns ? `, columns = ${typed(scan.columns)}` : ', union_by_name = true';
      reader = `read_json(${list}, format = '${fmt}'${cols}, filename = '${FILE_COL}', hive_partitioning = false)`;
      break;
    }
    case 'parquet':
      reader = `(SELECT ${scan.columns ? Object.entries(scan.columns).map(([c, t]) => `CAST(${quoteIdent(c)} AS ${t}) AS ${quoteIdent(c)}`).join(', ') + `, ${FILE_COL}` : '*'} FROM read_parquet(${list}, union_by_name = true, filename = '${FILE_COL}', hive_partitioning = false))`;
      break;
  }
  const valueCols = Object.keys(files[0]!.values);
  const typeOf = (c: string): string => scan.valueTypes?.[c] ?? 'VARCHAR';
  if (files.length === 1) {
    const lits = valueCols.map((c) => `CAST(${quoteString(files[0]!.values[c]!)} AS ${typeOf(c)}) AS ${quoteIdent(c)}`);
    return `SELECT * EXCLUDE (${FILE_COL})${lits.length ? ', ' + lits.join(', ') : ''} FROM ${reader}`;
  }
  const rows = files.map((f) => `(${[quoteString(f.path), ...valueCols.map((c) => quoteString(f.values[c]!))].join(', ')})`).join(', ');
  const lits = valueCols.map((c) => `CAST(__f.${quoteIdent(c)} AS ${typeOf(c)}) AS ${quoteIdent(c)}`);
  return `SELECT __r.* EXCLUDE (${FILE_COL})${lits.length ? ', ' + lits.join(', ') : ''} FROM ${reader} AS __r JOIN (VALUES ${rows}) AS __f(${[FILE_COL, ...valueCols].map(quoteIdent).join(', ')}) ON __r.${FILE_COL} = __f.${FILE_COL}`;
}
