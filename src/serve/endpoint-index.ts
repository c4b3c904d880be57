import { messageOf } from '../errors.js';
import type { Cell, ColumnInfo } from '../engine/reader.js';
import { isoTimestamp, type ServedLake } from './served-lake.js';

/** Misses at one table version before its index is built (a version that few requests read is never indexed). */
const MISSES_BEFORE_BUILD = 8;
/** Rows an index holds at most; a larger answer set is not indexed (the endpoint keeps querying). */
const INDEX_MAX_ROWS = 1_000_000;
/** Alias prefix of the key columns of the keyed form (see `LakeReader.keyed`). */
const KEY_PREFIX = '__ingot_key_';

/** A parameter value to look up: text, an integer, or NULL (no row has it: `column = NULL` is never true). */
export type KeyValue = string | number | bigint | null;

/** The index of one set of table versions. */
interface Built {
  /** Table versions, in the order of `tables`, joined by commas. */
  versions: string;
  misses: number;
  /** Each key's rows (key: the JSON array of the key columns' canonical texts, see `keyText`), once built. */
  rows?: Map<string, unknown[]>;
  /** The result's columns (key columns left out), once built. */
  columns?: ColumnInfo[];
  building?: Promise<void>;
}

/** Inclusive ranges of the integer key column types (a value outside its column's range is not looked up here). */
const INTEGER_RANGE: Record<string, [bigint, bigint] | undefined> = {
  TINYINT: [-(2n ** 7n), 2n ** 7n - 1n], SMALLINT: [-(2n ** 15n), 2n ** 15n - 1n], INTEGER: [-(2n ** 31n), 2n ** 31n - 1n],
  BIGINT: [-(2n ** 63n), 2n ** 63n - 1n], HUGEINT: [-(2n ** 127n), 2n ** 127n - 1n],
  UTINYINT: [0n, 2n ** 8n - 1n], USMALLINT: [0n, 2n ** 16n - 1n], UINTEGER: [0n, 2n ** 32n - 1n], UBIGINT: [0n, 2n ** 64n - 1n],
};

/**
 * The canonical text of lookup value `v` for a key column of engine type `type` (VARCHAR or an
 * integer type), as the index's keys are written: the string itself for VARCHAR; the decimal
 * digits for an integer (given as an integer or as canonical digits `-?[1-9][0-9]*|0`, within the
 * column type's range). Undefined when the index cannot decide what the engine would answer
 * (another type, non-canonical digits that the engine would cast, a value out of range): the
 * caller then queries.
 */
export function keyText(v: Exclude<KeyValue, null>, type: string): string | undefined {
  if (type === 'VARCHAR') return typeof v === 'string' ? v : undefined;
  const range = INTEGER_RANGE[type];
  if (!range) return undefined;
  let n: bigint;
  if (typeof v === 'bigint') n = v;
  else if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) return undefined;
    n = BigInt(v);
  } else if (/^(?:-?[1-9][0-9]{0,38}|0)$/.test(v)) n = BigInt(v);
  else return undefined;
  return n < range[0] || n > range[1] ? undefined : n.toString();
}

/**
 * The answers of a lookup statement (one table, each parameter compared for equality with a text
 * or integer column, see `LakeReader.keyed`) for every parameter value, built in memory once per
 * version of its table: a cache miss is then a map lookup, not a query. Built from the keyed
 * form of the endpoint's SQL run once on the snapshot pinned at that version (so it never mixes
 * versions), after `MISSES_BEFORE_BUILD` misses at the version once the version has settled
 * (`ServedLake.whenSettled`: not for a version of a table committed to every few seconds, which a
 * newer one replaces before the index would pay for itself); until then, and for an endpoint
 * that is not such a lookup, `lookup` answers undefined and the endpoint queries. Only the
 * latest version's index is kept. Used by the HTTP endpoints; the PostgreSQL wire server's
 * prepared statements keep theirs column-wise (`postgres/statement-index.ts`).
 */
export class EndpointIndex {
  private form?: Promise<{ sql: string; columns: Record<string, string> } | undefined>;
  private current?: Built;
  /** Set when the form cannot be indexed (not a lookup, keys neither text nor integers, too many rows). */
  private unusable = false;
  /** The engine types of the key columns, in `params` order (once the form was read). */
  private keyTypes?: string[];

  /**
   * `sql`: the statement (one SELECT); `tables`: the tables it reads (one, else nothing is
   * indexed); `params`: its parameters, in the order `lookup` gets their values; `onError`: told
   * why a build failed.
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

  /** Whether the statement is known not to be indexable (then `lookup` always answers undefined). */
  get refused(): boolean {
    return this.unusable;
  }

  /**
   * The rows the endpoint answers for parameter `values` (in `params` order) at table
   * `versions` (in `tables` order), in its ORDER BY order; an empty list for a value no row has.
   * Undefined when the index of those versions is not built (yet): the endpoint queries.
   */
  lookup(versions: number[], values: string[]): Record<string, unknown>[] | undefined {
    return this.find(versions, values)?.rows as Record<string, unknown>[] | undefined;
  }

  /** The built rows of `values` at `versions` (see `lookup`), counting a miss toward building. */
  private find(versions: number[], values: KeyValue[]): { columns: ColumnInfo[]; rows: unknown[] } | undefined {
    if (this.unusable) return undefined;
    const at = versions.join(',');
    if (this.current?.versions !== at) {
      // a newer version (or a cursor's older one): the index of the other is dropped only for a newer
      if (this.current && Number(this.current.versions) > Number(at)) return undefined;
      this.current = { versions: at, misses: 0 };
    }
    const built = this.current;
    if (built.rows) {
      if (values.some((v) => v === null)) return { columns: built.columns!, rows: [] };
      const texts = values.map((v, i) => keyText(v!, this.keyTypes![i]!));
      if (texts.some((t) => t === undefined)) return undefined;
      return { columns: built.columns!, rows: built.rows.get(JSON.stringify(texts)) ?? [] };
    }
    // a version that a newer one follows within seconds (a table committed to continuously) is not
    // indexed: the build would read the whole table again at every commit, for a version soon gone
    if (!built.building && ++built.misses >= MISSES_BEFORE_BUILD) {
      const version = versions[0]!;
      built.building = this.reader.whenSettled(this.tables[0]!, version).then((settled) => (settled && this.current === built ? this.build(built, versions) : undefined)).catch((err: unknown) => {
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
    const positions = keys.map((k) => result?.columns.findIndex((c) => c.name === k) ?? -1);
    if (!result || positions.some((i) => i < 0 || (result.columns[i]!.type !== 'VARCHAR' && !INTEGER_RANGE[result.columns[i]!.type]))) {
      this.unusable = true;
      return;
    }
    this.keyTypes = positions.map((i) => result.columns[i]!.type);
    const kept = result.columns.map((c, i) => ({ name: c.name, type: c.type, i })).filter((c) => !positions.includes(c.i));
    const rows = new Map<string, unknown[]>();
    for (const r of result.rows) {
      // key cells are never NULL (the keyed form keeps rows whose key columns equal themselves)
      const key = JSON.stringify(positions.map((i) => String(r[i])));
      // the row as the statement's own query returns it: its columns, without the keys
      const row: Record<string, unknown> = {};
      for (const c of kept) row[c.name] = r[c.i];
      const list = rows.get(key);
      if (list) list.push(row);
      else rows.set(key, [row]);
    }
    built.columns = kept.map((c) => ({ name: c.name, type: c.type }));
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
