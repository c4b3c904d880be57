import { IngotError, messageOf } from '../../errors.js';
import { quoteIdent, ROW_FILE, ROW_NUMBER, type Engine } from '../../engine/engine.js';
import { fieldOf, type StructType } from '../schema.js';
import type { DeltaTable } from '../table.js';
import { attachTarget, columnList, commitRewrite, fileList, TARGET, unchanged, writableSnapshot, writeFiles, type OperationResult } from './rewrite.js';

/** `when matched` / `when not matched by source`: update the target row (`'*'`: every column from the source column of the same name) or delete it. */
export type MatchedClause =
  | { update: '*' | Record<string, string>; condition?: string }
  | { delete: true; condition?: string };

/** `when not matched`: insert a row built from the source row (`'*'`: columns by name; absent columns are NULL). */
export interface InsertClause {
  insert: '*' | Record<string, string>;
  condition?: string;
}

/**
 * A MERGE (Delta's upsert). SQL expressions are in the engine's dialect and address the two
 * sides as `target.<column>` and `source.<column>`. Clauses of one kind apply in order: the first
 * whose condition holds acts; a row no clause takes is kept (target) or skipped (source).
 */
export interface MergeOptions {
  /** A query giving the source rows. */
  source: string;
  /** The match condition, e.g. `target.id = source.id`. */
  on: string;
  whenMatched?: MatchedClause[];
  whenNotMatched?: InsertClause[];
  /** Only `target.*` may be referenced here: these target rows have no source row. */
  whenNotMatchedBySource?: MatchedClause[];
}

const SOURCE = '__ingot_merge_source';
const MATCHES = '__ingot_merge_matches';
const PRESENT = '__ingot_present';
const ACTION = '__ingot_action';
/** Action codes: 0 keeps a target row as it is, -1 drops an unmatched source row. */
const KEEP = 0;
const SKIP = -1;
const BY_SOURCE = 1000;
const INSERT = 2000;

/**
 * The MERGE operation. Finds the target files holding rows the source matches (a join of the
 * source with the target's key columns), rewrites only those files with the clauses applied, and
 * writes the inserted rows, in one commit (`operation: MERGE`). With only `whenNotMatched`
 * clauses, no file is rewritten: the new rows are appended. With `whenNotMatchedBySource`
 * clauses every file is read and may be rewritten.
 * Metrics: numSourceRows, numTargetRowsInserted / Updated / Deleted / Copied, numTargetFilesAdded / Removed.
 * Errors: MERGE_MULTIPLE_MATCHES when a target row matches several source rows and a matched
 * clause would modify it (as in Delta), COLUMN_UNKNOWN, SQL_ERROR, PROTOCOL_UNSUPPORTED, COMMIT_CONFLICT.
 */
