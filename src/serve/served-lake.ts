import type { LakeReader, LakeReaderSettings, PositionalParam, QueryOptions, QueryParam, QueryResult, ReaderDialect, RowStream, StatementFacts, StatementShape } from '../engine/reader.js';
import { openLakeReader } from '../engine/registry.js';
import type { TableScan } from '../engine/engine.js';
import { IngotError } from '../errors.js';
import { changeScans, TABLE_CHANGES } from '../operations/change-feed.js';
import { scanOf } from '../operations/scan.js';
import { TABLE_NAME, type Lake } from '../table/lake.js';
import { cacheDir } from '../storage/s3.js';
import type { Snapshot } from '../table/snapshot.js';

/** Options of `ServedLake.open`. */
export interface ServedLakeOptions {
  /** Connections in the query pool (default 4): queries run concurrently up to this many. */
  connections?: number;
  /** Connections that ad-hoc SQL (`POST /api/sql`) may not take, kept for published queries (endpoints, dashboards, rows; default 1). */
  reservedConnections?: number;
  /** Queries waiting for a connection, at most, ad-hoc and published each (default 64): beyond, QUERY_QUEUE_FULL (503). */
  maxQueued?: number;
  /** Engine worker threads (default: the engine's, all cores). */
  threads?: number;
  /** Engine memory limit, e.g. `1GB`. */
  memoryLimit?: string;
  /** A table's log is checked for new commits at most this often, ms (default 1000). */
  refreshMs?: number;
  /** The table list is read again at most this often, ms (default 2000). */
  listMs?: number;
  /** Tables whose live files total at most this many bytes are loaded into memory at each new version (default 256 MiB); larger ones are read from their Parquet files. */
  materializeBytes?: number;
  /**
   * A version that came less than this many ms after the one before is first read from its
   * Parquet files, and copied into memory only once no newer version came for this long, or for
   * three times the time between its last two versions if longer (at most a minute; default
   * 3000): a table committed to every few seconds is not copied whole at every commit.
   */
  settleMs?: number;
}

interface Attached {
  version: number;
  checkedAt: number;
  /** When this version was attached (epoch ms). */
  attachedAt: number;
  /** Time between the attachment of the version before and this one's, ms (0 for the first). */
  gapMs: number;
  /** Whether queries read an in-memory copy of it (else its Parquet files). */
  memory: boolean;
  /**
   * Whether the version has settled: it came more than `settleMs` after the one before with no
   * run of this process about to replace it, or it has been the latest for the settle window
   * since (see `settleLater`). Per-version work that only pays off for a version that lives (an
   * in-memory copy, an endpoint's index) waits for it.
   */
  settled: boolean;
  /** Set by `changed` (a commit of this process): the log is read again at the next query, even if a read was going on. */
  stale?: boolean;
  /** Told true when the version settles, false when another replaces it first (see `whenSettled`). */
  waiters?: ((settled: boolean) => void)[];
  refreshing?: Promise<number>;
  /** The timer that copies a settled version into memory. */
  settle?: NodeJS.Timeout;
}

/** Version-pinned relations kept at once (time travel, row-id scans); the least recently used are dropped. */
const PINNED_MAX = 64;

/**
 * The lake as `ingot serve` reads it, over the engine's read-only `LakeReader`: only the lake's
 * data directories readable (for a remote lake, its local cache). Each table is attached once as
 * `layer.table` at its latest snapshot (copied into memory when the table is small, else read
 * from its Parquet files) and re-attached only when a commit changed its version (the log is
 * checked at most every `refreshMs`); time-travel versions and row-id scans are pinned relations
 * (at most `PINNED_MAX`, least recently used dropped first).
 */
export class ServedLake {
  private readonly attached = new Map<string, Attached>();
  private readonly pins = new Map<string, Promise<string>>();
  /** Change feed ranges (`changes`) pinned, by `layer.table#changes<from>-<to>`: the subquery reading them and the pins it reads. */
  private readonly changePins = new Map<string, Promise<{ sql: string; keys: string[] }>>();
  /** The local directory each pinned relation's files are read from (what `ROW_FILE` values start with). */
  private readonly pinDirs = new Map<string, string>();
  private readonly clusters = new Map<string, string[]>();
  /** Runs of this process going on that may commit to each table (see `writing`). */
  private readonly writers = new Map<string, number>();
  /** When the last run of this process that may have committed to each table ended (epoch ms). */
  private readonly wrote = new Map<string, number>();
  private names?: { at: number; list: Promise<string[]> };

