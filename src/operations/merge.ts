import { IngotError, messageOf } from '../errors.js';
import { quoteIdent, ROW_FILE, ROW_NUMBER, type Engine } from '../engine/engine.js';
import type { InsertClause, MatchedClause, MergeClauses } from '../engine/merge-clauses.js';
import type { Add } from '../table/actions.js';
import type { Filter } from '../table/filter.js';
import { fieldOf, mergeSchemas, SchemaConflict, type StructType } from '../table/schema.js';
import type { Snapshot } from '../table/snapshot.js';
import type { DeltaTable, PreparedCommit } from '../table/table.js';
import { attachTarget, columnList, commitPrepared, fileList, prepareRewrite, TARGET, unchanged, writableSnapshot, writeFiles, type OperationResult } from './rewrite.js';
import { assertWritable, changeFeedEnabled, deletionVectorsEnabled } from '../table/write.js';
import { liveRows, markDeleted } from './deletion-vectors.js';
import { CHANGE_TYPE, writeChangeFiles } from './change-data.js';
import { keyTerms } from './merge-keys.js';
import { keyIndexCandidates } from './key-index.js';

/**
 * A MERGE (Delta's upsert): its clauses (`MergeClauses`, declared beside `Engine.commit`, which
 * takes them too) and the source rows.
 */
export interface MergeOptions extends MergeClauses {
  /** A query giving the source rows. */
  source: string;
}

const SOURCE = '__ingot_merge_source';
const MATCHES = '__ingot_merge_matches';
const PRESENT = '__ingot_present';
/** Prefix of the target's columns carried by MATCHES (by position: names may clash with f, r, s, a). */
const CARRIED = '__ingot_t';
/** Number of the source row, so that matches can name it. */
const SOURCE_ROW = '__ingot_source_row';
/** On a target row: the number of the source row it matched, NULL if none. */
const MATCH = '__ingot_match';
const ACTION = '__ingot_action';
/** Action codes: 0 keeps a target row as it is, -1 drops an unmatched source row. */
const KEEP = 0;
const SKIP = -1;
const BY_SOURCE = 1000;
const INSERT = 2000;

/**
 * The MERGE operation. Joins the source with the target files that may hold matches (with
 * whenNotMatchedBySource clauses, every file; otherwise, when `on` is a conjunction of
 * `target.<column> = source.<column>`: on integer or date columns, the files whose min/max stats
 * overlap the source's key range; and when those are still more than half of a table's files,
 * from the second such merge into the table in the process on, the files whose keys' fingerprints
 * match a source key's in the table's key index kept for the engine, `keyIndexCandidates`)
 * into a small table of matched (file, row, source row, action) entries. That table gives the metrics, except with whenNotMatchedBySource clauses, which need a
 * counting pass over the files; then only the files holding matches are rewritten with the
 * clauses applied and the inserted rows written, in one commit (`operation: MERGE`). With only
 * `whenNotMatched` clauses, no file is rewritten: the new rows are appended. On a table with
 * deletion vectors on (`deletionVectorsEnabled`), no file is rewritten either: the updated and
 * inserted rows are written as new files and the target rows updated or deleted are marked
 * deleted in deletion vectors (`markDeleted`). With the change data
 * feed on (`changeFeedEnabled`), a merge that rewrites files also writes the rows it changed as
 * change data files (`update_preimage` / `update_postimage`, `delete`, `insert`).
 * Metrics: numSourceRows, numTargetRowsInserted / Updated / Deleted / Copied, numTargetFilesAdded / Removed,
 * numTargetFilesBeforeSkipping / AfterSkipping (the table's live files, and those the merge read).
 * Errors: MERGE_MULTIPLE_MATCHES when a target row matches several source rows and a matched
 * clause would modify it (as in Delta), COLUMN_UNKNOWN, SQL_ERROR, PROTOCOL_UNSUPPORTED, COMMIT_CONFLICT.
 */
export async function merge(table: DeltaTable, engine: Engine, options: MergeOptions): Promise<OperationResult> {
  const snapshot = await writableSnapshot(table);
  const plan = await prepareMerge(table, engine, options, snapshot);
  return plan.commit ? commitPrepared(table, { commit: plan.commit, metrics: plan.metrics }) : unchanged(snapshot, plan.metrics);
}

