import { promises as fs, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  BIGINT, BOOLEAN, DATE, DOUBLE, DuckDBArrayValue, DuckDBBlobValue, DuckDBDateValue, DuckDBInstance, DuckDBTimestampTZValue, DuckDBListValue, DuckDBMapValue, DuckDBStructValue, DuckDBTypeId, JsonDuckDBValueConverter, TIMESTAMP, VARCHAR, dateValue, timestampValue,
  type DuckDBConnection, type DuckDBDataChunk, type DuckDBPreparedStatement, type DuckDBType, type DuckDBValue, type DuckDBVector,
} from '@duckdb/node-api';
import { IngotError, messageOf } from '../../errors.js';
import { quoteIdent, quoteString, ROW_FILE, ROW_NUMBER, type TableScan } from '../engine.js';
import type {
  AttachOptions, Cell, ColumnInfo, LakeReader, LakeReaderSettings, PositionalParam, QueryOptions, QueryParam, QueryResult, ReaderDialect,
  RowStream, StatementFacts, StatementShape,
} from '../reader.js';
import { appendDeletedRows, tableScanSql, withDeletions } from './engine.js';
import { duckTypeOf } from './dialect.js';
import { keyedStatement } from './keyed.js';

/** The schema of the reader's own relations: pinned snapshots, memory copies, deletion-vector tables. */
const INTERNAL = '__ingot';
/** Resources of a replaced snapshot (memory copy, deletion table) are dropped this long after, ms: queries still reading them finish first. */
const RELEASE_MS = 60_000;
/** Functions that show the engine's configuration or catalog (settings, databases, temp files, environment), refused in statements. */
// duckdb_columns() (names and types of columns: what a catalog shows) stays: the PostgreSQL catalog is built on it
const INTERNAL_FUNCTION = /^(duckdb_(?!columns$)\w+|pragma_\w+|current_setting|getenv|which_secret|sqlite_\w+)$/i;
/** Unqualified relations of the engine's catalog (its views over those functions), refused in statements. */
const INTERNAL_RELATION = /^(duckdb_\w+|pragma_\w+|sqlite_\w+|pg_\w+)$/i;
/** Prepared statements kept per connection; the least recently used is destroyed first. */
const PREPARED_MAX = 256;
/** Statement texts remembered as checked (`select` passed: a text's check never changes); the least recently used is forgotten first. */
const CHECKED_MAX = 1024;
/** Columns of one table given a lookup index at most (the first ones statements looked up by). */
const LOOKUPS_MAX = 4;

/** DuckDB's spelling of the SQL serve writes. */
const DIALECT: ReaderDialect = { quoteIdent, quoteString, typeName: duckTypeOf };

/** Tables (quoted SQL names) that hold an attached snapshot's data apart from its files. */
interface Held {
  /** Deleted rows of the snapshot's files (`tableScanSql`'s deletions relation). */
  deletions?: string;
  /** In-memory copy of the snapshot. */
  memory?: string;
  /** Columns of the in-memory copy with a lookup index (built or being built). */
  indexed?: Set<string>;
  /**
   * For an in-memory copy: each data file it holds, by path (relative to the table root), with
   * the file's id in the copy's `FILE_ID` column and how many of its rows the copy leaves out
   * (its deletion vector's); and the shape of the snapshot it was made of (`shapeOf`). With them
   * `attach` applies a later snapshot's changes to the copy rather than copying the table again.
   */
  files?: Map<string, { id: number; deleted: number }>;
  shape?: string;
}

/** In-place updates of in-memory copies between two checkpoints, which reclaim the memory of the rows they deleted. */
const CHECKPOINT_EVERY = 10;
/** Hidden columns of an in-memory copy: each row's data file (an id, see `Held.files`) and its position in that file. */
const FILE_ID = '__ingot_fid';

/** A statement prepared on a pooled connection, and the names of its parameters. */
interface Prepared {
  stmt: DuckDBPreparedStatement;
  names: Set<string>;
}

/** A query waiting for a pooled connection. */
interface Waiter {
  adHoc: boolean;
  resolve(conn: DuckDBConnection): void;
  reject(err: Error): void;
  timer?: NodeJS.Timeout;
}

/** A statement tree of `json_serialize_sql`. */
interface Serialized {
  error: boolean;
  error_message?: string;
  /** 0-based offset of a syntax error, as text. */
  position?: string;
  statements?: { node?: { modifiers?: unknown } }[];
}

/**
 * The serving reader on DuckDB (`LakeReader`): one in-process instance, locked down (external
 * access off except `allowedDirectories`, extensions neither installed nor loaded, configuration
 * locked, sessions in UTC, a private spill directory), a pool of connections with a
 * prepared-statement cache each, and an admin connection that alone runs DDL (views, copies,
 * deletion tables), one statement at a time. Attached tables are views `layer.table` (over an
 * in-memory copy or the Parquet files, deleted rows anti-joined); pinned snapshots are views
 * under the schema `__ingot`. Statements are parsed by DuckDB's own serializer
 * (`json_serialize_sql`), which refuses anything but SELECT.
 */
export class DuckDBLakeReader implements LakeReader {
  readonly dialect = DIALECT;
  /** What the snapshot attached as each `layer.table` holds. */
  private readonly attached = new Map<string, Held>();
  /** What each pinned relation holds. */
  private readonly pins = new Map<string, Held>();
  private readonly schemas = new Set<string>();
  private readonly idle: DuckDBConnection[];
  /** Queries waiting for a connection, oldest first. */
  private readonly waiting: Waiter[] = [];
  /** Connections ad-hoc queries hold now, and the most they may hold. */
  private adHocBusy = 0;
  private readonly adHocMax: number;
  private readonly maxQueued: number;
  /** Parsing and printing statements (`json_serialize_sql`) runs here, one at a time, never waiting behind queries. */
  private parsing: Promise<unknown> = Promise.resolve();
  /**
   * Each pooled connection's prepared statements by SQL text, least recently used first. A
   * cached statement still reads the latest attached snapshot: replacing a view (`attach`)
   * changes the catalog, and DuckDB binds a prepared statement again when the catalog it read
   * changed since it was prepared.
   */
  private readonly prepared = new Map<DuckDBConnection, Map<string, Prepared>>();
  /** Texts that passed `select`, least recently used first (see `CHECKED_MAX`). */
  private readonly checked = new Set<string>();
  /**
   * Columns each attached table (`layer.table`) has been looked up by: compared for equality
   * with a parameter or a constant in a statement reading that table alone. Each in-memory copy
   * gets an index (DuckDB's ART) on them, so such a lookup reads the matching rows rather than
   * a whole row group of the copy (see `learnLookups`).
   */
  private readonly lookups = new Map<string, Set<string>>();
  private ddl: Promise<unknown> = Promise.resolve();
  /** Lookup index builds under way (see `index`). */
  private readonly indexing = new Set<Promise<void>>();
  /** Names of the engine's aggregate functions (lower case), read once (see `keyed`). */
  private aggregates?: Promise<Set<string>>;
  private counter = 0;
  /** In-place updates of in-memory copies so far (see `update`). */
  private updates = 0;
  private closed = false;

