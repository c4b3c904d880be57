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
 *     -- on_schema_change: quarantine
 *     -- expect delay_in_range (quarantine): delay_min BETWEEN -120 AND 1440
 *
 * Other comment lines are ignored. Errors name the file and line (DATASET_INVALID).
 */
export function parseSqlDataset(text: string, name: string, file: string): Record<string, unknown> {
  const lines = text.split('\n');
  const def: Record<string, unknown> = { name, materialization: 'overwrite' };
  const expectations: Expectation[] = [];
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
      case 'partition_by': def['partitionBy'] = value.split(',').map((s) => s.trim()).filter(Boolean); break;
      case 'grain': def['grain'] = value; break;
      case 'description': def['description'] = value; break;
      case 'on_schema_change': def['onSchemaChange'] = value; break;
      default:
        throw new IngotError('DATASET_INVALID', `${file}:${i + 1}: unknown directive "${key}" (known: materialization, partition_by, grain, description, on_schema_change, expect)`, { file, row: i + 1, dataset: name });
    }
  }
  const sql = lines.slice(i).join('\n').trim().replace(/;\s*$/, '');
  if (sql === '') throw new IngotError('DATASET_INVALID', `${file}: no SELECT statement after the directives`, { file, dataset: name });
  def['sql'] = sql;
  if (expectations.length > 0) def['expectations'] = expectations;
  return def;
}
