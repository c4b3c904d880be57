/**
 * A writer process for test/concurrency.test.ts: commits `COMMITS` blind appends to the table at
 * `LOCATION`, each a Parquet file written by DuckDB whose rows carry (worker, seq, i) with
 * `batchRows(worker, seq)` rows. Waits until `START_AT` (ms since epoch) so that every writer
 * starts at once. With `FRESH=1` it opens the table anew for each append, so it loads the latest
 * checkpoint (possibly one another writer is writing) instead of updating its cached snapshot.
 * Prints one JSON line: `{ worker, versions, ms }` (the committed versions in order, and the time
 * from START_AT to the last commit).
 *
 * Run: `node --import tsx test/workers/append.ts` with the environment variables above and `WORKER`.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBEngine } from '../../src/engine/duckdb/engine.js';
import { LocalStore } from '../../src/storage/local.js';
import { DeltaTable } from '../../src/table/table.js';
import { writeSql } from '../helpers.js';

/** Rows of batch (worker, seq): 1 to 4, so that a lost or doubled row changes the count. */
export function batchRows(worker: number, seq: number): number {
  return 1 + ((worker + seq) % 4);
}

async function main(): Promise<void> {
  const env = (name: string): string => {
    const v = process.env[name];
    if (v === undefined) throw new Error(`append worker: ${name} is not set`);
    return v;
  };
  const location = env('LOCATION');
  const worker = Number(env('WORKER'));
  const commits = Number(env('COMMITS'));
  const startAt = Number(env('START_AT'));
  const fresh = process.env['FRESH'] === '1';
  const engine = await DuckDBEngine.open({ threads: 1 });
  let table = new DeltaTable(new LocalStore(location), engine);
  while (Date.now() < startAt) await new Promise((r) => setTimeout(r, 2));
  const versions: number[] = [];
  for (let seq = 0; seq < commits; seq++) {
    if (fresh) table = new DeltaTable(new LocalStore(location), engine);
    const sql = `SELECT ${worker} AS worker, ${seq} AS seq, range::INTEGER AS i FROM range(${batchRows(worker, seq)})`;
    versions.push(await writeSql(engine, table, sql, { mode: 'append', parameters: { worker, seq } }));
  }
  const ms = Date.now() - startAt;
  await engine.close();
  process.stdout.write(`${JSON.stringify({ worker, versions, ms })}\n`);
}

// run as a script, not when the test imports batchRows
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