  private constructor(
    private readonly instance: DuckDBInstance,
    /** Runs DDL (views, copies, deletion tables); never user SQL. */
    private readonly admin: DuckDBConnection,
    private readonly pool: DuckDBConnection[],
    private readonly spill: string,
    /** Parses and prints statements; never runs a query. */
    private readonly parser: DuckDBConnection,
    settings: LakeReaderSettings,
  ) {
    this.idle = [...pool];
    this.adHocMax = Math.max(1, pool.length - (settings.reservedConnections ?? 1));
    this.maxQueued = settings.maxQueued ?? 64;
  }

  /** Opens the reader (see the class comment). Errors: those of DuckDB's instance creation. */
  static async open(settings: LakeReaderSettings): Promise<DuckDBLakeReader> {
    const config: Record<string, string> = {};
    if (settings.threads) config['threads'] = String(settings.threads);
    if (settings.memoryLimit) config['memory_limit'] = settings.memoryLimit;
    // DuckDB may always read its temp directory (default `.tmp` in the working directory): a private one
    const spill = await fs.mkdtemp(path.join(os.tmpdir(), 'ingot-serve-'));
    config['temp_directory'] = spill;
    const instance = await DuckDBInstance.create(':memory:', config);
    const admin = await instance.connect();
    // allowed_directories are prefixes: a trailing separator keeps `/lake` from allowing `/lake2`
    const dirs = settings.allowedDirectories.map((d) => d.endsWith(path.sep) ? d : d + path.sep);
    await admin.run("SET GLOBAL TimeZone = 'UTC'");
    await admin.run(`SET allowed_directories = [${dirs.map(quoteString).join(', ')}]`);
    await admin.run('SET enable_external_access = false');
    await admin.run('SET autoinstall_known_extensions = false');
    await admin.run('SET autoload_known_extensions = false');
    await admin.run('SET lock_configuration = true');
    await admin.run(`CREATE SCHEMA ${INTERNAL}`);
    const pool: DuckDBConnection[] = [];
    for (let i = 0; i < (settings.connections ?? 4); i++) pool.push(await instance.connect());
    return new DuckDBLakeReader(instance, admin, pool, spill, await instance.connect(), settings);
  }

  updatable(name: string, scan: TableScan): boolean {
    return this.changesOf(this.attached.get(name), scan) !== undefined;
  }

  /**
   * What `scan` changes in the in-memory copy `held`: the ids of the files it no longer has, the
   * files it keeps whose deletion vectors grew, the files it adds. Undefined when the copy cannot
   * be updated in place: not an in-memory copy, another shape (schema, partitioning, location), a
   * file with fewer deleted rows than the copy left out (a restore), or more files added than
   * half the snapshot's (copying it whole costs about as much).
   */
  private changesOf(held: Held | undefined, scan: TableScan): { gone: number[]; grown: TableScan['files']; added: TableScan['files'] } | undefined {
    if (!held?.memory || !held.files || held.shape !== shapeOf(scan) || scan.files.length === 0) return undefined;
    const next = new Map(scan.files.map((f) => [f.path, f]));
    const gone: number[] = [];
    const grown: TableScan['files'] = [];
    for (const [p, h] of held.files) {
      const f = next.get(p);
      const deleted = f?.deletedRows?.length ?? 0;
      if (!f) gone.push(h.id);
      else if (deleted < h.deleted) return undefined;
      else if (deleted > h.deleted) grown.push(f);
    }
    const added = scan.files.filter((f) => !held.files!.has(f.path));
    if (added.length > Math.max(4, scan.files.length / 2)) return undefined;
    return { gone, grown, added };
  }

  /**
   * Applies the changes of `scan` (see `changesOf`) to the in-memory copy `held`, read by view
   * `relation`, in one transaction: rows of removed files deleted, rows newly deleted by a file's
   * deletion vector deleted, rows of added files inserted. Queries see the copy before or after,
   * never between.
   */
  private async update(relation: string, held: Held, scan: TableScan, changes: { gone: number[]; grown: TableScan['files']; added: TableScan['files'] }): Promise<void> {
    const table = held.memory!;
    const statements: string[] = [];
    if (changes.gone.length) statements.push(`DELETE FROM ${table} WHERE ${quoteIdent(FILE_ID)} IN (${changes.gone.join(', ')})`);
    const grownRows = await this.loadDeletions({ ...scan, files: changes.grown });
    const addedRows = await this.loadDeletions({ ...scan, files: changes.added });
    const ids = new Map<string, number>();
    for (const f of [...changes.grown, ...changes.added]) ids.set(f.path, held.files!.get(f.path)?.id ?? ++this.counter);
    try {
      if (grownRows) {
        // the rows of each grown deletion vector (deleting a row already left out deletes nothing)
        const map = withDeletions(changes.grown).map((f, i) => `(${i}, ${ids.get(f.path)!})`).join(', ');
        statements.push(`DELETE FROM ${table} USING (SELECT __m.id, __d.pos FROM ${grownRows} AS __d JOIN (VALUES ${map}) AS __m(i, id) ON __d.file = __m.i) AS __x`
          + ` WHERE ${table}.${quoteIdent(FILE_ID)} = __x.id AND ${table}.${ROW_NUMBER} = __x.pos`);
      }
      if (changes.added.length) statements.push(`INSERT INTO ${table} BY NAME ${this.copySql({ ...scan, files: changes.added }, addedRows, ids)}`);
      // the view made again in the same transaction: statements prepared before bind again, since
      // their plans were made with the copy's earlier column statistics (sort keys sized by them
      // give wrong rows for the new data otherwise)
      statements.push(`CREATE OR REPLACE VIEW ${relation} AS ${copyView(table)}`);
      await this.transaction(statements);
    } finally {
      if (grownRows) await this.exec(`DROP TABLE IF EXISTS ${grownRows}`);
      if (addedRows) await this.exec(`DROP TABLE IF EXISTS ${addedRows}`);
    }
    // the rows deleted stay in the copy's row groups until a checkpoint vacuums them (only the
    // row groups with enough of them: cheap otherwise); one failing while a query runs is retried later
    if (++this.updates % CHECKPOINT_EVERY === 0) void this.exec('CHECKPOINT').catch(() => {});
    for (const id of changes.gone) for (const [p, h] of held.files!) if (h.id === id) held.files!.delete(p);
    for (const f of [...changes.grown, ...changes.added]) held.files!.set(f.path, { id: ids.get(f.path)!, deleted: f.deletedRows?.length ?? 0 });
  }

