import type { Dialect } from '../engine/dialect.js';
import { quoteIdent } from '../engine/engine.js';

/**
 * SQL for the keyed materializations (`merge`, `apply changes`): de-duplication by key, the
 * latest change per key, and SCD type 2 history built from a list of change events. Pure string
 * builders over relations the caller staged; `src/run/materialize.ts` runs them.
 */

/** Columns ingot adds to source rows (`sources/definition.ts`): carried along, never compared as SCD2 tracked values. */
export { LINEAGE_COLUMNS } from './sources/definition.js';

/** Columns an SCD type 2 table adds to the feed's columns. */
export const SCD2_COLUMNS = ['valid_from', 'valid_to', 'is_current'] as const;

/** On change rows: whether the change is a delete (`deleteWhen`). */
export const DELETE_FLAG = '__ingot_delete';
/** On change events: the change's sequence value. */
export const SEQUENCE = '__ingot_seq';

const list = (columns: string[], alias?: string): string => columns.map((c) => `${alias ? `${alias}.` : ''}${quoteIdent(c)}`).join(', ');
const sameKey = (key: string[], a: string, b: string): string => key.map((k) => `${a}.${quoteIdent(k)} = ${b}.${quoteIdent(k)}`).join(' AND ');
const allSame = (columns: string[], a: string, b: string): string =>
  columns.length === 0 ? 'true' : columns.map((c) => `${a}.${quoteIdent(c)} IS NOT DISTINCT FROM ${b}.${quoteIdent(c)}`).join(' AND ');

/**
 * `columns` of `relation`, one row per `key`: the first in the order `orderBy` (SQL ORDER BY
 * list), then `_ingested_at` and `_source` when among `columns`, then every column — so that
 * the choice is deterministic (rows tied on every column are identical). With `unique` (no key
 * is held by two rows: `changeProblemsSql`'s `repeated_keys` is 0), every row, unsorted.
 */
export function firstPerKeySql(relation: string, columns: string[], key: string[], orderBy?: string, unique = false): string {
  if (unique) return `SELECT ${list(columns)} FROM ${relation}`;
  const order = [...(orderBy ? [orderBy] : []), ...['_ingested_at', '_source'].filter((c) => columns.includes(c)).map(quoteIdent), ...columns.map(quoteIdent)];
  return `SELECT ${list(columns)} FROM (SELECT *, row_number() OVER (PARTITION BY ${list(key)} ORDER BY ${order.join(', ')}) AS __ingot_rank FROM ${relation}) AS __r WHERE __ingot_rank = 1`;
}

/**
 * Every column of `relation` (change rows), one row per `key`: the one with the highest
 * `sequence`. With `unique` (no key held by two rows, see `firstPerKeySql`), every row, unsorted.
 */
export function latestPerKeySql(relation: string, key: string[], sequence: string, unique = false): string {
  if (unique) return `SELECT * FROM ${relation}`;
  return `SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY ${list(key)} ORDER BY ${quoteIdent(sequence)} DESC) AS __ingot_rank FROM ${relation}) AS __r WHERE __ingot_rank = 1`;
}

/**
 * One row, `nulls` (rows with a NULL key column or sequence), `repeated_keys` (keys held by
 * several rows: 0 lets `firstPerKeySql` / `latestPerKeySql` skip their sort) and, for the first
 * (key, sequence) held by several rows, `dup_key` (the key as JSON text), `dup_seq` and `dup_n`
 * (NULL when none), in `dialect`'s SQL; and `n0`, `n1`... the rows where each of the boolean
 * columns `flags` is true.
 */
export function changeProblemsSql(relation: string, key: string[], dialect: Dialect, sequence?: string, flags: string[] = []): string {
  const nulls = [...key, ...(sequence ? [sequence] : [])].map((c) => `${quoteIdent(c)} IS NULL`).join(' OR ');
  const counts = flags.length > 0 ? `, (SELECT ${flags.map((f, i) => `CAST(SUM(CASE WHEN ${quoteIdent(f)} THEN 1 ELSE 0 END) AS BIGINT) AS n${i}`).join(', ')} FROM ${relation}) AS __n` : '';
  const nullCount = `(SELECT count(*) FROM ${relation} WHERE ${nulls}) AS nulls, ` +
    `(SELECT count(*) FROM (SELECT 1 AS x FROM ${relation} GROUP BY ${list(key)} HAVING count(*) > 1) AS __k) AS repeated_keys${flags.map((_f, i) => `, __n.n${i}`).join('')}`;
  if (!sequence) return `SELECT ${nullCount} FROM (SELECT 1) AS __one${counts}`;
  const keyJson = dialect.jsonOf(key);
  const dup = `SELECT ${keyJson} AS k, CAST(${quoteIdent(sequence)} AS STRING) AS s, count(*) AS n FROM ${relation} GROUP BY ${list([...key, sequence])} HAVING count(*) > 1 ORDER BY 1, 2 LIMIT 1`;
  return `SELECT ${nullCount}, d.k AS dup_key, d.s AS dup_seq, d.n AS dup_n FROM (SELECT 1) AS __one${counts} LEFT JOIN (${dup}) AS d ON true`;
}

