import { IngotError } from '../errors.js';
import { joinLocation, openStore, resolveLocation } from '../storage/open.js';
import type { ParquetFiles } from './checkpoint.js';
import { DeltaTable } from './table.js';

/** Matches `layer.table`: both parts lower-case identifiers. */
export const TABLE_NAME = /^([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)$/;

/** The lake's folder of environments: environment `dev`'s tables are at `<lake>/_envs/dev/<layer>/<table>/`. */
export const ENVIRONMENTS_DIR = '_envs';

/**
 * The folder, inside production's table folder, where environment `environment` writes its data
 * files for that table: `<lake>/<layer>/<table>/_env=<environment>/`. Delta readers read only
 * the files a log names, so production's readers ignore it until a promote names its files, by
 * relative path; VACUUM of Spark and delta-rs skips it (a `_` name that is no partition column's
 * folder), ingot's keeps what an environment references (`environmentReferences`).
 */
export function environmentDataDir(environment: string): string {
  return `_env=${environment}`;
}

/** Matches an environment name: a lower-case letter, then lower-case letters, digits, `_` or `-` (at most 64). */
export const ENVIRONMENT_NAME = /^[a-z][a-z0-9_-]{0,63}$/;

/** Key (relative to the lake root) of a table's log in an environment: environment, layer, table. */
const ENVIRONMENT_LOG = /^([^/]+)\/([^/]+)\/([^/]+)\/_delta_log\/\d{20}\.(?:json|checkpoint\.parquet)$/;

/**
 * A lake: a root location (a directory or `s3://bucket/prefix`) holding Delta tables at
 * `<layer>/<table>/`, addressed as `layer.table`. Tables from elsewhere can be registered under a name by location.
 */
export class Lake {
  private readonly tables = new Map<string, DeltaTable>();
  private readonly registered = new Map<string, string>();
  /** Tables read from and written to the environment (the others are production's). */
  private readonly routed = new Set<string>();
  /** The environment, when this lake is seen from one (`options.environment`). */
  readonly environment?: string;

  /**
   * @param root a directory or `s3://bucket/prefix` (see `openStore`).
   * @param parquet reads Delta checkpoints (an engine, e.g. `DuckDBEngine`).
   * @param options.environment the lake as environment `environment` sees it: a table the
   *   environment holds (see `openEnvironment`, `routeToEnvironment`) has its log at
   *   `<root>/_envs/<environment>/<layer>/<table>/` and its new data files in production's table
   *   folder (`environmentDataLocation`), every other table is production's.
   *   Errors: CONFIG_INVALID for a name not matching `ENVIRONMENT_NAME`.
   */
  constructor(readonly root: string, readonly parquet?: ParquetFiles, options: { environment?: string } = {}) {
    if (options.environment !== undefined) this.environment = checkEnvironmentName(options.environment);
  }

  /** The production lake of this one (same root and Parquet reader, no environment). */
  production(): Lake {
    return new Lake(this.root, this.parquet);
  }

  /** Location of table `name` in this lake's environment (whether or not it exists). Errors: CONFIG_INVALID without an environment. */
  environmentLocation(name: string): string {
    if (this.environment === undefined) throw new IngotError('CONFIG_INVALID', `the lake at ${this.root} is not seen from an environment`);
    const [, layer, table] = checkName(name);
    return joinLocation(this.root, ENVIRONMENTS_DIR, this.environment, layer!, table!);
  }

  /** Where the environment's table `name` writes its data files: `environmentDataDir` in production's table folder. Errors: CONFIG_INVALID without an environment. */
  environmentDataLocation(name: string): string {
    this.environmentLocation(name);
    const [, layer, table] = checkName(name);
    return joinLocation(this.root, layer!, table!, environmentDataDir(this.environment!));
  }

  /** Whether `name` is read from and written to the environment. */
  inEnvironment(name: string): boolean {
    return this.routed.has(name);
  }

  /** Routes `name` to the environment's table from now on (it need not exist yet: the next write creates it there). */
  routeToEnvironment(name: string): void {
    this.environmentLocation(name);
    this.routed.add(name);
    this.tables.delete(name);
  }

  /** Routes every table the environment holds to it; returns their names, sorted. A lake without an environment routes nothing. */
  async openEnvironment(): Promise<string[]> {
    if (this.environment === undefined) return [];
    const names = (await environmentTables(this.root)).get(this.environment) ?? [];
    for (const n of names) this.routeToEnvironment(n);
    return names;
  }

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
      const routed = !this.registered.has(name) && this.routed.has(name);
      const location = this.registered.get(name) ?? (routed ? this.environmentLocation(name) : joinLocation(this.root, layer!, table!));
      // an environment's table keeps its log in the environment and writes its data into production's folder
      t = new DeltaTable(openStore(location), this.parquet, routed && this.root.startsWith('/') ? { dataLocation: this.environmentDataLocation(name) } : {});
      this.tables.set(name, t);
    }
    return t;
  }

  /**
   * Names of the tables in the lake (`<layer>/<table>/` folders whose `_delta_log` holds a
   * commit) plus registered ones and the environment's, sorted. Only the two folder levels and
   * each candidate's log are read, not the tables' data files.
   */
  async list(options: { internal?: boolean } = {}): Promise<string[]> {
    const store = openStore(this.root);
    const names = new Set(this.registered.keys());
    const candidates = (await Promise.all((await store.folders('')).map(async (layer) =>
      (await store.folders(layer)).map((table) => `${layer}.${table}`).filter((n) => TABLE_NAME.test(n))))).flat();
    const found = await Promise.all(candidates.map(async (n) => {
      const log = `${n.replace('.', '/')}/_delta_log`;
      // the first commit is there unless the log expired: then the listing
      if (await store.head(`${log}/${'0'.repeat(20)}.json`)) return true;
      return (await store.names(log)).some((f) => /^\d{20}\.json$/.test(f));
    }));
    candidates.forEach((n, i) => { if (found[i]) names.add(n); });
    for (const n of this.routed) if (!names.has(n) && (await this.table(n).exists())) names.add(n);
    return [...names].filter((n) => options.internal || !n.startsWith('_')).sort();
  }
}

/** Environment name → the tables it holds (`layer.table`, sorted), of the lake at `root`; environments sorted by name. */
export async function environmentTables(root: string): Promise<Map<string, string[]>> {
  const out = new Map<string, Set<string>>();
  for (const o of await openStore(joinLocation(root, ENVIRONMENTS_DIR)).list('', { recursive: true })) {
    const m = ENVIRONMENT_LOG.exec(o.key);
    if (!m || !ENVIRONMENT_NAME.test(m[1]!) || !TABLE_NAME.test(`${m[2]}.${m[3]}`)) continue;
    const set = out.get(m[1]!) ?? new Set<string>();
    set.add(`${m[2]}.${m[3]}`);
    out.set(m[1]!, set);
  }
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, [...v].sort()]));
}

/** `name` when it is a valid environment name. Errors: CONFIG_INVALID naming the rule. */
export function checkEnvironmentName(name: string): string {
  if (!ENVIRONMENT_NAME.test(name)) throw new IngotError('CONFIG_INVALID', `environment name "${name}" must start with a lower-case letter and hold only lower-case letters, digits, _ and - (at most 64)`, { environment: name });
  return name;
}

function checkName(name: string): RegExpExecArray {
  const m = TABLE_NAME.exec(name);
  if (!m) throw new IngotError('DATASET_INVALID', `table name "${name}" must be layer.table (lower-case letters, digits, _)`, { table: name });
  return m;
}