  /**
   * SELECT of the rows of `scan` (files not empty) as an in-memory copy holds them: the table's
   * columns, `ROW_NUMBER` and `FILE_ID` (from `ids`, by file path).
   */
  private copySql(scan: TableScan, deletions: string | undefined, ids: Map<string, number>): string {
    const abs = (p: string): string => path.join(scan.location, ...p.split('/'));
    const values = scan.files.map((f) => `(${quoteString(abs(f.path))}, ${ids.get(f.path)!})`).join(', ');
    return `SELECT __s.* EXCLUDE (${ROW_FILE}), __f.id AS ${quoteIdent(FILE_ID)} FROM (${tableScanSql({ ...scan, rowIds: true }, deletions)}) AS __s`
      + ` JOIN (VALUES ${values}) AS __f(path, id) ON __s.${ROW_FILE} = __f.path`;
  }

  /** Runs `statements` on the admin connection in one transaction (rolled back if one fails), nothing else between them. */
  private transaction(statements: string[]): Promise<void> {
    const run = this.ddl.then(async () => {
      await this.admin.run('BEGIN TRANSACTION');
      try {
        for (const sql of statements) await this.admin.run(sql);
        await this.admin.run('COMMIT');
      } catch (err) {
        await this.admin.run('ROLLBACK').catch(() => {});
        throw err;
      }
    });
    this.ddl = run.catch(() => {});
    return run.then(() => undefined, (err: unknown) => { throw new IngotError('SQL_ERROR', messageOf(err), {}, { cause: err }); });
  }

  async attach(name: string, scan: TableScan, options: AttachOptions = {}): Promise<void> {
    const [layer, table] = splitName(name);
    const relation = `${quoteIdent(layer)}.${quoteIdent(table)}`;
    const held: Held = {};
    if (options.memory) {
      // a copy that the snapshot changes little is updated in place (the view reads it already)
      const current = this.attached.get(name);
      const changes = this.changesOf(current, scan);
      if (changes) {
        try {
          await this.update(relation, current!, scan, changes);
          return;
        } catch {
          // copied whole below
        }
      }
      // else a copy per version; the view swaps to the new copy atomically
      held.memory = `${INTERNAL}.${quoteIdent(`${name}@${scan.version ?? ''}#memory${++this.counter}`)}`;
      const deletions = await this.loadDeletions(scan);
      try {
        const order = options.orderBy?.length ? ` ORDER BY ${options.orderBy.map(quoteIdent).join(', ')}` : '';
        if (scan.files.length === 0) {
          await this.exec(`CREATE OR REPLACE TABLE ${held.memory} AS SELECT * FROM (${tableScanSql(scan, deletions)})`);
        } else {
          // each row keeps its file and position: later snapshots' changes are applied to the copy
          const ids = new Map(scan.files.map((f) => [f.path, ++this.counter]));
          await this.exec(`CREATE OR REPLACE TABLE ${held.memory} AS ${this.copySql(scan, deletions, ids)}${order}`);
          held.files = new Map(scan.files.map((f) => [f.path, { id: ids.get(f.path)!, deleted: f.deletedRows?.length ?? 0 }]));
          held.shape = shapeOf(scan);
        }
      } finally {
        if (deletions) await this.exec(`DROP TABLE IF EXISTS ${deletions}`);
      }
      // the columns looked up so far are indexed before the view swaps to the new copy
      held.indexed = new Set();
      for (const column of this.lookups.get(name) ?? []) await this.index(held, column);
      await this.ensureSchema(layer);
      await this.exec(`CREATE OR REPLACE VIEW ${relation} AS ${held.files ? copyView(held.memory) : `SELECT * FROM ${held.memory}`}`);
    } else {
      const deletions = await this.createView(relation, scan, layer);
      if (deletions) held.deletions = deletions;
    }
    const old = this.attached.get(name);
    this.attached.set(name, held);
    if (old) this.release(old);
  }

  async pin(key: string, scan: TableScan): Promise<string> {
    const relation = `${INTERNAL}.${quoteIdent(key)}`;
    const old = this.pins.get(key);
    const deletions = await this.createView(relation, scan, INTERNAL);
    this.pins.set(key, deletions ? { deletions } : {});
    if (old) this.release(old);
    return relation;
  }

  async unpin(key: string): Promise<void> {
    const held = this.pins.get(key);
    if (!held) return;
    this.pins.delete(key);
    await this.exec(`DROP VIEW IF EXISTS ${INTERNAL}.${quoteIdent(key)}`);
    this.release(held);
  }

  /** Creates (or replaces) view `relation` over `scan` in `schema`; returns the deletion-vector table it reads, if any. */
  private async createView(relation: string, scan: TableScan, schema: string): Promise<string | undefined> {
    const deletions = await this.loadDeletions(scan);
    await this.ensureSchema(schema);
    await this.exec(`CREATE OR REPLACE VIEW ${relation} AS ${tableScanSql(scan, deletions)}`);
    return deletions;
  }

  /** A new table of the deleted rows of `scan`'s files (see `tableScanSql`); undefined when none has deleted rows. */
  private async loadDeletions(scan: TableScan): Promise<string | undefined> {
    const deleting = withDeletions(scan.files);
    if (deleting.length === 0) return undefined;
    const table = `__deleted_${++this.counter}`;
    const deletions = `${INTERNAL}.${quoteIdent(table)}`;
    await this.exec(`CREATE TABLE ${deletions} (file INTEGER, pos BIGINT)`);
    appendDeletedRows(await this.admin.createAppender(table, INTERNAL), deleting);
    return deletions;
  }

