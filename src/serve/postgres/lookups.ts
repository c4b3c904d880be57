import type { Cell, ColumnInfo, PositionalParam, RowStream } from '../../engine/reader.js';
import type { KeyValue } from '../endpoint-index.js';
import type { ServedLake } from '../served-lake.js';
import { readsCatalog } from './catalog.js';
import { StatementIndex } from './statement-index.js';

/** Lookup statements indexed per served lake, by statement text (most recently used last), and the bytes each built index holds. */
const INDEXES = new WeakMap<ServedLake, { byText: Map<string, StatementIndex>; bytes: Map<string, number> }>();
const INDEXES_MAX = 256;
/**
 * Bytes all of a lake's statement indexes hold at most (their rows column-wise, see `RowTable`;
 * the key maps come on top, about 50 bytes a key): past it, the least recently used indexes are
 * dropped (any text can be prepared by any client).
 */
const INDEXED_BYTES_MAX = 256 * 1024 * 1024;

/** Names a lookup never indexes: catalogs, the engine's own schemas, time travel (`table@N`). */
const NOT_INDEXED = /^(pg_catalog|information_schema|main|temp|system|__ingot)\.|@/i;

/** Options of `lookupStream`: how the statement's tables are found and where index builds are logged. */
export interface LookupOptions {
  /** The tables `sql` reads (`ServedLake.references`, remembered by the caller). */
  tablesOf: (sql: string) => Promise<string[]>;
  /** Structured log lines: `postgres lookup index built` (info) and `postgres lookup index failed` (warn). */
  log?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

/**
 * The rows of an extended-protocol statement answered from memory, when it is a lookup of one
 * table (`column = $n` conjuncts comparing text or integer columns, no aggregate, LIMIT or
 * subquery: see `LakeReader.keyed`) whose index at the table's latest version is built (a
 * `StatementIndex`, the rows kept column-wise, built after a few executions at that version;
 * a new version starts a new one). The stream has the columns (names, engine types) and cells
 * the statement's own DuckDB execution gives, so the wire encodings are the same; a NULL
 * parameter matches no row. Undefined (the caller runs the statement) when `params` is empty,
 * a parameter is neither text, an integer nor NULL, the statement reads the catalog, a change
 * feed, several tables or a pinned version, or the index is not (yet) built. A lake's indexes
 * hold at most `INDEXED_BYTES_MAX` bytes together (least recently used texts dropped first).
 * Errors: those of `tablesOf` and `ServedLake.latest`.
 */
export async function lookupStream(lake: ServedLake, sql: string, params: PositionalParam[], options: LookupOptions): Promise<RowStream | undefined> {
  if (params.length === 0 || readsCatalog(sql) || /\btable_changes\s*\(|\bduckdb_\w+\s*\(/i.test(sql)) return undefined;
  const values: KeyValue[] = [];
  for (const p of params) {
    if (p.type === 'NULL') values.push(null);
    else if (p.type === 'BIGINT' || p.type === 'VARCHAR') values.push(p.value);
    else return undefined;
  }
  let state = INDEXES.get(lake);
  if (!state) INDEXES.set(lake, (state = { byText: new Map(), bytes: new Map() }));
  const { byText: cache, bytes } = state;
  let index = cache.get(sql);
  if (index?.refused) return undefined;
  const tables = await options.tablesOf(sql);
  if (tables.length !== 1 || NOT_INDEXED.test(tables[0]!)) return undefined;
  const table = tables[0]!;
  if (index) {
    cache.delete(sql);
    cache.set(sql, index);
  } else {
    const log = options.log;
    const created: StatementIndex = new StatementIndex(
      lake, sql, table, params.length,
      (message) => log?.('warn', 'postgres lookup index failed', { table, message }),
      (facts) => {
        log?.('info', 'postgres lookup index built', { table, version: facts.version, keys: facts.keys, rows: facts.rows, bytes: facts.bytes });
        if (cache.get(sql) !== created) return;
        bytes.set(sql, facts.bytes);
        let total = 0;
        for (const n of bytes.values()) total += n;
        // the least recently used other texts are dropped until the bytes fit
        for (const text of [...cache.keys()]) {
          if (total <= INDEXED_BYTES_MAX) break;
          if (text === sql) continue;
          total -= bytes.get(text) ?? 0;
          cache.delete(text);
          bytes.delete(text);
        }
      },
    );
    index = created;
    if (cache.size >= INDEXES_MAX) {
      const oldest = cache.keys().next().value!;
      cache.delete(oldest);
      bytes.delete(oldest);
    }
    cache.set(sql, index);
  }
  const hit = index.lookupCells(await lake.latest(table), values);
  return hit ? rowsStream(hit.columns, hit.rows) : undefined;
}

/** A `RowStream` over rows already in memory (one chunk; never changed by its reader). */
function rowsStream(columns: ColumnInfo[], rows: Cell[][]): RowStream {
  let done = rows.length === 0;
  return {
    columns,
    next: () => {
      if (done) return Promise.resolve(null);
      done = true;
      return Promise.resolve(rows);
    },
    cancel: () => {},
    close: () => {
      done = true;
    },
  };
}