/** A merge ready to commit (`prepareMerge`); no `commit` when the merge changes nothing. */
export interface PreparedMerge {
  commit?: PreparedCommit;
  /** The metrics `merge` reports (see there). */
  metrics: Record<string, number>;
}

/**
 * Plans the MERGE of `options` into `snapshot` of `table` and writes its data files, without
 * committing: the caller commits `commit` with `DeltaTable.commit` (its `readVersion` is
 * `snapshot.version`, so a concurrent change of the table is detected then) or, when it gives
 * up, deletes the files the commit adds (`discardCommit`). `txn` is committed with it. The rest as `merge`.
 */
export async function prepareMerge(table: DeltaTable, engine: Engine, options: MergeOptions, snapshot: Snapshot, txn?: { appId: string; version: number }): Promise<PreparedMerge> {
  assertWritable(snapshot, table.location);
  const matched = options.whenMatched ?? [];
  const notMatched = options.whenNotMatched ?? [];
  const bySource = options.whenNotMatchedBySource ?? [];
  const fail = (err: unknown): never => {
    if (err instanceof IngotError && err.code !== 'SQL_ERROR') throw err;
    throw new IngotError('SQL_ERROR', `${table.location}: merge: ${messageOf(err)}`, { table: table.location }, { cause: err });
  };
  try {
    const staged = await engine.stage(SOURCE, `SELECT *, true AS ${PRESENT}, row_number() OVER () AS ${SOURCE_ROW} FROM (${options.source})`).catch(fail);
    // the table as the merge writes it: with mergeSchema, its schema gains the source's new columns
    const work = options.mergeSchema ? evolve(snapshot, staged.schema, options.mergeSchema, table.location) : snapshot;
    const schema = work.schema;
    checkColumns(table.location, schema, staged.schema, [...matched, ...bySource], notMatched);
    let candidates = bySource.length > 0 ? [...snapshot.files.values()] : await filesInKeyRange(engine, snapshot, staged.schema, options.on).catch(fail);
    if (bySource.length === 0) {
      candidates = (await keyIndexCandidates(engine, table, snapshot, { source: SOURCE, sourceSchema: staged.schema, sourceRows: staged.rows, on: options.on, candidates }).catch(fail)) ?? candidates;
    }
    const byFile = await attachTarget(engine, table, work, candidates);
    const action = actionExpr(matched, bySource, notMatched);
    // with deletion vectors (and no whenNotMatchedBySource clause) only matched target rows can
    // change: the matches carry their columns, so the write reads no target file again
    const dv = deletionVectorsEnabled(snapshot);
    const carried = dv && bySource.length === 0 && matched.length > 0;
    const carry = carried ? schema.fields.map((f, i) => `, target.${quoteIdent(f.name)} AS ${quoteIdent(`${CARRIED}${i}`)}`).join('') : '';
    await engine.stage(MATCHES, `SELECT target.${ROW_FILE} AS f, target.${ROW_NUMBER} AS r, source.${SOURCE_ROW} AS s, ${action} AS a${carry} ` +
      `FROM ${TARGET} AS target JOIN ${SOURCE} AS source ON (${options.on})`).catch(fail);

    let touched: string[] = [];
    let matchedRows = 0;
    const onlyDelete = matched.length === 1 && 'delete' in matched[0]! && !matched[0].condition;
    const noTarget = `(SELECT * FROM ${TARGET} WHERE false) AS target`;
    // the source rows matching no target row, each with its action
    const inserts = notMatched.length > 0 ? `SELECT ${action} AS a FROM ${SOURCE} AS source LEFT JOIN ${noTarget} ON false WHERE source.${SOURCE_ROW} NOT IN (SELECT s FROM ${MATCHES})` : undefined;
    let tallied: Tallied | undefined;
    if (matched.length > 0 || bySource.length > 0) {
      // one query over the matches: per file (k = 0) its matches and distinct target rows, per
      // action (k = 1) its matches, and per action the unmatched source rows (k = 2)
      const withInserts = inserts !== undefined && bySource.length === 0;
      const rows = await engine.query(`SELECT GROUPING(f) AS k, f, a, count(*) AS n, count(DISTINCT r) AS d FROM ${MATCHES} GROUP BY GROUPING SETS ((f), (a))` +
        (withInserts ? ` UNION ALL SELECT 2 AS k, NULL AS f, a, count(*) AS n, NULL AS d FROM (${inserts}) GROUP BY a` : ''));
      const files = rows.filter((r) => Number(r['k']) === 0);
      // duplicates would be written twice (or updated ambiguously) unless every match is deleted
      if (!onlyDelete && files.some((r) => Number(r['n']) > Number(r['d']))) {
        const m = (await engine.query(`SELECT f, r, count(*) AS n FROM ${MATCHES} GROUP BY f, r HAVING count(*) > 1 LIMIT 1`))[0]!;
        throw new IngotError('MERGE_MULTIPLE_MATCHES', `${table.location}: row ${String(m['r'])} of ${String(m['f'])} matches ${String(m['n'])} source rows on ${options.on}; a merge may modify each target row once — deduplicate the source`, { table: table.location, file: String(m['f']), row: Number(m['r']) });
      }
      touched = bySource.length > 0 ? [...byFile.keys()] : files.map((r) => String(r['f']));
      matchedRows = files.reduce((n, r) => n + Number(r['d']), 0);
      if (bySource.length === 0) tallied = { matches: tallyOf(rows.filter((r) => Number(r['k']) === 1)), ...(withInserts ? { inserts: tallyOf(rows.filter((r) => Number(r['k']) === 2)) } : {}) };
    }
    if (touched.length === 0 && notMatched.length === 0) return { metrics: { numSourceRows: staged.rows, numTargetRowsMatched: 0 } };

    const columns = schema.fields.map((f) => `${columnExpr(f.name, matched, bySource, notMatched)} AS ${quoteIdent(f.name)}`);
    // each row of the touched files, with the source row it matched (through MATCHES: a join with few rows)
    // with deletion vectors (and no whenNotMatchedBySource clause) only matched target rows can change: the others stay where they are
    const targetRows = carried
      ? `(SELECT ${schema.fields.map((f, i) => `m.${quoteIdent(`${CARRIED}${i}`)} AS ${quoteIdent(f.name)}`).join(', ')}, m.f AS ${ROW_FILE}, m.r AS ${ROW_NUMBER}, m.s AS ${MATCH} FROM ${MATCHES} AS m) AS target`
      : `(SELECT t.*, m.s AS ${MATCH} FROM (SELECT * FROM ${TARGET} WHERE ${ROW_FILE} IN (${fileList(touched)})) AS t ` +
        `${dv && bySource.length === 0 ? 'JOIN' : 'LEFT JOIN'} ${MATCHES} AS m ON m.f = t.${ROW_FILE} AND m.r = t.${ROW_NUMBER}) AS target`;
    // insert-only: no target row changes, so only source rows without a match are read
    const joined = touched.length > 0
      ? `${targetRows} FULL OUTER JOIN ${SOURCE} AS source ON source.${SOURCE_ROW} = target.${MATCH}`
      : `${SOURCE} AS source LEFT JOIN ${noTarget} ON false WHERE source.${SOURCE_ROW} NOT IN (SELECT s FROM ${MATCHES})`;
    const inner = `SELECT ${action} AS ${ACTION}, ${columns.join(', ')} FROM ${joined}`;
    const deletes = [...clauseCodes(matched, 1, 'delete'), ...clauseCodes(bySource, BY_SOURCE, 'delete'), SKIP];
    const counts = await countActions(engine, { bySource: bySource.length > 0, inner, byFile, touched, matchedRows, inserts, tallied }).catch(fail);
    const sum = (pred: (code: number) => boolean): number => [...counts].filter(([a]) => pred(a)).reduce((n, [, c]) => n + c, 0);
    const metrics = {
      numSourceRows: staged.rows,
      numTargetRowsMatched: matchedRows,
      numTargetRowsInserted: sum((a) => a >= INSERT),
      numTargetRowsUpdated: sum((a) => a !== KEEP && a !== SKIP && a < INSERT && !deletes.includes(a)),
      // an unconditional delete may see a target row once per matching source row
      numTargetRowsDeleted: sum((a) => a !== SKIP && deletes.includes(a) && !(onlyDelete && a === 1)) + (onlyDelete ? matchedRows : 0),
      numTargetRowsCopied: sum((a) => a === KEEP),
      numTargetFilesBeforeSkipping: snapshot.files.size,
      numTargetFilesAfterSkipping: candidates.length,
    };
    if (metrics.numTargetRowsInserted + metrics.numTargetRowsUpdated + metrics.numTargetRowsDeleted === 0) return { metrics };
    const added = await writeFiles(engine, table, work, `SELECT ${columnList(work)} FROM (${inner}) WHERE ${ACTION} NOT IN (${[...(dv ? [KEEP] : []), ...deletes].join(', ')})`).catch(fail);
    // with deletion vectors, the target rows updated or deleted are marked deleted in their files
    const marked = dv && touched.length > 0
      ? await markDeleted(engine, table, byFile, bySource.length === 0
        ? `SELECT DISTINCT f, r FROM ${MATCHES} WHERE a <> ${KEEP}` // the matched rows' actions are known already
        : `SELECT DISTINCT target.${ROW_FILE} AS f, target.${ROW_NUMBER} AS r FROM ${joined} WHERE target.${ROW_NUMBER} IS NOT NULL AND (${action}) <> ${KEEP}`).catch(fail)
      : undefined;
    if (marked) metrics.numTargetRowsCopied = 0;
    const removed = marked ? marked.removed : touched.map((f) => byFile.get(f)!);
    // with the change data feed on, a merge rewriting files records every row it changed: the
    // target rows updated or deleted as they were (once each, however many source rows matched),
    // the rows updated as they became, the rows inserted (an insert-only merge adds files only)
    const changed = `${ACTION} NOT IN (${KEEP}, ${SKIP})`;
    const before = `SELECT ${schema.fields.map((f) => `target.${quoteIdent(f.name)}`).join(', ')}, ${action} AS ${ACTION}, ` +
      `row_number() OVER (PARTITION BY target.${ROW_FILE}, target.${ROW_NUMBER}) AS __ingot_nth FROM ${joined} WHERE target.${ROW_NUMBER} IS NOT NULL`;
    const changes = removed.length > 0 && changeFeedEnabled(snapshot)
      ? await writeChangeFiles(engine, table, work,
        `SELECT ${columnList(work)}, CASE WHEN ${ACTION} IN (${deletes.join(', ')}) THEN 'delete' ELSE 'update_preimage' END AS ${CHANGE_TYPE} FROM (${before}) WHERE __ingot_nth = 1 AND ${changed} AND ${ACTION} < ${INSERT} ` +
        `UNION ALL SELECT ${columnList(work)}, CASE WHEN ${ACTION} >= ${INSERT} THEN 'insert' ELSE 'update_postimage' END AS ${CHANGE_TYPE} FROM (${inner}) WHERE ${changed} AND ${ACTION} NOT IN (${deletes.join(', ')})`).catch(fail)
      : [];
    const describe = (clauses: (MatchedClause | InsertClause)[]): string =>
      JSON.stringify(clauses.map((c) => ({ actionType: 'delete' in c ? 'delete' : 'update' in c ? 'update' : 'insert', ...(c.condition ? { predicate: c.condition } : {}) })));
    const prepared = prepareRewrite(snapshot, {
      removed,
      added,
      ...(marked ? { marked: marked.marked } : {}),
      changes,
      operation: 'MERGE',
      parameters: { predicate: JSON.stringify(options.on), matchedPredicates: describe(matched), notMatchedPredicates: describe(notMatched), notMatchedBySourcePredicates: describe(bySource) },
      metrics: { ...metrics, numTargetFilesRemoved: removed.length, numTargetFilesAdded: added.length },
      ...(txn ? { txn } : {}),
    }, table.location);
    if (work !== snapshot) prepared.commit.actions.unshift({ metaData: work.metadata });
    return prepared;
  } finally {
    await engine.drop(SOURCE, MATCHES);
  }
}

