import { quoteIdent, quoteString, type Engine } from '../engine/engine.js';
import { IngotError, messageOf } from '../errors.js';
import type { DatasetDefinition, Expectation } from '../pipeline/definition.js';
import { fieldOf, typeName, type DataType, type StructType } from '../table/schema.js';

/** Name of the automatic expectation that quarantines rows whose values do not fit their column's type. */
export const TYPES_EXPECTATION = 'column_types_fit';

/** Quarantine-only column naming, per quarantined row, the values that did not fit. */
export const SCHEMA_ERROR_COLUMN = '_schema_error';

/** What `conformSchema` needs to know about the run. */
export interface ConformInput {
  dataset: Pick<DatasetDefinition, 'name' | 'schema' | 'extraColumns' | 'onSchemaChange'>;
  /** The dataset's output query. */
  sql: string;
  /** Schema of the table the rows go to (undefined: new table, or a full refresh that replaces it). */
  table?: StructType;
  /** Columns passed through untouched and unchecked (a connector's quarantine-only columns). */
  exempt: string[];
  /** The run's inputs, to name in errors when no row points at its own (`_source`). */
  inputs: string[];
}

/** The output query made to fit, with what the runner must add to its expectations. */
export interface Conformed {
  sql: string;
  /** `column_types_fit` when some values may not fit (onSchemaChange `quarantine`). */
  expectations: Expectation[];
  /** `_schema_error` with it. */
  quarantineColumns: string[];
  /** The schema of `sql`'s rows, when known without asking the engine again (the query passed through unchanged). */
  schema?: StructType;
}

/**
 * Makes a run's output fit the dataset's declared schema (`schema`, a data contract) and the
 * existing table's schema, before expectations and the write. Per column, the target type is the
 * table's when the table has the column, else the declared one:
 *
 * - same type: unchanged;
 * - a lossless cast (`losslessCast`: a wider integer, integer → double or a wide-enough
 *   decimal, float → double, date → timestamp, any primitive → string): cast silently. This is
 *   how ingot treats "type widening": the table keeps its type and the write is cast to it, since
 *   Delta's `typeWidening` table feature (writer 7) is not implemented;
 * - otherwise (an incompatible change, e.g. long in the table, string in this run) the values
 *   are cast when they all fit. A value that does not fit fails the run with
 *   `onSchemaChange: 'fail'` (the default): SCHEMA_MISMATCH naming the column, the value, its
 *   type, the table's (or declared) type and its input file (the row's `_source`, and `_line`
 *   when the rows have it; else the run's inputs). With `'quarantine'` it becomes NULL and its
 *   row goes to the quarantine table (expectation `column_types_fit`), `_schema_error` saying
 *   which value did not fit. A value fits when it casts, and keeps its value: `1.5` does not fit
 *   an integer (DuckDB's cast would round it), nor `1.234` a DECIMAL(10,2).
 *
 * Columns the table has and the run lacks read as NULL; new columns are added by schema
 * evolution (the runner writes with `mergeSchema`). With a declared schema: a declared column
 * missing from the output fails the run (SCHEMA_MISMATCH); an undeclared column fails
 * (`extraColumns: 'fail'`, the default), is dropped (`'drop'`) or kept (`'allow'`); columns whose
 * names start with `_` (lineage and connector metadata: `_source`, `_ingested_at`, `_line`...)
 * are never extra. A declared type that conflicts with the table's (not a lossless cast) fails.
 * Casts and checks are written in the engine's SQL (its type names: `sqlTypeOf`).
 * Errors: SCHEMA_MISMATCH; DATASET_INVALID for a declared type the engine does not know.
 */
