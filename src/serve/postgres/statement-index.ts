import type { Cell, ColumnInfo } from '../../engine/reader.js';
import { messageOf } from '../../errors.js';
import { keyText, type KeyValue } from '../endpoint-index.js';
import type { ServedLake } from '../served-lake.js';

/** Executions at one table version before its index is built (a version that few statements read is never indexed). */
const MISSES_BEFORE_BUILD = 8;
/** Rows an index holds at most; a larger answer set is not indexed (the statement keeps running in the engine). */
const INDEX_MAX_ROWS = 1_000_000;
/** Alias prefix of the key columns of the keyed form (see `LakeReader.keyed`). */
const KEY_PREFIX = '__ingot_key_';
/** Rows the column arrays are first sized for; they double as rows come. */
const FIRST_CAPACITY = 4096;

/** How a column's cells are kept: doubles, 64-bit integers, booleans, UTF-8 text, or the cells themselves (nested values, blobs, decimals). */
type Kind = 'f64' | 'i64' | 'u64' | 'bool' | 'text' | 'cell';

/** The kind of each engine type whose streamed cell is a number, bigint, boolean or string (see the DuckDB reader's `rowsOf`); others are kept as cells. */
const KINDS: Record<string, Kind | undefined> = {
  TINYINT: 'f64', SMALLINT: 'f64', INTEGER: 'f64', UTINYINT: 'f64', USMALLINT: 'f64', UINTEGER: 'f64', FLOAT: 'f64', DOUBLE: 'f64',
  BIGINT: 'i64', UBIGINT: 'u64', BOOLEAN: 'bool',
  VARCHAR: 'text', DATE: 'text', TIMESTAMP: 'text', 'TIMESTAMP WITH TIME ZONE': 'text', TIMESTAMP_S: 'text', TIMESTAMP_MS: 'text', TIMESTAMP_NS: 'text',
};

/** Engine types a key column may have: text and integers (see `keyText`). */
const KEY_TYPE = /^(VARCHAR|TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT)$/;

/** One column of a `RowTable`: values in a typed array (text as UTF-8 bytes with end offsets), nulls in a byte array made on the first null. */
interface Column {
  kind: Kind;
  values: Float64Array | BigInt64Array | BigUint64Array | Uint8Array | Uint32Array | Cell[];
  /** UTF-8 bytes of a text column (`values` holds each row's end offset). */
  bytes?: Buffer;
  /** Bytes of `bytes` used. */
  used: number;
  /** 1 where the row's cell is NULL. */
  nulls?: Uint8Array;
}

/**
 * Rows of engine cells kept column by column (see `Kind`): a number costs 8 bytes, a text its
 * UTF-8 bytes and a 4-byte offset, instead of an array and a heap object per row and cell.
 * `row(i)` gives back cells equal to those added (same types and values), so their wire
 * encodings are the same.
 */
export class RowTable {
  private readonly cols: Column[];
  private capacity = FIRST_CAPACITY;
  /** Rows held. */
  length = 0;

  /** `types`: the engine type of each column, in column order. */
  constructor(types: string[]) {
    this.cols = types.map((t) => {
      const kind = KINDS[t] ?? 'cell';
      return { kind, values: this.array(kind, this.capacity), used: 0, ...(kind === 'text' ? { bytes: Buffer.allocUnsafe(64 * 1024) } : {}) };
    });
  }

  private array(kind: Kind, n: number): Column['values'] {
    switch (kind) {
      case 'f64': return new Float64Array(n);
      case 'i64': return new BigInt64Array(n);
      case 'u64': return new BigUint64Array(n);
      case 'bool': return new Uint8Array(n);
      case 'text': return new Uint32Array(n);
      case 'cell': return new Array<Cell>(n);
    }
  }

  /** Bytes the rows take: typed arrays, text bytes, and 8 per kept cell (its own size not counted). */
  get bytes(): number {
    let n = 0;
    for (const c of this.cols) {
      n += c.values instanceof Array ? c.values.length * 8 : c.values.byteLength;
      n += (c.bytes?.length ?? 0) + (c.nulls?.length ?? 0);
    }
    return n;
  }

