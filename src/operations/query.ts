import { withTableChanges } from './change-feed.js';
import { IngotError } from '../errors.js';
import type { Engine, Row } from '../engine/engine.js';
import type { Lake } from '../table/lake.js';
import { scanFor } from './scan.js';

/** Makes the given tables of `lake` queryable in `engine` as `layer.table`, at their latest version or at `versions[name]`. */
export async function attachTables(lake: Lake, engine: Engine, names: string[], versions: Record<string, number> = {}): Promise<void> {
  for (const name of names) {
    const table = lake.table(name);
    const snapshot = await table.snapshot(versions[name]).catch((err: unknown) => {
      if (err instanceof IngotError && err.code === 'TABLE_NOT_FOUND') {
        throw new IngotError('TABLE_NOT_FOUND', `table ${name} does not exist in ${lake.root}`, { table: name }, { cause: err });
      }
      throw err;
    });
    await engine.attachTable(name, await scanFor(engine, table, snapshot));
  }
}

/**
 * Runs a read-only SELECT over the lake's tables, addressed as `layer.table`, at their latest
 * versions or at `versions[name]` (`versions['*']` for every table). Only the tables the
 * statement references are attached. Errors: SQL_NOT_READ_ONLY, SQL_ERROR, TABLE_NOT_FOUND, VERSION_NOT_FOUND.
 */
export async function queryLake(lake: Lake, engine: Engine, sql: string, versions: Record<string, number> = {}): Promise<Row[]> {
  // table_changes('layer.table', from, to): the table's change data feed (operations/change-feed.ts)
  if (/table_changes\s*\(/i.test(sql)) sql = await withTableChanges(lake, engine, sql);
  const names = await engine.references(sql);
  const resolved: Record<string, number> = {};
  for (const name of names) {
    const v = versions[name] ?? versions['*'];
    if (v !== undefined) resolved[name] = v;
  }
  await attachTables(lake, engine, names, resolved);
  return engine.query(sql);
}
