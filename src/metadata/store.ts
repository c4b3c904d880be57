import { IngotError } from '../errors.js';
import type { RunHistory, RunIdentityRecord } from './run-history.js';
import type { ExpectationResult, RunResult } from './records.js';
import type { SqlDb } from './sql-db.js';

/** State of one interval (logical date) of one pipeline. */
export type IntervalStatus = 'queued' | 'running' | 'success' | 'failed';

/** A row of `ingot_intervals`: the lease and outcome of one pipeline interval. Times are epoch ms. */
export interface IntervalState {
  pipeline: string;
  logicalDate: string;
  status: IntervalStatus;
  runId: string | null;
  startedAt: number | null;
  /** The scheduler process holding the lease (`host:pid:random`). */
  owner: string | null;
  /** The lease is void after this instant unless its owner heartbeats. */
  leaseExpires: number | null;
  /** 1 for a first run; +1 each time a crashed holder's run is taken over. */
  attempt: number;
  trigger: string | null;
}

/** A successful claim: the run to execute (a taken-over run keeps its id and start time, so its commits stay idempotent). */
export interface Claim {
  runId: string;
  startedAt: Date;
  attempt: number;
  trigger: string;
}

/** A row of `ingot_runs` (times epoch ms). */
export interface RunRow {
  run_id: string;
  project: string;
  pipeline: string | null;
  logical_date: string | null;
  mode: string;
  status: string;
  trigger: string | null;
  attempt: number;
  started_at: number;
  ended_at: number | null;
  rows_written: number | null;
  error: string | null;
}

/** A row of `ingot_rejected_files`: a file a run left out because it could not be read, with the reader's error and line. */
export interface RejectedFileRow {
  run_id: string;
  dataset: string;
  file: string;
  error: string;
  line: number | null;
}