export async function conformSchema(engine: Engine, input: ConformInput): Promise<Conformed> {
  const { dataset: ds, table } = input;
  const typeOf = sqlTypeOf(engine);
  const quarantine = ds.onSchemaChange === 'quarantine';
  const write = await engine.describe(input.sql);
  const exempt = new Set(input.exempt);
  const fail = (message: string, column: string, file?: string): IngotError =>
    new IngotError('SCHEMA_MISMATCH', `${ds.name}: ${message}`, { dataset: ds.name, column, ...(file ? { file } : {}) });

  const declared = ds.schema ? await declaredTypes(engine, ds.name, ds.schema) : undefined;
  let output = write.fields.filter((f) => !exempt.has(f.name));
  if (declared) {
    const missing = declared.fields.filter((d) => !fieldOf(write, d.name));
    if (missing.length > 0) {
      throw fail(`declared column ${missing.map((d) => d.name).join(', ')} is missing from the output (columns: ${output.map((f) => f.name).join(', ')})`, missing[0]!.name);
    }
    const extra = output.filter((f) => !f.name.startsWith('_') && !fieldOf(declared, f.name));
    if (extra.length > 0 && (ds.extraColumns ?? 'fail') === 'fail') {
      throw fail(`column ${extra.map((f) => `${f.name} (${typeName(f.type)})`).join(', ')} is not in the declared schema: declare it, or set extraColumns to 'allow' or 'drop'`, extra[0]!.name);
    }
    if (ds.extraColumns === 'drop') output = output.filter((f) => !extra.includes(f));
  }

  const cols: string[] = [];
  const errors: string[] = [];
  for (const f of output) {
    const d = declared && fieldOf(declared, f.name)?.type;
    const t = table && fieldOf(table, f.name)?.type;
    if (d !== undefined && t !== undefined && !sameType(d, t) && !losslessCast(d, t)) {
      throw fail(`column ${f.name} is declared ${typeOf(d)} but the table has it as ${typeName(t)}: change the declaration or rebuild the table (--full-refresh)`, f.name);
    }
    const target = t ?? d;
    const col = `__in.${quoteIdent(f.name)}`;
    if (target === undefined || sameType(f.type, target)) {
      cols.push(col);
      continue;
    }
    const cast = `CAST(${col} AS ${typeOf(target)}) AS ${quoteIdent(f.name)}`;
    if (losslessCast(f.type, d ?? target)) {
      cols.push(cast);
      continue;
    }
    const check = d ?? target;
    const fits = fitsSql(col, f.type, check, typeOf);
    if (!quarantine) {
      const example = await firstMisfit(engine, input.sql, f.name, fits, write, typeOf('string'));
      if (example) {
        const where = example.source ?? (input.inputs.length > 0 ? input.inputs.slice(0, 3).join(', ') + (input.inputs.length > 3 ? ` and ${input.inputs.length - 3} more` : '') : undefined);
        const at = where ? ` in ${where}${example.line ? ` line ${example.line}` : ''}` : '';
        const what = t === undefined ? `the declared type ${typeOf(d!)}` : `the table's type ${typeName(t)}${d ? ` (declared ${typeOf(d)})` : ''}`;
        throw fail(`column ${f.name}: value ${example.value} (${typeName(f.type)})${at} does not fit ${what}: set onSchemaChange: 'quarantine' to quarantine such rows${t ? ', or rebuild the table (--full-refresh)' : ''}`, f.name, example.source ?? input.inputs[0]);
      }
      cols.push(cast); // every value fits
      continue;
    }
    const value = `CASE WHEN ${fits} THEN TRY_CAST(${col} AS ${typeOf(check)}) END`;
    cols.push(`${sameType(check, target) ? value : `CAST(${value} AS ${typeOf(target)})`} AS ${quoteIdent(f.name)}`);
    errors.push(`CASE WHEN NOT (${fits}) THEN ${quoteString(`${f.name}: `)} || CAST(${col} AS ${typeOf('string')}) || ${quoteString(` (${typeName(f.type)}) does not fit ${typeOf(check)}`)} END`);
  }
  const dropped = output.length !== write.fields.filter((f) => !exempt.has(f.name)).length;
  if (!dropped && cols.every((c, i) => c === `__in.${quoteIdent(output[i]!.name)}`)) return { sql: input.sql, expectations: [], quarantineColumns: [], schema: write };
  const passed = write.fields.filter((f) => exempt.has(f.name)).map((f) => `__in.${quoteIdent(f.name)}`);
  if (errors.length > 0) passed.push(`NULLIF(concat_ws('; ', ${errors.join(', ')}), '') AS ${quoteIdent(SCHEMA_ERROR_COLUMN)}`);
  return {
    sql: `SELECT ${[...cols, ...passed].join(', ')} FROM (${input.sql}) AS __in`,
    expectations: errors.length > 0 ? [{ name: TYPES_EXPECTATION, condition: `${quoteIdent(SCHEMA_ERROR_COLUMN)} IS NULL`, action: 'quarantine' }] : [],
    quarantineColumns: errors.length > 0 ? [SCHEMA_ERROR_COLUMN] : [],
  };
}

