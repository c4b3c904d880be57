import { IngotError } from '../errors.js';
import { joinLocation, openStore } from '../storage/open.js';
import { environmentDataDir, environmentTables, ENVIRONMENTS_DIR, Lake, checkEnvironmentName } from '../table/lake.js';
import { deletionVectorKey } from '../table/deletion-vector.js';
import { absoluteDataPath, decodePath } from '../table/write.js';
import type { Snapshot } from '../table/snapshot.js';
import type { DomainMetadata } from '../table/actions.js';
import { clonedVersion, shallowClone, type CloneResult } from './clone.js';
import { promote } from './promote.js';

/**
 * Environments: named, zero-copy sets of tables for development inside a lake: a table's log at
 * `<lake>/_envs/<name>/<layer>/<table>/`, the data files it writes inside production's table
 * folder (`<lake>/<layer>/<table>/_env=<name>/`, named by absolute path in the environment's log),
 * so that a promote names them in production's log by relative path. A lake seen from an environment (`new Lake(root,
 * parquet, { environment })`) reads the tables the environment holds from it and every other
 * table from production; `prepareEnvironment` gives the tables a run writes a shallow clone of
 * production first, so they start from production's current version; `promoteEnvironment`
 * makes production equal to them; `dropEnvironment` deletes them.
 */

/** The lake at `root` as environment `environment` sees it, its tables routed (see `Lake.openEnvironment`). `parquet`: checkpoints. */
export async function environmentLake(root: string, environment: string, parquet?: Lake['parquet']): Promise<Lake> {
  if (!root.startsWith('/')) throw new IngotError('PROTOCOL_UNSUPPORTED', `${root}: environments are supported for lakes on a local file system only`, { environment });
  const lake = new Lake(root, parquet, { environment });
  await lake.openEnvironment();
  return lake;
}

/**
 * Makes each table of `names` the environment's before a run writes it: a table the environment
 * does not hold yet becomes a shallow clone of production's (`shallowClone`: no data copied), or,
 * when production has no such table, a new table there. Returns the clones made, by table.
 * Errors: CONFIG_INVALID for a lake without an environment; those of `shallowClone`.
 */
export async function prepareEnvironment(lake: Lake, names: Iterable<string>): Promise<Map<string, CloneResult>> {
  if (lake.environment === undefined) throw new IngotError('CONFIG_INVALID', `the lake at ${lake.root} is not seen from an environment`);
  const production = lake.production();
  const made = new Map<string, CloneResult>();
  for (const name of names) {
    if (lake.inEnvironment(name)) continue;
    const target = new Lake(lake.root, lake.parquet, { environment: lake.environment });
    target.routeToEnvironment(name);
    const envTable = target.table(name);
    if (!(await envTable.exists()) && (await production.table(name).exists())) made.set(name, await shallowClone(production.table(name), envTable, lake.parquet));
    lake.routeToEnvironment(name);
  }
  return made;
}

/** One table of an environment as `listEnvironments` reports it. */
export interface EnvironmentTable {
  table: string;
  /** The environment table's latest version. */
  version: number;
  /** Production's version it was cloned from; null: made in the environment (production had no table). */
  clonedFrom: number | null;
  /** Production's latest version; null: no production table. */
  production: number | null;
  /** Whether production moved since the clone (a promote would need --force). */
  moved: boolean;
}

/** The environments of the lake at `root`, by name, each with its tables. `parquet` reads checkpoints. */
export async function listEnvironments(root: string, parquet?: Lake['parquet']): Promise<Map<string, EnvironmentTable[]>> {
  const out = new Map<string, EnvironmentTable[]>();
  const production = new Lake(root, parquet);
  for (const [env, names] of await environmentTables(root)) {
    const lake = new Lake(root, parquet, { environment: env });
    const rows: EnvironmentTable[] = [];
    for (const name of names) {
      lake.routeToEnvironment(name);
      const [s, base, prod] = await Promise.all([lake.table(name).snapshot(), clonedVersion(lake.table(name)), production.table(name).trySnapshot()]);
      rows.push({ table: name, version: s.version, clonedFrom: base ?? null, production: prod?.version ?? null, moved: (prod?.version ?? undefined) !== base });
    }
    out.set(env, rows);
  }
  return out;
}

/** One table's outcome of `promoteEnvironment`. */
export interface PromotedTable {
  table: string;
  /** Production's version after the promote. */
  version: number;
  committed: boolean;
  addedFiles: number;
  removedFiles: number;
}

/**
 * `ingot promote`: makes each production table equal to environment `environment`'s (all its
 * tables, or those in `select`), one production commit per table (`promote`), in `order` when
 * given (dependency order: upstream tables first), else by name. Every table is checked for
 * PRODUCTION_MOVED before any is committed (unless `force`), so a refused promote commits nothing.
 * Errors: ENVIRONMENT_NOT_FOUND, CONFIG_INVALID (a selected table the environment does not
 * hold), PRODUCTION_MOVED, COMMIT_CONFLICT.
 */