/**
 * `snapshot` with its schema merged with the source's columns (`only` those named, and never the
 * merge's own bookkeeping columns), or `snapshot` itself when nothing is new. Errors: SCHEMA_MISMATCH naming
 * the column whose type differs.
 */
function evolve(snapshot: Snapshot, source: StructType, only: true | string[], location: string): Snapshot {
  const fields = source.fields.filter((f) => f.name !== PRESENT && f.name !== SOURCE_ROW && (only === true || only.includes(f.name)));
  let merged: StructType;
  try {
    merged = mergeSchemas(snapshot.schema, { type: 'struct', fields });
  } catch (err) {
    if (!(err instanceof SchemaConflict)) throw err;
    throw new IngotError('SCHEMA_MISMATCH', `${location}: merge: ${err.message}`, { table: location, column: err.column });
  }
  if (JSON.stringify(merged) === JSON.stringify(snapshot.schema)) return snapshot;
  return snapshot.apply([{ metaData: { ...snapshot.metadata, schemaString: JSON.stringify(merged) } }], snapshot.version);
}

/** Rows per action code, as counted already (`prepareMerge`'s one query over MATCHES): the matches', and the unmatched source rows' when asked. */
interface Tallied {
  matches: Map<number, number>;
  inserts?: Map<number, number>;
}