/** The Delta types of declared SQL types, asked of the engine. Errors: DATASET_INVALID naming the column. */
async function declaredTypes(engine: Engine, dataset: string, schema: Record<string, string>): Promise<StructType> {
  const fields = [];
  for (const [column, type] of Object.entries(schema)) {
    try {
      fields.push((await engine.describe(`SELECT CAST(NULL AS ${type}) AS ${quoteIdent(column)}`)).fields[0]!);
    } catch (err) {
      throw new IngotError('DATASET_INVALID', `${dataset}: declared type ${type} of column ${column} is not a SQL type: ${messageOf(err)}`, { dataset, column }, { cause: err });
    }
  }
  return { type: 'struct', fields };
}

/** The SQL type name of a Delta type in `engine`'s SQL (`Dialect.typeName`). */
export function sqlTypeOf(engine: Engine): (t: DataType) => string {
  return (t) => engine.dialect.typeName(t);
}

/** A row whose `column` does not fit, with its file and line when the rows carry `_source` and `_line`; `text` is the engine's string type. */
async function firstMisfit(engine: Engine, sql: string, column: string, fits: string, schema: StructType, text: string): Promise<{ value: string; source?: string; line?: string } | undefined> {
  const extra = ['_source', '_line'].filter((c) => fieldOf(schema, c)).map((c) => `CAST(__in.${quoteIdent(c)} AS ${text}) AS ${quoteIdent(c)}`);
  const [row] = await engine.query(`SELECT CAST(__in.${quoteIdent(column)} AS ${text}) AS v${extra.map((e) => `, ${e}`).join('')} FROM (${sql}) AS __in WHERE NOT (${fits}) LIMIT 1`);
  if (!row) return undefined;
  return { value: `'${String(row['v'])}'`, ...(row['_source'] ? { source: String(row['_source']) } : {}), ...(row['_line'] ? { line: String(row['_line']) } : {}) };
}

const INTEGRAL = ['byte', 'short', 'integer', 'long'];
/** Decimal digits the largest value of each integral type needs. */
const DIGITS: Record<string, number> = { byte: 3, short: 5, integer: 10, long: 19 };

function decimal(t: DataType): [number, number] | undefined {
  const m = typeof t === 'string' ? /^decimal\((\d+),\s*(\d+)\)$/.exec(t) : null;
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

function sameType(a: DataType, b: DataType): boolean {
  return typeName(a) === typeName(b);
}

/**
 * Whether every value of type `from` converts to type `to` and back unchanged: integer types to
 * wider ones, to `double` (up to `integer`), to `float` (up to `short`), or to a decimal with
 * enough integer digits; `float` → `double`; a decimal to one with at least as many integer and
 * fraction digits; `date` → `timestamp`; any primitive but `binary` → `string`.
 */
export function losslessCast(from: DataType, to: DataType): boolean {
  if (typeof from !== 'string' || typeof to !== 'string') return false;
  if (sameType(from, to)) return true;
  const fi = INTEGRAL.indexOf(from);
  const td = decimal(to);
  if (fi >= 0) {
    if (INTEGRAL.includes(to)) return INTEGRAL.indexOf(to) >= fi;
    if (to === 'double') return fi <= 2;
    if (to === 'float') return fi <= 1;
    if (td) return td[0] - td[1] >= DIGITS[from]!;
  }
  const fd = decimal(from);
  if (fd && td) return td[1] >= fd[1] && td[0] - td[1] >= fd[0] - fd[1];
  if (from === 'float' && to === 'double') return true;
  if (from === 'date' && (to === 'timestamp' || to === 'timestamp_ntz')) return true;
  return to === 'string' && from !== 'binary';
}

/** SQL that is true when `col` (of type `from`) is NULL or converts to `to` keeping its value; `typeOf` names types in the engine's SQL. */
function fitsSql(col: string, from: DataType, to: DataType, typeOf: (t: DataType) => string): string {
  const target = typeOf(to);
  const cast = `TRY_CAST(${col} AS ${target})`;
  const exact = typeof to === 'string' && (INTEGRAL.includes(to) || decimal(to) !== undefined);
  let keeps: string;
  if (from === 'string') keeps = exact ? ` AND ${cast} = TRY_CAST(${col} AS DOUBLE)` : '';
  else keeps = ` AND CAST(${cast} AS ${typeOf(from)}) = ${col}`;
  return `${col} IS NULL OR (${cast} IS NOT NULL${keeps})`;
}
