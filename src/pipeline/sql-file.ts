import { IngotError } from '../errors.js';
import { datasetSchema, type Expectation } from './definition.js';
import { parseExpectDirective } from './expect-directive.js';

/**
 * Parses a `.sql` dataset file: leading `-- key: value` comment lines are directives, the rest
 * is the SELECT. Directives:
 *
 *     -- materialization: replace partition
 *     -- partition_by: flight_date
 *     -- grain: day
 *     -- description: Typed, checked flights
 *     -- tags: daily, finance
 *     -- on_schema_change: quarantine
 *     -- engine: spark
 *     -- expect delay_in_range (quarantine): delay_min BETWEEN -120 AND 1440
 *     -- expect: not_null(customer_id) warn        (the expectation library: see expect-directive.ts)
 *     -- column delay_min: departure delay, minutes   (a name with spaces: -- column "a b": ...)
 *
 * and for `merge` / `apply changes`: `key: id, region`, `order_by: received_at`,
 * `merge_update: flights = target.flights + source.flights` (one per column, see `mergeUpdate`),
 * `sequence_by: seq`, `delete_when: op = 'D'`, `scd_type: 2`, `except_columns: op`, `insert_only: loaded_at`, `ignore_null_updates: true`; exports
 * (`DatasetExports`): `export_file: reports/x/date={logical_date}/report.csv`,
 * `export_postgres: env:DATAMART_URL datamart.x` (connection, then table).
 *
 * Without `materialization`, a dataset is `overwrite`, as a TypeScript one (`datasetSchema`'s default).
 * Other comment lines are ignored. Errors name the file and line (DATASET_INVALID): an unknown
 * directive, a malformed `expect` line, a value the dataset schema refuses (the directive's line),
 * a directive below the start of the query.
 */
