/**
 * Portable functions: `ingot.<name>(...)` calls in a dataset's SQL (its query and its
 * expectations) that ingot rewrites into the SQL of the engine running the dataset, so one
 * query gives the same rows, of the same Delta types, on DuckDB and on Spark. The `ingot.`
 * namespace keeps them apart from either engine's own functions of the same name (which
 * differ: DuckDB's `date_trunc` of a DATE is a TIMESTAMP, Spark's `regexp_extract` defaults to
 * group 1...). The catalog (`PORTABLE_FUNCTIONS`) is documented in docs/engines.md; each engine's
 * `PortableDialect` spells them (`duckdb/portable.ts`, `spark/portable.ts`), and `portable.ts`
 * rewrites the calls in a query.
 */

/** A unit, format or pattern argument ingot must read at translation time is a string literal. */
export type ParamKind = 'expr' | 'unit' | 'format' | 'pattern' | 'group';

/** One portable function: its parameters (the last `optional` may be left out), the units it takes, what it returns. */
export interface PortableFunction {
  params: { name: string; kind: ParamKind }[];
  optional?: number;
  units?: readonly string[];
  /** The result, for docs and errors: `DATE`, `BIGINT`... */
  returns: string;
}

const DATE_UNITS = ['year', 'quarter', 'month', 'week', 'day'] as const;
const TIME_UNITS = [...DATE_UNITS, 'hour', 'minute', 'second'] as const;
const expr = (name: string): { name: string; kind: 'expr' } => ({ name, kind: 'expr' });
const unit = { name: 'unit', kind: 'unit' } as const;

/** The portable functions, by name (without `ingot.`). */
export const PORTABLE_FUNCTIONS = {
  date_trunc: { params: [unit, expr('value')], units: DATE_UNITS, returns: 'DATE' },
  timestamp_trunc: { params: [unit, expr('value')], units: TIME_UNITS, returns: 'TIMESTAMP' },
  date_part: { params: [unit, expr('value')], units: ['year', 'quarter', 'month', 'week', 'day', 'day_of_week', 'day_of_year', 'hour', 'minute', 'second'], returns: 'INTEGER' },
  date_diff: { params: [unit, expr('start'), expr('end')], units: ['year', 'quarter', 'month', 'day', 'hour', 'minute', 'second'], returns: 'BIGINT' },
  date_add: { params: [unit, expr('amount'), expr('value')], units: DATE_UNITS, returns: 'DATE' },
  timestamp_add: { params: [unit, expr('amount'), expr('value')], units: TIME_UNITS, returns: 'TIMESTAMP' },
  epoch_seconds: { params: [expr('value')], returns: 'BIGINT' },
  epoch_ms: { params: [expr('value')], returns: 'BIGINT' },
  from_epoch_seconds: { params: [expr('seconds')], returns: 'TIMESTAMP' },
  from_epoch_ms: { params: [expr('ms')], returns: 'TIMESTAMP' },
  parse_date: { params: [expr('text'), { name: 'format', kind: 'format' }], returns: 'DATE' },
  parse_timestamp: { params: [expr('text'), { name: 'format', kind: 'format' }], returns: 'TIMESTAMP' },
  strftime: { params: [expr('value'), { name: 'format', kind: 'format' }], returns: 'STRING' },
  regexp_extract: { params: [expr('text'), { name: 'pattern', kind: 'pattern' }, { name: 'group', kind: 'group' }], optional: 1, returns: 'STRING' },
  regexp_matches: { params: [expr('text'), { name: 'pattern', kind: 'pattern' }], returns: 'BOOLEAN' },
  sha256: { params: [expr('text')], returns: 'STRING' },
  array_length: { params: [expr('array')], returns: 'BIGINT' },
} satisfies Record<string, PortableFunction>;

export type PortableName = keyof typeof PORTABLE_FUNCTIONS;

/** strftime specifiers a portable format may use, with Spark's pattern letters for each. */
export const FORMAT_SPECIFIERS: Record<string, string> = {
  Y: 'yyyy', m: 'MM', d: 'dd', H: 'HH', M: 'mm', S: 'ss', f: 'SSSSSS', j: 'DDD', A: 'EEEE', a: 'EEE', B: 'MMMM', b: 'MMM',
};

/** A parsed portable format: literal text and `%X` specifiers (`%%` is the literal `%`). */
export type FormatPart = { literal: string } | { spec: string };

/** A validated call, as an engine's table turns it into SQL. */
export interface PortableCall {
  /** The arguments' SQL, already translated, each in parentheses unless a single token. */
  args: string[];
  /** The unit, lower case (functions with a unit). */
  unit?: string;
  /** The format (parse_*, strftime), parsed, and as the user wrote it. */
  format?: { parts: FormatPart[]; text: string };
  /** The pattern's value when it is a string literal (its backslashes as written). */
  pattern?: string;
  /** The capture group (regexp_extract; default 0, the whole match). */
  group?: number;
}

/** An engine's SQL for each portable function. */
export type PortableDialect = { [K in PortableName]: (call: PortableCall) => string };