export async function promoteEnvironment(root: string, environment: string, options: { select?: Iterable<string>; force?: boolean; order?: string[]; parquet?: Lake['parquet']; versions?: VersionRecords } = {}): Promise<PromotedTable[]> {
  const tables = (await listEnvironments(root, options.parquet)).get(checkEnvironmentName(environment));
  if (!tables) throw new IngotError('ENVIRONMENT_NOT_FOUND', `no environment ${environment} in the lake ${root} (ingot env list shows them)`, { environment });
  let chosen = tables;
  if (options.select) {
    const want = new Set(options.select);
    const missing = [...want].filter((t) => !tables.some((x) => x.table === t));
    if (missing.length > 0) throw new IngotError('CONFIG_INVALID', `environment ${environment} holds no table ${missing.join(', ')} (it holds ${tables.map((t) => t.table).join(', ')})`, { environment, table: missing[0] });
    chosen = tables.filter((t) => want.has(t.table));
  }
  const rank = (t: string): number => {
    const i = options.order?.indexOf(t) ?? -1;
    return i < 0 ? Number.MAX_SAFE_INTEGER : i;
  };
  chosen = [...chosen].sort((a, b) => rank(a.table) - rank(b.table) || a.table.localeCompare(b.table));
  const lake = new Lake(root, options.parquet, { environment });
  for (const t of chosen) lake.routeToEnvironment(t.table);
  if (options.versions) chosen = await upstreamFirst(lake, chosen, options.versions);
  const moved = chosen.filter((t) => t.moved);
  if (moved.length > 0 && !options.force) {
    const what = moved.map((t) => `${t.table} (${t.clonedFrom === null ? 'no table' : `version ${t.clonedFrom}`} then, ${t.production === null ? 'no table' : `version ${t.production}`} now)`).join(', ');
    throw new IngotError('PRODUCTION_MOVED', `production moved since environment ${environment} was made: ${what}; nothing was promoted. Drop the environment and run it again, or pass --force to overwrite those commits`, { environment, table: moved[0]!.table });
  }
  const production = lake.production();
  const out: PromotedTable[] = [];
  // environment version → production version of each table promoted so far
  const promoted = new Map<string, { cloned: number | null; before: number | null; from: number; to: number }>();
  const records = options.versions;
  for (const t of chosen) {
    const rewriteDomain = records ? (d: DomainMetadata): DomainMetadata => ({ ...d, configuration: records.rebase(d.domain, d.configuration, promoted) }) : undefined;
    const r = await promote(lake.table(t.table), production.table(t.table), { force: options.force, environment, ...(rewriteDomain ? { rewriteDomain } : {}) });
    promoted.set(t.table, { cloned: t.clonedFrom, before: t.production, from: t.version, to: r.version });
    out.push({ table: t.table, version: r.version, committed: r.committed, addedFiles: r.metrics['numAddedFiles']!, removedFiles: r.metrics['numRemovedFiles']! });
  }
  return out;
}

/**
 * How an application records other tables' versions in its metadata domains (ingot's interval
 * states record the upstream versions an interval was computed from): what `promoteEnvironment`
 * needs so that, after a promote, a downstream table's records name the production versions its
 * promoted upstream tables got, not their environment versions.
 */
export interface VersionRecords {
  /** The tables whose versions `configuration` of `domain` records (none for a domain of another kind). */
  tables(domain: string, configuration: string): string[];
  /**
   * `configuration` with the recorded versions of promoted tables made production's: `from` (the
   * environment's latest) becomes `to` (the promote's commit); an environment-only version
   * (above `cloned`, the production version the environment branched from) must not alias a
   * production one: it becomes `before`, production's version just before the promote.
   */
  rebase(domain: string, configuration: string, promoted: ReadonlyMap<string, { cloned: number | null; before: number | null; from: number; to: number }>): string;
}

/** `chosen` reordered so that a table comes after the tables its domains record versions of (`records.tables`), else in the given order. */
async function upstreamFirst(lake: Lake, chosen: EnvironmentTable[], records: VersionRecords): Promise<EnvironmentTable[]> {
  const deps = new Map<string, Set<string>>();
  for (const t of chosen) {
    const s = await lake.table(t.table).snapshot();
    deps.set(t.table, new Set([...s.domains.values()].flatMap((d) => records.tables(d.domain, d.configuration)).filter((x) => x !== t.table)));
  }
  const out: EnvironmentTable[] = [];
  const done = new Set<string>();
  const visit = (t: EnvironmentTable, path: Set<string>): void => {
    if (done.has(t.table) || path.has(t.table)) return;
    path.add(t.table);
    for (const d of deps.get(t.table) ?? []) {
      const up = chosen.find((x) => x.table === d);
      if (up) visit(up, path);
    }
    done.add(t.table);
    out.push(t);
  };
  for (const t of chosen) visit(t, new Set());
  return out;
}