export function parseSqlDataset(text: string, name: string, file: string): Record<string, unknown> {
  const lines = text.split('\n');
  const def: Record<string, unknown> = { name };
  const at: Record<string, number> = {}; // directive → its line, for errors
  const expectLines: number[] = [];
  const expectations: Expectation[] = [];
  const changes: Record<string, unknown> = {};
  const exports: Record<string, unknown> = {};
  const columns: Record<string, string> = {};
  const names = (value: string): string[] => value.split(',').map((s) => s.trim()).filter(Boolean);
  let i = 0;
  for (; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    if (!line.startsWith('--')) break;
    const body = line.slice(2).trim();
    const expect = /^expect\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(\s*(\w+)\s*\)\s*:\s*(.+)$/.exec(body);
    if (expect) {
      expectations.push({ name: expect[1]!, action: expect[2] as Expectation['action'], condition: expect[3]! });
      expectLines.push(i + 1);
      continue;
    }
    if (/^expect(\s|$)/.test(body)) throw new IngotError('DATASET_INVALID', `${file}:${i + 1}: "${line}": an expectation is "-- expect <name> (<action>): <condition>" (action: warn, drop, quarantine, fail) or "-- expect: <check>(...)", e.g. "-- expect: not_null(id)"`, { file, row: i + 1, dataset: name });
    const column = /^column\s+("(?:[^"]|"")+"|[^\s:"]+)\s*:\s*(.*)$/.exec(body);
    if (!column && /^column\s/.test(body)) {
      throw new IngotError('DATASET_INVALID', `${file}:${i + 1}: a column description reads "-- column <name>: <text>" (a name with spaces in double quotes), not "${line}"`, { file, row: i + 1, dataset: name });
    }
    if (column) {
      const [, quoted, text] = column as unknown as [string, string, string];
      const col = quoted.startsWith('"') ? quoted.slice(1, -1).replace(/""/g, '"') : quoted;
      if (text === '') throw new IngotError('DATASET_INVALID', `${file}:${i + 1}: "column ${col}:" needs a description, e.g. "-- column ${col}: departure delay, minutes"`, { file, row: i + 1, dataset: name, column: col });
      if (col in columns) throw new IngotError('DATASET_INVALID', `${file}:${i + 1}: column ${col} is described twice`, { file, row: i + 1, dataset: name, column: col });
      columns[col] = text;
      continue;
    }
    const kv = /^([a-z_]+)\s*:\s*(.*)$/.exec(body);
    if (!kv) continue;
    const [, key, value] = kv as unknown as [string, string, string];
    at[key] = i + 1;
    switch (key) {
      case 'expect': expectations.push(parseExpectDirective(value, file, i + 1, name)); expectLines.push(i + 1); break;
      case 'materialization': def['materialization'] = value; break;
      case 'partition_by': def['partitionBy'] = names(value); break;
      case 'grain': def['grain'] = value; break;
      case 'incremental': def['incremental'] = value === 'true' ? true : value === 'false' ? false : value; break;
      case 'description': def['description'] = value; break;
      case 'table_property': {
        const m = /^([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(value);
        if (!m || m[2] === '') throw new IngotError('DATASET_INVALID', `${file}:${i + 1}: a table property reads "-- table_property: <name> = <value>", e.g. "-- table_property: delta.enableChangeDataFeed = true", not "${value}"`, { file, row: i + 1, dataset: name });
        def['tableProperties'] = { ...(def['tableProperties'] as Record<string, string> | undefined), [m[1]!]: m[2]! };
        break;
      }
      case 'tags': {
        const tags = names(value);
        if (tags.length === 0) throw new IngotError('DATASET_INVALID', `${file}:${i + 1}: "tags:" needs one or more tags separated by commas, e.g. "-- tags: daily, finance"`, { file, row: i + 1, dataset: name });
        def['tags'] = tags;
        break;
      }
      case 'key': def['key'] = names(value); break;
      case 'order_by': def['orderBy'] = value; break;
      case 'merge_update': {
        const m = /^("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(value);
        if (!m || m[2]!.trim() === '') throw new IngotError('DATASET_INVALID', `${file}:${i + 1}: a merge update reads "-- merge_update: <column> = <expression>", e.g. "-- merge_update: flights = target.flights + source.flights", not "${value}"`, { file, row: i + 1, dataset: name });
        const col = m[1]!.startsWith('"') ? m[1]!.slice(1, -1).replace(/""/g, '"') : m[1]!;
        const updates = (def['mergeUpdate'] ?? {}) as Record<string, string>;
        if (col in updates) throw new IngotError('DATASET_INVALID', `${file}:${i + 1}: merge_update sets column ${col} twice`, { file, row: i + 1, dataset: name, column: col });
        def['mergeUpdate'] = { ...updates, [col]: m[2]!.trim() };
        break;
      }
      case 'sequence_by': changes['sequenceBy'] = value; break;
      case 'delete_when': changes['deleteWhen'] = value; break;
      case 'scd_type': changes['scdType'] = Number(value); break;
      case 'except_columns': changes['exceptColumns'] = names(value); break;
      case 'insert_only': changes['insertOnly'] = names(value); break;
      case 'ignore_null_updates': changes['ignoreNullUpdates'] = value === 'true' ? true : value === 'false' ? false : value; break;
      case 'on_schema_change': def['onSchemaChange'] = value; break;
      case 'engine': def['engine'] = value; break;
      case 'export_file': exports['file'] = value; break;
      case 'export_postgres': {
        const [connection = '', table = ''] = value.split(/\s+/);
        exports['postgres'] = { connection, table };
        break;
      }
      default:
        throw new IngotError('DATASET_INVALID', `${file}:${i + 1}: unknown directive "${key}" (known: materialization, partition_by, grain, incremental, table_property, description, tags, on_schema_change, engine, key, order_by, merge_update, sequence_by, delete_when, scd_type, except_columns, insert_only, ignore_null_updates, export_file, export_postgres, expect, column)`, { file, row: i + 1, dataset: name });
    }
  }
  checkNoLateDirective(lines, i, file, name);
  const sql = lines.slice(i).join('\n').trim().replace(/;\s*$/, '');
  if (sql === '') throw new IngotError('DATASET_INVALID', `${file}: no SELECT statement after the directives`, { file, dataset: name });
  def['sql'] = sql;
  if (expectations.length > 0) def['expectations'] = expectations;
  if (Object.keys(changes).length > 0) def['changes'] = changes;
  if (Object.keys(exports).length > 0) def['exports'] = exports;
  if (Object.keys(columns).length > 0) def['columns'] = columns;
  checkDirectiveValues(def, at, expectLines, file, name);
  return def;
}

const DIRECTIVE_OF: Record<string, string> = {
  partitionBy: 'partition_by', orderBy: 'order_by', mergeUpdate: 'merge_update', onSchemaChange: 'on_schema_change', sequenceBy: 'sequence_by', deleteWhen: 'delete_when',
  scdType: 'scd_type', exceptColumns: 'except_columns', insertOnly: 'insert_only', ignoreNullUpdates: 'ignore_null_updates', file: 'export_file', postgres: 'export_postgres',
};

/**
 * Validates the dataset the directives describe (`datasetSchema`), so a wrong value is an error
 * at its directive's line (or, for a field missing, the `materialization` line that needs it).
 */
function checkDirectiveValues(def: Record<string, unknown>, at: Record<string, number>, expectLines: number[], file: string, name: string): void {
  const parsed = datasetSchema.safeParse(def);
  if (parsed.success) return;
  const issue = parsed.error.issues[0]!;
  const [first, second] = issue.path.map(String);
  const line = first === 'expectations' ? expectLines[Number(second)]
    : at[DIRECTIVE_OF[second ?? ''] ?? ''] ?? at[DIRECTIVE_OF[first ?? ''] ?? first ?? ''] ?? at['materialization'];
  const where = line === undefined ? file : `${file}:${line}`;
  throw new IngotError('DATASET_INVALID', `${where}: ${issue.path.length ? issue.path.join('.') + ': ' : ''}${issue.message}`, { file, ...(line !== undefined ? { row: line } : {}), dataset: name });
}

/** A directive (`-- expect ...`, `-- materialization: ...`) below the start of the query would be ignored: an error at its line. */
function checkNoLateDirective(lines: string[], start: number, file: string, name: string): void {
  for (let j = start; j < lines.length; j++) {
    const body = /^\s*--\s*(.*)$/.exec(lines[j]!)?.[1];
    if (body !== undefined && /^(expect(\s|:)|(materialization|partition_by|grain|tags|on_schema_change|engine|key|order_by|merge_update|sequence_by|delete_when|scd_type|except_columns|insert_only|ignore_null_updates|export_file|export_postgres)\s*:)/.test(body)) {
      throw new IngotError('DATASET_INVALID', `${file}:${j + 1}: "${lines[j]!.trim()}": directives go above the query (this one, at line ${j + 1}, is below its start at line ${start + 1})`, { file, row: j + 1, dataset: name });
    }
  }
}

/**
 * Parses an engine's SQL override of a `.sql` dataset (`x.spark.sql` next to `x.sql`): the
 * SELECT, after comment lines. Directives belong to the dataset's own file: one here is an
 * error (DATASET_INVALID naming the file and line).
 */
export function parseSqlOverride(text: string, name: string, file: string): string {
  const def = parseSqlDataset(text, name, file);
  const lines = text.split('\n');
  const directive = lines.findIndex((l) => /^--\s*(expect\s|[a-z_]+\s*:)/.test(l.trim()));
  if (directive >= 0 && directive < lines.findIndex((l) => l.trim() !== '' && !l.trim().startsWith('--'))) {
    throw new IngotError('DATASET_INVALID', `${file}:${directive + 1}: an SQL override holds only the query; directives such as "${lines[directive]!.trim()}" go in the dataset's own file`, { file, row: directive + 1, dataset: name });
  }
  return def['sql'] as string;
}
