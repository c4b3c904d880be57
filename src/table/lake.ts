import { IngotError } from '../errors.js';
import { joinLocation, openStore, resolveLocation } from '../storage/open.js';
import type { ParquetFiles } from './checkpoint.js';
import { DeltaTable } from './table.js';

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
}

function checkName(name: string): RegExpExecArray {
  const m = TABLE_NAME.exec(name);
  if (!m) throw new IngotError('DATASET_INVALID', `table name "${name}" must be layer.table (lower-case letters, digits, _)`, { table: name });
  return m;
}
