import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { LocalEngine } from '../engine/registry.js';
import type { DataType, StructType } from '../table/schema.js';
import type { MetadataStore } from '../metadata/store.js';

/** Name under which `ingot sql` (and `ingot runs`) read the run history: one row per run. */
export const RUNS_TABLE = '_ingot.runs';
/** One row per dataset per run, expectation counts included. */
export const RUN_DATASETS_TABLE = '_ingot.run_datasets';

const field = (name: string, type: DataType) => ({ name, type, nullable: true, metadata: {} });

const RUNS_SCHEMA: StructType = {
  type: 'struct',
  fields: [
    field('run_id', 'string'), field('project', 'string'), field('pipeline', 'string'), field('logical_date', 'date'), field('mode', 'string'),
    field('status', 'string'), field('trigger', 'string'), field('attempt', 'integer'), field('started_at', 'timestamp'), field('ended_at', 'timestamp'),
    field('duration_ms', 'long'), field('datasets', 'integer'), field('rows_written', 'long'), field('error', 'string'),
  ],
};

const EXPECTATION: DataType = { type: 'struct', fields: [field('name', 'string'), field('action', 'string'), field('failed', 'long'), field('scope', 'string')] };
/** A file the run could not read and left out (see `MetadataStore.rejectedFiles`). */
const REJECTED: DataType = { type: 'struct', fields: [field('file', 'string'), field('error', 'string'), field('line', 'long')] };

const RUN_DATASETS_SCHEMA: StructType = {
  type: 'struct',
  fields: [
    field('run_id', 'string'), field('logical_date', 'date'), field('dataset', 'string'), field('status', 'string'), field('attempts', 'integer'),
    field('started_at', 'timestamp'), field('rows_in', 'long'), field('rows_out', 'long'), field('rows_dropped', 'long'), field('rows_quarantined', 'long'),
    field('duration_ms', 'long'), field('version', 'long'), field('error', 'string'),
    field('expectations', { type: 'array', elementType: EXPECTATION, containsNull: true }), field('log', 'string'),
    field('rejected', { type: 'array', elementType: REJECTED, containsNull: true }),
  ],
};

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/**
 * Makes the metadata store's run history queryable in `engine` as `_ingot.runs` and
 * `_ingot.run_datasets` (the tables `ingot runs`, `ingot checks` and `ingot sql` read): the rows
 * are copied into Parquet files in a temporary folder, which the returned function removes (after
 * the last query).
 */
export async function attachHistory(engine: LocalEngine, store: MetadataStore, names: string[] = [RUNS_TABLE, RUN_DATASETS_TABLE]): Promise<() => Promise<void>> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ingot-history-'));
  const tasks = await store.tasks();
  if (names.includes(RUNS_TABLE)) {
    const perRun = new Map<string, number>();
    for (const t of tasks) perRun.set(t.run_id, (perRun.get(t.run_id) ?? 0) + 1);
    const rows = (await store.runs()).map((r) => ({
      run_id: r.run_id, project: r.project, pipeline: r.pipeline, logical_date: r.logical_date?.slice(0, 10) ?? null, mode: r.mode, status: r.status,
      trigger: r.trigger, attempt: r.attempt, started_at: iso(r.started_at), ended_at: iso(r.ended_at),
      duration_ms: r.ended_at === null ? null : r.ended_at - r.started_at, datasets: perRun.get(r.run_id) ?? 0, rows_written: r.rows_written, error: r.error,
    }));
    await attach(engine, dir, RUNS_TABLE, RUNS_SCHEMA, rows);
  }
  if (names.includes(RUN_DATASETS_TABLE)) {
    const rejected = new Map<string, { file: string; error: string; line: number | null }[]>();
    for (const r of await store.rejectedFiles()) {
      const key = `${r.run_id}\u0000${r.dataset}`;
      rejected.set(key, [...(rejected.get(key) ?? []), { file: r.file, error: r.error, line: r.line }]);
    }
    const rows = tasks.map((t) => ({
      run_id: t.run_id, logical_date: t.logical_date?.slice(0, 10) ?? null, dataset: t.dataset, status: t.status, attempts: t.attempts, started_at: iso(t.started_at),
      rows_in: t.rows_in, rows_out: t.rows_out, rows_dropped: t.rows_dropped, rows_quarantined: t.rows_quarantined, duration_ms: t.duration_ms,
      version: t.version, error: t.error, expectations: t.expectations.map((e) => ({ name: e.name, action: e.action, failed: e.failed, scope: e.scope ?? 'row' })), log: t.log,
      rejected: rejected.get(`${t.run_id}\u0000${t.dataset}`) ?? [],
    }));
    await attach(engine, dir, RUN_DATASETS_TABLE, RUN_DATASETS_SCHEMA, rows);
  }
  return () => fs.rm(dir, { recursive: true, force: true });
}

async function attach(engine: LocalEngine, dir: string, name: string, schema: StructType, rows: Record<string, unknown>[]): Promise<void> {
  const file = `${name.replace('.', '_')}.parquet`;
  await engine.writeRows(path.join(dir, file), schema, rows);
  await engine.attachTable(name, { location: dir, schema, partitionColumns: [], files: [{ path: file, partitionValues: {} }] });
}