/** Rows `{ a, n }` (action code, count) as a map, added into `into`. */
function tallyOf(rows: Record<string, unknown>[], into = new Map<number, number>()): Map<number, number> {
  for (const r of rows) into.set(Number(r['a']), (into.get(Number(r['a'])) ?? 0) + Number(r['n']));
  return into;
}

/**
 * Rows per action code. With whenNotMatchedBySource clauses, a pass over `inner` (every target
 * row needs its clauses evaluated). Otherwise without reading the files: matched rows from
 * MATCHES, inserted rows from the unmatched source rows (`inserts`), each as `tallied` already
 * when given, and the other rows of the touched files kept (their count from the files' stats,
 * or counted when stats are missing).
 */
async function countActions(engine: Engine, q: { bySource: boolean; inner: string; byFile: Map<string, Add>; touched: string[]; matchedRows: number; inserts?: string; tallied?: Tallied }): Promise<Map<number, number>> {
  if (q.bySource) return tallyOf(await engine.query(`SELECT ${ACTION} AS a, count(*) AS n FROM (${q.inner}) GROUP BY 1`));
  const counts = new Map<number, number>();
  if (q.inserts) tallyOf(q.tallied?.inserts ? [...q.tallied.inserts].map(([a, n]) => ({ a, n })) : await engine.query(`SELECT a, count(*) AS n FROM (${q.inserts}) GROUP BY a`), counts);
  // insert-only: matched rows stay where they are, in files that are not rewritten
  if (q.touched.length === 0) return counts;
  tallyOf(q.tallied ? [...q.tallied.matches].map(([a, n]) => ({ a, n })) : await engine.query(`SELECT a, count(*) AS n FROM ${MATCHES} GROUP BY a`), counts);
  let rows = 0;
  for (const f of q.touched) {
    const n = liveRows(q.byFile.get(f)!);
    if (n === undefined) {
      rows = Number((await engine.query(`SELECT count(*) AS n FROM ${TARGET} WHERE ${ROW_FILE} IN (${fileList(q.touched)})`))[0]!['n']);
      break;
    }
    rows += n;
  }
  counts.set(KEEP, (counts.get(KEEP) ?? 0) + rows - q.matchedRows);
  return counts;
}