  /** Appends `cells` (one cell per column, of the kind its type gives); returns the row's number. Errors: TypeError for a cell of another kind. */
  add(cells: Cell[]): number {
    const r = this.length;
    if (r === this.capacity) this.grow();
    for (let i = 0; i < this.cols.length; i++) {
      const c = this.cols[i]!;
      const v = cells[i]!;
      if (v === null || v === undefined) {
        c.nulls ??= new Uint8Array(this.capacity);
        c.nulls[r] = 1;
        if (c.kind === 'text') (c.values as Uint32Array)[r] = c.used;
        continue;
      }
      switch (c.kind) {
        case 'f64':
          if (typeof v !== 'number') throw new TypeError(`column ${i}: a number was expected`);
          (c.values as Float64Array)[r] = v;
          break;
        case 'i64': case 'u64':
          if (typeof v !== 'bigint') throw new TypeError(`column ${i}: a bigint was expected`);
          (c.values as BigInt64Array)[r] = v;
          break;
        case 'bool':
          if (typeof v !== 'boolean') throw new TypeError(`column ${i}: a boolean was expected`);
          (c.values as Uint8Array)[r] = v ? 1 : 0;
          break;
        case 'text': {
          if (typeof v !== 'string') throw new TypeError(`column ${i}: a string was expected`);
          // at most 3 bytes of UTF-8 per UTF-16 unit
          if (c.used + v.length * 3 > c.bytes!.length) {
            const bigger = Buffer.allocUnsafe(Math.max(c.bytes!.length * 2, c.used + v.length * 3));
            c.bytes!.copy(bigger, 0, 0, c.used);
            c.bytes = bigger;
          }
          c.used += c.bytes!.write(v, c.used, 'utf8');
          (c.values as Uint32Array)[r] = c.used;
          break;
        }
        case 'cell':
          (c.values as Cell[])[r] = v;
      }
    }
    this.length++;
    return r;
  }

  private grow(): void {
    const capacity = this.capacity * 2;
    for (const c of this.cols) {
      if (c.values instanceof Array) c.values.length = capacity;
      else {
        const bigger = this.array(c.kind, capacity) as Float64Array;
        bigger.set(c.values as Float64Array);
        c.values = bigger;
      }
      if (c.nulls) {
        const nulls = new Uint8Array(capacity);
        nulls.set(c.nulls);
        c.nulls = nulls;
      }
    }
    this.capacity = capacity;
  }

  /** Row `r`'s cells, as they were added. */
  row(r: number): Cell[] {
    const out = new Array<Cell>(this.cols.length);
    for (let i = 0; i < this.cols.length; i++) {
      const c = this.cols[i]!;
      if (c.nulls?.[r]) {
        out[i] = null;
        continue;
      }
      switch (c.kind) {
        case 'f64': out[i] = (c.values as Float64Array)[r]!; break;
        case 'i64': out[i] = (c.values as BigInt64Array)[r]!; break;
        case 'u64': out[i] = (c.values as BigUint64Array)[r]!; break;
        case 'bool': out[i] = (c.values as Uint8Array)[r] === 1; break;
        case 'text': {
          const ends = c.values as Uint32Array;
          out[i] = c.bytes!.toString('utf8', r === 0 ? 0 : ends[r - 1]!, ends[r]!);
          break;
        }
        case 'cell': out[i] = (c.values as Cell[])[r]!;
      }
    }
    return out;
  }
}

/** The index of one table version. */
interface Built {
  version: number;
  misses: number;
  /** The rows (key columns left out), once built. */
  table?: RowTable;
  /** Each key's first row (key: see `StatementIndex.keyOf`), once built. */
  first?: Map<string | number, number>;
  /** Each row's next row of the same key, -1 after the last. */
  next?: Int32Array;
  /** The result's columns (key columns left out), once built. */
  columns?: ColumnInfo[];
  building?: Promise<void>;
}

/** What a built index holds: table version, distinct keys, rows, and the bytes its rows and links take (the key map not counted). */
export interface IndexFacts {
  version: number;
  keys: number;
  rows: number;
  bytes: number;
}

/**
 * The answers of a prepared lookup statement of one table (each parameter `$n` compared for
 * equality with a text or integer column: the keyed form of `LakeReader.keyed`) for every
 * parameter value, built in memory once per version of its table, after `MISSES_BEFORE_BUILD`
 * executions at that version: an execution is then a map lookup, not a query. Built by streaming
 * the keyed form on the snapshot pinned at that version chunk by chunk into a `RowTable` (the
 * rows column-wise: a 1,000,000-row table of 8 columns takes about 100 MB, not the ~700 MB of an
 * array of cells per row); only the latest version's index is kept. The rows it gives are the
 * engine's cells, as the statement's own DuckDB execution streams them.
 */
export class StatementIndex {
  private form?: Promise<{ sql: string; columns: Record<string, string> } | undefined>;
  private current?: Built;
  /** Set when the statement cannot be indexed (not a lookup, keys neither text nor integers, too many rows). */
  private unusable = false;
  /** The engine types of the key columns, in parameter order (once the form was read). */
  private keyTypes?: string[];

  /**
   * `sql`: the statement (one SELECT of `table`, parameters `$1`..`$params`); `onError`: told why
   * a build failed; `onBuilt`: told each built index's facts.
   */
  constructor(
    private readonly lake: ServedLake,
    private readonly sql: string,
    private readonly table: string,
    private readonly params: number,
    private readonly onError: (message: string) => void = () => {},
    private readonly onBuilt: (facts: IndexFacts) => void = () => {},
  ) {
    if (params === 0) this.unusable = true;
  }