  /**
   * Builds a lookup index on `column` of the in-memory copy `held` (on the admin connection, after
   * the DDL before it), once. A column that cannot be indexed (a nested type, gone from the
   * schema) is left without: queries read it as before.
   */
  private async index(held: Held, column: string): Promise<void> {
    if (!held.memory || !held.indexed || held.indexed.has(column)) return;
    held.indexed.add(column);
    const index = quoteIdent(`__lookup_${++this.counter}`);
    const building = this.exec(`CREATE INDEX ${index} ON ${held.memory} (${quoteIdent(column)})`).catch(() => { held.indexed!.delete(column); });
    this.indexing.add(building);
    await building;
    this.indexing.delete(building);
  }

  /**
   * The columns of table `name`'s attached in-memory copy that have a lookup index, once the
   * indexes asked for so far are built (none for a table read from its files). For diagnostics
   * and tests.
   */
  async lookupIndexes(name: string): Promise<string[]> {
    await this.ddl;
    // a failed build forgets its column just after the DDL queue moved on
    await Promise.all(this.indexing);
    return [...(this.attached.get(name)?.indexed ?? [])].sort();
  }

  /**
   * Remembers the columns a statement looks its table up by (`column = $n` or `column =
   * constant`, in a statement reading one attached table) and indexes the table's in-memory
   * copy on each new one, in the background (at most `LOOKUPS_MAX` columns a table).
   */
  private learnLookups(tree: Serialized): void {
    const tables = tablesOf(tree);
    if (tables.length !== 1) return;
    const name = tables[0]!;
    const held = this.attached.get(name);
    if (!held) return;
    const known = this.lookups.get(name) ?? new Set<string>();
    for (const column of equalityColumns(tree, true)) {
      if (known.has(column) || known.size >= LOOKUPS_MAX) continue;
      known.add(column);
      this.lookups.set(name, known);
      void this.index(held, column);
    }
  }

  /** Drops what a replaced snapshot held, `RELEASE_MS` later. */
  private release(held: Held): void {
    if (!held.deletions && !held.memory) return;
    setTimeout(() => {
      if (this.closed) return;
      if (held.memory) void this.exec(`DROP TABLE IF EXISTS ${held.memory}`).catch(() => {});
      if (held.deletions) void this.exec(`DROP TABLE IF EXISTS ${held.deletions}`).catch(() => {});
    }, RELEASE_MS).unref();
  }

