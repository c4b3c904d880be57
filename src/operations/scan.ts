import type { Engine, TableScan } from '../engine/engine.js';
import { IngotError } from '../errors.js';
import type { Add } from '../table/actions.js';
import { readDeletionVectors } from '../table/deletion-vector.js';
import type { Filter } from '../table/filter.js';
import { physicalName } from '../table/schema.js';
import type { Snapshot } from '../table/snapshot.js';
import type { DeltaTable } from '../table/table.js';
import { decodePath } from '../table/write.js';

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
    location: await table.store.localCopy(adds.map((a) => ({ key: decodePath(a.path, table.store.root), size: a.size }))),
    schema: snapshot.schema,
    partitionColumns: snapshot.partitionColumns,
    columnMapping: mapping,
    version: snapshot.version,
    files: adds.map((a, i) => ({
      path: decodePath(a.path, table.store.root),
      partitionValues: mapping ? Object.fromEntries(Object.entries(a.partitionValues).map(([k, v]) => [byPhysical.get(k) ?? k, v])) : a.partitionValues,
      ...(deleted[i] ? { deletedRows: deleted[i] } : {}),
    })),
  };
}

/**
 * What `engine` needs to read only the files `adds` of `table` (an incremental read: the files
 * commits after a version added; `snapshot` gives the schema). Errors: INCREMENTAL_UNSUPPORTED on
 * an engine that reads Delta tables itself (it reads versions, not files).
 */
export async function scanAdded(engine: Engine, table: DeltaTable, snapshot: Snapshot, adds: Add[]): Promise<TableScan> {
  if (engine.commit) throw new IngotError('INCREMENTAL_UNSUPPORTED', `${table.location}: incremental reads run on the in-process engine; this dataset's engine reads Delta tables itself`, { table: table.location });
  return scanOf(table, snapshot, [], adds);
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