export async function merge(table: DeltaTable, engine: Engine, options: MergeOptions): Promise<OperationResult> {
  const snapshot = await writableSnapshot(table);
  const schema = snapshot.schema;
  const matched = options.whenMatched ?? [];
  const notMatched = options.whenNotMatched ?? [];
  const bySource = options.whenNotMatchedBySource ?? [];
  const fail = (err: unknown): never => {
    if (err instanceof IngotError && err.code !== 'SQL_ERROR') throw err;
    throw new IngotError('SQL_ERROR', `${table.location}: merge: ${messageOf(err)}`, { table: table.location }, { cause: err });
  };
  try {
    const staged = await engine.stage(SOURCE, `SELECT *, true AS ${PRESENT} FROM (${options.source})`).catch(fail);
    checkColumns(table.location, schema, staged.schema, [...matched, ...bySource], notMatched);
    const byFile = await attachTarget(engine, table, snapshot, snapshot.files.values());
    const join = `${TARGET} AS target JOIN ${SOURCE} AS source ON (${options.on})`;

    let touched: string[] = [];
    let matchedRows = 0;
    let onlyDelete = false;
    if (matched.length > 0 || bySource.length > 0) {
      await engine.stage(MATCHES, `SELECT target.${ROW_FILE} AS f, target.${ROW_NUMBER} AS r, count(*) AS n FROM ${join} GROUP BY ALL`).catch(fail);
      onlyDelete = matched.length === 1 && 'delete' in matched[0]! && !matched[0].condition;
      // duplicates would be written twice (or updated ambiguously) unless every match is deleted
      if (!onlyDelete) {
        const multi = await engine.query(`SELECT f, r, n FROM ${MATCHES} WHERE n > 1 LIMIT 1`);
        if (multi.length > 0) {
          const m = multi[0]!;
          throw new IngotError('MERGE_MULTIPLE_MATCHES', `${table.location}: row ${String(m['r'])} of ${String(m['f'])} matches ${String(m['n'])} source rows on ${options.on}; a merge may modify each target row once — deduplicate the source`, { table: table.location, file: String(m['f']), row: Number(m['r']) });
        }
      }
      const files = await engine.query(`SELECT f, count(*) AS n FROM ${MATCHES} GROUP BY f`);
      touched = bySource.length > 0 ? [...byFile.keys()] : files.map((r) => String(r['f']));
      matchedRows = files.reduce((n, r) => n + Number(r['n']), 0);
    }
    if (touched.length === 0 && notMatched.length === 0) return unchanged(snapshot, { numSourceRows: staged.rows, numTargetRowsMatched: 0 });

    const action = actionExpr(matched, bySource, notMatched);
    const columns = schema.fields.map((f) => `${columnExpr(f.name, matched, bySource, notMatched)} AS ${quoteIdent(f.name)}`);
    const targetRows = touched.length > 0 ? `(SELECT * FROM ${TARGET} WHERE ${ROW_FILE} IN (${fileList(touched)}))` : `(SELECT * FROM ${TARGET} WHERE false)`;
    // insert-only: no target row changes, so only source rows without a match are read
    const joined = matched.length > 0 || bySource.length > 0
      ? `${targetRows} AS target FULL OUTER JOIN ${SOURCE} AS source ON (${options.on})`
      : `${SOURCE} AS source LEFT JOIN ${targetRows} AS target ON false WHERE NOT EXISTS (SELECT 1 FROM ${TARGET} AS target WHERE ${options.on})`;
    const inner = `SELECT ${action} AS ${ACTION}, ${columns.join(', ')} FROM ${joined}`;
    const deletes = [...clauseCodes(matched, 1, 'delete'), ...clauseCodes(bySource, BY_SOURCE, 'delete'), SKIP];
    const counts = new Map((await engine.query(`SELECT ${ACTION} AS a, count(*) AS n FROM (${inner}) GROUP BY 1`).catch(fail)).map((r) => [Number(r['a']), Number(r['n'])]));
    const sum = (pred: (code: number) => boolean): number => [...counts].filter(([a]) => pred(a)).reduce((n, [, c]) => n + c, 0);
    const metrics = {
      numSourceRows: staged.rows,
      numTargetRowsMatched: matchedRows,
      numTargetRowsInserted: sum((a) => a >= INSERT),
      numTargetRowsUpdated: sum((a) => a !== KEEP && a !== SKIP && a < INSERT && !deletes.includes(a)),
      // an unconditional delete may see a target row once per matching source row
      numTargetRowsDeleted: sum((a) => a !== SKIP && deletes.includes(a) && !(onlyDelete && a === 1)) + (onlyDelete ? matchedRows : 0),
      numTargetRowsCopied: sum((a) => a === KEEP),
    };
    if (metrics.numTargetRowsInserted + metrics.numTargetRowsUpdated + metrics.numTargetRowsDeleted === 0) return unchanged(snapshot, metrics);
    const added = await writeFiles(engine, table, snapshot, `SELECT ${columnList(snapshot)} FROM (${inner}) WHERE ${ACTION} NOT IN (${deletes.join(', ')})`).catch(fail);
    const removed = touched.map((f) => byFile.get(f)!);
    const describe = (clauses: (MatchedClause | InsertClause)[]): string =>
      JSON.stringify(clauses.map((c) => ({ actionType: 'delete' in c ? 'delete' : 'update' in c ? 'update' : 'insert', ...(c.condition ? { predicate: c.condition } : {}) })));
    return await commitRewrite(table, snapshot, {
      removed,
      added,
      operation: 'MERGE',
      parameters: { predicate: JSON.stringify(options.on), matchedPredicates: describe(matched), notMatchedPredicates: describe(notMatched), notMatchedBySourcePredicates: describe(bySource) },
      metrics: { ...metrics, numTargetFilesRemoved: removed.length, numTargetFilesAdded: added.length },
    });
  } finally {
    await engine.drop(SOURCE, MATCHES);
  }
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