  private async ensureSchema(schema: string): Promise<void> {
    if (this.schemas.has(schema)) return;
    await this.exec(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    this.schemas.add(schema);
  }

  /** Runs DDL on the admin connection, one statement at a time. */
  private exec(sql: string): Promise<void> {
    const run = this.ddl.then(() => this.admin.run(sql));
    this.ddl = run.catch(() => {});
    return run.then(() => undefined, (err: unknown) => { throw new IngotError('SQL_ERROR', messageOf(err), {}, { cause: err }); });
  }

  /** The statement tree of `sql` (`json_serialize_sql`), positions zeroed: `query_location` can be 2^64-1, beyond a double, and printing SQL back does not need it. */
  private async serialize(sql: string): Promise<Serialized> {
    const j = await this.parse('SELECT json_serialize_sql($1::VARCHAR)', sql);
    return JSON.parse(j.replace(/"query_location":\d+/g, '"query_location":0')) as Serialized;
  }

  /** The tree of `sql`, checked to be exactly one SELECT. Errors: SQL_NOT_READ_ONLY, SQL_ERROR. */
  private async select(sql: string): Promise<Serialized> {
    const parsed = await this.serialize(sql);
    if (parsed.error) {
      const msg = parsed.error_message ?? 'cannot parse';
      if (/only SELECT statements can be serialized/i.test(msg)) throw new IngotError('SQL_NOT_READ_ONLY', 'only a single SELECT statement is allowed here (no COPY, ATTACH, INSTALL, LOAD, SET, PRAGMA, CREATE, INSERT, UPDATE, DELETE)');
      const position = parsed.position === undefined ? NaN : Number(parsed.position);
      throw new IngotError('SQL_ERROR', msg, Number.isInteger(position) ? { position } : {});
    }
    if ((parsed.statements ?? []).length !== 1) throw new IngotError('SQL_NOT_READ_ONLY', 'exactly one SELECT statement is allowed here');
    // the engine's own configuration and catalog (settings, databases, temp files, view texts) hold server paths
    walk(parsed.statements, (o) => {
      const fn = typeof o['function_name'] === 'string' ? o['function_name'] : undefined;
      const table = o['type'] === 'BASE_TABLE' && typeof o['table_name'] === 'string' ? o['table_name'] : undefined;
      if ((fn !== undefined && INTERNAL_FUNCTION.test(fn)) || (table !== undefined && o['schema_name'] === '' && INTERNAL_RELATION.test(table))) {
        throw new IngotError('SQL_NOT_READ_ONLY', `${fn ?? table} shows the server's own configuration and is not available here; only the lake's tables can be read`);
      }
    });
    return parsed;
  }

  /** Checks `sql` as `select` does, once per text (remembered, see `CHECKED_MAX`). Errors: as `select`. */
  private async check(sql: string): Promise<void> {
    if (this.checked.delete(sql)) {
      this.checked.add(sql);
      return;
    }
    this.learnLookups(await this.select(sql));
    if (this.checked.size >= CHECKED_MAX) this.checked.delete(this.checked.values().next().value!);
    this.checked.add(sql);
  }

  /**
   * The statement `text` prepared on `conn`: the cached one, or (none cached, or `fresh`: its
   * result columns as of now are needed) a new one, cached in place of the old. Errors: DuckDB's.
   */
  private async preparedOn(conn: DuckDBConnection, text: string, fresh = false): Promise<Prepared> {
    let cache = this.prepared.get(conn);
    if (!cache) this.prepared.set(conn, (cache = new Map()));
    const hit = cache.get(text);
    if (hit && !fresh) {
      cache.delete(text);
      cache.set(text, hit);
      return hit;
    }
    const stmt = await conn.prepare(text);
    if (hit) {
      cache.delete(text);
      hit.stmt.destroySync();
    }
    if (cache.size >= PREPARED_MAX) {
      const [first] = cache.keys();
      cache.get(first!)?.stmt.destroySync();
      cache.delete(first!);
    }
    const entry = { stmt, names: new Set(Array.from({ length: stmt.parameterCount }, (_, i) => stmt.parameterName(i + 1))) };
    cache.set(text, entry);
    return entry;
  }

  async references(sql: string): Promise<string[]> {
    return tablesOf(await this.select(sql));
  }

  async analyze(sql: string): Promise<StatementFacts> {
    const tree = await this.select(sql);
    const limited = /"LIMIT_MODIFIER"|"LIMIT_PERCENT_MODIFIER"/.test(JSON.stringify(tree.statements![0]?.node?.modifiers ?? []));
    return { tables: tablesOf(tree), limited, equalities: equalityColumns(tree, false) };
  }

  async keyed(sql: string, params: string[]): Promise<{ sql: string; columns: Record<string, string> } | undefined> {
    const tree = await this.select(sql);
    this.aggregates ??= this.parse("SELECT string_agg(DISTINCT lower(function_name), ',') FROM duckdb_functions() WHERE function_type = 'aggregate' AND $1::VARCHAR IS NOT NULL", '')
      .then((names) => new Set(names.split(',')));
    const columns = keyedStatement(tree.statements, params, await this.aggregates);
    return columns ? { sql: await this.parse('SELECT json_deserialize_sql($1::JSON)', JSON.stringify(tree)), columns } : undefined;
  }

  async retarget(sql: string, keys: Record<string, string>): Promise<string> {
    const tree = await this.serialize(sql);
    if (tree.error) throw new IngotError('SQL_ERROR', 'cannot parse the query');
    walk(tree.statements, (o) => {
      const name = baseTable(o);
      const key = name === undefined ? undefined : keys[name];
      if (key === undefined) return;
      o['schema_name'] = INTERNAL;
      o['table_name'] = key;
    });
    return this.parse('SELECT json_deserialize_sql($1::JSON)', JSON.stringify(tree));
  }

  async query(sql: string, params: Record<string, QueryParam> = {}, options: QueryOptions = {}): Promise<QueryResult> {
    const text = options.maxRows === undefined ? sql : `SELECT * FROM (\n${sql}\n) LIMIT ${options.maxRows + 1}`;
    const started = Date.now();
    const adHoc = options.adHoc === true;
    // the time limit counts from here: time spent waiting for a connection is part of it
    const conn = await this.acquire(adHoc, options.timeoutMs === undefined ? undefined : started + options.timeoutMs, options.timeoutMs);
    const waited = Date.now() - started;
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    let streaming = false;
    try {
      const { stmt, names } = await this.preparedOn(conn, text);
      if (options.timeoutMs) {
        const left = started + options.timeoutMs - Date.now();
        if (left <= 0) {
          timedOut = true;
          throw new IngotError('SQL_TIMEOUT', `the query waited its whole ${options.timeoutMs} ms time limit for a free connection (the server is busy) and did not run`);
        }
        // an interrupt that comes before the query starts is lost: interrupted again until it ends
        timer = setTimeout(() => {
          timedOut = true;
          conn.interrupt();
          timer = setInterval(() => conn.interrupt(), 100);
        }, left);
      }
      stmt.clearBindings();
      // bind only the parameters the statement has (binding an unknown name is an error)
      const values: Record<string, DuckDBValue> = {};
      const types: Record<string, DuckDBType> = {};
      let bound = 0;
      for (const [name, p] of Object.entries(params)) {
        if (!names.has(name)) continue;
        [values[name], types[name]] = duckValue(p);
        bound++;
      }
      if (bound) stmt.bind(values, types);
      // streamed chunk by chunk: reading stops at maxRows or maxBytes, never holding more than that and one chunk
      const result = await stmt.stream();
      streaming = true;
      const columns = result.columnNames();
      const keys = result.deduplicatedColumnNames();
      const columnTypes = result.columnTypes();
      // 64-bit integers arrive as strings: numbers when they fit a double exactly
      const big = new Set(columnTypes.map((t, i) => (t.typeId === DuckDBTypeId.BIGINT || t.typeId === DuckDBTypeId.HUGEINT || t.typeId === DuckDBTypeId.UBIGINT ? i : -1)).filter((i) => i >= 0));
      const rows: Record<string, unknown>[] = [];
      const maxRows = options.maxRows ?? Infinity;
      let bytes = 2;
      let truncated = false;
      read: for (;;) {
        const chunk = await result.fetchChunk();
        if (!chunk || chunk.rowCount === 0) break;
        for (let r = 0; r < chunk.rowCount; r++) {
          if (rows.length >= maxRows) {
            truncated = true;
            break read;
          }
          const row: Record<string, unknown> = {};
          chunk.visitRowValues(r, (value, _row, c, type) => {
            const v = JsonDuckDBValueConverter(value, type, JsonDuckDBValueConverter);
            row[keys[c]!] = big.has(c) && typeof v === 'string' && Number.isSafeInteger(Number(v)) ? Number(v) : v;
          });
          if (options.maxBytes !== undefined) {
            bytes += Buffer.byteLength(JSON.stringify(row)) + 1;
            if (bytes > options.maxBytes) {
              if (rows.length === 0) throw new IngotError('RESULT_TOO_LARGE', `the first row of the result alone is larger than the ${options.maxBytes} bytes a response may hold: select fewer or smaller columns`, {});
              truncated = true;
              break read;
            }
          }
          rows.push(row);
        }
      }
      streaming = truncated;
      return { columns: columns.map((name, i) => ({ name, type: columnTypes[i]!.toString() })), rows, truncated };
    } catch (err) {
      if (err instanceof IngotError) throw err;
      if (timedOut) throw new IngotError('SQL_TIMEOUT', `the query ran longer than its ${options.timeoutMs} ms time limit and was interrupted (${waited} ms of it waiting for a free connection)`, {}, { cause: err });
      // external access is off: reading a file outside the allowed directories, or anything the configuration locks
      if (/Permission Error|disabled by configuration/i.test(messageOf(err))) {
        throw new IngotError('SQL_NOT_READ_ONLY', `only the lake's tables can be read here: ${messageOf(err).split('\n')[0]}`, {}, { cause: err });
      }
      throw new IngotError('SQL_ERROR', messageOf(err), {}, { cause: err });
    } finally {
      if (timer) {
        clearTimeout(timer);
        clearInterval(timer);
      }
      // a result left unread holds its chunk: the next statement on the connection frees it now
      if (streaming) await conn.run('SELECT 1').catch(() => {});
      this.releaseConnection(conn, adHoc);
    }
  }

  async describe(sql: string): Promise<StatementShape> {
    await this.check(sql);
    const conn = await this.acquire(true);
    try {
      // prepared anew (a cached statement's columns are those of the snapshot it was prepared on) and kept for `stream`
      const { stmt } = await this.preparedOn(conn, sql, true);
      const parameters = Array.from({ length: stmt.parameterCount }, (_, i) => typeNameOr(() => stmt.parameterTypeId(i + 1) === DuckDBTypeId.INVALID ? undefined : stmt.parameterType(i + 1)));
      const columns = Array.from({ length: stmt.columnCount }, (_, i) => ({
        name: stmt.columnName(i),
        type: typeNameOr(() => stmt.columnTypeId(i) === DuckDBTypeId.INVALID ? undefined : stmt.columnType(i)),
      }));
      return { columns, parameters };
    } catch (err) {
      throw err instanceof IngotError ? err : new IngotError('SQL_ERROR', messageOf(err), {}, { cause: err });
    } finally {
      this.releaseConnection(conn, true);
    }
  }

  async stream(sql: string, params: PositionalParam[] = [], options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<RowStream> {
    await this.check(sql);
    if (options.signal?.aborted) throw new IngotError('QUERY_CANCELLED', 'the query was cancelled at the client\'s request');
    // a client's statement is ad hoc: it cannot take the connections kept for published reads, and its wait counts toward its time limit
    const conn = await this.acquire(true, options.timeoutMs ? Date.now() + options.timeoutMs : undefined, options.timeoutMs);
    let state: 'running' | 'timeout' | 'cancelled' | 'closed' = 'running';
    let timer: NodeJS.Timeout | undefined;
    const cancel = (): void => {
      if (state !== 'running') return;
      state = 'cancelled';
      conn.interrupt();
    };
    options.signal?.addEventListener('abort', cancel);
    /** The next chunk, asked for while the rows of the one before are sent (at most one ahead). */
    let ahead: Promise<DuckDBDataChunk | null> | undefined;
    const close = (): void => {
      if (state === 'closed') return;
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', cancel);
      state = 'closed';
      // a fetch under way still uses the connection: it is handed on once that fetch is over
      const pending = ahead;
      ahead = undefined;
      if (pending) void pending.then(() => this.releaseConnection(conn, true), () => this.releaseConnection(conn, true));
      else this.releaseConnection(conn, true);
    };
    const failure = (err: unknown): IngotError => {
      if (state === 'timeout') return new IngotError('SQL_TIMEOUT', `the query ran longer than ${options.timeoutMs} ms and was interrupted`, {}, { cause: err });
      if (state === 'cancelled') return new IngotError('QUERY_CANCELLED', 'the query was cancelled at the client\'s request', {}, { cause: err });
      if (err instanceof IngotError) return err;
      if (/Permission Error|disabled by configuration/i.test(messageOf(err))) {
        return new IngotError('SQL_NOT_READ_ONLY', `only the lake's tables can be read here: ${messageOf(err).split('\n')[0]}`, {}, { cause: err });
      }
      return new IngotError('SQL_ERROR', messageOf(err), {}, { cause: err });
    };
    try {
      if (options.timeoutMs) timer = setTimeout(() => { if (state === 'running') { state = 'timeout'; conn.interrupt(); } }, options.timeoutMs);
      const { stmt } = await this.preparedOn(conn, sql);
      if (params.length > stmt.parameterCount) throw new IngotError('SQL_ERROR', `the statement has ${stmt.parameterCount} parameter(s), ${params.length} given`);
      stmt.clearBindings();
      params.forEach((p, i) => bindPositional(stmt, i + 1, p));
      const result = await stmt.stream();
      const columns: ColumnInfo[] = result.columnNames().map((name, i) => ({ name, type: result.columnType(i).toString() }));
      const stream: RowStream = {
        columns,
        next: async () => {
          if (state === 'closed') return null;
          try {
            const fetching = ahead ?? result.fetchChunk();
            const chunk = await fetching;
            if (ahead === fetching) ahead = undefined;
            if (!chunk || chunk.rowCount === 0) {
              // an interrupted statement may end its stream early: that is an error, never a short result
              if (state === 'timeout' || state === 'cancelled') throw new Error('interrupted');
              close();
              return null;
            }
            const rows = rowsOf(chunk);
            // the engine reads the next chunk on its threads while these rows are encoded and sent
            if (state === 'running') {
              ahead = result.fetchChunk();
              ahead.catch(() => {}); // its error is thrown by the next call
            }
            return rows;
          } catch (err) {
            ahead = undefined;
            const e = failure(err);
            close();
            throw e;
          }
        },
        cancel,
        close,
      };
      return stream;
    } catch (err) {
      const e = failure(err);
      close();
      throw e;
    }
  }

  /**
   * A pooled connection for a query: an ad-hoc one only while fewer than `adHocMax` are held by
   * ad-hoc queries (the others are kept for published queries). Waits in line (FIFO, each lane
   * at most `maxQueued` waiting) until `deadline` (epoch ms). Errors: QUERY_QUEUE_FULL,
   * SQL_TIMEOUT, SQL_ERROR (closed).
   */
  private acquire(adHoc: boolean, deadline?: number, timeoutMs?: number): Promise<DuckDBConnection> {
    if (this.closed) return Promise.reject(new IngotError('SQL_ERROR', 'the lake reader is closed'));
    if (this.idle.length > 0 && (!adHoc || this.adHocBusy < this.adHocMax)) {
      if (adHoc) this.adHocBusy++;
      return Promise.resolve(this.idle.pop()!);
    }
    if (this.waiting.filter((w) => w.adHoc === adHoc).length >= this.maxQueued) {
      return Promise.reject(new IngotError('QUERY_QUEUE_FULL', `the server is busy: every connection ${adHoc ? 'open to ad-hoc SQL ' : ''}is taken and ${this.maxQueued} queries are waiting for one; try again shortly`));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { adHoc, resolve, reject };
      if (deadline !== undefined) {
        waiter.timer = setTimeout(() => {
          const i = this.waiting.indexOf(waiter);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(new IngotError('SQL_TIMEOUT', `the query waited its whole ${timeoutMs} ms time limit for a free connection (the server is busy) and did not run`));
        }, Math.max(0, deadline - Date.now()));
      }
      this.waiting.push(waiter);
    });
  }

  /** Hands `conn` to the oldest waiting query that may take it, or back to the idle list. */
  private releaseConnection(conn: DuckDBConnection, adHoc: boolean): void {
    if (adHoc) this.adHocBusy--;
    const i = this.waiting.findIndex((w) => !w.adHoc || this.adHocBusy < this.adHocMax);
    if (i < 0) {
      this.idle.push(conn);
      return;
    }
    const [next] = this.waiting.splice(i, 1);
    if (next!.timer) clearTimeout(next!.timer);
    if (next!.adHoc) this.adHocBusy++;
    next!.resolve(conn);
  }

  /** The one text value of `sql` with `$1` bound to `value`, on the parser connection (one at a time). Errors: SQL_ERROR. */
  private parse(sql: string, value: string): Promise<string> {
    const run = this.parsing.then(async () => {
      if (this.closed) throw new IngotError('SQL_ERROR', 'the lake reader is closed');
      const reader = await this.parser.runAndReadAll(sql, [value]);
      return String(reader.getRows()[0]![0]);
    });
    this.parsing = run.catch(() => {});
    return run.catch((err: unknown) => { throw err instanceof IngotError ? err : new IngotError('SQL_ERROR', messageOf(err), {}, { cause: err }); });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const stmts of this.prepared.values()) for (const s of stmts.values()) s.stmt.destroySync();
    for (const w of this.waiting.splice(0)) {
      if (w.timer) clearTimeout(w.timer);
      w.reject(new IngotError('SQL_ERROR', 'the lake reader is closed'));
    }
    for (const c of this.pool) c.closeSync();
    this.parser.closeSync();
    this.admin.closeSync();
    this.instance.closeSync();
    rmSync(this.spill, { recursive: true, force: true });
  }
}

