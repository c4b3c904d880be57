import { IngotError } from '../errors.js';
import type { Expectation } from './definition.js';

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
 *
 * and for `merge` / `apply changes`: `key: id, region`, `order_by: received_at`,
 * `sequence_by: seq`, `delete_when: op = 'D'`, `scd_type: 2`, `except_columns: op`, `insert_only: loaded_at`; exports
 * (`DatasetExports`): `export_file: reports/x/date={logical_date}/report.csv`,
 * `export_postgres: env:DATAMART_URL datamart.x` (connection, then table).
 *
 * Other comment lines are ignored. Errors name the file and line (DATASET_INVALID).
 */
export function parseSqlDataset(text: string, name: string, file: string): Record<string, unknown> {
  const lines = text.split('\n');
  const def: Record<string, unknown> = { name, materialization: 'overwrite' };
  const expectations: Expectation[] = [];
  const changes: Record<string, unknown> = {};
  const exports: Record<string, unknown> = {};
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
      continue;
    }
    const kv = /^([a-z_]+)\s*:\s*(.*)$/.exec(body);
    if (!kv) continue;
    const [, key, value] = kv as unknown as [string, string, string];
    switch (key) {
      case 'materialization': def['materialization'] = value; break;
      case 'partition_by': def['partitionBy'] = names(value); break;
      case 'grain': def['grain'] = value; break;
      case 'incremental': def['incremental'] = value === 'true' ? true : value === 'false' ? false : value; break;
      case 'description': def['description'] = value; break;
      case 'tags': {
        const tags = names(value);
        if (tags.length === 0) throw new IngotError('DATASET_INVALID', `${file}:${i + 1}: "tags:" needs one or more tags separated by commas, e.g. "-- tags: daily, finance"`, { file, row: i + 1, dataset: name });
        def['tags'] = tags;
        break;
      }
      case 'key': def['key'] = names(value); break;
      case 'order_by': def['orderBy'] = value; break;
      case 'sequence_by': changes['sequenceBy'] = value; break;
      case 'delete_when': changes['deleteWhen'] = value; break;
      case 'scd_type': changes['scdType'] = Number(value); break;
      case 'except_columns': changes['exceptColumns'] = names(value); break;
      case 'insert_only': changes['insertOnly'] = names(value); break;
      case 'on_schema_change': def['onSchemaChange'] = value; break;
      case 'engine': def['engine'] = value; break;
      case 'export_file': exports['file'] = value; break;
      case 'export_postgres': {
        const [connection = '', table = ''] = value.split(/\s+/);
        exports['postgres'] = { connection, table };
        break;
      }
      default:
        throw new IngotError('DATASET_INVALID', `${file}:${i + 1}: unknown directive "${key}" (known: materialization, partition_by, grain, incremental, description, tags, on_schema_change, engine, key, order_by, sequence_by, delete_when, scd_type, except_columns, insert_only, export_file, export_postgres, expect)`, { file, row: i + 1, dataset: name });
    }
  }
  const sql = lines.slice(i).join('\n').trim().replace(/;\s*$/, '');
  if (sql === '') throw new IngotError('DATASET_INVALID', `${file}: no SELECT statement after the directives`, { file, dataset: name });
  def['sql'] = sql;
  if (expectations.length > 0) def['expectations'] = expectations;
  if (Object.keys(changes).length > 0) def['changes'] = changes;
  if (Object.keys(exports).length > 0) def['exports'] = exports;
  return def;
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
