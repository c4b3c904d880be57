import type { RunResult } from './records.js';

/** A recorded run's identity (id, start time: the Delta `txn` version of its commits) and what it ran. */
export interface RunIdentityRecord {
  runId: string;
  startedAt: Date;
  logicalDate?: string;
  pipeline?: string;
}

/**
 * Where the runner records runs: the project's metadata store (`src/metadata`: SQLite in
 * `.ingot/metadata.db` by default, PostgreSQL when `metadata` is configured). `ingot runs`,
 * `ingot checks` and `ingot sql` over `_ingot.runs` / `_ingot.run_datasets` read it back.
 */
export interface RunHistory {
  /** Records a run and its dataset results; recording a run id again updates it (a retry). */
  record(run: RunResult): Promise<void>;
  /** The identity of a recorded run, to retry it. Errors: RUN_NOT_FOUND naming the id. */
  find(runId: string): Promise<RunIdentityRecord>;
  close(): Promise<void>;
}