/** The DuckDB value and type of a typed parameter (see `QueryParam`). */
function duckValue(p: QueryParam): [DuckDBValue, DuckDBType] {
  switch (p.type) {
    case 'BIGINT': return [BigInt(p.value), BIGINT];
    case 'DOUBLE': return [p.value, DOUBLE];
    case 'BOOLEAN': return [p.value, BOOLEAN];
    case 'DATE': return [dateValue(Date.parse(`${p.value}T00:00:00Z`) / 86_400_000), DATE];
    case 'TIMESTAMP': return [timestampValue(BigInt(Date.parse(p.value)) * 1000n), TIMESTAMP];
    case 'VARCHAR': return [p.value, VARCHAR];
  }
}

/** The text of a type, or `UNKNOWN` when `type` gives none or fails (a parameter DuckDB cannot infer). */
function typeNameOr(type: () => DuckDBType | undefined): string {
  try {
    return type()?.toString() ?? 'UNKNOWN';
  } catch {
    return 'UNKNOWN';
  }
}

/** Binds positional parameter `index` (1-based) of `stmt` to `p`. */
function bindPositional(stmt: DuckDBPreparedStatement, index: number, p: PositionalParam): void {
  if (p.type === 'NULL') {
    stmt.bindNull(index);
    return;
  }
  const [value, type] = duckValue(p);
  stmt.bindValue(index, value, type);
}

