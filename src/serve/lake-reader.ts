import { promises as fs, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DuckDBInstance, DuckDBTypeId, type DuckDBConnection, type DuckDBPreparedStatement, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import { appendDeletedRows, tableScanSql, withDeletions } from '../engine/duckdb/engine.js';
import { quoteIdent, quoteString, type TableScan } from '../engine/engine.js';
import { IngotError, messageOf } from '../errors.js';
import { TABLE_NAME, type Lake } from '../table/lake.js';
import { scanOf } from '../operations/scan.js';
import { cacheDir } from '../storage/s3.js';
import type { Snapshot } from '../table/snapshot.js';

/** Options of `LakeReader.open`. */
export interface LakeReaderOptions {
  /** Connections in the query pool (default 4): queries run concurrently up to this many. */
  connections?: number;
  /** DuckDB worker threads (default: DuckDB's, all cores). */
  threads?: number;
  memoryLimit?: string;
  /** A table's log is checked for new commits at most this often, ms (default 1000). */
  refreshMs?: number;
  /** The table list is read again at most this often, ms (default 2000). */
  listMs?: number;
  /** Tables whose live files total at most this many bytes are loaded into memory at each new version (default 256 MiB); larger ones are read from their Parquet files. */
  materializeBytes?: number;
}

/** A query result: column names and DuckDB type names, rows as JSON-friendly objects. */
export interface QueryResult {
  columns: { name: string; type: string }[];
  rows: Record<string, unknown>[];
}

/** Options of one query. */
export interface QueryOptions {
  /** Interrupt the query after this many ms (error SQL_TIMEOUT). */
  timeoutMs?: number;
  /** DuckDB types of named parameters (default: inferred from the JS values). */
  types?: Record<string, DuckDBType>;
}

interface Attached {
  version: number;
  checkedAt: number;
  /** Deletion-vector table of this version, if any (dropped a while after a newer version replaces it). */
  deletions?: string;
  /** In-memory copy of this version, if the table is small enough (dropped likewise). */
  memory?: string;
  refreshing?: Promise<number>;
}

const INTERNAL = '__ingot';
/** Version-pinned relations kept at once (time travel, row-id scans); the least recently used are dropped. */
const PINNED_MAX = 64;

/**
 * The lake as `ingot serve` reads it: one in-process DuckDB instance, locked down (external
 * access off except the lake's data directories, configuration locked), a small pool of
 * connections and a prepared-statement cache per connection. Each table is attached once as the
 * view `layer.table` of its latest snapshot (over an in-memory copy when the table is small, else
 * over its Parquet files) and re-attached only when a commit changed its version (the log is checked at most every `refreshMs`); time-travel versions and row-id scans
 * are pinned views under the schema `__ingot`.
 */
export class LakeReader {
  private readonly attached = new Map<string, Attached>();
  private readonly pins = new Map<string, Promise<string>>();
  private readonly schemas = new Set<string>();
  private readonly clusters = new Map<string, string[]>();
  private readonly idle: DuckDBConnection[];
  private readonly waiting: ((c: DuckDBConnection) => void)[] = [];
  private readonly prepared = new Map<DuckDBConnection, Map<string, { stmt: DuckDBPreparedStatement; names: Set<string> }>>();
  private names?: { at: number; list: Promise<string[]> };
  private ddl: Promise<unknown> = Promise.resolve();
  private counter = 0;
  private closed = false;

  private constructor(
    readonly lake: Lake,
    private readonly instance: DuckDBInstance,
    /** Runs DDL (views, deletion tables); never user SQL. */
    private readonly admin: DuckDBConnection,
    private readonly pool: DuckDBConnection[],
    private readonly options: LakeReaderOptions,
    private readonly spill: string,
  ) {
    this.idle = [...pool];
  }

  /** Opens a reader of `lake` (its root must be a local directory or `s3://`, read through the local cache). */
  static async open(lake: Lake, options: LakeReaderOptions = {}): Promise<LakeReader> {
    const config: Record<string, string> = {};
    if (options.threads) config['threads'] = String(options.threads);
    if (options.memoryLimit) config['memory_limit'] = options.memoryLimit;
    // DuckDB may always read its temp directory (default `.tmp` in the working directory): a private one
    const spill = await fs.mkdtemp(path.join(os.tmpdir(), 'ingot-serve-'));
    config['temp_directory'] = spill;
    const instance = await DuckDBInstance.create(':memory:', config);
    const admin = await instance.connect();
    const dirs = [/^[a-z][a-z0-9+.-]*:\/\//i.test(lake.root) ? cacheDir() : lake.root].map((d) => d.endsWith(path.sep) ? d : d + path.sep);
    await admin.run("SET GLOBAL TimeZone = 'UTC'");
    await admin.run(`SET allowed_directories = [${dirs.map(quoteString).join(', ')}]`);
    await admin.run('SET enable_external_access = false');
    await admin.run('SET autoinstall_known_extensions = false');
    await admin.run('SET autoload_known_extensions = false');
    await admin.run('SET lock_configuration = true');
    await admin.run(`CREATE SCHEMA ${INTERNAL}`);
    const pool: DuckDBConnection[] = [];
    for (let i = 0; i < (options.connections ?? 4); i++) pool.push(await instance.connect());
    return new LakeReader(lake, instance, admin, pool, options, spill);
  }

  /** Names of the lake's tables (`layer.table`, ingot's own `_` layers excluded), cached for `listMs`. */
  async tables(): Promise<string[]> {
    const now = Date.now();
    if (!this.names || now - this.names.at > (this.options.listMs ?? 2000)) {
      const list = this.lake.list();
      this.names = { at: now, list };
      list.catch(() => { if (this.names?.list === list) this.names = undefined; });
    }
    return this.names.list;
  }

  /**
   * Checks that `name` is one of the lake's tables, without touching the filesystem for anything
   * else (a name such as `../../etc` never reaches a path). Errors: TABLE_NOT_FOUND.
   */
  async check(name: string): Promise<void> {
    if (!TABLE_NAME.test(name) || !(await this.tables()).includes(name)) {
      // a table created since the list was cached: read the list once more
      if (TABLE_NAME.test(name) && this.names && Date.now() - this.names.at > 100) {
        this.names = undefined;
        if ((await this.tables()).includes(name)) return;
      }
      throw new IngotError('TABLE_NOT_FOUND', `no table ${JSON.stringify(name)} in the lake`, { table: name });
    }
  }

  /** The snapshot of table `name` at `version` (default latest). Errors: TABLE_NOT_FOUND, VERSION_NOT_FOUND. */
  async snapshot(name: string, version?: number): Promise<Snapshot> {
    await this.check(name);
    return this.lake.table(name).snapshot(version);
  }

  /**
   * Makes `layer.table` queryable at its latest version (re-attached only when the version
   * changed; the log is read at most every `refreshMs`). Returns the attached version.
   */
  async latest(name: string): Promise<number> {
    const state = this.attached.get(name);
    const now = Date.now();
    if (state && now - state.checkedAt < (this.options.refreshMs ?? 1000)) return state.version;
    if (state?.refreshing) return state.refreshing;
    const refresh = (async () => {
      await this.check(name);
      const snapshot = await this.lake.table(name).snapshot();
      const current = this.attached.get(name);
      if (current && current.version === snapshot.version) {
        current.checkedAt = Date.now();
        return current.version;
      }
      const [layer, table] = name.split('.') as [string, string];
      const relation = `${quoteIdent(layer)}.${quoteIdent(table)}`;
      const bytes = [...snapshot.files.values()].reduce((n, f) => n + f.size, 0);
      let deletions: string | undefined;
      let memory: string | undefined;
      if (bytes <= (this.options.materializeBytes ?? 256 * 1024 * 1024)) {
        // small tables are loaded into memory once per version; the view swaps to the new copy atomically
        const source = await this.pinned(name, snapshot.version);
        memory = `${INTERNAL}.${quoteIdent(`${name}@${snapshot.version}#memory`)}`;
        const order = this.clusters.get(name)?.filter((c) => snapshot.schema.fields.some((f) => f.name === c && typeof f.type === 'string'));
        await this.exec(`CREATE OR REPLACE TABLE ${memory} AS SELECT * FROM ${source}${order?.length ? ` ORDER BY ${order.map(quoteIdent).join(', ')}` : ''}`);
        await this.ensureSchema(layer);
        await this.exec(`CREATE OR REPLACE VIEW ${relation} AS SELECT * FROM ${memory}`);
      } else {
        deletions = await this.createView(relation, name, snapshot, false, layer);
      }
      const old = current;
      if (old?.deletions || old?.memory) {
        setTimeout(() => {
          if (old.deletions) void this.exec(`DROP TABLE IF EXISTS ${old.deletions}`).catch(() => {});
          if (old.memory) void this.exec(`DROP TABLE IF EXISTS ${old.memory}`).catch(() => {});
        }, 60_000).unref();
      }
      this.attached.set(name, { version: snapshot.version, checkedAt: Date.now(), ...(deletions ? { deletions } : {}), ...(memory ? { memory } : {}) });
      return snapshot.version;
    })();
    if (state) state.refreshing = refresh;
    else this.attached.set(name, { version: -1, checkedAt: 0, refreshing: refresh });
    try {
      return await refresh;
    } finally {
      const s = this.attached.get(name);
      if (s?.refreshing === refresh) delete s.refreshing;
      if (s && s.version === -1) this.attached.delete(name);
    }
  }

  /**
   * Asks for the in-memory copy of table `name` to be sorted by `columns` (those the table has),
   * from its next attachment on: queries filtering those columns by equality then skip most of
   * the copy (DuckDB's zone maps). The project's endpoints ask for the columns they compare with
   * a parameter.
   */
  clusterBy(name: string, columns: string[]): void {
    const all = [...new Set([...(this.clusters.get(name) ?? []), ...columns])];
    if (all.length) this.clusters.set(name, all);
  }

  /**
   * A relation (quoted SQL name) reading `name` at `version`, fixed for the reader's lifetime;
   * with `rowIds`, it also has `__ingot_file` and `__ingot_row`, which identify each row (a
   * unique, stable key for keyset paging). Errors: TABLE_NOT_FOUND, VERSION_NOT_FOUND.
   */
  async pinned(name: string, version: number, rowIds = false): Promise<string> {
    const key = `${name}@${version}${rowIds ? '#rows' : ''}`;
    let relation = this.pins.get(key);
    if (relation) {
      // most recently used last
      this.pins.delete(key);
      this.pins.set(key, relation);
      return relation;
    }
    relation = (async () => {
      const snapshot = await this.snapshot(name, version);
      const rel = `${INTERNAL}.${quoteIdent(key)}`;
      await this.createView(rel, name, snapshot, rowIds, INTERNAL);
      return rel;
    })();
    this.pins.set(key, relation);
    relation.catch(() => this.pins.delete(key));
    while (this.pins.size > PINNED_MAX) {
      const [oldest, rel] = this.pins.entries().next().value as [string, Promise<string>];
      this.pins.delete(oldest);
      void rel.then((r) => this.exec(`DROP VIEW IF EXISTS ${r}`)).catch(() => {});
    }
    return relation;
  }

  /** Creates (or replaces) view `relation` over `snapshot`; returns the deletion-vector table it reads, if any. */
  private async createView(relation: string, name: string, snapshot: Snapshot, rowIds: boolean, schema: string): Promise<string | undefined> {
    const scan: TableScan = { ...(await scanOf(this.lake.table(name), snapshot)), ...(rowIds ? { rowIds } : {}) };
    const deleting = withDeletions(scan.files);
    let deletions: string | undefined;
    if (deleting.length > 0) {
      const table = `__deleted_${++this.counter}`;
      deletions = `${INTERNAL}.${quoteIdent(table)}`;
      await this.exec(`CREATE TABLE ${deletions} (file INTEGER, pos BIGINT)`);
      appendDeletedRows(await this.admin.createAppender(table, INTERNAL), deleting);
    }
    await this.ensureSchema(schema);
    await this.exec(`CREATE OR REPLACE VIEW ${relation} AS ${tableScanSql(scan, deletions)}`);
    return deletions;
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

  /**
   * Schema-qualified table names a statement reads. The statement must be one SELECT (parsed by
   * DuckDB's serializer, which refuses anything else). Errors: SQL_NOT_READ_ONLY, SQL_ERROR.
   */
  async references(sql: string): Promise<string[]> {
    const [row] = (await this.query('SELECT json_serialize_sql($sql::VARCHAR) AS j', { sql })).rows;
    const parsed = JSON.parse(String(row!['j'])) as { error: boolean; error_message?: string; statements?: unknown[] };
    if (parsed.error) {
      const msg = parsed.error_message ?? 'cannot parse';
      if (/only SELECT statements can be serialized/i.test(msg)) throw new IngotError('SQL_NOT_READ_ONLY', 'only a single SELECT statement is allowed here (no COPY, ATTACH, INSTALL, LOAD, SET, PRAGMA, CREATE, INSERT, UPDATE, DELETE)');
      throw new IngotError('SQL_ERROR', msg);
    }
    if ((parsed.statements ?? []).length !== 1) throw new IngotError('SQL_NOT_READ_ONLY', 'exactly one SELECT statement is allowed here');
    const names = new Set<string>();
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(walk);
      if (node === null || typeof node !== 'object') return;
      const o = node as Record<string, unknown>;
      if (o['type'] === 'BASE_TABLE' && typeof o['schema_name'] === 'string' && o['schema_name'] !== '') names.add(`${o['schema_name']}.${String(o['table_name'])}`);
      for (const v of Object.values(o)) walk(v);
    };
    walk(parsed.statements);
    return [...names].sort();
  }

  /**
   * `sql` (one SELECT) with every lake table it reads replaced by the relation pinned at
   * `versions[name]` (see `pinned`), through DuckDB's own parser (`json_serialize_sql`, then
   * `json_deserialize_sql`), so the query reads those versions whatever commits came since.
   * Errors: as `references`, TABLE_NOT_FOUND, VERSION_NOT_FOUND.
   */
  async atVersions(sql: string, versions: Record<string, number>): Promise<string> {
    const [row] = (await this.query('SELECT json_serialize_sql($sql::VARCHAR) AS j', { sql })).rows;
    // query_location can be 2^64-1, beyond a double: positions are not needed to print SQL back
    const tree = JSON.parse(String(row!['j']).replace(/"query_location":\d+/g, '"query_location":0')) as { error: boolean; statements: unknown[] };
    if (tree.error) throw new IngotError('SQL_ERROR', 'cannot parse the query');
    const pins: { node: Record<string, unknown>; name: string }[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(walk);
      if (node === null || typeof node !== 'object') return;
      const o = node as Record<string, unknown>;
      if (o['type'] === 'BASE_TABLE' && typeof o['schema_name'] === 'string' && o['schema_name'] !== '') pins.push({ node: o, name: `${o['schema_name']}.${String(o['table_name'])}` });
      for (const v of Object.values(o)) walk(v);
    };
    walk(tree.statements);
    for (const { node, name } of pins) {
      const version = versions[name];
      if (version === undefined) continue;
      await this.pinned(name, version);
      node['schema_name'] = INTERNAL;
      node['table_name'] = `${name}@${version}`;
    }
    const [back] = (await this.query('SELECT json_deserialize_sql($j::JSON) AS s', { j: JSON.stringify(tree) })).rows;
    return String(back!['s']);
  }

  /**
   * Runs `sql` on a pooled connection as a prepared statement (cached per connection), binding
   * `params` by name (`$name`) or position. Errors: SQL_ERROR; SQL_TIMEOUT after `timeoutMs`.
   */
  async query(sql: string, params: Record<string, DuckDBValue> | DuckDBValue[] = [], options: QueryOptions = {}): Promise<QueryResult> {
    const conn = await this.acquire();
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    try {
      let cache = this.prepared.get(conn);
      if (!cache) this.prepared.set(conn, (cache = new Map()));
      let entry = cache.get(sql);
      if (!entry) {
        const stmt = await conn.prepare(sql);
        if (cache.size >= 256) {
          const [first] = cache.keys();
          cache.get(first!)?.stmt.destroySync();
          cache.delete(first!);
        }
        entry = { stmt, names: new Set(Array.from({ length: stmt.parameterCount }, (_, i) => stmt.parameterName(i + 1))) };
        cache.set(sql, entry);
      }
      const { stmt, names } = entry;
      if (options.timeoutMs) timer = setTimeout(() => { timedOut = true; conn.interrupt(); }, options.timeoutMs);
      stmt.clearBindings();
      // bind only the parameters the statement has (binding an unknown name is an error)
      const values = Array.isArray(params) ? params : Object.fromEntries(Object.entries(params).filter(([k]) => names.has(k)));
      if (Array.isArray(values) ? values.length : Object.keys(values).length) stmt.bind(values, options.types && !Array.isArray(values) ? Object.fromEntries(Object.entries(options.types).filter(([k]) => k in values)) : undefined);
      const reader = await stmt.runAndReadAll();
      const columns = reader.columnNames();
      const types = reader.columnTypes();
      const rows = reader.getRowObjectsJson() as Record<string, unknown>[];
      // 64-bit integers arrive as strings: numbers when they fit a double exactly
      const big = columns.filter((_, i) => types[i]!.typeId === DuckDBTypeId.BIGINT || types[i]!.typeId === DuckDBTypeId.HUGEINT || types[i]!.typeId === DuckDBTypeId.UBIGINT);
      if (big.length) {
        for (const r of rows) {
          for (const c of big) {
            const v = r[c];
            if (typeof v === 'string' && Number.isSafeInteger(Number(v))) r[c] = Number(v);
          }
        }
      }
      return { columns: columns.map((name, i) => ({ name, type: types[i]!.toString() })), rows };
    } catch (err) {
      if (timedOut) throw new IngotError('SQL_TIMEOUT', `the query ran longer than ${options.timeoutMs} ms and was interrupted`, {}, { cause: err });
      throw err instanceof IngotError ? err : new IngotError('SQL_ERROR', messageOf(err), {}, { cause: err });
    } finally {
      if (timer) clearTimeout(timer);
      this.release(conn);
    }
  }

  private acquire(): Promise<DuckDBConnection> {
    if (this.closed) return Promise.reject(new IngotError('SQL_ERROR', 'the lake reader is closed'));
    const c = this.idle.pop();
    return c ? Promise.resolve(c) : new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(conn: DuckDBConnection): void {
    const next = this.waiting.shift();
    if (next) next(conn);
    else this.idle.push(conn);
  }

  /** Closes every connection and the instance. */
  close(): void {
    this.closed = true;
    for (const stmts of this.prepared.values()) for (const s of stmts.values()) s.stmt.destroySync();
    for (const c of this.pool) c.closeSync();
    this.admin.closeSync();
    this.instance.closeSync();
    rmSync(this.spill, { recursive: true, force: true });
  }
}