const PRUNABLE = new Set(['byte', 'short', 'integer', 'long', 'date']);

/**
 * The target files that may hold a row matching a source row: when `on` is a conjunction of
 * `target.<column> = source.<column>` terms (`keyTerms`), the files whose min/max stats (or partition values)
 * overlap the source's [min, max] of each integer or date key of the same type on both sides;
 * otherwise every file. No source key (empty source, NULL keys) means no file.
 */
async function filesInKeyRange(engine: Engine, snapshot: Snapshot, source: StructType, on: string): Promise<Add[]> {
  const terms = keyTerms(on, snapshot.schema, source);
  if (!terms) return [...snapshot.files.values()];
  const keys: { target: string; source: string }[] = [];
  for (const { target, source: src } of terms) {
    const type = target && fieldOf(snapshot.schema, target)?.type;
    if (!target || !src || typeof type !== 'string' || !PRUNABLE.has(type) || (type === 'date') !== (fieldOf(source, src)?.type === 'date') || !PRUNABLE.has(String(fieldOf(source, src)?.type))) continue;
    keys.push({ target, source: src });
  }
  if (keys.length === 0) return [...snapshot.files.values()];
  const bounds = keys.flatMap((k, i) => [`min(${quoteIdent(k.source)})::VARCHAR AS lo${i}`, `max(${quoteIdent(k.source)})::VARCHAR AS hi${i}`]);
  const [row] = await engine.query(`SELECT ${bounds.join(', ')} FROM ${SOURCE}`);
  const filters: Filter[] = [];
  for (const [i, k] of keys.entries()) {
    const [lo, hi] = [row![`lo${i}`], row![`hi${i}`]];
    if (lo === null || hi === null) return [];
    const isDate = fieldOf(snapshot.schema, k.target)!.type === 'date';
    const value = (v: unknown): string | number | undefined => (isDate ? String(v) : Number.isSafeInteger(Number(v)) ? Number(v) : undefined);
    const [min, max] = [value(lo), value(hi)];
    if (min !== undefined) filters.push({ column: k.target, op: '>=', value: min });
    if (max !== undefined) filters.push({ column: k.target, op: '<=', value: max });
  }
  return snapshot.scan(filters);
}