/** Absolute locations (`file:///...`) of the data files `snapshot` of the table at `root` needs: live files and tombstones (time travel, until vacuum). */
function referenced(snapshot: Snapshot, root: string, into: Set<string>): void {
  for (const f of [...snapshot.files.values(), ...snapshot.tombstones.values()]) {
    into.add(absoluteDataPath(root, decodePath(f.path, root)));
    // and its deletion vector's file
    if (f.deletionVector?.storageType === 'u' || f.deletionVector?.storageType === 'p') into.add(absoluteDataPath(root, deletionVectorKey(f.deletionVector, root)));
  }
}

/**
 * Every data file some table of the lake at `root` references (live, or removed and kept for time
 * travel), production's and every environment's except `except`'s, as absolute locations.
 */
async function lakeReferences(root: string, parquet: Lake['parquet'], except?: string): Promise<Set<string>> {
  const out = new Set<string>();
  const production = new Lake(root, parquet);
  for (const name of await production.list({ internal: true })) {
    const s = await production.table(name).trySnapshot();
    if (s) referenced(s, production.table(name).location, out);
  }
  for (const [env, names] of await environmentTables(root)) {
    if (env === except) continue;
    const lake = new Lake(root, parquet, { environment: env });
    for (const name of names) {
      lake.routeToEnvironment(name);
      const s = await lake.table(name).trySnapshot();
      if (s) referenced(s, lake.table(name).location, out);
    }
  }
  return out;
}

/** What `dropEnvironment` did: the files deleted, and the data files kept because another table references them. */
export interface DropResult {
  tables: string[];
  deletedFiles: number;
  /** Data files the environment wrote that stay (keys relative to the lake root): production (after a promote) or another environment references them. */
  keptFiles: string[];
}

/**
 * `ingot env drop`: deletes environment `environment`: its tables' logs and every file in its
 * folder (`_envs/<name>/`), and the data files it wrote into production's table folders
 * (`<layer>/<table>/_env=<name>/`, see `Lake.environmentDataLocation`), except data files that
 * production or another environment references (a promote made production name them): those
 * stay, listed in `keptFiles`, and are production's from then on (its vacuum deletes them once
 * no version within the retention needs them). Production's logs and other files are never touched.
 * Errors: ENVIRONMENT_NOT_FOUND.
 */
export async function dropEnvironment(root: string, environment: string, parquet?: Lake['parquet']): Promise<DropResult> {
  checkEnvironmentName(environment);
  const location = joinLocation(root, ENVIRONMENTS_DIR, environment);
  const lakeStore = openStore(root);
  const objects = (await openStore(location).list('', { recursive: true })).map((o) => ({ ...o, key: `${ENVIRONMENTS_DIR}/${environment}/${o.key}` }));
  const dataDir = `/${environmentDataDir(environment)}/`;
  const written = (await lakeStore.list('', { recursive: true })).filter((o) => !o.key.startsWith(`${ENVIRONMENTS_DIR}/`) && isEnvironmentData(o.key, dataDir));
  if (objects.length === 0 && written.length === 0) throw new IngotError('ENVIRONMENT_NOT_FOUND', `no environment ${environment} in the lake ${root} (ingot env list shows them)`, { environment });
  const tables = (await environmentTables(root)).get(environment) ?? [];
  const keep = await lakeReferences(root, parquet, environment);
  const kept: string[] = [];
  let deleted = 0;
  // data first, logs last, so an interrupted drop leaves tables whose files are gone only after nothing reads them
  const ordered = [...written, ...objects.sort((a, b) => Number(a.key.includes('/_delta_log/')) - Number(b.key.includes('/_delta_log/')))];
  for (const o of ordered) {
    if (!o.key.includes('/_delta_log/') && keep.has(absoluteDataPath(root, o.key))) {
      kept.push(o.key);
      continue;
    }
    await lakeStore.delete(o.key);
    deleted++;
  }
  return { tables, deletedFiles: deleted, keptFiles: kept };
}

/** Whether lake key `key` is a file an environment wrote in a production table folder: `<layer>/<table>/<dataDir>...`. */
function isEnvironmentData(key: string, dataDir: string): boolean {
  const at = key.indexOf(dataDir);
  return at > 0 && key.slice(0, at).split('/').length === 2;
}

/**
 * The data files of production table `name` (keys relative to its root) that some environment's
 * table references: vacuum of production must keep them (`VacuumOptions.keep`), since the
 * environment's log names them while production may have removed them.
 */
export async function environmentReferences(root: string, name: string, parquet?: Lake['parquet']): Promise<Set<string>> {
  const prodRoot = new Lake(root, parquet).table(name).location;
  const out = new Set<string>();
  if (!prodRoot.startsWith('/')) return out;
  for (const [env, names] of await environmentTables(root)) {
    const lake = new Lake(root, parquet, { environment: env });
    for (const n of names) {
      lake.routeToEnvironment(n);
      const s = await lake.table(n).trySnapshot();
      if (!s) continue;
      const all = new Set<string>();
      referenced(s, lake.table(n).location, all);
      for (const file of all) {
        const key = decodePath(file, prodRoot);
        if (!key.startsWith('../')) out.add(key);
      }
    }
  }
  return out;
}
