/**
 * A writer process for test/crash.test.ts, meant to be killed with SIGKILL at a random moment.
 * It commits batches `FIRST_BATCH`, `FIRST_BATCH + 1`, ... to the table at `LOCATION` (which
 * must exist, partitioned by `part`) until killed. Each batch is planned by `batchPlan` and
 * recorded in its commit's `operationParameters` ({ batch, rows, part, write }), so the log says
 * exactly which rows the table must hold. Prints one line per step, written synchronously (stdout
 * is a pipe), so the parent knows where the kill landed:
 * `ready`, `stage <batch>` (DuckDB writes the Parquet files), `commit <batch> <readVersion>`
 * (DeltaTable.commit: put-if-absent of the commit, then any checkpoint), `done <batch> <version>`.
 *
 * Run: `node --import tsx test/workers/crash-writer.ts` with LOCATION and FIRST_BATCH set.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBEngine } from '../../src/engine/duckdb/engine.js';
import { LocalStore } from '../../src/storage/local.js';
import type { WriteMode } from '../../src/table/write.js';
import { DeltaTable } from '../../src/table/table.js';
import { prepareSql } from '../helpers.js';

/** What batch `batch` writes: `rows` rows (batch, part, i) with i = 0..rows-1, in partition `part`. */
export interface BatchPlan {
  batch: number;
  rows: number;
  part: number;
  /** append; replace = replaceWhere part = `part`; overwrite = the whole table. */
  write: WriteMode;
}

/** The plan of batch `batch`: mostly small appends, some 5000-row ones, a replace every 7th, an overwrite every 23rd. */
export function batchPlan(batch: number): BatchPlan {
  const rows = batch % 11 === 5 ? 5000 : 1 + (batch % 5);
  const write: WriteMode = batch % 23 === 22 ? 'overwrite' : batch % 7 === 3 ? 'replace' : 'append';
  return { batch, rows, part: batch % 3, write };
}

/** The SQL producing the rows of `plan`. */
export function batchSql(plan: BatchPlan): string {
  return `SELECT ${plan.batch} AS batch, ${plan.part} AS part, range::INTEGER AS i FROM range(${plan.rows})`;
}

/** Write options of `plan` for `writeSql`/`prepareSql`. */
export function batchOptions(plan: BatchPlan): Parameters<typeof prepareSql>[3] {
  return {
    mode: plan.write,
    ...(plan.write === 'replace' ? { replaceWhere: [{ column: 'part', op: '=', value: plan.part }] } : {}),
    parameters: { batch: plan.batch, rows: plan.rows, part: plan.part, write: plan.write },
  };
}

async function main(): Promise<void> {
  const location = process.env['LOCATION'];
  const first = Number(process.env['FIRST_BATCH']);
  if (!location || !Number.isInteger(first)) throw new Error('crash writer: LOCATION and FIRST_BATCH must be set');
  const engine = await DuckDBEngine.open({ threads: 1 });
  const table = new DeltaTable(new LocalStore(location), engine);
  const say = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  say('ready');
  for (let batch = first; ; batch++) {
    const plan = batchPlan(batch);
    say(`stage ${batch}`);
    const { commit } = await prepareSql(engine, table, batchSql(plan), batchOptions(plan));
    say(`commit ${batch} ${commit.readVersion}`);
    say(`done ${batch} ${await table.commit(commit)}`);
  }
}

// run as a script, not when the test imports the batch plan
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