/** The SQL giving each joined row its action code. */
function actionExpr(matched: MatchedClause[], bySource: MatchedClause[], notMatched: InsertClause[]): string {
  const chain = (clauses: { condition?: string }[], base: number, otherwise: number): string => {
    if (clauses.length === 0) return String(otherwise);
    const whens = clauses.map((c, i) => `WHEN ${c.condition ? `coalesce((${c.condition}), false)` : 'true'} THEN ${base + i}`);
    return `CASE ${whens.join(' ')} ELSE ${otherwise} END`;
  };
  return `CASE WHEN target.${ROW_NUMBER} IS NOT NULL AND source.${PRESENT} IS NOT NULL THEN ${chain(matched, 1, KEEP)} ` +
    `WHEN target.${ROW_NUMBER} IS NOT NULL THEN ${chain(bySource, BY_SOURCE, KEEP)} ` +
    `ELSE ${chain(notMatched, INSERT, SKIP)} END`;
}

/** The SQL giving column `name` its value for each action code. */
function columnExpr(name: string, matched: MatchedClause[], bySource: MatchedClause[], notMatched: InsertClause[]): string {
  const col = quoteIdent(name);
  const whens: string[] = [];
  const updates = (clauses: MatchedClause[], base: number): void => {
    clauses.forEach((c, i) => {
      if (!('update' in c)) return;
      const expr = c.update === '*' ? `source.${col}` : c.update[name];
      if (expr !== undefined) whens.push(`WHEN ${base + i} THEN (${expr})`);
    });
  };
  updates(matched, 1);
  updates(bySource, BY_SOURCE);
  notMatched.forEach((c, i) => {
    const expr = c.insert === '*' ? `source.${col}` : c.insert[name];
    whens.push(`WHEN ${INSERT + i} THEN ${expr === undefined ? 'NULL' : `(${expr})`}`);
  });
  return whens.length === 0 ? `target.${col}` : `CASE ${ACTION} ${whens.join(' ')} ELSE target.${col} END`;
}

function clauseCodes(clauses: MatchedClause[], base: number, kind: 'delete'): number[] {
  return clauses.flatMap((c, i) => (kind in c ? [base + i] : []));
}

/** Columns named by update/insert clauses must be target columns; `'*'` needs each target column in the source. */
function checkColumns(location: string, target: StructType, source: StructType, updates: MatchedClause[], inserts: InsertClause[]): void {
  const sets = [...updates.flatMap((c) => ('update' in c ? [c.update] : [])), ...inserts.map((c) => c.insert)];
  for (const set of sets) {
    const names = set === '*' ? target.fields.map((f) => f.name) : Object.keys(set);
    for (const name of names) {
      if (!fieldOf(target, name)) throw new IngotError('COLUMN_UNKNOWN', `${location}: merge sets column ${name}, which the target table does not have`, { table: location, column: name });
      if (set === '*' && !fieldOf(source, name)) throw new IngotError('COLUMN_UNKNOWN', `${location}: merge with '*' needs source column ${name}`, { table: location, column: name });
    }
  }
}
