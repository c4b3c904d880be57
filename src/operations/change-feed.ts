import type { Engine, TableScan } from '../engine/engine.js';
import { IngotError } from '../errors.js';
import { changeFiles } from '../table/change-feed.js';
import type { Lake } from '../table/lake.js';
import type { StructType } from '../table/schema.js';
import type { Snapshot } from '../table/snapshot.js';
import { readDeletionVectors } from '../table/deletion-vector.js';
import type { DeltaTable } from '../table/table.js';
import { CHANGE_FEED_PROPERTY, decodePath } from '../table/write.js';
import { scanOf } from './scan.js';

/** The columns a change feed adds to a table's own (Spark's and delta-rs's names and types). */
export const CHANGE_COLUMNS = ['_change_type', '_commit_version', '_commit_timestamp'] as const;

/** Delta types of `CHANGE_COLUMNS`. */
const CHANGE_FIELDS = [
  { name: '_change_type', type: 'string' as const, nullable: true, metadata: {} },
  { name: '_commit_version', type: 'long' as const, nullable: true, metadata: {} },
  { name: '_commit_timestamp', type: 'timestamp_ntz' as const, nullable: true, metadata: {} },
];

/**
 * The change data feed of `table` (as `tableName` in errors) from version `from` to `to` (both
 * included; see `changeFiles`) as table scans whose rows, unioned (UNION ALL) in order, are the
 * feed: the table's columns, then `_change_type` (string), `_commit_version` (long) and
 * `_commit_timestamp` (timestamp without zone, UTC), as Spark's `table_changes` /
 * `readChangeFeed` and delta-rs's `load_cdf` give them. Every scan has the same schema (one scan
 * with no file when the range changed nothing). A `cdc` file's `_change_type` is its own column;
 * a whole added or removed file's (`insert` / `delete`), the commit version and timestamp are
 * literal values, like partition values (a scan per version and kind: a file added by one version
 * and removed by a later one is read once in each). Files are copied to local disk first for a
 * remote store. Errors: those of `changeFiles`; CHANGE_FEED_UNAVAILABLE for a table with column
 * mapping.
 */
export async function changeScans(table: DeltaTable, tableName: string, from: number, to: number): Promise<TableScan[]> {
  const files = await changeFiles(table, from, to);
  const snapshot = await table.snapshot();
  if (snapshot.columnMapping) throw new IngotError('CHANGE_FEED_UNAVAILABLE', `${tableName}: reading the change feed of a table with column mapping is not supported yet`, { table: tableName });
  const schema: StructType = { ...snapshot.schema, fields: [...snapshot.schema.fields.filter((f) => !(CHANGE_COLUMNS as readonly string[]).includes(f.name)), ...CHANGE_FIELDS] };
  const base = { schema, version: to };
  if (files.length === 0) return [{ ...base, location: table.store.root, partitionColumns: snapshot.partitionColumns, files: [] }];
  const location = await table.store.localCopy(files.map((f) => ({ key: decodePath(f.path, table.store.root), ...(f.size !== undefined ? { size: f.size } : {}) })));
  const stamp = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
  // rows left out of each file: its own deletion vector, or all but the rows a new deletion vector deleted
  const dvs = await readDeletionVectors(table.store, files.flatMap((f) => [f.skip ?? f.deleted?.newer, f.deleted?.older]));
  const leftOut = files.map((f, i): number[] | undefined => {
    if (!f.deleted) return dvs[2 * i];
    const older = new Set(dvs[2 * i + 1] ?? []);
    const gone = new Set((dvs[2 * i] ?? []).filter((r) => !older.has(r)));
    return Array.from({ length: f.deleted.numRecords }, (_, r) => r).filter((r) => !gone.has(r));
  });
  const scans = new Map<string, TableScan>();
  for (const [i, f] of files.entries()) {
    const key = `${f.version}/${f.changeType ?? 'cdc'}`;
    let scan = scans.get(key);
    if (!scan) {
      const partitionColumns = [...snapshot.partitionColumns, ...(f.changeType ? ['_change_type'] : []), '_commit_version', '_commit_timestamp'];
      scans.set(key, (scan = { ...base, location, partitionColumns, files: [] }));
    }
    scan.files.push({
      path: decodePath(f.path, table.store.root),
      partitionValues: { ...f.partitionValues, ...(f.changeType ? { _change_type: f.changeType } : {}), _commit_version: String(f.version), _commit_timestamp: stamp(f.timestamp) },
      ...(leftOut[i]?.length ? { deletedRows: leftOut[i] } : {}),
    });
  }
  return [...scans.values()];
}

/**
 * Makes the change data feed of table `tableName` of `lake` from version `from` to `to` (see
 * `changeScans`) queryable in `engine` as relation `name` (its parts attached as `__changes.<name>__<i>`).
 * Errors: those of `changeScans`.
 */