/** A row of `ingot_tasks`: one dataset of one run (times epoch ms; expectations as parsed JSON). */
export interface TaskRow {
  run_id: string;
  dataset: string;
  logical_date: string | null;
  status: string;
  attempts: number;
  started_at: number | null;
  ended_at: number | null;
  rows_in: number;
  rows_out: number;
  rows_dropped: number;
  rows_quarantined: number;
  duration_ms: number;
  version: number | null;
  error: string | null;
  expectations: ExpectationResult[];
  /** The task's log file (JSON lines), when the scheduler wrote one. */
  log: string | null;
  /** Why the step was skipped (or why it ran: the plan's reason); null in runs recorded before it was kept. */
  reason: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ingot_runs (
  run_id TEXT PRIMARY KEY, project TEXT NOT NULL, pipeline TEXT, logical_date TEXT, mode TEXT NOT NULL,
  status TEXT NOT NULL, trigger TEXT, attempt INTEGER NOT NULL, started_at BIGINT NOT NULL, ended_at BIGINT,
  rows_written BIGINT, error TEXT);
CREATE INDEX IF NOT EXISTS ingot_runs_by_start ON ingot_runs (started_at);
CREATE TABLE IF NOT EXISTS ingot_tasks (
  run_id TEXT NOT NULL, dataset TEXT NOT NULL, logical_date TEXT, status TEXT NOT NULL, attempts INTEGER NOT NULL,
  started_at BIGINT, ended_at BIGINT, rows_in BIGINT NOT NULL, rows_out BIGINT NOT NULL, rows_dropped BIGINT NOT NULL,
  rows_quarantined BIGINT NOT NULL, duration_ms BIGINT NOT NULL, version BIGINT, error TEXT, expectations TEXT NOT NULL, log TEXT,
  PRIMARY KEY (run_id, dataset));
CREATE INDEX IF NOT EXISTS ingot_tasks_by_dataset ON ingot_tasks (dataset);
CREATE TABLE IF NOT EXISTS ingot_rejected_files (
  run_id TEXT NOT NULL, dataset TEXT NOT NULL, file TEXT NOT NULL, error TEXT NOT NULL, line BIGINT,
  PRIMARY KEY (run_id, dataset, file));
CREATE TABLE IF NOT EXISTS ingot_intervals (
  pipeline TEXT NOT NULL, logical_date TEXT NOT NULL, status TEXT NOT NULL, run_id TEXT, started_at BIGINT,
  owner TEXT, lease_expires BIGINT, attempt INTEGER NOT NULL, trigger TEXT, updated_at BIGINT NOT NULL,
  PRIMARY KEY (pipeline, logical_date));
CREATE TABLE IF NOT EXISTS ingot_pipelines (name TEXT PRIMARY KEY, paused INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS ingot_api_keys (
  id TEXT PRIMARY KEY, name TEXT, scope TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL,
  revoked_at BIGINT, last_used_at BIGINT);
CREATE TABLE IF NOT EXISTS ingot_api_key_scram (id TEXT PRIMARY KEY, stored_key TEXT NOT NULL, server_key TEXT NOT NULL);
`;

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/**
 * The metadata store: run and task history, interval leases and pipeline state in SQL tables
 * (`ingot_runs`, `ingot_tasks`, `ingot_intervals`, `ingot_pipelines`; `ingot_api_keys` and the keys' SCRAM
 * verifiers `ingot_api_key_scram` for `ingot serve`, see `src/serve/api-keys.ts`), on SQLite or PostgreSQL.
 *
 * Leases: at most one run of a (pipeline, logical date) is `running` at a time. `claim` is one
 * atomic upsert, so two schedulers on one store never both win an interval. A holder heartbeats
 * (`heartbeat`) to extend its lease; when a holder dies, its lease expires and the next `claim`
 * takes the run over with the same run id and start time: the runner's idempotent commits (Delta
 * `txn`) then skip every table the dead holder already committed.
 */
export class MetadataStore implements RunHistory {
  private constructor(readonly db: SqlDb) {}

  /** Opens a store on `db`, creating its tables when absent. */
  static async open(db: SqlDb & { exec(sql: string): unknown }): Promise<MetadataStore> {
    await db.exec(SCHEMA);
    // stores made before the column existed: add it (an error means it is there already)
    try {
      await db.exec('ALTER TABLE ingot_tasks ADD COLUMN reason TEXT');
    } catch {
      // the column exists
    }
    return new MetadataStore(db);
  }

  /** Records a run and its datasets (insert, or update of a run recorded earlier under the same id). */
  async record(run: RunResult): Promise<void> {
    const rows = run.datasets.reduce((n, d) => n + d.rowsOut, 0);
    await this.db.run(
      `INSERT INTO ingot_runs (run_id, project, pipeline, logical_date, mode, status, trigger, attempt, started_at, ended_at, rows_written, error)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (run_id) DO UPDATE SET status = excluded.status, attempt = excluded.attempt, ended_at = excluded.ended_at,
         rows_written = excluded.rows_written, error = excluded.error,
         pipeline = COALESCE(excluded.pipeline, ingot_runs.pipeline), trigger = COALESCE(excluded.trigger, ingot_runs.trigger)`,
      [run.runId, run.project, run.pipeline ?? null, run.logicalDate ?? null, run.mode, run.status, run.trigger ?? null, run.attempt ?? 1,
        run.startedAt.getTime(), run.endedAt.getTime(), rows, run.error ?? null],
    );
    for (const d of run.datasets) {
      await this.db.run(
        `INSERT INTO ingot_tasks (run_id, dataset, logical_date, status, attempts, started_at, ended_at, rows_in, rows_out, rows_dropped,
           rows_quarantined, duration_ms, version, error, expectations, log, reason)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (run_id, dataset) DO UPDATE SET status = excluded.status, attempts = ingot_tasks.attempts + excluded.attempts,
           started_at = excluded.started_at, ended_at = excluded.ended_at, rows_in = excluded.rows_in, rows_out = excluded.rows_out,
           rows_dropped = excluded.rows_dropped, rows_quarantined = excluded.rows_quarantined, duration_ms = excluded.duration_ms,
           version = excluded.version, error = excluded.error, expectations = excluded.expectations, log = excluded.log, reason = excluded.reason`,
        [run.runId, d.dataset, run.logicalDate ?? null, d.status, d.attempts ?? 1, d.startedAt?.getTime() ?? null, d.startedAt ? d.startedAt.getTime() + d.ms : null,
          d.rowsIn, d.rowsOut, d.dropped, d.quarantined, d.ms, d.version ?? null, d.error ?? null, JSON.stringify(d.expectations), d.log ?? null, d.reason ?? null],
      );
      await this.db.run('DELETE FROM ingot_rejected_files WHERE run_id = ? AND dataset = ?', [run.runId, d.dataset]);
      for (const r of d.rejected ?? []) {
        await this.db.run('INSERT INTO ingot_rejected_files (run_id, dataset, file, error, line) VALUES (?, ?, ?, ?, ?)', [run.runId, d.dataset, r.file, r.error, r.line ?? null]);
      }
    }
    // steps the run never started (it stopped at a failed dataset): status `not_run` with why
    for (const d of run.notRun ?? []) {
      await this.db.run(
        `INSERT INTO ingot_tasks (run_id, dataset, logical_date, status, attempts, rows_in, rows_out, rows_dropped, rows_quarantined, duration_ms, expectations, reason)
         VALUES (?, ?, ?, 'not_run', 0, 0, 0, 0, 0, 0, '[]', ?)
         ON CONFLICT (run_id, dataset) DO UPDATE SET status = 'not_run', reason = excluded.reason, version = NULL, error = NULL`,
        [run.runId, d.dataset, run.logicalDate ?? null, d.reason],
      );
    }
  }

  /** Files runs left out because they could not be read (`ingot_rejected_files`), oldest run first; of one run or dataset when given. */
  async rejectedFiles(filter: { runId?: string; dataset?: string } = {}): Promise<RejectedFileRow[]> {
    const where = [filter.runId !== undefined && 'f.run_id = ?', filter.dataset !== undefined && 'f.dataset = ?'].filter(Boolean);
    const rows = await this.db.all<Record<string, unknown>>(
      `SELECT f.run_id, f.dataset, f.file, f.error, f.line FROM ingot_rejected_files f LEFT JOIN ingot_runs r ON r.run_id = f.run_id${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY r.started_at, f.run_id, f.file`,
      [...(filter.runId !== undefined ? [filter.runId] : []), ...(filter.dataset !== undefined ? [filter.dataset] : [])]);
    return rows.map((r) => ({ run_id: String(r['run_id']), dataset: String(r['dataset']), file: String(r['file']), error: String(r['error']), line: num(r['line']) }));
  }

  /** Marks a run as started (status `running`), so history shows runs in flight. */
  async recordStart(run: { runId: string; project: string; pipeline: string; logicalDate: string; trigger: string; attempt: number; startedAt: Date }): Promise<void> {
    await this.db.run(
      `INSERT INTO ingot_runs (run_id, project, pipeline, logical_date, mode, status, trigger, attempt, started_at)
       VALUES (?, ?, ?, ?, 'date', 'running', ?, ?, ?)
       ON CONFLICT (run_id) DO UPDATE SET status = 'running', attempt = excluded.attempt, error = NULL, ended_at = NULL`,
      [run.runId, run.project, run.pipeline, run.logicalDate, run.trigger, run.attempt, run.startedAt.getTime()],
    );
  }

  /** The identity and logical date of a recorded run, to retry it. Errors: RUN_NOT_FOUND naming the id. */
  async find(runId: string): Promise<RunIdentityRecord> {
    const [row] = await this.db.all<{ started_at: unknown; logical_date: string | null; pipeline: string | null }>(
      'SELECT started_at, logical_date, pipeline FROM ingot_runs WHERE run_id = ?', [runId]);
    if (!row) throw new IngotError('RUN_NOT_FOUND', `no run ${runId} in the metadata store ${this.db.location} (see \`ingot runs\`)`, {});
    return { runId, startedAt: new Date(Number(row.started_at)), ...(row.logical_date ? { logicalDate: row.logical_date } : {}), ...(row.pipeline ? { pipeline: row.pipeline } : {}) };
  }

  /** Runs, newest first (at most `limit`), optionally of one pipeline, one status or one run id. */
  async runs(limit = 1_000_000, filter: { pipeline?: string; status?: string; runId?: string } = {}): Promise<RunRow[]> {
    const where = (['pipeline', 'status', 'runId'] as const).filter((k) => filter[k] !== undefined);
    const column = { pipeline: 'pipeline', status: 'status', runId: 'run_id' };
    const rows = await this.db.all<RunRow>(
      `SELECT * FROM ingot_runs${where.length ? ' WHERE ' + where.map((k) => `${column[k]} = ?`).join(' AND ') : ''} ORDER BY started_at DESC, run_id DESC LIMIT ?`,
      [...where.map((k) => filter[k]), limit]);
    return rows.map((r) => ({ ...r, attempt: Number(r.attempt), started_at: Number(r.started_at), ended_at: num(r.ended_at), rows_written: num(r.rows_written) }));
  }

  /** Tasks (dataset results) of every run, of one dataset, or of one run (`{ runId }`). */
  async tasks(filter?: string | { runId: string }): Promise<TaskRow[]> {
    const [where, params] = filter === undefined ? ['', []] : typeof filter === 'string' ? [' WHERE dataset = ?', [filter]] : [' WHERE run_id = ?', [filter.runId]];
    const rows = await this.db.all<Record<string, unknown>>(`SELECT * FROM ingot_tasks${where} ORDER BY started_at, run_id, dataset`, params);
    return rows.map((r) => ({
      run_id: String(r['run_id']), dataset: String(r['dataset']), logical_date: (r['logical_date'] as string | null) ?? null, status: String(r['status']),
      attempts: Number(r['attempts']), started_at: num(r['started_at']), ended_at: num(r['ended_at']), rows_in: Number(r['rows_in']),
      rows_out: Number(r['rows_out']), rows_dropped: Number(r['rows_dropped']), rows_quarantined: Number(r['rows_quarantined']),
      duration_ms: Number(r['duration_ms']), version: num(r['version']), error: (r['error'] as string | null) ?? null,
      expectations: JSON.parse(String(r['expectations'])) as ExpectationResult[], log: (r['log'] as string | null) ?? null,
      reason: (r['reason'] as string | null) ?? null,
    }));
  }

  /** Logical dates for which `dataset` has a successful task in a successful (committed) run. */
  /** Whether a successful run recorded a successful task of `dataset` for `logicalDate`. */
  async completeOn(dataset: string, logicalDate: string): Promise<boolean> {
    const rows = await this.db.all<{ one: number }>(
      `SELECT 1 AS one FROM ingot_tasks t JOIN ingot_runs r ON r.run_id = t.run_id
       WHERE t.dataset = ? AND t.logical_date = ? AND t.status IN ('success', 'skipped') AND r.status = 'success' LIMIT 1`, [dataset, logicalDate]);
    return rows.length > 0;
  }

  async completeDates(dataset: string): Promise<string[]> {
    const rows = await this.db.all<{ logical_date: string }>(
      `SELECT DISTINCT t.logical_date FROM ingot_tasks t JOIN ingot_runs r ON r.run_id = t.run_id
       WHERE t.dataset = ? AND t.status IN ('success', 'skipped') AND r.status = 'success' AND t.logical_date IS NOT NULL ORDER BY t.logical_date`, [dataset]);
    return rows.map((r) => r.logical_date);
  }

  /**
   * Takes the lease of (pipeline, logical date) for `owner` until `now + leaseMs`, atomically.
   * Wins when the interval has no row, is `queued` (a manual trigger), is `running` under an
   * expired lease (its holder crashed: the run is taken over with its id and start time,
   * attempt + 1), or is `failed` (`allow` 'incomplete' or 'any') or `success` (`allow` 'any').
   * Returns undefined when another holder has it or it is already done.
   */
  async claim(pipeline: string, logicalDate: string, owner: string, options: { leaseMs: number; trigger: string; allow?: 'due' | 'incomplete' | 'any'; now?: number; runId?: string }): Promise<Claim | undefined> {
    const now = options.now ?? Date.now();
    const level = { due: 0, incomplete: 1, any: 2 }[options.allow ?? 'due'];
    const runId = options.runId ?? `${pipeline}_${logicalDate}_${Math.random().toString(36).slice(2, 10)}`;
    const [row] = await this.db.all<{ run_id: string; started_at: unknown; attempt: unknown; trigger: string }>(
      `INSERT INTO ingot_intervals (pipeline, logical_date, status, run_id, started_at, owner, lease_expires, attempt, trigger, updated_at)
       VALUES (?, ?, 'running', ?, ?, ?, ?, 1, ?, ?)
       ON CONFLICT (pipeline, logical_date) DO UPDATE SET
         run_id = CASE WHEN ingot_intervals.status = 'running' THEN ingot_intervals.run_id ELSE excluded.run_id END,
         started_at = CASE WHEN ingot_intervals.status = 'running' THEN ingot_intervals.started_at ELSE excluded.started_at END,
         attempt = CASE WHEN ingot_intervals.status = 'running' THEN ingot_intervals.attempt + 1 ELSE 1 END,
         trigger = CASE WHEN ingot_intervals.status = 'running' OR ingot_intervals.status = 'queued' THEN ingot_intervals.trigger ELSE excluded.trigger END,
         status = 'running', owner = excluded.owner, lease_expires = excluded.lease_expires, updated_at = excluded.updated_at
       WHERE ingot_intervals.status = 'queued' OR (ingot_intervals.status = 'running' AND ingot_intervals.lease_expires < ?)
         OR (? >= 1 AND ingot_intervals.status = 'failed') OR (? >= 2 AND ingot_intervals.status = 'success')
       RETURNING run_id, started_at, attempt, trigger`,
      [pipeline, logicalDate, runId, now, owner, now + options.leaseMs, options.trigger, now, now, level, level],
    );
    return row ? { runId: row.run_id, startedAt: new Date(Number(row.started_at)), attempt: Number(row.attempt), trigger: row.trigger } : undefined;
  }

  /** Extends `owner`'s lease on a running interval. Returns false when the lease was lost (taken over after expiring). */
  async heartbeat(pipeline: string, logicalDate: string, owner: string, leaseMs: number, now = Date.now()): Promise<boolean> {
    return (await this.db.run(
      "UPDATE ingot_intervals SET lease_expires = ?, updated_at = ? WHERE pipeline = ? AND logical_date = ? AND owner = ? AND status = 'running'",
      [now + leaseMs, now, pipeline, logicalDate, owner])) === 1;
  }

  /** Ends `owner`'s lease with the run's outcome. Returns false when the lease had been lost. */
  async finish(pipeline: string, logicalDate: string, owner: string, status: 'success' | 'failed', now = Date.now()): Promise<boolean> {
    return (await this.db.run(
      "UPDATE ingot_intervals SET status = ?, lease_expires = NULL, updated_at = ? WHERE pipeline = ? AND logical_date = ? AND owner = ? AND status = 'running'",
      [status, now, pipeline, logicalDate, owner])) === 1;
  }

  /** Gives a lease up without an outcome (graceful shutdown): the run can be taken over at once, as the same run. */
  async release(pipeline: string, logicalDate: string, owner: string): Promise<void> {
    await this.db.run("UPDATE ingot_intervals SET lease_expires = 0 WHERE pipeline = ? AND logical_date = ? AND owner = ? AND status = 'running'",
      [pipeline, logicalDate, owner]);
  }

  /** Queues an interval for a run (manual trigger). Returns false when it is running now. */
  async trigger(pipeline: string, logicalDate: string, now = Date.now()): Promise<boolean> {
    return (await this.db.run(
      `INSERT INTO ingot_intervals (pipeline, logical_date, status, attempt, trigger, updated_at) VALUES (?, ?, 'queued', 0, 'manual', ?)
       ON CONFLICT (pipeline, logical_date) DO UPDATE SET status = 'queued', trigger = 'manual', owner = NULL, lease_expires = NULL, updated_at = excluded.updated_at
       WHERE ingot_intervals.status <> 'running'`,
      [pipeline, logicalDate, now])) === 1;
  }

  /** Every interval row of `pipeline` (all pipelines when absent), by logical date. */
  async intervals(pipeline?: string): Promise<IntervalState[]> {
    const rows = await this.db.all<Record<string, unknown>>(
      `SELECT * FROM ingot_intervals${pipeline ? ' WHERE pipeline = ?' : ''} ORDER BY pipeline, logical_date`, pipeline ? [pipeline] : []);
    return rows.map((r) => ({
      pipeline: String(r['pipeline']), logicalDate: String(r['logical_date']), status: r['status'] as IntervalStatus,
      runId: (r['run_id'] as string | null) ?? null, startedAt: num(r['started_at']), owner: (r['owner'] as string | null) ?? null,
      leaseExpires: num(r['lease_expires']), attempt: Number(r['attempt']), trigger: (r['trigger'] as string | null) ?? null,
    }));
  }

  /** Pauses or resumes a pipeline (a paused pipeline starts no new runs). */
  async setPaused(pipeline: string, paused: boolean): Promise<void> {
    await this.db.run('INSERT INTO ingot_pipelines (name, paused) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET paused = excluded.paused', [pipeline, paused ? 1 : 0]);
  }

  /**
   * Names of the paused pipelines: those paused by `setPaused`, and those of `startPaused` (declared
   * `paused: true`) that were never paused or resumed since.
   */
  async paused(startPaused: Iterable<string> = []): Promise<Set<string>> {
    const rows = await this.db.all<{ name: string; paused: number }>('SELECT name, paused FROM ingot_pipelines');
    const set = new Map(rows.map((r) => [r.name, Number(r.paused) === 1]));
    const out = new Set(rows.filter((r) => Number(r.paused) === 1).map((r) => r.name));
    for (const name of startPaused) if (!set.has(name)) out.add(name);
    return out;
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