/** A DuckDB value as a `Cell` (see `engine/reader.ts`). */
function cellOf(v: DuckDBValue): Cell {
  if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'string') return v;
  if (v instanceof DuckDBBlobValue) return v.bytes;
  if (v instanceof DuckDBListValue || v instanceof DuckDBArrayValue) return v.items.map(cellOf);
  if (v instanceof DuckDBStructValue) return Object.fromEntries(Object.entries(v.entries).map(([k, x]) => [k, cellOf(x)]));
  if (v instanceof DuckDBMapValue) return Object.fromEntries(v.entries.map((e) => [String(e.key), cellOf(e.value)]));
  return String(v);
}

/**
 * The rows of `chunk` as `Cell`s (as `cellOf` gives them), read column by column: numbers,
 * bigints and text as they are, dates and timestamps printed here (each day's text computed
 * once, see `dayText`) rather than through a value object per cell.
 */
function rowsOf(chunk: DuckDBDataChunk): Cell[][] {
  const n = chunk.rowCount;
  const width = chunk.columnCount;
  const rows: Cell[][] = new Array<Cell[]>(n);
  for (let r = 0; r < n; r++) rows[r] = new Array<Cell>(width);
  for (let c = 0; c < width; c++) {
    const vector = chunk.getColumnVector(c);
    switch (vector.type.typeId) {
      case DuckDBTypeId.BOOLEAN: case DuckDBTypeId.TINYINT: case DuckDBTypeId.SMALLINT: case DuckDBTypeId.INTEGER:
      case DuckDBTypeId.UTINYINT: case DuckDBTypeId.USMALLINT: case DuckDBTypeId.UINTEGER: case DuckDBTypeId.BIGINT:
      case DuckDBTypeId.UBIGINT: case DuckDBTypeId.HUGEINT: case DuckDBTypeId.UHUGEINT: case DuckDBTypeId.FLOAT:
      case DuckDBTypeId.DOUBLE:
        for (let r = 0; r < n; r++) rows[r]![c] = vector.getItem(r) as Cell;
        break;
      case DuckDBTypeId.VARCHAR:
        varcharCells(vector as DuckDBVector<string>, n, rows, c);
        break;
      case DuckDBTypeId.DATE:
        for (let r = 0; r < n; r++) {
          const v = (vector as DuckDBVector<DuckDBDateValue>).getItem(r);
          rows[r]![c] = v === null ? null : dayText(v.days);
        }
        break;
      case DuckDBTypeId.TIMESTAMP: case DuckDBTypeId.TIMESTAMP_TZ: {
        const tz = vector.type.typeId === DuckDBTypeId.TIMESTAMP_TZ;
        for (let r = 0; r < n; r++) {
          const v = (vector as DuckDBVector<DuckDBValue & { micros: bigint }>).getItem(r);
          rows[r]![c] = v === null ? null : timestampText(v, tz);
        }
        break;
      }
      default:
        for (let r = 0; r < n; r++) rows[r]![c] = cellOf(vector.getItem(r));
    }
  }
  return rows;
}

/** One-character strings of the ASCII codes. */
const ASCII = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i));

/**
 * Column `c` of `rows` from VARCHAR `vector` (`n` rows). A short ASCII string (at most 12
 * bytes, which DuckDB keeps inline in its 16-byte string header: length, then the bytes) is
 * read from the vector's data here, saving a UTF-8 decoder call per value; others (longer,
 * non-ASCII, or a vector without the expected layout) by `getItem`. Same strings either way.
 */
