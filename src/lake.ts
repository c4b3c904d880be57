import { IngotError } from './errors.js';
import type { Engine, Row, TableScan, WriteTarget } from './engine/engine.js';
import { joinLocation, openStore, resolveLocation } from './storage/open.js';
import type { Add } from './table/actions.js';
import type { ParquetFiles } from './table/checkpoint.js';
import type { Filter } from './table/filter.js';
import { readDeletionVectors } from './table/deletion-vector.js';
import { Snapshot } from './table/snapshot.js';
import { physicalName, type StructType } from './table/schema.js';
import { DeltaTable, type PreparedCommit } from './table/table.js';
import { decodePath, planWrite, type DataFile, type DomainWrite, type WriteMode } from './table/write.js';

/** Matches `layer.table`: both parts lower-case identifiers. */
export const TABLE_NAME = /^([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)$/;

/**
 * A lake: a root location (a directory or `s3://bucket/prefix`) holding Delta tables at
 * `<layer>/<table>/`, addressed as `layer.table`. Tables from elsewhere can be registered under a name by location.
 */
export class Lake {
  private readonly tables = new Map<string, DeltaTable>();
  private readonly registered = new Map<string, string>();

  /**
   * @param root a directory or `s3://bucket/prefix` (see `openStore`).
   * @param parquet reads Delta checkpoints (an engine, e.g. `DuckDBEngine`).
   */
  constructor(readonly root: string, private readonly parquet?: ParquetFiles) {}

  /** Registers the Delta table at `location` under `name` (`layer.table`). */
  register(name: string, location: string): void {
    checkName(name);
    this.registered.set(name, resolveLocation(location));
    this.tables.delete(name);
  }

  /** The table `layer.table` (which may not exist yet). */
  table(name: string): DeltaTable {
    let t = this.tables.get(name);
    if (!t) {
      const [, layer, table] = checkName(name);
      const location = this.registered.get(name) ?? joinLocation(this.root, layer!, table!);
      t = new DeltaTable(openStore(location), this.parquet);
      this.tables.set(name, t);
    }
    return t;
  }

  /** Names of the tables in the lake (folders with a `_delta_log`) plus registered ones, sorted. */
  async list(options: { internal?: boolean } = {}): Promise<string[]> {
    const store = openStore(this.root);
    const names = new Set(this.registered.keys());
    for (const o of await store.list('', { recursive: true })) {
      const m = /^([^/]+)\/([^/]+)\/_delta_log\/\d{20}\.json$/.exec(o.key);
      if (m && TABLE_NAME.test(`${m[1]}.${m[2]}`)) names.add(`${m[1]}.${m[2]}`);
    }
    return [...names].filter((n) => options.internal || !n.startsWith('_')).sort();
  }

  /** Makes the given tables queryable in `engine` as `layer.table`, at their latest version or at `versions[name]`. */
  async attach(engine: Engine, names: string[], versions: Record<string, number> = {}): Promise<void> {
    for (const name of names) {
      const table = this.table(name);
      const snapshot = await table.snapshot(versions[name]).catch((err: unknown) => {
        if (err instanceof IngotError && err.code === 'TABLE_NOT_FOUND') {
          throw new IngotError('TABLE_NOT_FOUND', `table ${name} does not exist in ${this.root}`, { table: name }, { cause: err });
        }
        throw err;
      });
      await engine.attachTable(name, await scanFor(engine, table, snapshot));
    }
  }
}

/**
 * Runs a read-only SELECT over the lake's tables, addressed as `layer.table`, at their latest
 * versions or at `versions[name]` (`versions['*']` for every table). Only the tables the
 * statement references are attached. Errors: SQL_NOT_READ_ONLY, SQL_ERROR, TABLE_NOT_FOUND, VERSION_NOT_FOUND.
 */
export async function queryLake(lake: Lake, engine: Engine, sql: string, versions: Record<string, number> = {}): Promise<Row[]> {
  const names = await engine.references(sql);
  const resolved: Record<string, number> = {};
  for (const name of names) {
    const v = versions[name] ?? versions['*'];
    if (v !== undefined) resolved[name] = v;
  }
  await lake.attach(engine, names, resolved);
  return engine.query(sql);
}

/**
 * What an engine needs to read `snapshot` of `table`: deletion vectors read and decoded, data
 * files on local disk (a table on a remote store has them copied into the local cache first,
 * `ObjectStore.localCopy`). `adds`: the files to read (default: the live files matching `filters`).
 * Errors: see `readDeletionVectors`; `NotFoundError` for a data file missing from a remote store.
 */
export async function scanOf(table: DeltaTable, snapshot: Snapshot, filters: Filter[] = [], adds: Add[] = snapshot.scan(filters)): Promise<TableScan> {
  const mapping = snapshot.columnMapping;
  const byPhysical = new Map(snapshot.schema.fields.map((f) => [physicalName(f, mapping), f.name]));
  const deleted = await readDeletionVectors(table.store, adds.map((a) => a.deletionVector));
  return {
    location: await table.store.localCopy(adds.map((a) => ({ key: decodePath(a.path), size: a.size }))),
    schema: snapshot.schema,
    partitionColumns: snapshot.partitionColumns,
    columnMapping: mapping,
    version: snapshot.version,
    files: adds.map((a, i) => ({
      path: decodePath(a.path),
      partitionValues: mapping ? Object.fromEntries(Object.entries(a.partitionValues).map(([k, v]) => [byPhysical.get(k) ?? k, v])) : a.partitionValues,
      ...(deleted[i] ? { deletedRows: deleted[i] } : {}),
    })),
  };
}

/**
 * What `engine` needs to read `snapshot` of `table`: for an engine reading Delta tables itself
 * (one that commits its own writes, `Engine.commit`: Spark), the table's own location (a path or
 * `s3://...`) and version, nothing copied; for others `scanOf`'s local files.
 */
export async function scanFor(engine: Engine, table: DeltaTable, snapshot: Snapshot): Promise<TableScan> {
  if (!engine.commit) return scanOf(table, snapshot);
  return { location: table.location, schema: snapshot.schema, partitionColumns: snapshot.partitionColumns, columnMapping: snapshot.columnMapping, version: snapshot.version, files: [] };
}

/** Options of `stageWrite`. */
export interface SqlWriteOptions {
  mode: WriteMode;
  /** Schema of the rows `sql` returns (from `Engine.stage`). */
  schema: StructType;
  partitionBy?: string[];
  replaceWhere?: Filter[];
  overwriteSchema?: boolean;
  mergeSchema?: boolean;
  configuration?: Record<string, string>;
  txn?: { appId: string; version: number };
  parameters?: Record<string, unknown>;
  /** Metadata domains committed with the rows (see `WriteOptions.domainMetadata`). */
  domainMetadata?: DomainWrite[];
}

/**
 * Writes the rows of `sql` (run by `engine`) as data files of `table` and prepares the commit,
 * without committing it: the caller commits (`table.commit`) once everything it depends on
 * succeeded. Returns the prepared commit and the snapshot as it will be after the commit.
 */
export async function stageWrite(engine: Engine, table: DeltaTable, base: Snapshot | undefined, sql: string, options: SqlWriteOptions): Promise<{ commit: PreparedCommit; preview: Snapshot }> {
  const partitionColumns = options.partitionBy ?? base?.partitionColumns ?? [];
  const files = await writeDataFiles(engine, table, sql, { partitionColumns, schema: options.schema });
  let commit: PreparedCommit;
  try {
    commit = planWrite(base, { ...options, files, partitionColumns }, table.location);
  } catch (err) {
    await discardFiles(table, files.map((f) => f.path));
    throw err;
  }
  const version = (base?.version ?? -1) + 1;
  const preview = base ? base.apply(commit.actions, version) : Snapshot.replay([{ version, actions: commit.actions }], undefined, table.location);
  return { commit, preview };
}

/**
 * Writes the rows of `sql` (run by `engine`) as new data files of `table`, invisible to readers
 * until a commit adds them. The engine writes into the store's local staging directory; a remote
 * store gets the files uploaded (and the local copies removed) before this returns.
 */
export async function writeDataFiles(engine: Engine, table: DeltaTable, sql: string, target: Omit<WriteTarget, 'location'>): Promise<DataFile[]> {
  const staging = await table.store.localStaging();
  try {
    const files = await engine.write(sql, { ...target, location: staging.dir });
    await staging.publish(files.map((f) => f.path));
    return files;
  } finally {
    await staging.close();
  }
}

/** Deletes data files that were written but never committed (paths relative to the table root). */
export async function discardFiles(table: DeltaTable, paths: string[]): Promise<void> {
  await Promise.all(paths.map((p) => table.store.delete(p)));
}

/** Deletes the data files a prepared commit adds, when it will not be committed. */
export function discardCommit(table: DeltaTable, commit: PreparedCommit): Promise<void> {
  return discardFiles(table, commit.actions.flatMap((a) => ('add' in a ? [decodePath(a.add.path)] : [])));
}

function checkName(name: string): RegExpExecArray {
  const m = TABLE_NAME.exec(name);
  if (!m) throw new IngotError('DATASET_INVALID', `table name "${name}" must be layer.table (lower-case letters, digits, _)`, { table: name });
  return m;
}