/** What the SCD type 2 SQL needs to know about the columns. */
export interface Scd2Columns {
  key: string[];
  /** The feed's columns stored in the table (the feed minus `exceptColumns`), in table order. */
  stored: string[];
  /** Stored columns whose change opens a new version: not the key, the sequence column or lineage. */
  tracked: string[];
}

/**
 * The change events an SCD2 table's rows `history` record, as rows (`stored`, `SEQUENCE`,
 * `DELETE_FLAG`): each version is an upsert at `valid_from`; a version closed at `valid_to` that
 * no version of its key starts at was closed by a delete at `valid_to`.
 */
export function recordedEventsSql(history: string, c: Scd2Columns): string {
  return `SELECT ${list(c.stored)}, valid_from AS ${SEQUENCE}, false AS ${DELETE_FLAG} FROM ${history} ` +
    `UNION ALL SELECT ${list(c.stored, 'o')}, o.valid_to, true FROM ${history} AS o ` +
    `WHERE o.valid_to IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${history} AS n WHERE ${sameKey(c.key, 'n', 'o')} AND n.valid_from = o.valid_to)`;
}

/**
 * Change rows of `batch` as events (`stored`, `SEQUENCE`, `DELETE_FLAG`), without those whose
 * key and sequence `recorded` (events) already holds: a change the table already applied.
 */
export function newEventsSql(batch: string, sequence: string, c: Scd2Columns, recorded?: string): string {
  const known = recorded ? ` WHERE NOT EXISTS (SELECT 1 FROM ${recorded} AS r WHERE ${sameKey(c.key, 'r', 'b')} AND r.${SEQUENCE} = b.${quoteIdent(sequence)})` : '';
  return `SELECT ${list(c.stored, 'b')}, b.${quoteIdent(sequence)} AS ${SEQUENCE}, b.${DELETE_FLAG} FROM ${batch} AS b${known}`;
}

/**
 * The SCD type 2 history of `events` (rows `stored`, `SEQUENCE`, `DELETE_FLAG`; one per key and
 * sequence), replayed per key in sequence order: an upsert whose tracked values equal the
 * previous event's (an upsert) changes nothing; a delete right after a delete, or as a key's
 * first event, changes nothing; every other upsert opens a version (`valid_from` = its
 * sequence) and every other event closes the open one (`valid_to` = its sequence).
 * Columns: `stored`, valid_from, valid_to, is_current.
 */
export function historySql(events: string, c: Scd2Columns): string {
  const w = `PARTITION BY ${list(c.key)} ORDER BY ${SEQUENCE}`;
  const lags = c.tracked.map((t, i) => `, lag(${quoteIdent(t)}) OVER (${w}) AS __ingot_p${i}`).join('');
  const same = c.tracked.length === 0 ? 'true' : c.tracked.map((t, i) => `${quoteIdent(t)} IS NOT DISTINCT FROM __ingot_p${i}`).join(' AND ');
  const withPrevious = `SELECT *, lag(${DELETE_FLAG}) OVER (${w}) AS __ingot_pdel, lag(${SEQUENCE}) OVER (${w}) AS __ingot_pseq${lags} FROM ${events}`;
  const effective = `SELECT * FROM (${withPrevious}) AS __e WHERE CASE WHEN ${DELETE_FLAG} THEN __ingot_pseq IS NOT NULL AND NOT __ingot_pdel ` +
    `ELSE __ingot_pseq IS NULL OR __ingot_pdel OR NOT (${same}) END`;
  const versions = `SELECT *, lead(${SEQUENCE}) OVER (${w}) AS __ingot_next FROM (${effective}) AS __f`;
  return `SELECT ${list(c.stored)}, ${SEQUENCE} AS valid_from, __ingot_next AS valid_to, __ingot_next IS NULL AS is_current FROM (${versions}) AS __v WHERE NOT ${DELETE_FLAG}`;
}

/**
 * The MERGE source turning `old` (a table's rows for some keys) into `history` (their new rows):
 * rows of `history` not identical in `old` (flag `__ingot_drop` false: update or insert), and
 * rows of `old` whose key and `valid_from` `history` lacks (flag true: delete). Merge it on key
 * and `valid_from`.
 */
export function historyDiffSql(old: string, history: string, c: Scd2Columns): string {
  const all = [...c.stored, ...SCD2_COLUMNS];
  return `SELECT ${list(all, 'h')}, false AS __ingot_drop FROM ${history} AS h WHERE NOT EXISTS (SELECT 1 FROM ${old} AS o WHERE ${sameKey(c.key, 'o', 'h')} AND ${allSame(all, 'o', 'h')}) ` +
    `UNION ALL SELECT ${list(all, 'o')}, true FROM ${old} AS o WHERE NOT EXISTS (SELECT 1 FROM ${history} AS h WHERE ${sameKey(c.key, 'h', 'o')} AND h.valid_from = o.valid_from)`;
}

/** `target.k = source.k AND ...` over `columns`: a MERGE condition. */
export function keyMatch(columns: string[]): string {
  return columns.map((k) => `target.${quoteIdent(k)} = source.${quoteIdent(k)}`).join(' AND ');
}