  private constructor(
    readonly lake: Lake,
    private readonly reader: LakeReader,
    private readonly options: ServedLakeOptions,
  ) {}

  /** Opens a reader of `lake` (its root must be a local directory or `s3://`, read through the local cache). */
  static async open(lake: Lake, options: ServedLakeOptions = {}): Promise<ServedLake> {
    const settings: LakeReaderSettings = {
      allowedDirectories: [/^[a-z][a-z0-9+.-]*:\/\//i.test(lake.root) ? cacheDir() : lake.root],
      ...(options.connections ? { connections: options.connections } : {}),
      ...(options.reservedConnections !== undefined ? { reservedConnections: options.reservedConnections } : {}),
      ...(options.maxQueued !== undefined ? { maxQueued: options.maxQueued } : {}),
      ...(options.threads ? { threads: options.threads } : {}),
      ...(options.memoryLimit ? { memoryLimit: options.memoryLimit } : {}),
    };
    return new ServedLake(lake, await openLakeReader(settings), options);
  }

  /** SQL spelling of the reader's engine (identifiers, type names) for the SQL the routes write. */
  get dialect(): ReaderDialect {
    return this.reader.dialect;
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
   * changed; the log is read at most every `refreshMs`, and at once after `changed`). A small
   * table is copied into memory, sorted by its `clusterBy` columns; a version that follows the
   * one before within `settleMs` is read from its files until it has settled. Returns the
   * attached version.
   */
  async latest(name: string): Promise<number> {
    const state = this.attached.get(name);
    const now = Date.now();
    if (state && !state.stale && now - state.checkedAt < (this.options.refreshMs ?? 1000)) return state.version;
    if (state?.refreshing) {
      if (!state.stale) return state.refreshing;
      // committed to since that read of the log began: read it again once it is done
      await state.refreshing.catch(() => {});
      return this.latest(name);
    }
    if (state) state.stale = false;
    const refresh = (async () => {
      await this.check(name);
      const table = this.lake.table(name);
      const snapshot = await table.snapshot();
      const current = this.attached.get(name);
      if (current && current.version === snapshot.version) {
        current.checkedAt = Date.now();
        // a run ended without committing to this table: the version settles as any other
        if (!current.settled && !current.settle) this.settleLater(name, snapshot, this.small(snapshot));
        return current.version;
      }
      const small = this.small(snapshot);
      // a table committed to again soon after its last version, or by a run of this process (the
      // next may follow at once), is not copied whole until it settles
      const settling = current !== undefined && current.version >= 0 && (this.writers.has(name)
        || Date.now() - (this.wrote.get(name) ?? -Infinity) < this.settleMs || Date.now() - current.attachedAt < this.settleMs);
      const scan = await scanOf(table, snapshot);
      // an in-memory copy that the version changes little is kept, updated in place, settling or not
      const memory = small && (!settling || (current.memory && this.reader.updatable(name, scan)));
      await this.attachVersion(name, snapshot, memory, !settling, scan);
      if (settling) this.settleLater(name, snapshot, small);
      return snapshot.version;
    })();
    if (state) state.refreshing = refresh;
    else this.attached.set(name, { version: -1, checkedAt: 0, attachedAt: 0, gapMs: 0, memory: false, settled: false, refreshing: refresh });
    try {
      return await refresh;
    } finally {
      const s = this.attached.get(name);
      if (s?.refreshing === refresh) delete s.refreshing;
      if (s && s.version === -1) this.attached.delete(name);
    }
  }

  /**
   * Tells the reader that tables were committed to (by this process: `ingot serve` runs the
   * pipelines itself): their logs are read again at once, in the background, so the next query
   * reads the new version without waiting for `refreshMs` (a read of the log already going on
   * is followed by another). Without `names`, every attached table. Commits by other processes
   * are still found by the `refreshMs` check.
   */
  changed(names?: string[]): void {
    for (const [name, state] of this.attached) {
      if (names && !names.includes(name)) continue;
      state.stale = true;
      void this.latest(name).catch(() => {});
    }
    // a new table: the list is read again
    if (names?.some((n) => !this.attached.has(n))) this.names = undefined;
  }

  /**
   * Tells the reader that `run` (of this process) may commit to tables `names` until it settles:
   * their versions do not settle meanwhile (no in-memory copy, no endpoint index of a version
   * about to be replaced), nor a version it committed: a pipeline triggered by arriving files
   * starts its next run at once. They settle once they have been the latest for the settle
   * window with no run going.
   */
  writing(names: string[], run: Promise<unknown>): void {
    for (const name of names) this.writers.set(name, (this.writers.get(name) ?? 0) + 1);
    void run.catch(() => {}).finally(() => {
      for (const name of names) {
        const n = (this.writers.get(name) ?? 1) - 1;
        if (n > 0) this.writers.set(name, n);
        else this.writers.delete(name);
        this.wrote.set(name, Date.now());
      }
    });
  }

  private get settleMs(): number {
    return this.options.settleMs ?? 3000;
  }

  /** Whether `snapshot`'s live files are small enough to be copied into memory (`materializeBytes`). */
  private small(snapshot: Snapshot): boolean {
    let bytes = 0;
    for (const f of snapshot.files.values()) bytes += f.size;
    return bytes <= (this.options.materializeBytes ?? 256 * 1024 * 1024);
  }

  /**
   * Whether version `version` of table `name` is the attached one and has settled (see
   * `Attached.settled`): false for a version a newer one followed within the settle window, or
   * that a run of this process is about to replace, until it has lived that long. An endpoint's
   * index (`EndpointIndex`) is built only for a settled version: a table committed to every
   * second is not indexed whole at every commit.
   */
  settled(name: string, version: number): boolean {
    const state = this.attached.get(name);
    return state !== undefined && state.version === version && state.settled;
  }

  /**
   * Resolves to true once version `version` of table `name` has settled (see `settled`; at once
   * when it has), to false when it is not the attached version or once a newer one replaced it
   * first (or the reader closed).
   */
  whenSettled(name: string, version: number): Promise<boolean> {
    const state = this.attached.get(name);
    if (!state || state.version !== version) return Promise.resolve(false);
    if (state.settled) return Promise.resolve(true);
    return new Promise((resolve) => (state.waiters ??= []).push(resolve));
  }

  /** Attaches `snapshot` as `name`, in memory (sorted by the table's cluster columns) or over its files; `settled`: see `Attached.settled`. */
  private async attachVersion(name: string, snapshot: Snapshot, memory: boolean, settled: boolean, scan?: TableScan): Promise<void> {
    const orderBy = memory ? this.clusters.get(name)?.filter((c) => snapshot.schema.fields.some((f) => f.name === c && typeof f.type === 'string')) : undefined;
    await this.reader.attach(name, scan ?? await scanOf(this.lake.table(name), snapshot), { memory, ...(orderBy?.length ? { orderBy } : {}) });
    const old = this.attached.get(name);
    if (old?.settle) clearTimeout(old.settle);
    const now = Date.now();
    // a copy of the same version keeps the version's timing
    const same = old !== undefined && old.version === snapshot.version;
    const gapMs = same ? old.gapMs : old && old.version >= 0 ? now - old.attachedAt : 0;
    const state: Attached = {
      version: snapshot.version, checkedAt: now, attachedAt: same ? old.attachedAt : now, gapMs, memory, settled: settled || (same && old.settled),
      ...(old?.refreshing ? { refreshing: old.refreshing } : {}), ...(old?.stale ? { stale: true } : {}),
    };
    this.attached.set(name, state);
    // those waiting for the version to settle are told now, or when it does (same version), or that it never will
    if (old?.waiters?.length) {
      if (same && !state.settled) state.waiters = old.waiters;
      else for (const w of old.waiters) w(same);
    }
  }

  /**
   * Marks `snapshot` of `name` settled once it has been the latest for the settle window (see
   * `settleMs`) with no run of this process about to replace it (else the window starts again),
   * and then copies it into memory when it is `small`.
   */
  private settleLater(name: string, snapshot: Snapshot, small: boolean): void {
    const state = this.attached.get(name);
    if (!state) return;
    state.settle = setTimeout(() => {
      const s = this.attached.get(name);
      if (!s || s.version !== snapshot.version) return;
      delete s.settle;
      if (this.writers.has(name)) {
        this.settleLater(name, snapshot, small);
        return;
      }
      s.settled = true;
      for (const w of s.waiters?.splice(0) ?? []) w(true);
      if (!small || s.memory || s.refreshing) return;
      const copy = this.attachVersion(name, snapshot, true, true).then(() => snapshot.version);
      s.refreshing = copy;
      copy.catch(() => {}).finally(() => {
        const now = this.attached.get(name);
        if (now?.refreshing === copy) delete now.refreshing;
      });
    }, Math.min(60_000, Math.max(this.settleMs, 3 * state.gapMs)));
    state.settle.unref();
  }

  /**
   * Asks for the in-memory copy of table `name` to be sorted by `columns` (those the table has),
   * from its next attachment on: queries filtering those columns by equality then skip most of
   * the copy. The project's endpoints ask for the columns they compare with a parameter.
   */
  clusterBy(name: string, columns: string[]): void {
    const all = [...new Set([...(this.clusters.get(name) ?? []), ...columns])];
    if (all.length) this.clusters.set(name, all);
  }

  /**
   * A relation (quoted SQL name) reading `name` at `version`, fixed for the reader's lifetime;
   * with `rowIds`, it also has `ROW_FILE` and `ROW_NUMBER`, which identify each row (a unique,
   * stable key for keyset paging). Errors: TABLE_NOT_FOUND, VERSION_NOT_FOUND.
   */
  async pinned(name: string, version: number, rowIds = false): Promise<string> {
    const key = pinKey(name, version, rowIds);
    let relation = this.pins.get(key);
    if (relation) {
      // most recently used last
      this.pins.delete(key);
      this.pins.set(key, relation);
      return relation;
    }
    relation = (async () => {
      const snapshot = await this.snapshot(name, version);
      const scan = await scanOf(this.lake.table(name), snapshot);
      this.pinDirs.set(key, scan.location);
      return this.reader.pin(key, rowIds ? { ...scan, rowIds } : scan);
    })();
    this.pins.set(key, relation);
    relation.catch(() => this.pins.delete(key));
    while (this.pins.size > PINNED_MAX) {
      const [oldest, rel] = this.pins.entries().next().value as [string, Promise<string>];
      this.pins.delete(oldest);
      this.pinDirs.delete(oldest);
      void rel.then(() => this.reader.unpin(oldest)).catch(() => {});
    }
    return relation;
  }

  /**
   * The local directory the files of `pinned(name, version, true)` are read from: each
   * `ROW_FILE` value is a path under it (a server path, kept out of responses). Call after
   * `pinned`; undefined before.
   */
  pinnedDirectory(name: string, version: number): string | undefined {
    return this.pinDirs.get(pinKey(name, version, true));
  }

  /**
   * Schema-qualified table names a statement reads. The statement must be one SELECT.
   * Errors: SQL_NOT_READ_ONLY, SQL_ERROR.
   */
  references(sql: string): Promise<string[]> {
    return this.reader.references(sql);
  }

  /** What paging and clustering need to know of one SELECT (see `LakeReader.analyze`). Errors: as `references`. */
  analyze(sql: string): Promise<StatementFacts> {
    return this.reader.analyze(sql);
  }

  /**
   * `sql` (one SELECT) with every lake table it reads replaced by the relation pinned at
   * `versions[name]` (see `pinned`; each of `versions` is pinned), through the engine's own
   * parser, so the query reads those versions whatever commits came since. Errors: as
   * `references`, TABLE_NOT_FOUND, VERSION_NOT_FOUND.
   */
  async atVersions(sql: string, versions: Record<string, number>): Promise<string> {
    const keys: Record<string, string> = {};
    for (const [name, version] of Object.entries(versions)) {
      await this.pinned(name, version);
      keys[name] = pinKey(name, version, false);
    }
    return this.reader.retarget(sql, keys);
  }

  /**
   * Runs `sql` on the reader's pool, binding typed `params` by name (`$name`); an ad-hoc query
   * (`options.adHoc`) never takes the connections kept for published ones. Errors: SQL_ERROR,
   * SQL_NOT_READ_ONLY; SQL_TIMEOUT after `options.timeoutMs` (waiting included);
   * RESULT_TOO_LARGE; QUERY_QUEUE_FULL.
   */
  async query(sql: string, params: Record<string, QueryParam> = {}, options: QueryOptions = {}): Promise<QueryResult> {
    return isoTimestamps(await this.reader.query(sql, params, options));
  }

  /**
   * The keyed form of endpoint statement `sql` for `params` (see `LakeReader.keyed`): every
   * parameter value's rows at once, each tagged with `__ingot_key_<param>`. Undefined when `sql`
   * is not a plain lookup. Errors: as `references`.
   */
  keyed(sql: string, params: string[]): Promise<{ sql: string; columns: Record<string, string> } | undefined> {
    return this.reader.keyed(sql, params);
  }

  /**
   * Time travel written in SQL (the PostgreSQL protocol's form): among `names` (those `sql`
   * reads, see `references`), `layer."table@N"` reads version N of `layer.table` and
   * `layer."table@<ISO 8601 time>"` the version current at that time (e.g.
   * `silver."flights@2024-03-01T00:00:00Z"`). Returns `sql` with those reads retargeted at pinned
   * snapshots (unchanged when there are none). Errors: TABLE_NOT_FOUND, VERSION_NOT_FOUND,
   * CONFIG_INVALID for a time that does not parse.
   */
  async travel(sql: string, names: string[]): Promise<string> {
    const keys: Record<string, string> = {};
    for (const name of names) {
      const m = /^([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*)@(.+)$/.exec(name);
      if (!m) continue;
      const [, base, at] = m as unknown as [string, string, string];
      let version: number;
      if (/^\d+$/.test(at)) {
        version = Number(at);
      } else {
        const time = Date.parse(at);
        if (Number.isNaN(time)) throw new IngotError('CONFIG_INVALID', `${name}: "${at}" is neither a version number nor an ISO 8601 time`, { table: base });
        await this.check(base);
        version = await this.lake.table(base).versionAt(time);
      }
      await this.pinned(base, version);
      keys[name] = pinKey(base, version, false);
    }
    return Object.keys(keys).length ? this.reader.retarget(sql, keys) : sql;
  }

  /**
   * `sql` with each `table_changes('layer.table', from[, to])` (a table's change data feed,
   * Spark's table function; `to` defaults to the latest version) replaced by a subquery over
   * relations pinned for that range (`changeScans`), kept as time-travel pins are. Unchanged
   * when `sql` has none. Errors: TABLE_NOT_FOUND; those of `changeScans` (CONFIG_INVALID for a
   * range past the latest version, CHANGE_FEED_UNAVAILABLE).
   */
  async changes(sql: string): Promise<string> {
    if (!/table_changes\s*\(/i.test(sql)) return sql;
    let out = sql;
    for (const m of [...sql.matchAll(TABLE_CHANGES)]) {
      const name = m[1]!;
      await this.check(name);
      const to = m[3] !== undefined ? Number(m[3]) : (await this.lake.table(name).snapshot()).version;
      const key = `${name}#changes${m[2]}-${to}`;
      let feed = this.changePins.get(key);
      if (feed) this.changePins.delete(key);
      else {
        feed = (async () => {
          const scans = await changeScans(this.lake.table(name), name, Number(m[2]), to);
          const keys = scans.map((_, i) => `${key}#${i}`);
          const parts: string[] = [];
          for (const [i, scan] of scans.entries()) parts.push(`SELECT * FROM ${await this.reader.pin(keys[i]!, scan)}`);
          return { sql: `(${parts.join(' UNION ALL ')})`, keys };
        })();
        feed.catch(() => this.changePins.delete(key));
      }
      // most recently used last; the least recently used ranges are dropped
      this.changePins.set(key, feed);
      while (this.changePins.size > PINNED_MAX) {
        const [oldest, old] = this.changePins.entries().next().value as [string, Promise<{ keys: string[] }>];
        this.changePins.delete(oldest);
        void old.then(async ({ keys }) => { for (const k of keys) await this.reader.unpin(k); }).catch(() => {});
      }
      const relation = feed.then((f) => f.sql);
      out = out.replace(m[0], await relation);
    }
    return out;
  }

  /** The result columns and parameter types of one SELECT with positional parameters (see `LakeReader.describe`). Errors: as `references`. */
  describe(sql: string): Promise<StatementShape> {
    return this.reader.describe(sql);
  }

  /**
   * Runs one SELECT with positional parameters (`$1` is `params[0]`) and returns its rows as a
   * stream, read chunk by chunk (see `LakeReader.stream`); the tables it reads must have been
   * made queryable (`latest`) first. Errors: as `query`.
   */
  stream(sql: string, params: PositionalParam[] = [], options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<RowStream> {
    return this.reader.stream(sql, params, options);
  }

  /** Closes the reader. */
  close(): Promise<void> {
    for (const s of this.attached.values()) {
      if (s.settle) clearTimeout(s.settle);
      for (const w of s.waiters?.splice(0) ?? []) w(false);
    }
    return this.reader.close();
  }
}

/** The pin key of `name` at `version` (with row ids: `ROW_FILE`, `ROW_NUMBER`). */
function pinKey(name: string, version: number, rowIds: boolean): string {
  return `${name}@${version}${rowIds ? '#rows' : ''}`;
}

/** Column types whose values the engine's query results print as timestamps (`YYYY-MM-DD HH:MM:SS[.f][+hh[:mm]]`). */
const TIMESTAMP_TYPE = /^TIMESTAMP(_S|_MS|_NS| WITH TIME ZONE)?$/;
const TIMESTAMP_TEXT = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?:([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?)?$/;

/**
 * A timestamp as the engine prints it (`2016-12-31 22:49:00.063+00`, or without an offset for
 * a TIMESTAMP, read as UTC) in ISO 8601 UTC: `2016-12-31T22:49:00.063Z`, milliseconds always
 * written, microseconds and nanoseconds when the value has them. A text of another form
 * (infinity, a year before 1000 or after 9999, BC) is returned as it is.
 */
export function isoTimestamp(text: string): string {
  const m = TIMESTAMP_TEXT.exec(text);
  if (!m) return text;
  const [, y, mo, d, h, mi, sec, frac = '', sign, oh, om, os] = m;
  let fraction = frac.replace(/0+$/, '');
  fraction = fraction.padEnd(fraction.length <= 3 ? 3 : fraction.length <= 6 ? 6 : 9, '0');
  const offsetS = sign ? (sign === '-' ? -1 : 1) * (Number(oh) * 3600 + Number(om ?? 0) * 60 + Number(os ?? 0)) : 0;
  if (offsetS === 0) return `${y}-${mo}-${d}T${h}:${mi}:${sec}.${fraction}Z`;
  const utc = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec)) - offsetS * 1000);
  if (Number(y) < 100 || utc.getUTCFullYear() < 1000 || utc.getUTCFullYear() > 9999) return text;
  return `${utc.toISOString().slice(0, 19)}.${fraction}Z`;
}

/** `result` with its timestamp columns' values in ISO 8601 UTC (see `isoTimestamp`); rows changed in place. */
function isoTimestamps(result: QueryResult): QueryResult {
  const first = result.rows[0];
  if (!first) return result;
  // rows are keyed by the columns' names made unique, in column order
  const keys = Object.keys(first);
  const columns = result.columns.flatMap((c, i) => (TIMESTAMP_TYPE.test(c.type) && keys[i] !== undefined ? [keys[i]] : []));
  if (columns.length === 0) return result;
  for (const row of result.rows) {
    for (const c of columns) {
      const v = row[c];
      if (typeof v === 'string') row[c] = isoTimestamp(v);
    }
  }
  return result;
}
