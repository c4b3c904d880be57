import { messageOf } from '../errors.js';
import type { Cell } from '../engine/reader.js';
import { isoTimestamp, type ServedLake } from './served-lake.js';

/** Misses at one table version before its index is built (a version that few requests read is never indexed). */
const MISSES_BEFORE_BUILD = 8;
/** Rows an index holds at most; a larger answer set is not indexed (the endpoint keeps querying). */
const INDEX_MAX_ROWS = 1_000_000;
/** Alias prefix of the key columns of the keyed form (see `LakeReader.keyed`). */
const KEY_PREFIX = '__ingot_key_';

/** The index of one set of table versions. */
interface Built {
  /** Table versions, in the order of `tables`, joined by commas. */
  versions: string;
  misses: number;
  /** Each key's rows (key: the JSON array of the parameter values), once built. */
  rows?: Map<string, Record<string, unknown>[]>;
  building?: Promise<void>;
}

/**
 * The answers of a lookup endpoint (one table, each parameter a string compared for equality
 * with a column, see `LakeReader.keyed`) for every parameter value, built in memory once per
 * version of its table: a cache miss is then a map lookup, not a query. Built from the keyed
 * form of the endpoint's SQL run once on the snapshot pinned at that version (so it never mixes
 * versions), after `MISSES_BEFORE_BUILD` misses at the version; until then, and for an endpoint
 * that is not such a lookup, `lookup` answers undefined and the endpoint queries. Only the
 * latest version's index is kept.
 */
export class EndpointIndex {
  private form?: Promise<{ sql: string; columns: Record<string, string> } | undefined>;
  private current?: Built;
  /** Set when the form cannot be indexed (not a lookup, keys not strings, too many rows). */
  private unusable = false;

  /**
   * `sql`: the endpoint's statement (one SELECT); `tables`: the tables it reads (one, else
   * nothing is indexed); `params`: its parameters, in the order `lookup` gets their values.
   */
  constructor(
    private readonly reader: ServedLake,
    private readonly sql: string,
    private readonly tables: string[],
    private readonly params: string[],
    private readonly onError: (message: string) => void = () => {},
  ) {
    if (tables.length !== 1 || params.length === 0) this.unusable = true;
  }

  /**
   * The rows the endpoint answers for parameter `values` (in `params` order) at table
   * `versions` (in `tables` order), in its ORDER BY order; an empty list for a value no row has.
   * Undefined when the index of those versions is not built (yet): the endpoint queries.
   */
  lookup(versions: number[], values: string[]): Record<string, unknown>[] | undefined {
    if (this.unusable) return undefined;
    const at = versions.join(',');
    if (this.current?.versions !== at) {
      // a newer version (or a cursor's older one): the index of the other is dropped only for a newer
      if (this.current && Number(this.current.versions) > Number(at)) return undefined;
      this.current = { versions: at, misses: 0 };
    }
    const built = this.current;
    if (built.rows) return built.rows.get(JSON.stringify(values)) ?? [];
    if (!built.building && ++built.misses >= MISSES_BEFORE_BUILD) {
      built.building = this.build(built, versions).catch((err: unknown) => {
        this.onError(messageOf(err));
        if (this.current === built) this.current = undefined;
      });
    }
    return undefined;
  }

  /** Runs the keyed form at `versions` and fills `built.rows`. */
  private async build(built: Built, versions: number[]): Promise<void> {
    this.form ??= this.reader.keyed(this.sql, this.params);
    const form = await this.form;
    if (!form) {
      this.unusable = true;
      return;
    }
    const sql = await this.reader.atVersions(form.sql, { [this.tables[0]!]: versions[0]! });
    const keys = this.params.map((p) => `${KEY_PREFIX}${p}`);
    const result = await this.read(sql);
    if (!result || !keys.every((k) => result.columns.some((c) => c.name === k && c.type === 'VARCHAR'))) {
      this.unusable = true;
      return;
    }
    const positions = keys.map((k) => result.columns.findIndex((c) => c.name === k));
    const kept = result.columns.map((c, i) => ({ name: c.name, i })).filter((c) => !positions.includes(c.i));
    const rows = new Map<string, Record<string, unknown>[]>();
    for (const r of result.rows) {
      const key = JSON.stringify(positions.map((i) => r[i]));
      // the row as the endpoint's own query returns it: its columns, without the keys
      const row: Record<string, unknown> = {};
      for (const c of kept) row[c.name] = r[c.i];
      const list = rows.get(key);
      if (list) list.push(row);
      else rows.set(key, [row]);
    }
    built.rows = rows;
  }

  /**
   * The rows of `sql` as `ServedLake.query` gives them (JSON-friendly values, timestamps in ISO
   * 8601), as arrays in column order. Read column by column from the engine's stream when every
   * column is of a type converted here (text, booleans, numbers, dates, timestamps; names
   * distinct), else through `query`. Undefined past `INDEX_MAX_ROWS` rows.
   */
  private async read(sql: string): Promise<{ columns: { name: string; type: string }[]; rows: unknown[][] } | undefined> {
    const stream = await this.reader.stream(sql);
    try {
      const convert = stream.columns.map((c) => CONVERT[c.type]);
      if (convert.every((f) => f !== undefined) && new Set(stream.columns.map((c) => c.name)).size === stream.columns.length) {
        const rows: unknown[][] = [];
        for (let chunk = await stream.next(); chunk; chunk = await stream.next()) {
          for (const cells of chunk) {
            const row = new Array<unknown>(cells.length);
            for (let i = 0; i < cells.length; i++) row[i] = cells[i] === null ? null : convert[i]!(cells[i]!);
            rows.push(row);
          }
          if (rows.length > INDEX_MAX_ROWS) return undefined;
        }
        return { columns: stream.columns, rows };
      }
    } finally {
      stream.close();
    }
    const result = await this.reader.query(sql, {}, { maxRows: INDEX_MAX_ROWS });
    if (result.truncated) return undefined;
    const names = Object.keys(result.rows[0] ?? {});
    return { columns: result.columns, rows: result.rows.map((r) => names.map((n) => r[n])) };
  }
}

const same = (v: Cell): unknown => v;
/** A 64-bit integer as `query` gives it: a number when a double holds it exactly, else its digits. */
const wide = (v: Cell): unknown => (Number.isSafeInteger(Number(v)) ? Number(v) : String(v));
const float = (v: Cell): unknown => (Number.isFinite(v as number) ? v : String(v));
const timestamp = (v: Cell): unknown => isoTimestamp(String(v));

/** How a streamed cell of each column type becomes the value `ServedLake.query` gives (see the engine's query results). */
const CONVERT: Record<string, ((v: Cell) => unknown) | undefined> = {
  VARCHAR: same, BOOLEAN: same, TINYINT: same, SMALLINT: same, INTEGER: same, UTINYINT: same, USMALLINT: same, UINTEGER: same,
  BIGINT: wide, HUGEINT: wide, UBIGINT: wide, FLOAT: float, DOUBLE: float, DATE: same,
  TIMESTAMP: timestamp, 'TIMESTAMP WITH TIME ZONE': timestamp,
};
