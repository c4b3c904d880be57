import type { Engine, FileScan } from '../engine/engine.js';
import { IngotError } from '../errors.js';
import { changeFiles, type ChangeFile } from '../table/change-feed.js';
import type { Lake } from '../table/lake.js';
import { decodePath } from '../table/write.js';

/** The columns a change feed adds to a table's own (Spark's and delta-rs's names and types). */
export const CHANGE_COLUMNS = ['_change_type', '_commit_version', '_commit_timestamp'] as const;

/**
 * Makes the change data feed of `table` from version `from` to `to` (both included; see
 * `changeFiles`) queryable in `engine` as relation `name`: the table's columns, then
 * `_change_type` (VARCHAR), `_commit_version` (BIGINT) and `_commit_timestamp` (TIMESTAMP), as
 * Spark's `table_changes` / `readChangeFeed` and delta-rs's `load_cdf` give them. Partition
 * values come from the log. Errors: those of `changeFiles`; CHANGE_FEED_UNAVAILABLE for a table
 * with column mapping.
 */
export async function attachChanges(lake: Lake, engine: Engine, tableName: string, name: string, from: number, to: number): Promise<void> {
  const table = lake.table(tableName);
  const files = await changeFiles(table, from, to);
  const snapshot = await table.snapshot();
  if (snapshot.columnMapping) throw new IngotError('CHANGE_FEED_UNAVAILABLE', `${tableName}: reading the change feed of a table with column mapping is not supported yet`, { table: tableName });
  const d = engine.dialect;
  const types: Record<string, string> = Object.fromEntries(snapshot.schema.fields.map((f) => [f.name, d.typeName(f.type)]));
  const columns = [...snapshot.schema.fields.map((f) => f.name), ...CHANGE_COLUMNS];
  const select = (from: string): string => `SELECT ${columns.map((c) => d.quoteIdent(c)).join(', ')} FROM ${d.quoteIdent(from)}`;
  if (files.length === 0) {
    const nulls = [...snapshot.schema.fields.map((f) => `CAST(NULL AS ${types[f.name]}) AS ${d.quoteIdent(f.name)}`), `CAST(NULL AS VARCHAR) AS "_change_type"`, `CAST(NULL AS BIGINT) AS "_commit_version"`, `CAST(NULL AS TIMESTAMP) AS "_commit_timestamp"`];
    await engine.view(name, `SELECT ${nulls.join(', ')} WHERE 1 = 0`);
    return;
  }
  const dir = await table.store.localCopy(files.map((f) => ({ key: decodePath(f.path, table.store.root), ...(f.size !== undefined ? { size: f.size } : {}) })));
  const local = (f: ChangeFile): string => `${dir}/${decodePath(f.path, table.store.root)}`;
  const stamp = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
  const valueTypes: Record<string, string> = { ...Object.fromEntries(snapshot.partitionColumns.map((c) => [c, types[c]!])), _change_type: 'VARCHAR', _commit_version: 'BIGINT', _commit_timestamp: 'TIMESTAMP' };
  const values = (f: ChangeFile): Record<string, string> => ({
    ...Object.fromEntries(snapshot.partitionColumns.map((c) => [c, f.partitionValues[c] ?? ''])),
    ...(f.changeType ? { _change_type: f.changeType } : {}), _commit_version: String(f.version), _commit_timestamp: stamp(f.timestamp),
  });
  const parts: string[] = [];
  // a file added by one version and removed by a later one appears twice: each relation reads a path once
  const seen = new Map<string, number>();
  const rounds: ChangeFile[][] = [];
  for (const f of files) {
    const n = seen.get(f.path) ?? 0;
    seen.set(f.path, n + 1);
    (rounds[n] ??= []).push(f);
  }
  const groups = rounds.flatMap((round, i) => [[`cdc${i}`, round.filter((f) => !f.changeType)], [`data${i}`, round.filter((f) => f.changeType)]] as const);
  for (const [suffix, group] of groups) {
    if (group.length === 0) continue;
    if (snapshot.partitionColumns.some((c) => group.some((f) => f.partitionValues[c] === null || f.partitionValues[c] === undefined))) {
      throw new IngotError('CHANGE_FEED_UNAVAILABLE', `${tableName}: a change file with a NULL partition value is not supported yet`, { table: tableName });
    }
    const scan: FileScan = { format: 'parquet', files: group.map((f) => ({ path: local(f), values: values(f) })), valueTypes };
    await engine.attachFiles(`${name}__${suffix}`, scan);
    parts.push(select(`${name}__${suffix}`));
  }
  await engine.view(name, parts.join(' UNION ALL '));
}

/**
 * `sql` with each `table_changes('layer.table', from[, to])` (Spark's table function; `to`
 * defaults to the latest version) replaced by a relation the change feed is attached as
 * (`attachChanges`). Errors: those of `attachChanges`.
 */
export async function withTableChanges(lake: Lake, engine: Engine, sql: string): Promise<string> {
  const calls = [...sql.matchAll(/table_changes\s*\(\s*'([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*)'\s*,\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)/gi)];
  let out = sql;
  for (const [i, m] of calls.entries()) {
    const table = m[1]!;
    const to = m[3] !== undefined ? Number(m[3]) : (await lake.table(table).snapshot()).version;
    const name = `__table_changes_${i}`;
    await attachChanges(lake, engine, table, name, Number(m[2]), to);
    out = out.replace(m[0], engine.dialect.quoteIdent(name));
  }
  return out;
}
