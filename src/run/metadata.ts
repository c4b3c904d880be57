import { quoteString, type Engine } from '../engine/engine.js';
import { IngotError } from '../errors.js';
import { queryLake, stageWrite, type Lake } from '../lake.js';
import type { RunResult } from './result.js';

/** Delta table with one row per run. */
export const RUNS_TABLE = '_ingot.runs';
/** Delta table with one row per dataset per run, expectation counts included. */
export const RUN_DATASETS_TABLE = '_ingot.run_datasets';

/**
 * The metadata store: run history kept as Delta tables inside the lake (`_ingot.runs`,
 * `_ingot.run_datasets`), so it is queryable like any table (`ingot sql`) and travels with the lake.
 */
export class MetadataStore {
  constructor(private readonly lake: Lake, private readonly engine: Engine) {}

  /** Appends a run and its dataset results (one commit per table). */
  async record(run: RunResult): Promise<void> {
    const lit = (v: unknown): string =>
      v === undefined || v === null ? 'NULL' : typeof v === 'number' ? String(v) : v instanceof Date ? `TIMESTAMPTZ '${v.toISOString()}'` : quoteString(printable(String(v)));
    const date = run.logicalDate ? `DATE '${run.logicalDate}'` : 'CAST(NULL AS DATE)';
    const rowsWritten = run.datasets.reduce((n, d) => n + d.rowsOut, 0);
    const runSql = `SELECT ${lit(run.runId)} AS run_id, ${lit(run.project)} AS project, ${date} AS logical_date, ${lit(run.mode)} AS mode,
      ${lit(run.status)} AS status, ${lit(run.startedAt)} AS started_at, ${lit(run.endedAt)} AS ended_at,
      CAST(${run.endedAt.getTime() - run.startedAt.getTime()} AS BIGINT) AS duration_ms, CAST(${run.datasets.length} AS INTEGER) AS datasets,
      CAST(${rowsWritten} AS BIGINT) AS rows_written, CAST(${lit(run.error)} AS VARCHAR) AS error`;
    const dsRows = run.datasets.map((d) => {
      const exps = d.expectations.length
        ? `[${d.expectations.map((e) => `{'name': ${lit(e.name)}, 'action': ${lit(e.action)}, 'failed': CAST(${e.failed} AS BIGINT)}`).join(', ')}]`
        : `CAST([] AS STRUCT(name VARCHAR, action VARCHAR, failed BIGINT)[])`;
      return `SELECT ${lit(run.runId)} AS run_id, ${date} AS logical_date, ${lit(d.dataset)} AS dataset, ${lit(d.status)} AS status,
        CAST(${d.rowsIn} AS BIGINT) AS rows_in, CAST(${d.rowsOut} AS BIGINT) AS rows_out, CAST(${d.dropped} AS BIGINT) AS rows_dropped,
        CAST(${d.quarantined} AS BIGINT) AS rows_quarantined, CAST(${d.ms} AS BIGINT) AS duration_ms,
        CAST(${lit(d.version)} AS BIGINT) AS version, CAST(${lit(d.error)} AS VARCHAR) AS error, ${exps} AS expectations`;
    });
    await this.append(RUNS_TABLE, runSql);
    if (dsRows.length > 0) await this.append(RUN_DATASETS_TABLE, dsRows.join(' UNION ALL '));
  }

  /**
   * The identity (id, start time) and logical date of a recorded run, to retry it.
   * Errors: RUN_NOT_FOUND naming the id.
   */
  async find(runId: string): Promise<{ runId: string; startedAt: Date; logicalDate?: string }> {
    const table = this.lake.table(RUNS_TABLE);
    const rows = (await table.exists())
      ? await queryLake(this.lake, this.engine, `SELECT CAST(logical_date AS VARCHAR) AS d, epoch_ms(started_at) AS t FROM ${RUNS_TABLE} WHERE run_id = ${quoteString(runId)} ORDER BY started_at LIMIT 1`)
      : [];
    const row = rows[0];
    if (!row) throw new IngotError('RUN_NOT_FOUND', `no run ${runId} in ${this.lake.root} (see \`ingot runs\`)`, {});
    return { runId, startedAt: new Date(Number(row['t'])), ...(row['d'] ? { logicalDate: String(row['d']) } : {}) };
  }

  private async append(name: string, sql: string): Promise<void> {
    const table = this.lake.table(name);
    const base = await table.trySnapshot();
    if (base) {
      // the schema is known: write straight from the query
      const { commit } = await stageWrite(this.engine, table, base, sql, { mode: 'append', schema: base.schema });
      await table.commit(commit);
      return;
    }
    const staged = await this.engine.stage('__ingot_meta', sql);
    try {
      const { commit } = await stageWrite(this.engine, table, undefined, `SELECT * FROM "__ingot_meta"`, { mode: 'append', schema: staged.schema });
      await table.commit(commit);
    } finally {
      await this.engine.drop('__ingot_meta');
    }
  }
}

/** `text` with control characters (NUL included, which SQL literals cannot hold) replaced by U+FFFD; tabs and newlines kept. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '\uFFFD');
}