  /** Whether the statement is known not to be indexable (then `lookupCells` always answers undefined). */
  get refused(): boolean {
    return this.unusable;
  }

  /**
   * The engine's cells of the statement's answer for parameter `values` (in `$n` order; null:
   * SQL NULL, no row) at table `version`, in its ORDER BY order, with the result's columns
   * (names and engine types, key columns left out). Undefined when the index of that version is
   * not built (yet; counting a miss toward building), or a value is of a kind the index cannot
   * compare as the engine would (see `keyText`): the caller queries.
   */
  lookupCells(version: number, values: KeyValue[]): { columns: ColumnInfo[]; rows: Cell[][] } | undefined {
    if (this.unusable) return undefined;
    if (this.current?.version !== version) {
      // a newer version (or a cursor's older one): the index of the other is dropped only for a newer
      if (this.current && this.current.version > version) return undefined;
      this.current = { version, misses: 0 };
    }
    const built = this.current;
    if (built.table) {
      if (values.some((v) => v === null)) return { columns: built.columns!, rows: [] };
      const texts = values.map((v, i) => keyText(v!, this.keyTypes![i]!));
      if (texts.some((t) => t === undefined)) return undefined;
      const rows: Cell[][] = [];
      for (let r = built.first!.get(this.keyOf(texts as string[])) ?? -1; r >= 0; r = built.next![r]!) rows.push(built.table.row(r));
      return { columns: built.columns!, rows };
    }
    if (!built.building && ++built.misses >= MISSES_BEFORE_BUILD) {
      built.building = this.build(built).catch((err: unknown) => {
        this.onError(messageOf(err));
        if (this.current === built) this.current = undefined;
      });
    }
    return undefined;
  }

  /** The map key of canonical key texts: one integer key as a number when a double holds it exactly, one text key itself, several as their JSON array. */
  private keyOf(texts: string[]): string | number {
    if (texts.length > 1) return JSON.stringify(texts);
    const t = texts[0]!;
    if (this.keyTypes![0] === 'VARCHAR') return t;
    const n = Number(t);
    return Number.isSafeInteger(n) ? n : t;
  }

  /** Streams the keyed form at `built.version` into a `RowTable` and its key map. */
  private async build(built: Built): Promise<void> {
    this.form ??= this.lake.keyed(this.sql, Array.from({ length: this.params }, (_, i) => String(i + 1)));
    const form = await this.form;
    if (!form) {
      this.unusable = true;
      return;
    }
    const sql = await this.lake.atVersions(form.sql, { [this.table]: built.version });
    const stream = await this.lake.stream(sql);
    try {
      const positions = Array.from({ length: this.params }, (_, i) => stream.columns.findIndex((c) => c.name === `${KEY_PREFIX}${i + 1}`));
      if (positions.some((i) => i < 0 || !KEY_TYPE.test(stream.columns[i]!.type))) {
        this.unusable = true;
        return;
      }
      this.keyTypes = positions.map((i) => stream.columns[i]!.type);
      const kept = stream.columns.flatMap((c, i) => (positions.includes(i) ? [] : [i]));
      const table = new RowTable(kept.map((i) => stream.columns[i]!.type));
      const first = new Map<string | number, number>();
      // each chain's last row, to append in the result's order
      let last = new Int32Array(FIRST_CAPACITY);
      let next = new Int32Array(FIRST_CAPACITY);
      const row = new Array<Cell>(kept.length);
      const texts = new Array<string>(positions.length);
      for (let chunk = await stream.next(); chunk; chunk = await stream.next()) {
        if (table.length + chunk.length > INDEX_MAX_ROWS) {
          this.unusable = true;
          return;
        }
        for (const cells of chunk) {
          for (let j = 0; j < kept.length; j++) row[j] = cells[kept[j]!]!;
          const r = table.add(row);
          if (r >= next.length) {
            const n = new Int32Array(next.length * 2);
            n.set(next);
            next = n;
            const l = new Int32Array(last.length * 2);
            l.set(last);
            last = l;
          }
          next[r] = -1;
          // key cells are never NULL (the keyed form keeps rows whose key columns equal themselves)
          for (let k = 0; k < positions.length; k++) texts[k] = String(cells[positions[k]!]);
          const key = this.keyOf(texts);
          const head = first.get(key);
          if (head === undefined) {
            first.set(key, r);
            last[r] = r;
          } else {
            next[last[head]!] = r;
            last[head] = r;
          }
        }
      }
      built.columns = kept.map((i) => ({ name: stream.columns[i]!.name, type: stream.columns[i]!.type }));
      built.table = table;
      built.first = first;
      built.next = next.length === table.length ? next : next.slice(0, table.length);
      this.onBuilt({ version: built.version, keys: first.size, rows: table.length, bytes: table.bytes + built.next.byteLength });
    } finally {
      stream.close();
    }
  }
}