export async function attachChanges(lake: Lake, engine: Engine, tableName: string, name: string, from: number, to: number): Promise<void> {
  const parts = await attachParts(engine, await changeScans(lake.table(tableName), tableName, from, to), name);
  await engine.view(name, parts.map((p) => `SELECT * FROM ${p.split('.').map((x) => engine.dialect.quoteIdent(x)).join('.')}`).join(' UNION ALL '));
}

/** Attaches each of `scans` as `__changes.<name>__<i>`; their qualified names. */
async function attachParts(engine: Engine, scans: TableScan[], name: string): Promise<string[]> {
  const parts: string[] = [];
  for (const [i, scan] of scans.entries()) {
    const part = `${CHANGES_SCHEMA}.${name.replace('.', '__')}__${i}`;
    await engine.attachTable(part, scan);
    parts.push(part);
  }
  return parts;
}

/** The schema the parts of an attached change feed live in (`attachChanges`). */
const CHANGES_SCHEMA = '__changes';

/** A call `table_changes('layer.table', from[, to])` in SQL text: groups table, from, to. */
export const TABLE_CHANGES = /table_changes\s*\(\s*'([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*)'\s*,\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)/gi;

/**
 * `sql` with each `table_changes('layer.table', from[, to])` (Spark's table function; `to`
 * defaults to the latest version) replaced by a relation the change feed is attached as
 * (`attachChanges`). Errors: those of `attachChanges`.
 */
export async function withTableChanges(lake: Lake, engine: Engine, sql: string): Promise<string> {
  const calls = [...sql.matchAll(TABLE_CHANGES)];
  let out = sql;
  for (const [i, m] of calls.entries()) {
    const table = m[1]!;
    const to = m[3] !== undefined ? Number(m[3]) : (await lake.table(table).snapshot()).version;
    const name = `__table_changes_${i}`;
    await attachChanges(lake, engine, table, name, Number(m[2]), to);
    out = out.replace(m[0], engine.dialect.quoteIdent(name));
  }
  return out;
}

/** Whether `snapshot`'s table records a change data feed (`delta.enableChangeDataFeed = true`). */
export function hasChangeFeed(snapshot: Snapshot): boolean {
  return snapshot.metadata.configuration?.[CHANGE_FEED_PROPERTY] === 'true';
}

/**
 * An incremental read of `table` (a table with a change data feed) at `snapshot`, made queryable
 * in `engine` as `qualifiedName`: the table's columns, then `_change_type`, `_commit_version`
 * and `_commit_timestamp` (see `changeScans`). `after` is the version the reader last
 * processed: the rows are the feed of versions `after + 1` to `snapshot.version` (none when
 * `after` ≥ it); with `after` undefined (a first run, a full refresh) the whole snapshot as
 * `insert` rows of its own version, as Spark's streaming `readChangeFeed` starts. Errors:
 * INCREMENTAL_UNSUPPORTED on an engine that reads Delta tables itself; those of `changeScans`.
 */
export async function attachChangeFeed(engine: Engine, table: DeltaTable, qualifiedName: string, snapshot: Snapshot, after: number | undefined): Promise<void> {
  if (engine.commit || !engine.attachUnion) throw new IngotError('INCREMENTAL_UNSUPPORTED', `${qualifiedName}: incremental reads run on the in-process engine; this dataset's engine reads Delta tables itself`, { table: qualifiedName });
  if (after !== undefined && after < snapshot.version) {
    await engine.attachUnion(qualifiedName, await attachParts(engine, await changeScans(table, qualifiedName, after + 1, snapshot.version), qualifiedName));
    return;
  }
  const scan = await scanOf(table, snapshot);
  if (snapshot.columnMapping) throw new IngotError('CHANGE_FEED_UNAVAILABLE', `${qualifiedName}: reading the change feed of a table with column mapping is not supported yet`, { table: qualifiedName });
  const literal = { _change_type: 'insert', _commit_version: String(snapshot.version), _commit_timestamp: new Date(snapshot.timestamp).toISOString().replace('T', ' ').replace('Z', '') };
  await engine.attachTable(qualifiedName, {
    ...scan,
    schema: { ...scan.schema, fields: [...scan.schema.fields.filter((f) => !(CHANGE_COLUMNS as readonly string[]).includes(f.name)), ...CHANGE_FIELDS] },
    partitionColumns: [...scan.partitionColumns, ...CHANGE_COLUMNS],
    // nothing new since `after`: the columns, no rows
    files: after === undefined ? scan.files.map((f) => ({ ...f, partitionValues: { ...f.partitionValues, ...literal } })) : [],
  });
}
