import { quoteIdent, quoteString } from '../engine/engine.js';
import type { Expectation, ExpectationAction } from './definition.js';

/**
 * The expectation library: common data-quality checks as `Expectation`s, so datasets declare
 * `notNull('id')` instead of writing SQL. Row checks let NULL pass (combine with `notNull`),
 * except `notNull` itself. Every builder takes the action (default `fail`) and an optional name
 * (default `<column>_<check>`).
 */

/** Options every check takes. */
export interface CheckOptions {
  action?: ExpectationAction;
  /** Expectation name (lower_snake_case); default derived from the column and the check. */
  name?: string;
}

type Literal = string | number | boolean;

function lit(v: Literal): string {
  return typeof v === 'string' ? quoteString(v) : String(v);
}

function check(name: string, condition: string, options: CheckOptions, scope?: 'batch'): Expectation {
  return { name: options.name ?? name, condition, action: options.action ?? 'fail', ...(scope ? { scope } : {}) };
}

function slug(columns: string[]): string {
  return columns.join('_').toLowerCase().replace(/[^a-z0-9_]/g, '_');
}

/** `column` is never NULL. */
export function notNull(column: string, options: CheckOptions = {}): Expectation {
  return check(`${slug([column])}_not_null`, `${quoteIdent(column)} IS NOT NULL`, options);
}

/**
 * No two output rows of the run share the value(s) of `columns` (rows with a NULL among them
 * pass). With `over: 'table'`, a row also fails when its value(s) are already in the dataset's
 * table as last committed (`{{this}}`; nothing in a full refresh, which replaces the table).
 */
export function unique(columns: string | string[], options: CheckOptions & { over?: 'batch' | 'table' } = {}): Expectation {
  const cols = typeof columns === 'string' ? [columns] : columns;
  const list = cols.map(quoteIdent).join(', ');
  const anyNull = cols.map((c) => `${quoteIdent(c)} IS NULL`).join(' OR ');
  const inTable = options.over === 'table'
    ? ` AND NOT EXISTS (SELECT 1 FROM {{this}} AS __t WHERE ${cols.map((c) => `__t.${quoteIdent(c)} = __rows.${quoteIdent(c)}`).join(' AND ')})`
    : '';
  return check(`${slug(cols)}_unique`, `(${anyNull}) OR (count(*) OVER (PARTITION BY ${list}) = 1${inTable})`, options);
}

/** `column` is one of `values`. */
export function acceptedValues(column: string, values: Literal[], options: CheckOptions = {}): Expectation {
  return check(`${slug([column])}_accepted_values`, `${quoteIdent(column)} IS NULL OR ${quoteIdent(column)} IN (${values.map(lit).join(', ')})`, options);
}

/** `column` lies within `[min, max]` (either bound may be omitted; bounds inclusive unless `exclusive`). */
export function range(column: string, bounds: { min?: Literal; max?: Literal; exclusive?: boolean }, options: CheckOptions = {}): Expectation {
  const c = quoteIdent(column);
  const parts = [
    ...(bounds.min !== undefined ? [`${c} ${bounds.exclusive ? '>' : '>='} ${lit(bounds.min)}`] : []),
    ...(bounds.max !== undefined ? [`${c} ${bounds.exclusive ? '<' : '<='} ${lit(bounds.max)}`] : []),
  ];
  if (parts.length === 0) throw new Error(`range(${column}): give min, max or both`);
  return check(`${slug([column])}_in_range`, `${c} IS NULL OR (${parts.join(' AND ')})`, options);
}

/** `column` matches the regular expression `pattern` entirely (RE2 syntax). */
export function regex(column: string, pattern: string, options: CheckOptions = {}): Expectation {
  return check(`${slug([column])}_matches`, `${quoteIdent(column)} IS NULL OR regexp_full_match(${quoteIdent(column)}, ${quoteString(pattern)})`, options);
}

/** Every value of `column` exists in `field` of dataset `to` (`layer.table`): a foreign key. */
export function relationships(column: string, target: { to: string; field: string }, options: CheckOptions = {}): Expectation {
  return check(`${slug([column])}_references_${slug([target.to.replace('.', '_')])}`,
    `${quoteIdent(column)} IS NULL OR ${quoteIdent(column)} IN (SELECT ${quoteIdent(target.field)} FROM ${target.to})`, options);
}

/** The run outputs between `min` and `max` rows (either may be omitted). A batch check. */
export function rowCount(bounds: { min?: number; max?: number }, options: CheckOptions = {}): Expectation {
  const parts = [...(bounds.min !== undefined ? [`count(*) >= ${bounds.min}`] : []), ...(bounds.max !== undefined ? [`count(*) <= ${bounds.max}`] : [])];
  if (parts.length === 0) throw new Error('rowCount: give min, max or both');
  return check('row_count', parts.join(' AND '), options, 'batch');
}

/**
 * The newest `column` (a timestamp or date) is at most `maxAge` (a SQL interval such as
 * `'36 hours'`) older than the end of the run's interval (or now, when earlier). A batch check.
 */
export function freshness(column: string, maxAge: string, options: CheckOptions = {}): Expectation {
  return check(`${slug([column])}_fresh`, `max(${quoteIdent(column)})::TIMESTAMP >= least({{end}}::TIMESTAMP, now()::TIMESTAMP) - INTERVAL ${quoteString(maxAge)}`, options, 'batch');
}