function varcharCells(vector: DuckDBVector<string>, n: number, rows: Cell[][], c: number): void {
  const raw = vector as unknown as { dataView?: unknown; validity?: { itemValid?: unknown } };
  const view = raw.dataView;
  const validity = raw.validity;
  if (!(view instanceof DataView) || view.byteLength < n * 16 || typeof validity?.itemValid !== 'function') {
    for (let r = 0; r < n; r++) rows[r]![c] = vector.getItem(r);
    return;
  }
  const valid = validity as { itemValid(i: number): boolean };
  const bytes = new Uint8Array(view.buffer, view.byteOffset, n * 16);
  for (let r = 0; r < n; r++) {
    if (!valid.itemValid(r)) {
      rows[r]![c] = null;
      continue;
    }
    const at = r * 16;
    const len = view.getUint32(at, true);
    let text: string | undefined = '';
    if (len <= 12) {
      for (let j = at + 4; j < at + 4 + len; j++) {
        const b = bytes[j]!;
        if (b > 127) {
          text = undefined;
          break;
        }
        text += ASCII[b]!;
      }
    } else text = undefined;
    rows[r]![c] = text ?? vector.getItem(r);
  }
}

/** Texts of days (since 1970-01-01) printed so far, as DuckDB's date values print them; emptied when it holds `DAYS_MAX`. */
const DAYS = new Map<number, string>();
const DAYS_MAX = 100_000;

/** The text of date `days` (`YYYY-MM-DD`, as `DuckDBDateValue.toString`), remembered. */
function dayText(days: number): string {
  let text = DAYS.get(days);
  if (text === undefined) {
    if (DAYS.size >= DAYS_MAX) DAYS.clear();
    text = new DuckDBDateValue(days).toString();
    DAYS.set(days, text);
  }
  return text;
}

/** Two-digit texts of 0..59. */
const TWO = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
/** Microseconds per day. */
const DAY_US = 86_400_000_000;
/** The offset TIMESTAMP WITH TIME ZONE values print with (the process's time zone, as `DuckDBTimestampTZValue`), minutes, and its text. */
const TZ_MINUTES = DuckDBTimestampTZValue.timezoneOffsetInMinutes;
const TZ_TEXT = /[+-]\d\d(?::\d\d)?$/.exec(new DuckDBTimestampTZValue(0n).toString())?.[0] ?? '';

/**
 * The text of a timestamp (`YYYY-MM-DD HH:MM:SS[.ffffff]`, then the offset for a timestamp with
 * time zone), exactly as the value's `toString` prints it; computed here with doubles (exact
 * within ±2^53 µs of 1970, about 285 years), by `toString` beyond and for infinities.
 */
function timestampText(v: { micros: bigint; toString(): string }, tz: boolean): string {
  const micros = Number(v.micros);
  if (!Number.isSafeInteger(micros)) return v.toString();
  const local = tz ? micros + TZ_MINUTES * 60_000_000 : micros;
  const day = Math.floor(local / DAY_US);
  let us = local - day * DAY_US;
  const frac = us % 1_000_000;
  us = (us - frac) / 1_000_000;
  const sec = us % 60;
  us = (us - sec) / 60;
  const min = us % 60;
  const hour = (us - min) / 60;
  let text = `${dayText(day)} ${TWO[hour] ?? String(hour)}:${TWO[min]}:${TWO[sec]}`;
  if (frac !== 0) text += '.' + String(frac).padStart(6, '0').replace(/0+$/, '');
  return tz ? text + TZ_TEXT : text;
}

/** Calls `visit` on every object of a statement tree. */
function walk(node: unknown, visit: (o: Record<string, unknown>) => void): void {
  if (Array.isArray(node)) {
    for (const n of node) walk(n, visit);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const o = node as Record<string, unknown>;
  visit(o);
  for (const v of Object.values(o)) walk(v, visit);
}

/**
 * Columns a statement tree compares for equality with a parameter (`col = $n`, either side, casts
 * looked through), and with `constants` also with a constant (`col = 42`): their last name part.
 */
function equalityColumns(tree: Serialized, constants: boolean): string[] {
  const out = new Set<string>();
  const unwrap = (n: Record<string, unknown>): Record<string, unknown> => (n['class'] === 'CAST' && n['child'] ? unwrap(n['child'] as Record<string, unknown>) : n);
  const value = (n: Record<string, unknown>): boolean => n['class'] === 'PARAMETER' || (constants && n['class'] === 'CONSTANT');
  walk(tree.statements, (o) => {
    if (o['type'] !== 'COMPARE_EQUAL' || !o['left'] || !o['right']) return;
    const [l, r] = [unwrap(o['left'] as Record<string, unknown>), unwrap(o['right'] as Record<string, unknown>)];
    const col = l['class'] === 'COLUMN_REF' && value(r) ? l : r['class'] === 'COLUMN_REF' && value(l) ? r : undefined;
    const names = col?.['column_names'] as string[] | undefined;
    if (names?.length) out.add(names[names.length - 1]!);
  });
  return [...out];
}

/** `schema.table` of a schema-qualified table reference in a statement tree; undefined for other nodes. */
function baseTable(o: Record<string, unknown>): string | undefined {
  return o['type'] === 'BASE_TABLE' && typeof o['schema_name'] === 'string' && o['schema_name'] !== '' ? `${o['schema_name']}.${String(o['table_name'])}` : undefined;
}

/** The schema-qualified tables a statement tree reads, sorted. */
function tablesOf(tree: Serialized): string[] {
  const names = new Set<string>();
  walk(tree.statements, (o) => {
    const name = baseTable(o);
    if (name !== undefined) names.add(name);
  });
  return [...names].sort();
}

function splitName(name: string): [string, string] {
  const i = name.indexOf('.');
  if (i < 0) throw new IngotError('DATASET_INVALID', `table name ${name} is not of the form layer.table`);
  return [name.slice(0, i), name.slice(i + 1)];
}

/** What a snapshot's in-memory copy depends on besides its files: location, schema, partitioning, column mapping. */
function shapeOf(scan: TableScan): string {
  return JSON.stringify([scan.location, scan.schema, scan.partitionColumns, scan.columnMapping === true]);
}

/** The SELECT of a view over in-memory copy `table` made with file ids (`Held.files`): its columns without the hidden ones. */
function copyView(table: string): string {
  return `SELECT * EXCLUDE (${ROW_NUMBER}, ${quoteIdent(FILE_ID)}) FROM ${table}`;
}
