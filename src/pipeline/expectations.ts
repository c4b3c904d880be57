import { quoteIdent, quoteString } from '../engine/engine.js';
import type { Expectation, ExpectationAction } from './definition.js';

/**
 * SQL for checking expectations over a staged relation. Each expectation becomes a boolean
 * column `__fail_<i>` (true when the condition is false or NULL); the rest selects, counts and
 * labels rows from those columns. Plain ANSI SQL, portable across engines.
 */
export interface ExpectationPlan {
  /** Adds the `__fail_<i>` columns to `input`, aliased `__rows` (conditions' subqueries can correlate with `__rows.<column>`). */
  checkedSql(input: string): string;
  /**
   * One row: `f<i>` = number of rows failing expectation i; `dropped` = rows failing a `drop`
   * and no `quarantine` expectation; `quarantined` = rows failing a `quarantine` expectation.
   */
  countsSql(relation: string): string;
  /** Rows that stay in the table: failing no `drop` or `quarantine` expectation. */
  keptSql(relation: string, columns: string[]): string;
  /** Rows for `<table>_quarantine`, with `_failed_expectations` (comma-separated names). */
  quarantineSql(relation: string, columns: string[], extra: Record<string, string>): string | undefined;
}

/** The plan for the row-scope `expectations` (batch ones are evaluated apart, see `batchCheckSql`). */
export function planExpectations(expectations: Expectation[], render: (sql: string) => string): ExpectationPlan {
  const fail = (i: number): string => quoteIdent(`__fail_${i}`);
  const any = (actions: ExpectationAction[]): string => {
    const cols = expectations.flatMap((e, i) => (actions.includes(e.action) ? [fail(i)] : []));
    return cols.length ? `(${cols.join(' OR ')})` : 'false';
  };
  const cols = (columns: string[]): string => columns.map(quoteIdent).join(', ');
  return {
    checkedSql: (input) =>
      `SELECT *${expectations.map((e, i) => `, ((${render(e.condition)}) IS NOT TRUE) AS ${fail(i)}`).join('')} FROM ${input} AS __rows`,
    countsSql: (relation) =>
      `SELECT ${expectations.map((_e, i) => `CAST(SUM(CASE WHEN ${fail(i)} THEN 1 ELSE 0 END) AS BIGINT) AS f${i}, `).join('')}` +
      `CAST(SUM(CASE WHEN ${any(['drop'])} AND NOT ${any(['quarantine'])} THEN 1 ELSE 0 END) AS BIGINT) AS dropped, ` +
      `CAST(SUM(CASE WHEN ${any(['quarantine'])} THEN 1 ELSE 0 END) AS BIGINT) AS quarantined FROM ${quoteIdent(relation)}`,
    keptSql: (relation, columns) => `SELECT ${cols(columns)} FROM ${quoteIdent(relation)} WHERE NOT ${any(['drop', 'quarantine'])}`,
    quarantineSql: (relation, columns, extra) => {
      if (!expectations.some((e) => e.action === 'quarantine')) return undefined;
      const names = expectations.map((e, i) => `CASE WHEN ${fail(i)} THEN ${quoteString(e.name)} END`).join(', ');
      const extras = Object.entries(extra).map(([k, v]) => `${v} AS ${quoteIdent(k)}`);
      return `SELECT ${cols(columns)}, concat_ws(',', ${names}) AS "_failed_expectations"${extras.length ? ', ' + extras.join(', ') : ''} FROM ${quoteIdent(relation)} WHERE ${any(['quarantine'])}`;
    },
  };
}

/** One row, one column `failed`: whether the batch-scope `expectation` fails over `relation`. */
export function batchCheckSql(expectation: Expectation, relation: string, render: (sql: string) => string): string {
  return `SELECT ((${render(expectation.condition)}) IS NOT TRUE) AS failed FROM ${quoteIdent(relation)}`;
}
